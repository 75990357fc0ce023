"""Dedup: each rule finds what it should (and not what it should not), candidates are scanned by
a background job when a report arrives, and a coordinator's merge is deterministic and can be
undone exactly."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.errors import Conflict
from clearinghouse.storage.jobs import Job
from clearinghouse.vulns.dedup import candidates as dedup_candidates
from clearinghouse.vulns.dedup import merges
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import DuplicateCandidate, Vulnerability, VulnerabilityAlias
from clearinghouse.vulns.reports import submit_report
from clearinghouse.vulns.schemas import ReportCreate, VulnTriage
from clearinghouse.vulns.search import vuln_detail
from clearinghouse.vulns.triage import triage
from clearinghouse.workers.runner import Worker
from tests.support.reports import post_report
from tests.support.world import World

SYSTEM = Principal.system()
REPORTER = Principal(None, None, OrgKind.vendor, Role.member, is_system=True)


def report(services: Services, **over: Any) -> str:
    body = {
        "title": "Heap overflow in tinyparse header parsing",
        "description": "tinyparse copies the length-prefixed header name into a fixed 64 byte "
        "heap buffer without checking the length byte, so a header longer than 64 bytes "
        "overwrites adjacent heap memory and crashes the parser.",
        "provenance": {"kind": "ai_model", "model_name": "model-x"},
        "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
        "claimed_cwe": "CWE-787",
    } | over
    with services.db.transaction() as s:
        return submit_report(s, REPORTER, services.vault, ReportCreate.model_validate(body)).vuln_id


def candidates(services: Services) -> set[tuple[str, str, str]]:
    with services.db.transaction() as s:
        return {
            (c.vuln_a, c.vuln_b, c.rule)
            for c in s.scalars(select(DuplicateCandidate).where(DuplicateCandidate.state == "open"))
        }


def scan(services: Services, *ids: str) -> int:
    with services.db.transaction() as s:
        return dedup_candidates.scan(s, list(ids))


def pair(a: str, b: str, rule: str) -> tuple[str, str, str]:
    return (*sorted((a, b)), rule)  # type: ignore[return-value]


def test_same_package_range_and_cwe_is_an_exact_duplicate(services: Services) -> None:
    a = report(services)
    b = report(services, title="OOB write", description="Different words entirely, same flaw.")
    c = report(services, claimed_cwe="CWE-125", description="Another flaw in the same version.")
    scan(services, a, b, c)
    found = candidates(services)
    assert pair(a, b, "package_range_cwe") in found
    assert not any(rule == "package_range_cwe" and c in (x, y) for x, y, rule in found)


def test_shared_alias_is_an_exact_duplicate(services: Services, tmp_path: Path) -> None:
    def rec(rid: str, aliases: list[str], name: str) -> dict[str, Any]:
        return {
            "id": rid,
            "modified": "2026-01-01T00:00:00Z",
            "aliases": aliases,
            "summary": f"{rid} in {name}",
            "affected": [{"package": {"ecosystem": "PyPI", "name": name}, "versions": ["1.0"]}],
        }

    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                rec("PYSEC-2026-1", ["CVE-2026-1000"], "tensorflow"),
                rec("PYSEC-2026-2", ["CVE-2026-1000"], "tensorflow-gpu"),
                rec("PYSEC-2026-3", ["CVE-2026-2000"], "tensorflow-cpu"),
            )
        )
    )
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        ids = {v.source_id: v.id for v in s.scalars(select(Vulnerability))}
    scan(services, *ids.values())
    assert candidates(services) == {pair(ids["PYSEC-2026-1"], ids["PYSEC-2026-2"], "alias")}


def test_template_advisories_with_different_cves_are_not_near_duplicates(
    services: Services, tmp_path: Path
) -> None:
    template = (
        "TensorFlow is an open source platform for machine learning. When the shape argument "
        "of the {op} kernel is empty the implementation dereferences a null pointer and the "
        "process aborts, a denial of service. The fix will be included in TensorFlow 2.9.0."
    )

    def rec(rid: str, aliases: list[str], op: str) -> dict[str, Any]:
        return {
            "id": rid,
            "modified": "2026-01-01T00:00:00Z",
            "aliases": aliases,
            "summary": "Null pointer dereference in TensorFlow",
            "details": template.format(op=op),
            "affected": [{"package": {"ecosystem": "PyPI", "name": "tensorflow"}}],
        }

    path = tmp_path / "r.jsonl"
    records = (
        rec("PYSEC-2026-11", ["CVE-2026-1100"], "RaggedBincount"),
        rec("PYSEC-2026-12", ["CVE-2026-1200"], "RaggedCountSparseOutput"),
        rec("PYSEC-2026-13", [], "RaggedCountSparseOutput"),  # no CVE yet: may be either
    )
    path.write_text("\n".join(json.dumps(r) for r in records))
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        ids = {v.source_id: v.id for v in s.scalars(select(Vulnerability))}
    scan(services, *ids.values())
    found = candidates(services)
    assert pair(ids["PYSEC-2026-11"], ids["PYSEC-2026-12"], "text") not in found
    assert pair(ids["PYSEC-2026-12"], ids["PYSEC-2026-13"], "text") in found
    assert pair(ids["PYSEC-2026-11"], ids["PYSEC-2026-13"], "text") in found


def test_same_crash_signature_is_an_exact_duplicate(services: Services) -> None:
    a = report(services, target={"purl": "pkg:npm/left@1.0.0"})
    b = report(services, target={"purl": "pkg:npm/right@2.0.0"}, description="x" * 40)
    with services.db.transaction() as s:
        for vid in (a, b):
            triage(
                s, SYSTEM, vid, VulnTriage(crash_signature="heap-buffer-overflow@parse_hdr|main")
            )
    scan(services, a)
    assert pair(a, b, "crash") in candidates(services)


def test_reworded_reports_are_near_duplicates_and_unrelated_ones_are_not(
    services: Services,
) -> None:
    a = report(services, target={"purl": "pkg:pypi/tinyparse@2.3.0"})
    b = report(
        services,
        target={"purl": "pkg:pypi/tinyparse@2.4.0"},
        claimed_cwe="CWE-122",
        title="tinyparse: heap overflow while parsing headers",
        description="The tinyparse library copies the length-prefixed header name into a fixed "
        "64 byte heap buffer without checking the length byte; a header longer than 64 bytes "
        "overwrites adjacent heap memory and crashes the parser. Found by fuzzing.",
    )
    c = report(
        services,
        target={"purl": "pkg:pypi/reportlib@0.9"},
        claimed_cwe="CWE-89",
        title="SQL injection in reportlib filters",
        description="The filter argument is concatenated into an SQL statement, so a quote in "
        "a filter value lets a user run arbitrary SQL against the reporting database.",
    )
    scan(services, a, b, c)
    found = candidates(services)
    assert pair(a, b, "text") in found
    assert not any(c in (x, y) for x, y, _ in found)
    with services.db.transaction() as s:
        score = s.scalar(select(DuplicateCandidate.score).where(DuplicateCandidate.rule == "text"))
    assert score is not None and 0.5 <= score < 1.0


def test_a_new_report_is_scanned_by_a_background_job(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the job logs what it found; that must not fail it
    a = report(services)
    b = report(services, title="same flaw again")
    worker = Worker(services)
    while worker.run_once():
        pass
    assert pair(a, b, "package_range_cwe") in candidates(services)
    with services.db.transaction() as s:
        states = s.scalars(select(Job.state).where(Job.kind == "vulns.scan_duplicates")).all()
    assert states == ["succeeded", "succeeded"]


def test_merge_is_deterministic_and_undo_restores_everything(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "pub.json"
    path.write_text(
        json.dumps(
            {
                "id": "GHSA-aaaa-bbbb-cccc",
                "modified": "2026-01-02T00:00:00Z",
                "published": "2026-01-01T00:00:00Z",
                "aliases": ["CVE-2026-0042"],
                "summary": "published advisory",
                "affected": [
                    {"package": {"ecosystem": "PyPI", "name": "tinyparse"}, "versions": ["2.4.0"]}
                ],
            }
        )
    )
    import_file(services.db, Principal.system(), path)
    a, b = report(services), report(services, title="again")
    with services.db.transaction() as s:
        published = s.scalar(
            select(Vulnerability.id).where(Vulnerability.source_id == "GHSA-aaaa-bbbb-cccc")
        )
        before = {
            v.id: (v.status, v.record, v.duplicate_of) for v in s.scalars(select(Vulnerability))
        }
        aliases_before = set(
            s.execute(select(VulnerabilityAlias.alias, VulnerabilityAlias.vuln_id)).all()
        )
    assert published is not None
    scan(services, a, b)
    open_before = candidates(services)
    assert pair(a, b, "package_range_cwe") in open_before
    with services.db.transaction() as s:
        m = merges.merge(s, SYSTEM, [b, a, published])
    # The published advisory is primary whatever the order given; the reports point at it.
    assert m.primary_id == published and sorted(m.members) == sorted([a, b])
    with services.db.transaction() as s:
        primary = vuln_detail(s, SYSTEM, published)
        # The primary is public; the embargoed reports do not lend it their ids.
        assert not {a, b} & set(primary.aliases)
        for vid in (a, b):
            v = s.get(Vulnerability, vid)
            assert v is not None and (v.status, v.duplicate_of) == ("duplicate", published)
        # Looking a member up by its own id still finds the member, not the primary.
        assert vuln_detail(s, SYSTEM, a).id == a
    assert pair(a, b, "package_range_cwe") not in candidates(services)  # decided
    with services.db.transaction() as s, pytest.raises(Conflict):
        merges.merge(s, SYSTEM, [a, published])
    with services.db.transaction() as s:
        merges.undo_merge(s, SYSTEM, m.id)
    with services.db.transaction() as s:
        after = {
            v.id: (v.status, v.record, v.duplicate_of) for v in s.scalars(select(Vulnerability))
        }
        aliases_after = set(
            s.execute(select(VulnerabilityAlias.alias, VulnerabilityAlias.vuln_id)).all()
        )
    for vid, (status, record, dup) in before.items():
        assert after[vid][0] == status and after[vid][2] == dup
        assert after[vid][1]["aliases" if "aliases" in record else "id"] == record.get(
            "aliases", record["id"]
        )
    assert aliases_after == aliases_before
    assert candidates(services) == open_before
    with services.db.transaction() as s, pytest.raises(Conflict):
        merges.undo_merge(s, SYSTEM, m.id)


def test_a_merge_gathers_the_public_members_ids_as_aliases(
    services: Services, tmp_path: Path
) -> None:
    def rec(rid: str, published: str) -> dict[str, Any]:
        return {
            "id": rid,
            "modified": "2026-02-01T00:00:00Z",
            "published": published,
            "summary": rid,
            "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1"]}],
        }

    path = tmp_path / "two.jsonl"
    path.write_text(
        json.dumps(rec("GHSA-later", "2026-01-02T00:00:00Z"))
        + "\n"
        + json.dumps(rec("PYSEC-earlier", "2026-01-01T00:00:00Z"))
    )
    import_file(services.db, Principal.system(), path)
    with services.db.transaction() as s:
        m = merges.merge(s, SYSTEM, ["GHSA-later", "PYSEC-earlier"])
        primary = vuln_detail(s, SYSTEM, m.primary_id)
    assert primary.source_id == "PYSEC-earlier"  # the earliest published
    assert "GHSA-later" in primary.aliases


def test_primary_choice_does_not_depend_on_order(services: Services) -> None:
    ids = [report(services, title=f"report {n}") for n in range(4)]
    with services.db.transaction() as s:
        vulns = [s.get(Vulnerability, i) for i in ids]
        assert all(vulns)
        first = merges.primary_of(vulns)  # type: ignore[arg-type]
        assert merges.primary_of(list(reversed(vulns))) is first  # type: ignore[arg-type]
        assert first.id == min(ids)  # none published: the lowest id


def test_a_reviewer_may_reject_a_candidate(services: Services) -> None:
    a, b = report(services), report(services, title="again")
    scan(services, a, b)
    with services.db.transaction() as s:
        (cand,) = [
            c for c in dedup_candidates.list_candidates(s, SYSTEM) if c.rule == "package_range_cwe"
        ]
        assert dedup_candidates.reject_candidate(s, SYSTEM, cand.id).state == "rejected"
    with services.db.transaction() as s, pytest.raises(Conflict):
        dedup_candidates.reject_candidate(s, SYSTEM, cand.id)
    scan(services, a, b)  # a later scan does not reopen a decided pair
    assert pair(a, b, "package_range_cwe") not in candidates(services)


def test_a_reporter_never_learns_the_id_of_a_record_it_may_not_see_through_duplicate_of(
    client: TestClient,
    services: Services,
    world: World,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Org A's report is merged into org B's embargoed record. A may still read its own record
    (now a duplicate), but on no read path may B's id reach it: REST get, list and search,
    every export format, the CLI, the public OSV API and the dump. A coordinator sees it."""
    org_a, org_b = world.org(OrgKind.vendor), world.org(OrgKind.vendor)
    a_member = world.member(org_a, OrgKind.vendor, Role.member)
    b_member = world.member(org_b, OrgKind.vendor, Role.member)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    b_vid = post_report(client, b_member)
    a_vid = post_report(client, a_member)
    merged = client.post("/api/v1/merges", json={"vuln_ids": [a_vid, b_vid]}, headers=coord.headers)
    assert merged.status_code == 201 and merged.json()["primary_id"] == b_vid, merged.text

    seen: list[str] = []
    mine = client.get(f"/api/v1/vulns/{a_vid}", headers=a_member.headers)
    assert mine.status_code == 200 and mine.json()["status"] == "duplicate"
    assert mine.json()["duplicate_of"] is None
    seen.append(mine.text)
    for query in ("", "?q=tinyparse", "?status=duplicate", "?ecosystem=PyPI&package=tinyparse"):
        listing = client.get(f"/api/v1/vulns{query}", headers=a_member.headers)
        assert [v["id"] for v in listing.json()["items"]] == [a_vid], (query, listing.text)
        assert listing.json()["items"][0]["duplicate_of"] is None
        seen.append(listing.text)
    for fmt in ("osv", "csaf", "csaf-vex", "stix"):
        r = client.get(f"/api/v1/vulns/{a_vid}/export?format={fmt}", headers=a_member.headers)
        assert r.status_code == 200, (fmt, r.text)
        seen.append(r.text)
    assert client.get(f"/api/v1/vulns/{b_vid}", headers=a_member.headers).status_code == 404
    seen += [
        client.post("/v1/query", json={"package": {"purl": "pkg:pypi/tinyparse@2.4.0"}}).text,
        client.get("/v1/vulns?modified_since=2000-01-01T00:00:00Z").text,
        client.get(f"/v1/vulns/{a_vid}").text,
    ]
    env = {**cli_env, "CLEARINGHOUSE_TOKEN": a_member.token}
    for args in (["show", a_vid], ["list"], ["export", a_vid, "--format", "csaf"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "clearinghouse",
                "vulns",
                *args,
                *(["--json"] if args[0] != "export" else []),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (args, proc.stderr)
        seen.append(proc.stdout)
    proc = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "vulns", "dump", str(tmp_path / "d"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seen += [proc.stdout, proc.stderr]
    seen += [p.read_bytes().decode("latin-1") for p in (tmp_path / "d").rglob("*") if p.is_file()]
    leaks = [text[:300] for text in seen if b_vid in text]
    assert not leaks, leaks
    # The coordinator may see both, and does see the link.
    coord_view = client.get(f"/api/v1/vulns/{a_vid}", headers=coord.headers).json()
    assert coord_view["duplicate_of"] == b_vid
    coord_list = client.get("/api/v1/vulns?status=duplicate", headers=coord.headers).json()
    assert [v["duplicate_of"] for v in coord_list["items"]] == [b_vid]
    # B, the primary's reporter, sees its own record and nothing of A's.
    b_view = client.get(f"/api/v1/vulns/{b_vid}", headers=b_member.headers).json()
    assert a_vid not in json.dumps(b_view)
