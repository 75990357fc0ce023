"""A run's results: outcomes and vulnerability reports read from the Inspect log, and the
adoption of those reports into the triage queue."""

from __future__ import annotations

from pathlib import Path

from inspect_ai import eval as inspect_eval
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.evals.battery.families.ctf_generators import TEMPLATES, generate
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.evals.models import EvalVulnerabilityReport
from clearinghouse.evals.runs import results
from clearinghouse.vulns.models import Vulnerability, VulnerabilityReport
from clearinghouse.vulns.reports import list_reports
from tests.evals.runs.support import run_row
from tests.support.needs import needs_bwrap
from tests.support.scripted import scripted, tool_call
from tests.support.world import World


@needs_bwrap
def test_vulnerability_reports_are_harvested_from_the_transcript(tmp_path: Path) -> None:
    task = load_families()["ctf_generated"].task(TaskOptions(seed=0))
    c = generate("crypto_caesar", sorted(TEMPLATES).index("crypto_caesar"))
    task.dataset = task.dataset.filter(lambda s: s.id == c.id)
    log = inspect_eval(
        task,
        model=scripted(
            tool_call(
                "report_vulnerability",
                target="pkg:pypi/demo@1.0",
                description="heap overflow in parse",
                poc="AAAA",
            ),
            tool_call("submit", answer=c.flag),
        ),
        log_dir=str(tmp_path),
        display="none",
    )[0]
    outcomes, errors, _refusals, reports = results._outcomes("ctf_generated", "ctf", log)
    assert [o.value for o in outcomes] == [1.0] and errors == 0
    assert reports[0]["target"] == "pkg:pypi/demo@1.0" and reports[0]["sample_id"] == c.id
    assert (
        "report_vulnerability" in reports[0]["transcript_excerpt"]
        or "Recorded" in reports[0]["transcript_excerpt"]
    )


def test_reports_from_eval_runs_are_adopted_once(services: Services, world: World) -> None:
    evaluator = world.org(OrgKind.evaluator)
    with services.db.transaction() as s:
        run = run_row(evaluator)
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
        results.adopt_vulnerability_reports(s, services, run, [*found, hostile])
        results.adopt_vulnerability_reports(s, services, run, found)  # a retried finish
    with services.db.transaction() as s:
        reports = s.scalars(select(VulnerabilityReport).order_by(VulnerabilityReport.id)).all()
        assert len(reports) == 2
        assert reports[1].target_purl == "pkg:generic/eval/poc_asan"  # the unusable target
        r = reports[0]
        assert (r.provenance, r.eval_run_id, r.reporter_org_id) == ("eval_run", run.id, evaluator)
        # The model's transcript stays sealed with the run; the report links to it by id.
        assert r.transcript_excerpt is None and r.poc_sealed_id and r.eval_report_id
        staged = s.get(EvalVulnerabilityReport, r.eval_report_id)
        assert staged is not None and staged.transcript_excerpt == "" and staged.poc == ""
        assert staged.excerpt_sealed_id and services.vault.reveal_text(
            s, staged.excerpt_sealed_id
        ).startswith("assistant: calling report_vulnerability")
        vuln = s.get(Vulnerability, r.vuln_id)
        assert vuln is not None and vuln.status == "new" and vuln.origin == "report"
        assert "cwe787-level0" in vuln.details
    # Filed in the evaluator's name by the worker, and the trail says so.
    with services.db.transaction() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.tag == "vulns:report:create")).all()
        assert len(events) == 2
        assert all(
            e.actor_org_id == evaluator
            and e.actor_user_id is None
            and e.data["on_behalf_of"] == f"eval run {run.id} found it"
            for e in events
        )
    with services.db.transaction() as s:
        queue = list_reports(s, Principal.system(), status=None)
    assert [q.id for q in queue.items] == [x.id for x in reports]
