"""The authenticated knowledge base end to end over HTTP: report intake into the triage queue,
triage to publication, who may see what, full-text search, filters and pagination, exports,
public dumps, and the adoption of reports that models made during eval runs."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.ids import new_id
from clearinghouse.evals.models import EvalRun
from clearinghouse.evals.services import _adopt_vulnerability_reports
from clearinghouse.vulns.intake.osv import import_file
from clearinghouse.vulns.models import Vulnerability, VulnerabilityReport
from clearinghouse.vulns.publication.dump import dump
from clearinghouse.vulns.publication.export import public_records
from tests.support.world import Member, World

POC = b"\x00\x01AAAA%n%n%n-crash-me-please"


def report_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Out-of-bounds write in tinyparse header reader",
        "description": "A length-prefixed header field is copied into a 64-byte heap buffer "
        "without a bounds check; a crafted file overflows it.",
        "provenance": {"kind": "ai_model", "model_name": "model-x", "model_version": "3"},
        "target": {"purl": "pkg:pypi/tinyparse@2.4.0"},
        "claimed_cwe": "CWE-787",
        "claimed_cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
        "poc": {"filename": "crash.bin", "content_base64": base64.b64encode(POC).decode()},
    }
    return body | over


def audit_count(services: Services) -> int:
    with services.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@pytest.fixture
def people(world: World) -> dict[str, Member]:
    coord = world.org(OrgKind.coordinator)
    lab, vendor, other = (world.org(k) for k in (OrgKind.lab, OrgKind.vendor, OrgKind.vendor))
    return {
        "coordinator": world.member(coord, OrgKind.coordinator, Role.member),
        "coordinator_viewer": world.member(coord, OrgKind.coordinator, Role.viewer),
        "lab": world.member(lab, OrgKind.lab, Role.member),
        "vendor": world.member(vendor, OrgKind.vendor, Role.member),
        "other": world.member(other, OrgKind.vendor, Role.admin),
    }


def submit(client: TestClient, who: Member, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/reports", json=report_body(**over), headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()


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


def test_triage_to_publication_makes_the_record_public(
    client: TestClient, services: Services, people: dict[str, Member], tmp_path: Path
) -> None:
    rep = submit(client, people["lab"])
    vid, coord = rep["vuln_id"], people["coordinator"].headers
    path = f"/api/v1/vulns/{vid}/triage"
    # Only coordinators (member or above) triage; the reporter may read but not change.
    assert (
        client.post(path, json={"status": "triaged"}, headers=people["lab"].headers).status_code
        == 403
    )
    assert (
        client.post(
            path, json={"status": "triaged"}, headers=people["coordinator_viewer"].headers
        ).status_code
        == 403
    )
    # Illegal moves are refused with a stable code.
    r = client.post(path, json={"status": "published"}, headers=coord)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    for status in ("triaged", "validated"):
        assert client.post(path, json={"status": status}, headers=coord).json()["status"] == status
    # Published but still under embargo and AMBER+STRICT: not public yet.
    out = client.post(path, json={"status": "published"}, headers=coord).json()
    assert out["status"] == "published" and out["published"] is not None
    assert client.get(f"/v1/vulns/{vid}").status_code == 404
    assert list(public_records(services.db, Principal.system())) == []
    out = client.post(path, json={"tlp": "CLEAR", "lift_embargo": True}, headers=coord).json()
    assert out["tlp"] == "CLEAR" and out["embargo_until"] is None
    public = client.get(f"/v1/vulns/{vid}").json()
    assert public["id"] == vid and public["published"]
    hits = client.post("/v1/query", json={"package": {"purl": "pkg:pypi/tinyparse@2.4.0"}}).json()
    assert [v["id"] for v in hits["vulns"]] == [vid]
    # Now everyone sees it in listings, and it is in the public dump.
    assert [
        v["id"]
        for v in client.get("/api/v1/vulns", headers=people["other"].headers).json()["items"]
    ] == [vid]
    summary = dump(public_records(services.db, Principal.system()), tmp_path / "dump")
    assert summary == {"ecosystems": 1, "records": 1}
    with zipfile.ZipFile(tmp_path / "dump" / "PyPI" / "all.zip") as z:
        assert z.namelist() == [f"{vid}.json"]
    tags = [e["tag"] for e in client.get("/api/v1/audit/events?limit=100", headers=coord).json()]
    assert tags.count("vulns:vuln:triage") == 4 and "vulns:report:create" in tags


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T00:00:00Z"]
)
def test_an_embargo_date_out_of_range_is_refused_and_changes_nothing(
    client: TestClient, services: Services, people: dict[str, Member], when: str
) -> None:
    """A date that parses but cannot be converted to UTC once reached the database and
    answered 500."""
    rep = submit(client, people["lab"])
    coord = people["coordinator"].headers
    before = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=coord).json()
    events = audit_count(services)
    r = client.post(
        f"/api/v1/vulns/{rep['vuln_id']}/triage", json={"embargo_until": when}, headers=coord
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text
    assert audit_count(services) == events
    after = client.get(f"/api/v1/vulns/{rep['vuln_id']}", headers=coord).json()
    assert after["embargo_until"] == before["embargo_until"]


def test_nothing_non_public_reaches_dumps_or_unauthorised_listings(
    client: TestClient, services: Services, people: dict[str, Member], tmp_path: Path
) -> None:
    public = tmp_path / "p.json"
    public.write_text(
        json.dumps(
            {
                "id": "PYSEC-2099-1",
                "modified": "2099-01-01T00:00:00Z",
                "summary": "public one",
                "affected": [
                    {"package": {"ecosystem": "PyPI", "name": "tinyparse"}, "versions": ["1.0"]}
                ],
            }
        )
    )
    import_file(services.db, Principal.system(), public)
    submit(client, people["lab"])  # embargoed, TLP:AMBER+STRICT, status new
    submit(client, people["vendor"], tlp="CLEAR", embargo_days=0)  # CLEAR but not published
    dumped = dump(public_records(services.db, Principal.system()), tmp_path / "d")
    with zipfile.ZipFile(tmp_path / "d" / "PyPI" / "all.zip") as z:
        assert z.namelist() == ["PYSEC-2099-1.json"]
    assert dumped["records"] == 1
    assert (tmp_path / "d" / "ecosystems.txt").read_text() == "PyPI\n"
    assert (
        tmp_path / "d" / "modified_id.csv"
    ).read_text() == "2099-01-01T00:00:00Z,PyPI/PYSEC-2099-1\n"
    listing = client.get("/api/v1/vulns", headers=people["other"].headers).json()["items"]
    assert [v["source_id"] for v in listing] == ["PYSEC-2099-1"]
    mine = client.get("/api/v1/vulns", headers=people["vendor"].headers).json()["items"]
    assert len(mine) == 2  # the public one and its own report
    everything = client.get("/api/v1/vulns", headers=people["coordinator"].headers).json()["items"]
    assert len(everything) == 3


def test_search_filters_and_pagination(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    submit(
        client,
        people["lab"],
        title="Heap overflow in zlib inflate window",
        description="The inflate window copy overflows when the distance exceeds the window size.",
        claimed_cwe="CWE-122",
        target={"purl": "pkg:npm/zlib-port@1.0.0"},
    )
    submit(
        client,
        people["lab"],
        title="SQL injection in report filter",
        description="The filter parameter is concatenated into a SQL statement without escaping.",
        claimed_cwe="CWE-89",
        target={"purl": "pkg:pypi/reportlib@0.9"},
    )
    for n in range(3):
        submit(
            client,
            people["lab"],
            title=f"Null dereference number {n}",
            description="A missing header makes the parser dereference a null pointer.",
            claimed_cwe="CWE-476",
        )
    h = people["coordinator"].headers

    def ids(query: str) -> list[str]:
        r = client.get(f"/api/v1/vulns?{query}", headers=h)
        assert r.status_code == 200, r.text
        return [v["summary"] for v in r.json()["items"]]

    assert ids("q=inflate window") == ["Heap overflow in zlib inflate window"]
    assert ids("q=escaping") == ["SQL injection in report filter"]  # words of the details
    assert ids("q=nothing-matches-this") == []
    assert ids("cwe=CWE-89") == ["SQL injection in report filter"]
    assert ids("ecosystem=npm") == ["Heap overflow in zlib inflate window"]
    assert ids("ecosystem=PyPI&package=ReportLib") == ["SQL injection in report filter"]  # PEP 503
    assert len(ids("status=new")) == 5 and ids("status=published") == []
    assert len(ids("kev=false")) == 5 and ids("kev=true") == []
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/vulns?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=h
        ).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5
    assert client.get("/api/v1/vulns?q=%20%20", headers=h).json()["code"] == "search_empty"
    assert client.get("/api/v1/vulns?cursor=@@@", headers=h).json()["code"] == "cursor_invalid"


def test_export_by_any_alias_through_api_and_cli(
    client: TestClient, services: Services, people: dict[str, Member], cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    rep = submit(client, people["lab"])
    h = people["lab"].headers
    for fmt, check in (
        ("osv", lambda d: d["id"] == rep["vuln_id"]),
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


def test_reports_from_eval_runs_are_adopted_once(services: Services, world: World) -> None:
    evaluator = world.org(OrgKind.evaluator)
    with services.db.transaction() as s:
        run = EvalRun(
            id=new_id("run"),
            evaluator_org_id=evaluator,
            model_spec="openai-api/lab/model-x",
            is_reference=True,
            tasks=["poc_asan"],
            options={},
            state="running",
            created_at=utcnow(),
        )
        s.add(run)
        s.flush()
        found = [
            {
                "task": "poc_asan",
                "sample_id": "cwe787-level0",
                "epoch": 1,
                "target": "pkg:pypi/tinyparse@2.4.0",
                "description": "heap overflow in parse_header when the length byte is 0xff",
                "poc": "\\xff" * 70,
                "transcript_excerpt": "assistant: calling report_vulnerability(...)",
            }
        ]
        hostile = {
            **found[0],
            "sample_id": "x",
            "target": "pkg:nonsense/\x00" + "a" * 600,
            "description": "\x00\ud800 model output that no database can store",
        }
        _adopt_vulnerability_reports(s, services, run, [*found, hostile])
        _adopt_vulnerability_reports(s, services, run, found)  # a retried finish
    with services.db.transaction() as s:
        reports = s.scalars(select(VulnerabilityReport).order_by(VulnerabilityReport.id)).all()
        assert len(reports) == 2
        assert reports[1].target_purl == "pkg:generic/eval/poc_asan"  # the unusable target
        r = reports[0]
        assert (r.provenance, r.eval_run_id, r.reporter_org_id) == ("eval_run", run.id, evaluator)
        assert r.transcript_excerpt and r.poc_sealed_id and r.eval_report_id
        vuln = s.get(Vulnerability, r.vuln_id)
        assert vuln is not None and vuln.status == "new" and vuln.origin == "report"
        assert "cwe787-level0" in vuln.details
    from clearinghouse.vulns.reports import list_reports

    with services.db.transaction() as s:
        queue = list_reports(s, Principal.system(), status=None)
    assert [q.id for q in queue.items] == [x.id for x in reports]


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


@pytest.mark.parametrize(
    "query",
    [
        "q=a%00b",
        "ecosystem=Py%00PI",
        "package=de%00mo",
        "ecosystem=PyPI&package=%ED%A0%80",
        "q=%ED%A0%80",
        "cwe=CWE-1%00",
        "cursor=%00",
    ],
)
def test_unstorable_text_in_listing_parameters_is_refused_not_a_500(
    client: TestClient, people: dict[str, Member], query: str
) -> None:
    """A NUL, or a lone surrogate, in a filter reached the database: PostgreSQL refuses NUL in
    text, and neither backend can encode a surrogate."""
    r = client.get(f"/api/v1/vulns?{query}", headers=people["coordinator"].headers)
    assert r.status_code in (200, 422), (query, r.status_code, r.text[:300])
    if r.status_code == 422:
        codes = ("invalid_request", "cursor_invalid", "filter_invalid", "search_empty")
        assert r.json()["code"] in codes, r.text
