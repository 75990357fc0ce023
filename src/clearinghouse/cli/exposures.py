"""`clearinghouse inventory exposures|exposure-status|vex|metrics|epss-import`: exposures,
their status, VEX, metrics and EPSS over the same services as the API. The commands join the
`inventory` group of cli/inventory.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors, read_bounded
from clearinghouse.cli.inventory import inventory_app
from clearinghouse.inventory import epss, exposures, metrics, vex_intake
from clearinghouse.inventory.prioritise_tasks import request_reprioritise
from clearinghouse.inventory.schemas_exposures import StatusChange

# The keys of `inventory exposures --json`, exactly (an outside check relies on them).
EXPOSURE_KEYS = (
    "vuln_id",
    "aliases",
    "purl",
    "version",
    "severity",
    "kev",
    "ssvc",
    "status",
    "due_at",
    "fixed_in",
)
COLUMNS = ["id", *EXPOSURE_KEYS]


def register(root: typer.Typer) -> None:
    """Nothing to add at the root: the commands below join `inventory` (cli/inventory.py)."""


@inventory_app.command("exposures")
@handles_errors
def list_(
    asset: Annotated[str | None, typer.Option("--asset", help="only this asset's")] = None,
    status: Annotated[str | None, typer.Option(help="open|in_progress|...")] = None,
    severity: Annotated[str | None, typer.Option(help="critical|high|medium|low|...")] = None,
    kev: Annotated[bool | None, typer.Option("--kev/--no-kev", help="KEV-listed or not")] = None,
    ssvc: Annotated[str | None, typer.Option(help="Act|Attend|Track*|Track")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every exposure you may see, by SSVC decision, then due date. `--json` prints a list of
    {vuln_id, aliases, purl, version, severity, kev, ssvc, status, due_at, fixed_in}."""
    with acting(token) as (session, p, _):
        items = exposures.all_exposures(
            session, p, asset=asset, status=status, severity=severity, kev=kev, ssvc_outcome=ssvc
        )
        rows = [
            {k: v for k, v in item.model_dump(mode="json").items() if k in EXPOSURE_KEYS}
            for item in items
        ]
        if as_json:
            emit([{k: row[k] for k in EXPOSURE_KEYS} for row in rows], True)
        else:
            emit([{"id": i.id, **r} for i, r in zip(items, rows, strict=True)], False, COLUMNS)


@inventory_app.command("exposure-status")
@handles_errors
def exposure_status(
    exposure_id: Annotated[str, typer.Argument(help="the exposure")],
    status: Annotated[str, typer.Argument(help="in_progress|mitigated|remediated|...")],
    note: Annotated[str, typer.Option(help="why (kept with the change)")] = "",
    justification: Annotated[
        str | None, typer.Option(help="for not_affected: a VEX justification label")
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an exposure along its workflow."""
    body = StatusChange.model_validate(
        {"status": status, "note": note, "justification": justification}
    )
    with acting(token) as (session, p, _):
        emit(exposures.change_status(session, p, exposure_id, body), as_json)


@inventory_app.command("vex")
@handles_errors
def vex(
    file: Annotated[
        Path, typer.Argument(help="OpenVEX, CycloneDX VEX or CSAF VEX", dir_okay=False)
    ],
    asset: Annotated[str, typer.Option("--asset", help="the asset it speaks for")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Assert not_affected (with a justification) for an asset's exposures, as VEX."""
    data = read_bounded(file, vex_intake.MAX_BYTES)
    with acting(token) as (session, p, _):
        emit(vex_intake.apply_to_asset(session, p, asset, data), as_json)


@inventory_app.command("metrics")
@handles_errors
def metrics_(
    sector: Annotated[str | None, typer.Option(help="one CISA sector slug")] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open exposures by severity, SSVC, sector and KEV; overdue; time to remediate."""
    with acting(token) as (session, p, _):
        emit(metrics.metrics(session, p, sector=sector), as_json)


@inventory_app.command("epss-import")
@handles_errors
def epss_import(
    file: Annotated[Path, typer.Argument(help="FIRST's EPSS CSV (gzip or plain)", dir_okay=False)],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import one day of EPSS scores (coordinators), then queue the exposures'
    reprioritisation."""
    import io

    data = read_bounded(file, epss.MAX_BYTES)
    with acting(token) as (session, p, _):
        result = epss.import_epss(session, io.BytesIO(data), file.name, principal=p)
        request_reprioritise(
            session,
            f"epss {result.score_date.isoformat()}",
            key=f"reprioritise:epss:{result.score_date.isoformat()}:{result.created}:{result.updated}",
        )
        emit(
            {
                "source": result.source,
                "score_date": result.score_date.isoformat(),
                "model_version": result.model_version,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            },
            as_json,
        )
