"""Report versions: the evaluator's report as sealed blobs that count up from 1 and never
change, delivered to the lab before the deadline with a receipt, and acknowledged by the lab.
Reading a report's content is audited and open only to the lab and its evaluator."""

from __future__ import annotations

import base64
import binascii

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.reviews.models import DeliveryReceipt, ReportVersion, Submission
from clearinghouse.reviews.schemas import ReceiptOut, ReportCreate, ReportOut
from clearinghouse.reviews.states import ACCEPTS_RESULTS, check_transition
from clearinghouse.reviews.states import SubmissionState as S
from clearinghouse.reviews.submissions import load_submission
from clearinghouse.reviews.transitions import move, require_window_open
from clearinghouse.storage.blobs import BlobStore

MAX_REPORT_BYTES = 10 * 1024 * 1024


def _report_out(session: Session, r: ReportVersion) -> ReportOut:
    receipt = session.scalar(select(DeliveryReceipt).where(DeliveryReceipt.report_id == r.id))
    return ReportOut(
        id=r.id,
        submission_id=r.submission_id,
        version=r.version,
        title=r.title,
        media_type=r.media_type,
        sha256=r.sha256,
        size=r.size,
        created_at=r.created_at,
        receipt=ReceiptOut(
            sha256=receipt.sha256,
            delivered_at=receipt.delivered_at,
            delivered_by_user_id=receipt.delivered_by_user_id,
            acknowledged_at=receipt.acknowledged_at,
            acknowledged_by_user_id=receipt.acknowledged_by_user_id,
        )
        if receipt
        else None,
    )


def add_report(
    session: Session, p: Principal, blobs: BlobStore, submission_id: str, data: ReportCreate
) -> ReportOut:
    """Store a new report version (a sealed blob). Versions count up from 1 and never change."""
    sub = load_submission(session, p, submission_id, Action.report_create, for_update=True)
    if S(sub.state) not in ACCEPTS_RESULTS:
        raise InvalidInput(
            f"reports can be added while testing or after; the submission is {sub.state}",
            code="report_not_allowed_now",
        )
    try:
        content = (
            base64.b64decode(data.content, validate=True)
            if data.encoding == "base64"
            else data.content.encode()
        )
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("content is not valid base64", code="content_invalid") from exc
    if len(content) > MAX_REPORT_BYTES:
        raise InvalidInput(
            f"a report may be at most {MAX_REPORT_BYTES} bytes", code="report_too_large"
        )
    version = (
        session.scalar(
            select(func.max(ReportVersion.version)).where(ReportVersion.submission_id == sub.id)
        )
        or 0
    ) + 1
    blob = blobs.put(session, content, media_type=data.media_type.value, purpose="report")
    report = ReportVersion(
        id=new_id("rpt"),
        submission_id=sub.id,
        version=version,
        title=data.title,
        blob_id=blob.id,
        media_type=blob.media_type,
        sha256=blob.sha256,
        size=blob.size,
        created_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_REPORT_CREATE,
        actor=p.actor,
        subject_type="report",
        subject_id=report.id,
        data={"submission_id": sub.id, "version": version, "sha256": blob.sha256},
    )
    return _report_out(session, report)


def _load_report(
    session: Session,
    p: Principal,
    submission_id: str,
    version: int,
    action: Action,
    *,
    for_update: bool = False,
) -> tuple[Submission, ReportVersion]:
    sub = load_submission(session, p, submission_id, action, for_update=for_update)
    report = session.scalar(
        select(ReportVersion).where(
            ReportVersion.submission_id == sub.id, ReportVersion.version == version
        )
    )
    if report is None:
        raise NotFound(f"submission {submission_id!r} has no report version {version}")
    return sub, report


def list_reports(session: Session, p: Principal, submission_id: str) -> list[ReportOut]:
    sub = load_submission(session, p, submission_id, Action.report_read)
    rows = session.scalars(
        select(ReportVersion)
        .where(ReportVersion.submission_id == sub.id)
        .order_by(ReportVersion.version)
    )
    return [_report_out(session, r) for r in rows]


def get_report(session: Session, p: Principal, submission_id: str, version: int) -> ReportOut:
    return _report_out(
        session, _load_report(session, p, submission_id, version, Action.report_read)[1]
    )


def read_report_content(
    session: Session, p: Principal, blobs: BlobStore, submission_id: str, version: int
) -> tuple[ReportOut, bytes]:
    sub, report = _load_report(session, p, submission_id, version, Action.report_read)
    data = blobs.get(session, report.blob_id)
    audit.record(
        session,
        AuditTag.REVIEWS_REPORT_READ,
        actor=p.actor,
        subject_type="report",
        subject_id=report.id,
        data={"submission_id": sub.id, "version": version},
    )
    return _report_out(session, report), data


def deliver_report(
    session: Session, p: Principal, settings: Settings, submission_id: str, version: int
) -> ReportOut:
    """Deliver a report version to the lab before the deadline, with a receipt."""
    sub, report = _load_report(
        session, p, submission_id, version, Action.report_deliver, for_update=True
    )
    if session.scalar(select(DeliveryReceipt.id).where(DeliveryReceipt.report_id == report.id)):
        return _report_out(session, report)
    if S(sub.state) == S.findings_drafted:
        require_window_open(sub)
        move(session, p, sub, S.report_delivered, f"report v{version} delivered")
    elif S(sub.state) != S.report_delivered:
        check_transition(S(sub.state), S.report_delivered)
    session.add(
        DeliveryReceipt(
            id=new_id("rcp"),
            report_id=report.id,
            sha256=report.sha256,
            delivered_at=utcnow(),
            delivered_by_user_id=p.user_id,
        )
    )
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_REPORT_DELIVER,
        actor=p.actor,
        subject_type="report",
        subject_id=report.id,
        data={"submission_id": sub.id, "version": version, "sha256": report.sha256},
    )
    return _report_out(session, report)


def acknowledge_report(
    session: Session, p: Principal, submission_id: str, version: int
) -> ReportOut:
    _, report = _load_report(
        session, p, submission_id, version, Action.report_acknowledge, for_update=True
    )
    receipt = session.scalar(select(DeliveryReceipt).where(DeliveryReceipt.report_id == report.id))
    if receipt is None:
        raise InvalidInput(
            "this report version has not been delivered yet", code="report_not_delivered"
        )
    if receipt.acknowledged_at is None:
        receipt.acknowledged_at = utcnow()
        receipt.acknowledged_by_user_id = p.user_id
        audit.record(
            session,
            AuditTag.REVIEWS_REPORT_ACKNOWLEDGE,
            actor=p.actor,
            subject_type="report",
            subject_id=report.id,
        )
    return _report_out(session, report)
