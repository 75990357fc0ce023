"""Publication at the deadline, the notifications around a case, and the transparency notice
(issue 14, parts 4 and 5; docs/coordination.md, "Publication").

- `publish_case`: in ONE transaction, the case moves to `published` and each of its records
  becomes public (status `published`, TLP:CLEAR, embargo lifted: `vulns.visibility.is_public`,
  which the OSV API, the dumps, TAXII and the VEX/CSAF/STIX/CVE exports all filter on), with a
  public `vuln.published` notification per record. The case row is locked and its state read
  again first, so two runs (or a run retried after a crash) publish once.
- `publish_due`: the periodic job's body: every notified case whose effective deadline has
  passed, each in its own transaction (a crash midway leaves the rest for the next run).
- `publish_now`: a coordinator publishes before the deadline, with an audited reason.
- Hooks on the case's seams (registered at import; `coordination.tasks` imports this module,
  and every process that builds services loads it): vendors get their notification when they
  are notified, the operators' sharing group its early warning when it joins a notified case
  or when a case it is in is notified.
- `send_transparency_notices`: the optional, per-case, metadata-only notice (vendor, product,
  report date, deadline), as Project Zero's reporting-transparency policy does, once, after the
  vendors' notification (the job runs far more often than the 7 days allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.coordination import cases, participants, timeline
from clearinghouse.coordination.access import load_case
from clearinghouse.coordination.errors import CaseConflict
from clearinghouse.coordination.models import (
    Case,
    CaseVuln,
    Participant,
    TimelineEvent,
    VendorStatus,
)
from clearinghouse.coordination.states import NOTIFIED, CaseState
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.core.tlp import Tlp
from clearinghouse.notifications.outbox import EVERYONE, Meta, Variant, emit
from clearinghouse.storage.db import Database
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias, VulnerabilityReport
from clearinghouse.vulns.records import touch
from clearinghouse.vulns.states import OPEN, VulnStatus
from clearinghouse.vulns.tasks import request_csaf_sync
from clearinghouse.vulns.visibility import PUBLIC_TLP

PUBLISHED = "vuln.published"
VENDOR_NOTIFIED = "case.vendor_notified"
EARLY_WARNING = "case.early_warning"
TRANSPARENCY_NOTICE = "case.transparency_notice"
TRANSPARENCY_EVENT = "transparency_notice"

# (session, the ids of the records just published): run in the publication's transaction.
# The CSAF provider's directory update is enqueued here (the periodic sync would also find the
# records, one interval later).
PublishedHook = Callable[[Session, list[str]], None]
PUBLISHED_HOOKS: list[PublishedHook] = [request_csaf_sync]

# Records in these states are published with their case; rejected and duplicate ones are not
# (a rejected claim is no vulnerability; a duplicate's primary record is what goes public).
_PUBLISHABLE = OPEN | {VulnStatus.published}


# --- publication -----------------------------------------------------------------------------


def due_cases(session: Session, now: datetime, policy: cases.Policy = None) -> list[str]:
    """The notified cases whose effective deadline has passed."""
    candidates = session.scalars(
        select(Case).where(Case.state.in_([s.value for s in NOTIFIED])).order_by(Case.id)
    )
    due = []
    for case in candidates:
        deadline = cases.effective_deadline(session, case, now, policy)
        if deadline.at is not None and deadline.at <= now:
            due.append(case.id)
    return due


def publish_case(
    session: Session, p: Principal, case_id: str, *, reason: str, now: datetime | None = None
) -> list[str]:
    """Publish the case and its records in the caller's transaction; the ids published, or []
    when the case is already published or closed (idempotent: the row is locked first)."""
    case = session.get(Case, case_id, with_for_update=True)
    if case is None or CaseState(case.state) not in NOTIFIED:
        return []
    now = now or utcnow()
    cases.move(session, p, case, CaseState.published, reason=reason)
    vuln_ids = sorted(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id)))
    published = []
    for vuln in session.scalars(
        select(Vulnerability)
        .where(Vulnerability.id.in_(vuln_ids))
        .order_by(Vulnerability.id)
        .with_for_update()
    ):
        if VulnStatus(vuln.status) not in _PUBLISHABLE:
            continue
        _publish_record(session, p, vuln, case.id, now)
        published.append(vuln.id)
    session.flush()
    for vid in published:
        _announce(session, p, vid)
    for hook in PUBLISHED_HOOKS if published else ():
        hook(session, published)
    return published


def _publish_record(
    session: Session, p: Principal, vuln: Vulnerability, case_id: str, now: datetime
) -> None:
    """What `vulns.triage` does for `published`, TLP:CLEAR and a lifted embargo, in one move
    (the case's publication is the decision; no triage step is required of the record)."""
    before = {
        "status": vuln.status,
        "tlp": vuln.tlp,
        "embargo_until": isoformat(vuln.embargo_until),
    }
    vuln.status = VulnStatus.published.value
    vuln.tlp = PUBLIC_TLP.value
    vuln.embargo_until = None
    if vuln.published is None:
        vuln.published = now
        vuln.record = {**vuln.record, "published": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    touch(vuln, now)
    audit.record(
        session,
        AuditTag.VULNS_VULN_TRIAGE,
        actor=p.actor,
        subject_type="vuln",
        subject_id=vuln.id,
        data={
            "before": before,
            "status": vuln.status,
            "tlp": vuln.tlp,
            "embargo_until": None,
            "note": f"published with case {case_id}",
        },
    )


def _announce(session: Session, p: Principal, vuln_id: str) -> None:
    """The public `vuln.published` event: what the OSV API now serves, for everyone."""
    vuln = session.get(Vulnerability, vuln_id)
    assert vuln is not None
    record = vuln.record or {}
    aliases = sorted(
        a
        for a in session.scalars(
            select(VulnerabilityAlias.alias).where(VulnerabilityAlias.vuln_id == vuln_id)
        )
        if a != vuln_id
    )
    purls = [
        str((entry.get("package") or {}).get("purl"))
        for entry in record.get("affected") or []
        if (entry.get("package") or {}).get("purl")
    ]
    emit(
        session,
        PUBLISHED,
        vuln.source_id,
        {
            "public": Variant(
                {
                    "id": vuln.source_id,
                    "aliases": aliases,
                    "summary": vuln.summary,
                    "published": record.get("published"),
                    "modified": record.get("modified"),
                    "affected": record.get("affected") or [],
                    "severity": record.get("severity") or [],
                },
                Tlp.clear,
            )
        },
        {EVERYONE: "public"},
        Meta(purls=purls, actor=p.actor),
    )


def publish_due(
    db: Database, now: datetime | None = None, policy: cases.Policy = None
) -> list[str]:
    """The periodic job: publish every case past its deadline, each in its own transaction."""
    now = now or utcnow()
    with db.transaction() as session:
        due = due_cases(session, now, policy)
    done = []
    for case_id in due:
        with db.transaction() as session:
            case = session.get(Case, case_id, with_for_update=True)
            if case is None or CaseState(case.state) not in NOTIFIED:
                continue
            deadline = cases.effective_deadline(session, case, now, policy)
            if deadline.at is None or deadline.at > now:  # changed since the scan
                continue
            reason = f"the disclosure deadline ({deadline.rule.value}) passed"
            if publish_case(session, Principal.system(), case_id, reason=reason, now=now):
                done.append(case_id)
    return done


def publish_now(session: Session, p: Principal, case_id: str, reason: str) -> list[str]:
    """A coordinator publishes a notified case before its deadline (audited, with a reason)."""
    case, _ = load_case(session, p, case_id, Action.case_manage, for_update=True)
    if CaseState(case.state) not in NOTIFIED:
        raise CaseConflict(
            "only a case whose vendors were notified can be published", code="not_publishable"
        )
    if not reason.strip():
        raise CaseConflict("publishing early needs a reason", code="reason_required")
    return publish_case(session, p, case.id, reason=f"published early: {reason}")


# --- notifications on the case's seams -------------------------------------------------------


def _early_warning(session: Session, case: Case, org_id: str) -> dict[str, Any]:
    """The early warning as the group's own view of the case reads it (the policy decides
    the view): what is affected, severity, mitigation; never the PoC, recipe or details."""
    org = session.get(Org, org_id)
    assert org is not None
    viewer = Principal.on_behalf_of(org_id, OrgKind(org.kind), "early warning")
    view = cases.get_case(session, viewer, case.id)
    return {
        "case_id": view.id,
        "title": view.title,
        "deadline": isoformat(view.deadline),
        "affected": [a.model_dump(mode="json") for a in view.affected],
        "mitigation": view.mitigation,
    }


def early_warning_tlp(case: Case) -> Tlp:
    return Tlp(case.tlp).at_least(Tlp.amber)


def _warn_group(session: Session, p: Principal, case: Case, org_id: str) -> None:
    emit(
        session,
        EARLY_WARNING,
        case.id,
        # TLP:AMBER (need to know, within the operator's organisation), or the case's own
        # label when that is stricter: the warning is about an embargoed vulnerability, and
        # GREEN would let the operator pass it on to its whole community.
        {"early_warning": Variant(_early_warning(session, case, org_id), early_warning_tlp(case))},
        {org_id: "early_warning"},
        Meta(embargo_until=case.embargo_until, actor=p.actor),
    )


def _notify_vendor(session: Session, p: Principal, case: Case, org_id: str) -> None:
    deadline = cases.effective_deadline(session, case)
    emit(
        session,
        VENDOR_NOTIFIED,
        case.id,
        {
            "vendor": Variant(
                {
                    "case_id": case.id,
                    "title": case.title,
                    "tlp": case.tlp,
                    "deadline": isoformat(deadline.at),
                    "embargo_until": isoformat(case.embargo_until),
                },
                Tlp(case.tlp),
            )
        },
        {org_id: "vendor"},
        Meta(embargo_until=case.embargo_until, actor=p.actor),
    )


def _roles(session: Session, case_id: str, role: str) -> list[str]:
    return sorted(
        session.scalars(
            select(Participant.org_id).where(
                Participant.case_id == case_id, Participant.role == role
            )
        )
    )


def on_move(session: Session, p: Principal, case: Case, before: CaseState, to: CaseState) -> None:
    """Notifying the vendors tells each vendor, and warns the sharing group."""
    if to is CaseState.vendors_notified and before is CaseState.open:
        for org in _roles(session, case.id, "vendor"):
            _notify_vendor(session, p, case, org)
        for org in _roles(session, case.id, "operator_group"):
            _warn_group(session, p, case, org)


def on_participant(session: Session, p: Principal, case: Case, org_id: str, role: str) -> None:
    """A vendor or group added to an already notified case is told at once."""
    if case.notified_at is None:
        return
    if role == "vendor":
        _notify_vendor(session, p, case, org_id)
    elif role == "operator_group":
        _warn_group(session, p, case, org_id)


def _register() -> None:
    if on_move not in cases.MOVE_HOOKS:
        cases.MOVE_HOOKS.append(on_move)
    if on_participant not in participants.PARTICIPANT_HOOKS:
        participants.PARTICIPANT_HOOKS.append(on_participant)


_register()


# --- the transparency notice -----------------------------------------------------------------


def transparency_notice(session: Session, case: Case) -> dict[str, Any]:
    """Metadata only: the vendors' names, the products (package names), the report date and
    the deadline. Built from those fields alone, never from a record's text."""
    vendors = sorted(
        session.scalars(
            select(Org.name)
            .join(VendorStatus, VendorStatus.vendor_org_id == Org.id)
            .where(VendorStatus.case_id == case.id)
        )
    )
    vuln_ids = list(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id)))
    products: set[str] = set()
    for record in session.scalars(
        select(Vulnerability.record).where(Vulnerability.id.in_(vuln_ids))
    ):
        for entry in (record or {}).get("affected") or []:
            name = (entry.get("package") or {}).get("name")
            if isinstance(name, str) and name:
                products.add(name)
    reported = session.scalar(
        select(VulnerabilityReport.created_at)
        .where(VulnerabilityReport.vuln_id.in_(vuln_ids))
        .order_by(VulnerabilityReport.created_at)
        .limit(1)
    )
    deadline = cases.effective_deadline(session, case)
    return {
        "vendors": vendors,
        "products": sorted(products),
        "reported": isoformat(reported or case.created_at),
        "vendors_notified": isoformat(case.notified_at),
        "deadline": isoformat(deadline.at),
    }


def send_transparency_notices(session: Session) -> list[str]:
    """Emit the notice for every opted-in, notified case that has none yet, and record it on
    the case's timeline (which is also what makes the job idempotent)."""
    sent = exists().where(
        TimelineEvent.case_id == Case.id,
        TimelineEvent.kind == TRANSPARENCY_EVENT,
    )
    due = list(
        session.scalars(
            select(Case)
            .where(
                Case.transparency_notice.is_(True),
                Case.notified_at.is_not(None),
                ~sent,
            )
            .order_by(Case.id)
            .with_for_update()
        )
    )
    p = Principal.system()
    for case in due:
        notice = transparency_notice(session, case)
        emit(
            session,
            TRANSPARENCY_NOTICE,
            f"transparency notice {case.id}",
            {"public": Variant(notice, Tlp.clear)},
            {EVERYONE: "public"},
            Meta(actor=p.actor),
        )
        timeline.record(
            session,
            p,
            case.id,
            TRANSPARENCY_EVENT,
            AuditTag.COORDINATION_CASE_TRANSPARENCY,
            notice,
            tlp="CLEAR",
        )
    return [c.id for c in due]
