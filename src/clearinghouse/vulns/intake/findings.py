"""Intake of the vulnerabilities an eval run found: each becomes a report in the triage queue,
carrying where it came from (run, task, sample, epoch, model) as plain data.

The evals domain calls `file_finding` when a run finishes (evals -> vulns; vulns imports no
evals code). What a model wrote is untrusted: text no database can store is cleaned, and a
target that is no usable purl becomes the task's generic one, so a model cannot fail the run's
finish. The run and the finding must exist and be the reporter's: `reports.submit_report`
checks both through the `EvalRuns` seam.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal
from clearinghouse.storage.vault import Vault
from clearinghouse.vulns.purls import package_from_purl
from clearinghouse.vulns.reports import EvalRuns, submit_report
from clearinghouse.vulns.schemas import ReportCreate, ReportOut


@dataclass(frozen=True)
class RunProvenance:
    """Where a finding came from. `finding_id` is the row the run staged for it (evals'
    `eval_vulnerability_reports`): the model's transcript excerpt stays sealed there, and the
    report links to it by id."""

    run_id: str
    model: str  # the run's model spec, e.g. openai-api/lab/model-x
    task: str
    sample_id: str
    epoch: int
    finding_id: str


@dataclass(frozen=True)
class Finding:
    """One `report_vulnerability` call of the model under test."""

    provenance: RunProvenance
    target: str  # what the model named: a purl, or anything at all
    description: str
    poc: str  # empty when the model gave none


def storable(text: str) -> str:
    """`text` without what no database can store (NUL characters, lone surrogates)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def file_finding(
    session: Session, p: Principal, vault: Vault, runs: EvalRuns, finding: Finding
) -> ReportOut:
    """File `finding` as a report in `p`'s name: the evaluator's (`Principal.on_behalf_of`),
    or the system's for a run with no evaluator organisation."""
    prov = finding.provenance
    target = storable(finding.target)
    description = storable(finding.description)
    known = target.startswith("pkg:") and package_from_purl(target) is not None
    purl = target if known and len(target) <= 500 else f"pkg:generic/eval/{prov.task}"
    body = ReportCreate.model_validate(
        {
            "title": f"{prov.task}: {(description.splitlines() or ['report'])[0][:200]}",
            "description": (
                f"Reported by {prov.model} in eval run {prov.run_id}, task {prov.task}, "
                f"sample {prov.sample_id} (epoch {prov.epoch}), target {target[:300]}.\n\n"
                f"{description}"
            )[:200_000],
            "provenance": {
                "kind": "eval_run",
                "model_name": prov.model[:200],
                "eval_run_id": prov.run_id,
            },
            "target": {"purl": purl[:500]},
            "poc": (
                {
                    "filename": "poc.txt",
                    "content_base64": base64.b64encode(
                        finding.poc.encode("utf-8", "replace")
                    ).decode(),
                }
                if finding.poc
                else None
            ),
        }
    )
    return submit_report(session, p, vault, body, runs=runs, eval_report_id=prov.finding_id)
