"""Coordination case pages (issue 16): the list, a case (participants, vendor statuses, the
deadline countdown, messages with TLP badges, the timeline, the embargo banner, fix
verifications, publication) and the coordinator's forms. Every page calls the service its API
route calls (api/routes/cases.py, case_fixes.py) with the page's principal, so a case shows
exactly what the API would show: the full view to its reporters, vendors and coordinators, the
early warning to the operators' sharing group, 404 to everyone else. The vendor's own forms
(status, fix) are in `web/vendor.py`."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import TLP_ORDER, Action, Principal, Target
from clearinghouse.api.deps import Cursor, Id, ServicesDep
from clearinghouse.container import Services
from clearinghouse.coordination import cases, fixes, messages, participants, publication, timeline
from clearinghouse.coordination.access import load_case
from clearinghouse.coordination.deadlines import policy_for
from clearinghouse.coordination.fixes import FixOverride
from clearinghouse.coordination.schemas import (
    CaseCreate,
    CaseOut,
    DeadlineAdjust,
    Justification,
    MessageCreate,
    ParticipantCreate,
    ParticipantRole,
    PublishNow,
    TransitionCreate,
    VendorStatusValue,
)
from clearinghouse.coordination.states import NOTIFIED, TRANSITIONS, CaseState
from clearinghouse.core.clock import utcnow
from clearinghouse.core.tlp import Tlp
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.form_input import Form, allowed, from_form
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()

LIST_PAGE = 25
MESSAGE_PAGE = 25
TIMELINE_PREVIEW = 20  # on the case page; the timeline page pages the rest
TIMELINE_PAGE = 50

add_nav("Cases", "/cases", OrgKind.coordinator, order=20)
for code, text in {
    "case_opened": "The case is open. Add its vendors, then notify them.",
    "participant_added": "The participant was added.",
    "vendors_notified": "The vendors were notified: the disclosure clock runs.",
    "case_moved": "The case moved on.",
    "deadline_adjusted": "The deadline was adjusted.",
    "published": "The case was published: its records are public.",
    "message_posted": "Your message was posted.",
    "fix_overridden": "The override was recorded: the vendor may now post fixed.",
}.items():
    add_notice(code, text)


def case_page_url(case_id: str) -> str:
    return f"/cases/{case_id}"


@router.get("/cases")
def case_list(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    state: CaseState | None = None,
    cursor: Cursor = None,
) -> HTMLResponse:
    page = cases.list_cases(session, p, state=state, limit=LIST_PAGE, cursor=cursor)
    return render(
        request,
        "cases/list.html",
        page=page,
        state=state.value if state else "",
        states=[s.value for s in CaseState],
        heading="Cases",
    )


@router.post("/cases", dependencies=[CsrfChecked])
def open_case(
    p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    body = from_form(CaseCreate, form, utc=("embargo_until",))
    case = cases.create_case(session, p, body, policy=policy_for(svc.settings))
    return redirect(case_page_url(case.id), notice="case_opened")


def _flags(p: Principal, target: Target, case: CaseOut) -> dict[str, bool]:
    """Which forms the page shows: the policy's answer for each action on this case."""
    active = CaseState(case.state) not in (CaseState.published, CaseState.closed)
    return {
        "can_manage": active and allowed(p, Action.case_manage, target),
        "can_adjust": active and allowed(p, Action.case_adjust_deadline, target),
        "can_message": active and allowed(p, Action.case_post_message, target),
        "can_status": active and allowed(p, Action.case_vendor_status, target),
        "can_fix": active and allowed(p, Action.case_post_fix, target),
        "can_override": active and allowed(p, Action.case_fix_override, target),
        "can_read_fixes": allowed(p, Action.case_read_artifacts, target),
    }


def _later_tlps(case_tlp: str) -> list[str]:
    """The labels a message may carry: the case's or stricter."""
    return list(TLP_ORDER[TLP_ORDER.index(case_tlp) :])


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case_id: Id,
    p: PagePrincipal,
    session: SessionDep,
    svc: ServicesDep,
    cursor: Cursor = None,
) -> HTMLResponse:
    case = cases.get_case(session, p, case_id, policy=policy_for(svc.settings))
    _, target = load_case(session, p, case_id, Action.case_read)
    flags = _flags(p, target, case)
    msgs = messages.list_messages(session, p, svc.vault, case_id, limit=MESSAGE_PAGE, cursor=cursor)
    events = timeline.list_events(session, p, case_id, limit=TIMELINE_PREVIEW, cursor=None)
    fix_list = fixes.list_fixes(session, p, case_id) if flags["can_read_fixes"] else []
    mine = next(
        (v for v in case.vendor_statuses or [] if v.vendor_org_id == p.org_id),
        None,
    )
    state = CaseState(case.state)
    return render(
        request,
        "cases/case.html",
        case=case,
        messages=msgs,
        events=events,
        fixes=fix_list,
        mine=mine,
        now=utcnow(),
        notified=state in NOTIFIED,
        moves=sorted(
            s.value
            for s in TRANSITIONS[state]
            if s not in (CaseState.published, CaseState.vendors_notified)
        ),
        can_notify=CaseState.vendors_notified in TRANSITIONS[state],
        message_tlps=_later_tlps(case.tlp),
        full_parties=[
            x for x in case.participants or [] if x.role != ParticipantRole.operator_group
        ],
        vendor_statuses=[s.value for s in VendorStatusValue],
        justifications=[j.value for j in Justification],
        red=Tlp.red.value,
        **flags,
    )


@router.get("/cases/{case_id}/timeline")
def case_timeline(
    request: Request, case_id: Id, p: PagePrincipal, session: SessionDep, cursor: Cursor = None
) -> HTMLResponse:
    page = timeline.list_events(session, p, case_id, limit=TIMELINE_PAGE, cursor=cursor)
    case, _ = load_case(session, p, case_id, Action.case_read)
    return render(request, "cases/timeline.html", case=case, events=page)


@router.post("/cases/{case_id}/participants", dependencies=[CsrfChecked])
def add_participant(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    body = from_form(ParticipantCreate, form)
    participants.add_participant(session, p, case_id, body, policy=policy_for(svc.settings))
    return redirect(case_page_url(case_id), notice="participant_added")


@router.post("/cases/{case_id}/notify", dependencies=[CsrfChecked])
def notify_vendors(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep
) -> RedirectResponse:
    body = TransitionCreate(to=CaseState.vendors_notified, reason="vendors notified")
    cases.transition(session, p, case_id, body, policy=policy_for(svc.settings))
    return redirect(case_page_url(case_id), notice="vendors_notified")


@router.post("/cases/{case_id}/transition", dependencies=[CsrfChecked])
def transition(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    body = from_form(TransitionCreate, form)
    cases.transition(session, p, case_id, body, policy=policy_for(svc.settings))
    return redirect(case_page_url(case_id), notice="case_moved")


@router.post("/cases/{case_id}/deadline", dependencies=[CsrfChecked])
def adjust_deadline(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    body = from_form(DeadlineAdjust, form)
    cases.adjust_deadline(session, p, case_id, body, policy=policy_for(svc.settings))
    return redirect(case_page_url(case_id), notice="deadline_adjusted")


@router.post("/cases/{case_id}/publish", dependencies=[CsrfChecked])
def publish_now(case_id: Id, p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    body = from_form(PublishNow, form)
    publication.publish_now(session, p, case_id, body.reason)
    return redirect(case_page_url(case_id), notice="published")


@router.post("/cases/{case_id}/messages", dependencies=[CsrfChecked])
def post_message(
    case_id: Id, p: PagePrincipal, session: SessionDep, svc: ServicesDep, form: Form
) -> RedirectResponse:
    body = from_form(MessageCreate, form)
    messages.post_message(session, p, svc.vault, case_id, body)
    return redirect(case_page_url(case_id), notice="message_posted")


@router.post("/cases/{case_id}/vendors/{vendor_org_id}/fix-override", dependencies=[CsrfChecked])
def override_fix(
    case_id: Id, vendor_org_id: Id, p: PagePrincipal, session: SessionDep, form: Form
) -> RedirectResponse:
    fixes.override(session, p, case_id, vendor_org_id, from_form(FixOverride, form))
    return redirect(case_page_url(case_id), notice="fix_overridden")


# --- the dashboard ----------------------------------------------------------------------------

PANEL_CASES = 10


def deadline_rows(
    session: Session, p: Principal, policy: cases.Policy, case_ids: list[str]
) -> list[CaseOut]:
    """The cases with their deadlines, soonest first (those without one last)."""
    rows = [cases.get_case(session, p, cid, policy=policy) for cid in case_ids]
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)
    return sorted(rows, key=lambda c: c.deadline or far)


@panel(OrgKind.coordinator, order=20)
def cases_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """Notified cases and their deadlines (overdue: past the deadline, not yet published), and
    the open cases whose vendors have not been told yet."""
    if not allowed(p, Action.case_create):
        return None
    running = [
        c.id
        for state in (CaseState.vendors_notified, CaseState.fix_pending, CaseState.fixed)
        for c in cases.list_cases(session, p, state=state, limit=PANEL_CASES, cursor=None).items
    ]
    waiting = cases.list_cases(session, p, state=CaseState.open, limit=PANEL_CASES, cursor=None)
    rows = deadline_rows(session, p, policy_for(services.settings), running[:PANEL_CASES])
    now = utcnow()
    overdue = sum(1 for c in rows if c.deadline is not None and c.deadline <= now)
    ctx = {"rows": rows, "waiting": waiting.items, "now": now}
    return Panel("Cases", "cases/_panel.html", ctx, overdue=overdue)
