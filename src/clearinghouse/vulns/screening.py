"""Triage signals in the product (issue 11): computed when a report arrives and again after its
validation and after a dedup scan, stored with their evidence, ranked into the coordinators'
queue, sampled for spot checks, and overridden by coordinators with a reason.

The signals themselves are `vulns/signals` (pure): this module gathers what they read from the
database and the source trees, stores what they say (`ReportSignals`: the automatic values as
JSON, and the queue placement of the effective values as columns, so the queue is ordered and
paged in SQL exactly as `queue.rank()` orders), and applies the coordinators' overrides
(`SignalOverride`, every one kept and audited).

What each signal reads here:
- grounded: at intake, the source tree of an earlier validation of the same target (its purl,
  or its repository and commit) when one is kept (`vulns/source_trees.py`); after validation,
  the recipe's own vulnerable source;
- has a PoC: a PoC was sent with the report, or a recipe attached;
- reproduced, already fixed: the latest validation's result;
- duplicate of: not known until the dedup scan job has run on the record; then its candidates
  by alias, crash signature or near-duplicate text with a record that arrived earlier (and not
  rejected by a coordinator);
- track record: the outcomes of the reporter's earlier reports (the model's, when the report
  names the model that found it; else the organisation's): validated (the record was
  validated or published, or the PoC reproduced), invalid (rejected, not reproduced, or judged
  likely invalid by a coordinator), pending otherwise;
- SSVC: from the above, with CERT/CC's documented defaults for what the record does not say.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Action, Principal, authorize, list_scope
from clearinghouse.audit import trail as audit
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput, NotFound, PermissionDenied
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import MAX_LIMIT, Page
from clearinghouse.vulns.models import DuplicateCandidate as CandidateRow
from clearinghouse.vulns.models import (
    ReportSignals,
    SignalOverride,
    Validation,
    Vulnerability,
    VulnerabilityAlias,
    VulnerabilityReport,
)
from clearinghouse.vulns.schemas import (
    OverrideCreate,
    OverrideOut,
    QueueItemOut,
    ReportTriageOut,
    SignalsSummary,
    SpotCheckOut,
)
from clearinghouse.vulns.signals.overrides import (
    apply_overrides,
    automatic_value,
    check_override,
    likely_invalid_override,
)
from clearinghouse.vulns.signals.queue import (
    TIER_NAMES,
    QueueEntry,
    Tier,
    audit_sample,
    placement,
)
from clearinghouse.vulns.signals.signals import (
    DuplicateCandidate,
    ReportFacts,
    TriageSignals,
    compute_signals,
    duplicate_signal,
)
from clearinghouse.vulns.signals.source_index import SourceIndex
from clearinghouse.vulns.signals.track_record import PriorOutcome
from clearinghouse.vulns.source_trees import SourceTrees
from clearinghouse.vulns.states import OPEN, VulnStatus
from clearinghouse.vulns.validation.schemas import ValidationResult
from clearinghouse.vulns.visibility import load_report, report_target

_RULES = {"alias": "alias", "crash": "crash_signature", "text": "text"}
_DONE = ("done", "error")


# --- what the signals read -----------------------------------------------------------------


def subject_of(report: VulnerabilityReport) -> str | None:
    """Whose track record the report adds to: the model that found it, as this organisation
    reports it (a model's name is the reporter's claim: another organisation filing invented
    reports under it must not sink this one's record), else the organisation."""
    if report.model_name and report.reporter_org_id:
        return f"org:{report.reporter_org_id}/model:{report.model_name}"
    if report.model_name:
        return f"model:{report.model_name}"
    if report.reporter_org_id:
        return f"org:{report.reporter_org_id}"
    return None


def _facts(session: Session, report: VulnerabilityReport, vuln: Vulnerability) -> ReportFacts:
    attached = session.scalar(
        select(Validation.id).where(Validation.report_id == report.id).limit(1)
    )
    return ReportFacts(
        id=report.id,
        title=vuln.summary,
        text=vuln.details,
        received_at=report.created_at,
        has_poc=report.poc_sealed_id is not None or attached is not None,
        reporter=subject_of(report),
    )


def in_force(session: Session, report_id: str) -> dict[str, str]:
    """The coordinators' overrides in force: the latest per signal."""
    rows = session.scalars(
        select(SignalOverride)
        .where(SignalOverride.report_id == report_id)
        .order_by(SignalOverride.created_at, SignalOverride.id)
    ).all()
    return {r.signal: r.value for r in rows}


def _outcome(session: Session, report: VulnerabilityReport, status: str) -> PriorOutcome:
    if status in (VulnStatus.validated, VulnStatus.published):
        return PriorOutcome.validated
    if status == VulnStatus.rejected:
        return PriorOutcome.invalid
    word = in_force(session, report.id)
    if word.get("likely_invalid") == "true" or word.get("reproduced") == "false":
        return PriorOutcome.invalid
    if word.get("reproduced") == "true":
        return PriorOutcome.validated
    verdict = session.scalar(
        select(Validation.verdict)
        .where(Validation.report_id == report.id, Validation.state == "done")
        .order_by(Validation.created_at.desc(), Validation.id.desc())
        .limit(1)
    )
    if verdict == "reproduced":
        return PriorOutcome.validated
    if verdict == "not_reproduced":
        return PriorOutcome.invalid
    return PriorOutcome.pending


def prior_outcomes(session: Session, report: VulnerabilityReport) -> list[PriorOutcome]:
    """The outcomes of the earlier reports of the same subject (`subject_of`)."""
    if report.model_name:
        same = and_(
            VulnerabilityReport.model_name == report.model_name,
            VulnerabilityReport.reporter_org_id == report.reporter_org_id
            if report.reporter_org_id
            else VulnerabilityReport.reporter_org_id.is_(None),
        )
    elif report.reporter_org_id:
        same = and_(
            VulnerabilityReport.reporter_org_id == report.reporter_org_id,
            VulnerabilityReport.model_name.is_(None),
        )
    else:
        return []
    rows = session.execute(
        select(VulnerabilityReport, Vulnerability.status)
        .join(Vulnerability, Vulnerability.id == VulnerabilityReport.vuln_id)
        .where(same, VulnerabilityReport.id != report.id)
        .where(VulnerabilityReport.created_at <= report.created_at)
        .order_by(VulnerabilityReport.created_at.desc())
        .limit(500)
    ).all()
    return [_outcome(session, r, status) for r, status in rows]


def _duplicates(session: Session, vuln: Vulnerability) -> list[DuplicateCandidate]:
    """The records this one may duplicate: open or merged candidates with a record that arrived
    earlier, by alias, crash signature or near-duplicate text."""
    other = func.coalesce(
        func.nullif(CandidateRow.vuln_a, vuln.id), CandidateRow.vuln_b
    )  # the pair's other record
    rows = session.execute(
        select(CandidateRow.rule, CandidateRow.score, other, Vulnerability.created_at)
        .join(Vulnerability, Vulnerability.id == other)
        .where(or_(CandidateRow.vuln_a == vuln.id, CandidateRow.vuln_b == vuln.id))
        .where(CandidateRow.state != "rejected", CandidateRow.rule.in_(sorted(_RULES)))
    ).all()
    found = []
    for rule, score, other_id, created in rows:
        if other_id == vuln.id or created >= vuln.created_at:
            continue  # the later of the two is the duplicate
        found.append(
            DuplicateCandidate(
                id=other_id,
                rule=_RULES[rule],
                score=round(score, 4) if rule == "text" else None,
                detail=f"dedup candidate {rule}",
            )
        )
    return found


def _target_tree(session: Session, report: VulnerabilityReport) -> str | None:
    """The content hash of the source of the latest finished validation of the same target."""
    if report.target_purl:
        same = or_(
            VulnerabilityReport.target_purl == report.target_purl,
            Validation.source_ref == report.target_purl,
        )
    elif report.target_repo and report.target_commit:
        same = and_(
            VulnerabilityReport.target_repo == report.target_repo,
            VulnerabilityReport.target_commit == report.target_commit,
        )
    else:
        return None
    return session.scalar(
        select(Validation.source_tree_sha256)
        .join(VulnerabilityReport, VulnerabilityReport.id == Validation.report_id)
        .where(same, Validation.state == "done", Validation.source_tree_sha256.is_not(None))
        .order_by(Validation.finished_at.desc(), Validation.id.desc())
        .limit(1)
    )


# --- computing and storing ---------------------------------------------------------------


def _place(session: Session, row: ReportSignals) -> TriageSignals:
    """Set the row's queue placement from its signals and the overrides in force; returns the
    effective signals."""
    automatic = TriageSignals.model_validate(row.signals)
    word = in_force(session, row.report_id)
    effective = apply_overrides(automatic, word)
    notes = [f"a coordinator overrode {k} to {v}" for k, v in sorted(word.items())]
    p = placement(effective, likely_invalid=likely_invalid_override(word), notes=notes)
    row.tier, row.likely_invalid, row.ssvc, row.ssvc_rank = (
        p.tier,
        p.likely_invalid,
        p.ssvc,
        p.ssvc_rank,
    )
    row.score_key, row.trust_key, row.no_poc = p.score_key, p.trust_key, p.no_poc
    row.received, row.detail, row.updated_at = p.received, p.detail, utcnow()
    return effective


def store(
    session: Session,
    report: VulnerabilityReport,
    vuln: Vulnerability,
    *,
    stage: str,
    index: SourceIndex | None,
    validation: ValidationResult | None = None,
    validation_id: str | None = None,
) -> ReportSignals:
    """Compute the report's signals from what is known now and store them."""
    row = session.get(ReportSignals, report.id, with_for_update=True)
    checked = row.dedup_checked if row is not None else False
    signals = compute_signals(
        _facts(session, report, vuln),
        index=index,
        validation=validation,
        duplicates=_duplicates(session, vuln) if checked else None,
        prior_outcomes=prior_outcomes(session, report),
    )
    new = row is None
    if row is None:
        row = ReportSignals(report_id=report.id, dedup_checked=False)
    row.stage, row.validation_id = stage, validation_id
    row.signals = signals.model_dump(mode="json")
    row.computed_at = utcnow()
    _place(session, row)  # before the row is added: its queries would flush it half-set
    if new:
        session.add(row)
    session.flush()
    return row


def at_intake(
    session: Session,
    report: VulnerabilityReport,
    vuln: Vulnerability,
    trees: SourceTrees | None,
) -> ReportSignals:
    """The signals of a report as it arrives: grounded against a kept tree of its target, if
    there is one."""
    digest = _target_tree(session, report) if trees is not None else None
    index = trees.index(digest) if trees is not None and digest else None
    return store(session, report, vuln, stage="intake", index=index)


def after_dedup(session: Session, vuln_ids: Sequence[str]) -> int:
    """The dedup scan ran on these records: their reports' duplicate signal is now known.
    Returns how many reports were updated."""
    rows = session.execute(
        select(ReportSignals, VulnerabilityReport, Vulnerability)
        .join(VulnerabilityReport, VulnerabilityReport.id == ReportSignals.report_id)
        .join(Vulnerability, Vulnerability.id == VulnerabilityReport.vuln_id)
        .where(VulnerabilityReport.vuln_id.in_(list(vuln_ids)))
        .with_for_update(of=ReportSignals)
    ).all()
    for row, _report, vuln in rows:
        signals = TriageSignals.model_validate(row.signals)
        updated = signals.model_copy(
            update={"duplicate_of": duplicate_signal(_duplicates(session, vuln))}
        )
        row.signals = updated.model_dump(mode="json")
        row.dedup_checked = True
        _place(session, row)
    return len(rows)


BACKFILL = 500  # reports given signals per queue read, at most


def backfill(session: Session) -> int:
    """Compute the signals (as at intake, without a tree) of reports in triage that have none:
    those filed before signals existed. Bounded per call; returns how many."""
    missing = session.scalars(
        select(VulnerabilityReport)
        .join(Vulnerability, Vulnerability.id == VulnerabilityReport.vuln_id)
        .outerjoin(ReportSignals, ReportSignals.report_id == VulnerabilityReport.id)
        .where(ReportSignals.report_id.is_(None))
        .where(Vulnerability.status.in_(sorted(s.value for s in OPEN)))
        .order_by(VulnerabilityReport.id)
        .limit(BACKFILL)
    ).all()
    for report in missing:
        ensure(session, report)
    return len(missing)


def ensure(session: Session, report: VulnerabilityReport) -> ReportSignals:
    """The report's stored signals; computed now (as at intake, without a tree) for a report
    that has none (one filed before signals existed)."""
    row = session.get(ReportSignals, report.id)
    if row is not None:
        return row
    vuln = session.get(Vulnerability, report.vuln_id)
    assert vuln is not None
    return store(session, report, vuln, stage="intake", index=None)


# --- what coordinators see ------------------------------------------------------------------


def _summary(s: TriageSignals) -> SignalsSummary:
    record = s.track_record.record
    return SignalsSummary(
        grounded=s.grounded.value.value if s.grounded.value is not None else None,
        grounded_score=s.grounded.score,
        has_poc=bool(s.has_poc.value),
        reproduced=s.reproduced.state.value,
        already_fixed=s.already_fixed.value,
        duplicate_of=s.duplicate_of.value,
        track_record=(
            f"{record.validated} of {record.n} validated" if record and record.known else None
        ),
        ssvc=s.ssvc.outcome,
    )


def _override_out(o: SignalOverride) -> OverrideOut:
    return OverrideOut.model_validate(o, from_attributes=True)


def triage_view(
    session: Session, p: Principal, report: VulnerabilityReport
) -> ReportTriageOut | None:
    """The report's signals for a caller who may read them (coordinators), else None."""
    try:
        authorize(p, Action.vuln_signals_read, report_target(report))
    except (PermissionDenied, NotFound):
        return None
    row = ensure(session, report)
    overrides = session.scalars(
        select(SignalOverride)
        .where(SignalOverride.report_id == report.id)
        .order_by(SignalOverride.created_at.desc(), SignalOverride.id.desc())
    ).all()
    word = in_force(session, report.id)
    effective = apply_overrides(TriageSignals.model_validate(row.signals), word)
    return ReportTriageOut(
        stage=row.stage,
        computed_at=row.computed_at,
        signals=row.signals,
        overrides=[_override_out(o) for o in overrides],
        in_force=word,
        effective=_summary(effective),
        tier=row.tier,
        tier_name=placement(effective, likely_invalid=likely_invalid_override(word)).tier_name,
        likely_invalid=row.likely_invalid,
        why=row.detail,
    )


def _queue_query(p: Principal):  # type: ignore[no-untyped-def]
    return (
        select(ReportSignals, VulnerabilityReport, Vulnerability)
        .join(VulnerabilityReport, VulnerabilityReport.id == ReportSignals.report_id)
        .join(Vulnerability, Vulnerability.id == VulnerabilityReport.vuln_id)
        .where(list_scope(p, "vuln_report").clause(VulnerabilityReport))
        .where(Vulnerability.status.in_(sorted(s.value for s in OPEN)))
    )


_ORDER = (
    ReportSignals.tier,
    ReportSignals.ssvc_rank,
    ReportSignals.score_key,
    ReportSignals.trust_key,
    ReportSignals.no_poc,
    ReportSignals.received,
    ReportSignals.report_id,
)


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        offset = int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(
            "the cursor is not one this server issued", code="cursor_invalid"
        ) from None
    if kind != "q" or not 0 <= offset <= 10**9:
        raise InvalidInput("the cursor is not one this server issued", code="cursor_invalid")
    return offset


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"q:{offset}".encode()).decode().rstrip("=")


def _why(position: int, total: int, row: ReportSignals) -> str:
    return f"{position} of {total}, {TIER_NAMES[Tier(row.tier)]}: {row.detail}"


def queue(
    session: Session, p: Principal, *, limit: int = 50, cursor: str | None = None
) -> Page[QueueItemOut]:
    """The triage queue (coordinators): the reports of records still in triage, ordered by
    `queue.rank()`'s order of their effective signals, each with its position and why. The
    cursor is a position: the queue reorders as evidence arrives."""
    authorize(p, Action.vuln_signals_read)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", code="limit_invalid")
    offset = _offset(cursor)
    backfill(session)
    base = _queue_query(p)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(*_ORDER).offset(offset).limit(limit + 1)).all()
    items = []
    for i, (row, report, vuln) in enumerate(rows[:limit]):
        word = in_force(session, report.id)
        effective = apply_overrides(TriageSignals.model_validate(row.signals), word)
        position = offset + i + 1
        items.append(
            QueueItemOut(
                position=position,
                report_id=report.id,
                vuln_id=vuln.id,
                title=vuln.summary,
                status=VulnStatus(vuln.status),
                received_at=report.created_at,
                tier=row.tier,
                tier_name=TIER_NAMES[Tier(row.tier)],
                likely_invalid=row.likely_invalid,
                ssvc=row.ssvc,
                signals=_summary(effective),
                overrides=word,
                why=_why(position, total, row),
            )
        )
    more = len(rows) > limit
    return Page(items=items, next_cursor=_cursor(offset + limit) if more else None)


@dataclass(frozen=True)
class AuditSampling:
    """The spot-check draw's settings: the share, and a salt derived from the instance's master
    key (a reporter cannot predict which of its reports are checked)."""

    share: float
    salt: str

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditSampling:
        salt = hmac.new(
            settings.master_key_bytes, b"clearinghouse triage audit sample v1", hashlib.sha256
        ).hexdigest()
        return cls(settings.triage_audit_share, salt)


def spot_checks(
    session: Session, p: Principal, sampling: AuditSampling, *, include_checked: bool = False
) -> list[SpotCheckOut]:
    """The reports marked likely invalid that the audit sample sends to a human spot check
    (`queue.audit_sample`: a deterministic draw per report), in queue order. A report is
    checked once a coordinator has given its word on "likely invalid" (an override); checked
    ones are left out unless `include_checked`."""
    authorize(p, Action.vuln_signals_read)
    backfill(session)
    rows = session.execute(
        _queue_query(p)
        .with_only_columns(
            ReportSignals.report_id,
            ReportSignals.tier,
            ReportSignals.likely_invalid,
            ReportSignals.ssvc,
            ReportSignals.detail,
            Vulnerability.id,
            Vulnerability.summary,
        )
        .order_by(*_ORDER)
    ).all()
    total = len(rows)
    entries = []
    info = {}
    for position, (rid, tier, invalid, ssvc, detail, vid, title) in enumerate(rows, start=1):
        info[rid] = (position, vid, title)
        entries.append(
            QueueEntry(
                report_id=rid,
                position=position,
                tier=tier,
                tier_name=TIER_NAMES[Tier(tier)],
                likely_invalid=invalid,
                ssvc=ssvc,
                why=f"{position} of {total}, {TIER_NAMES[Tier(tier)]}: {detail}",
            )
        )
    whys = {e.report_id: e.why for e in entries}
    out = []
    for pick in audit_sample(entries, sampling.share, salt=sampling.salt):
        word = in_force(session, pick.report_id)
        checked = "likely_invalid" in word
        if checked and not include_checked:
            continue
        position, vid, title = info[pick.report_id]
        out.append(
            SpotCheckOut(
                report_id=pick.report_id,
                vuln_id=vid,
                title=title,
                position=position,
                draw=pick.draw,
                checked=checked,
                overrides=word,
                why=f"{pick.why}; {whys[pick.report_id]}",
            )
        )
    return out


def _known_record(session: Session, value: str) -> bool:
    """A record (by our id or any alias) or a report with this id."""
    return (
        session.get(VulnerabilityReport, value) is not None
        or session.scalar(
            select(VulnerabilityAlias.vuln_id).where(VulnerabilityAlias.alias == value).limit(1)
        )
        is not None
    )


def override(session: Session, p: Principal, report_id: str, data: OverrideCreate) -> OverrideOut:
    """A coordinator overrides one automatic verdict, with a reason: kept next to the automatic
    value (both shown on the report), audited, and used by the queue from now on."""
    report = load_report(session, p, report_id, Action.vuln_signal_override, for_update=True)
    reason = data.reason.strip()
    if not reason:
        raise InvalidInput(
            "an override needs a reason (say why the automatic verdict is wrong)",
            code="override_reason_required",
        )
    value = check_override(data.signal, data.value)
    if data.signal == "duplicate_of" and value != "none" and not _known_record(session, value):
        raise InvalidInput(
            f"duplicate_of names no record or report ({value!r})", code="override_invalid"
        )
    row = ensure(session, report)
    row = session.get(ReportSignals, report.id, with_for_update=True) or row
    automatic = automatic_value(TriageSignals.model_validate(row.signals), data.signal)
    o = SignalOverride(
        id=new_id("ovr"),
        report_id=report.id,
        signal=data.signal,
        value=value,
        automatic=automatic,
        reason=reason,
        user_id=p.user_id,
        org_id=p.org_id,
        created_at=utcnow(),
    )
    session.add(o)
    session.flush()
    _place(session, row)
    audit.record(
        session,
        AuditTag.VULNS_REPORT_OVERRIDE,
        actor=p.actor,
        subject_type="vuln_report",
        subject_id=report.id,
        data={"signal": o.signal, "value": o.value, "automatic": automatic, "reason": reason},
    )
    return _override_out(o)
