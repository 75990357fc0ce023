"""Prioritisation of exposures: SSVC decision, EPSS, KEV flag and due date (issue 15, part 4).

`prioritise(session, exposures)` fills, for each exposure, from its record and its asset:
- `kev`: a CVE alias of the record is in CISA's KEV catalog (`vulns.catalog.kev_flags`);
- `ssvc`, `ssvc_rank` (`ssvc.rank`), `ssvc_inputs`: the CISA tree's decision (`ssvc.assess`) with
  every input and its source. The facts: KEV (exploitation active), the coordination case of
  the record (exploitation `active` once a CVE of the case's records is KEV-listed: the only
  exploitation evidence a case records today, `coordination.cases.exploited_since`, counting
  only the case's public records: an embargoed record's listing never reaches a sibling), the
  record's CVSS vector (automatable, technical impact), the asset's exposure, mission and
  well-being impact;
- `epss`: the highest latest EPSS score over the record's CVE aliases (`inventory.epss.latest`);
- `due_at`: `inventory.due.due_at` from the opening date, the SSVC outcome, the severity and the
  KEV entry's due date (the earliest entry when several aliases are listed). The rule that set
  it is kept in `ssvc_inputs["due"]`; the database derives the sort key `due_sort` from it.

It reads and writes in the caller's transaction, changes nothing when nothing changed (a re-run
is a no-op: idempotent), and returns the number of exposures it changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.coordination.models import CaseVuln
from clearinghouse.core.clock import utcnow
from clearinghouse.inventory import due, epss, ssvc
from clearinghouse.inventory.models import Asset, Exposure
from clearinghouse.vulns.catalog import kev_flags
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.visibility import is_public

# CVSS versions, best first: a 4.0 vector carries Automatable (AU), 3.x does not.
_CVSS_TYPES = ("CVSS_V4", "CVSS_V3")


def _cvss_vector(record: dict[str, Any]) -> str | None:
    entries = [e for e in record.get("severity") or [] if isinstance(e, dict)]
    for kind in _CVSS_TYPES:
        for entry in entries:
            if entry.get("type") == kind and str(entry.get("score", "")).startswith("CVSS:"):
                return str(entry["score"])
    return None


def _aliases(session: Session, vuln_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {v: [] for v in vuln_ids}
    rows = session.execute(
        select(VulnerabilityAlias.vuln_id, VulnerabilityAlias.alias).where(
            VulnerabilityAlias.vuln_id.in_(vuln_ids)
        )
    )
    for vuln_id, alias in rows:
        out[vuln_id].append(alias)
    return out


def _case_exploited(session: Session, vuln_ids: Sequence[str]) -> set[str]:
    """The records whose coordination case knows of exploitation in the wild: a KEV listing
    of a CVE of one of the case's **public** records (`coordination.cases.exploited_since`
    less the embargoed ones). An embargoed record's listing stays with that record, whose
    exposures are its case group's early warnings: carried to a public sibling it would tell
    every operator of the sibling that its case holds an undisclosed exploited flaw."""
    cases: dict[str, list[str]] = {}
    for case_id, vuln_id in session.execute(
        select(CaseVuln.case_id, CaseVuln.vuln_id).where(CaseVuln.vuln_id.in_(vuln_ids))
    ):
        cases.setdefault(case_id, []).append(vuln_id)
    if not cases:
        return set()
    members: dict[str, set[str]] = {}
    for case_id, vuln_id in session.execute(
        select(CaseVuln.case_id, CaseVuln.vuln_id).where(CaseVuln.case_id.in_(cases))
    ):
        members.setdefault(case_id, set()).add(vuln_id)
    now = utcnow()
    public = [
        v.id
        for v in session.scalars(
            select(Vulnerability).where(
                Vulnerability.id.in_({v for found in members.values() for v in found})
            )
        )
        if is_public(v, now) and v.withdrawn is None
    ]
    listed = set(kev_flags(session, public)) if public else set()
    return {
        vuln_id
        for case_id, mine in cases.items()
        if members.get(case_id, set()) & listed
        for vuln_id in mine
    }


def prioritise(
    session: Session, exposures: Iterable[Exposure], policy: due.DuePolicy | None = None
) -> int:
    """Fill `ssvc`, `ssvc_rank`, `ssvc_inputs`, `epss`, `kev` and `due_at` of `exposures` (see
    the module docstring). Returns how many changed."""
    items = list(exposures)
    if not items:
        return 0
    vuln_ids = sorted({e.vuln_id for e in items})
    records = {
        v.id: v
        for v in session.scalars(select(Vulnerability).where(Vulnerability.id.in_(vuln_ids)))
    }
    assets = {
        a.id: a
        for a in session.scalars(select(Asset).where(Asset.id.in_({e.asset_id for e in items})))
    }
    aliases = _aliases(session, vuln_ids)
    kev = kev_flags(session, vuln_ids)
    case_exploited = _case_exploited(session, vuln_ids)
    cves = sorted({a for names in aliases.values() for a in names if a.startswith("CVE-")})
    scores = epss.latest(session, cves) if cves else {}
    changed = 0
    for e in items:
        record = records[e.vuln_id].record if e.vuln_id in records else {}
        asset = assets[e.asset_id]
        entries = kev.get(e.vuln_id, [])
        facts = ssvc.SsvcFacts(
            kev=bool(entries),
            case_exploitation="active" if e.vuln_id in case_exploited else None,
            cvss_vector=_cvss_vector(record),
            mission_impact=asset.mission_impact,
            wellbeing_impact=asset.wellbeing_impact,
            exposure=asset.exposure,
        )
        decision = ssvc.assess(facts)
        kev_due: date | None = min(
            (k.due_date for k in entries if k.due_date is not None), default=None
        )
        due_at, rule = due.due_at(e.opened_at, decision.outcome, e.severity, kev_due, policy)
        alias_scores = [scores[a][0] for a in aliases.get(e.vuln_id, []) if a in scores]
        values: dict[str, Any] = {
            "kev": bool(entries),
            "ssvc": decision.outcome,
            "ssvc_rank": ssvc.rank(decision.outcome),
            "ssvc_inputs": {**decision.as_json(), "due": rule},
            "epss": max(alias_scores) if alias_scores else None,
            "due_at": due_at,
        }
        if any(getattr(e, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(e, k, v)
            changed += 1
    return changed
