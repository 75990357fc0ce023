"""Fix verification (issue 14, part 3), over HTTP against the real database, with the real
sandbox for the C example recipe: a real fixing patch is confirmed; a patch that only blocks
the exact PoC input still reproduces with the recipe's variant, a no-op patch still reproduces,
and `fixed` is refused for them; a commit cannot be fetched and says so (`fix_unverifiable`);
only a coordinator overrides, with an audited reason."""

from __future__ import annotations

import base64
import difflib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.events import AuditTag
from clearinghouse.workers.runner import Worker
from tests.coordination.fix_kit import Cast, post
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.vulns import submit
from tests.support.world import Member, World
from tests.vulns import recipe_kit

HEAP = recipe_kit.HEAP
VULNERABLE = (HEAP / "vulnerable" / "records.c").read_text()
FIXED = (HEAP / "fixed" / "records.c").read_text()


def diff(before: str, after: str, name: str = "records.c") -> bytes:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(lines).encode()


# The real fix: the fixed copy of the example.
REAL_FIX = diff(VULNERABLE, FIXED)
# Games the PoC: poc.bin is 42 bytes; refuse exactly that size and change nothing else.
EXACT_POC_BLOCK = diff(
    VULNERABLE,
    VULNERABLE.replace(
        "    fclose(fp);\n", "    fclose(fp);\n    if (n == 42)\n        return 1;\n", 1
    ),
)
NO_OP = diff(VULNERABLE, VULNERABLE.replace("int main(", "/* hardened */\nint main(", 1))


@pytest.fixture
def cast(world: World) -> Cast:
    return Cast(world)


def drain(services: Services) -> None:
    worker = Worker(services)
    for _ in range(20):
        if not worker.run_once():
            return


def open_case(
    client: TestClient, services: Services, cast: Cast, *, recipe: bool
) -> tuple[str, str]:
    """A case over a reported vulnerability (its heap recipe reproduced when `recipe`), with
    the vendor and the sharing group, vendors notified: (case id, vuln id)."""
    report = submit(client, cast.reporter)
    if recipe:
        r = client.post(
            f"/api/v1/reports/{report['id']}/recipe",
            headers=cast.reporter.headers,
            files={"file": ("recipe.tar.gz", recipe_kit.heap(), "application/gzip")},
        )
        assert r.status_code == 202, r.text
        drain(services)
        got = client.get(
            f"/api/v1/reports/{report['id']}/validations", headers=cast.reporter.headers
        )
        assert got.json()[0]["verdict"] == "reproduced", got.text
    body = {"vuln_ids": [report["vuln_id"]], "title": "heap overflow", "tlp": "AMBER"}
    r = post(client, cast.coordinator, "/api/v1/cases", body)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    for org, role in ((cast.vendor.org_id, "vendor"), (cast.operator.org_id, "operator_group")):
        r = post(
            client,
            cast.coordinator,
            f"/api/v1/cases/{cid}/participants",
            {"org_id": org, "role": role},
        )
        assert r.status_code == 201, r.text
    r = post(
        client, cast.coordinator, f"/api/v1/cases/{cid}/transition", {"to": "vendors_notified"}
    )
    assert r.status_code == 200, r.text
    r = post(client, cast.vendor, f"/api/v1/cases/{cid}/vendor-status", {"status": "affected"})
    assert r.status_code == 200, r.text
    return cid, str(report["vuln_id"])


def upload_patch(
    client: TestClient, who: Member, cid: str, patch: bytes, kind: str = "patch"
) -> str:
    body = {
        "filename": "fix.patch",
        "kind": kind,
        "media_type": "text/x-diff",
        "content_base64": base64.b64encode(patch).decode(),
    }
    r = post(client, who, f"/api/v1/cases/{cid}/artifacts", body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def verify(
    client: TestClient, services: Services, cast: Cast, cid: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = post(client, cast.vendor, f"/api/v1/cases/{cid}/fixes", body)
    assert r.status_code == 202, r.text
    drain(services)
    listed = client.get(f"/api/v1/cases/{cid}/fixes", headers=cast.vendor.headers).json()
    (found,) = [v for v in listed if v["id"] == r.json()["id"]]
    assert found["state"] == "done", found
    return dict(found)


FIXED_STATUS = {"status": "fixed", "fixed_versions": ["pkg:generic/records@1.1"]}


def post_fixed(client: TestClient, cast: Cast, cid: str) -> Any:
    return post(client, cast.vendor, f"/api/v1/cases/{cid}/vendor-status", FIXED_STATUS)


@needs_bwrap
@needs_gcc
def test_a_real_fix_is_confirmed_on_the_poc_and_its_variant_and_fixed_is_accepted(
    client: TestClient, services: Services, cast: Cast
) -> None:
    cid, _ = open_case(client, services, cast, recipe=True)
    # before any fix: `fixed` is refused (the adversary: a vendor that just says so)
    r = post_fixed(client, cast, cid)
    assert r.status_code == 409 and r.json()["code"] == "fix_not_verified"
    artifact = upload_patch(client, cast.vendor, cid, REAL_FIX)
    result = verify(client, services, cast, cid, {"kind": "patch", "artifact_id": artifact})
    assert result["result"] == "fixed_confirmed", result
    assert [run["poc"] for run in result["runs"]] == ["poc.bin", "poc-comment.bin"]
    assert all(run["verdict"] == "not_reproduced" for run in result["runs"])
    r = post_fixed(client, cast, cid)
    assert r.status_code == 200, r.text
    case = client.get(f"/api/v1/cases/{cid}", headers=cast.coordinator.headers).json()
    assert case["state"] == "fixed"
    # on the timeline, with the evidence
    events = client.get(f"/api/v1/cases/{cid}/timeline", headers=cast.vendor.headers).json()
    kinds = [e["kind"] for e in events["items"]]
    assert "fix_posted" in kinds and "fix_verified" in kinds


@needs_bwrap
@needs_gcc
def test_a_patch_that_blocks_only_the_exact_poc_or_changes_nothing_still_reproduces(
    client: TestClient, services: Services, cast: Cast
) -> None:
    cid, _ = open_case(client, services, cast, recipe=True)
    gamed = upload_patch(client, cast.vendor, cid, EXACT_POC_BLOCK)
    result = verify(client, services, cast, cid, {"kind": "patch", "artifact_id": gamed})
    assert result["result"] == "reproduced", result
    # the exact PoC is blocked; its variant (the comment field) still overflows
    assert [(r["poc"], r["verdict"]) for r in result["runs"]] == [
        ("poc.bin", "not_reproduced"),
        ("poc-comment.bin", "reproduced"),
    ]
    assert "heap-buffer-overflow" in result["evidence"]
    r = post_fixed(client, cast, cid)
    assert r.status_code == 409 and r.json()["code"] == "fix_not_verified"
    noop = upload_patch(client, cast.vendor, cid, NO_OP)
    result = verify(client, services, cast, cid, {"kind": "patch", "artifact_id": noop})
    assert result["result"] == "reproduced"
    assert result["runs"][0] == {
        "poc": "poc.bin",
        "verdict": "reproduced",
        "signature": "heap-buffer-overflow@store_field|parse_records|main",
        "error_code": None,
    }
    assert post_fixed(client, cast, cid).status_code == 409
    # a confirmed fix followed by a reproducing one: the latest counts
    real = upload_patch(client, cast.vendor, cid, REAL_FIX)
    assert (
        verify(client, services, cast, cid, {"kind": "patch", "artifact_id": real})["result"]
        == "fixed_confirmed"
    )
    verify(client, services, cast, cid, {"kind": "patch", "artifact_id": noop})
    assert post_fixed(client, cast, cid).status_code == 409


@needs_bwrap
@needs_gcc
def test_hostile_patches_and_a_purl_on_a_directory_recipe_are_inconclusive(
    client: TestClient, services: Services, cast: Cast, tmp_path: Path
) -> None:
    cid, _ = open_case(client, services, cast, recipe=True)
    outside = b"--- /dev/null\n+++ b/../../escaped.c\n@@ -0,0 +1 @@\n+int escaped;\n"
    hostile = upload_patch(client, cast.vendor, cid, outside)
    result = verify(client, services, cast, cid, {"kind": "patch", "artifact_id": hostile})
    assert (result["result"], result["code"]) == ("inconclusive", "patch_does_not_apply")
    garbage = upload_patch(client, cast.vendor, cid, b"not a diff at all\n")
    result = verify(client, services, cast, cid, {"kind": "patch", "artifact_id": garbage})
    assert (result["result"], result["code"]) == ("inconclusive", "patch_does_not_apply")
    result = verify(client, services, cast, cid, {"kind": "purl", "purl": "pkg:pypi/records@1.1"})
    assert (result["result"], result["code"]) == ("inconclusive", "fix_unverifiable")
    assert post_fixed(client, cast, cid).status_code == 409


def test_a_commit_is_unverifiable_and_only_a_coordinator_overrides_with_an_audited_reason(
    client: TestClient, services: Services, cast: Cast
) -> None:
    cid, _ = open_case(client, services, cast, recipe=False)
    r = post(
        client, cast.vendor, f"/api/v1/cases/{cid}/fixes", {"kind": "commit", "commit": "abcdef1"}
    )
    assert r.status_code == 202, r.text
    got = r.json()
    assert (got["state"], got["result"], got["code"]) == (
        "done",
        "inconclusive",
        "fix_unverifiable",
    )
    assert post_fixed(client, cast, cid).status_code == 409
    url = f"/api/v1/cases/{cid}/vendors/{cast.vendor.org_id}/fix-override"
    # adversaries: the vendor itself, another vendor, the sharing group; a reason is required
    assert post(client, cast.vendor, url, {"reason": "trust me"}).status_code == 403
    assert post(client, cast.other_vendor, url, {"reason": "trust me"}).status_code == 404
    assert post(client, cast.operator, url, {"reason": "trust me"}).status_code == 403
    assert post(client, cast.coordinator, url, {}).status_code == 422
    bad = f"/api/v1/cases/{cid}/vendors/{cast.other_vendor.org_id}/fix-override"
    r = post(client, cast.coordinator, bad, {"reason": "not a vendor here"})
    assert r.status_code == 422 and r.json()["code"] == "not_vendor"
    r = post(client, cast.coordinator, url, {"reason": "commit reviewed by hand"})
    assert r.status_code == 200, r.text
    with services.db.transaction() as s:
        tags = [
            e.data
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.tag == AuditTag.COORDINATION_FIX_OVERRIDE.value)
            )
        ]
    assert tags and tags[0]["reason"] == "commit reviewed by hand"
    assert post_fixed(client, cast, cid).status_code == 200


def test_who_may_post_a_fix_and_bad_input(
    client: TestClient, services: Services, cast: Cast
) -> None:
    cid, _ = open_case(client, services, cast, recipe=False)
    url = f"/api/v1/cases/{cid}/fixes"
    commit = {"kind": "commit", "commit": "abcdef1"}
    assert post(client, cast.other_vendor, url, commit).status_code == 404
    assert post(client, cast.operator, url, commit).status_code == 403
    assert post(client, cast.reporter, url, commit).status_code == 403
    assert post(client, cast.vendor_viewer, url, commit).status_code == 403
    assert post(client, cast.coordinator, url, commit).status_code == 403
    # a patch that is no patch artifact of this case; a poc artifact; malformed input
    r = post(client, cast.vendor, url, {"kind": "patch", "artifact_id": "cart_nope"})
    assert r.status_code == 422 and r.json()["code"] == "fix_patch_unknown"
    poc = upload_patch(client, cast.vendor, cid, b"AAAA", kind="poc")
    r = post(client, cast.vendor, url, {"kind": "patch", "artifact_id": poc})
    assert r.status_code == 422 and r.json()["code"] == "fix_patch_unknown"
    assert (
        post(client, cast.vendor, url, {"kind": "commit", "commit": "../../x"}).status_code == 422
    )
    assert post(client, cast.vendor, url, {"kind": "purl"}).status_code == 422
    r = post(client, cast.vendor, url, {"kind": "purl", "purl": "not a purl"})
    assert r.status_code == 422
    # no recipe reproduced: nothing to run, said so
    r = post(client, cast.vendor, url, {"kind": "purl", "purl": "pkg:pypi/demo@1.1"})
    assert r.status_code == 202 and r.json()["code"] == "no_recipe"
    # the sharing group never sees fixes; outsiders do not learn the case exists
    assert client.get(url, headers=cast.operator.headers).status_code == 403
    assert client.get(url, headers=cast.other_vendor.headers).status_code == 404
    assert client.get(url, headers=cast.reporter.headers).status_code == 200
