"""Participants and per-vendor statuses. A vendor answers for itself: its status, statement,
VEX justification, fixed versions and fix commits. Statuses feed the VEX exports (issue 14
part 4) and the deadline; `VENDOR_STATUS_HOOKS` is where notifications (part 8) and fix
verification (part 3) attach, called in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org
from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.coordination import cases, fixes, timeline
from clearinghouse.coordination.access import load_case
from clearinghouse.coordination.cases import Policy
from clearinghouse.coordination.errors import CaseConflict, CaseInputInvalid
from clearinghouse.coordination.models import Case, Participant, VendorStatus
from clearinghouse.coordination.schemas import (
    CaseOut,
    ParticipantCreate,
    VendorStatusCreate,
    VendorStatusOut,
    VendorStatusValue,
)
from clearinghouse.coordination.states import CaseState
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.events import AuditTag

# (session, principal, case, the new status row, the previous status): run inside the
# transaction of the change; raising rolls the change back.
VendorStatusHook = Callable[[Session, Principal, Case, VendorStatus, str], None]
VENDOR_STATUS_HOOKS: list[VendorStatusHook] = []
# (session, principal, case, org id, role): run in the transaction of adding a participant
# (coordination.publication: a vendor or sharing group added to a notified case is told).
ParticipantHook = Callable[[Session, Principal, Case, str, str], None]
PARTICIPANT_HOOKS: list[ParticipantHook] = []

DONE = frozenset({VendorStatusValue.fixed.value, VendorStatusValue.not_affected.value})


def add_participant(
    session: Session, p: Principal, case_id: str, body: ParticipantCreate, *, policy: Policy = None
) -> CaseOut:
    """A coordinator adds an organisation as vendor, reporter or operators' sharing group. A
    vendor added after notification is notified at once (its clock starts now)."""
    case, _ = load_case(session, p, case_id, Action.case_manage, for_update=True)
    cases.require_active(case)
    if session.get(Org, body.org_id) is None:
        raise CaseInputInvalid(f"no organisation {body.org_id!r}", code="org_unknown")
    if session.get(Participant, (case.id, body.org_id)) is not None:
        raise CaseConflict(
            "that organisation already takes part in the case", code="participant_exists"
        )
    now = utcnow()
    session.add(Participant(case_id=case.id, org_id=body.org_id, role=body.role, added_at=now))
    if body.role == "vendor":
        session.add(
            VendorStatus(
                case_id=case.id,
                vendor_org_id=body.org_id,
                status=VendorStatusValue.unknown.value,
                statement="",
                fixed_versions=[],
                fix_commits=[],
                notified_at=now if case.notified_at is not None else None,
                updated_at=now,
            )
        )
    case.updated_at = now
    session.flush()
    timeline.record(
        session,
        p,
        case.id,
        "participant_added",
        AuditTag.COORDINATION_PARTICIPANT_ADD,
        {"org_id": body.org_id, "role": body.role},
        tlp=case.tlp,
    )
    for hook in PARTICIPANT_HOOKS:
        hook(session, p, case, body.org_id, body.role)
    return cases.get_case(session, p, case.id, policy=policy)


def post_vendor_status(
    session: Session, p: Principal, case_id: str, body: VendorStatusCreate
) -> VendorStatusOut:
    """The vendor (a member of the vendor organisation) posts its status. Its first post is its
    first response (the deadline's engagement rule). Moves the case on by itself: the first
    `affected` to fix_pending, every vendor fixed or not affected to fixed."""
    case, _ = load_case(session, p, case_id, Action.case_vendor_status, for_update=True)
    cases.require_active(case)
    _check(body)
    row = session.get(VendorStatus, (case.id, p.org_id), with_for_update=True)
    if row is None:  # the policy let a vendor participant through: it has a row
        raise CaseConflict("your organisation is not a vendor of this case", code="not_vendor")
    previous = row.status
    now = utcnow()
    row.status = body.status.value
    row.statement = body.statement
    row.justification = body.justification.value if body.justification else None
    row.fixed_versions = list(body.fixed_versions)
    row.fix_commits = list(body.fix_commits)
    row.fix_scheduled_for = body.fix_scheduled_for
    row.first_response_at = row.first_response_at or now
    row.updated_at = now
    row.updated_by_user_id = p.user_id
    case.updated_at = now
    session.flush()
    timeline.record(
        session,
        p,
        case.id,
        "vendor_status_changed",
        AuditTag.COORDINATION_VENDOR_STATUS,
        {
            "vendor_org_id": row.vendor_org_id,
            "from": previous,
            "to": row.status,
            "fix_scheduled_for": isoformat(row.fix_scheduled_for),
        },
        tlp=case.tlp,
    )
    for hook in VENDOR_STATUS_HOOKS:
        hook(session, p, case, row, previous)
    if row.status == VendorStatusValue.fixed.value:  # a fix that verified, or an override
        fixes.require_verified_fix(session, case, row.vendor_org_id)
    _advance(session, p, case)
    return cases.vendor_status_out(row)


def _check(body: VendorStatusCreate) -> None:
    status = body.status
    if body.justification is not None and status is not VendorStatusValue.not_affected:
        raise CaseInputInvalid(
            "a VEX justification goes with not_affected only", code="not_a_vendor_status"
        )
    if status is VendorStatusValue.not_affected and not (body.justification or body.statement):
        raise CaseInputInvalid(
            "not_affected needs a justification or an impact statement (VEX)",
            code="justification_missing",
        )
    if status is VendorStatusValue.fixed and not (body.fixed_versions or body.fix_commits):
        raise CaseInputInvalid(
            "fixed needs the fixed versions or the fix commits", code="fix_evidence_missing"
        )


def _advance(session: Session, p: Principal, case: Case) -> None:
    statuses = list(
        session.scalars(select(VendorStatus.status).where(VendorStatus.case_id == case.id))
    )
    state = CaseState(case.state)
    if state in (CaseState.vendors_notified, CaseState.fix_pending) and all(
        s in DONE for s in statuses
    ):
        cases.move(session, p, case, CaseState.fixed, reason="every vendor fixed or not affected")
    elif state is CaseState.vendors_notified and VendorStatusValue.affected.value in statuses:
        cases.move(session, p, case, CaseState.fix_pending, reason="a vendor is affected")
