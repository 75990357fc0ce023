"""Report intake into the triage queue, over HTTP and the CLI. (What eval runs found:
tests/evals/runs/test_results.py and tests/vulns/intake/test_findings.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.vulns.models import Vulnerability
from tests.support.vulns import (
    POC,
    audit_count,
    report_body,
    submit,
)
from tests.support.world import Member


def test_a_report_enters_the_triage_queue_under_embargo(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    rep = submit(client, people["lab"])
    assert rep["status"] == "new" and rep["provenance"] == "ai_model"
    assert rep["poc_sha256"] and rep["poc_filename"] == "crash.bin"
    queue = client.get("/api/v1/reports?status=new", headers=people["coordinator"].headers).json()
    assert [r["id"] for r in queue["items"]] == [rep["id"]]
    vuln = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=people["lab"].headers).json()
    assert vuln["status"] == "new" and vuln["tlp"] == "AMBER+STRICT"
    assert vuln["embargo_until"] is not None
    assert vuln["cwe_ids"] == ["CWE-787"] and vuln["severity"][0]["base_score"] == 8.8
    assert vuln["record"]["affected"][0]["package"] == {
        "ecosystem": "PyPI",
        "name": "tinyparse",
        "purl": "pkg:pypi/tinyparse",
    }
    # Other organisations learn nothing: not the report, not the record, not in listings.
    for who in ("vendor", "other"):
        h = people[who].headers
        assert client.get(f"/api/v1/reports/{rep['id']}", headers=h).status_code == 404
        assert client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=h).status_code == 404
        assert client.get("/api/v1/reports", headers=h).json()["items"] == []
        assert client.get("/api/v1/vulns", headers=h).json()["items"] == []
    assert client.get(f"/v1/vulns/{rep['vuln_id']}").status_code == 404
    # The PoC is sealed: its bytes are nowhere in the database file.
    url = services.settings.effective_database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # + the WAL
        assert len(blob) > 10_000 and POC not in blob


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"target": {"purl": "pkg:unknownthing/x@1"}}, "target_invalid"),
        ({"claimed_cvss": "CVSS:3.1/AV:X"}, "cvss_invalid"),
        ({"target": {"repository_url": "https://github.com/x/y"}}, "invalid_request"),
        ({"provenance": {"kind": "ai_model"}}, "invalid_request"),
        ({"poc": {"filename": "../../etc/passwd", "content_base64": "QQ=="}}, "invalid_request"),
        ({"poc": {"filename": "crash.bin", "content_base64": "not base64!"}}, "poc_invalid"),
        ({"title": "NUL\u0000in the title"}, "invalid_request"),
    ],
)
def test_bad_reports_are_refused_and_store_nothing(
    client: TestClient,
    services: Services,
    people: dict[str, Member],
    over: dict[str, Any],
    code: str,
) -> None:
    before = audit_count(services)
    r = client.post("/api/v1/reports", json=report_body(**over), headers=people["vendor"].headers)
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Vulnerability)) == 0
    assert audit_count(services) == before


@pytest.mark.shared_data
def test_a_claimed_cwe_must_exist_once_the_cwe_list_is_loaded(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    from clearinghouse.vulns.intake.cwe import import_cwe
    from tests.conftest import shared_data_dir

    import_cwe(
        services.db,
        Principal.system(),
        shared_data_dir() / "cwe" / "cwe-2000-comprehensive-dictionary.csv",
    )
    r = client.post(
        "/api/v1/reports", json=report_body(claimed_cwe="CWE-99999"), headers=people["lab"].headers
    )
    assert r.status_code == 422 and r.json()["code"] == "cwe_unknown"
    rep = submit(client, people["lab"])
    vuln = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=people["lab"].headers).json()
    assert vuln["cwes"] == [{"id": "CWE-787", "name": "Out-of-bounds Write"}]


def test_the_triage_queue_from_the_cli(
    people: dict[str, Member], cli_env: dict[str, str], tmp_path: Path
) -> None:
    import subprocess
    import sys

    def cli(who: str, *args: str) -> Any:
        env = {**cli_env, "CLEARINGHOUSE_TOKEN": people[who].token}
        proc = subprocess.run(
            [sys.executable, "-m", "clearinghouse", "vulns", *args, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    poc = tmp_path / "crash.bin"
    poc.write_bytes(POC)
    rep = cli(
        "lab",
        "report",
        "--title", "Heap overflow in tinyparse",
        "--description", "A long header overflows a fixed heap buffer in the parser.",
        "--purl", "pkg:pypi/tinyparse@2.4.0",
        "--model", "model-x",
        "--cwe", "CWE-787",
        "--poc", str(poc),
    )  # fmt: skip
    assert rep["status"] == "new" and rep["poc_filename"] == "crash.bin"
    queue = cli("coordinator", "reports", "--status", "new")
    assert [r["id"] for r in queue["items"]] == [rep["id"]]
    triaged = cli("coordinator", "triage", rep["vuln_id"], "--status", "triaged")
    assert triaged["status"] == "triaged"
    found = cli("coordinator", "list", "--search", "overflow", "--ecosystem", "PyPI")
    assert [v["id"] for v in found["items"]] == [rep["vuln_id"]]
    assert cli("other", "list")["items"] == []
    shown = cli("lab", "show", rep["vuln_id"])
    assert shown["cwe_ids"] == ["CWE-787"] and shown["reports"] == [rep["id"]]
