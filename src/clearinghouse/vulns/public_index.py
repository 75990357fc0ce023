"""An in-memory index of the public records, for the OSV query API.

Answering `/v1/querybatch` with a database join and a range evaluation per query costs
milliseconds per query; osv.dev-scale clients send a thousand queries per batch. This index
keeps, per process, (ecosystem, package) → the public records that name the package with their
`affected[]` entries, plus a cache of answered (ecosystem, package, version) lookups.

Freshness is checked on every request against the database's generation: the newest
`updated_at` of any record. Every change (import, triage, merge, publication) moves it, and the
index then reloads only the rows changed since. Embargo ends are time-based and change no row,
so entries keep their `embargo_until` and the filter is applied at query time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.vulns import ranges
from clearinghouse.vulns.models import Vulnerability

CACHE_SIZE = 200_000
OVERLAP = timedelta(minutes=5)
RECORD_CACHE_SIZE = 20_000
_BATCH = 5000


def _normalise(ecosystem: str, name: str) -> str:
    from clearinghouse.vulns.services import normalise_name

    return normalise_name(ecosystem, name)


@dataclass(frozen=True)
class Entry:
    vuln_id: str
    source_id: str
    modified: str  # as in the record
    embargo_until: datetime | None
    affected: tuple[dict[str, Any], ...]  # this package's affected[] entries


@dataclass
class PublicIndex:
    packages: dict[tuple[str, str], dict[str, Entry]] = field(default_factory=dict)
    keys_of: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    generation: datetime | None = None
    cache: OrderedDict[tuple[str, str, str | None], tuple[Entry, ...]] = field(
        default_factory=OrderedDict
    )
    records: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, session: Session) -> None:
        latest = session.scalar(select(func.max(Vulnerability.updated_at)))
        if latest == self.generation:
            return
        with self.lock:
            if latest == self.generation:
                return
            # Reload from a little before the last generation: a transaction that stamped its
            # rows earlier but committed after we last looked must not be missed.
            since = self.generation - OVERLAP if self.generation is not None else None
            self._load(session, since)
            self.generation = latest
            self.cache.clear()

    def _load(self, session: Session, since: datetime | None) -> None:
        last = ""
        while True:
            query = (
                select(
                    Vulnerability.id,
                    Vulnerability.source_id,
                    Vulnerability.status,
                    Vulnerability.tlp,
                    Vulnerability.embargo_until,
                    Vulnerability.record,
                )
                .where(Vulnerability.id > last)
                .order_by(Vulnerability.id)
                .limit(_BATCH)
            )
            if since is not None:
                query = query.where(Vulnerability.updated_at > since)
            rows = session.execute(query).all()
            if not rows:
                return
            for vuln_id, source_id, status, tlp, embargo, record in rows:
                self._drop(vuln_id)
                if status == "published" and tlp == "CLEAR":
                    self._add(vuln_id, source_id, embargo, record)
            last = rows[-1][0]

    def full_records(self, session: Session, vuln_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The OSV documents of public records, from a bounded cache or the database."""
        missing = [v for v in vuln_ids if v not in self.records]
        if missing:
            from clearinghouse.vulns.services import _public

            rows = session.execute(
                select(Vulnerability.id, Vulnerability.record).where(
                    Vulnerability.id.in_(missing), _public(utcnow())
                )
            ).all()
            with self.lock:
                for vuln_id, record in rows:
                    self.records[vuln_id] = record
                while len(self.records) > RECORD_CACHE_SIZE:
                    self.records.popitem(last=False)
        return {v: self.records[v] for v in vuln_ids if v in self.records}

    def _drop(self, vuln_id: str) -> None:
        self.records.pop(vuln_id, None)
        for key in self.keys_of.pop(vuln_id, []):
            self.packages.get(key, {}).pop(vuln_id, None)

    def _add(
        self, vuln_id: str, source_id: str, embargo: datetime | None, record: dict[str, Any]
    ) -> None:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for aff in record.get("affected") or []:
            pkg = aff.get("package") or {}
            if pkg.get("ecosystem") and pkg.get("name"):
                key = (pkg["ecosystem"], _normalise(pkg["ecosystem"], pkg["name"]))
                grouped.setdefault(key, []).append(aff)
        for key, affected in grouped.items():
            self.packages.setdefault(key, {})[vuln_id] = Entry(
                vuln_id, source_id, record["modified"], embargo, tuple(affected)
            )
        self.keys_of[vuln_id] = list(grouped)

    def lookup(self, ecosystem: str, name: str, version: str | None) -> list[Entry]:
        """Public records affecting the package (at `version`, when given), by source id."""
        key = (ecosystem, name, version)
        hit = self.cache.get(key)
        if hit is None:
            hit = tuple(
                sorted(
                    (
                        e
                        for e in self.packages.get((ecosystem, name), {}).values()
                        if version is None or _affects(version, e)
                    ),
                    key=lambda e: e.source_id,
                )
            )
            with self.lock:
                self.cache[key] = hit
                if len(self.cache) > CACHE_SIZE:
                    self.cache.popitem(last=False)
        now = utcnow()
        return [e for e in hit if e.embargo_until is None or e.embargo_until <= now]


def _affects(version: str, entry: Entry) -> bool:
    for aff in entry.affected:
        try:
            if ranges.is_affected(version, aff):
                return True
        except InvalidInput:
            continue  # the version does not parse in this ecosystem: not a match
    return False


_indexes: dict[str, PublicIndex] = {}
_guard = threading.Lock()


def index_for(session: Session) -> PublicIndex:
    """The process's index for this session's database, brought up to date."""
    url = str(session.get_bind().engine.url)
    with _guard:
        index = _indexes.setdefault(url, PublicIndex())
    index.refresh(session)
    return index
