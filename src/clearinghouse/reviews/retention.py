"""The periodic end of reviews: windows that pass their deadline lapse (and their model keys are
destroyed), and once an ended submission's retention period is over its confidential content is
destroyed. Metadata and the audit trail stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.events import AuditTag
from clearinghouse.reviews import access
from clearinghouse.reviews.models import Agreement, Finding, ReportVersion, Submission
from clearinghouse.reviews.states import WINDOW_OPEN
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.transitions import move
from clearinghouse.storage.blobs import BlobStore
from clearinghouse.storage.vault import Vault


class ArtefactPurger(Protocol):
    """Destroys what the eval runs of a submission kept of the model under test (sealed logs,
    reports, transcript excerpts, and plaintext a crashed run left under `var_dir`); returns how
    many sealed artefacts it destroyed. Evals builds on reviews, so evals provides it
    (`evals.runs.artefacts.purge_submission`, passed by the job in evals/tasks.py) and reviews never imports evals for it."""

    def __call__(
        self, session: Session, vault: Vault, blobs: BlobStore, var_dir: Path, submission_id: str
    ) -> int: ...


def lapse_overdue(session: Session, vault: Vault) -> list[str]:
    """Mark every window past its deadline (or never opened before the release) as lapsed."""
    now = utcnow()
    system = Principal.system()
    overdue = session.scalars(
        select(Submission)
        .where(
            ((Submission.state.in_([s.value for s in WINDOW_OPEN])) & (Submission.deadline <= now))
            | ((Submission.state == S.submitted.value) & (Submission.planned_release_at <= now))
        )
        .with_for_update(skip_locked=True)
    ).all()
    for sub in overdue:
        move(session, system, sub, S.lapsed, "deadline passed without a delivered report")
        access.destroy_api_key(session, system, vault, sub, "window lapsed")
    return [s.id for s in overdue]


def purge_expired(
    session: Session,
    vault: Vault,
    blobs: BlobStore,
    var_dir: Path,
    *,
    eval_artefacts: ArtefactPurger,
) -> list[str]:
    """Destroy the confidential content of submissions ended longer ago than their agreement's
    retention period: the model key, finding bodies, report files, and (`eval_artefacts`) what
    their eval runs kept."""
    now = utcnow()
    system = Principal.system()
    rows = session.execute(
        select(Submission, Agreement.retention_days)
        .join(Agreement, Agreement.id == Submission.agreement_id)
        .where(Submission.ended_at.is_not(None), Submission.purged_at.is_(None))
    ).all()
    purged = []
    for sub, retention_days in rows:
        assert sub.ended_at is not None
        if sub.ended_at + timedelta(days=retention_days) > now:
            continue
        access.destroy_api_key(session, system, vault, sub, "retention period over")
        for finding in session.scalars(select(Finding).where(Finding.submission_id == sub.id)):
            vault.destroy(session, finding.body_sealed_id)
        for report in session.scalars(
            select(ReportVersion).where(ReportVersion.submission_id == sub.id)
        ):
            blobs.destroy(session, report.blob_id)
        artefacts = eval_artefacts(session, vault, blobs, var_dir, sub.id)
        sub.purged_at = now
        audit.record(
            session,
            AuditTag.REVIEWS_SUBMISSION_PURGE,
            actor=system.actor,
            subject_type="submission",
            subject_id=sub.id,
            data={"retention_days": retention_days, "eval_artefacts": artefacts},
        )
        purged.append(sub.id)
    return purged
