"""Triage: a coordinator moves a record through the workflow (`states`), and sets its TLP,
embargo or crash signature."""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.vulns.records import touch
from clearinghouse.vulns.schemas import VulnOut, VulnTriage
from clearinghouse.vulns.search import vuln_detail
from clearinghouse.vulns.states import VulnStatus, check_move
from clearinghouse.vulns.tasks import request_csaf_sync
from clearinghouse.vulns.visibility import load_vuln


def triage(session: Session, p: Principal, vuln_id: str, change: VulnTriage) -> VulnOut:
    """A coordinator moves a record through triage, sets its TLP, embargo or crash signature."""
    vuln = load_vuln(session, p, vuln_id, Action.vuln_triage, for_update=True)
    now = utcnow()
    before = {"status": vuln.status, "tlp": vuln.tlp, "embargo_until": vuln.embargo_until}
    if change.status is not None and change.status.value != vuln.status:
        check_move(VulnStatus(vuln.status), change.status)
        vuln.status = change.status.value
        if change.status is VulnStatus.published and vuln.published is None:
            vuln.published = now
            vuln.record = {**vuln.record, "published": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if change.tlp is not None:
        vuln.tlp = change.tlp.value
    if change.lift_embargo:
        vuln.embargo_until = None
    elif change.embargo_until is not None:
        vuln.embargo_until = change.embargo_until
    if change.crash_signature is not None:
        vuln.crash_signature = change.crash_signature
    touch(vuln, now)
    session.flush()
    if VulnStatus.published.value in (before["status"], vuln.status):
        # The CSAF directory follows at once: a published record raised above TLP:CLEAR or put
        # back under embargo leaves the public folder now, not at the next periodic scan.
        request_csaf_sync(session, [vuln.id])
    audit.record(
        session,
        AuditTag.VULNS_VULN_TRIAGE,
        actor=p.actor,
        subject_type="vuln",
        subject_id=vuln.id,
        data={
            "before": {k: str(v) if v is not None else None for k, v in before.items()},
            "status": vuln.status,
            "tlp": vuln.tlp,
            "embargo_until": str(vuln.embargo_until) if vuln.embargo_until else None,
            "note": change.note,
        },
    )
    return vuln_detail(session, p, vuln.id)
