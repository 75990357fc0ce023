"""The knowledge base: importing OSV records idempotently, and the public OSV query service."""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from typing import cast as cast_type

import orjson
from pydantic import ValidationError
from sqlalchemy import String, Table, cast, delete, func, insert, or_, select, true, update
from sqlalchemy import text as text_clause
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, can_see
from clearinghouse.audit import services as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ClearinghouseError, IllegalTransition, InvalidInput, NotFound
from clearinghouse.core.ids import new_id
from clearinghouse.core.memory import collector_paused
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.core.schemas import check_storable, unstorable_text
from clearinghouse.storage import jobs
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault
from clearinghouse.vulns import formats, public_index, scoring
from clearinghouse.vulns.formats import PURL_ECOSYSTEMS, FormatError
from clearinghouse.vulns.intake import read_records
from clearinghouse.vulns.models import (
    AffectedPackage,
    CweEntry,
    IdCounter,
    KevEntry,
    Vulnerability,
    VulnerabilityAlias,
    VulnerabilityReport,
)
from clearinghouse.vulns.osv import Record, canonical, deeper_than
from clearinghouse.vulns.purls import PurlInvalid, parse_purl
from clearinghouse.vulns.schemas import (
    TRIAGE_MOVES,
    CweOut,
    KevOut,
    OsvPackage,
    OsvQuery,
    ReportCreate,
    ReportOut,
    SeverityOut,
    Tlp,
    VulnOut,
    VulnPage,
    VulnStatus,
    VulnSummaryOut,
    VulnTriage,
)

PAGE_SIZE = 1000
BATCH_MAX = 1000


def known_id(kind: str, value: str) -> str:
    """`value` as an id to look up, or NotFound when it holds what no stored id can (NUL, lone
    surrogates, as non-UTF-8 bytes in argv become): the database driver would fail on it."""
    if unstorable_text(value) is not None:
        raise NotFound(f"no {kind} with that id")
    return value


def filter_text(name: str, value: str | None) -> str | None:
    """A text filter, refused (`filter_invalid`) when no database could compare it."""
    if value is not None and (reason := unstorable_text(value)) is not None:
        raise InvalidInput(f"{name}: {reason}", code="filter_invalid")
    return value


def normalise_name(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":  # PEP 503: case and runs of -_. do not distinguish PyPI projects
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) if value else None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


def _next_ids(session: Session, year: int, n: int) -> list[str]:
    counter = session.get(IdCounter, year, with_for_update=True)
    if counter is None:
        counter = IdCounter(year=year, last=0)
        session.add(counter)
    first = counter.last + 1
    counter.last += n
    return [f"CH-{year}-{k:05d}" for k in range(first, first + n)]


def _next_id(session: Session, year: int) -> str:
    return _next_ids(session, year, 1)[0]


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


def _index(session: Session, vuln: Vulnerability) -> None:
    """Rebuild the record's alias and package lookup rows from its stored document."""
    session.execute(delete(VulnerabilityAlias).where(VulnerabilityAlias.vuln_id == vuln.id))
    session.execute(delete(AffectedPackage).where(AffectedPackage.vuln_id == vuln.id))
    aliases, packages = _index_rows(vuln.id, vuln.record)
    session.execute(insert(VulnerabilityAlias), aliases)
    if packages:
        session.execute(insert(AffectedPackage), packages)


TLP_LABELS = {"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
# CSAF 2.0 carries TLP 1.0 labels; WHITE became CLEAR in TLP 2.0.
_TLP1 = {"WHITE": "CLEAR"}


_CWE_ID = re.compile(r"CWE-[1-9]\d*")


def cwe_ids_of(doc: dict[str, Any]) -> list[str]:
    """CWE ids a record names (`database_specific.cwe_ids`, as GHSA and our converters write)."""
    raw = (doc.get("database_specific") or {}).get("cwe_ids")
    if not raw:
        return []
    return sorted({c for c in raw if isinstance(c, str) and _CWE_ID.fullmatch(c)})


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
    modified = _ts(doc["modified"])
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
            id=_next_id(session, (_ts(doc.get("published")) or modified).year),
            source_id=doc["id"],
            status="published",
            tlp=_tlp_of(doc),
            created_at=now,
            origin=origin,
        )
        session.add(vuln)
    vuln.record, vuln.summary, vuln.details = doc, doc.get("summary", ""), doc.get("details", "")
    vuln.published, vuln.modified, vuln.withdrawn = (
        _ts(doc.get("published")),
        modified,
        _ts(doc.get("withdrawn")),
    )
    vuln.updated_at = now
    vuln.cwe_ids = cwe_ids_of(doc)
    vuln.affected_signature = affected_signature(doc)
    session.flush()
    _index(session, vuln)
    return "updated" if existing is not None else "created"


def _tlp_of(doc: dict[str, Any]) -> str:
    label = str((doc.get("database_specific") or {}).get("tlp") or "CLEAR").upper()
    label = _TLP1.get(label, label)
    return label if label in TLP_LABELS else "RED"


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
        id(d): (_ts(d["modified"]), _ts(d.get("published")), _ts(d.get("withdrawn"))) for d in docs
    }
    years: dict[int, int] = {}
    for doc in {d["id"]: d for d in docs if d["id"] not in existing}.values():
        modified, published, _ = stamps[id(doc)]
        year = (published or modified or now).year
        years[year] = years.get(year, 0) + 1
    fresh = {year: iter(_next_ids(session, year, n)) for year, n in years.items()}
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
                "status": "published",
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


FORMATS = ("osv", "kev", "csaf", "cve5")
IMPORT_BATCH = 500


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    if isinstance(exc, ClearinghouseError):
        return exc.detail
    if isinstance(exc, SQLAlchemyError):  # the statement would leak data; the kind is enough
        return (
            f"the database refused the record ({type(getattr(exc, 'orig', None) or exc).__name__})"
        )
    return str(exc)


def _records(item: Any, fmt: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, OSV-shaped record) pairs of one parsed document, validated for its format."""
    if fmt == "osv":
        yield item.source, item.data
        return
    if not isinstance(item.data, dict):
        raise FormatError("the document must be a JSON object")
    if fmt == "csaf":
        formats.validate_csaf(item.data)
        for n, rec in enumerate(formats.csaf_records(item.data)):
            yield f"{item.source}#vulnerabilities[{n}]", rec
    elif fmt == "cve5":
        formats.validate_cve5(item.data)
        yield item.source, formats.cve5_record(item.data)


def _canonical_records(path: Path, fmt: str) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
    """(source, canonical OSV document, "") for each valid record of a file, and (source,
    None, reason) for each refused one: the parsing and validation half of an import."""
    for item in read_records(path):
        if item.error is not None:
            yield item.source, None, item.error
            continue
        try:
            pairs = list(_records(item, fmt))
        except (FormatError, ValidationError, ClearinghouseError) as exc:
            yield item.source, None, _reason(exc)
            continue
        for source, data in pairs:
            try:
                yield source, canonical(data), ""
            except (ValidationError, ClearinghouseError) as exc:
                yield source, None, _reason(exc)


def _audit_import(
    session: Session, p: Principal, path: Path, fmt: str, outcomes: list[str]
) -> None:
    """The audit event of one import transaction: who imported how many records from what."""
    audit.record(
        session,
        "vulns:records:import",
        actor=p.actor,
        subject_type="import",
        subject_id=None,
        data={
            "file": path.name[:200],
            "format": fmt,
            **{k: outcomes.count(k) for k in ("created", "updated", "unchanged")},
        },
    )


def import_file(
    db: Database,
    p: Principal,
    path: Path,
    on_record: Callable[[ImportResult], None] | None = None,
    *,
    fmt: str = "osv",
) -> ImportResult:
    """Import every record of a file, IMPORT_BATCH records per transaction (one per record if
    the database refuses a batch), each with its audit event. A malformed record (or, for
    CSAF and CVE 5, a document that fails its format's validation) is reported with its reason
    and skipped; it never leaves anything behind. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", code="format_unsupported"
        )
    if fmt == "kev":
        return import_kev(db, p, path, on_record)
    result = ImportResult()
    pending: list[tuple[str, dict[str, Any]]] = []

    def count(outcome: str) -> None:
        setattr(result, outcome, getattr(result, outcome) + 1)

    def store() -> None:
        """One transaction for the batch. Should the database refuse it (a constraint we did
        not foresee), fall back to one transaction per record, so only the bad one is lost."""
        try:
            with db.transaction() as session:
                outcomes = upsert_batch(session, [d for _, d in pending], origin=fmt)
                _audit_import(session, p, path, fmt, outcomes)
        except SQLAlchemyError:
            outcomes = []
            for source, doc in pending:
                try:
                    with db.transaction() as session:
                        outcome = upsert(session, doc, origin=fmt)
                        _audit_import(session, p, path, fmt, [outcome])
                    outcomes.append(outcome)
                except (SQLAlchemyError, ClearinghouseError) as exc:
                    result.rejected.append({"source": source, "reason": _reason(exc)})
        for outcome in outcomes:
            count(outcome)
        pending.clear()
        if on_record is not None:
            on_record(result)

    # The collector would walk every live object again and again as batches are built and
    # dropped (a fifth of an import's time); what an import allocates is freed by reference
    # counting, and it makes no cycles that matter.
    with collector_paused():
        for source, doc, reason in _canonical_records(path, fmt):
            if doc is None:
                result.rejected.append({"source": source, "reason": reason})
                continue
            pending.append((source, doc))
            if len(pending) >= IMPORT_BATCH:
                store()
        if pending:
            store()
    return result


def import_kev(
    db: Database,
    p: Principal,
    path: Path,
    on_record: Callable[[ImportResult], None] | None = None,
) -> ImportResult:
    """Import CISA's KEV catalog (its JSON feed). Entries are keyed by CVE; an entry whose
    content is unchanged is counted as such. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    result = ImportResult()
    for item in read_records(path):
        if item.error is not None:
            result.rejected.append({"source": item.source, "reason": item.error})
            continue
        entries = item.data.get("vulnerabilities") if isinstance(item.data, dict) else None
        if not isinstance(entries, list):
            result.rejected.append(
                {"source": item.source, "reason": "not a KEV catalog: no vulnerabilities list"}
            )
            continue
        for n, raw in enumerate(entries):
            source = f"{item.source}#vulnerabilities[{n}]"
            try:
                entry = formats.kev_entry(raw)
                with db.transaction() as session:
                    existing = session.get(KevEntry, entry["cve_id"], with_for_update=True)
                    if existing is None:
                        session.add(KevEntry(**entry))
                        outcome = "created"
                    elif existing.digest == entry["digest"]:
                        outcome = "unchanged"
                    else:
                        for key, value in entry.items():
                            setattr(existing, key, value)
                        outcome = "updated"
                    if outcome != "unchanged":
                        audit.record(
                            session,
                            f"vulns:kev:{'create' if outcome == 'created' else 'update'}",
                            actor=p.actor,
                            subject_type="kev_entry",
                            subject_id=entry["cve_id"],
                            data={"file": path.name[:200]},
                        )
            except (FormatError, ClearinghouseError) as exc:
                result.rejected.append({"source": source, "reason": _reason(exc)})
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
            if on_record is not None:
                on_record(result)
    return result


def import_cwe(db: Database, p: Principal, path: Path) -> ImportResult:
    """Load MITRE's CWE list (the CSV that cwe.mitre.org publishes) into `cwe_entries`, in one
    transaction with its audit event. Coordinators only (`vuln:import`)."""
    authorize(p, Action.vuln_import)
    result = ImportResult()
    with path.open(encoding="utf-8", newline="") as fh, db.transaction() as session:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "CWE-ID" not in reader.fieldnames:
            raise InvalidInput(f"{path.name} is not a CWE CSV (no CWE-ID column)", code="cwe_csv")
        existing = {c.id: c for c in session.scalars(select(CweEntry))}
        for n, row in enumerate(reader, 2):
            try:
                cwe_id = int(row["CWE-ID"])
            except (TypeError, ValueError):
                result.rejected.append({"source": f"{path.name}:{n}", "reason": "bad CWE-ID"})
                continue
            values = {
                "name": row.get("Name", "")[:400],
                "abstraction": row.get("Weakness Abstraction", "")[:20],
                "status": row.get("Status", "")[:20],
            }
            entry = existing.get(cwe_id)
            if entry is None:
                session.add(CweEntry(id=cwe_id, **values))
                result.created += 1
            elif {k: getattr(entry, k) for k in values} == values:
                result.unchanged += 1
            else:
                for k, v in values.items():
                    setattr(entry, k, v)
                result.updated += 1
        audit.record(
            session,
            "vulns:cwe:import",
            actor=p.actor,
            subject_type="import",
            subject_id=None,
            data={"file": path.name[:200], **result.as_dict(), "rejected": len(result.rejected)},
        )
    return result


# --- the public OSV API ------------------------------------------------------------------------


def _public(now: datetime) -> Any:
    return (
        (Vulnerability.status == "published")
        & (Vulnerability.tlp == "CLEAR")
        & or_(Vulnerability.embargo_until.is_(None), Vulnerability.embargo_until <= now)
    )


class QueryError(InvalidInput):
    """A malformed OSV query (HTTP 400, as osv.dev answers)."""

    status = 400
    default_code = "query_invalid"


def resolve_query(query: dict[str, Any]) -> tuple[str, str, str | None]:
    """(ecosystem, normalised name, version) from an OSV query; osv.dev's validation rules.

    The common shape, `{"package": {"ecosystem", "name"}, "version"}`, is resolved once per
    distinct query and remembered: a scanner's batches repeat the same packages, and checking
    and normalising a thousand queries was a fifth of a batch's cost."""
    package, version = query.get("package"), query.get("version")
    if (
        len(query) <= 2
        and all(k in _PLAIN_KEYS for k in query)
        and type(package) is dict
        and len(package) == 2
        and type(ecosystem := package.get("ecosystem")) is str
        and type(name := package.get("name")) is str
        and (version is None or type(version) is str)
        and public_index.cacheable(name, version)
    ):
        return _resolve_plain(ecosystem, name, version)
    return _resolve(query)


_PLAIN_KEYS = ("package", "version")


@functools.lru_cache(maxsize=100_000)
def _resolve_plain(ecosystem: str, name: str, version: str | None) -> tuple[str, str, str | None]:
    return _resolve({"package": {"ecosystem": ecosystem, "name": name}, "version": version})


# Deeper than any query (`{"queries": [{"package": {...}}]}` is four levels), shallow enough
# that nothing walking a query recurses far: a thousand levels was a RecursionError.
QUERY_MAX_DEPTH = 8


def _resolve(query: dict[str, Any]) -> tuple[str, str, str | None]:
    if deeper_than(query, QUERY_MAX_DEPTH):
        raise QueryError("the query nests too deeply")
    try:
        parsed = OsvQuery.model_validate(query)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "query"
        raise QueryError(f"{where}: {first.get('msg')}") from None
    package = parsed.package or OsvPackage()
    version = parsed.version
    try:
        check_storable([package.name, package.ecosystem, package.purl, version, parsed.page_token])
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if package.purl:
        ecosystem, name, purl_version = _purl_package(package.purl)
        if purl_version and version:
            raise QueryError("version specified in params and PURL query")
        return ecosystem, name, version or purl_version
    if parsed.commit:
        raise QueryError("commit queries are not supported by this server")
    if not package.ecosystem or not package.name:
        raise QueryError("package needs a name and an ecosystem (or a purl)")
    return package.ecosystem, normalise_name(package.ecosystem, package.name), version


@functools.lru_cache(maxsize=20_000)
def _purl_package(text: str) -> tuple[str, str, str | None]:
    """(ecosystem, normalised name, version) of a query's purl, checked once per distinct
    purl (scanners repeat them; the check is most of a purl query's cost). Purls are at most
    500 characters (`purls.MAX_LENGTH`), so the cache stays small; refusals are not cached."""
    try:
        purl = parse_purl(text)
    except PurlInvalid as exc:
        raise QueryError(exc.detail) from None
    pkg = formats.package_of(purl)
    if pkg is None:
        raise QueryError(f"unsupported purl type {purl.type!r}")
    ecosystem, name, version = pkg
    return ecosystem, normalise_name(ecosystem, name), version


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _offset(token: Any) -> int:
    if not token:
        return 0
    if not isinstance(token, str):  # resolve_query has refused it already; never trust that
        raise QueryError("page_token: Input should be a valid string")
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except ValueError as exc:
        raise QueryError("invalid page_token") from exc


def query(
    db: Database, body: dict[str, Any], index: public_index.PublicIndex | None = None
) -> dict[str, Any]:
    """`POST /v1/query`. Answered from the public index (`index`, when the caller has just
    found it current): the database is asked only whether anything changed, and for records
    not yet cached."""
    ecosystem, name, version = resolve_query(body)
    index = index or public_index.index_for(db)
    hits = index.lookup(ecosystem, name, version)
    start = _offset(body.get("page_token"))
    page = hits[start : start + PAGE_SIZE]
    records = index.full_records(db, [e.vuln_id for e in page])
    out: dict[str, Any] = (
        {"vulns": [records[e.vuln_id] for e in page if e.vuln_id in records]} if page else {}
    )
    if start + PAGE_SIZE < len(hits):
        out["next_page_token"] = _token(start + PAGE_SIZE)
    return out


def querybatch(
    db: Database, body: dict[str, Any], index: public_index.PublicIndex | None = None
) -> dict[str, Any]:
    """`POST /v1/querybatch`, from the public index like `query`. The results are encoded
    (`orjson.Fragment`s)."""
    queries = body.get("queries")
    if not isinstance(queries, list):
        raise QueryError("queries must be a list")
    if len(queries) > BATCH_MAX:
        raise QueryError(f"at most {BATCH_MAX} queries per batch")
    index = index or public_index.index_for(db)
    now = utcnow()
    results = []
    for q in queries:
        if not isinstance(q, dict):
            raise QueryError("each query must be an object")
        results.append(index.batch_answer(*resolve_query(q), now))
    return {"results": results}


def get_public(session: Session, vuln_id: str) -> dict[str, Any] | None:
    if unstorable_text(vuln_id) is not None:
        return None
    vuln = session.scalar(
        select(Vulnerability)
        .join(VulnerabilityAlias, VulnerabilityAlias.vuln_id == Vulnerability.id)
        .where(VulnerabilityAlias.alias == vuln_id, _public(utcnow()))
        .limit(1)
    )
    return vuln.record if vuln is not None else None


def modified_since(session: Session, since: datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Vulnerability)
        .where(Vulnerability.modified > since, _public(utcnow()))
        .order_by(Vulnerability.modified, Vulnerability.id)
        .limit(limit)
    )
    return [{"id": v.source_id, "modified": v.record["modified"]} for v in rows]


# --- the authenticated knowledge base: reports, listing, search, triage ----------------------


def _is_public(vuln: Vulnerability, now: datetime) -> bool:
    return (
        vuln.status == "published"
        and vuln.tlp == "CLEAR"
        and (vuln.embargo_until is None or vuln.embargo_until <= now)
    )


def _reporters(session: Session, vuln_ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = session.execute(
        select(VulnerabilityReport.vuln_id, VulnerabilityReport.reporter_org_id).where(
            VulnerabilityReport.vuln_id.in_(vuln_ids)
        )
    )
    for vuln_id, org_id in rows:
        if org_id:
            out.setdefault(vuln_id, set()).add(org_id)
    return out


def _targets(session: Session, vulns: list[Vulnerability]) -> dict[str, Target]:
    """The policy's view of each record (one query for the reporters of all of them)."""
    reporters = _reporters(session, [v.id for v in vulns])
    now = utcnow()
    return {
        v.id: Target(
            "vuln",
            v.id,
            public=_is_public(v, now),
            reporter_org_ids=frozenset(reporters.get(v.id, set())),
        )
        for v in vulns
    }


def _target(session: Session, vuln: Vulnerability) -> Target:
    return _targets(session, [vuln])[vuln.id]


def _visible_duplicate_of(
    session: Session, p: Principal, vulns: list[Vulnerability]
) -> dict[str, str]:
    """record id → the id of the record it was merged into, only where the caller may see
    that record: an id of another organisation's embargoed record must not reach a reporter
    whose own report was merged into it."""
    primary_ids = {v.duplicate_of for v in vulns if v.duplicate_of}
    if not primary_ids:
        return {}
    primaries = session.scalars(
        select(Vulnerability).where(Vulnerability.id.in_(sorted(primary_ids)))
    ).all()
    visible = {vid for vid, t in _targets(session, list(primaries)).items() if can_see(p, t)}
    return {v.id: v.duplicate_of for v in vulns if v.duplicate_of in visible}


def load_vuln(
    session: Session, p: Principal, vuln_id: str, action: Action, *, for_update: bool = False
) -> Vulnerability:
    """A record by our id, its source id or any alias; NotFound if the caller may not see it."""
    known_id("vulnerability", vuln_id)
    query = (
        select(Vulnerability)
        .join(VulnerabilityAlias, VulnerabilityAlias.vuln_id == Vulnerability.id)
        .where(VulnerabilityAlias.alias == vuln_id)
        # After a merge an id may also be an alias of the primary: the record itself wins.
        .order_by(Vulnerability.id != vuln_id, Vulnerability.source_id != vuln_id, Vulnerability.id)
        .limit(1)
    )
    if for_update:
        query = query.with_for_update(of=Vulnerability)
    vuln = session.scalar(query)
    if vuln is None:
        raise NotFound(f"no vulnerability with id {vuln_id!r}")
    authorize(p, action, _target(session, vuln))
    return vuln


def _visible_clause(p: Principal) -> Any:
    if p.is_system or p.is_kind(OrgKind.coordinator):
        return true()
    reported = select(VulnerabilityReport.vuln_id).where(
        VulnerabilityReport.reporter_org_id == p.org_id
    )
    return or_(_public(utcnow()), Vulnerability.id.in_(reported))


def _kev_flags(session: Session, vuln_ids: list[str]) -> dict[str, list[KevEntry]]:
    rows = session.execute(
        select(VulnerabilityAlias.vuln_id, KevEntry)
        .join(KevEntry, KevEntry.cve_id == VulnerabilityAlias.alias)
        .where(VulnerabilityAlias.vuln_id.in_(vuln_ids))
    )
    out: dict[str, list[KevEntry]] = {}
    for vuln_id, entry in rows:
        out.setdefault(vuln_id, []).append(entry)
    return out


def _summary(vuln: Vulnerability, kev: bool, duplicate_of: str | None) -> VulnSummaryOut:
    """The summary of a record; `duplicate_of` as the caller may see it
    (`_visible_duplicate_of`), never the column as it is."""
    doc = vuln.record
    return VulnSummaryOut(
        id=vuln.id,
        source_id=vuln.source_id,
        summary=vuln.summary,
        status=VulnStatus(vuln.status),
        tlp=Tlp(vuln.tlp),
        origin=vuln.origin,
        aliases=sorted({*doc.get("aliases", []), vuln.source_id} - {vuln.id}),
        ecosystems=sorted(
            {a["package"]["ecosystem"] for a in doc.get("affected", []) if a.get("package")}
        ),
        cwe_ids=vuln.cwe_ids,
        kev=kev,
        embargo_until=vuln.embargo_until,
        published=vuln.published,
        modified=vuln.modified,
        duplicate_of=duplicate_of,
    )


def _search_clause(session: Session, text: str) -> Any:
    words = re.findall(r"\w+", text)[:20]
    if not words:
        raise InvalidInput("the search needs at least one word", code="search_empty")
    if session.get_bind().dialect.name == "sqlite":
        match = " ".join('"' + w.replace('"', "") + '"' for w in words)
        ids = text_clause(
            "SELECT vuln_id FROM vulnerabilities_fts WHERE vulnerabilities_fts MATCH :m"
        )
        return Vulnerability.id.in_(ids.bindparams(m=match).columns(vuln_id=String))
    vector = func.to_tsvector("english", Vulnerability.summary + " " + Vulnerability.details)
    return vector.op("@@")(func.plainto_tsquery("english", " ".join(words)))


def list_vulns(
    session: Session,
    p: Principal,
    *,
    q: str | None = None,
    status: VulnStatus | None = None,
    ecosystem: str | None = None,
    package: str | None = None,
    cwe: str | None = None,
    kev: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> VulnPage:
    """Records the caller may see, filtered and searched, a page at a time (by id)."""
    for name, value in (("q", q), ("ecosystem", ecosystem), ("package", package), ("cwe", cwe)):
        filter_text(name, value)
    query = select(Vulnerability).where(_visible_clause(p))
    if q:
        query = query.where(_search_clause(session, q))
    if status is not None:
        query = query.where(Vulnerability.status == status.value)
    if ecosystem or package:
        pkg = select(AffectedPackage.vuln_id)
        if ecosystem:
            pkg = pkg.where(AffectedPackage.ecosystem == ecosystem)
        if package:
            pkg = pkg.where(AffectedPackage.name == normalise_name(ecosystem or "", package))
        query = query.where(Vulnerability.id.in_(pkg))
    if cwe:
        query = query.where(_cwe_clause(cwe))
    if kev is not None:
        flagged = select(VulnerabilityAlias.vuln_id).join(
            KevEntry, KevEntry.cve_id == VulnerabilityAlias.alias
        )
        query = query.where(
            Vulnerability.id.in_(flagged) if kev else Vulnerability.id.not_in(flagged)
        )
    rows, next_cursor = paginate(session, query, Vulnerability.id, limit=limit, cursor=cursor)
    flags = _kev_flags(session, [v.id for v in rows])
    links = _visible_duplicate_of(session, p, list(rows))
    return VulnPage(
        items=[_summary(v, v.id in flags, links.get(v.id)) for v in rows], next_cursor=next_cursor
    )


def _cwe_clause(cwe: str) -> Any:
    if not re.fullmatch(r"CWE-[1-9]\d*", cwe):
        raise InvalidInput("cwe must look like CWE-79", code="cwe_invalid")
    # JSON arrays are stored as text on SQLite and jsonb on PostgreSQL; match the element.
    return func.coalesce(cast(Vulnerability.cwe_ids, String), "").like(f'%"{cwe}"%')


def vuln_detail(session: Session, p: Principal, vuln_id: str) -> VulnOut:
    vuln = load_vuln(session, p, vuln_id, Action.vuln_read)
    kev = _kev_flags(session, [vuln.id]).get(vuln.id, [])
    names = {
        f"CWE-{c.id}": c.name
        for c in session.scalars(
            select(CweEntry).where(CweEntry.id.in_([int(c[4:]) for c in vuln.cwe_ids]))
        )
    }
    severity = []
    for s in vuln.record.get("severity", []):
        try:
            scored = scoring.score(s["score"])
            severity.append(
                SeverityOut(
                    type=s["type"],
                    vector=s["score"],
                    base_score=scored.base_score,
                    severity=scored.severity,
                )
            )
        except InvalidInput:
            severity.append(
                SeverityOut(type=s["type"], vector=s["score"], base_score=None, severity=None)
            )
    reports = session.scalars(
        select(VulnerabilityReport.id).where(VulnerabilityReport.vuln_id == vuln.id)
    ).all()
    summary = _summary(vuln, bool(kev), _visible_duplicate_of(session, p, [vuln]).get(vuln.id))
    return VulnOut(
        **summary.model_dump(),
        details=vuln.details,
        record=vuln.record,
        severity=severity,
        cwes=[CweOut(id=c, name=names.get(c)) for c in vuln.cwe_ids],
        kev_entries=[KevOut.model_validate(k, from_attributes=True) for k in kev],
        reports=list(reports),
        crash_signature=vuln.crash_signature,
    )


def _touch(vuln: Vulnerability, now: datetime) -> None:
    """Record a change: `modified` moves forward in the row and in the OSV document."""
    vuln.modified = max(now, vuln.modified)
    vuln.updated_at = now
    vuln.record = {**vuln.record, "modified": vuln.modified.strftime("%Y-%m-%dT%H:%M:%SZ")}


def triage(session: Session, p: Principal, vuln_id: str, change: VulnTriage) -> VulnOut:
    """A coordinator moves a record through triage, sets its TLP, embargo or crash signature."""
    vuln = load_vuln(session, p, vuln_id, Action.vuln_triage, for_update=True)
    now = utcnow()
    before = {"status": vuln.status, "tlp": vuln.tlp, "embargo_until": vuln.embargo_until}
    if change.status is not None and change.status.value != vuln.status:
        allowed = TRIAGE_MOVES[VulnStatus(vuln.status)]
        if change.status not in allowed:
            raise IllegalTransition(
                f"a {vuln.status} record cannot become {change.status.value}"
                + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
            )
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
    _touch(vuln, now)
    session.flush()
    audit.record(
        session,
        "vulns:vuln:triage",
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


def _report_out(r: VulnerabilityReport, status: str) -> ReportOut:
    return ReportOut(
        id=r.id,
        vuln_id=r.vuln_id,
        status=VulnStatus(status),
        reporter_org_id=r.reporter_org_id,
        provenance=r.provenance,
        model_name=r.model_name,
        model_version=r.model_version,
        eval_run_id=r.eval_run_id,
        target_purl=r.target_purl,
        target_repo=r.target_repo,
        target_commit=r.target_commit,
        claimed_cwe=r.claimed_cwe,
        claimed_cvss=r.claimed_cvss,
        poc_filename=r.poc_filename,
        poc_sha256=r.poc_sha256,
        created_at=r.created_at,
    )


def _report_record(vuln_id: str, data: ReportCreate, now: datetime) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    affected = []
    pkg = None
    if data.target.purl:
        purl = parse_purl(data.target.purl)  # PurlInvalid: code purl_invalid
        pkg = formats.package_of(purl)
        generic = purl.type == "generic"
        if pkg is None and not generic:
            raise InvalidInput(
                f"target purl {data.target.purl!r} is not a purl of a known ecosystem "
                f"({', '.join(sorted(PURL_ECOSYSTEMS))})",
                code="target_invalid",
            )
    if pkg is not None:
        ecosystem, name, version = pkg
        entry: dict[str, Any] = {
            "package": {
                "ecosystem": ecosystem,
                "name": name,
                "purl": formats.purl_for(ecosystem, name),
            }
        }
        if version:
            entry["versions"] = [version]
        affected.append(entry)
    severity = []
    if data.claimed_cvss:
        scored = scoring.score(data.claimed_cvss)
        severity.append(
            {"type": "CVSS_V4" if scored.version == "4.0" else "CVSS_V3", "score": scored.vector}
        )
    record: dict[str, Any] = {
        "schema_version": "1.7.0",
        "id": vuln_id,
        "modified": stamp,
        "summary": data.title,
        "details": data.description,
        "affected": affected,
        "severity": severity,
        "references": (
            [{"type": "PACKAGE", "url": data.target.repository_url}]
            if data.target.repository_url
            else []
        ),
        "database_specific": {
            "cwe_ids": [data.claimed_cwe] if data.claimed_cwe else [],
            "target": data.target.model_dump(exclude_none=True),
        },
    }
    return {k: v for k, v in record.items() if v != []}


def submit_report(
    session: Session,
    p: Principal,
    vault: Vault,
    data: ReportCreate,
    *,
    eval_report_id: str | None = None,
    transcript_excerpt: str | None = None,
) -> ReportOut:
    """Take in a vulnerability report: the claim becomes a record in status `new` (the triage
    queue), under embargo and TLP:AMBER+STRICT unless the reporter asks for less."""
    authorize(p, Action.vuln_report_create)
    cwe_list_loaded = session.scalar(select(CweEntry.id).limit(1)) is not None
    if data.claimed_cwe and cwe_list_loaded:
        if session.get(CweEntry, int(data.claimed_cwe[4:])) is None:
            raise InvalidInput(f"{data.claimed_cwe} is not in the CWE list", code="cwe_unknown")
    if data.provenance.eval_run_id:
        from clearinghouse.evals.models import EvalRun

        run = session.get(EvalRun, data.provenance.eval_run_id)
        if run is None or (p.org_id is not None and run.evaluator_org_id != p.org_id):
            raise InvalidInput("eval_run_id is not a run of your organisation", code="run_unknown")
    try:
        poc = base64.b64decode(data.poc.content_base64, validate=True) if data.poc else None
    except ValueError:
        raise InvalidInput("poc.content_base64 is not base64", code="poc_invalid") from None
    now = utcnow()
    vuln = Vulnerability(id=_next_id(session, now.year), status="new", created_at=now)
    vuln.source_id = vuln.id
    doc = _report_record(vuln.id, data, now)
    Record.model_validate(doc)  # our own converter's output: a failure here is a bug
    vuln.record, vuln.summary, vuln.details = doc, data.title, data.description
    vuln.tlp = data.tlp.value
    vuln.embargo_until = now + timedelta(days=data.embargo_days) if data.embargo_days else None
    vuln.modified = vuln.updated_at = now
    vuln.origin = "report"
    vuln.cwe_ids = cwe_ids_of(doc)
    vuln.affected_signature = affected_signature(doc)
    session.add(vuln)
    session.flush()
    _index(session, vuln)
    report = VulnerabilityReport(
        id=new_id("vrp"),
        vuln_id=vuln.id,
        reporter_org_id=p.org_id,
        reporter_user_id=p.user_id,
        provenance=data.provenance.kind,
        model_name=data.provenance.model_name,
        model_version=data.provenance.model_version,
        eval_run_id=data.provenance.eval_run_id,
        eval_report_id=eval_report_id,
        target_purl=data.target.purl,
        target_repo=data.target.repository_url,
        target_commit=data.target.commit,
        claimed_cwe=data.claimed_cwe,
        claimed_cvss=data.claimed_cvss,
        transcript_excerpt=transcript_excerpt,
        created_at=now,
    )
    if poc is not None and data.poc is not None:
        report.poc_sealed_id = vault.seal(session, poc, purpose="vuln-report:poc").id
        report.poc_filename = data.poc.filename
        report.poc_sha256 = hashlib.sha256(poc).hexdigest()
    session.add(report)
    session.flush()
    jobs.enqueue(session, "vulns.scan_duplicates", {"vuln_ids": [vuln.id]})
    audit.record(
        session,
        "vulns:report:create",
        actor=p.actor,
        subject_type="vuln_report",
        subject_id=report.id,
        data={"vuln_id": vuln.id, "provenance": report.provenance, "tlp": vuln.tlp},
    )
    return _report_out(report, vuln.status)


def list_reports(
    session: Session,
    p: Principal,
    *,
    status: VulnStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ReportOut]:
    """The triage queue (coordinators: every report; others: their organisation's)."""
    query = select(VulnerabilityReport)
    if not (p.is_system or p.is_kind(OrgKind.coordinator)):
        query = query.where(VulnerabilityReport.reporter_org_id == p.org_id)
    if status is not None:
        query = query.where(
            VulnerabilityReport.vuln_id.in_(
                select(Vulnerability.id).where(Vulnerability.status == status.value)
            )
        )
    rows, next_cursor = paginate(session, query, VulnerabilityReport.id, limit=limit, cursor=cursor)
    statuses: dict[str, str] = dict(
        session.execute(
            select(Vulnerability.id, Vulnerability.status).where(
                Vulnerability.id.in_([r.vuln_id for r in rows])
            )
        ).all()
    )
    return Page(items=[_report_out(r, statuses[r.vuln_id]) for r in rows], next_cursor=next_cursor)


def get_report(session: Session, p: Principal, report_id: str) -> ReportOut:
    report = session.get(VulnerabilityReport, known_id("vuln_report", report_id))
    if report is None:
        raise NotFound(f"no vuln_report with id {report_id!r}")
    authorize(
        p,
        Action.vuln_report_read,
        Target(
            "vuln_report",
            report.id,
            reporter_org_ids=frozenset({report.reporter_org_id} - {None}),  # type: ignore[arg-type]
        ),
    )
    vuln = session.get(Vulnerability, report.vuln_id)
    assert vuln is not None
    return _report_out(report, vuln.status)


def cwe_names(session: Session, cwe_ids: list[str]) -> dict[str, str]:
    numbers = [int(c[4:]) for c in cwe_ids if re.fullmatch(r"CWE-[1-9]\d*", c)]
    return {
        f"CWE-{c.id}": c.name
        for c in session.scalars(select(CweEntry).where(CweEntry.id.in_(numbers)))
    }


def export_vuln(session: Session, p: Principal, vuln_id: str, fmt: str) -> dict[str, Any]:
    """One record as a document of `fmt` (osv, csaf, csaf-vex, cve5, stix); the id may be ours
    or any alias. Exporting a non-public record is allowed to whoever may read it, and the
    document carries its TLP label (CSAF, STIX)."""
    from clearinghouse.vulns import export

    if fmt not in export.EXPORT_FORMATS:
        raise InvalidInput(
            f"unknown export format {fmt!r}; one of {', '.join(export.EXPORT_FORMATS)}",
            code="format_unsupported",
        )
    vuln = load_vuln(session, p, vuln_id, Action.vuln_read)
    record = vuln.record
    audit.record(
        session,
        "vulns:vuln:export",
        actor=p.actor,
        subject_type="vuln",
        subject_id=vuln.id,
        data={"format": fmt, "public": _is_public(vuln, utcnow())},
    )
    if fmt == "osv":
        return export.to_osv(record)
    if fmt in ("csaf", "csaf-vex"):
        return export.to_csaf(
            record,
            tlp=vuln.tlp,
            vex=fmt == "csaf-vex",
            cwe_names=cwe_names(session, vuln.cwe_ids),
        )
    if fmt == "cve5":
        return export.to_cve5(record, cwe_names=cwe_names(session, vuln.cwe_ids))
    return export.to_stix(record, tlp=vuln.tlp)


def public_records(db: Database, p: Principal, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Every record the public may see, in id order, read in batches (for dumps, in osv.dev's
    layout: public records only, whoever asks). The caller is authorised before the first
    record is read (not lazily, at the first iteration)."""
    authorize(p, Action.vuln_read, Target("vuln", None, public=True))
    return _public_records(db, batch)


def _public_records(db: Database, batch: int) -> Iterator[dict[str, Any]]:
    last = ""
    while True:
        with db.transaction() as session:
            rows = session.scalars(
                select(Vulnerability)
                .where(Vulnerability.id > last, _public(utcnow()))
                .order_by(Vulnerability.id)
                .limit(batch)
            ).all()
            docs = [(v.id, v.record) for v in rows]
        if not docs:
            return
        for _, doc in docs:
            yield doc
        last = docs[-1][0]
