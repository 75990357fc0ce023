"""Early warning under embargo (issue 15, part 5).

When a coordination case's vendors are notified (or an operator joins a notified case's sharing
group, `operator_group`, or an operator of that group uploads an SBOM during the embargo:
`warn_sbom`, run by the SBOM's match job), every embargoed record of the case is matched against the current
components of that group's operators only (`inventory.matching.candidates`, the one evaluator),
and each match becomes an exposure with `detail="early_warning"`: what is affected (purl,
version, fixed_in), severity, KEV, the SSVC priority and due date, and, read from the case when
shown, its TLP label (`coordination.publication.early_warning_tlp`: AMBER, or the case's
stricter label) and mitigation (each vendor's status and fixed versions). An exposure never
carries a record's text, PoC or recipe (inventory.exposures reads none of them).

Each operator gets one alert through the notifications outbox (`inventory.early_warning`, its
own variant at the early warning's TLP, addressed to that organisation only), in the same
transaction as the exposures.

An operator outside the group gets nothing: no exposure is created for it, and the listing,
one exposure, the metrics and the CLI all read exposures through the policy's list scope (its
own organisation's rows). Matching (`inventory.matching.apply`) creates exposures only for
records an organisation may see, which an embargoed one is not.

At publication (`coordination.publication.PUBLISHED_HOOKS`) the early warnings of the records
published become `detail="full"`, and `inventory.match_vuln` is queued for each record so
every other operator's components are matched now that the record is public.

The hooks register when this module is imported (`inventory.tasks` imports it, and every
process that builds services loads the domains' task modules).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal
from clearinghouse.audit import trail as audit
from clearinghouse.coordination import cases, participants, publication
from clearinghouse.coordination.models import Case, CaseVuln, Participant
from clearinghouse.coordination.schemas import ParticipantRole
from clearinghouse.coordination.states import NOTIFIED, CaseState
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.inventory.exposures import EARLY_WARNING
from clearinghouse.inventory.matching import apply
from clearinghouse.inventory.matching.candidates import components_for_advisory
from clearinghouse.inventory.models import Asset, Component, Exposure, Sbom
from clearinghouse.inventory.prioritise import prioritise
from clearinghouse.notifications.outbox import Meta, Variant, emit
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.visibility import is_public

ALERT = "inventory.early_warning"
GROUP = ParticipantRole.operator_group.value


def warn(session: Session, p: Principal, case: Case, org_id: str) -> list[str]:
    """Open early-warning exposures of `org_id`'s assets for the case's embargoed records and
    alert the organisation. Idempotent (the unique asset x component x record). Returns the
    ids of the exposures opened."""
    now = utcnow()
    vuln_ids = list(session.scalars(select(CaseVuln.vuln_id).where(CaseVuln.case_id == case.id)))
    records = [
        v
        for v in session.scalars(
            select(Vulnerability).where(Vulnerability.id.in_(vuln_ids)).order_by(Vulnerability.id)
        )
        if not is_public(v, now) and v.withdrawn is None
    ]
    rows: list[dict[str, Any]] = []
    for vuln in records:
        hits = dict(components_for_advisory(session, vuln))
        if not hits:
            continue
        facts = apply.facts(session, vuln)
        pairs = session.execute(
            select(Component, Asset)
            .join(Asset, Asset.id == Component.asset_id)
            .where(Component.id.in_(sorted(hits)), Asset.org_id == org_id)
        )
        for component, asset in pairs:
            row = apply.exposure_row(asset, component, hits[component.id], facts, now)
            rows.append({**row, "detail": EARLY_WARNING})
    apply.insert_exposures(session, rows)
    opened = list(
        session.scalars(
            select(Exposure).where(
                Exposure.id.in_([r["id"] for r in rows]), Exposure.detail == EARLY_WARNING
            )
        )
    )
    if not opened:
        return []
    prioritise(session, opened)
    tlp = publication.early_warning_tlp(case)
    emit(
        session,
        ALERT,
        case.id,
        {
            EARLY_WARNING: Variant(
                {
                    "case_id": case.id,
                    "exposures": [
                        {
                            "exposure_id": e.id,
                            "asset_id": e.asset_id,
                            "purl": e.purl,
                            "version": e.version,
                            "severity": e.severity,
                            "fixed_in": e.fixed_in,
                            "ssvc": e.ssvc,
                        }
                        for e in opened
                    ],
                },
                tlp,
            )
        },
        {org_id: EARLY_WARNING},
        Meta(embargo_until=case.embargo_until, actor=p.actor),
    )
    audit.record(
        session,
        AuditTag.INVENTORY_EXPOSURE_EARLY_WARNING,
        actor=p.actor,
        subject_type="case",
        subject_id=case.id,
        data={"org_id": org_id, "exposures": [e.id for e in opened], "tlp": tlp.value},
    )
    return [e.id for e in opened]


def warn_sbom(session: Session, sbom_id: str) -> list[str]:
    """After an SBOM's match job: its organisation, if in the sharing group of notified cases
    still under embargo, is warned (`warn`, each case in turn) about what the new SBOM brought.
    A package already warned about is not again (`warn` is idempotent: the carried-over
    exposure holds the unique asset x component x record). Returns the exposures opened."""
    sbom = session.get(Sbom, sbom_id)
    if sbom is None or sbom.superseded_at is not None:
        return []
    asset = session.get(Asset, sbom.asset_id)
    assert asset is not None
    notified = session.scalars(
        select(Case)
        .join(Participant, Participant.case_id == Case.id)
        .where(
            Participant.org_id == asset.org_id,
            Participant.role == GROUP,
            Case.state.in_([s.value for s in NOTIFIED]),
            Case.notified_at.is_not(None),
        )
        .order_by(Case.created_at, Case.id)
    )
    system = Principal.system()
    return [e for case in list(notified) for e in warn(session, system, case, asset.org_id)]


def disclose(session: Session, vuln_ids: list[str]) -> None:
    """Published records: their early warnings become full exposures, and every other
    operator's components are matched (queued)."""
    if not vuln_ids:
        return
    now = utcnow()
    warned = list(
        session.scalars(
            select(Exposure).where(Exposure.vuln_id.in_(vuln_ids), Exposure.detail == EARLY_WARNING)
        )
    )
    for e in warned:
        e.detail, e.updated_at = "full", now
    apply.enqueue_match_vuln(session, vuln_ids)
    if warned:
        audit.record(
            session,
            AuditTag.INVENTORY_EXPOSURE_DISCLOSE,
            actor=Principal.system().actor,
            subject_type="vuln",
            subject_id=vuln_ids[0],
            data={"vuln_ids": vuln_ids, "exposures": [e.id for e in warned]},
        )


def _group(session: Session, case_id: str) -> list[str]:
    return sorted(
        session.scalars(
            select(Participant.org_id).where(
                Participant.case_id == case_id, Participant.role == GROUP
            )
        )
    )


def on_move(session: Session, p: Principal, case: Case, before: CaseState, to: CaseState) -> None:
    if to is CaseState.vendors_notified and before is CaseState.open:
        for org_id in _group(session, case.id):
            warn(session, p, case, org_id)


def on_participant(session: Session, p: Principal, case: Case, org_id: str, role: str) -> None:
    if role == GROUP and case.notified_at is not None:
        warn(session, p, case, org_id)


def _register() -> None:
    if on_move not in cases.MOVE_HOOKS:
        cases.MOVE_HOOKS.append(on_move)
    if on_participant not in participants.PARTICIPANT_HOOKS:
        participants.PARTICIPANT_HOOKS.append(on_participant)
    if disclose not in publication.PUBLISHED_HOOKS:
        publication.PUBLISHED_HOOKS.append(disclose)


_register()
