"""A run's results: outcomes and vulnerability reports read from the Inspect log, and the
adoption of those reports into the triage queue."""

from __future__ import annotations

from pathlib import Path

from inspect_ai import eval as inspect_eval

from clearinghouse.evals.battery.families.ctf_generators import TEMPLATES, generate
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.battery.registry import load_families
from clearinghouse.evals.runs import results
from tests.support.needs import needs_bwrap
from tests.support.scripted import scripted, tool_call


@needs_bwrap
def test_vulnerability_reports_are_harvested_from_the_transcript(tmp_path: Path) -> None:
    task = load_families()["ctf_generated"].task(TaskOptions())
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
