"""Verifying the audit chain: every hash, every stored checkpoint, and the anchor and
checkpoint log outside the database.

The data directory keeps the key's anchor and a log of every checkpoint signed here
(`audit/anchor.py`); `verify_chain` checks both, so that deleting the key (and re-hashing the
trail as if it had never been keyed) or the newest events and the stored checkpoints does not
verify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearinghouse.audit import anchor, keys, note
from clearinghouse.audit.models import AuditCheckpoint, AuditEvent
from clearinghouse.audit.schemas import (
    AnchorCheck,
    ChainVerification,
    CheckpointCheck,
)
from clearinghouse.audit.trail import GENESIS, digest, latest, legacy_digest
from clearinghouse.core.errors import ConfigurationError

LOCAL_LOG = "local-log"  # the source of checks from this host's checkpoint log


@dataclass(frozen=True)
class _Boundary:
    """How to check each event: events up to `legacy_events` with SHA-256 (the last one must
    have `legacy_head`), later ones with `chain_key` (None: the key is gone, they cannot
    verify). `legacy_events` None: no key and no anchor, an unkeyed trail."""

    legacy_events: int | None
    legacy_head: str | None
    chain_key: bytes | None


def verify_chain(
    session: Session,
    checkpoint_files: Sequence[tuple[str, bytes | None]] = (),
    batch: int = 5000,
) -> ChainVerification:
    """Recompute the chain from the start, then compare it with the anchor, the latest stored
    checkpoint, this host's checkpoint log and `checkpoint_files` ((source, signed note or
    None if unreadable) pairs). `first_bad` is the seq of the first broken row (or, when a
    checkpoint shows events were removed, the first missing)."""
    material = keys.load(session)
    var_dir = keys.context(session).var_dir
    anchor_check, anchored = _check_anchor(var_dir, material)
    stored = latest(session)
    local = _local_log(var_dir)
    notes: list[tuple[str, bytes | None, AuditCheckpoint | None]] = [
        *([("stored", stored.note.encode(), stored)] if stored else []),
        *((source, body, None) for source, body in local),
        *((source, body, None) for source, body in checkpoint_files),
    ]
    checks: list[CheckpointCheck] = []
    wanted: dict[int, list[tuple[int, bytes]]] = {}  # size -> [(index in checks, head)]
    for source, body, row in notes:
        check, cp = _open_checkpoint(material, source, body)
        if cp is not None and row is not None and (row.size, row.head) != (cp.size, cp.head.hex()):
            check.ok, check.reason = False, "row_mismatch"
        checks.append(check)
        if cp is not None and check.reason is None:
            wanted.setdefault(cp.size, []).append((len(checks) - 1, cp.head))

    if material is not None:
        boundary = _Boundary(material.legacy_events, material.legacy_head, material.chain_key)
    elif anchored is not None:
        boundary = _Boundary(anchored.legacy_events, anchored.legacy_head, None)
    else:
        boundary = _Boundary(None, None, None)
    events, first_bad, heads = _walk(session, boundary, set(wanted), batch)
    for size, entries in wanted.items():
        for index, head in entries:
            check = checks[index]
            if size > events and (first_bad is None or first_bad > events):
                check.reason = "events_missing"
            elif first_bad is not None and size >= first_bad:
                check.reason = "chain_broken"
            elif heads[size] != head.hex():
                check.reason = "head_mismatch"
            check.ok = check.reason is None
    if first_bad is None and any(c.reason == "events_missing" for c in checks):
        first_bad = events + 1
    legacy = events if boundary.legacy_events is None else min(events, boundary.legacy_events)
    return ChainVerification(
        ok=first_bad is None and anchor_check.ok and all(c.ok for c in checks),
        events=events,
        first_bad=first_bad,
        legacy_events=legacy,
        key_id=material.verifier.key_id.hex() if material else None,
        anchor=anchor_check,
        checkpoints=_shorten_local(checks),
    )


def _check_anchor(
    var_dir: Path, material: keys.Material | None
) -> tuple[AnchorCheck, anchor.Anchor | None]:
    """The anchor must name the database's key; with no anchor there is nothing to compare
    (a fresh instance, or one keyed before anchors: its next write makes one)."""
    check = AnchorCheck(key_id=None, ok=True)
    try:
        anchored = anchor.read(var_dir)
    except ConfigurationError:
        check.ok, check.reason = False, "anchor_invalid"
        return check, None
    if anchored is None:
        return check, None
    check.key_id = anchored.key_id
    if material is None:
        check.ok, check.reason = False, "audit_key_lost"
    elif anchored.verifier_key != material.verifier.encode():
        check.ok, check.reason = False, "audit_key_mismatch"
    return check, anchored


def _local_log(var_dir: Path) -> list[tuple[str, bytes | None]]:
    try:
        entries = anchor.log_entries(var_dir)
    except OSError:
        return [(LOCAL_LOG, None)]
    return [(f"{LOCAL_LOG}:{number}", body) for number, body in entries or []]


def _shorten_local(checks: list[CheckpointCheck]) -> list[CheckpointCheck]:
    """Of the local log's entries (one per checkpoint ever signed here), report the latest
    and the first that fails; every one of them was checked."""
    local = [c for c in checks if c.source.startswith(LOCAL_LOG)]
    if not local:
        return checks
    keep = [
        max((c for c in local if c.size is not None), key=lambda c: c.size or 0, default=local[-1])
    ]
    keep += [c for c in local if not c.ok and c is not keep[0]][:1]
    return [c for c in checks if not c.source.startswith(LOCAL_LOG) or any(c is k for k in keep)]


def _open_checkpoint(
    material: keys.Material | None, source: str, body: bytes | None
) -> tuple[CheckpointCheck, note.Checkpoint | None]:
    check = CheckpointCheck(source=source, size=None, ok=False)
    if body is None:
        check.reason = "unreadable"
        return check, None
    if material is None:
        check.reason = "no_audit_key"
        return check, None
    try:
        cp = note.Checkpoint.parse(note.open_note(body, material.verifier))
    except note.NoteError as exc:
        check.reason = exc.reason
        return check, None
    check.size = cp.size
    if cp.origin != material.name:
        check.reason = "wrong_origin"
        return check, None
    return check, cp


def _walk(
    session: Session, boundary: _Boundary, sizes: set[int], batch: int
) -> tuple[int, int | None, dict[int, str]]:
    """(events that verify, first bad seq or None, {size: head hash} for `sizes`)."""
    legacy_limit = boundary.legacy_events
    prev, count, last_id = GENESIS, 0, 0
    heads = {0: GENESIS} if 0 in sizes else {}
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            count += 1
            if legacy_limit is None or event.seq <= legacy_limit:
                good = event.actor_token_id is None and event.hash == legacy_digest(prev, event)
                if event.seq == legacy_limit and event.hash != boundary.legacy_head:
                    good = False
            elif boundary.chain_key is None:
                good = False  # a keyed event, and the key is gone: it cannot verify
            else:
                good = event.hash == digest(boundary.chain_key, prev, event)
            if not good or event.seq != count or event.prev_hash != prev:
                return count, event.seq, heads
            if count in sizes:
                heads[count] = event.hash
            prev, last_id = event.hash, event.id
        session.expunge_all()
    if legacy_limit is not None and count < legacy_limit:
        return count, count + 1, heads  # legacy events removed from the end
    return count, None, heads
