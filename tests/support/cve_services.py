"""A stand-in for CVE Services (the CVE Program's CNA API), a real HTTP server on 127.0.0.1.

It follows CVE Services' published API (github.com/CVEProject/cve-services: the cve-id and cve
controllers, their schemas and error names) for the calls cvelib makes for us:

- authentication: the CVE-API-ORG, CVE-API-USER and CVE-API-KEY headers of a known user of
  that organisation, else 401 UNAUTHORIZED;
- `POST /api/cve-id?amount=&cve_year=&short_name=[&batch_type=]`: reserve ids (the short name
  must be the caller's organisation; a batch needs a batch type; the quota holds), answered
  `{"cve_ids": [...], "meta": {"remaining_quota": n}}`;
- `GET /api/cve-id` (paged, `cve_ids`), `GET /api/cve-id/{id}`, `PUT /api/cve-id/{id}?state=`;
- `POST /api/cve/{id}/cna` `{"cnaContainer": ...}`: publish; 400 CVEID_DNE for an id never
  reserved, 403 CVEID_ORG_DOES_NOT_MATCH for another organisation's, 403 CVE_RECORD_EXISTS,
  400 INVALID_JSON_SCHEMA unless the container is valid against the CNA published container
  schema AND the whole record it makes is valid against the CVE JSON 5 bundled schema (both
  the ones cvelib ships, as the real service validates);
- `POST /api/cve/{id}/reject` `{"cnaContainer": {"rejectedReasons": ...}}`: a REJECTED record;
- `GET /api/cve/{id}`, `GET /api/org/{short}`, `GET /api/org/{short}/id_quota`,
  `GET /api/health-check`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cvelib.cve_api import CveRecord
from jsonschema import Draft7Validator

CVE_ID = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$")


def _validator(path: Any) -> Draft7Validator:
    with open(path) as fh:
        return Draft7Validator(json.load(fh))


PUBLISHED_CNA = _validator(CveRecord.Schemas.CNA_PUBLISHED)
REJECTED_CNA = _validator(CveRecord.Schemas.CNA_REJECTED)
BUNDLED = _validator(CveRecord.Schemas.V5_SCHEMA)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Refuse(Exception):
    def __init__(self, status: int, error: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.details = status, error, message, details


@dataclass
class Org:
    short_name: str
    uuid: str
    quota: int = 100
    users: dict[str, str] = field(default_factory=dict)  # user → api key


@dataclass
class CveServicesState:
    orgs: dict[str, Org] = field(default_factory=dict)
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)  # each request's method, path, org
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_number: int = 10000

    def add_org(self, short_name: str, org_uuid: str, user: str, key: str) -> Org:
        org = Org(short_name, org_uuid, users={user: key})
        self.orgs[short_name] = org
        return org

    def reserve_for(self, org: str, year: int, amount: int = 1, user: str = "") -> list[str]:
        out = []
        for _ in range(amount):
            cve_id = f"CVE-{year}-{self.next_number}"
            self.next_number += 1
            self.ids[cve_id] = {
                "cve_id": cve_id,
                "cve_year": str(year),
                "state": "RESERVED",
                "owning_cna": org,
                "requested_by": {"cna": org, "user": user},
                "reserved": _now(),
                "time": {"created": _now(), "modified": _now()},
            }
            out.append(cve_id)
        return out


class _Handler(BaseHTTPRequestHandler):
    state: CveServicesState

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            with self.state.lock:
                org = self._authenticate()
                self.state.seen.append(
                    {"method": method, "path": parts.path, "org": org.short_name}
                )
                body = json.loads(raw) if raw else None
                status, answer = self._route(method, parts.path, query, body, org)
        except Refuse as r:
            payload = {"error": r.error, "message": r.message}
            if r.details is not None:
                payload["details"] = r.details
            self._answer(r.status, payload)
            return
        except json.JSONDecodeError:
            self._answer(400, {"error": "BAD_INPUT", "message": "the body is not JSON"})
            return
        self._answer(status, answer)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _authenticate(self) -> Org:
        if urlsplit(self.path).path == "/api/health-check":
            return Org("-", "-")
        org = self.state.orgs.get(self.headers.get("CVE-API-ORG", ""))
        user = self.headers.get("CVE-API-USER", "")
        key = self.headers.get("CVE-API-KEY", "")
        if org is None or not user or org.users.get(user) != key:
            raise Refuse(401, "UNAUTHORIZED", "Unauthorized")
        return org

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any, org: Org
    ) -> tuple[int, Any]:
        segs = [s for s in path.split("/") if s]
        if not segs or segs[0] != "api":
            raise Refuse(404, "NOT_FOUND", "no such path")
        segs = segs[1:]
        match method, segs:
            case "GET", ["health-check"]:
                return 200, {}
            case "POST", ["cve-id"]:
                return self._reserve(query, org)
            case "GET", ["cve-id"]:
                mine = [v for v in self.state.ids.values() if v["owning_cna"] == org.short_name]
                if query.get("state"):
                    mine = [v for v in mine if v["state"] == query["state"]]
                return 200, {"cve_ids": mine}
            case "GET", ["cve-id", cve_id]:
                return 200, self._id(cve_id, 404)
            case "PUT", ["cve-id", cve_id]:
                item = self._own(self._id(cve_id, 404), org)
                if query.get("state") == "REJECTED" and item["state"] == "RESERVED":
                    item["state"] = "REJECTED"
                    return 200, {"message": f"{cve_id} was successfully updated.", "updated": item}
                raise Refuse(400, "INVALID_STATE", "unsupported state change")
            case "POST", ["cve", cve_id, "cna"]:
                return self._publish(cve_id, body, org)
            case "POST", ["cve", cve_id, "reject"]:
                return self._reject(cve_id, body, org)
            case "GET", ["cve", cve_id]:
                record = self.state.records.get(cve_id)
                if record is None:
                    raise Refuse(
                        404, "CVE_RECORD_DNE", "The cve record for the cve id does not exist."
                    )
                return 200, record
            case "GET", ["org", short]:
                found = self._org(short, org)
                return 200, {
                    "short_name": found.short_name,
                    "name": found.short_name,
                    "UUID": found.uuid,
                    "policies": {"id_quota": found.quota},
                }
            case "GET", ["org", short, "id_quota"]:
                found = self._org(short, org)
                return 200, self._quota(found)
        raise Refuse(404, "NOT_FOUND", "no such path")

    def _org(self, short: str, org: Org) -> Org:
        if short != org.short_name:
            raise Refuse(
                403,
                "NOT_SAME_ORG_OR_SECRETARIAT",
                "This information can only be viewed by the users of the same organization or the Secretariat.",
            )
        return org

    def _quota(self, org: Org) -> dict[str, int]:
        reserved = sum(
            1
            for v in self.state.ids.values()
            if v["owning_cna"] == org.short_name and v["state"] == "RESERVED"
        )
        return {
            "id_quota": org.quota,
            "total_reserved": reserved,
            "available": org.quota - reserved,
        }

    def _id(self, cve_id: str, status: int) -> dict[str, Any]:
        item = self.state.ids.get(cve_id)
        if item is None:
            raise Refuse(status, "CVEID_DNE", "The cve id does not exist.")
        return item

    def _own(self, item: dict[str, Any], org: Org) -> dict[str, Any]:
        if item["owning_cna"] != org.short_name:
            raise Refuse(
                403, "CVEID_ORG_DOES_NOT_MATCH", "The cve id owning org does not match user org."
            )
        return item

    def _reserve(self, query: dict[str, str], org: Org) -> tuple[int, Any]:
        amount, year = query.get("amount", ""), query.get("cve_year", "")
        if not amount.isdigit() or int(amount) < 1:
            raise Refuse(400, "INVALID_AMOUNT", "amount must be a positive integer")
        if not re.fullmatch(r"[0-9]{4}", year):
            raise Refuse(400, "BAD_INPUT", "cve_year must be a four-digit year")
        if query.get("short_name") != org.short_name:
            raise Refuse(
                403, "ORG_CANNOT_RESERVE_FOR_OTHER", "Organizations can only reserve for themselves"
            )
        n = int(amount)
        if n > 1 and query.get("batch_type") not in {"sequential", "nonsequential"}:
            raise Refuse(400, "NO_BATCH_TYPE", "batch_type is required when amount > 1")
        if n > self._quota(org)["available"]:
            raise Refuse(403, "EXCEEDED_ID_QUOTA", "The amount requested exceeds the quota.")
        ids = self.state.reserve_for(org.short_name, int(year), n, self.headers["CVE-API-USER"])
        meta = {"remaining_quota": self._quota(org)["available"]}
        return 200, {"cve_ids": [self.state.ids[i] for i in ids], "meta": meta}

    def _container(self, body: Any, validator: Draft7Validator) -> dict[str, Any]:
        container = body.get("cnaContainer") if isinstance(body, dict) else None
        if not isinstance(container, dict):
            raise Refuse(400, "BAD_INPUT", "the body must hold a cnaContainer")
        errors = [e.message for e in validator.iter_errors(container)]
        if errors:
            raise Refuse(
                400,
                "INVALID_JSON_SCHEMA",
                "CVE cnaContainer JSON schema validation FAILED.",
                {"errors": errors[:10]},
            )
        return container

    def _store(self, cve_id: str, record: dict[str, Any]) -> dict[str, Any]:
        errors = [e.message for e in BUNDLED.iter_errors(record)]
        if errors:
            raise Refuse(
                400,
                "INVALID_JSON_SCHEMA",
                "CVE JSON schema validation FAILED.",
                {"errors": errors[:10]},
            )
        self.state.records[cve_id] = record
        return record

    def _create(
        self, cve_id: str, body: Any, org: Org, state: str, validator: Draft7Validator, exists: int
    ) -> dict[str, Any]:
        """A new record for an id of the caller's organisation (the cna and reject calls):
        the container validated, the provider set by the service, the whole record validated
        against the bundled schema, as the real service does."""
        item = self._own(self._id(cve_id, 400), org)
        if cve_id in self.state.records:
            raise Refuse(
                exists, "CVE_RECORD_EXISTS", "The cve record for the cve id already exists."
            )
        container = dict(self._container(body, validator))
        now = _now()
        container["providerMetadata"] = {
            "orgId": org.uuid,
            "shortName": org.short_name,
            "dateUpdated": now,
        }
        if state == "REJECTED":
            keep = ("providerMetadata", "rejectedReasons", "replacedBy")
            container = {k: v for k, v in container.items() if k in keep}
        dated = {"PUBLISHED": "datePublished", "REJECTED": "dateRejected"}[state]
        record = {
            "dataType": "CVE_RECORD",
            "dataVersion": "5.1",
            "cveMetadata": {
                "cveId": cve_id,
                "assignerOrgId": org.uuid,
                "assignerShortName": org.short_name,
                "state": state,
                "dateReserved": item["reserved"],
                dated: now,
                "dateUpdated": now,
            },
            "containers": {"cna": container},
        }
        self._store(cve_id, record)
        item["state"] = state
        return record

    def _publish(self, cve_id: str, body: Any, org: Org) -> tuple[int, Any]:
        record = self._create(cve_id, body, org, "PUBLISHED", PUBLISHED_CNA, 403)
        return 200, {"message": f"{cve_id} record was successfully created.", "created": record}

    def _reject(self, cve_id: str, body: Any, org: Org) -> tuple[int, Any]:
        record = self._create(cve_id, body, org, "REJECTED", REJECTED_CNA, 400)
        return 200, {"message": f"{cve_id} record was successfully submitted.", "created": record}


@contextmanager
def cve_services(
    org: str = "clearinghouse",
    org_uuid: str = "8a1c6b2e-4f3d-4c5b-9e7a-2d1f0b3c4e5a",
    user: str = "cna@clearinghouse.example",
    key: str = "cve-services-test-key-0123456789",
) -> Iterator[tuple[str, CveServicesState]]:
    """The stand-in on a free loopback port: yields its API base URL (ending /api/) and its
    state. One organisation (ours) with one user; tests add others with `state.add_org`."""
    state = CveServicesState()
    state.add_org(org, org_uuid, user, key)
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def configure(
    settings: Any,
    url: str,
    user: str = "cna@clearinghouse.example",
    key: str = "cve-services-test-key-0123456789",
) -> None:
    """Point a Settings object at the stand-in (the CNA identity stays the default)."""
    from pydantic import SecretStr

    settings.cve_services_url = url
    settings.cve_services_user = user
    settings.cve_services_api_key = SecretStr(key)
