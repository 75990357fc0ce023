"""Exposures and inventory metrics over HTTP (issue 15). Thin: the domain decides
(inventory.exposures, inventory.metrics, inventory.vex_intake)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.inventory import exposures, metrics, vex_intake
from clearinghouse.inventory.models import ExposureStatus, Sector
from clearinghouse.inventory.schemas_exposures import (
    BulkResult,
    BulkStatusChange,
    ExposureDetail,
    ExposureOut,
    Metrics,
    StatusChange,
    VexResult,
)

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["inventory"])

AssetQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SeverityQuery = Literal["critical", "high", "medium", "low", "none", "unknown"]
SsvcQuery = Literal["Act", "Attend", "Track*", "Track"]


@router.get("/exposures", response_model=Page[ExposureOut])
def list_exposures(
    p: PrincipalDep,
    session: SessionDep,
    asset: AssetQuery = None,
    status: ExposureStatus | None = None,
    severity: SeverityQuery | None = None,
    kev: bool | None = None,
    ssvc: SsvcQuery | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ExposureOut]:
    """The exposures you may see, by SSVC decision (Act, Attend, Track*, Track), then due
    date, then id."""
    return exposures.list_exposures(
        session,
        p,
        asset=asset,
        status=status.value if status else None,
        severity=severity,
        kev=kev,
        ssvc_outcome=ssvc,
        limit=limit,
        cursor=cursor,
    )


@router.post("/exposures/bulk-status", response_model=BulkResult)
def bulk_status(body: BulkStatusChange, p: PrincipalDep, session: SessionDep) -> BulkResult:
    """Change the status of several exposures: all or nothing; the first refused id is named
    in the error."""
    return exposures.bulk_status(session, p, body)


@router.get("/exposures/{exposure_id}", response_model=ExposureDetail)
def get_exposure(exposure_id: Id, p: PrincipalDep, session: SessionDep) -> ExposureDetail:
    """One exposure with its SSVC inputs and its history."""
    return exposures.get_exposure(session, p, exposure_id)


@router.post("/exposures/{exposure_id}/status", response_model=ExposureDetail)
def change_status(
    exposure_id: Id, body: StatusChange, p: PrincipalDep, session: SessionDep
) -> ExposureDetail:
    """Move an exposure along its workflow (`not_affected` needs a justification)."""
    return exposures.change_status(session, p, exposure_id, body)


@router.get("/inventory/metrics", response_model=Metrics)
def inventory_metrics(
    p: PrincipalDep, session: SessionDep, sector: Sector | None = None
) -> Metrics:
    """Open exposures by severity, SSVC outcome, sector and KEV; overdue; time to remediate."""
    return metrics.metrics(session, p, sector=sector.value if sector else None)


@router.post("/assets/{asset_id}/vex", response_model=VexResult)
async def upload_vex(
    asset_id: Id,
    file: Annotated[UploadFile, File(description="a CycloneDX VEX, CSAF VEX or OpenVEX document")],
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
) -> VexResult:
    """Assert `not_affected` (with a justification) for the asset's exposures, as VEX."""
    data = await file.read(vex_intake.MAX_BYTES + 1)
    return await run_in_threadpool(vex_intake.apply_to_asset, session, p, asset_id, data)
