"""The vendor's pages (issue 16): its cases (its organisation's only: the policy's list scope),
and on the case page a form to post its status and one to post a fix (a patch upload, a fixed
release's purl, or a commit), whose verification result the case page shows. The same services
as the API routes (api/routes/cases.py, case_fixes.py), with the page's principal."""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import Cursor, Id, ServicesDep
from clearinghouse.container import Services
from clearinghouse.coordination import artifacts, cases, fixes, participants
from clearinghouse.coordination.errors import CaseInputInvalid
from clearinghouse.coordination.fixes import FixKind, FixPost
from clearinghouse.coordination.schemas import (
    ArtifactCreate,
    CaseOut,
    VendorStatusCreate,
    VendorStatusValue,
)
from clearinghouse.coordination.states import CaseState
from clearinghouse.core.clock import utcnow
from clearinghouse.web.cases import LIST_PAGE, case_page_url
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.form_input import Form, from_form
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()

add_nav("Our cases", "/vendor/cases", OrgKind.vendor, order=20)
add_notice("status_posted", "Your status was posted.")
add_notice("fix_posted", "Your fix was posted: the case's recipe runs against it in the sandbox.")

_PATCH_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
AWAITING = frozenset({VendorStatusValue.unknown.value, VendorStatusValue.under_investigation.value})


def own_status(case: CaseOut, p: Principal) -> Any:
    return next((v for v in case.vendor_statuses or [] if v.vendor_org_id == p.org_id), None)


@router.get("/vendor/cases")
def vendor_cases(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    svc: ServicesDep,
    cursor: Cursor = None,
) -> HTMLResponse:
    page = cases.list_cases(session, p, state=None, limit=LIST_PAGE, cursor=cursor)
    rows = []
    for summary in page.items:
        case = cases.get_case(session, p, summary.id)
        rows.append((case, own_status(case, p)))
    return render(request, "vendor/cases.html", page=page, rows=rows)


@router.post("/cases/{case_id}/vendor-status", dependencies=[CsrfChecked])
def post_status(case_id: Id, p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    body = from_form(VendorStatusCreate, form, utc=("fix_scheduled_for",))
    participants.post_vendor_status(session, p, case_id, body)
    return redirect(case_page_url(case_id), notice="status_posted")


def _patch_bytes(upload: object, cap: int) -> tuple[str, bytes]:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise CaseInputInvalid("choose the patch file to upload", code="fix_patch_missing")
    data = upload.file.read(cap + 1)
    if len(data) > cap:
        raise CaseInputInvalid(f"the patch is larger than {cap} bytes", code="artifact_too_large")
    name = upload.filename.rsplit("/", 1)[-1]
    return (name if _PATCH_NAME.match(name) else "fix.patch"), data


@router.post("/cases/{case_id}/fixes", dependencies=[CsrfChecked])
def post_fix(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    """A patch is uploaded as the case's `patch` artifact and posted in the same transaction
    (the API takes the two steps separately); a purl or a commit is posted as it is."""
    kind = form.get("kind")
    if kind == FixKind.patch.value:
        cap = svc.settings.coordination_artifact_max_bytes
        name, data = _patch_bytes(form.get("patch"), cap)
        artifact = artifacts.upload(
            session,
            p,
            svc.blobs,
            case_id,
            ArtifactCreate(
                filename=name,
                kind="patch",
                media_type="text/x-diff",
                content_base64=base64.b64encode(data).decode(),
            ),
            max_bytes=cap,
        )
        body = FixPost(kind=FixKind.patch, artifact_id=artifact.id)
    else:
        body = from_form(FixPost, form)
    fixes.post_fix(session, p, case_id, body)
    return redirect(case_page_url(case_id), notice="fix_posted")


PANEL_CASES = 10


@panel(OrgKind.vendor, order=10)
def vendor_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """The vendor's cases that wait for its status (overdue: past the first-response date or
    the disclosure deadline)."""
    page = cases.list_cases(session, p, state=None, limit=PANEL_CASES, cursor=None)
    now = utcnow()
    rows, overdue = [], 0
    for summary in page.items:
        if CaseState(summary.state) in (CaseState.published, CaseState.closed):
            continue
        case = cases.get_case(session, p, summary.id)
        mine = own_status(case, p)
        if mine is None or mine.status not in AWAITING:
            continue
        due = case.deadline_detail.response_due if mine.first_response_at is None else None
        late = (due is not None and due <= now) or (
            case.deadline is not None and case.deadline <= now
        )
        overdue += late
        rows.append({"case": case, "status": mine, "due": due, "late": late})
    return Panel("Cases waiting for your status", "vendor/_panel.html", {"rows": rows}, overdue)
