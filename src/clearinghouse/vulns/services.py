"""The knowledge base: importing OSV records idempotently, and the public OSV query service."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from pydantic import ValidationError
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ClearinghouseError, InvalidInput
from clearinghouse.core.schemas import check_storable
from clearinghouse.storage.db import Database
from clearinghouse.vulns import ranges
from clearinghouse.vulns.intake import read_records
from clearinghouse.vulns.models import AffectedPackage, IdCounter, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.osv import Record

PAGE_SIZE = 1000
BATCH_MAX = 1000
# purl types → OSV ecosystems (the common ones; osv.dev's table is larger).
PURL_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "cargo": "crates.io",
    "maven": "Maven",
    "nuget": "NuGet",
    "gem": "RubyGems",
    "composer": "Packagist",
    "deb": "Debian",
    "apk": "Alpine",
    "hex": "Hex",
    "pub": "Pub",
}


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


def _next_id(session: Session, year: int) -> str:
    counter = session.get(IdCounter, year, with_for_update=True)
    if counter is None:
        counter = IdCounter(year=year, last=0)
        session.add(counter)
    counter.last += 1
    return f"CH-{year}-{counter.last:05d}"


def _index(session: Session, vuln: Vulnerability, record: Record) -> None:
    session.execute(delete(VulnerabilityAlias).where(VulnerabilityAlias.vuln_id == vuln.id))
    session.execute(delete(AffectedPackage).where(AffectedPackage.vuln_id == vuln.id))
    session.flush()
    for alias in sorted({record.id, vuln.id, *record.aliases}):
        session.add(VulnerabilityAlias(alias=alias, vuln_id=vuln.id))
    seen = set()
    for aff in record.affected:
        if aff.package is None:
            continue
        key = (aff.package.ecosystem, normalise_name(aff.package.ecosystem, aff.package.name))
        if key not in seen:
            seen.add(key)
            session.add(
                AffectedPackage(
                    vuln_id=vuln.id, ecosystem=key[0], name=key[1], purl=aff.package.purl
                )
            )


def upsert(session: Session, record: Record) -> str:
    """Store one validated record. Returns created | updated | unchanged. Idempotent: a re-import
    changes nothing unless `modified` is newer."""
    modified = _ts(record.modified)
    assert modified is not None
    existing = session.scalar(
        select(Vulnerability).where(Vulnerability.source_id == record.id).with_for_update()
    )
    doc = record.model_dump(mode="json", exclude_none=True)
    now = utcnow()
    if existing is not None:
        if existing.modified >= modified:
            return "unchanged"
        vuln = existing
    else:
        vuln = Vulnerability(
            id=_next_id(session, (_ts(record.published) or modified).year),
            source_id=record.id,
            status="published",
            tlp="CLEAR",
            created_at=now,
        )
        session.add(vuln)
    vuln.record, vuln.summary, vuln.details = doc, record.summary, record.details
    vuln.published, vuln.modified, vuln.withdrawn = (
        _ts(record.published),
        modified,
        _ts(record.withdrawn),
    )
    vuln.updated_at = now
    session.flush()
    _index(session, vuln, record)
    return "updated" if existing is not None else "created"


def import_file(
    db: Database, path: Path, on_record: Callable[[ImportResult], None] | None = None
) -> ImportResult:
    """Import every record of an OSV file, each in its own transaction. A malformed record is
    reported with its reason and skipped; it never leaves anything behind."""
    result = ImportResult()
    for item in read_records(path):
        if item.error is not None:
            result.rejected.append({"source": item.source, "reason": item.error})
            continue
        try:
            record = Record.model_validate(item.data)
            with db.transaction() as session:
                outcome = upsert(session, record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            result.rejected.append(
                {"source": item.source, "reason": f"{where}: {first.get('msg')}"}
            )
            continue
        except ClearinghouseError as exc:
            result.rejected.append({"source": item.source, "reason": exc.detail})
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
        if on_record is not None:
            on_record(result)
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
    """(ecosystem, normalised name, version) from an OSV query; osv.dev's validation rules."""
    try:
        check_storable(query)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    package = query.get("package") or {}
    version = query.get("version")
    if not isinstance(package, dict):
        raise QueryError("package must be an object")
    if package.get("purl"):
        try:
            purl = PackageURL.from_string(package["purl"])
        except ValueError as exc:
            raise QueryError(f"invalid purl: {exc}") from exc
        if purl.version and version:
            raise QueryError("version specified in params and PURL query")
        ecosystem = PURL_ECOSYSTEMS.get(purl.type)
        if ecosystem is None:
            raise QueryError(f"unsupported purl type {purl.type!r}")
        name = (
            f"{purl.namespace}/{purl.name}"
            if purl.namespace and purl.type in ("golang", "npm")
            else f"{purl.namespace}:{purl.name}"
            if purl.namespace and purl.type == "maven"
            else purl.name
        )
        return ecosystem, normalise_name(ecosystem, name), version or purl.version
    if query.get("commit"):
        raise QueryError("commit queries are not supported by this server")
    ecosystem, raw_name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(raw_name, str) or not raw_name:
        raise QueryError("package needs a name and an ecosystem (or a purl)")
    if version is not None and not isinstance(version, str):
        raise QueryError("version must be a string")
    return ecosystem, normalise_name(ecosystem, raw_name), version


def _matches(
    session: Session, ecosystem: str, name: str, version: str | None
) -> list[Vulnerability]:
    rows = session.scalars(
        select(Vulnerability)
        .join(AffectedPackage, AffectedPackage.vuln_id == Vulnerability.id)
        .where(
            AffectedPackage.ecosystem == ecosystem, AffectedPackage.name == name, _public(utcnow())
        )
        .order_by(Vulnerability.source_id)
    ).all()
    if version is None:
        return list(rows)
    hits = []
    for vuln in rows:
        for aff in vuln.record.get("affected", []):
            pkg = aff.get("package") or {}
            if (
                pkg.get("ecosystem") != ecosystem
                or normalise_name(ecosystem, pkg.get("name", "")) != name
            ):
                continue
            try:
                if ranges.is_affected(version, aff):
                    hits.append(vuln)
                    break
            except InvalidInput:
                continue  # the queried version does not parse in this ecosystem: not a match
    return hits


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return max(0, int(base64.urlsafe_b64decode(token.encode()).decode()))
    except ValueError as exc:
        raise QueryError("invalid page_token") from exc


def query(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    ecosystem, name, version = resolve_query(body)
    hits = _matches(session, ecosystem, name, version)
    start = _offset(body.get("page_token"))
    page = hits[start : start + PAGE_SIZE]
    out: dict[str, Any] = {"vulns": [v.record for v in page]} if page else {}
    if start + PAGE_SIZE < len(hits):
        out["next_page_token"] = _token(start + PAGE_SIZE)
    return out


def querybatch(session: Session, body: dict[str, Any]) -> dict[str, Any]:
    queries = body.get("queries")
    if not isinstance(queries, list):
        raise QueryError("queries must be a list")
    if len(queries) > BATCH_MAX:
        raise QueryError(f"at most {BATCH_MAX} queries per batch")
    results = []
    for q in queries:
        if not isinstance(q, dict):
            raise QueryError("each query must be an object")
        ecosystem, name, version = resolve_query(q)
        hits = _matches(session, ecosystem, name, version)
        results.append(
            {"vulns": [{"id": v.source_id, "modified": v.record["modified"]} for v in hits]}
            if hits
            else {}
        )
    return {"results": results}


def get_public(session: Session, vuln_id: str) -> dict[str, Any] | None:
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
