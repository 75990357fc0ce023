"""The public OSV API's operations (`POST /v1/query`, `/v1/querybatch`, `GET /v1/vulns/{id}`,
the modified-since feed), with osv.dev's validation rules. Only public records are served
(`visibility.public_clause`); queries are answered from the index (`public.index`)."""

from __future__ import annotations

import base64
import functools
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from clearinghouse.core.clock import utcnow
from clearinghouse.core.schemas import check_storable, unstorable_text
from clearinghouse.storage.db import Database
from clearinghouse.vulns.errors import QueryError
from clearinghouse.vulns.models import Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.osv import deeper_than, ecosystem_problem, osv_id, stored_id
from clearinghouse.vulns.public import index as public_index
from clearinghouse.vulns.publication.osv import to_osv
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
    if parsed.commit is not None:
        if package.name or package.ecosystem or package.purl or version:
            raise QueryError("a commit query names no package and no version")
        return _COMMIT, _commit(parsed.commit), None
    if package.purl:
        ecosystem, name, purl_version = _purl_package(package.purl)
        if purl_version and version:
            raise QueryError("version specified in params and PURL query")
        return ecosystem, name, version or purl_version
    if not package.ecosystem or not package.name:
        raise QueryError("package needs a name and an ecosystem (or a purl)")
    if (problem := ecosystem_problem(package.ecosystem)) is not None:
        raise QueryError(problem)
    return package.ecosystem, normalise_name(package.ecosystem, package.name), version


# A resolved commit query: (_COMMIT, commit, None). No ecosystem has this name (a purl's
# package, an unmapped purl's `UNMAPPED`, and checked ecosystems all differ from it).
_COMMIT = "\0commit"
UNMAPPED = "\0unmapped"
_HEX = re.compile(r"[0-9a-f]{7,64}")


def _commit(text: str) -> str:
    commit = text.strip().lower()
    if not _HEX.fullmatch(commit):
        raise QueryError("commit must be a hexadecimal git commit hash")
    return commit


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
        # A valid purl of a type no OSV ecosystem covers (`pkg:generic/...`): nothing is known
        # to affect it. osv.dev answers such a query with no vulnerabilities, not an error.
        return UNMAPPED, text, None
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
    hits = _hits(index, ecosystem, name, version, utcnow())
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
    return {"results": [_batch_item(index, q, now) for q in queries]}


def _hits(
    index: public_index.PublicIndex, ecosystem: str, name: str, version: str | None, now: datetime
) -> list[public_index.Entry]:
    if ecosystem == _COMMIT:
        return index.commit_lookup(name, now)
    if ecosystem == UNMAPPED:
        return []
    return index.lookup(ecosystem, name, version, now)


_EMPTY = orjson.Fragment(b"{}")


def _batch_item(index: public_index.PublicIndex, q: Any, now: datetime) -> Any:
    """One querybatch result. A bad query gets its own `{"error": {"code": 3, "message"}}`
    and the others their answers: one bad item never fails the batch (osv.dev answers per
    item; clients such as osv-scanner read `vulns` and ignore other keys)."""
    try:
        if not isinstance(q, dict):
            raise QueryError("each query must be an object")
        ecosystem, name, version = resolve_query(q)
    except QueryError as exc:
        return {"error": {"code": 3, "message": exc.detail}}
    if ecosystem == _COMMIT:
        return index.commit_answer(name, now)
    if ecosystem == UNMAPPED:
        return _EMPTY
    return index.batch_answer(ecosystem, name, version, now)


def get_public(session: Session, vuln_id: str) -> dict[str, Any] | None:
    """`GET /v1/vulns/{id}`: the public record with this id (as served, `x_CH-...`, or as
    stored, `CH-...`, which older links use), withdrawn ones included. Ids only: an alias
    names records of other databases and may name several (`by_alias`)."""
    if unstorable_text(vuln_id) is not None:
        return None
    wanted = stored_id(vuln_id)
    vuln = session.scalar(
        select(Vulnerability)
        .where(
            or_(Vulnerability.source_id == wanted, Vulnerability.id == wanted),
            public_clause(utcnow()),
        )
        .order_by(Vulnerability.source_id != wanted)  # its own id first
        .limit(1)
    )
    return to_osv(vuln.record) if vuln is not None else None


def by_alias(session: Session, alias: str) -> list[dict[str, Any]]:
    """`GET /v1/aliases?alias=`: `{id, modified}` of every public record that has `alias`
    among its aliases (ten records may share one CVE), by id."""
    if unstorable_text(alias) is not None:
        return []
    rows = session.execute(
        select(Vulnerability.source_id, Vulnerability.record)
        .join(VulnerabilityAlias, VulnerabilityAlias.vuln_id == Vulnerability.id)
        .where(VulnerabilityAlias.alias == alias, public_clause(utcnow()))
        .order_by(Vulnerability.source_id)
        .limit(PAGE_SIZE)
    ).all()
    return [{"id": osv_id(sid), "modified": record["modified"]} for sid, record in rows]


# When a record last changed for the public: its `modified`, or the end of its embargo when
# that came later. An embargo ends by the clock and changes no row, so a record that was
# embargoed at a mirror's last sync enters the public set with a `modified` older than that
# sync; ordered by `modified` alone, no incremental page would ever list it.
FEED_TIME = case(
    (Vulnerability.embargo_until > Vulnerability.modified, Vulnerability.embargo_until),
    else_=Vulnerability.modified,
)


def modified_since(
    session: Session, since: datetime, *, limit: int = PAGE_SIZE, page_token: str | None = None
) -> dict[str, Any]:
    """`GET /v1/vulns?modified_since=`: `{id, modified}` of public records that changed for
    the public at or after `since` (`FEED_TIME`; inclusive: a record stamped at the boundary is
    never skipped), in a stable order, (that time, id), `limit` per page. A full page carries
    `next_page_token`, the position after its last row, so records that share one timestamp
    are never lost between pages however many there are. `modified` in the answer is that
    time: the embargo's end for a record that became public by the clock."""
    query = select(
        Vulnerability.source_id, FEED_TIME, Vulnerability.modified, Vulnerability.record
    ).where(
        or_(Vulnerability.modified >= since, Vulnerability.embargo_until >= since),
        FEED_TIME >= since,
        public_clause(utcnow()),
    )
    if page_token is not None:
        after, after_id = _position(page_token)
        query = query.where(
            or_(FEED_TIME > after, and_(FEED_TIME == after, Vulnerability.source_id > after_id))
        )
    rows = session.execute(query.order_by(FEED_TIME, Vulnerability.source_id).limit(limit)).all()
    out: dict[str, Any] = {
        "vulns": [
            {"id": osv_id(sid), "modified": record["modified"] if at == mod else _osv_time(at)}
            for sid, at, mod, record in rows
        ]
    }
    if len(rows) == limit:
        sid, at, _, _ = rows[-1]
        out["next_page_token"] = _position_token(at, sid)
    return out


def _osv_time(at: datetime) -> str:
    """RFC 3339 in UTC, as OSV writes times (microseconds kept only when there are some)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="microseconds" if at.microsecond else "seconds").replace(
        "+00:00", "Z"
    )


def _position_token(modified: datetime, source_id: str) -> str:
    text = orjson.dumps([modified.astimezone(UTC).isoformat(), source_id])
    return base64.urlsafe_b64encode(text).decode()


def _position(token: str) -> tuple[datetime, str]:
    """The (modified, id) a page token names; anything else is refused as a bad token."""
    try:
        stamp, source_id = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        when = datetime.fromisoformat(stamp)
        if not isinstance(source_id, str) or when.tzinfo is None:
            raise ValueError
        check_storable([source_id])
        return when.astimezone(UTC), source_id
    except (ValueError, TypeError, OverflowError):
        raise QueryError("invalid page_token") from None
