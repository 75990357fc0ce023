"""Artifacts: files uploaded to a case (PoCs, patches, logs), sealed in the blob store, each
with a TLP label no looser than the case's. Only reporters, vendors and coordinators read
them (never the operators' sharing group); every download is audited."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.coordination import cases, timeline
from clearinghouse.coordination.access import add_audience, item_clause, item_target, load_case
from clearinghouse.coordination.errors import CaseInputInvalid
from clearinghouse.coordination.messages import label_for
from clearinghouse.coordination.models import Artifact
from clearinghouse.coordination.schemas import ArtifactCreate, ArtifactOut
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.core.schemas import unstorable_text
from clearinghouse.storage.blobs import BlobStore


def upload(
    session: Session,
    p: Principal,
    blobs: BlobStore,
    case_id: str,
    body: ArtifactCreate,
    *,
    max_bytes: int,
) -> ArtifactOut:
    case, _ = load_case(session, p, case_id, Action.case_upload_artifact, for_update=True)
    cases.require_active(case)
    tlp = label_for(case, body.tlp)
    try:
        data = base64.b64decode(body.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CaseInputInvalid("content_base64 is not base64", code="artifact_invalid") from exc
    if not data:
        raise CaseInputInvalid("the artifact is empty", code="artifact_empty")
    if len(data) > max_bytes:
        raise CaseInputInvalid(
            f"the artifact is larger than {max_bytes} bytes", code="artifact_too_large"
        )
    blob = blobs.put(session, data, media_type=body.media_type, purpose="coordination:artifact")
    artifact = Artifact(
        id=new_id("cart"),
        case_id=case.id,
        kind=body.kind,
        filename=body.filename,
        media_type=body.media_type,
        tlp=tlp,
        blob_id=blob.id,
        sha256=blob.sha256,
        size=blob.size,
        uploaded_by_org_id=p.org_id,
        uploaded_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    session.add(artifact)
    add_audience(session, artifact.id, tlp, [p.org_id])
    session.flush()
    timeline.record(
        session,
        p,
        case.id,
        "artifact_uploaded",
        AuditTag.COORDINATION_ARTIFACT_UPLOAD,
        {"artifact_id": artifact.id, "kind": artifact.kind, "sha256": artifact.sha256},
        tlp=tlp,
    )
    return out(artifact)


def out(a: Artifact) -> ArtifactOut:
    return ArtifactOut(
        id=a.id,
        kind=a.kind,
        filename=a.filename,
        media_type=a.media_type,
        tlp=a.tlp,
        sha256=a.sha256,
        size=a.size,
        uploaded_by_org_id=a.uploaded_by_org_id,
        created_at=a.created_at,
    )


def list_artifacts(
    session: Session, p: Principal, case_id: str, *, limit: int, cursor: str | None
) -> Page[ArtifactOut]:
    _, target = load_case(session, p, case_id, Action.case_read)
    authorize(p, Action.case_read_artifacts, target)
    query = select(Artifact).where(
        Artifact.case_id == case_id, item_clause(p, target, "case_artifact", Artifact)
    )
    rows, nxt = paginate(session, query, Artifact.id, limit=limit, cursor=cursor)
    return Page(items=[out(a) for a in rows], next_cursor=nxt)


def read_content(
    session: Session, p: Principal, blobs: BlobStore, case_id: str, artifact_id: str
) -> tuple[Artifact, bytes]:
    """An artifact's bytes, for those who may read it (audited); 404 for anyone else."""
    _, target = load_case(session, p, case_id, Action.case_read)
    authorize(p, Action.case_read_artifacts, target)
    artifact = session.get(Artifact, artifact_id) if unstorable_text(artifact_id) is None else None
    if artifact is None or artifact.case_id != case_id:
        raise NotFound(f"no artifact with id {artifact_id!r}")
    authorize(
        p,
        Action.case_read_artifacts,
        item_target(
            target, "case_artifact", artifact.id, artifact.tlp, artifact.uploaded_by_org_id, []
        ),
    )
    data = blobs.get(session, artifact.blob_id)
    audit.record(
        session,
        AuditTag.COORDINATION_ARTIFACT_READ,
        actor=p.actor,
        subject_type="case",
        subject_id=case_id,
        data={"artifact_id": artifact.id, "sha256": artifact.sha256},
    )
    return artifact, data
