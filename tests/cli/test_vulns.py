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
from clearinghouse.vulns.models import (
    CweEntry,
    DuplicateCandidate,
    Merge,
    Vulnerability,
    VulnerabilityReport,
)
from tests.support.reports import post_report
from tests.support.world import Member, World


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
    assert exported.exit_code == 0 and json.loads(exported.stdout)["id"] == a
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
