"""Validations of reports (issue 11): a recipe attached to a report is sealed and reproduced by a
durable job, and its result is stored on the report and feeds the record and the triage
signals.

- `attach_recipe`: the reporting organisation or a coordinator sends a recipe (an archive, or
  its files: `vulns/recipes.py`). It is unpacked into a temporary directory and parsed there
  (a bad recipe is refused now, with the recipe's own error code), sealed in the blob store,
  and a `Validation` row (`queued`) and its job (`vulns.validate`) are created in the same
  transaction, with the audit event.
- `run` (the job, `vulns/tasks.py`): not transactional, since a validation runs for seconds to
  minutes and SQLite has one writer. It claims the row for its job attempt in a short
  transaction, reproduces the recipe with nothing held open (the recipe revealed into a
  temporary directory that is removed afterwards), and writes the result in a second short
  transaction only if the row is still its attempt's and unfinished. A worker killed mid-run
  leaves the row `running`; the job's next attempt takes it over and the first one's late
  write, if it ever comes, changes nothing. Re-running a finished validation does nothing.
- A reproduced crash signature becomes the record's `crash_signature` when it has none (and a
  dedup scan is queued, so the crash rule can use it); the report's signals are computed again
  against the recipe's source (`vulns/screening.py`).

The verdict `error` (the harness could not tell, or the recipe broke at run time: a source that
cannot be fetched, an archive in the recipe that is refused) makes the state `error`; every
other verdict is `done`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.audit.schemas import Actor
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import ClearinghouseError, InvalidInput
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.sandbox.signature import is_signature
from clearinghouse.storage import jobs
from clearinghouse.storage.services import Services
from clearinghouse.vulns import recipes, screening
from clearinghouse.vulns.models import Validation, Vulnerability, VulnerabilityReport
from clearinghouse.vulns.osv import Record
from clearinghouse.vulns.recipes import RecipeUpload
from clearinghouse.vulns.schemas import ValidationOut
from clearinghouse.vulns.signals.errors import SignalInputInvalid
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.source_trees import SourceTrees, remember
from clearinghouse.vulns.validation.expect import bounded
from clearinghouse.vulns.validation.runner import Validator, validator_for
from clearinghouse.vulns.validation.schemas import FixedVerdict, ValidationResult, Verdict
from clearinghouse.vulns.visibility import load_report

JOB_KIND = "vulns.validate"
MAX_ATTEMPTS = 3
CRASH_SIGNATURE_CHARS = 128  # the record's `crash_signature` column


def out(v: Validation) -> ValidationOut:
    return ValidationOut(
        id=v.id,
        report_id=v.report_id,
        vuln_id=v.vuln_id,
        state=v.state,
        verdict=v.verdict,
        fixed_verdict=v.fixed_verdict,
        crash_type=v.crash_type,
        signature=v.signature,
        error_code=v.error_code,
        evidence=v.evidence,
        build_cached=v.build_cached,
        fixed_build_cached=v.fixed_build_cached,
        timings=v.timings,
        details=v.result,
        recipe_filename=v.recipe_filename,
        recipe_sha256=v.recipe_sha256,
        job_id=v.job_id,
        created_at=v.created_at,
        started_at=v.started_at,
        finished_at=v.finished_at,
        validated_at=v.validated_at,
    )


# --- attaching a recipe ----------------------------------------------------------------------


def attach_recipe(
    session: Session, p: Principal, services: Services, report_id: str, upload: RecipeUpload
) -> ValidationOut:
    """Attach a recipe to a report and queue its validation (202 over HTTP)."""
    report = load_report(session, p, report_id, Action.vuln_recipe_attach, for_update=True)
    if len(upload.data) > services.settings.recipe_max_bytes:
        raise recipes.RecipeUploadInvalid(
            f"the recipe is larger than {services.settings.recipe_max_bytes} bytes",
            code="recipe_too_large",
        )
    with tempfile.TemporaryDirectory(prefix="ch-recipe-") as tmp:
        recipes.unpack(upload, Path(tmp))  # refuses a hostile archive or a bad recipe, now
    now = utcnow()
    blob = services.blobs.put(
        session, upload.data, media_type="application/octet-stream", purpose="vuln-report:recipe"
    )
    v = Validation(
        id=new_id("val"),
        report_id=report.id,
        vuln_id=report.vuln_id,
        state="queued",
        evidence="",
        recipe_blob_id=blob.id,
        recipe_filename=upload.filename,
        recipe_sha256=blob.sha256,
        attempt=0,
        requested_by_org_id=p.org_id,
        requested_by_user_id=p.user_id,
        created_at=now,
    )
    session.add(v)
    session.flush()
    job = jobs.enqueue(
        session,
        JOB_KIND,
        {"validation_id": v.id},
        idempotency_key=f"{JOB_KIND}:{v.id}",
        max_attempts=MAX_ATTEMPTS,
    )
    v.job_id = job.id
    audit.record(
        session,
        AuditTag.VULNS_VALIDATION_CREATE,
        actor=p.actor,
        subject_type="vuln_report",
        subject_id=report.id,
        data={
            "validation_id": v.id,
            "job_id": job.id,
            "recipe_sha256": blob.sha256,
            "recipe_bytes": len(upload.data),
        },
    )
    session.flush()
    return out(v)


# --- reading ---------------------------------------------------------------------------------


def list_validations(session: Session, p: Principal, report_id: str) -> list[ValidationOut]:
    """Every validation of a report, newest first (whoever may read the report)."""
    report = load_report(session, p, report_id, Action.vuln_validation_read)
    rows = session.scalars(
        select(Validation)
        .where(Validation.report_id == report.id)
        .order_by(Validation.created_at.desc(), Validation.id.desc())
    ).all()
    return [out(v) for v in rows]


def latest(session: Session, report_ids: Sequence[str]) -> dict[str, ValidationOut]:
    """The latest validation of each report (the caller has checked it may read them)."""
    found: dict[str, ValidationOut] = {}
    if not report_ids:
        return found
    rows = session.scalars(
        select(Validation)
        .where(Validation.report_id.in_(list(report_ids)))
        .order_by(Validation.created_at.desc(), Validation.id.desc())
    ).all()
    for v in rows:
        found.setdefault(v.report_id, out(v))
    return found


# --- the job ---------------------------------------------------------------------------------


def _claim(services: Services, validation_id: str, attempt: int) -> dict[str, Any] | None:
    """Take the row for this job attempt; what the run needs, or None when there is nothing
    to do (finished, or gone)."""
    with services.db.transaction() as session:
        v = session.get(Validation, validation_id, with_for_update=True)
        if v is None or v.state in ("done", "error"):
            return None
        report = session.get(VulnerabilityReport, v.report_id)
        vuln = session.get(Vulnerability, v.vuln_id)
        assert report is not None and vuln is not None
        v.state, v.attempt = "running", attempt
        v.started_at = v.started_at or utcnow()
        try:
            record: Record | None = Record.model_validate(vuln.record)
        except ValueError:
            record = None
        return {
            "recipe": RecipeUpload(
                v.recipe_filename, services.blobs.get(session, v.recipe_blob_id)
            ),
            "record": record,
        }


def _error(code: str, detail: str) -> ValidationResult:
    return ValidationResult(
        verdict=Verdict.error,
        fixed_verdict=FixedVerdict.not_run,
        error_code=code,
        evidence=bounded(f"validation error [{code}]: {detail}"),
    )


def _reproduce(
    services: Services, claimed: dict[str, Any], workdir: Path
) -> tuple[ValidationResult, str | None, str | None, SourceIndex | None]:
    """Unpack and validate the recipe in `workdir`: the result, the source's ref and content
    hash, and the index of the vulnerable source (None when there is none to index)."""
    settings = services.settings
    validator = (
        validator_for(settings)
        if settings.validation_build_cache
        else Validator(
            workdir / "cache",
            index_url=settings.package_index_url,
            policy=OutboundPolicy.from_settings(settings),
        )
    )
    try:
        recipe = recipes.unpack(claimed["recipe"], workdir)
    except InvalidInput as exc:  # accepted at attach: the deployment's checks changed since
        return _error(exc.code, exc.detail), None, None, None
    try:
        result = validator.validate_recipe(recipe, osv_record=claimed["record"])
    except InvalidInput as exc:  # broke at run time: a source not found, an archive refused
        return _error(exc.code, exc.detail), recipe.source.ref, None, None
    ref = recipe.source.ref
    if result.source is None:
        return result, ref, None, None
    try:
        tree = validator.sources.resolve(recipe.source)  # cached: no second fetch
        index = SourceIndex.build(tree.root)
    except (ClearinghouseError, SignalInputInvalid, OSError):
        return result, ref, result.source.tree_sha256, None
    remember(tree.tree_sha256, index)
    SourceTrees.for_settings(settings).keep(tree.root, tree.tree_sha256)
    return result, ref, tree.tree_sha256, index


def run(services: Services, validation_id: str, attempt: int, *, final: bool = False) -> None:
    """The `vulns.validate` job: reproduce the validation's recipe and store the result, once."""
    claimed = _claim(services, validation_id, attempt)
    if claimed is None:
        return
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="ch-recipe-") as tmp:
            result, ref, digest, index = _reproduce(services, claimed, Path(tmp))
    except Exception as exc:
        if final:  # the last attempt: the validation ends as an error, not stuck running
            _finish(
                services,
                validation_id,
                attempt,
                _error("harness_failed", type(exc).__name__),
                None,
                None,
                None,
            )
        raise
    if not result.timings.total_seconds:
        result.timings.total_seconds = round(time.monotonic() - started, 3)
    _finish(services, validation_id, attempt, result, ref, digest, index)


def _finish(
    services: Services,
    validation_id: str,
    attempt: int,
    result: ValidationResult,
    ref: str | None,
    digest: str | None,
    index: SourceIndex | None,
) -> bool:
    """Store the result if the row is still this attempt's and unfinished (one result per
    validation, whatever the retries)."""
    with services.db.transaction() as session:
        v = session.get(Validation, validation_id, with_for_update=True)
        if v is None or v.state != "running" or v.attempt != attempt:
            return False
        now = utcnow()
        v.state = "error" if result.verdict is Verdict.error else "done"
        v.verdict, v.fixed_verdict = result.verdict.value, result.fixed_verdict.value
        v.crash_type = result.crash_type[:200] if result.crash_type else None
        v.signature = result.signature[:600] if result.signature else None
        v.error_code, v.evidence = result.error_code, result.evidence
        v.build_cached, v.fixed_build_cached = result.build_cached, result.fixed_build_cached
        v.timings = result.timings.model_dump(mode="json")
        v.result = result.model_dump(mode="json")
        v.source_ref, v.source_tree_sha256 = (ref[:500] if ref else None), digest
        v.finished_at = now
        if result.verdict is not Verdict.error:
            v.validated_at = now
        report = session.get(VulnerabilityReport, v.report_id)
        vuln = session.get(Vulnerability, v.vuln_id, with_for_update=True)
        assert report is not None and vuln is not None
        fed = False
        sig = result.signature
        if (
            result.verdict is Verdict.reproduced
            and sig
            and vuln.crash_signature is None
            and len(sig) <= CRASH_SIGNATURE_CHARS
            and is_signature(sig)
        ):
            vuln.crash_signature, fed = sig, True
            jobs.enqueue(
                session,
                "vulns.scan_duplicates",
                {"vuln_ids": [vuln.id]},
                idempotency_key=f"vulns.scan_duplicates:{vuln.id}:crash:{sig}",
            )
        screening.store(
            session,
            report,
            vuln,
            stage="validated",
            index=index,
            validation=result,
            validation_id=v.id,
        )
        audit.record(
            session,
            AuditTag.VULNS_VALIDATION_FINISH,
            actor=Actor(),  # the system (the worker)
            subject_type="vuln_report",
            subject_id=report.id,
            data={
                "validation_id": v.id,
                "state": v.state,
                "verdict": v.verdict,
                "fixed_verdict": v.fixed_verdict,
                "signature": v.signature,
                "error_code": v.error_code,
                "attempt": attempt,
                "crash_signature_set": fed,
            },
        )
        return True
