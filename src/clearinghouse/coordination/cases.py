"""Cases: open one over vulnerabilities, read it (full or early-warning view), list, move it
through its states, and its effective disclosure deadline (the seam the publication job of
issue 14 part 4 calls: `effective_deadline`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_page
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, case_view
from clearinghouse.coordination import deadlines, timeline
from clearinghouse.coordination.access import CASE_CONDITIONS, load_case
from clearinghouse.coordination.errors import CaseConflict, CaseInputInvalid
from clearinghouse.coordination.models import (
    Case,
    CaseVuln,
    DeadlineAdjustment,
    Participant,
    VendorStatus,
)
from clearinghouse.coordination.schemas import (
    AffectedOut,
    CaseCreate,
    CaseOut,
    CaseSummaryOut,
    DeadlineAdjust,
    DeadlineOut,
    ParticipantOut,
    ParticipantRole,
    TransitionCreate,
    VendorStatusOut,
)
from clearinghouse.coordination.states import (
    AUTOMATIC_ONLY,
    TERMINAL,
    CaseState,
    check_transition,
)
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page
from clearinghouse.vulns.catalog import kev_flags
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias, VulnerabilityReport
from clearinghouse.vulns.visibility import load_vuln

Policy = deadlines.DeadlinePolicy | None  # the configured policy; None: the embedded defaults

# (session, principal, case, from, to): run in the transaction of every move (notifications:
# coordination.publication registers the vendors' notification and the early warning).
MoveHook = Callable[[Session, Principal, Case, CaseState, CaseState], None]
MOVE_HOOKS: list[MoveHook] = []


def create_case(
    session: Session, p: Principal, body: CaseCreate, *, policy: Policy = None
) -> CaseOut:
    """Open a case (coordinators). Every id must name a record the caller may see; the
    records' reporting organisations join as reporters, the caller's as coordinator."""
    authorize(p, Action.case_create)
    vuln_ids: list[str] = []
    for requested in body.vuln_ids:
        try:
            # Locked: two cases opened at once for one record must not both pass the check.
            vuln = load_vuln(session, p, requested, Action.vuln_read, for_update=True)
        except NotFound as exc:
            raise CaseInputInvalid(
                f"no vulnerability {requested!r} that you may see", code="vuln_unknown"
            ) from exc
        if vuln.id not in vuln_ids:
            vuln_ids.append(vuln.id)
    _refuse_records_in_active_cases(session, vuln_ids)
    now = utcnow()
    case = Case(
        id=new_id("case"),
        title=body.title,
        state=CaseState.open.value,
        tlp=body.tlp.value,
        embargo_until=body.embargo_until,
        transparency_notice=body.transparency_notice,
        notified_at=None,
        created_by_org_id=p.org_id,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    for vid in vuln_ids:
        session.add(CaseVuln(case_id=case.id, vuln_id=vid))
    roles: dict[str, str] = {}
    reporters = session.scalars(
        select(VulnerabilityReport.reporter_org_id).where(VulnerabilityReport.vuln_id.in_(vuln_ids))
    )
    for org in reporters:
        if org is not None:
            roles[org] = ParticipantRole.reporter.value
    if p.org_id is not None:
        roles[p.org_id] = ParticipantRole.coordinator.value
    for org, role in sorted(roles.items()):
        session.add(Participant(case_id=case.id, org_id=org, role=role, added_at=now))
    session.flush()
    timeline.record(
        session,
        p,
        case.id,
        "case_opened",
        AuditTag.COORDINATION_CASE_CREATE,
        {"vuln_ids": vuln_ids, "tlp": case.tlp, "embargo_until": isoformat(case.embargo_until)},
        tlp=case.tlp,
    )
    target = Target("case", case.id, case_parties=frozenset(roles.items()))
    return _out(session, p, case, target, policy)


def _refuse_records_in_active_cases(session: Session, vuln_ids: list[str]) -> None:
    """A record is coordinated in one active case at a time, as in VINCE (one case per report,
    as many vendors as it needs). Publication makes a case's records public; a second case
    holding the same record under a longer embargo (another vendor's) would be broken by the
    first case's publication. Another vendor joins the existing case instead."""
    held = session.execute(
        select(CaseVuln.vuln_id, Case.id)
        .join(Case, Case.id == CaseVuln.case_id)
        .where(
            CaseVuln.vuln_id.in_(vuln_ids),
            Case.state.not_in([CaseState.published.value, CaseState.closed.value]),
        )
        .order_by(CaseVuln.vuln_id)
    ).first()
    if held is not None:
        vuln_id, case_id = held
        raise CaseConflict(
            f"{vuln_id} is already coordinated in the active case {case_id}: add the vendor "
            "to that case (its publication would end any second case's embargo)",
            code="vuln_in_active_case",
        )


def get_case(session: Session, p: Principal, case_id: str, *, policy: Policy = None) -> CaseOut:
    case, target = load_case(session, p, case_id, Action.case_read)
    return _out(session, p, case, target, policy)


def list_cases(
    session: Session,
    p: Principal,
    *,
    state: CaseState | None,
    limit: int,
    cursor: str | None,
) -> Page[CaseSummaryOut]:
    """The cases the caller may see (coordinators: all; others: their organisation's), filtered
    in SQL by the policy's list scope."""
    where = [Case.state == state.value] if state else []
    return scoped_page(
        session,
        p,
        "case",
        Case,
        _summary,
        limit=limit,
        cursor=cursor,
        where=where,
        conditions=CASE_CONDITIONS,
    )


def _summary(case: Case) -> CaseSummaryOut:
    return CaseSummaryOut(
        id=case.id,
        title=case.title,
        state=case.state,
        tlp=case.tlp,
        embargo_until=case.embargo_until,
        created_at=case.created_at,
    )


# --- states ----------------------------------------------------------------------------------


def transition(
    session: Session, p: Principal, case_id: str, body: TransitionCreate, *, policy: Policy = None
) -> CaseOut:
    """A coordinator moves the case. Publication is the publication job's, never a person's."""
    case, target = load_case(session, p, case_id, Action.case_manage, for_update=True)
    if body.to in AUTOMATIC_ONLY:
        raise CaseConflict(
            "a case is published by the publication job at its deadline, not by hand",
            code="manual_publication",
        )
    move(session, p, case, body.to, reason=body.reason)
    return _out(session, p, case, target, policy)


def move(session: Session, p: Principal, case: Case, to: CaseState, *, reason: str = "") -> None:
    """Move `case` to `to` (checked against the table), with its timeline and audit events.
    Notifying the vendors starts the disclosure clock. Also the publication job's entry."""
    current = CaseState(case.state)
    check_transition(current, to)
    now = utcnow()
    if to is CaseState.vendors_notified:
        vendors = list(session.scalars(select(VendorStatus).where(VendorStatus.case_id == case.id)))
        if not vendors:
            raise CaseConflict("add a vendor before notifying vendors", code="no_vendor")
        case.notified_at = now
        for vendor in vendors:
            vendor.notified_at = vendor.notified_at or now
    case.state = to.value
    case.updated_at = now
    timeline.record(
        session,
        p,
        case.id,
        "state_changed",
        AuditTag.COORDINATION_CASE_TRANSITION,
        {"from": current.value, "to": to.value, "reason": reason},
        tlp=case.tlp,
    )
    for hook in MOVE_HOOKS:
        hook(session, p, case, current, to)


def require_active(case: Case) -> None:
    if CaseState(case.state) in TERMINAL:
        raise CaseConflict("the case is closed", code="case_closed")


# --- the deadline ----------------------------------------------------------------------------


def _midnight(day: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def exploited_since(session: Session, case_id: str) -> datetime | None:
    """When exploitation in the wild became known: the earliest KEV listing of a CVE alias of
    one of the case's records (the vulns domain's KEV import)."""
    vuln_ids = list(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case_id)))
    entries = [e for found in kev_flags(session, vuln_ids).values() for e in found]
    return min((_midnight(e.date_added) for e in entries), default=None)


def case_facts(session: Session, case: Case) -> deadlines.CaseFacts:
    vendors = session.scalars(select(VendorStatus).where(VendorStatus.case_id == case.id))
    adjustments = session.scalars(
        select(DeadlineAdjustment).where(DeadlineAdjustment.case_id == case.id)
    )
    return deadlines.CaseFacts(
        notified_at=case.notified_at,
        embargo_until=case.embargo_until,
        vendors=[
            deadlines.VendorFacts(
                status=v.status,
                first_response_at=v.first_response_at,
                fix_scheduled_for=v.fix_scheduled_for,
                status_at=v.updated_at,
            )
            for v in vendors
        ],
        exploited_at=exploited_since(session, case.id),
        adjustments=[deadlines.Adjustment(a.days, a.created_at) for a in adjustments],
    )


def effective_deadline(
    session: Session, case: Case, now: datetime | None = None, policy: Policy = None
) -> deadlines.Deadline:
    """The case's disclosure deadline now: the seam for the publication job (issue 14 part 4)
    and for notifications. A published or closed case has none. `policy`: the configured one
    (`deadlines.policy_for(settings)`); None means the embedded defaults."""
    if CaseState(case.state) in (CaseState.published, CaseState.closed):
        return deadlines.Deadline(None, deadlines.Rule.none)
    return deadlines.compute(
        case_facts(session, case), now or utcnow(), policy or deadlines.DEFAULT_POLICY
    )


def adjust_deadline(
    session: Session, p: Principal, case_id: str, body: DeadlineAdjust, *, policy: Policy = None
) -> CaseOut:
    """A coordinator extends (days > 0) or shortens (days < 0) the deadline, with a reason."""
    case, target = load_case(session, p, case_id, Action.case_adjust_deadline, for_update=True)
    require_active(case)
    if case.notified_at is None and case.embargo_until is None:
        raise CaseConflict(
            "the deadline runs from the vendors' notification; notify them first",
            code="not_notified",
        )
    if body.days == 0:
        raise CaseInputInvalid("an adjustment of 0 days changes nothing", code="deadline_noop")
    now = utcnow()
    before = effective_deadline(session, case, now, policy)
    adjustment = DeadlineAdjustment(
        id=new_id("cdl"),
        case_id=case.id,
        days=body.days,
        reason=body.reason,
        org_id=p.org_id,
        user_id=p.user_id,
        created_at=now,
    )
    session.add(adjustment)
    session.flush()
    after = effective_deadline(session, case, now, policy)
    if after.at is not None and after.at < now:
        raise CaseInputInvalid("that would put the deadline in the past", code="deadline_in_past")
    case.updated_at = now
    timeline.record(
        session,
        p,
        case.id,
        "deadline_adjusted",
        AuditTag.COORDINATION_CASE_DEADLINE,
        {
            "days": body.days,
            "reason": body.reason,
            "before": isoformat(before.at),
            "after": isoformat(after.at),
        },
        tlp=case.tlp,
    )
    return _out(session, p, case, target, policy)


# --- the views -------------------------------------------------------------------------------


def _deadline_out(d: deadlines.Deadline) -> DeadlineOut:
    return DeadlineOut(
        at=d.at,
        rule=d.rule.value,
        response_due=d.response_due,
        adjusted_days=d.adjusted_days,
        rolled=d.rolled,
        candidates=d.candidates,
    )


def _affected(session: Session, vuln_ids: list[str]) -> list[AffectedOut]:
    """What is affected and how badly, from the records: never details, PoC or recipe."""
    records = {
        v.id: v
        for v in session.scalars(select(Vulnerability).where(Vulnerability.id.in_(vuln_ids)))
    }
    aliases: dict[str, list[str]] = {}
    for vid, alias in session.execute(
        select(VulnerabilityAlias.vuln_id, VulnerabilityAlias.alias).where(
            VulnerabilityAlias.vuln_id.in_(vuln_ids)
        )
    ):
        if alias != vid:
            aliases.setdefault(vid, []).append(alias)
    kev = kev_flags(session, vuln_ids)
    items = []
    for vid in vuln_ids:
        record = records[vid].record or {}
        affected = []
        for entry in record.get("affected") or []:
            package = entry.get("package") or {}
            affected.append(
                {
                    "ecosystem": package.get("ecosystem"),
                    "name": package.get("name"),
                    "purl": package.get("purl"),
                    "ranges": entry.get("ranges") or [],
                    "versions": entry.get("versions") or [],
                }
            )
        items.append(
            AffectedOut(
                vuln_id=vid,
                aliases=sorted(aliases.get(vid, [])),
                affected=affected,
                severity=list(record.get("severity") or []),
                known_exploited=vid in kev,
            )
        )
    return items


def _out(session: Session, p: Principal, case: Case, target: Target, policy: Policy) -> CaseOut:
    view = case_view(p, target)
    vuln_ids = sorted(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id)))
    vendors = list(
        session.scalars(
            select(VendorStatus)
            .where(VendorStatus.case_id == case.id)
            .order_by(VendorStatus.vendor_org_id)
        )
    )
    deadline = effective_deadline(session, case, policy=policy)
    full = view == "full"
    participants = (
        [
            ParticipantOut(org_id=x.org_id, role=x.role, added_at=x.added_at)
            for x in session.scalars(
                select(Participant)
                .where(Participant.case_id == case.id)
                .order_by(Participant.org_id)
            )
        ]
        if full
        else None
    )
    return CaseOut(
        id=case.id,
        view="full" if full else "early_warning",
        title=case.title,
        state=case.state,
        tlp=case.tlp,
        embargo_until=case.embargo_until,
        deadline=deadline.at,
        deadline_detail=_deadline_out(deadline),
        vuln_ids=vuln_ids,
        affected=_affected(session, vuln_ids),
        mitigation=[
            {
                "vendor_org_id": v.vendor_org_id,
                "status": v.status,
                "fixed_versions": v.fixed_versions,
            }
            for v in vendors
        ],
        participants=participants,
        vendor_statuses=[vendor_status_out(v) for v in vendors] if full else None,
        notified_at=case.notified_at,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def vendor_status_out(v: VendorStatus) -> VendorStatusOut:
    return VendorStatusOut(
        vendor_org_id=v.vendor_org_id,
        status=v.status,
        statement=v.statement,
        justification=v.justification,
        fixed_versions=v.fixed_versions,
        fix_commits=v.fix_commits,
        fix_scheduled_for=v.fix_scheduled_for,
        notified_at=v.notified_at,
        first_response_at=v.first_response_at,
        updated_at=v.updated_at,
    )
