"""Exposures: the prioritised listing, one exposure with its history, and the status workflow
(issue 15, part 4; docs/inventory.md, "Exposures").

    open ──▶ in_progress ──▶ mitigated | remediated | risk_accepted | not_affected
      └──────────────────────▶ (any of the four: a VEX, an automatic remediation)
    mitigated ──▶ in_progress | remediated | risk_accepted
    risk_accepted ──▶ open | in_progress        not_affected ──▶ open
    remediated: final

Every change is one `ExposureEvent` (who, when, note, evidence) and one audit event, in the
caller's transaction. `not_affected` needs a VEX justification (the labels OpenVEX and CSAF
share, `vulns.publication.vex.Justification`); no other status takes one.

Who: the policy decides (`exposure:read`, `exposure:update`; list scope "exposure", filtered
in SQL): the exposure's operator and coordinators; an exposure nobody else may see answers 404
exactly like an unknown id.

The listing is ordered by SSVC decision (Act, Attend, Track*, Track, then undecided), then due
date (none last), then id, with a keyset cursor over those three values. The order is stored:
`Exposure.ssvc_rank` (9 when undecided) and `Exposure.due_sort` (9999-12-31 when no due date),
so an index reads each page in order (inventory.models.Exposure names which).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select, true, tuple_
from sqlalchemy.orm import Session

from clearinghouse.accounts.listing import scoped_select
from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.audit import trail as audit
from clearinghouse.coordination.models import Case, CaseVuln, Participant, VendorStatus
from clearinghouse.coordination.publication import early_warning_tlp
from clearinghouse.coordination.schemas import ParticipantRole
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import (
    ClearinghouseError,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from clearinghouse.core.events import AuditTag
from clearinghouse.core.ids import new_id
from clearinghouse.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from clearinghouse.inventory import ssvc
from clearinghouse.inventory.models import (
    OPEN_STATUSES,
    Exposure,
    ExposureEvent,
    ExposureStatus,
)
from clearinghouse.inventory.schemas_exposures import (
    BulkResult,
    BulkStatusChange,
    ExposureDetail,
    ExposureEventOut,
    ExposureOut,
    StatusChange,
)
from clearinghouse.vulns.models import VulnerabilityAlias

S = ExposureStatus
EARLY_WARNING = "early_warning"
FULL = "full"

TRANSITIONS: dict[ExposureStatus, frozenset[ExposureStatus]] = {
    S.open: frozenset({S.in_progress, S.mitigated, S.remediated, S.risk_accepted, S.not_affected}),
    S.in_progress: frozenset({S.mitigated, S.remediated, S.risk_accepted, S.not_affected}),
    S.mitigated: frozenset({S.in_progress, S.remediated, S.risk_accepted}),
    S.risk_accepted: frozenset({S.open, S.in_progress}),
    S.not_affected: frozenset({S.open}),
    S.remediated: frozenset(),
}
SEVERITIES = ("critical", "high", "medium", "low", "none", "unknown")

# The listing's order: stored sort keys (undecided after Track, no due date after every date).
_ORDER = (Exposure.ssvc_rank, Exposure.due_sort, Exposure.id)
_RANKS = frozenset(ssvc.rank(o) for o in (*ssvc.OUTCOMES, None))


class ExposureFilterInvalid(InvalidInput):
    """A filter value outside its vocabulary (code `exposure_filter_invalid`)."""

    default_code = "exposure_filter_invalid"
    title = "Invalid exposure filter"


def check_transition(current: ExposureStatus, target: ExposureStatus) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        raise IllegalTransition(
            f"an exposure cannot go from {current.value} to {target.value}; allowed: {allowed}",
            current=current.value,
            target=target.value,
        )


def target(e: Exposure) -> Target:
    return Target("exposure", id=e.id, org_id=e.org_id)


def load(
    session: Session, p: Principal, exposure_id: str, action: Action, *, for_update: bool = False
) -> Exposure:
    """The exposure, if `p` may do `action` to it; unknown and invisible alike answer 404."""
    e = session.get(Exposure, exposure_id, with_for_update=for_update)
    if e is None:
        raise NotFound(f"no exposure with id {exposure_id!r}")
    authorize(p, action, target(e))
    return e


# --- reading ---------------------------------------------------------------------------------


def _early_warnings(
    session: Session, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(vuln id, org id) -> {case_id, tlp, mitigation} of the case an early warning came
    through: of the record's notified cases whose sharing group holds the organisation (never
    a case it is no party to, nor one that warned nobody yet), the strictest TLP, the newest
    of those. A warning never shows looser than a case it may have come through: a newer,
    looser case of the same record warns nothing new (the exposure exists) and so does not
    relabel it."""
    if not pairs:
        return {}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for vuln_id, org_id, case in session.execute(
        select(CaseVuln.vuln_id, Participant.org_id, Case)
        .join(Case, Case.id == CaseVuln.case_id)
        .join(Participant, Participant.case_id == Case.id)
        .where(
            CaseVuln.vuln_id.in_({v for v, _ in pairs}),
            Participant.org_id.in_({o for _, o in pairs}),
            Participant.role == ParticipantRole.operator_group.value,
            Case.notified_at.is_not(None),
        )
        .order_by(Case.created_at, Case.id)
    ):
        tlp = early_warning_tlp(case)
        seen = out.get((vuln_id, org_id))
        if seen is not None and seen["rank"] > tlp.rank:
            continue
        vendors = session.scalars(
            select(VendorStatus)
            .where(VendorStatus.case_id == case.id)
            .order_by(VendorStatus.vendor_org_id)
        )
        out[(vuln_id, org_id)] = {
            "rank": tlp.rank,
            "case_id": case.id,
            "tlp": tlp.value,
            "mitigation": [
                {"vendor_org_id": v.vendor_org_id, "status": v.status, "fixed": v.fixed_versions}
                for v in vendors
            ],
        }
    return out


def outs(session: Session, rows: Sequence[Exposure]) -> list[ExposureOut]:
    """Rows as the API shows them: with their record's aliases and, for an early warning, its
    case, TLP label and mitigation. Nothing of the record's text is ever read here."""
    vuln_ids = {e.vuln_id for e in rows}
    aliases: dict[str, list[str]] = {}
    if vuln_ids:
        for vuln_id, alias in session.execute(
            select(VulnerabilityAlias.vuln_id, VulnerabilityAlias.alias)
            .where(VulnerabilityAlias.vuln_id.in_(vuln_ids))
            .order_by(VulnerabilityAlias.alias)
        ):
            if alias != vuln_id:
                aliases.setdefault(vuln_id, []).append(alias)
    warnings = _early_warnings(
        session, {(e.vuln_id, e.org_id) for e in rows if e.detail == EARLY_WARNING}
    )
    now = utcnow()
    result = []
    for e in rows:
        warning = warnings.get((e.vuln_id, e.org_id), {}) if e.detail == EARLY_WARNING else {}
        result.append(
            ExposureOut(
                id=e.id,
                asset_id=e.asset_id,
                org_id=e.org_id,
                vuln_id=e.vuln_id,
                aliases=aliases.get(e.vuln_id, []),
                purl=e.purl,
                version=e.version,
                severity=e.severity,
                cvss_score=e.cvss_score,
                kev=e.kev,
                epss=e.epss,
                fixed_in=e.fixed_in,
                ssvc=e.ssvc,
                ssvc_inputs=e.ssvc_inputs,
                due_at=e.due_at,
                overdue=e.due_at is not None and e.due_at < now and e.status in OPEN_STATUSES,
                status=e.status,
                justification=e.justification,
                detail=e.detail,
                # an early warning whose case is gone still says AMBER
                tlp=warning.get("tlp", "AMBER") if e.detail == EARLY_WARNING else None,
                case_id=warning.get("case_id"),
                mitigation=warning.get("mitigation"),
                opened_at=e.opened_at,
                closed_at=e.closed_at,
                updated_at=e.updated_at,
            )
        )
    return result


def _choice(value: str | None, allowed: Sequence[str], what: str) -> str | None:
    if value is not None and value not in allowed:
        raise ExposureFilterInvalid(f"{what} must be one of {', '.join(allowed)}", field=what)
    return value


def filters(
    *,
    asset: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    kev: bool | None = None,
    ssvc_outcome: str | None = None,
) -> list[ColumnElement[bool]]:
    """The listing's filters as SQL conditions (each value checked)."""
    where: list[ColumnElement[bool]] = []
    if asset is not None:
        where.append(Exposure.asset_id == asset)
    if _choice(status, list(S), "status") is not None:
        where.append(Exposure.status == status)
    if _choice(severity, SEVERITIES, "severity") is not None:
        where.append(Exposure.severity == severity)
    if kev is not None:
        where.append(Exposure.kev.is_(kev))
    if _choice(ssvc_outcome, ssvc.OUTCOMES, "ssvc") is not None:
        # by its rank (the same rows): the listing's indexes then serve the filter too
        where.append(Exposure.ssvc_rank == ssvc.rank(ssvc_outcome))
    return where


def _cursor(e: Exposure) -> str:
    due = e.due_sort.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
    return encode_cursor(f"{e.ssvc_rank}.{due}.{e.id}")


def _after(cursor: str, rank_filter: int | None) -> ColumnElement[bool]:
    """The rows after the cursor's, as a row value that both databases seek an index to. With
    the rank fixed by a filter, only (due_sort, id) is compared (SQLite sorts otherwise)."""
    value = decode_cursor(cursor)
    try:
        rank_s, due_s, last_id = value.split(".", 2)
        rank = int(rank_s)
        due = datetime.strptime(due_s, "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            "the cursor is not one this server issued", code="cursor_invalid"
        ) from None
    # only a rank the server writes: a forged one past the column's integer range would
    # reach the database as a bound value it refuses (a 500)
    if not last_id or rank_s != str(rank) or rank not in _RANKS:
        raise InvalidInput("the cursor is not one this server issued", code="cursor_invalid")
    if rank_filter is None:
        return tuple_(*_ORDER) > (rank, due, last_id)
    if rank != rank_filter:  # a cursor of another rank: all of this one, or none, follows it
        return true() if rank < rank_filter else false()
    return tuple_(Exposure.due_sort, Exposure.id) > (due, last_id)


def list_exposures(
    session: Session,
    p: Principal,
    *,
    asset: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    kev: bool | None = None,
    ssvc_outcome: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ExposureOut]:
    """One page of the exposures `p` may see, prioritised (see the module docstring)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", code="limit_invalid")
    where = filters(
        asset=asset, status=status, severity=severity, kev=kev, ssvc_outcome=ssvc_outcome
    )
    query = scoped_select(p, "exposure", Exposure).where(*where)
    if cursor:
        query = query.where(_after(cursor, ssvc.rank(ssvc_outcome) if ssvc_outcome else None))
    rows = list(session.scalars(query.order_by(*_ORDER).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=outs(session, rows), next_cursor=_cursor(rows[-1]) if more and rows else None)


def all_exposures(session: Session, p: Principal, **filter_args: Any) -> list[ExposureOut]:
    """Every exposure `p` may see under the filters, in the listing's order (the CLI's)."""
    items: list[ExposureOut] = []
    cursor = None
    while True:
        page = list_exposures(session, p, limit=MAX_LIMIT, cursor=cursor, **filter_args)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def _events(session: Session, exposure_id: str) -> list[ExposureEventOut]:
    rows = session.scalars(
        select(ExposureEvent)
        .where(ExposureEvent.exposure_id == exposure_id)
        .order_by(ExposureEvent.at, ExposureEvent.id)
    )
    return [
        ExposureEventOut(
            id=x.id,
            at=x.at,
            actor=x.actor,
            from_status=x.from_status,
            to_status=x.to_status,
            note=x.note,
            evidence=x.evidence,
        )
        for x in rows
    ]


def get_exposure(session: Session, p: Principal, exposure_id: str) -> ExposureDetail:
    e = load(session, p, exposure_id, Action.exposure_read)
    return ExposureDetail(**outs(session, [e])[0].model_dump(), events=_events(session, e.id))


# --- the status workflow ---------------------------------------------------------------------


def _check_justification(body: StatusChange) -> None:
    if body.status is S.not_affected and body.justification is None:
        raise InvalidInput(
            "not_affected needs a justification",
            code="justification_required",
            field="justification",
        )
    if body.status is not S.not_affected and body.justification is not None:
        raise InvalidInput(
            "only not_affected takes a justification",
            code="justification_not_allowed",
            field="justification",
        )


def apply_status(
    session: Session,
    e: Exposure,
    to: ExposureStatus,
    *,
    actor: str,
    note: str,
    justification: str | None = None,
    evidence: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Move one exposure (already authorised) and write its event. Raises IllegalTransition."""
    now = now or utcnow()
    check_transition(S(e.status), to)
    session.add(
        ExposureEvent(
            id=new_id("xev"),
            exposure_id=e.id,
            at=now,
            actor=actor,
            from_status=e.status,
            to_status=to.value,
            note=note,
            evidence=evidence or {},
        )
    )
    e.status = to.value
    e.justification = justification if to is S.not_affected else None
    e.closed_at = None if to in OPEN_STATUSES else now
    e.updated_at = now


def _actor(p: Principal) -> str:
    return p.user_id or p.org_id or "system"


def change_status(
    session: Session, p: Principal, exposure_id: str, body: StatusChange
) -> ExposureDetail:
    """One exposure's status change, with its event and audit record."""
    _check_justification(body)
    e = load(session, p, exposure_id, Action.exposure_read, for_update=True)
    authorize(p, Action.exposure_update, target(e))
    before = e.status
    justification = body.justification.value if body.justification else None
    apply_status(
        session, e, body.status, actor=_actor(p), note=body.note, justification=justification
    )
    audit.record(
        session,
        AuditTag.INVENTORY_EXPOSURE_STATUS,
        actor=p.actor,
        subject_type="exposure",
        subject_id=e.id,
        data={"from": before, "to": e.status, "justification": justification, "note": body.note},
    )
    session.flush()
    return get_exposure(session, p, e.id)


def bulk_status(session: Session, p: Principal, body: BulkStatusChange) -> BulkResult:
    """All or nothing: every id is loaded, authorised and checked before anything changes; the
    first refused id is named in the error (404 for one it may not see, 403 for one it may not
    change, 409 for an illegal move)."""
    _check_justification(body)
    ids = list(dict.fromkeys(body.ids))
    loaded = []
    for exposure_id in ids:
        try:
            e = load(session, p, exposure_id, Action.exposure_read, for_update=True)
            authorize(p, Action.exposure_update, target(e))
            check_transition(S(e.status), body.status)
        except ClearinghouseError as exc:  # the same refusal, naming the id; nothing changed
            raise type(exc)(
                f"{exposure_id}: {exc.detail} (nothing was changed)",
                code=exc.code,
                **{**exc.extra, "exposure_id": exposure_id},
            ) from None
        loaded.append(e)
    now = utcnow()
    justification = body.justification.value if body.justification else None
    for e in loaded:
        before = e.status
        apply_status(
            session,
            e,
            body.status,
            actor=_actor(p),
            note=body.note,
            justification=justification,
            evidence={"bulk": len(loaded)},
            now=now,
        )
        audit.record(
            session,
            AuditTag.INVENTORY_EXPOSURE_STATUS,
            actor=p.actor,
            subject_type="exposure",
            subject_id=e.id,
            data={"from": before, "to": e.status, "justification": justification, "bulk": True},
        )
    return BulkResult(changed=ids)
