"""The lab's pages (reviews domain): its agreements; its submissions, each with the review
window's live countdown and its state timeline; submitting a model; verifying access (which
opens the window); and its delivered reports. Every read and change goes through the reviews
services the API routes call, with the signed-in principal: another organisation's submission
is a 404 here exactly as over the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, TypeVar

from fastapi import Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import Id
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput, PermissionDenied
from clearinghouse.reviews import agreements, reports, submissions, transitions
from clearinghouse.reviews.schemas import SubmissionCreate, SubmissionOut
from clearinghouse.reviews.states import SubmissionState
from clearinghouse.web.cookies import services_of
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()
T = TypeVar("T")
add_nav("Agreements", "/lab/agreements", OrgKind.lab, order=10)
add_nav("Submissions", "/lab/submissions", OrgKind.lab, order=11)
add_notice("submitted", "The model is submitted. Verify access to open the review window.")
add_notice("verified", "The endpoint answered: the review window is open.")

PageCursor = Annotated[str | None, Query(max_length=200)]
OPEN_STATES = {
    SubmissionState.access_verified,
    SubmissionState.testing,
    SubmissionState.findings_drafted,
}


@router.get("/lab/agreements")
def agreement_list(
    request: Request, p: PagePrincipal, session: SessionDep, cursor: PageCursor = None
) -> HTMLResponse:
    page = agreements.list_agreements(session, p, limit=50, cursor=cursor)
    return render(request, "lab/agreements.html", page=page)


@router.get("/lab/submissions")
def submission_list(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    cursor: PageCursor = None,
    state: Annotated[SubmissionState | None, Query()] = None,
) -> HTMLResponse:
    settings = services_of(request).settings
    page = submissions.list_submissions(session, p, settings, state=state, limit=50, cursor=cursor)
    return render(request, "lab/submissions.html", page=page, state=state, states=SubmissionState)


def _new_form(
    request: Request, p: Principal, session: SessionDep, error: str | None, status: int = 200
) -> HTMLResponse:
    active = [
        a for a in agreements.list_agreements(session, p, limit=200).items if a.status == "active"
    ]
    return render(
        request, "lab/new_submission.html", status_code=status, agreements=active, error=error
    )


@router.get("/lab/submissions/new")
def new_submission(request: Request, p: PagePrincipal, session: SessionDep) -> HTMLResponse:
    return _new_form(request, p, session, None)


@router.post("/lab/submissions", dependencies=[CsrfChecked])
def create_submission(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    agreement_id: Annotated[str, Form(max_length=40)],
    model_name: Annotated[str, Form(max_length=200)],
    model_version: Annotated[str, Form(max_length=100)],
    planned_release: Annotated[str, Form(max_length=10)],
    endpoint_url: Annotated[str, Form(max_length=500)],
    api_key: Annotated[str, Form(max_length=4096)],
    evaluator_org_id: Annotated[str, Form(max_length=40)],
) -> Response:
    services = services_of(request)
    try:
        day = date.fromisoformat(planned_release)
        release = datetime.combine(day, time(), UTC)
        data = SubmissionCreate(
            agreement_id=agreement_id,
            model_name=model_name,
            model_version=model_version,
            planned_release_at=release,
            endpoint_url=endpoint_url,
            api_key=SecretStr(api_key),
            evaluator_org_id=evaluator_org_id,
        )
    except (ValueError, ValidationError):
        # never echo the input (the key is in it): say which rule, not what was sent
        return _new_form(
            request,
            p,
            session,
            "Check the fields: each is required; the release date is YYYY-MM-DD; the endpoint is an http(s) URL ending in /v1.",
            422,
        )
    try:
        out = submissions.create_submission(session, p, services.vault, services.settings, data)
    except InvalidInput as exc:
        return _new_form(request, p, session, exc.detail, 422)
    return redirect(f"/lab/submissions/{out.id}", notice="submitted")


def _detail(
    request: Request, p: Principal, session: SessionDep, submission_id: str
) -> dict[str, Any]:
    settings = services_of(request).settings
    sub: SubmissionOut = submissions.get_submission(session, p, submission_id, settings)
    return {
        "sub": sub,
        # the parts the policy may refuse a role that sees the submission (a coordinator sees
        # program metadata, not the lab's reports): shown as "not available", never decided here
        "timeline": _allowed(lambda: submissions.timeline(session, p, submission_id)),
        "reports": _allowed(lambda: reports.list_reports(session, p, submission_id)),
        "window_open": sub.state in OPEN_STATES and sub.deadline is not None,
    }


def _allowed(read: Callable[[], list[T]]) -> list[T] | None:
    """What `read` returns, or None where the policy refuses it (PermissionDenied)."""
    try:
        return read()
    except PermissionDenied:
        return None


@router.get("/lab/submissions/{submission_id}")
def submission_detail(
    request: Request, submission_id: Id, p: PagePrincipal, session: SessionDep
) -> HTMLResponse:
    return render(request, "lab/submission.html", **_detail(request, p, session, submission_id))


@router.post("/lab/submissions/{submission_id}/verify-access", dependencies=[CsrfChecked])
def verify_access(request: Request, submission_id: Id, p: PagePrincipal) -> Response:
    services = services_of(request)
    transitions.verify_access(services.db, p, services.vault, services.settings, submission_id)
    return redirect(f"/lab/submissions/{submission_id}", notice="verified")


@panel(OrgKind.lab, order=10)
def lab_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """Review windows: the lab's submissions still to verify, and the open windows with their
    deadlines (overdue: past the deadline and not ended)."""
    subs = submissions.list_submissions(session, p, services.settings, limit=50).items
    todo = [s for s in subs if s.state in {SubmissionState.submitted, *OPEN_STATES}]
    now = utcnow()
    overdue = sum(1 for s in todo if s.deadline is not None and s.deadline <= now)
    return Panel("Your review windows", "lab/_panel.html", {"rows": todo, "now": now}, overdue)


# --- reports: read (the lab once delivered; the evaluator) and deliver (the evaluator) ------

Version = Annotated[int, PathParam(ge=1, le=10_000)]
# The report is our own renderer's HTML, shown in a sandboxed frame: no script, no form, no
# request anywhere, and nothing outside the frame reachable from it.
REPORT_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
add_notice("delivered", "The report is delivered to the lab.")


@router.get("/reports/{submission_id}/{version}")
def report_page(
    request: Request, submission_id: Id, version: Version, p: PagePrincipal, session: SessionDep
) -> HTMLResponse:
    settings = services_of(request).settings
    report = reports.get_report(session, p, submission_id, version)
    sub = submissions.get_submission(session, p, submission_id, settings)
    return render(request, "lab/report.html", report=report, sub=sub)


@router.get("/reports/{submission_id}/{version}/content")
def report_content(
    request: Request, submission_id: Id, version: Version, p: PagePrincipal, session: SessionDep
) -> Response:
    services = services_of(request)
    report, data = reports.read_report_content(session, p, services.blobs, submission_id, version)
    return Response(
        data,
        media_type=report.media_type,
        headers={
            "Content-Security-Policy": REPORT_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
        },
    )


@router.post("/reports/{submission_id}/{version}/deliver", dependencies=[CsrfChecked])
def deliver(
    request: Request, submission_id: Id, version: Version, p: PagePrincipal, session: SessionDep
) -> Response:
    reports.deliver_report(session, p, services_of(request).settings, submission_id, version)
    return redirect(f"/reports/{submission_id}/{version}", notice="delivered")
