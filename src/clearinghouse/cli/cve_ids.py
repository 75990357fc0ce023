"""`clearinghouse cve`: the clearinghouse as a CNA (reserve, list, show, publish, reject CVE
ids; first refusal). Coordinators only; the same services as the API."""

from __future__ import annotations

from typing import Annotated

import typer

from clearinghouse.accounts.policy import Principal
from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors
from clearinghouse.container import Services
from clearinghouse.core.errors import InvalidInput

cve_app = typer.Typer(
    help="CVE ids: the clearinghouse as a CNA (docs/cna.md)", no_args_is_help=True
)
COLUMNS = ["cve_id", "state", "vuln_id", "scope_cna", "reserved_at"]


def register(app: typer.Typer) -> None:
    app.add_typer(cve_app, name="cve")


def _actor(token: str | None) -> tuple[Principal, Services]:
    """The token's principal, for the commands that call CVE Services: they keep their own
    short transactions around the remote call, so none is held open here."""
    with acting(token) as (_, p, svc):
        return p, svc


@cve_app.command("reserve")
@handles_errors
def cve_reserve(
    count: Annotated[int, typer.Option(help="how many ids")] = 1,
    year: Annotated[int | None, typer.Option(help="the ids' year (default: this year)")] = None,
    sequential: Annotated[bool, typer.Option("--sequential/--random")] = True,
    vuln: Annotated[str | None, typer.Option("--vuln", help="the record the id is for")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reserve CVE ids from CVE Services (with --vuln: after the first-refusal step)."""
    from clearinghouse.coordination.cna import ids
    from clearinghouse.coordination.cna.schemas import CveReserve

    body = CveReserve(count=count, year=year, sequential=sequential, vuln_id=vuln)
    p, svc = _actor(token)
    emit(ids.reserve(svc.db, p, svc.settings, body), as_json, COLUMNS)


@cve_app.command("list")
@handles_errors
def cve_list(
    state: Annotated[str | None, typer.Option(help="reserved|published|rejected")] = None,
    vuln: Annotated[str | None, typer.Option("--vuln")] = None,
    limit: int = 50,
    cursor: str | None = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The CVE ids we reserved."""
    from clearinghouse.coordination.cna import ids
    from clearinghouse.coordination.cna.schemas import CveIdState

    try:
        wanted = CveIdState(state) if state else None
    except ValueError:
        raise InvalidInput(f"unknown state {state!r}", code="state_invalid") from None
    if not 1 <= limit <= 200:
        raise InvalidInput("--limit is 1 to 200", code="limit_invalid")
    with acting(token) as (session, p, _):
        page = ids.list_ids(session, p, state=wanted, vuln_id=vuln, limit=limit, cursor=cursor)
        emit(page, as_json, COLUMNS)


@cve_app.command("show")
@handles_errors
def cve_show(cve_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """One CVE id of ours."""
    from clearinghouse.coordination.cna import ids

    with acting(token) as (session, p, _):
        emit(ids.get_id(session, p, cve_id), as_json)


@cve_app.command("publish")
@handles_errors
def cve_publish(
    cve_id: str,
    vuln: Annotated[str | None, typer.Option("--vuln", help="bind to this record now")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish the CNA container of the (public) record the id is for."""
    from clearinghouse.coordination.cna import ids
    from clearinghouse.coordination.cna.schemas import CvePublish

    body = CvePublish(vuln_id=vuln)
    p, svc = _actor(token)
    emit(ids.publish(svc.db, p, svc.settings, cve_id, body), as_json)


@cve_app.command("reject")
@handles_errors
def cve_reject(
    cve_id: str,
    reason: Annotated[str, typer.Option(help="why the id is not used (published with it)")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject an unused CVE id of ours."""
    from clearinghouse.coordination.cna import ids
    from clearinghouse.coordination.cna.schemas import CveReject

    body = CveReject(reason=reason)
    p, svc = _actor(token)
    emit(ids.reject(svc.db, p, svc.settings, cve_id, body), as_json)


@cve_app.command("first-refusal")
@handles_errors
def cve_first_refusal(vuln: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Which CNA owns the record's product (a referral is recorded the first time)."""
    from clearinghouse.coordination.cna import ids

    with acting(token) as (session, p, svc):
        emit(ids.first_refusal(session, p, svc.settings, vuln), as_json)


@cve_app.command("referral-decide")
@handles_errors
def cve_referral_decide(
    referral_id: str,
    decision: Annotated[str, typer.Option(help="declined|no_answer|owner_assigns")],
    reason: Annotated[str, typer.Option(help="what the owning CNA said, and when")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the owning CNA's answer to a referral."""
    from clearinghouse.coordination.cna import ids
    from clearinghouse.coordination.cna.schemas import RefusalDecide

    body = RefusalDecide.model_validate({"decision": decision, "reason": reason})
    with acting(token) as (session, p, _):
        emit(ids.decide_referral(session, p, referral_id, body), as_json)
