"""What matching does to exposures: a new SBOM against every record its organisation may see
(`match_sbom`), and one new, changed or withdrawn record against every current component
(`match_vuln`). Both run as the system inside one job transaction (all or nothing) and are
idempotent: the unique (asset, component, vuln) constraint and the pairing below mean a re-run
creates nothing twice.

Status decisions:
- a new SBOM carries every exposure that still applies over to its component (same package,
  same record, still affected): its status and history go with it; an exposure whose package is
  gone or no longer affected is closed `remediated`, with the evidence {sbom_id, version};
- a withdrawn (or merged-away) record: its still-open exposures become `not_affected` with
  the justification `advisory_withdrawn` (the advisory no longer claims anything); an event
  "advisory withdrawn" records it. They are not `remediated`: nothing was fixed;
- a changed record: new matches open; open exposures it no longer covers become
  `not_affected` (justification `advisory_updated`); severity, KEV and fixed_in are refreshed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal, list_scope
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.ids import new_id
from clearinghouse.inventory import ssvc
from clearinghouse.inventory.matching.candidates import Stats, components_for_advisory
from clearinghouse.inventory.matching.engine import AdvisoryIndex, Hit
from clearinghouse.inventory.models import (
    Asset,
    Component,
    Exposure,
    ExposureEvent,
    ExposureStatus,
    Sbom,
)
from clearinghouse.vulns import scoring
from clearinghouse.vulns.models import (
    AffectedPackage,
    KevEntry,
    Vulnerability,
    VulnerabilityAlias,
)
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import VULN_CONDITIONS

S = ExposureStatus
# still claimed against the asset: closed automatically when the package goes
ACTIVE = (S.open, S.in_progress, S.mitigated, S.risk_accepted)
CHUNK = 500
_GHSA_SEVERITY = {"CRITICAL": "critical", "HIGH": "high", "MODERATE": "medium", "LOW": "low"}


@dataclass(frozen=True)
class Facts:
    severity: str
    cvss_score: float | None
    kev: bool


def facts(session: Session, vuln: Vulnerability) -> Facts:
    """Severity and CVSS base score (the highest scored vector of the record; else its
    database_specific severity as GHSA and PyPA write it), and the KEV flag by alias."""
    best: float | None = None
    severity = "unknown"
    for entry in vuln.record.get("severity", ()):
        try:
            scored = scoring.score(str(entry.get("score", "")))
        except InvalidInput:
            continue
        if best is None or scored.base_score > best:
            best, severity = scored.base_score, scored.severity.lower()
    if best is None:
        specific = vuln.record.get("database_specific") or {}
        label = specific.get("severity") if isinstance(specific, dict) else None
        severity = _GHSA_SEVERITY.get(str(label).upper(), "unknown")
    kev = session.scalar(
        select(KevEntry.cve_id)
        .join(VulnerabilityAlias, VulnerabilityAlias.alias == KevEntry.cve_id)
        .where(VulnerabilityAlias.vuln_id == vuln.id)
        .limit(1)
    )
    return Facts(severity, best, kev is not None)


def _org_principal(org_id: str) -> Principal:
    return Principal.on_behalf_of(org_id, OrgKind.operator, "inventory matching")


def _visible(org_id: str) -> Any:
    """The records `org_id` may see (the policy's list scope), usable and current."""
    return (
        list_scope(_org_principal(org_id), "vuln").clause(Vulnerability, VULN_CONDITIONS)
        & Vulnerability.withdrawn.is_(None)
        & (Vulnerability.status != VulnStatus.duplicate.value)
    )


def _event(
    session: Session,
    exposure: Exposure,
    to: str,
    note: str,
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        ExposureEvent(
            id=new_id("xev"),
            exposure_id=exposure.id,
            at=now,
            actor="system",
            from_status=exposure.status,
            to_status=to,
            note=note,
            evidence=evidence,
        )
    )
    exposure.status = to
    exposure.updated_at = now
    if to not in ACTIVE:
        exposure.closed_at = now


def insert_exposures(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert exposure rows (`exposure_row`'s), each with its "matched" event, skipping any
    that exist (unique asset, component, vuln): idempotent. Returns how many were inserted.
    The one place exposures are inserted (matching and the early warning)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    opened = 0
    for start in range(0, len(rows), CHUNK):
        stmt = insert(Exposure).on_conflict_do_nothing(
            index_elements=["asset_id", "component_id", "vuln_id"]
        )
        result = session.execute(stmt.returning(Exposure.id), rows[start : start + CHUNK])
        ids = list(result.scalars())
        opened += len(ids)
        now = rows[0]["opened_at"]
        for exposure_id in ids:
            session.add(
                ExposureEvent(
                    id=new_id("xev"),
                    exposure_id=exposure_id,
                    at=now,
                    actor="system",
                    from_status=None,
                    to_status=S.open.value,
                    note="matched",
                    evidence={},
                )
            )
    return opened


def exposure_row(
    asset: Asset, component: Component, hit: Hit, f: Facts, now: datetime
) -> dict[str, Any]:
    """A new open exposure of `component` to `hit`'s record, as `insert_exposures` takes it."""
    return {
        "id": new_id("exp"),
        "asset_id": asset.id,
        "org_id": asset.org_id,
        "component_id": component.id,
        "vuln_id": hit.vuln_id,
        "purl": component.purl,
        "version": component.version,
        "severity": f.severity,
        "cvss_score": f.cvss_score,
        "kev": f.kev,
        "epss": None,
        "fixed_in": hit.fixed_in,
        "ssvc": None,
        "ssvc_rank": ssvc.rank(None),  # undecided until prioritised (listed last)
        "ssvc_inputs": None,
        "due_at": None,
        "status": S.open.value,
        "justification": None,
        "detail": "full",
        "opened_at": now,
        "closed_at": None,
        "updated_at": now,
    }


def _records(session: Session, where: Any) -> list[Vulnerability]:
    return list(session.scalars(select(Vulnerability).where(where)))


def match_sbom(session: Session, sbom_id: str) -> dict[str, int]:
    """Match one SBOM (if still current) against every record its organisation may see."""
    sbom = session.get(Sbom, sbom_id)
    if sbom is None or sbom.superseded_at is not None:
        return {"skipped": 1}  # a newer SBOM's job decides for the asset
    asset = session.get(Asset, sbom.asset_id)
    assert asset is not None
    now = utcnow()
    components = list(
        session.scalars(
            select(Component).where(Component.sbom_id == sbom.id, Component.ecosystem.is_not(None))
        )
    )
    packages = sorted({(c.ecosystem or "", c.name or "") for c in components})
    visible: dict[str, Vulnerability] = {}
    for start in range(0, len(packages), CHUNK):
        chunk = packages[start : start + CHUNK]
        names = select(AffectedPackage.vuln_id).where(
            AffectedPackage.ecosystem.in_({e for e, _ in chunk}),
            AffectedPackage.name.in_({n for _, n in chunk}),
        )
        for v in _records(session, Vulnerability.id.in_(names) & _visible(asset.org_id)):
            visible[v.id] = v
    existing = list(
        session.scalars(
            select(Exposure).where(
                Exposure.asset_id == asset.id, Exposure.status.in_([s.value for s in ACTIVE])
            )
        )
    )
    # the records of standing exposures too (an early warning's embargoed record, say): a
    # standing exposure is carried over or closed by what its own record says
    others = sorted({e.vuln_id for e in existing} - set(visible))
    standing = {v.id: v for v in _records(session, Vulnerability.id.in_(others))} if others else {}
    index = AdvisoryIndex((v.id, v.record) for v in [*visible.values(), *standing.values()])
    old_components = {
        c.id: c
        for c in session.scalars(
            select(Component).where(Component.id.in_({e.component_id for e in existing}))
        )
    }
    by_package: dict[tuple[str, str, str], list[Exposure]] = defaultdict(list)
    for e in existing:
        old = old_components.get(e.component_id)
        if old is not None:
            by_package[(old.ecosystem or "", old.name or "", e.vuln_id)].append(e)
    opened_rows: list[dict[str, Any]] = []
    facts_cache: dict[str, Facts] = {}
    carried: set[str] = set()
    for c in components:
        for hit in index.match(c.ecosystem or "", c.name or "", c.version or ""):
            pool = by_package.get((c.ecosystem or "", c.name or "", hit.vuln_id), [])
            standing_exposure = next((e for e in pool if e.id not in carried), None)
            if standing_exposure is not None:
                carried.add(standing_exposure.id)
                if standing_exposure.component_id != c.id:
                    standing_exposure.component_id = c.id
                    standing_exposure.version = c.version
                    standing_exposure.purl = c.purl
                    standing_exposure.fixed_in = hit.fixed_in
                    standing_exposure.updated_at = now
                continue
            if hit.vuln_id not in visible:
                continue
            if hit.vuln_id not in facts_cache:
                facts_cache[hit.vuln_id] = facts(session, visible[hit.vuln_id])
            opened_rows.append(exposure_row(asset, c, hit, facts_cache[hit.vuln_id], now))
    remediated = 0
    current_versions = {(c.ecosystem, c.name): c.version for c in components}
    for e in existing:
        if e.id in carried:
            continue
        old = old_components.get(e.component_id)
        if old is not None and old.sbom_id == sbom.id:
            continue  # already on this SBOM (a re-run): nothing changed
        version = current_versions.get((old.ecosystem, old.name)) if old else None
        note = (
            "the new SBOM no longer lists the package"
            if version is None
            else ("the new SBOM's version is not affected")
        )
        _event(session, e, S.remediated.value, note, {"sbom_id": sbom.id, "version": version}, now)
        remediated += 1
    opened = insert_exposures(session, opened_rows)
    sbom.diff = {**sbom.diff, "exposures_opened": opened, "exposures_remediated": remediated}
    return {
        "components": len(components),
        "records": len(visible),
        "evaluations": index.evaluations,
        "opened": opened,
        "remediated": remediated,
    }


def match_vuln(session: Session, vuln_id: str, stats: Stats | None = None) -> dict[str, int]:
    """One new, changed or withdrawn record against the current components (no rescan)."""
    vuln = session.get(Vulnerability, vuln_id)
    now = utcnow()
    standing = list(
        session.scalars(
            select(Exposure).where(
                Exposure.vuln_id == vuln_id, Exposure.status.in_([s.value for s in ACTIVE])
            )
        )
    )
    if vuln is None or vuln.withdrawn is not None or vuln.status == VulnStatus.duplicate:
        for e in standing:
            e.justification = "advisory_withdrawn"
            _event(
                session, e, S.not_affected.value, "advisory withdrawn", {"vuln_id": vuln_id}, now
            )
        return {"withdrawn": len(standing)}
    f = facts(session, vuln)
    hits = dict(components_for_advisory(session, vuln, stats))
    by_component = {e.component_id: e for e in standing}
    closed = 0
    for e in standing:
        if e.component_id in hits:
            e.severity, e.cvss_score, e.kev = f.severity, f.cvss_score, f.kev
            e.fixed_in = hits[e.component_id].fixed_in
            e.updated_at = now
        elif (
            session.scalar(
                select(Sbom.superseded_at)
                .join(Component, Component.sbom_id == Sbom.id)
                .where(Component.id == e.component_id)
            )
            is None
        ):
            # on a current SBOM, and the record no longer covers its version
            e.justification = "advisory_updated"
            _event(session, e, S.not_affected.value, "advisory updated", {"vuln_id": vuln_id}, now)
            closed += 1
    new = [cid for cid in hits if cid not in by_component]
    rows: list[dict[str, Any]] = []
    visible_to: dict[str, bool] = {}
    for start in range(0, len(new), CHUNK):
        pairs = session.execute(
            select(Component, Asset)
            .join(Asset, Asset.id == Component.asset_id)
            .where(Component.id.in_(new[start : start + CHUNK]))
        )
        for component, asset in pairs:
            if asset.org_id not in visible_to:
                visible_to[asset.org_id] = (
                    session.scalar(
                        select(Vulnerability.id).where(
                            Vulnerability.id == vuln.id, _visible(asset.org_id)
                        )
                    )
                    is not None
                )
            if visible_to[asset.org_id]:
                rows.append(exposure_row(asset, component, hits[component.id], f, now))
    opened = insert_exposures(session, rows)
    return {"candidates": len(hits), "opened": opened, "closed": closed}


def enqueue_match_vuln(session: Session, vuln_ids: Iterable[str]) -> None:
    """Queue `inventory.match_vuln` for each record, in the caller's transaction: the hook
    every place that creates, changes or withdraws a record calls (one line there)."""
    from clearinghouse.storage import jobs

    for vuln_id in vuln_ids:
        jobs.enqueue(session, MATCH_VULN_JOB, {"vuln_id": vuln_id})


MATCH_VULN_JOB = "inventory.match_vuln"
