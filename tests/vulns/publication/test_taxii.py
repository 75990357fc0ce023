"""The read-only TAXII 2.1 server, read by OASIS's taxii2-client from a real uvicorn server on
127.0.0.1: discovery, the API root, collections per TLP, objects and manifest with
`added_after` paging; embargoed, unpublished and restricted records never leak; hostile
requests get a clear 4xx."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import requests
import uvicorn
from sqlalchemy import update
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from clearinghouse.accounts.policy import Principal
from clearinghouse.api.app import create_app
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability
from clearinghouse.vulns.publication.taxii import COLLECTIONS, MEDIA_TYPE
from tests.support.vulns import record, write_jsonl
from tests.support.world import Member

CLEAR = next(cid for cid, tlp in COLLECTIONS.items() if tlp == "CLEAR")
AMBER = next(cid for cid, tlp in COLLECTIONS.items() if tlp == "AMBER")
PUBLIC = [f"PYSEC-T{n}" for n in range(7)]


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@pytest.fixture
def server(services: Services, tmp_path) -> Iterator[str]:
    # the same modified timestamp for every record: paging must not skip records sharing one
    records = [record(rid, name=f"pkg{n}") for n, rid in enumerate(PUBLIC)]
    records += [record(r, name=r.lower()) for r in ("EMBARGOED-1", "UNPUBLISHED-1", "AMBER-1")]
    import_file(services.db, Principal.system(), write_jsonl(tmp_path / "t.jsonl", records))
    with services.db.transaction() as s:
        later = utcnow() + timedelta(days=30)
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.source_id == "EMBARGOED-1")
            .values(embargo_until=later)
        )
        s.execute(
            update(Vulnerability)
            .where(Vulnerability.source_id == "UNPUBLISHED-1")
            .values(status="new")
        )
        s.execute(
            update(Vulnerability).where(Vulnerability.source_id == "AMBER-1").values(tlp="AMBER")
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _names(collection: Collection, per_request: int, **filters: str) -> list[str]:
    names = []
    for envelope in as_pages(collection.get_objects, per_request=per_request, **filters):
        names += [
            o["external_references"][0]["external_id"]
            for o in envelope.get("objects", [])
            if o["type"] == "vulnerability"
        ]
    return names


def test_taxii2_client_pages_the_public_collection_and_nothing_else_leaks(server: str) -> None:
    discovery = Server(f"{server}/taxii2/")
    (root,) = discovery.api_roots
    assert isinstance(root, ApiRoot) and root.versions == [MEDIA_TYPE]
    assert [c.title for c in root.collections] == ["TLP:CLEAR"]  # anonymous: CLEAR only
    (clear,) = root.collections
    names = _names(clear, per_request=9)  # a record is 5-7 objects: one or two a page
    assert sorted(names) == sorted(PUBLIC) and len(names) == len(PUBLIC)  # none twice, none lost
    manifest = clear.get_manifest()
    assert {e["media_type"] for e in manifest["objects"]} == {"application/stix+json;version=2.1"}
    body = str(manifest) + str(clear.get_objects())
    for hidden in ("EMBARGOED-1", "UNPUBLISHED-1", "AMBER-1"):
        assert hidden not in body


def test_restricted_collections_need_a_token_and_follow_the_policy(
    server: str, people: dict[str, Member]
) -> None:
    anonymous = httpx.get(f"{server}/taxii2/api/collections/{AMBER}/objects/")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == MEDIA_TYPE
    coordinator = Collection(
        f"{server}/taxii2/api/collections/{AMBER}/", auth=Bearer(people["coordinator"].token)
    )
    assert coordinator.title == "TLP:AMBER"
    assert _names(coordinator, per_request=100) == ["AMBER-1"]  # never the embargoed one
    vendor = Collection(
        f"{server}/taxii2/api/collections/{AMBER}/", auth=Bearer(people["other"].token)
    )
    assert _names(vendor, per_request=100) == []  # not its report: the policy's list scope
    forged = httpx.get(
        f"{server}/taxii2/api/collections/", headers={"Authorization": "Bearer ch_forged"}
    )
    assert forged.status_code == 401


def test_added_after_and_the_date_headers(server: str) -> None:
    url = f"{server}/taxii2/api/collections/{CLEAR}/objects/"
    first = httpx.get(url, params={"limit": 1})
    assert first.status_code == 200 and first.headers["content-type"] == MEDIA_TYPE
    assert first.json()["more"] is True and first.json()["next"]
    last_added = first.headers["X-TAXII-Date-Added-Last"]
    assert first.headers["X-TAXII-Date-Added-First"] <= last_added
    everything = httpx.get(url, params={"limit": 1000}).json()
    after = httpx.get(url, params={"added_after": last_added, "limit": 1000})
    assert after.status_code == 200
    # every record shares one timestamp, so nothing was added after it
    assert "objects" not in after.json() and after.json()["more"] is False
    assert len(everything["objects"]) > 7 and everything["more"] is False


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("objects/", {"added_after": "yesterday"}, {}, 400),
        ("objects/", {"added_after": "2026-01-01T00:00:00"}, {}, 400),  # no zone
        ("objects/", {"limit": "0"}, {}, 400),
        ("objects/", {"limit": "-5"}, {}, 400),
        ("objects/", {"limit": "9" * 40}, {}, 400),
        ("objects/", {"next": "not-a-token\x00"}, {}, 400),
        ("objects/", {"next": "%%%"}, {}, 400),
        ("manifest/", {"added_after": "2026-13-45T00:00:00Z"}, {}, 400),
        ("objects/", {}, {"Accept": "application/xml"}, 406),
        ("objects/", {}, {"Accept": "application/taxii+json;version=2.0"}, 406),
    ],
)
def test_hostile_requests_get_a_clear_4xx(
    server: str, path: str, params: dict, headers: dict, status: int
) -> None:
    r = httpx.get(f"{server}/taxii2/api/collections/{CLEAR}/{path}", params=params, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == MEDIA_TYPE
    assert r.json()["http_status"] == str(status) and r.json()["error_code"]


def test_unknown_collections_are_404_and_writes_are_refused(server: str) -> None:
    for cid in ("00000000-0000-4000-8000-000000000000", "..%2F..%2Fetc", "x" * 300):
        r = httpx.get(f"{server}/taxii2/api/collections/{cid}/objects/")
        assert r.status_code == 404, (cid, r.status_code)
    post = httpx.post(f"{server}/taxii2/api/collections/{CLEAR}/objects/", json={"objects": []})
    assert post.status_code == 405


def test_http_semantics_gzip_etags_cors_head_and_private_answers(
    server: str, people: dict[str, Member]
) -> None:
    """As on the OSV API (`api.http`): a TAXII client or a browser gets gzip, a strong ETag and
    304, CORS with a preflight, and HEAD; an answer to a token is never cacheable by others."""
    url = f"{server}/taxii2/api/collections/{CLEAR}/objects/"
    accept = {"Accept": MEDIA_TYPE}
    first = httpx.get(url, headers=accept | {"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert first.headers["access-control-allow-origin"] == "*"
    assert first.headers["cache-control"].startswith("public")
    again = httpx.get(url, headers=accept | {"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    head = httpx.head(url, headers=accept)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"]
    pre = httpx.options(
        url,
        headers={"Origin": "https://reader.example", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 204 and "GET" in pre.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in pre.headers
    amber = httpx.get(
        f"{server}/taxii2/api/collections/{AMBER}/objects/",
        headers=accept | {"Authorization": f"Bearer {people['coordinator'].token}"},
    )
    assert amber.status_code == 200 and "AMBER-1" in amber.text
    # RFC 9111 §3.5: `public` would let a shared cache keep this and serve it to anyone.
    assert amber.headers["cache-control"] == "private, no-store"
    assert "Authorization" in amber.headers["vary"]
