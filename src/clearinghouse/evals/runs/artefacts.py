"""Sealed eval artefacts: a run's Inspect logs (the transcripts of a possibly unreleased model)
and its report's JSON, kept in the blob store (sealed, checksummed) instead of plaintext files.

Inspect writes its logs to a run directory while the run executes (eval-set resumes from it
after a crash); when the run finishes, `seal_directory` records every file as a sealed blob in
the transaction that marks the run succeeded, and the directory is removed after the commit.
`export` decrypts them for `inspect view` (audited); retention destroys them with the rest of
a submission's confidential content (`purge_submission`).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.evals.models import EvalArtefact, EvalRun, EvalVulnerabilityReport
from clearinghouse.evals.schemas import ArtefactOut
from clearinghouse.storage.blobs import BlobStore
from clearinghouse.storage.vault import Vault

MEDIA = {".eval": "application/zip", ".json": "application/json", ".html": "text/html"}


def run_dir(var_dir: Path, run_id: str) -> Path:
    return var_dir / "evals" / run_id


def seal_bytes(
    session: Session, blobs: BlobStore, run_id: str, name: str, data: bytes, kind: str
) -> EvalArtefact:
    media = MEDIA.get(Path(name).suffix, "application/octet-stream")
    blob = blobs.put(session, data, media_type=media, purpose="eval_artefact")
    row = EvalArtefact(
        id=new_id("art"),
        run_id=run_id,
        kind=kind,
        name=name,
        blob_id=blob.id,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def seal_directory(session: Session, blobs: BlobStore, run_id: str, root: Path) -> int:
    """Seal every file under `root` as a log artefact of the run. A file sealed before (an
    earlier attempt) is replaced when its content changed. Returns how many were sealed."""
    have = {
        a.name: a
        for a in session.scalars(
            select(EvalArtefact).where(
                EvalArtefact.run_id == run_id, EvalArtefact.destroyed_at.is_(None)
            )
        )
    }
    count = 0
    if not root.is_dir():
        return 0
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        name = path.relative_to(root).as_posix()
        data = path.read_bytes()
        old = have.get(name)
        if old is not None:
            if old.sha256 == hashlib.sha256(data).hexdigest():
                continue
            blobs.destroy(session, old.blob_id)
            session.delete(old)
            session.flush()
        seal_bytes(session, blobs, run_id, name, data, "log")
        count += 1
    return count


def restore_logs(session: Session, blobs: BlobStore, run_id: str, root: Path) -> int:
    """Write an earlier attempt's sealed logs back into the run directory, so eval-set resumes
    from them instead of redoing finished tasks. Returns how many files were written."""
    count = 0
    for a in _artefacts(session, run_id):
        if a.kind != "log" or a.destroyed_at is not None:
            continue
        path = (root / a.name).resolve()
        if root.resolve() not in path.parents or path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blobs.get(session, a.blob_id))
        count += 1
    return count


def remove_plaintext(var_dir: Path, run_id: str) -> None:
    shutil.rmtree(run_dir(var_dir, run_id), ignore_errors=True)


def artefact_out(a: EvalArtefact) -> ArtefactOut:
    return ArtefactOut(
        id=a.id,
        kind=a.kind,
        name=a.name,
        size=a.size,
        sha256=a.sha256,
        created_at=a.created_at,
        destroyed=a.destroyed_at is not None,
    )


def _artefacts(session: Session, run_id: str) -> list[EvalArtefact]:
    return list(
        session.scalars(
            select(EvalArtefact).where(EvalArtefact.run_id == run_id).order_by(EvalArtefact.name)
        )
    )


def list_artefacts(session: Session, run_id: str) -> list[ArtefactOut]:
    return [artefact_out(a) for a in _artefacts(session, run_id)]


def export(
    session: Session, p: Principal, blobs: BlobStore, run: EvalRun, target: Target
) -> list[tuple[str, bytes]]:
    """Decrypt a run's artefacts for the caller (policy: eval_log_export), audited."""
    authorize(p, Action.eval_log_export, target)
    rows = _artefacts(session, run.id)
    if any(a.destroyed_at is not None for a in rows):
        raise Conflict(
            "this run's artefacts were destroyed by the retention purge", code="artefacts_destroyed"
        )
    files = [(a.name, blobs.get(session, a.blob_id)) for a in rows]
    audit.record(
        session,
        AuditTag.EVALS_LOGS_EXPORT,
        actor=p.actor,
        subject_type="eval_run",
        subject_id=run.id,
        data={"files": [{"name": a.name, "sha256": a.sha256} for a in rows]},
    )
    return files


def purge_submission(
    session: Session, vault: Vault, blobs: BlobStore, var_dir: Path, submission_id: str
) -> int:
    """Retention: destroy everything the submission's eval runs kept of the model under test:
    the sealed logs and report files, the sealed PoCs and transcript excerpts of the
    vulnerabilities it reported, and any plaintext run directory a crashed worker left behind.
    Returns how many sealed artefacts were destroyed."""
    run_ids = list(
        session.scalars(select(EvalRun.id).where(EvalRun.submission_id == submission_id))
    )
    rows = session.scalars(
        select(EvalArtefact).where(
            EvalArtefact.run_id.in_(run_ids), EvalArtefact.destroyed_at.is_(None)
        )
    ).all()
    now = utcnow()
    for a in rows:
        blobs.destroy(session, a.blob_id)
        a.destroyed_at = now
    for staged in session.scalars(
        select(EvalVulnerabilityReport).where(EvalVulnerabilityReport.run_id.in_(run_ids))
    ):
        for sealed_id in (staged.poc_sealed_id, staged.excerpt_sealed_id):
            if sealed_id is not None:
                vault.destroy(session, sealed_id)
    for run_id in run_ids:
        remove_plaintext(var_dir, run_id)
    return len(rows)
