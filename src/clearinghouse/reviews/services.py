"""The review program: agreements, submissions, windows, findings and reports.

Every function authorises through `accounts.policy`, changes state through `states`, and writes
its audit event in the caller's transaction. Reads of confidential content (findings, report
files, model keys) are audited too.
"""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import Org, OrgKind
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, list_scope
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound
from clearinghouse.core.events import AuditTag, submission_transition
from clearinghouse.core.ids import new_id
from clearinghouse.core.net import OutboundPolicy
from clearinghouse.core.pagination import Page, paginate
from clearinghouse.reviews import access
from clearinghouse.reviews.errors import AgreementWithdrawn, DeadlinePassed
from clearinghouse.reviews.models import (
    Agreement,
    DeliveryReceipt,
    Finding,
    ReportVersion,
    StateChange,
    Submission,
)
from clearinghouse.reviews.schemas import (
    AccessOut,
    AgreementCreate,
    AgreementOut,
    Contact,
    FindingCreate,
    FindingOut,
    ReceiptOut,
    ReportCreate,
    ReportOut,
    Severity,
    StateChangeOut,
    SubmissionCreate,
    SubmissionOut,
    TransitionRequest,
    TransitionTarget,
)
from clearinghouse.reviews.states import (
    TERMINAL,
    WINDOW_OPEN,
    SubmissionState,
    check_transition,
    review_deadline,
)
from clearinghouse.storage.blobs import BlobStore
from clearinghouse.storage.db import Database
from clearinghouse.storage.vault import Vault

S = SubmissionState
MAX_REPORT_BYTES = 10 * 1024 * 1024


# --- targets and views ---------------------------------------------------------------------


def agreement_target(a: Agreement) -> Target:
    return Target("agreement", id=a.id, lab_org_id=a.lab_org_id)


def submission_target(s: Submission) -> Target:
    return Target(
        "submission", id=s.id, lab_org_id=s.lab_org_id, evaluator_org_id=s.evaluator_org_id
    )


def agreement_out(a: Agreement) -> AgreementOut:
    return AgreementOut(
        id=a.id,
        lab_org_id=a.lab_org_id,
        scope=a.scope,
        confidentiality_terms=a.confidentiality_terms,
        retention_days=a.retention_days,
        contacts=[Contact(**c) for c in a.contacts],
        status="withdrawn" if a.status == "withdrawn" else "active",
        created_at=a.created_at,
        withdrawn_at=a.withdrawn_at,
    )


def submission_out(s: Submission, window_days: int = 30) -> SubmissionOut:
    return SubmissionOut(
        id=s.id,
        agreement_id=s.agreement_id,
        lab_org_id=s.lab_org_id,
        evaluator_org_id=s.evaluator_org_id,
        model_name=s.model_name,
        model_version=s.model_version,
        planned_release_at=s.planned_release_at,
        access=AccessOut(
            kind="weights" if s.weights_digest else "endpoint",
            endpoint_url=s.endpoint_url,
            api_key_hint=s.api_key_hint,
            api_key_available=s.api_key_sealed_id is not None,
            weights_digest=s.weights_digest,
            verified_at=s.access_verified_at,
            models=s.access_models,
        ),
        state=S(s.state),
        window_opened_at=s.window_opened_at,
        deadline=s.deadline,
        window_shortened=s.window_shortened,
        window_days=window_days,
        created_at=s.created_at,
        updated_at=s.updated_at,
        ended_at=s.ended_at,
    )


# --- agreements --------------------------------------------------------------------------


def create_agreement(session: Session, p: Principal, data: AgreementCreate) -> AgreementOut:
    lab = session.get(Org, data.lab_org_id)
    if lab is None or lab.kind != OrgKind.lab:
        raise InvalidInput(
            "lab_org_id must name an organisation of kind lab", code="lab_org_invalid"
        )
    authorize(p, Action.agreement_create, Target("agreement", id=None, lab_org_id=lab.id))
    agreement = Agreement(
        id=new_id("agr"),
        lab_org_id=lab.id,
        scope=data.scope,
        confidentiality_terms=data.confidentiality_terms,
        retention_days=data.retention_days,
        contacts=[c.model_dump() for c in data.contacts],
        status="active",
        created_at=utcnow(),
    )
    session.add(agreement)
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_AGREEMENT_CREATE,
        actor=p.actor,
        subject_type="agreement",
        subject_id=agreement.id,
        data={"lab_org_id": lab.id, "retention_days": data.retention_days},
    )
    return agreement_out(agreement)


def load_agreement(
    session: Session, p: Principal, agreement_id: str, action: Action = Action.agreement_read
) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement with id {agreement_id!r}")
    authorize(p, action, agreement_target(agreement))
    return agreement


def get_agreement(session: Session, p: Principal, agreement_id: str) -> AgreementOut:
    return agreement_out(load_agreement(session, p, agreement_id))


def list_agreements(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[AgreementOut]:
    scope = list_scope(p, "agreement")
    query = select(Agreement)
    if scope.nothing:
        return Page(items=[], next_cursor=None)
    query = query.where(scope.clause(Agreement))
    rows, nxt = paginate(session, query, Agreement.id, limit=limit, cursor=cursor)
    return Page(items=[agreement_out(a) for a in rows], next_cursor=nxt)


def withdraw_agreement(
    session: Session, p: Principal, vault: Vault, agreement_id: str, reason: str = ""
) -> AgreementOut:
    """Withdraw: no new submissions, every open submission ends, every model key is destroyed."""
    agreement = load_agreement(session, p, agreement_id, Action.agreement_withdraw)
    if agreement.status == "withdrawn":
        return agreement_out(agreement)
    agreement.status = "withdrawn"
    agreement.withdrawn_at = utcnow()
    agreement.withdrawn_reason = reason
    audit.record(
        session,
        AuditTag.REVIEWS_AGREEMENT_WITHDRAW,
        actor=p.actor,
        subject_type="agreement",
        subject_id=agreement.id,
        data={"reason": reason},
    )
    subs = session.scalars(
        select(Submission).where(Submission.agreement_id == agreement.id).with_for_update()
    ).all()
    for sub in subs:
        if S(sub.state) not in TERMINAL:
            _move(session, p, sub, S.withdrawn, "agreement withdrawn")
        _destroy_access(session, p, vault, sub, "agreement withdrawn")
    return agreement_out(agreement)


# --- submissions -------------------------------------------------------------------------


def create_submission(
    session: Session, p: Principal, vault: Vault, settings: Settings, data: SubmissionCreate
) -> SubmissionOut:
    agreement = session.get(Agreement, data.agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement with id {data.agreement_id!r}")
    authorize(p, Action.submission_create, agreement_target(agreement))
    if agreement.status != "active":
        raise AgreementWithdrawn("the agreement was withdrawn; it accepts no new submissions")
    evaluator = session.get(Org, data.evaluator_org_id)
    if evaluator is None or evaluator.kind != OrgKind.evaluator:
        raise InvalidInput(
            "evaluator_org_id must name an organisation of kind evaluator",
            code="evaluator_org_invalid",
        )
    now = utcnow()
    if data.planned_release_at <= now:
        raise InvalidInput("planned_release_at must be in the future", code="release_in_past")
    endpoint = None
    if data.endpoint_url is not None:
        endpoint = access.validate_endpoint_url(
            data.endpoint_url, allow_private=settings.private_endpoints_allowed
        )
    sub = Submission(
        id=new_id("sub"),
        agreement_id=agreement.id,
        lab_org_id=agreement.lab_org_id,
        evaluator_org_id=evaluator.id,
        model_name=data.model_name,
        model_version=data.model_version,
        planned_release_at=data.planned_release_at,
        endpoint_url=endpoint,
        weights_digest=data.weights_digest,
        state=S.submitted.value,
        created_at=now,
        updated_at=now,
        access_models=[],
    )
    if data.api_key is not None:
        sealed = vault.seal_text(
            session, data.api_key.get_secret_value(), purpose="submission:api_key", show_hint=True
        )
        sub.api_key_sealed_id, sub.api_key_hint = sealed.id, sealed.hint
    session.add(sub)
    session.flush()
    session.add(
        StateChange(
            id=new_id("stc"),
            submission_id=sub.id,
            from_state=None,
            to_state=sub.state,
            at=now,
            actor_user_id=p.user_id,
            reason="submitted",
        )
    )
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_CREATE,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={
            "agreement_id": agreement.id,
            "model": f"{sub.model_name}@{sub.model_version}",
            "evaluator_org_id": evaluator.id,
            "planned_release_at": sub.planned_release_at.isoformat(),
        },
    )
    return submission_out(sub, settings.review_window_days)


def load_submission(
    session: Session,
    p: Principal,
    submission_id: str,
    action: Action = Action.submission_read,
    *,
    for_update: bool = False,
) -> Submission:
    sub = session.get(Submission, submission_id, with_for_update=for_update or None)
    if sub is None:
        raise NotFound(f"no submission with id {submission_id!r}")
    authorize(p, action, submission_target(sub))
    return sub


def get_submission(
    session: Session, p: Principal, submission_id: str, settings: Settings
) -> SubmissionOut:
    sub = load_submission(session, p, submission_id)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_READ,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
    )
    return submission_out(sub, settings.review_window_days)


def list_submissions(
    session: Session,
    p: Principal,
    settings: Settings,
    *,
    state: SubmissionState | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[SubmissionOut]:
    scope = list_scope(p, "submission")
    if scope.nothing:
        return Page(items=[], next_cursor=None)
    query = select(Submission)
    query = query.where(scope.clause(Submission))
    if state is not None:
        query = query.where(Submission.state == state.value)
    rows, nxt = paginate(session, query, Submission.id, limit=limit, cursor=cursor)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_LIST,
        actor=p.actor,
        subject_type="submission",
        subject_id=None,
        data={"ids": [r.id for r in rows]},
    )
    return Page(
        items=[submission_out(s, settings.review_window_days) for s in rows], next_cursor=nxt
    )


def timeline(session: Session, p: Principal, submission_id: str) -> list[StateChangeOut]:
    sub = load_submission(session, p, submission_id)
    rows = session.scalars(
        select(StateChange).where(StateChange.submission_id == sub.id).order_by(StateChange.id)
    )
    return [
        StateChangeOut(
            from_state=S(r.from_state) if r.from_state else None,
            to_state=S(r.to_state),
            at=r.at,
            actor_user_id=r.actor_user_id,
            reason=r.reason,
        )
        for r in rows
    ]


def _move(
    session: Session, p: Principal, sub: Submission, target: SubmissionState, reason: str
) -> None:
    current = S(sub.state)
    check_transition(current, target)
    now = utcnow()
    sub.state = target.value
    sub.updated_at = now
    if target in TERMINAL:
        sub.ended_at = now
    session.add(
        StateChange(
            id=new_id("stc"),
            submission_id=sub.id,
            from_state=current.value,
            to_state=target.value,
            at=now,
            actor_user_id=p.user_id,
            reason=reason,
        )
    )
    audit.record(
        session,
        submission_transition(target.value),
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"from": current.value, "reason": reason},
    )


def start_testing(session: Session, p: Principal, sub: Submission, reason: str) -> None:
    """access_verified -> testing, for callers outside this module (an eval run starting)."""
    _move(session, p, sub, S.testing, reason)


def _destroy_access(
    session: Session, p: Principal, vault: Vault, sub: Submission, reason: str
) -> None:
    if sub.api_key_sealed_id is None:
        return
    vault.destroy(session, sub.api_key_sealed_id)
    sub.api_key_sealed_id = None
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_SECRET_DESTROY,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"reason": reason},
    )


def transition(
    session: Session,
    p: Principal,
    vault: Vault,
    settings: Settings,
    submission_id: str,
    request: TransitionRequest,
) -> SubmissionOut:
    action = {
        TransitionTarget.testing: Action.submission_advance,
        TransitionTarget.findings_drafted: Action.submission_advance,
        TransitionTarget.closed: Action.submission_close,
        TransitionTarget.withdrawn: Action.submission_withdraw,
    }[request.to]
    sub = load_submission(session, p, submission_id, action, for_update=True)
    target = S(request.to.value)
    if target in {S.testing, S.findings_drafted}:
        _require_window_open(sub)
    _move(session, p, sub, target, request.reason)
    if target in TERMINAL:
        _destroy_access(session, p, vault, sub, f"submission {target.value}")
    return submission_out(sub, settings.review_window_days)


def _require_window_open(sub: Submission) -> None:
    if sub.deadline is not None and sub.deadline <= utcnow():
        raise DeadlinePassed("the review window's deadline has passed; the submission will lapse")


def reveal_api_key(
    session: Session, p: Principal, vault: Vault, sub: Submission, purpose: str
) -> str:
    """Decrypt the model key at the moment of use, and audit that it was read."""
    if sub.api_key_sealed_id is None:
        raise InvalidInput(
            "this submission has no API key (withdrawn, ended, or weights-only)", code="no_api_key"
        )
    key = vault.reveal_text(session, sub.api_key_sealed_id)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_SECRET_REVEAL,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"purpose": purpose},
    )
    return key


def verify_access(
    db: Database, p: Principal, vault: Vault, settings: Settings, submission_id: str
) -> SubmissionOut:
    """Call the endpoint's GET /v1/models with the key. On success the review window opens.

    Three short transactions, so that no database lock is held while the remote endpoint is
    slow: read the key; call the endpoint; record the result (re-checking the state).
    """
    with db.transaction() as session:
        sub = load_submission(session, p, submission_id, Action.submission_verify)
        if S(sub.state) in TERMINAL:
            check_transition(S(sub.state), S.access_verified)
        if sub.endpoint_url is None:
            raise InvalidInput(
                "weights-only submissions have no endpoint to verify", code="no_endpoint"
            )
        url = sub.endpoint_url
        key = reveal_api_key(session, p, vault, sub, "verify-access")
    result = access.check_models_endpoint(url, key, OutboundPolicy.from_settings(settings))
    del key
    with db.transaction() as session:
        sub = load_submission(session, p, submission_id, Action.submission_verify, for_update=True)
        now = utcnow()
        sub.access_verified_at = now
        sub.access_models = result.models
        sub.updated_at = now
        if S(sub.state) == S.submitted:
            _move(session, p, sub, S.access_verified, "endpoint answered GET /v1/models")
            sub.window_opened_at = now
            sub.deadline, sub.window_shortened = review_deadline(
                now, sub.planned_release_at, settings.review_window_days
            )
            audit.record(
                session,
                AuditTag.REVIEWS_WINDOW_OPEN,
                actor=p.actor,
                subject_type="submission",
                subject_id=sub.id,
                data={"deadline": sub.deadline.isoformat(), "shortened": sub.window_shortened},
            )
        elif S(sub.state) in TERMINAL:
            check_transition(S(sub.state), S.access_verified)
        else:
            audit.record(
                session,
                AuditTag.REVIEWS_SUBMISSION_ACCESS_RECHECK,
                actor=p.actor,
                subject_type="submission",
                subject_id=sub.id,
                data={"models": result.models},
            )
        return submission_out(sub, settings.review_window_days)


# --- findings and reports ----------------------------------------------------------------


def add_finding(
    session: Session, p: Principal, vault: Vault, submission_id: str, data: FindingCreate
) -> FindingOut:
    sub = load_submission(session, p, submission_id, Action.finding_create, for_update=True)
    if S(sub.state) not in {S.testing, S.findings_drafted, S.report_delivered}:
        raise InvalidInput(
            f"findings can be added while testing or after; the submission is {sub.state}",
            code="finding_not_allowed_now",
        )
    sealed = vault.seal_text(session, data.body, purpose="finding:body")
    finding = Finding(
        id=new_id("fnd"),
        submission_id=sub.id,
        title=data.title,
        severity=data.severity.value,
        category=data.category,
        body_sealed_id=sealed.id,
        created_by_user_id=p.user_id,
        created_at=utcnow(),
    )
    session.add(finding)
    session.flush()
    audit.record(
        session,
        AuditTag.REVIEWS_FINDING_CREATE,
        actor=p.actor,
        subject_type="finding",
        subject_id=finding.id,
        data={"submission_id": sub.id, "severity": finding.severity},
    )
    return FindingOut(
        id=finding.id,
        submission_id=sub.id,
        title=finding.title,
        severity=data.severity,
        category=finding.category,
        body=data.body,
        created_at=finding.created_at,
    )


def list_findings(
    session: Session, p: Principal, vault: Vault, submission_id: str
) -> list[FindingOut]:
    sub = load_submission(session, p, submission_id, Action.finding_read)
    rows = session.scalars(
        select(Finding).where(Finding.submission_id == sub.id).order_by(Finding.id)
    ).all()
    audit.record(
        session,
        AuditTag.REVIEWS_FINDING_READ,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"ids": [f.id for f in rows]},
    )
    return [
        FindingOut(
            id=f.id,
            submission_id=sub.id,
            title=f.title,
            severity=Severity(f.severity),
            category=f.category,
            body=vault.reveal_text(session, f.body_sealed_id),
            created_at=f.created_at,
        )
        for f in rows
    ]


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
    if S(sub.state) not in {S.testing, S.findings_drafted, S.report_delivered}:
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
        _require_window_open(sub)
        _move(session, p, sub, S.report_delivered, f"report v{version} delivered")
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


# --- periodic work -----------------------------------------------------------------------


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
        _move(session, system, sub, S.lapsed, "deadline passed without a delivered report")
        _destroy_access(session, system, vault, sub, "window lapsed")
    return [s.id for s in overdue]


def purge_expired(session: Session, vault: Vault, blobs: BlobStore, var_dir: Path) -> list[str]:
    """Retention: destroy the confidential content of submissions ended longer ago than their
    agreement's retention period, the eval runs' included (sealed logs, reports, transcript
    excerpts, and plaintext a crashed run left under `var_dir`). Metadata and the audit trail
    stay."""
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
        _destroy_access(session, system, vault, sub, "retention period over")
        for finding in session.scalars(select(Finding).where(Finding.submission_id == sub.id)):
            vault.destroy(session, finding.body_sealed_id)
        for report in session.scalars(
            select(ReportVersion).where(ReportVersion.submission_id == sub.id)
        ):
            blobs.destroy(session, report.blob_id)
        # The sealed logs and report files of the submission's eval runs (transcripts).
        from clearinghouse.evals.artefacts import purge_submission  # evals builds on reviews

        artefacts = purge_submission(session, vault, blobs, var_dir, sub.id)
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
