"""Default-deny in `clearinghouse vulns ...`: no command acts as the system. Each one needs a
token (`--token` or CLEARINGHOUSE_TOKEN) and goes through the policy as over HTTP, with the
authorisation inside the service functions: imports and the CWE import need `vuln:import`
(coordinator member), dedup scans and merges the coordinators' `vuln:merge`, and a dump or an
export holds what the token may see. Without a token every command exits non-zero with a
clear message and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.audit.models import AuditEvent
from clearinghouse.cli import common
from clearinghouse.cli.main import app
from clearinghouse.container import Services
from clearinghouse.storage.jobs import Job
from clearinghouse.vulns.models import (
    CweEntry,
    DuplicateCandidate,
    Merge,
    Vulnerability,
    VulnerabilityReport,
)
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.reports import post_report
from tests.support.world import Member, World
from tests.vulns import recipe_kit


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The real command line, in this process, over the test's database."""
    monkeypatch.setattr(common, "_services", services)
    runner = CliRunner()

    def run(token: str | None, *args: str) -> Any:
        return runner.invoke(app, ["vulns", *args], env={"CLEARINGHOUSE_TOKEN": token})

    yield run


@pytest.fixture
def setup(client: TestClient, world: World, tmp_path: Path) -> dict[str, Any]:
    coord_org = world.org(OrgKind.coordinator)
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    coordinator = world.member(coord_org, OrgKind.coordinator, Role.member)
    ids = [post_report(client, lab) for _ in range(2)]
    osv = tmp_path / "osv.jsonl"
    osv.write_text(
        json.dumps(
            {
                "id": "PYSEC-2026-77",
                "modified": "2026-01-01T00:00:00Z",
                "summary": "public",
                "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1"]}],
            }
        )
        + "\n"
    )
    cwe = tmp_path / "cwe.csv"
    cwe.write_text("CWE-ID,Name,Weakness Abstraction,Status\n787,Out-of-bounds Write,Base,Stable\n")
    return {"lab": lab, "coordinator": coordinator, "ids": ids, "osv": osv, "cwe": cwe}


def state(services: Services) -> dict[str, Any]:
    with services.db.transaction() as s:
        counts = {
            m.__name__: s.scalar(select(func.count()).select_from(m))
            for m in (
                Vulnerability,
                VulnerabilityReport,
                CweEntry,
                DuplicateCandidate,
                Merge,
                AuditEvent,
            )
        }
        statuses = sorted(s.execute(select(Vulnerability.id, Vulnerability.status)).all())
    return {"counts": counts, "statuses": statuses}


def commands(setup: dict[str, Any], tmp_path: Path) -> list[list[str]]:
    a, b = setup["ids"]
    return [
        ["import", str(setup["osv"])],
        ["import", str(setup["osv"]), "--format", "osv"],
        ["cwe-import", str(setup["cwe"])],
        ["dedup", "--open"],
        ["dedup", a, b],
        ["dump", str(tmp_path / "dump")],
        ["export", a],
        ["list"],
        ["show", a],
        ["triage", a, "--status", "triaged"],
        [
            "report",
            "--title",
            "A title",
            "--description",
            "A long description.",
            "--purl",
            "pkg:pypi/x@1",
        ],
        ["reports"],
        ["candidates"],
        ["merge", a, b],
        ["unmerge", "mrg_x"],
        ["reject-candidate", "dup_x"],
        ["recipe", "vrp_x", str(recipe_kit.HEAP)],
        ["recipe", "vrp_x", str(recipe_kit.HEAP), "--wait"],
        ["validation", "vrp_x"],
        ["queue"],
        ["spot-checks"],
        ["override", "vrp_x", "--signal", "ssvc", "--value", "track", "--reason", "r"],
    ]


def test_without_a_token_every_vulns_command_is_refused_and_changes_nothing(
    cli: Any, services: Services, setup: dict[str, Any], tmp_path: Path
) -> None:
    before = state(services)
    for args in commands(setup, tmp_path):
        result = cli(None, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "unauthenticated" in result.stderr and "--token" in result.stderr, args
        assert result.stdout == "", args
    assert state(services) == before
    assert not (tmp_path / "dump").exists()


def test_without_a_token_the_installed_command_refuses_too(
    cli_env: dict[str, str], services: Services, setup: dict[str, Any]
) -> None:
    before = state(services)
    proc = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "vulns", "import", str(setup["osv"])],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "unauthenticated" in proc.stderr, proc.stderr
    assert state(services) == before


def test_a_lab_token_may_not_run_the_coordinators_commands(
    cli: Any, services: Services, setup: dict[str, Any]
) -> None:
    lab: Member = setup["lab"]
    a, b = setup["ids"]
    before = state(services)
    for args in (
        ["import", str(setup["osv"])],
        ["import", str(setup["osv"]), "--format", "kev"],
        ["cwe-import", str(setup["cwe"])],
        ["dedup", "--open"],
        ["dedup", a, b],
        ["merge", a, b],
        ["candidates"],
        ["triage", a, "--status", "triaged"],
    ):
        result = cli(lab.token, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "permission_denied" in result.stderr, (args, result.stderr)
    assert state(services) == before


def test_a_coordinator_token_imports_scans_and_merges(
    cli: Any, services: Services, setup: dict[str, Any], tmp_path: Path
) -> None:
    token = setup["coordinator"].token
    a, b = setup["ids"]
    imported = cli(token, "import", str(setup["osv"]), "--json")
    assert imported.exit_code == 0 and json.loads(imported.stdout)["created"] == 1, imported.output
    cwe = cli(token, "cwe-import", str(setup["cwe"]), "--json")
    assert cwe.exit_code == 0 and json.loads(cwe.stdout)["created"] == 1, cwe.output
    scanned = cli(token, "dedup", "--open", "--json")
    assert scanned.exit_code == 0, scanned.output
    assert json.loads(scanned.stdout)["scanned"] == 2
    assert json.loads(scanned.stdout)["candidates_created"] >= 1
    merged = cli(token, "merge", a, b, "--json")
    assert merged.exit_code == 0 and json.loads(merged.stdout)["primary_id"] == a, merged.output
    # The lab may dump: what it gets is what the public may see, its own reports not included.
    dumped = cli(setup["lab"].token, "dump", str(tmp_path / "d"), "--json")
    assert dumped.exit_code == 0 and json.loads(dumped.stdout) == {"ecosystems": 1, "records": 1}
    exported = cli(setup["lab"].token, "export", a)
    assert exported.exit_code == 0 and json.loads(exported.stdout)["id"] == f"x_{a}"
    with services.db.transaction() as s:
        tags = s.scalars(select(AuditEvent.tag)).all()
    assert (
        "vulns:records:import" in tags and "vulns:cwe:import" in tags and "vulns:dedup:scan" in tags
    )


@pytest.mark.parametrize("bad", ["\udcff", "CH-2026-\udc80"])
def test_arguments_no_database_can_store_are_refused_not_a_traceback(
    cli: Any, services: Services, setup: dict[str, Any], bad: str
) -> None:
    """Bytes that are not UTF-8 in argv reach Python as lone surrogates, which no database
    driver can encode: they must be a clean refusal (exit 1, a code), not a crash."""
    token = setup["coordinator"].token
    before = state(services)
    for args, code in (
        (["show", bad], "not_found"),
        (["export", bad], "not_found"),
        (["triage", bad, "--status", "triaged"], "not_found"),
        (["merge", bad, setup["ids"][0]], "not_found"),
        (["unmerge", bad], "not_found"),
        (["reject-candidate", bad], "not_found"),
        (["candidates", "--vuln-id", bad], "filter_invalid"),
        (["list", "--package", bad], "filter_invalid"),
        (["list", "--ecosystem", bad], "filter_invalid"),
        (["dedup", bad], "not_found"),
    ):
        result = cli(token, *args)
        assert result.exit_code == 1, (args, result.output, result.exception)
        assert code in result.stderr, (args, result.stderr)
    assert state(services) == before


@needs_bwrap
@needs_gcc
def test_a_recipe_attached_from_the_command_line_is_validated_and_triaged(
    cli: Any, client: TestClient, services: Services, setup: dict[str, Any]
) -> None:
    """`vulns recipe --wait` runs that validation's job only, here; `vulns validation` shows
    it; the queue and the spot checks are the coordinators'; an override needs a reason."""
    lab, coordinator = setup["lab"], setup["coordinator"]
    report = client.post(
        "/api/v1/reports",
        headers=lab.headers,
        json={
            "title": "Heap overflow in store_field()",
            "description": "store_field() in records.c writes the NUL one byte past the buffer.",
            "provenance": {"kind": "ai_model", "model_name": "finder"},
            "target": {"purl": recipe_kit.HEAP_TARGET},
        },
    ).json()
    # Someone else's queued job is never run by this shell.
    other = client.post(
        f"/api/v1/reports/{report['id']}/recipe",
        headers={**lab.headers, "Content-Type": "application/gzip"},
        content=recipe_kit.tiny(),
    ).json()
    done = cli(lab.token, "recipe", report["id"], str(recipe_kit.HEAP), "--wait", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert (result["state"], result["verdict"], result["fixed_verdict"]) == (
        "done",
        "reproduced",
        "fixed_confirmed",
    )
    assert result["signature"] == "heap-buffer-overflow@store_field|parse_records|main"
    with services.db.transaction() as s:
        job = s.get(Job, other["job_id"])
        assert job is not None and job.state == "queued"
    shown = cli(lab.token, "validation", report["id"], "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == result["id"], shown.output
    every = cli(lab.token, "validation", report["id"], "--all", "--json")
    assert [v["id"] for v in json.loads(every.stdout)] == [result["id"], other["id"]]
    # A tarball works as well as a directory.
    tarball = Path(services.settings.var_dir) / "recipe.tgz"
    tarball.write_bytes(recipe_kit.tiny())
    queued = cli(lab.token, "recipe", report["id"], str(tarball), "--json")
    assert queued.exit_code == 0 and json.loads(queued.stdout)["state"] == "queued"

    for args in (["queue"], ["spot-checks"]):
        refused = cli(lab.token, *args)
        assert refused.exit_code == 1 and "permission_denied" in refused.stderr, args
    queue = cli(coordinator.token, "queue", "--json")
    assert queue.exit_code == 0, queue.output
    items = json.loads(queue.stdout)["items"]
    top = next(i for i in items if i["report_id"] == report["id"])
    assert top["position"] == 1 and top["signals"]["reproduced"] == "reproduced"
    text = cli(coordinator.token, "queue")
    assert text.exit_code == 0 and "1. 1 of" in text.stdout
    assert cli(coordinator.token, "spot-checks", "--json").exit_code == 0
    no_reason = cli(
        coordinator.token, "override", report["id"], "--signal", "ssvc", "--value", "track"
    )
    assert no_reason.exit_code == 1 and "override_reason_required" in no_reason.stderr
    given = cli(
        coordinator.token,
        "override",
        report["id"],
        "--signal",
        "ssvc",
        "--value",
        "track",
        "--reason",
        "supplier already engaged",
        "--json",
    )
    assert given.exit_code == 0 and json.loads(given.stdout)["automatic"] == "coordinate"
