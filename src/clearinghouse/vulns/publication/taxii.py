"""A read-only TAXII 2.1 server's resources: discovery, one API root, one collection per TLP
label, and each collection's objects and manifest with `added_after` paging.

What a collection holds: the STIX objects (`stix.to_stix`) of the published records of its TLP
whose embargo is over, among those the caller may list (`accounts.policy.list_scope("vuln")`,
in SQL: the public for everyone; the rest for coordinators and the reporting organisations).
TLP:CLEAR's collection is open to anonymous readers; the other collections need a signed-in
caller (anonymous: 401), and even then show only what the policy lets the caller list.

An object's `date_added` is when its record last entered the collection: its last change, or
the end of its embargo when that came later (a record whose embargo ends enters the
collection then, so a client polling with `added_after` does not miss it).

Paging: one page holds whole records (every object of a record is on the same page), in
(date_added, record id) order; `next` is an opaque token naming the last record sent, so
records sharing one timestamp are never skipped. No maintained Python TAXII server library
fits a FastAPI app with our policy (OASIS's medallion is a Flask app with its own backends),
so the protocol is ours, tested with OASIS's taxii2-client.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select, type_coerce
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ClearinghouseError, InvalidInput, NotFound, Unauthenticated
from clearinghouse.core.schemas import check_storable
from clearinghouse.core.tlp import Tlp
from clearinghouse.storage.base import UTCDateTime
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.common import NAMESPACE, PUBLISHER
from clearinghouse.vulns.publication.stix import to_stix
from clearinghouse.vulns.states import VulnStatus
from clearinghouse.vulns.visibility import VULN_CONDITIONS

MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
API_ROOT = "api"  # the one API root: /taxii2/api/
MAX_PAGE = 1000


class TaxiiBadRequest(InvalidInput):
    """A malformed TAXII request (a filter, a paging token): 400, as TAXII 2.1 says."""

    status = 400
    default_code = "taxii_bad_request"


class TaxiiNotAcceptable(ClearinghouseError):
    """The client accepts no media type we answer in."""

    status = 406
    default_code = "not_acceptable"


COLLECTIONS: dict[str, Tlp] = {
    str(uuid.uuid5(NAMESPACE, f"taxii-collection:{label.value}")): label for label in Tlp
}


def check_accept(accept: str | None) -> None:
    """TAXII 2.1 answers in `application/taxii+json;version=2.1`; a request must accept it
    (or any JSON / anything)."""
    if not accept:
        return
    for item in accept.split(","):
        media, *params = [p.strip().lower() for p in item.split(";")]
        if media in ("*/*", "application/*", "application/json"):
            return
        if media == "application/taxii+json":
            versions = [p.split("=", 1)[1] for p in params if p.startswith("version=")]
            if not versions or "2.1" in versions:
                return
    raise TaxiiNotAcceptable(f"this server answers only in {MEDIA_TYPE}")


def discovery(base_url: str) -> dict[str, Any]:
    root = f"{base_url}/taxii2/{API_ROOT}/"
    return {
        "title": f"{PUBLISHER['name']} TAXII",
        "description": "Vulnerability records as STIX 2.1, one collection per TLP label.",
        "default": root,
        "api_roots": [root],
    }


def api_root() -> dict[str, Any]:
    return {
        "title": f"{PUBLISHER['name']} vulnerabilities",
        "versions": [MEDIA_TYPE],
        "max_content_length": 0,  # read-only: nothing may be posted
    }


def _anonymous(p: Principal) -> bool:
    return not p.is_system and p.org_id is None


def _collection_resource(cid: str, tlp: Tlp) -> dict[str, Any]:
    return {
        "id": cid,
        "title": f"TLP:{tlp.value}",
        "description": f"Published vulnerability records marked TLP:{tlp.value}.",
        "can_read": True,
        "can_write": False,
        "media_types": [STIX_MEDIA_TYPE],
    }


def collections(p: Principal) -> dict[str, Any]:
    """The collections the caller may read: TLP:CLEAR for anonymous callers, all otherwise."""
    return {
        "collections": [
            _collection_resource(cid, tlp)
            for cid, tlp in COLLECTIONS.items()
            if tlp is Tlp.clear or not _anonymous(p)
        ]
    }


def collection(p: Principal, cid: str) -> dict[str, Any]:
    return _collection_resource(cid, _tlp_of(p, cid))


def _tlp_of(p: Principal, cid: str) -> Tlp:
    tlp = COLLECTIONS.get(cid)
    if tlp is None:
        raise NotFound(f"no collection with id {cid!r}")
    if tlp is not Tlp.clear and _anonymous(p):
        raise Unauthenticated(f"the TLP:{tlp.value} collection needs an API token")
    return tlp


@dataclass(frozen=True)
class Page:
    """One page of a collection: its body, and the first and last `date_added` on it (the
    `X-TAXII-Date-Added-First/Last` headers)."""

    body: dict[str, Any]
    first: str | None
    last: str | None


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_added_after(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TaxiiBadRequest("added_after is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise TaxiiBadRequest("added_after needs a time zone (e.g. Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        raise TaxiiBadRequest("added_after is out of range") from None


def parse_limit(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdecimal() or len(value) > 9 or int(value) < 1:
        raise TaxiiBadRequest("limit must be a positive integer")
    return min(int(value), MAX_PAGE)


def _encode_next(added: datetime, rid: str) -> str:
    return base64.urlsafe_b64encode(f"{_stamp(added)}|{rid}".encode()).decode().rstrip("=")


def _decode_next(token: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        stamp, rid = text.split("|", 1)
        check_storable([rid])  # a forged token's NUL would reach the database (PostgreSQL: 500)
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC), rid
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise TaxiiBadRequest("next is not a token this server gave") from None


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _records(
    session: Session,
    p: Principal,
    tlp: Tlp,
    added_after: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[datetime, Vulnerability]]:
    now = utcnow()
    added = type_coerce(
        case(
            (
                Vulnerability.embargo_until.is_not(None)
                & (Vulnerability.embargo_until > Vulnerability.updated_at),
                Vulnerability.embargo_until,
            ),
            else_=Vulnerability.updated_at,
        ),
        UTCDateTime(),
    )
    query = (
        select(added, Vulnerability)
        .where(
            Vulnerability.status == VulnStatus.published.value,
            Vulnerability.tlp == tlp.value,
            (Vulnerability.embargo_until.is_(None)) | (Vulnerability.embargo_until <= now),
            list_scope(p, "vuln").clause(Vulnerability, VULN_CONDITIONS),
        )
        .order_by(added, Vulnerability.id)
        .limit(limit)
    )
    if added_after is not None:
        query = query.where(added > added_after)
    if after is not None:
        ts, rid = after
        query = query.where((added > ts) | ((added == ts) & (Vulnerability.id > rid)))
    return [(_aware(ts), vuln) for ts, vuln in session.execute(query).all()]


def objects(
    session: Session,
    p: Principal,
    cid: str,
    *,
    added_after: str | None = None,
    limit: str | None = None,
    next_token: str | None = None,
    default_limit: int = 100,
    manifest: bool = False,
) -> Page:
    """A page of the collection's objects (or, `manifest`, of their manifest entries): whole
    records until `limit` objects are reached (at least one record per page)."""
    tlp = _tlp_of(p, cid)
    # reading records at all (as public_records does); which rows, the policy's list scope
    authorize(p, Action.vuln_read, Target("vuln", None, public=True))
    after_ts = parse_added_after(added_after)
    cap = parse_limit(limit, default_limit)
    after = _decode_next(next_token) if next_token else None
    rows = _records(session, p, tlp, after_ts, after, cap + 1)
    out: dict[str, dict[str, Any]] = {}
    added_at: dict[str, str] = {}
    sent: list[tuple[datetime, str]] = []
    for added, vuln in rows:
        bundle = to_stix(vuln.record, tlp=tlp.value)["objects"]
        new = [o for o in bundle if o["id"] not in out]
        if sent and len(out) + len(new) > cap:
            break
        for obj in new:
            out[obj["id"]] = obj
            added_at[obj["id"]] = _stamp(added)
        sent.append((added, vuln.id))
    more = len(sent) < len(rows)
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = _encode_next(*sent[-1])
    if manifest:
        entries = [
            {
                "id": oid,
                "date_added": added_at[oid],
                "version": obj.get("modified") or obj.get("created") or added_at[oid],
                "media_type": STIX_MEDIA_TYPE,
            }
            for oid, obj in out.items()
        ]
        if entries:
            body["objects"] = entries
    elif out:
        body["objects"] = list(out.values())
    first = _stamp(sent[0][0]) if sent else None
    last = _stamp(sent[-1][0]) if sent else None
    return Page(body, first, last)
