"""Exporting a record by any alias, over HTTP and the CLI."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from clearinghouse.container import Services
from tests.support.vulns import (
    submit,
)
from tests.support.world import Member


def test_export_by_any_alias_through_api_and_cli(
    client: TestClient, services: Services, people: dict[str, Member], cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    rep = submit(client, people["lab"])
    h = people["lab"].headers
    for fmt, check in (
        ("osv", lambda d: d["id"] == "x_" + rep["vuln_id"]),  # the OSV schema's x_ prefix
        ("csaf", lambda d: d["document"]["distribution"]["tlp"]["label"] == "RED"),
        ("csaf-vex", lambda d: d["document"]["category"] == "csaf_vex"),
        ("stix", lambda d: d["type"] == "bundle"),
    ):
        r = client.get(f"/api/v1/vulns/{rep['vuln_id']}/export?format={fmt}", headers=h)
        assert r.status_code == 200 and check(r.json()), (fmt, r.text)
    r = client.get(f"/api/v1/vulns/{rep['vuln_id']}/export?format=cve5", headers=h)
    assert r.status_code == 422 and r.json()["code"] == "cve_id_missing"
    assert (
        client.get(
            f"/api/v1/vulns/{rep['vuln_id']}/export?format=csaf", headers=people["other"].headers
        ).status_code
        == 404
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "vulns",
            "export",
            rep["vuln_id"],
            "--format",
            "stix",
        ],
        env={**cli_env, "CLEARINGHOUSE_TOKEN": people["lab"].token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("{"), (proc.stdout, proc.stderr)
    assert json.loads(proc.stdout)["objects"][1]["object_marking_refs"] == [
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"  # TLP:AMBER+STRICT
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "vulns", "export", "NOPE-1"],
        env={**cli_env, "CLEARINGHOUSE_TOKEN": people["lab"].token},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "not_found" in proc.stderr
