"""The operator's pages (issue 16, over issue 15's inventory): assets (list, create, one asset
with its SBOM history, diffs, components and the unmatched ones, SBOM and VEX upload forms),
exposures (prioritised list with filters and a bulk status change, one exposure with its history
and a status form), metrics (charts with text alternatives) and a dashboard panel.

Every page calls the service its API route calls (api/routes/assets.py, exposures.py) with the
page's principal, so it shows exactly what the API would: an operator its own inventory, a
coordinator every operator's (and it may register assets for one), everyone else an empty list
and 404 for any one object. An early-warning exposure shows only what the service gives (no
record text, PoC or recipe ever reaches `ExposureOut`), with its TLP label and an embargo
banner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from clearinghouse.accounts import orgs
from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target
from clearinghouse.api.deps import Cursor, Id, ServicesDep
from clearinghouse.container import Services
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.pagination import MAX_LIMIT
from clearinghouse.inventory import assets, exposures, metrics, ssvc, trends, vex_intake
from clearinghouse.inventory.exposures import SEVERITIES, TRANSITIONS, ExposureFilterInvalid
from clearinghouse.inventory.models import (
    OPEN_STATUSES,
    SECTORS,
    Criticality,
    ExposureStatus,
)
from clearinghouse.inventory.sboms import intake
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.inventory.schemas_exposures import BulkStatusChange, ExposureOut, StatusChange
from clearinghouse.vulns.publication.vex import Justification
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.form_input import Form, allowed, from_form
from clearinghouse.web.operator_charts import bars, lines
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()

ASSET_PAGE = 25
EXPOSURE_PAGE = 50
SBOM_HISTORY = 50
COMPONENT_PAGE = 50
TREND_DAYS = 90
OVERDUE_ROWS = 20
SBOM_FORMATS = ("cyclonedx-json", "cyclonedx-xml", "spdx-json", "spdx-tag-value")
# SSVC outcomes by priority (the listing's order), highest first
SSVC_ORDER: tuple[str, ...] = tuple(reversed(ssvc.OUTCOMES))

_INVENTORY = (OrgKind.operator, OrgKind.coordinator)
add_nav("Assets", "/operator/assets", *_INVENTORY, order=30)
add_nav("Exposures", "/operator/exposures", *_INVENTORY, order=31)
add_nav("Inventory metrics", "/operator/metrics", *_INVENTORY, order=32)
for code, text in {
    "asset_created": "The asset was registered. Upload an SBOM of it to see its exposures.",
    "sbom_uploaded": "The SBOM was stored; its components are matched in the background.",
    "exposures_changed": "The exposures' status was changed.",
    "exposure_changed": "The exposure's status was changed.",
}.items():
    add_notice(code, text)

Filter = Annotated[str | None, Query(max_length=64)]


def asset_url(asset_id: str) -> str:
    return f"/operator/assets/{asset_id}"


def _blank(value: str | None) -> str | None:
    return value or None  # a GET form's "any" option sends an empty value


def _can_create(p: Principal) -> bool:
    """Whether the asset form shows: the policy's answer for the caller's own organisation (an
    operator's member) or any operator (a coordinator's member)."""
    own = Target("org", id=p.org_id, org_id=p.org_id)
    return p.org_id is not None and allowed(p, Action.asset_create, own)


def _operator_orgs(session: Session, p: Principal) -> list[Any]:
    """The operator organisations a coordinator may register an asset for (the first
    MAX_LIMIT organisations it may list)."""
    page = orgs.list_orgs(session, p, limit=MAX_LIMIT, cursor=None)
    return [o for o in page.items if o.kind is OrgKind.operator]


# --- assets -----------------------------------------------------------------------------------


@router.get("/operator/assets")
def asset_list(
    request: Request, p: PagePrincipal, session: SessionDep, cursor: Cursor = None
) -> HTMLResponse:
    page = assets.list_assets(session, p, limit=ASSET_PAGE, cursor=cursor)
    can_create = _can_create(p)
    coordinator = p.org_kind is OrgKind.coordinator
    return render(
        request,
        "operator/assets.html",
        page=page,
        can_create=can_create,
        operator_orgs=_operator_orgs(session, p) if can_create and coordinator else [],
        sectors=SECTORS,
        criticalities=[c.value for c in Criticality],
        exposures=[e.value for e in ssvc.ExposureLevel],
        missions=[m.value for m in ssvc.MissionImpact],
        wellbeings=[w.value for w in ssvc.WellbeingImpact],
    )


@router.post("/operator/assets", dependencies=[CsrfChecked])
def create_asset(p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    asset = assets.create_asset(session, p, from_form(AssetCreate, form))
    return redirect(asset_url(asset.id), notice="asset_created")


@router.get("/operator/assets/{asset_id}")
def asset_page(
    request: Request, asset_id: Id, p: PagePrincipal, session: SessionDep, cursor: Cursor = None
) -> HTMLResponse:
    asset = assets.get_asset(session, p, asset_id)
    history = intake.list_sboms(session, p, asset.id, limit=SBOM_HISTORY, cursor=None).items
    current = next((s for s in history if s.superseded_at is None), None)
    components = unmatched = None
    if current is not None:
        components = intake.list_components(
            session, p, current.id, limit=COMPONENT_PAGE, cursor=cursor
        )
        unmatched = intake.list_components(
            session, p, current.id, unmatched=True, limit=COMPONENT_PAGE, cursor=None
        )
    target = Target("asset", id=asset.id, org_id=asset.org_id)
    return render(
        request,
        "operator/asset.html",
        asset=asset,
        history=list(reversed(history)),  # newest first
        current=current,
        components=components,
        unmatched=unmatched,
        can_upload=allowed(p, Action.sbom_upload, target),
        can_vex=allowed(p, Action.exposure_update, target),
        formats=SBOM_FORMATS,
    )


def _upload_bytes(upload: object, cap: int, what: str) -> bytes:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput(f"choose the {what} file to upload", code="file_missing")
    data: bytes = upload.file.read(cap + 1)  # one byte over is enough to refuse it
    return data


@router.post("/operator/assets/{asset_id}/sboms", dependencies=[CsrfChecked])
def upload_sbom(
    asset_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    fmt = form.get("format") or None
    if fmt is not None and fmt not in SBOM_FORMATS:
        raise InvalidInput("the format is not one of the four offered", code="sbom_format_invalid")
    assets.load(session, p, asset_id, Action.sbom_upload)  # 404/403 before reading the file
    cap = svc.settings.inventory_sbom_max_bytes
    data = _upload_bytes(form.get("file"), cap, "SBOM")
    intake.upload(session, p, svc.settings, asset_id, data, fmt if isinstance(fmt, str) else None)
    return redirect(asset_url(asset_id), notice="sbom_uploaded")


@router.post("/operator/assets/{asset_id}/vex", dependencies=[CsrfChecked])
def upload_vex(
    request: Request, asset_id: Id, p: PagePrincipal, session: SessionDep, form: Form
) -> HTMLResponse:
    """The VEX's result is shown at once (which exposures it closed, which statements it
    skipped and why): it is not something a fixed notice can say."""
    asset = assets.get_asset(session, p, asset_id)
    data = _upload_bytes(form.get("file"), vex_intake.MAX_BYTES, "VEX")
    result = vex_intake.apply_to_asset(session, p, asset_id, data)
    return render(request, "operator/vex_result.html", asset=asset, result=result)


# --- exposures --------------------------------------------------------------------------------


def _kev(value: str | None) -> bool | None:
    if not value:
        return None
    if value not in ("true", "false"):
        raise ExposureFilterInvalid("kev must be true or false", field="kev")
    return value == "true"


@router.get("/operator/exposures")
def exposure_list(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    asset: Filter = None,
    status: Filter = None,
    severity: Filter = None,
    kev: Filter = None,
    ssvc: Filter = None,
    cursor: Cursor = None,
) -> HTMLResponse:
    chosen: dict[str, Any] = {
        "asset": _blank(asset),
        "status": _blank(status),
        "severity": _blank(severity),
        "kev": _kev(kev),
        "ssvc_outcome": _blank(ssvc),
    }
    page = exposures.list_exposures(session, p, limit=EXPOSURE_PAGE, cursor=cursor, **chosen)
    asset_names = {a.id: a.name for a in _assets_of(session, p, page.items)}
    can_bulk = any(
        allowed(p, Action.exposure_update, Target("exposure", id=e.id, org_id=e.org_id))
        for e in page.items
    )
    return render(
        request,
        "operator/exposures.html",
        page=page,
        asset_names=asset_names,
        chosen={**chosen, "kev": kev or ""},
        statuses=[s.value for s in ExposureStatus],
        # the bulk form offers the usual next step first (reopening is last)
        bulk_statuses=[s.value for s in ExposureStatus if s is not ExposureStatus.open] + ["open"],
        severities=SEVERITIES,
        outcomes=SSVC_ORDER,
        justifications=[j.value for j in Justification],
        can_bulk=can_bulk,
    )


def _assets_of(session: Session, p: Principal, rows: list[ExposureOut]) -> list[Any]:
    return [assets.get_asset(session, p, a) for a in sorted({e.asset_id for e in rows})]


@router.post("/operator/exposures/bulk-status", dependencies=[CsrfChecked])
def bulk_status(p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    exposures.bulk_status(session, p, from_form(BulkStatusChange, form))
    return redirect("/operator/exposures", notice="exposures_changed")


def exposure_url(exposure_id: str) -> str:
    return f"/operator/exposures/{exposure_id}"


@router.get("/operator/exposures/{exposure_id}")
def exposure_page(
    request: Request, exposure_id: Id, p: PagePrincipal, session: SessionDep
) -> HTMLResponse:
    e = exposures.get_exposure(session, p, exposure_id)
    asset = assets.get_asset(session, p, e.asset_id)
    can_update = allowed(p, Action.exposure_update, Target("exposure", id=e.id, org_id=e.org_id))
    return render(
        request,
        "operator/exposure.html",
        e=e,
        asset=asset,
        can_update=can_update,
        moves=sorted(s.value for s in TRANSITIONS[ExposureStatus(e.status)]),
        justifications=[j.value for j in Justification],
    )


@router.post("/operator/exposures/{exposure_id}/status", dependencies=[CsrfChecked])
def change_status(
    exposure_id: Id, p: PagePrincipal, session: SessionDep, form: Form
) -> RedirectResponse:
    exposures.change_status(session, p, exposure_id, from_form(StatusChange, form))
    return redirect(exposure_url(exposure_id), notice="exposure_changed")


# --- metrics ----------------------------------------------------------------------------------


@router.get("/operator/metrics")
def metrics_page(
    request: Request, p: PagePrincipal, session: SessionDep, sector: Filter = None
) -> HTMLResponse:
    chosen = _blank(sector)
    figures = metrics.metrics(session, p, sector=chosen)
    trend = trends.open_by_severity(session, p, days=TREND_DAYS, sector=chosen)
    late = trends.overdue(session, p, limit=OVERDUE_ROWS, sector=chosen)
    by_ssvc: dict[str, int] = {k: figures.open_by_ssvc.get(k, 0) for k in SSVC_ORDER}
    if figures.open_by_ssvc.get("none"):
        by_ssvc["undecided"] = figures.open_by_ssvc["none"]
    return render(
        request,
        "operator/metrics.html",
        figures=figures,
        late=late,
        asset_names={a.id: a.name for a in _assets_of(session, p, late)},
        sector=sector or "",
        sectors=SECTORS,
        trend=trend,
        trend_rows=[  # one row a week, ending today
            (d, [values[i] for values in trend.series.values()])
            for i, d in enumerate(trend.days)
            if (len(trend.days) - 1 - i) % 7 == 0
        ],
        trend_chart=lines(
            f"Open exposures by severity, last {TREND_DAYS} days", trend.days, trend.series
        ),
        severity_chart=bars(
            "Open exposures by severity",
            {k: figures.open_by_severity.get(k, 0) for k in SEVERITIES},
        ),
        ssvc_chart=bars("Open exposures by SSVC decision", by_ssvc),
        sector_chart=bars("Open exposures by sector", figures.open_by_sector),
        kev_chart=bars(
            "Open exposures in CISA's KEV catalog",
            {"in KEV": figures.open_by_kev["true"], "not in KEV": figures.open_by_kev["false"]},
        ),
    )


# --- the dashboard ----------------------------------------------------------------------------

PANEL_ROWS = 5
_FAR = datetime.max.replace(tzinfo=UTC)


@panel(OrgKind.operator, order=10)
def operator_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """The open exposures decided Act or Attend, by priority then due date, and how many open
    exposures are overdue."""
    rows: list[ExposureOut] = []
    for outcome in ("Act", "Attend"):
        for status in sorted(s.value for s in OPEN_STATUSES):
            rows += exposures.list_exposures(
                session, p, status=status, ssvc_outcome=outcome, limit=PANEL_ROWS
            ).items
    rank = {o: i for i, o in enumerate(SSVC_ORDER)}
    rows.sort(key=lambda e: (rank.get(e.ssvc or "", 9), e.due_at or _FAR, e.id))
    overdue = metrics.metrics(session, p).overdue
    ctx = {"rows": rows[:PANEL_ROWS], "overdue": overdue}
    return Panel("Exposures to act on", "operator/_panel.html", ctx, overdue=overdue)
