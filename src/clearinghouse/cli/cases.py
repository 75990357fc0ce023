"""`clearinghouse cases ...`: coordination cases (docs/coordination.md).

Every command acts as a token's principal (`--token` or CLEARINGHOUSE_TOKEN), under the same
policy as over HTTP, and prints JSON with `--json`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors, read_bounded
from clearinghouse.coordination import artifacts, cases, messages, participants, timeline
from clearinghouse.coordination.deadlines import policy_for
from clearinghouse.coordination.schemas import (
    ArtifactCreate,
    CaseCreate,
    DeadlineAdjust,
    MessageCreate,
    ParticipantCreate,
    PublishNow,
    TransitionCreate,
    VendorStatusCreate,
)
from clearinghouse.coordination.states import CaseState
from clearinghouse.inventory import vex_intake

cases_app = typer.Typer(help="Coordinated disclosure cases.", no_args_is_help=True)
LIST_COLUMNS = ["id", "title", "state", "tlp", "embargo_until"]
Limit = Annotated[int, typer.Option(help="page size")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")


@cases_app.command("create")
@handles_errors
def create(
    vuln_ids: Annotated[list[str], typer.Argument(help="the records the case covers")],
    title: Annotated[str, typer.Option(help="the case title")],
    tlp: Annotated[str, typer.Option(help="CLEAR|GREEN|AMBER|AMBER+STRICT|RED")] = "AMBER",
    embargo_until: Annotated[datetime | None, typer.Option(help="ISO 8601, with offset")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open a case (coordinators)."""
    body = CaseCreate.model_validate(
        {"vuln_ids": vuln_ids, "title": title, "tlp": tlp, "embargo_until": embargo_until}
    )
    with acting(token) as (session, p, svc):
        emit(cases.create_case(session, p, body, policy=policy_for(svc.settings)), as_json)


@cases_app.command("list")
@handles_errors
def list_(
    state: Annotated[CaseState | None, typer.Option(help="only cases in this state")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cases you may see."""
    with acting(token) as (session, p, _):
        emit(
            cases.list_cases(session, p, state=state, limit=limit, cursor=cursor),
            as_json,
            LIST_COLUMNS,
        )


@cases_app.command("show")
@handles_errors
def show(case_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """One case (full, or the early warning for the operators' sharing group)."""
    with acting(token) as (session, p, svc):
        emit(cases.get_case(session, p, case_id, policy=policy_for(svc.settings)), as_json)


@cases_app.command("add-participant")
@handles_errors
def add_participant(
    case_id: str,
    org_id: str,
    role: Annotated[str, typer.Option(help="vendor | reporter | operator_group")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an organisation to a case (coordinators)."""
    body = ParticipantCreate.model_validate({"org_id": org_id, "role": role})
    with acting(token) as (session, p, svc):
        emit(
            participants.add_participant(
                session, p, case_id, body, policy=policy_for(svc.settings)
            ),
            as_json,
        )


@cases_app.command("vex")
@handles_errors
def vex(
    case_id: str,
    file: Annotated[
        Path, typer.Argument(help="OpenVEX, CycloneDX VEX or CSAF VEX", dir_okay=False)
    ],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """As a vendor of the case: assert not_affected for the case's records and packages."""
    data = read_bounded(file, vex_intake.MAX_BYTES)
    with acting(token) as (session, p, _):
        emit(vex_intake.apply_for_case(session, p, case_id, data), as_json)


@cases_app.command("vendor-status")
@handles_errors
def vendor_status(
    case_id: str,
    status: Annotated[str, typer.Option(help="unknown|under_investigation|affected|...")],
    statement: str = "",
    justification: Annotated[str | None, typer.Option(help="a VEX justification")] = None,
    fixed_version: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    fix_commit: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    fix_scheduled_for: Annotated[datetime | None, typer.Option(help="ISO 8601")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post your organisation's status as a vendor of the case."""
    body = VendorStatusCreate.model_validate(
        {
            "status": status,
            "statement": statement,
            "justification": justification,
            "fixed_versions": fixed_version or [],
            "fix_commits": fix_commit or [],
            "fix_scheduled_for": fix_scheduled_for,
        }
    )
    with acting(token) as (session, p, _):
        emit(participants.post_vendor_status(session, p, case_id, body), as_json)


@cases_app.command("transition")
@handles_errors
def transition(
    case_id: str,
    to: Annotated[str, typer.Option(help="the target state")],
    reason: str = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a case (coordinators)."""
    body = TransitionCreate.model_validate({"to": to, "reason": reason})
    with acting(token) as (session, p, svc):
        emit(cases.transition(session, p, case_id, body, policy=policy_for(svc.settings)), as_json)


@cases_app.command("deadline")
@handles_errors
def deadline(
    case_id: str,
    days: Annotated[int, typer.Option(help="days to add (negative: shorten)")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Extend or shorten a case's disclosure deadline (coordinators)."""
    body = DeadlineAdjust.model_validate({"days": days, "reason": reason})
    with acting(token) as (session, p, svc):
        emit(
            cases.adjust_deadline(session, p, case_id, body, policy=policy_for(svc.settings)),
            as_json,
        )


@cases_app.command("publish")
@handles_errors
def publish(
    case_id: str,
    reason: Annotated[str, typer.Option(help="why now, before the deadline (audited)")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a notified case now (coordinators): its records become public."""
    from clearinghouse.coordination import publication

    body = PublishNow.model_validate({"reason": reason})
    with acting(token) as (session, p, svc):
        publication.publish_now(session, p, case_id, body.reason)
        emit(cases.get_case(session, p, case_id, policy=policy_for(svc.settings)), as_json)


@cases_app.command("message")
@handles_errors
def message(
    case_id: str,
    body: Annotated[str, typer.Option(help="the message text")],
    tlp: Annotated[str | None, typer.Option(help="default: the case's")] = None,
    to: Annotated[list[str] | None, typer.Option(help="TLP:RED recipients (org ids)")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post a message to a case's thread."""
    request = MessageCreate.model_validate(
        {"body": body, "tlp": tlp, "recipient_org_ids": to or []}
    )
    with acting(token) as (session, p, svc):
        emit(messages.post_message(session, p, svc.vault, case_id, request), as_json)


@cases_app.command("messages")
@handles_errors
def list_messages(
    case_id: str,
    limit: Limit = 50,
    cursor: Cursor = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The messages of a case you may read."""
    with acting(token) as (session, p, svc):
        page = messages.list_messages(session, p, svc.vault, case_id, limit=limit, cursor=cursor)
        emit(page, as_json, ["id", "tlp", "author_org_id", "created_at", "body"])


@cases_app.command("upload")
@handles_errors
def upload(
    case_id: str,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option(help="poc | patch | log | other")] = "other",
    tlp: Annotated[str | None, typer.Option(help="default: the case's")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload an artifact to a case (sealed at rest)."""
    body = ArtifactCreate.model_validate(
        {
            "filename": path.name,
            "kind": kind,
            "tlp": tlp,
            "content_base64": base64.b64encode(path.read_bytes()).decode(),
        }
    )
    with acting(token) as (session, p, svc):
        cap = svc.settings.coordination_artifact_max_bytes
        emit(artifacts.upload(session, p, svc.blobs, case_id, body, max_bytes=cap), as_json)


@cases_app.command("artifacts")
@handles_errors
def list_artifacts(
    case_id: str,
    limit: Limit = 50,
    cursor: Cursor = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The artifacts of a case you may read."""
    with acting(token) as (session, p, _):
        page = artifacts.list_artifacts(session, p, case_id, limit=limit, cursor=cursor)
        emit(page, as_json, ["id", "kind", "filename", "tlp", "sha256", "size"])


@cases_app.command("download")
@handles_errors
def download(
    case_id: str,
    artifact_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="where to write it")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an artifact's bytes to a file (audited)."""
    with acting(token) as (session, p, svc):
        artifact, data = artifacts.read_content(session, p, svc.blobs, case_id, artifact_id)
    output.write_bytes(data)
    emit({"id": artifact.id, "sha256": artifact.sha256, "path": str(output)}, as_json)


@cases_app.command("timeline")
@handles_errors
def case_timeline(
    case_id: str,
    limit: Limit = 50,
    cursor: Cursor = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The events of a case you may see."""
    with acting(token) as (session, p, _):
        page = timeline.list_events(session, p, case_id, limit=limit, cursor=cursor)
        emit(page, as_json, ["id", "kind", "tlp", "actor_org_id", "occurred_at"])
