"""An in-memory index of the public records, for the OSV query API.

Answering `/v1/querybatch` with a database join and a range evaluation per query costs
milliseconds per query; osv.dev-scale clients send a thousand queries per batch. This index
keeps, per process, (ecosystem, package) → the public records that name the package with their
`affected[]` entries, plus a cache of answered (ecosystem, package, version) lookups.

Freshness is checked on every request against the database's generation: the newest
`updated_at` of any record, read on a dedicated connection (`Database.probe`, an indexed
`max()`: microseconds, no pool checkout, no transaction). Every change (import, triage, merge,
publication) moves it, and the index then reloads, in a read-only transaction, only the rows
changed since. Embargo ends are time-based and change no row, so entries keep their
`embargo_until` and the filter is applied at query time.

Requests may read while another thread reloads (on PostgreSQL the queries run in the
threadpool). Readers copy what they iterate, and every cache write is tagged with the reload
count it was computed under and dropped when a reload came in between, so an answer computed
from the old index never outlives the reload (a record withdrawn from the public could
otherwise linger in a cached answer).
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.storage.db import Database
from clearinghouse.vulns import ranges
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.osv import osv_id
from clearinghouse.vulns.publication.osv import to_osv
from clearinghouse.vulns.records import normalise_name
from clearinghouse.vulns.visibility import embargo_over, public_clause, publishable

CACHE_SIZE = 200_000
OVERLAP = timedelta(minutes=5)
RECORD_CACHE_SIZE = 20_000
_BATCH = 5000


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
    # GIT ranges: an affected commit (lowercase hex) → the records that name it (`_add`).
    commits: dict[str, dict[str, Entry]] = field(default_factory=dict)
    commits_of: dict[str, list[str]] = field(default_factory=dict)
    generation: datetime | None = None
    probed: Any = None  # the raw generation the last refresh saw (the probe's own type)
    reloads: int = 0  # how many reloads have happened; 0: never loaded
    cache: OrderedDict[tuple[str, str, str | None], tuple[Entry, ...]] = field(
        default_factory=OrderedDict
    )
    # querybatch's per-query answers, encoded, with the instant until which each holds (the
    # end of the earliest embargo it leaves out; None: until the index changes).
    answers: dict[tuple[str, str, str | None], tuple[orjson.Fragment, datetime | None]] = field(
        default_factory=dict
    )
    # Public OSV documents, encoded once: answers embed them as they are.
    records: OrderedDict[str, orjson.Fragment] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, db: Database) -> None:
        probed = db.probe(_PROBE)
        if probed == self.probed and self.reloads:
            return
        with self.lock:
            if probed == self.probed and self.reloads:
                return
            with db.reading() as session:
                latest = session.scalar(select(func.max(Vulnerability.updated_at)))
                if latest != self.generation or not self.reloads:
                    # Reload from a little before the last generation: a transaction that
                    # stamped its rows earlier but committed after we last looked must not be
                    # missed.
                    since = self.generation - OVERLAP if self.generation is not None else None
                    self._load(session, since)
                    self.generation = latest
                    self.reloads += 1
                    self.cache.clear()
                    self.answers.clear()
                    # The index is long-lived and large (a few objects per affected entry):
                    # move it out of the collector's sight, or each full collection walks it
                    # and stalls every request in flight (measured: /v1/query p99 280 ms ->
                    # 24-49 ms under 64 connections). Collect first, so no pending cyclic
                    # garbage is frozen (and leaked) with it; after the first freeze this walks
                    # only what is newer.
                    gc.collect()
                    gc.freeze()
            # What the probe said before the reload: if a change landed in between, the next
            # probe differs and looks again.
            self.probed = probed

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
                if publishable(status, tlp):
                    self._add(vuln_id, source_id, embargo, record)
            last = rows[-1][0]

    def full_records(self, db: Database, vuln_ids: list[str]) -> dict[str, orjson.Fragment]:
        """The OSV documents of public records, JSON-encoded (`orjson.Fragment`s that
        `orjson.dumps` embeds verbatim), from a bounded cache or the database."""
        missing = [v for v in vuln_ids if v not in self.records]
        if missing:
            reloads = self.reloads
            with db.reading() as session:
                rows = session.execute(
                    select(Vulnerability.id, Vulnerability.record).where(
                        Vulnerability.id.in_(missing), public_clause(utcnow())
                    )
                ).all()
            fetched = {
                vuln_id: orjson.Fragment(orjson.dumps(to_osv(record))) for vuln_id, record in rows
            }
            with self.lock:
                if reloads == self.reloads:
                    self.records.update(fetched)
                    while len(self.records) > RECORD_CACHE_SIZE:
                        self.records.popitem(last=False)
            cached = {v: r for v in vuln_ids if (r := self.records.get(v)) is not None}
            found = cached | fetched
            return {v: found[v] for v in vuln_ids if v in found}
        return {v: r for v in vuln_ids if (r := self.records.get(v)) is not None}

    def _drop(self, vuln_id: str) -> None:
        self.records.pop(vuln_id, None)
        for key in self.keys_of.pop(vuln_id, []):
            self.packages.get(key, {}).pop(vuln_id, None)
        for commit in self.commits_of.pop(vuln_id, []):
            self.commits.get(commit, {}).pop(vuln_id, None)

    def _add(
        self, vuln_id: str, source_id: str, embargo: datetime | None, record: dict[str, Any]
    ) -> None:
        """Index a public record for matching. A withdrawn record is never matched (osv.dev
        leaves them out of queries); it is still served by id and in the modified feed."""
        if record.get("withdrawn"):
            return
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        commits: dict[str, list[dict[str, Any]]] = {}
        for aff in record.get("affected") or []:
            for commit in affected_commits(aff):
                commits.setdefault(commit, []).append(aff)
            pkg = aff.get("package") or {}
            if pkg.get("ecosystem") and pkg.get("name"):
                key = (pkg["ecosystem"], normalise_name(pkg["ecosystem"], pkg["name"]))
                grouped.setdefault(key, []).append(aff)
        for key, affected in grouped.items():
            self.packages.setdefault(key, {})[vuln_id] = Entry(
                vuln_id, source_id, record["modified"], embargo, tuple(affected)
            )
        self.keys_of[vuln_id] = list(grouped)
        for commit, affected in commits.items():
            self.commits.setdefault(commit, {})[vuln_id] = Entry(
                vuln_id, source_id, record["modified"], embargo, tuple(affected)
            )
        self.commits_of[vuln_id] = list(commits)

    def commit_lookup(self, commit: str, now: datetime | None = None) -> list[Entry]:
        """Public records whose GIT ranges name `commit` (lowercase hex) as affected."""
        entries = list(self.commits.get(commit, {}).values())
        return _visible(tuple(sorted(entries, key=lambda e: e.source_id)), now or utcnow())

    def commit_answer(self, commit: str, now: datetime) -> orjson.Fragment:
        """One querybatch result for a commit query (`batch_answer`'s shape)."""
        hits = self.commit_lookup(commit, now)
        return orjson.Fragment(_batch_json(hits))

    def _matches(self, ecosystem: str, name: str, version: str | None) -> tuple[Entry, ...]:
        """The public records affecting the package (at `version`, when given), embargoed
        ones included, by source id."""
        key = (ecosystem, name, version)
        hit = self.cache.get(key)
        if hit is None:
            reloads, keep = self.reloads, cacheable(name, version)
            # list() copies the entries in one step, safe against a reload in another thread.
            entries = list(self.packages.get((ecosystem, name), {}).values())
            hit = tuple(
                sorted(
                    (e for e in entries if version is None or _affects(version, e)),
                    key=lambda e: e.source_id,
                )
            )
            with self.lock:
                if keep and reloads == self.reloads:
                    self.cache[key] = hit
                    if len(self.cache) > CACHE_SIZE:
                        self.cache.popitem(last=False)
        return hit

    def lookup(
        self, ecosystem: str, name: str, version: str | None, now: datetime | None = None
    ) -> list[Entry]:
        """Public records affecting the package (at `version`, when given), by source id."""
        return _visible(self._matches(ecosystem, name, version), now or utcnow())

    def batch_answer(
        self, ecosystem: str, name: str, version: str | None, now: datetime
    ) -> orjson.Fragment:
        """One querybatch result, `{"vulns": [{"id", "modified"}, ...]}` or `{}`, encoded.
        A batch of 1,000 queries for old versions names ~80k records (5 MB of JSON), so each
        answer is encoded once and embedded verbatim in every later batch that asks."""
        key = (ecosystem, name, version)
        cached = self.answers.get(key)
        if cached is not None and (cached[1] is None or now < cached[1]):
            return cached[0]
        reloads, keep = self.reloads, cacheable(name, version)
        matches = self._matches(ecosystem, name, version)
        hits = _visible(matches, now)
        answer = orjson.Fragment(_batch_json(hits))
        # Valid until the earliest embargo it leaves out ends.
        until = min(
            (e.embargo_until for e in matches if e.embargo_until and e.embargo_until > now),
            default=None,
        )
        with self.lock:
            if keep and reloads == self.reloads:
                if len(self.answers) >= CACHE_SIZE:
                    self.answers.clear()
                self.answers[key] = (answer, until)
        return answer


def _batch_json(hits: list[Entry]) -> bytes:
    if not hits:
        return b"{}"
    return orjson.dumps(
        {"vulns": [{"id": osv_id(e.source_id), "modified": e.modified} for e in hits]}
    )


def affected_commits(affected: dict[str, Any]) -> list[str]:
    """The commits a GIT range names as affected: its `introduced` and `last_affected` events
    (a `fixed` or `limit` commit is the first one NOT affected). Without the repository's
    commit graph the commits between them are not known; osv.dev computes those by cloning
    the repository, which this server does not do (docs/osv.md)."""
    out = []
    for range_ in affected.get("ranges") or []:
        if range_.get("type") != "GIT":
            continue
        for event in range_.get("events") or []:
            for kind in ("introduced", "last_affected"):
                commit = event.get(kind)
                if isinstance(commit, str) and commit != "0":
                    out.append(commit.lower())
    return out


def _visible(entries: tuple[Entry, ...], now: datetime) -> list[Entry]:
    """The entries whose embargo, if any, has ended."""
    return [e for e in entries if embargo_over(e.embargo_until, now)]


# Lookups are cached by (ecosystem, name, version), which come from anonymous requests: keys
# longer than any real package name and version are answered but never cached, so a client
# cannot fill memory with huge ones.
CACHEABLE_KEY_CHARS = 400


def cacheable(name: str, version: str | None) -> bool:
    return len(name) + len(version or "") <= CACHEABLE_KEY_CHARS


def _affects(version: str, entry: Entry) -> bool:
    for aff in entry.affected:
        try:
            if ranges.is_affected(version, aff):
                return True
        except InvalidInput:
            continue  # the version does not parse in this ecosystem: not a match
    return False


# One index per Database object (one per process in a server), not per URL: a test that
# recreates a database at the same URL must not see the previous one's records.
_indexes: weakref.WeakKeyDictionary[Database, PublicIndex] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


_PROBE = "SELECT max(updated_at) FROM vulnerabilities"


def current(db: Database) -> PublicIndex | None:
    """This process's index if it is loaded and nothing has changed since (one probe,
    microseconds on SQLite): a query can then be answered without a reload. None otherwise."""
    index = _indexes.get(db)
    if index is not None and index.reloads > 0 and db.probe(_PROBE) == index.probed:
        return index
    return None


def index_for(db: Database) -> PublicIndex:
    """The process's index for this database, brought up to date."""
    index = _indexes.get(db)
    if index is None:
        with _guard:
            index = _indexes.setdefault(db, PublicIndex())
    index.refresh(db)
    return index
