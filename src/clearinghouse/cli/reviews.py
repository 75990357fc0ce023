"""`clearinghouse agreements|submissions|findings|reports`: the review program."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors
from clearinghouse.core.errors import InvalidInput
from clearinghouse.reviews.agreements import (
    create_agreement,
    get_agreement,
    list_agreements,
    withdraw_agreement,
)
from clearinghouse.reviews.findings import add_finding, list_findings
from clearinghouse.reviews.reports import (
    acknowledge_report,
    add_report,
    deliver_report,
    list_reports,
    read_report_content,
)
from clearinghouse.reviews.schemas import (
    AgreementCreate,
    FindingCreate,
    ReportCreate,
    ReportMediaType,
    Severity,
    SubmissionCreate,
    TransitionRequest,
    TransitionTarget,
)
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.reviews.submissions import (
    create_submission,
    get_submission,
    list_submissions,
    timeline,
)
from clearinghouse.reviews.transitions import transition, verify_access

agreements = typer.Typer(help="Review agreements with labs.", no_args_is_help=True)
submissions = typer.Typer(help="Model submissions and their review windows.", no_args_is_help=True)
findings = typer.Typer(help="Findings on a submission.", no_args_is_help=True)
reports = typer.Typer(help="Report versions and their delivery.", no_args_is_help=True)

SUBMISSION_COLUMNS = ["id", "model_name", "model_version", "state", "deadline", "window_shortened"]


def register(app: typer.Typer) -> None:
    app.add_typer(agreements, name="agreements")
    app.add_typer(submissions, name="submissions")
    app.add_typer(findings, name="findings")
    app.add_typer(reports, name="reports")


@agreements.command("create")
@handles_errors
def agreement_create(
    lab_org_id: Annotated[str, typer.Option("--lab")],
    scope: Annotated[str, typer.Option()],
    confidentiality_terms: Annotated[str, typer.Option("--terms")],
    retention_days: Annotated[int, typer.Option()] = 365,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    body = AgreementCreate(
        lab_org_id=lab_org_id,
        scope=scope,
        confidentiality_terms=confidentiality_terms,
        retention_days=retention_days,
    )
    with acting(token) as (session, p, _):
        emit(create_agreement(session, p, body), as_json)


@agreements.command("list")
@handles_errors
def agreement_list(
    token: TokenOpt = None, limit: int = 50, cursor: str | None = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_agreements(session, p, limit=limit, cursor=cursor),
            as_json,
            ["id", "lab_org_id", "status", "retention_days", "created_at"],
        )


@agreements.command("show")
@handles_errors
def agreement_show(agreement_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, _):
        emit(get_agreement(session, p, agreement_id), as_json)


@agreements.command("withdraw")
@handles_errors
def agreement_withdraw(
    agreement_id: str, reason: str = "", token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Withdraw: blocks new submissions and destroys every model key under the agreement."""
    with acting(token) as (session, p, s):
        emit(withdraw_agreement(session, p, s.vault, agreement_id, reason), as_json)


@submissions.command("create")
@handles_errors
def submission_create(
    agreement_id: Annotated[str, typer.Option("--agreement")],
    model_name: Annotated[str, typer.Option("--model")],
    model_version: Annotated[str, typer.Option("--version")],
    planned_release_at: Annotated[
        datetime,
        typer.Option(
            "--release",
            help="planned public release (UTC if no zone)",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"],
        ),
    ],
    evaluator_org_id: Annotated[str, typer.Option("--evaluator")],
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint", help="OpenAI-compatible base URL (…/v1)")
    ] = None,
    api_key_file: Annotated[
        Path | None, typer.Option(help="file holding the API key ('-' for stdin); never a flag")
    ] = None,
    weights_digest: Annotated[str | None, typer.Option(help="sha256:<hex> of the weights")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a model version for review. The key is read from a file or stdin, never argv."""
    api_key = None
    if api_key_file is not None:
        raw = sys.stdin.read() if str(api_key_file) == "-" else api_key_file.read_text()
        api_key = SecretStr(raw.strip())
    # The schema converts to UTC, within its bounds (converting here overflowed on times
    # that do not exist in UTC).
    release = (
        planned_release_at if planned_release_at.tzinfo else planned_release_at.replace(tzinfo=UTC)
    )
    try:
        body = SubmissionCreate(
            agreement_id=agreement_id,
            model_name=model_name,
            model_version=model_version,
            planned_release_at=release,
            endpoint_url=endpoint_url,
            api_key=api_key,
            weights_digest=weights_digest,
            evaluator_org_id=evaluator_org_id,
        )
    except ValidationError as exc:  # its text ends in a link, and may quote the input
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}" if where else first["msg"]) from None
    with acting(token) as (session, p, s):
        emit(create_submission(session, p, s.vault, s.settings, body), as_json)


@submissions.command("list")
@handles_errors
def submission_list(
    state: SubmissionState | None = None,
    token: TokenOpt = None,
    limit: int = 50,
    cursor: str | None = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, s):
        emit(
            list_submissions(session, p, s.settings, state=state, limit=limit, cursor=cursor),
            as_json,
            SUBMISSION_COLUMNS,
        )


@submissions.command("show")
@handles_errors
def submission_show(submission_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Show a submission, its state and its review deadline."""
    with acting(token) as (session, p, s):
        emit(get_submission(session, p, submission_id, s.settings), as_json)


@submissions.command("verify-access")
@handles_errors
def submission_verify(submission_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Check the endpoint with its key (GET /v1/models); on success the review window opens."""
    with acting(token) as (_, p, s):
        pass
    emit(verify_access(s.db, p, s.vault, s.settings, submission_id), as_json)


@submissions.command("transition")
@handles_errors
def submission_transition(
    submission_id: str,
    to: Annotated[TransitionTarget, typer.Option()],
    reason: str = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with acting(token) as (session, p, s):
        emit(
            transition(
                session,
                p,
                s.vault,
                s.settings,
                submission_id,
                TransitionRequest(to=to, reason=reason),
            ),
            as_json,
        )


@submissions.command("timeline")
@handles_errors
def submission_timeline(
    submission_id: str, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(timeline(session, p, submission_id), as_json)


@findings.command("add")
@handles_errors
def finding_add(
    submission_id: str,
    title: Annotated[str, typer.Option()],
    severity: Annotated[Severity, typer.Option()],
    body_file: Annotated[Path, typer.Option(help="file with the finding's text")],
    category: str = "general",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    body = FindingCreate(
        title=title, severity=severity, category=category, body=body_file.read_text()
    )
    with acting(token) as (session, p, s):
        emit(add_finding(session, p, s.vault, submission_id, body), as_json)


@findings.command("list")
@handles_errors
def finding_list(submission_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, s):
        emit(
            list_findings(session, p, s.vault, submission_id),
            as_json,
            ["id", "severity", "title", "created_at"],
        )


@reports.command("add")
@handles_errors
def report_add(
    submission_id: str,
    file: Path,
    title: Annotated[str, typer.Option()],
    media_type: Annotated[ReportMediaType, typer.Option()] = ReportMediaType.html,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a new report version from FILE."""
    import base64

    body = ReportCreate(
        title=title,
        media_type=media_type,
        content=base64.b64encode(file.read_bytes()).decode(),
        encoding="base64",
    )
    with acting(token) as (session, p, s):
        emit(add_report(session, p, s.blobs, submission_id, body), as_json)


@reports.command("list")
@handles_errors
def report_list(submission_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    with acting(token) as (session, p, _):
        emit(
            list_reports(session, p, submission_id),
            as_json,
            ["version", "title", "sha256", "size", "receipt"],
        )


@reports.command("deliver")
@handles_errors
def report_deliver(
    submission_id: str, version: int, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, s):
        emit(deliver_report(session, p, s.settings, submission_id, version), as_json)


@reports.command("acknowledge")
@handles_errors
def report_acknowledge(
    submission_id: str, version: int, token: TokenOpt = None, as_json: JsonOpt = False
) -> None:
    with acting(token) as (session, p, _):
        emit(acknowledge_report(session, p, submission_id, version), as_json)


@reports.command("download")
@handles_errors
def report_download(
    submission_id: str,
    version: int,
    output: Annotated[Path, typer.Option("-o", "--output")],
    token: TokenOpt = None,
) -> None:
    with acting(token) as (session, p, s):
        _, data = read_report_content(session, p, s.blobs, submission_id, version)
    output.write_bytes(data)
    typer.echo(f"wrote {len(data)} bytes to {output}")
