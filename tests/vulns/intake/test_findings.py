"""Intake of what eval runs found, and reports that name an eval run.

vulns imports no evals code: it learns whether a run exists, and whose it is, through the
`EvalRuns` seam that the evals domain fills. The foreign keys from `vulnerability_reports` to
the eval tables are gone (migration 0008), so these checks are all that stands between a
forged run id and the triage queue: each test plays that forger."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.ids import new_id
from clearinghouse.evals.models import EvalVulnerabilityReport
from clearinghouse.evals.runs.services import RUNS
from clearinghouse.vulns.intake.findings import Finding, RunProvenance, file_finding
from clearinghouse.vulns.models import Vulnerability, VulnerabilityReport
from clearinghouse.vulns.reports import submit_report
from clearinghouse.vulns.schemas import ReportCreate
from tests.evals.runs.support import run_row
from tests.support.imports import modules_under, within
from tests.support.vulns import audit_count, report_body
from tests.support.world import World


def _run(services: Services, evaluator_org_id: str | None) -> tuple[str, str]:
    """A run of `evaluator_org_id` and one finding it staged: (run id, finding id)."""
    with services.db.transaction() as s:
        run = run_row(evaluator_org_id)
        s.add(run)
        s.flush()
        staged = EvalVulnerabilityReport(
            id=new_id("evr"),
            run_id=run.id,
            task="poc_asan",
            sample_id="cwe787-level0",
            epoch=1,
            target="pkg:pypi/tinyparse@2.4.0",
            description="heap overflow",
            poc="",
            transcript_excerpt="",
            created_at=utcnow(),
        )
        s.add(staged)
        return run.id, staged.id


def _finding(run_id: str, finding_id: str, **over: str) -> Finding:
    return Finding(
        provenance=RunProvenance(
            run_id=run_id,
            model="openai-api/lab/model-x",
            task="poc_asan",
            sample_id="cwe787-level0",
            epoch=1,
            finding_id=finding_id,
        ),
        target=over.get("target", "pkg:pypi/tinyparse@2.4.0"),
        description=over.get(
            "description", "heap overflow in parse_header when the length byte is 0xff"
        ),
        poc=over.get("poc", "\\xff" * 70),
    )


def _as(org_id: str, run_id: str) -> Principal:
    return Principal.on_behalf_of(org_id, OrgKind.evaluator, f"eval run {run_id} found it")


def _nothing_filed(services: Services, audit_before: int) -> None:
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Vulnerability)) == 0
        assert s.scalar(select(func.count()).select_from(VulnerabilityReport)) == 0
    assert audit_count(services) == audit_before


def test_vulns_imports_no_evals_code() -> None:
    """Lazy imports included: vulns learns about runs only through the seam."""
    leaks = {
        module: sorted(n for n in names if within(n, "clearinghouse.evals"))
        for module, names in modules_under("clearinghouse.vulns").items()
    }
    assert {m: n for m, n in leaks.items() if n} == {}


def test_a_finding_becomes_a_report_that_carries_its_provenance(
    services: Services, world: World
) -> None:
    evaluator = world.org(OrgKind.evaluator)
    run_id, finding_id = _run(services, evaluator)
    with services.db.transaction() as s:
        out = file_finding(
            s, _as(evaluator, run_id), services.vault, RUNS, _finding(run_id, finding_id)
        )
    assert (out.provenance, out.eval_run_id, out.reporter_org_id) == ("eval_run", run_id, evaluator)
    assert out.model_name == "openai-api/lab/model-x" and out.poc_sha256
    with services.db.transaction() as s:
        report = s.get(VulnerabilityReport, out.id)
        assert report is not None and report.eval_report_id == finding_id
        vuln = s.get(Vulnerability, out.vuln_id)
        assert vuln is not None and vuln.status == "new"
        assert f"eval run {run_id}, task poc_asan, sample cwe787-level0 (epoch 1)" in vuln.details
        event = s.scalars(select(AuditEvent).where(AuditEvent.tag == "vulns:report:create")).one()
        assert event.actor_org_id == evaluator
        assert event.data["on_behalf_of"] == f"eval run {run_id} found it"


def test_a_finding_of_a_forged_run_is_refused_and_files_nothing(
    services: Services, world: World
) -> None:
    evaluator = world.org(OrgKind.evaluator)
    _, finding_id = _run(services, evaluator)
    before = audit_count(services)
    forged = new_id("run")
    with services.db.transaction() as s, pytest.raises(InvalidInput) as refused:
        file_finding(s, _as(evaluator, forged), services.vault, RUNS, _finding(forged, finding_id))
    assert refused.value.code == "run_unknown"
    _nothing_filed(services, before)


def test_a_finding_filed_in_another_evaluators_name_is_refused(
    services: Services, world: World
) -> None:
    """The run exists, but it is not the reporter's organisation's."""
    theirs, mine = world.org(OrgKind.evaluator), world.org(OrgKind.evaluator)
    run_id, finding_id = _run(services, theirs)
    before = audit_count(services)
    with services.db.transaction() as s, pytest.raises(InvalidInput) as refused:
        file_finding(s, _as(mine, run_id), services.vault, RUNS, _finding(run_id, finding_id))
    assert refused.value.code == "run_unknown"
    _nothing_filed(services, before)


def test_a_finding_the_run_never_staged_is_refused(services: Services, world: World) -> None:
    """The foreign key to the staging row is gone too: a finding id must be one of the run's."""
    evaluator = world.org(OrgKind.evaluator)
    run_id, _ = _run(services, evaluator)
    _, other_runs_finding = _run(services, evaluator)
    before = audit_count(services)
    for finding_id in (new_id("evr"), other_runs_finding):
        with services.db.transaction() as s, pytest.raises(InvalidInput) as refused:
            file_finding(
                s, _as(evaluator, run_id), services.vault, RUNS, _finding(run_id, finding_id)
            )
        assert refused.value.code == "finding_unknown"
    _nothing_filed(services, before)


def test_what_a_model_wrote_cannot_fail_the_filing(services: Services, world: World) -> None:
    """Untrusted text: NUL and lone surrogates are cleaned, an unusable target becomes the
    task's generic purl."""
    run_id, finding_id = _run(services, None)  # a run with no evaluator files as the system
    hostile = _finding(
        run_id,
        finding_id,
        target="pkg:nonsense/\x00" + "a" * 600,
        description="\x00\ud800 model output that no database can store",
        poc="",
    )
    with services.db.transaction() as s:
        out = file_finding(s, Principal.system(), services.vault, RUNS, hostile)
    assert out.target_purl == "pkg:generic/eval/poc_asan" and out.poc_sha256 is None


def test_without_the_directory_of_runs_a_report_naming_a_run_is_refused(
    services: Services, world: World
) -> None:
    """The seam's default twin knows no run: a caller that does not pass the evals domain's
    directory cannot file a report naming a run (it fails closed)."""
    evaluator = world.org(OrgKind.evaluator)
    run_id, _ = _run(services, evaluator)
    body = ReportCreate.model_validate(
        report_body(provenance={"kind": "eval_run", "eval_run_id": run_id})
    )
    with services.db.transaction() as s, pytest.raises(InvalidInput) as refused:
        submit_report(s, _as(evaluator, run_id), services.vault, body)
    assert refused.value.code == "run_unknown"


def test_a_report_over_http_may_name_only_a_run_of_the_reporters_organisation(
    client: TestClient, services: Services, world: World
) -> None:
    mine, theirs = world.org(OrgKind.evaluator), world.org(OrgKind.evaluator)
    me = world.member(mine, OrgKind.evaluator, Role.member)
    my_run, _ = _run(services, mine)
    their_run, _ = _run(services, theirs)
    before = audit_count(services)
    for run_id in (new_id("run"), their_run):
        body = report_body(provenance={"kind": "eval_run", "eval_run_id": run_id})
        r = client.post("/api/v1/reports", json=body, headers=me.headers)
        assert r.status_code == 422 and r.json()["code"] == "run_unknown", r.text
    _nothing_filed(services, before)
    body = report_body(provenance={"kind": "eval_run", "eval_run_id": my_run})
    r = client.post("/api/v1/reports", json=body, headers=me.headers)
    assert r.status_code == 201, r.text
    assert r.json()["eval_run_id"] == my_run and r.json()["provenance"] == "eval_run"


def test_a_report_from_the_cli_may_name_only_a_run_of_the_reporters_organisation(
    cli_env: dict[str, str], services: Services, world: World
) -> None:
    mine = world.org(OrgKind.evaluator)
    me = world.member(mine, OrgKind.evaluator, Role.member)
    my_run, _ = _run(services, mine)

    def report(run_id: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "clearinghouse", "vulns", "report",
                "--title", "Heap overflow in tinyparse",
                "--description", "A long header overflows a fixed heap buffer in the parser.",
                "--purl", "pkg:pypi/tinyparse@2.4.0",
                "--eval-run", run_id,
                "--json",
            ],
            env={**cli_env, "CLEARINGHOUSE_TOKEN": me.token},
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip

    forged = report(new_id("run"))
    assert forged.returncode == 1 and "run_unknown" in forged.stderr, forged.stderr
    filed = report(my_run)
    assert filed.returncode == 0, filed.stderr
    assert json.loads(filed.stdout)["eval_run_id"] == my_run
