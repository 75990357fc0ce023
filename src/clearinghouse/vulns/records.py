"""Storing records: our ids, the alias and package lookup rows, and the idempotent upsert that
imports and reports write through."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any
from typing import cast as cast_type

import orjson
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns.catalog import cwe_ids_of
from clearinghouse.vulns.models import (
    AffectedPackage,
    IdCounter,
    Vulnerability,
    VulnerabilityAlias,
)
from clearinghouse.vulns.states import VulnStatus


def normalise_name(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":  # PEP 503: case and runs of -_. do not distinguish PyPI projects
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) if value else None


def next_ids(session: Session, year: int, n: int) -> list[str]:
    counter = session.get(IdCounter, year, with_for_update=True)
    if counter is None:
        counter = IdCounter(year=year, last=0)
        session.add(counter)
    first = counter.last + 1
    counter.last += n
    return [f"CH-{year}-{k:05d}" for k in range(first, first + n)]


def next_id(session: Session, year: int) -> str:
    return next_ids(session, year, 1)[0]


def _index_rows(
    vuln_id: str, doc: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The alias and package lookup rows of one (validated) OSV document."""
    aliases = [
        {"alias": a, "vuln_id": vuln_id}
        for a in sorted({doc["id"], vuln_id, *doc.get("aliases", ())})
    ]
    packages: dict[tuple[str, str], dict[str, Any]] = {}
    for aff in doc.get("affected", ()):
        pkg = aff.get("package")
        if pkg is None:
            continue
        key = (pkg["ecosystem"], normalise_name(pkg["ecosystem"], pkg["name"]))
        packages.setdefault(
            key,
            {"vuln_id": vuln_id, "ecosystem": key[0], "name": key[1], "purl": pkg.get("purl")},
        )
    return aliases, list(packages.values())


def reindex(session: Session, vuln: Vulnerability) -> None:
    """Rebuild the record's alias and package lookup rows from its stored document."""
    session.execute(delete(VulnerabilityAlias).where(VulnerabilityAlias.vuln_id == vuln.id))
    session.execute(delete(AffectedPackage).where(AffectedPackage.vuln_id == vuln.id))
    aliases, packages = _index_rows(vuln.id, vuln.record)
    session.execute(insert(VulnerabilityAlias), aliases)
    if packages:
        session.execute(insert(AffectedPackage), packages)


def affected_signature(doc: dict[str, Any]) -> str | None:
    """The exact-dedup key: normalised (ecosystem, package, ranges, versions) + CWEs. Two records
    with the same key claim the same flaw in the same code, whatever their wording. A record
    that names no CWE has no key: many distinct flaws share a package and its fix releases
    (dozens of TensorFlow advisories are fixed in the same versions)."""
    cwes = cwe_ids_of(doc)
    if not cwes:
        return None
    parts = []
    for aff in doc.get("affected") or []:
        pkg = aff.get("package") or {}
        if not pkg:
            continue
        eco = pkg.get("ecosystem", "")
        events = sorted(
            orjson.dumps(r.get("events", []), option=orjson.OPT_SORT_KEYS).decode()
            for r in aff.get("ranges") or []
        )
        parts.append(
            [eco, normalise_name(eco, pkg.get("name", "")), events, sorted(aff.get("versions", []))]
        )
    if not parts:
        return None
    key = orjson.dumps([sorted(parts), cwes], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(key).hexdigest()


def upsert(session: Session, doc: dict[str, Any], *, origin: str = "osv") -> str:
    """Store one record, in its canonical form (`osv.canonical`). Returns created | updated |
    unchanged. Idempotent: a re-import changes nothing unless `modified` is newer."""
    modified = parse_ts(doc["modified"])
    assert modified is not None
    existing = session.scalar(
        select(Vulnerability).where(Vulnerability.source_id == doc["id"]).with_for_update()
    )
    now = utcnow()
    if existing is not None:
        if existing.modified >= modified:
            return "unchanged"
        vuln = existing
    else:
        vuln = Vulnerability(
            id=next_id(session, (parse_ts(doc.get("published")) or modified).year),
            source_id=doc["id"],
            status=VulnStatus.published.value,
            tlp=_tlp_of(doc),
            created_at=now,
            origin=origin,
        )
        session.add(vuln)
    vuln.record, vuln.summary, vuln.details = doc, doc.get("summary", ""), doc.get("details", "")
    vuln.published, vuln.modified, vuln.withdrawn = (
        parse_ts(doc.get("published")),
        modified,
        parse_ts(doc.get("withdrawn")),
    )
    vuln.updated_at = now
    vuln.cwe_ids = cwe_ids_of(doc)
    vuln.affected_signature = affected_signature(doc)
    session.flush()
    reindex(session, vuln)
    return "updated" if existing is not None else "created"


def _tlp_of(doc: dict[str, Any]) -> str:
    return Tlp.of_label((doc.get("database_specific") or {}).get("tlp")).value


def _table(model: type[Any]) -> Table:
    """The Core table of a model: bulk inserts through Core skip the ORM's per-row work."""
    return cast_type(Table, model.__table__)


def upsert_batch(session: Session, docs: list[dict[str, Any]], *, origin: str = "osv") -> list[str]:
    """`upsert` for many canonical records in one transaction, with set-based SQL (one lookup,
    bulk inserts and updates): the import path. Returns each record's outcome, in order.
    Records with the same id in one batch are applied in order, like separate upserts."""
    now = utcnow()
    ids = list(dict.fromkeys(d["id"] for d in docs))
    existing: dict[str, tuple[str, datetime]] = {}
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        rows = session.execute(
            select(Vulnerability.source_id, Vulnerability.id, Vulnerability.modified)
            .where(Vulnerability.source_id.in_(chunk))
            .with_for_update()
        )
        existing.update({sid: (vid, mod) for sid, vid, mod in rows})
    # Reserve our ids for the new records in one counter update per year, not one per record.
    stamps = {
        id(d): (parse_ts(d["modified"]), parse_ts(d.get("published")), parse_ts(d.get("withdrawn")))
        for d in docs
    }
    years: dict[int, int] = {}
    for doc in {d["id"]: d for d in docs if d["id"] not in existing}.values():
        modified, published, _ = stamps[id(doc)]
        year = (published or modified or now).year
        years[year] = years.get(year, 0) + 1
    fresh = {year: iter(next_ids(session, year, n)) for year, n in years.items()}
    outcomes: list[str] = []
    new_rows: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    indexed: dict[str, dict[str, Any]] = {}
    for doc in docs:
        modified, published, withdrawn = stamps[id(doc)]
        assert modified is not None
        fields = {
            "record": doc,
            "summary": doc.get("summary", ""),
            "details": doc.get("details", ""),
            "published": published,
            "modified": modified,
            "withdrawn": withdrawn,
            "updated_at": now,
            "cwe_ids": cwe_ids_of(doc),
            "affected_signature": affected_signature(doc),
        }
        if doc["id"] in existing:
            vuln_id, current = existing[doc["id"]]
            if current >= modified:
                outcomes.append("unchanged")
                continue
            if vuln_id in new_rows:
                new_rows[vuln_id].update(fields)
            else:
                changed[vuln_id] = {"id": vuln_id, **fields}
            outcomes.append("updated")
        else:
            vuln_id = next(fresh[(published or modified).year])
            new_rows[vuln_id] = {
                "id": vuln_id,
                "source_id": doc["id"],
                "status": VulnStatus.published.value,
                "tlp": _tlp_of(doc),
                "embargo_until": None,
                "created_at": now,
                "origin": origin,
                "crash_signature": None,
                "duplicate_of": None,
                **fields,
            }
            outcomes.append("created")
        existing[doc["id"]] = (vuln_id, modified)
        indexed[vuln_id] = doc
    if new_rows:
        session.execute(insert(_table(Vulnerability)), list(new_rows.values()))
    if changed:
        session.execute(update(Vulnerability), list(changed.values()))
        for chunk in (list(changed)[i : i + 500] for i in range(0, len(changed), 500)):
            session.execute(delete(VulnerabilityAlias).where(VulnerabilityAlias.vuln_id.in_(chunk)))
            session.execute(delete(AffectedPackage).where(AffectedPackage.vuln_id.in_(chunk)))
    alias_rows: list[dict[str, Any]] = []
    package_rows: list[dict[str, Any]] = []
    for vuln_id, doc in indexed.items():
        a, p = _index_rows(vuln_id, doc)
        alias_rows += a
        package_rows += p
    if alias_rows:
        session.execute(insert(_table(VulnerabilityAlias)), alias_rows)
    if package_rows:
        session.execute(insert(_table(AffectedPackage)), package_rows)
    return outcomes


def touch(vuln: Vulnerability, now: datetime) -> None:
    """Record a change: `modified` moves forward in the row and in the OSV document."""
    vuln.modified = max(now, vuln.modified)
    vuln.updated_at = now
    vuln.record = {**vuln.record, "modified": vuln.modified.strftime("%Y-%m-%dT%H:%M:%SZ")}
