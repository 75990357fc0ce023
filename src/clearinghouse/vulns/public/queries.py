"""The public OSV API's operations (`POST /v1/query`, `/v1/querybatch`, `GET /v1/vulns/{id}`,
the modified-since feed), with osv.dev's validation rules. Only public records are served
(`visibility.public_clause`); queries are answered from the index (`public.index`)."""

from __future__ import annotations

import base64
import functools
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.schemas import check_storable, unstorable_text
from clearinghouse.storage.db import Database
from clearinghouse.vulns.errors import QueryError
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.osv import deeper_than
from clearinghouse.vulns.public import index as public_index
from clearinghouse.vulns.purls import PurlInvalid, package_of, parse_purl
from clearinghouse.vulns.records import normalise_name
from clearinghouse.vulns.schemas import OsvPackage, OsvQuery
from clearinghouse.vulns.visibility import public_clause

PAGE_SIZE = 1000
BATCH_MAX = 1000


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
    pkg = package_of(purl)
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
        .where(VulnerabilityAlias.alias == vuln_id, public_clause(utcnow()))
        .limit(1)
    )
    return vuln.record if vuln is not None else None


def modified_since(session: Session, since: datetime, *, limit: int = 1000) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Vulnerability)
        .where(Vulnerability.modified > since, public_clause(utcnow()))
        .order_by(Vulnerability.modified, Vulnerability.id)
        .limit(limit)
    )
    return [{"id": v.source_id, "modified": v.record["modified"]} for v in rows]
