"""Inventory over HTTP: assets and their SBOMs. Thin: the domain decides (inventory/)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from clearinghouse.api.deps import Cursor, Id, Limit, PrincipalDep, ServicesDep, SessionDep
from clearinghouse.api.problems import ERROR_RESPONSES
from clearinghouse.core.pagination import Page
from clearinghouse.inventory import assets
from clearinghouse.inventory.sboms import intake
from clearinghouse.inventory.schemas import AssetCreate, AssetOut, ComponentOut, SbomOut

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["inventory"])

OrgQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


@router.post("/assets", response_model=AssetOut, status_code=201)
def create_asset(body: AssetCreate, p: PrincipalDep, session: SessionDep) -> AssetOut:
    """Register an asset of an operator organisation: an operator's members for their own, a
    coordinator's members on an operator's behalf (audited)."""
    return assets.create_asset(session, p, body)


@router.get("/assets", response_model=Page[AssetOut])
def list_assets(
    p: PrincipalDep,
    session: SessionDep,
    org_id: OrgQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AssetOut]:
    return assets.list_assets(session, p, org_id=org_id, limit=limit, cursor=cursor)


@router.get("/assets/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: Id, p: PrincipalDep, session: SessionDep) -> AssetOut:
    return assets.get_asset(session, p, asset_id)


FormatQuery = Annotated[
    Literal["cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value"] | None,
    Query(alias="format", description="the SBOM's format; sniffed when absent"),
]


@router.post("/assets/{asset_id}/sboms", response_model=SbomOut, status_code=201)
async def upload_sbom(
    asset_id: Id,
    file: Annotated[UploadFile, File(description="the SBOM document")],
    p: PrincipalDep,
    session: SessionDep,
    svc: ServicesDep,
    fmt: FormatQuery = None,
) -> SbomOut:
    """Upload a new SBOM of the asset (CycloneDX 1.2-1.6 JSON/XML, SPDX 2.2/2.3 JSON or
    tag-value). It supersedes the current one; matching runs as a job. An invalid document
    is refused (`sbom_invalid`) and nothing is stored."""
    limit = svc.settings.inventory_sbom_max_bytes
    data = await file.read(limit + 1)  # one byte over the limit is enough to refuse it
    return await run_in_threadpool(intake.upload, session, p, svc.settings, asset_id, data, fmt)


@router.get("/assets/{asset_id}/sboms", response_model=Page[SbomOut])
def list_sboms(
    asset_id: Id, p: PrincipalDep, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[SbomOut]:
    return intake.list_sboms(session, p, asset_id, limit=limit, cursor=cursor)


@router.get("/sboms/{sbom_id}/components", response_model=Page[ComponentOut])
def list_components(
    sbom_id: Id,
    p: PrincipalDep,
    session: SessionDep,
    unmatched: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ComponentOut]:
    """The SBOM's components; `unmatched=true`: those that cannot be matched, with why."""
    return intake.list_components(
        session, p, sbom_id, unmatched=unmatched, limit=limit, cursor=cursor
    )
