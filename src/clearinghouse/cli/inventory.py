"""`clearinghouse inventory ...`: assets and SBOM upload (and, from other modules, exposures:
they add their commands to `inventory_app`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearinghouse.cli.common import JsonOpt, TokenOpt, acting, emit, handles_errors, read_bounded
from clearinghouse.inventory import assets
from clearinghouse.inventory.sboms import intake
from clearinghouse.inventory.schemas import AssetCreate

inventory_app = typer.Typer(
    help="Operator inventories: assets, SBOMs, exposures.",
    no_args_is_help=True,
)
assets_app = typer.Typer(help="Your organisation's assets.", no_args_is_help=True)
inventory_app.add_typer(assets_app, name="assets")

Limit = Annotated[int, typer.Option(help="page size (1-200)")]
Cursor = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]
ASSET_COLUMNS = ["id", "org_id", "name", "sector", "criticality", "created_at"]


def register(root: typer.Typer) -> None:
    root.add_typer(inventory_app, name="inventory")


@assets_app.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Argument(help="the asset's name")],
    org_id: Annotated[str, typer.Option("--org", help="the operator organisation it belongs to")],
    sector: Annotated[str, typer.Option(help="CISA sector slug: energy, water, healthcare...")],
    criticality: Annotated[str, typer.Option(help="low|medium|high|critical")],
    owner_contact: Annotated[str | None, typer.Option(help="who answers for it")] = None,
    exposure: Annotated[str | None, typer.Option(help="SSVC: small|controlled|open")] = None,
    mission_impact: Annotated[
        str | None, typer.Option(help="SSVC: degraded|crippled|mef_failure|mission_failure")
    ] = None,
    wellbeing_impact: Annotated[
        str | None, typer.Option(help="SSVC: minimal|material|irreversible")
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an asset (operators for their own organisation; coordinators on an
    operator's behalf)."""
    body = AssetCreate.model_validate(
        {
            "org_id": org_id,
            "name": name,
            "sector": sector,
            "criticality": criticality,
            "owner_contact": owner_contact,
            "exposure": exposure,
            "mission_impact": mission_impact,
            "wellbeing_impact": wellbeing_impact,
        }
    )
    with acting(token) as (session, p, _):
        emit(assets.create_asset(session, p, body), as_json)


@assets_app.command("list")
@handles_errors
def list_(
    org_id: Annotated[str | None, typer.Option("--org", help="only this organisation's")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The assets you may see."""
    with acting(token) as (session, p, _):
        page = assets.list_assets(session, p, org_id=org_id, limit=limit, cursor=cursor)
        emit(page, as_json, ASSET_COLUMNS)


@assets_app.command("show")
@handles_errors
def show(asset_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """One asset."""
    with acting(token) as (session, p, _):
        emit(assets.get_asset(session, p, asset_id), as_json)


@inventory_app.command("upload")
@handles_errors
def upload(
    file: Annotated[Path, typer.Argument(help="the SBOM file", dir_okay=False)],
    asset_id: Annotated[str, typer.Option("--asset", help="the asset it describes")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="cyclonedx-json|cyclonedx-xml|spdx-json|spdx-tag-value"),
    ] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload an SBOM of an asset; it supersedes the current one and is matched by a job."""
    with acting(token) as (session, p, svc):
        data = read_bounded(file, svc.settings.inventory_sbom_max_bytes)
        emit(intake.upload(session, p, svc.settings, asset_id, data, fmt), as_json)
