"""The instance's own evidence, outside the database, that its audit trail is keyed.

Someone who controls the database but not the master key can delete the audit key row, the
stored checkpoints and the key's events, and re-hash the whole trail with plain SHA-256: the
database alone can then no longer tell a stripped trail from one that was never keyed. So the
instance keeps, in its data directory (`settings.var_dir`, never in the database):

- `audit/anchor.json` (0600), written when the audit key is created: the key id, the public
  verifier key, the origin and the legacy boundary. While it exists, no new audit key is made
  (`audit_key_lost`), and `audit verify` fails when the database no longer holds that key.
- `audit/checkpoints.log` (0600), one JSON line per checkpoint this host signed
  (`{"size", "head", "note"}`, the note byte for byte), which `audit verify` checks by default.

Files are written at the right moment of the database transaction (`install()` hooks the
session factory): the anchor just before the key commits (a failure to write it aborts the
key) and is removed again if the transaction rolls back; a log line is appended only after its
checkpoint committed, so the log never holds a checkpoint the database never had.

Both files are public data (no secret): what matters is that the database's attacker cannot
change them. An attacker who controls both the database and this directory is out of reach of
this module; only checkpoints kept by third parties catch that (docs/audit.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from clearinghouse.audit import note
from clearinghouse.core.errors import ConfigurationError

log = logging.getLogger(__name__)

ANCHOR_FILE = "anchor.json"
LOG_FILE = "checkpoints.log"
_PENDING_ANCHOR = "clearinghouse.audit.anchor.pending"  # (directory, Anchor, sealed id)
_WRITTEN_ANCHOR = "clearinghouse.audit.anchor.written"  # (directory, Anchor)
_PENDING_LOG = "clearinghouse.audit.log.pending"  # [(directory, checkpoint id, line)]
_READY_LOG = "clearinghouse.audit.log.ready"


def directory(var_dir: Path) -> Path:
    return var_dir / "audit"


@dataclass(frozen=True)
class Anchor:
    key_id: str  # hex, 8 digits
    verifier_key: str  # <origin>+<key id>+<base64 public key>
    origin: str
    legacy_events: int
    legacy_head: str
    created_at: str

    @property
    def verifier(self) -> note.Verifier:
        return note.Verifier.parse(self.verifier_key)

    @classmethod
    def parse(cls, raw: bytes) -> Anchor:
        try:
            body = json.loads(raw)
            anchor = cls(
                key_id=str(body["key_id"]),
                verifier_key=str(body["verifier_key"]),
                origin=str(body["origin"]),
                legacy_events=int(body["legacy_events"]),
                legacy_head=str(body["legacy_head"]),
                created_at=str(body["created_at"]),
            )
            verifier = anchor.verifier
        except (ValueError, KeyError, TypeError) as exc:  # NoteError is a ValueError
            raise _invalid("is not a valid audit anchor") from exc
        if (verifier.key_id.hex(), verifier.name) != (anchor.key_id, anchor.origin):
            raise _invalid("names a key id or origin that its verifier key does not have")
        return anchor


def _invalid(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"the audit anchor file (audit/{ANCHOR_FILE} in the data directory) {what}; it is "
        "evidence of the audit key, so the audit trail "
        "refuses to go on without it (docs/audit.md, 'The anchor')",
        code="audit_anchor_invalid",
    )


def read(var_dir: Path) -> Anchor | None:
    """The anchor, None when there is none, ConfigurationError when it cannot be read."""
    path = directory(var_dir) / ANCHOR_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _invalid(f"cannot be read ({exc.strerror})") from exc
    return Anchor.parse(raw)


def _private_dir(var_dir: Path) -> Path:
    path = directory(var_dir)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(var_dir: Path, anchor: Anchor) -> None:
    """Write the anchor atomically (0600): a reader sees the old file or the new one."""
    folder = _private_dir(var_dir)
    tmp = folder / f".{ANCHOR_FILE}.{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(anchor), fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / ANCHOR_FILE)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(folder)


def _remove(var_dir: Path, anchor: Anchor) -> None:
    """Undo a `write` whose key did not commit, if the file still holds that anchor."""
    try:
        if read(var_dir) == anchor:
            (directory(var_dir) / ANCHOR_FILE).unlink()
    except (ConfigurationError, OSError):
        log.exception("could not remove an audit anchor whose key was rolled back")


def log_entries(var_dir: Path) -> list[tuple[int, bytes | None]] | None:
    """The local checkpoint log as (line number, signed note or None when the line is not a
    log entry); None when there is no log. OSError when it cannot be read."""
    path = directory(var_dir) / LOG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    entries: list[tuple[int, bytes | None]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            body = json.loads(line)
            entries.append((number, str(body["note"]).encode()))
        except (ValueError, KeyError, TypeError):
            entries.append((number, None))
    return entries


def _append_log(var_dir: Path, line: str) -> None:
    folder = _private_dir(var_dir)
    fd = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # several processes of one host append
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


# --- tied to the database transaction -------------------------------------------------------


def write_on_commit(session: Session, var_dir: Path, anchor: Anchor, sealed_id: str) -> None:
    """Write `anchor` just before this session commits, if the key row (`sealed_id`) is still
    there then."""
    session.info[_PENDING_ANCHOR] = (var_dir, anchor, sealed_id)


def log_on_commit(
    session: Session, var_dir: Path, checkpoint_id: int, size: int, head: str, signed: str
) -> None:
    """Append a checkpoint to the local log once it has committed."""
    line = json.dumps({"size": size, "head": head, "note": signed}, sort_keys=True) + "\n"
    session.info.setdefault(_PENDING_LOG, []).append((var_dir, checkpoint_id, line))


def install(sessions: sessionmaker[Session]) -> None:
    """Hook the anchor and the log into every session of this factory."""
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_rollback", _after_rollback)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction decides
    from clearinghouse.audit.models import AuditCheckpoint, AuditKey

    pending: Any = session.info.pop(_PENDING_ANCHOR, None)
    if pending is not None:
        var_dir, anchor, sealed_id = pending
        row = session.scalar(select(AuditKey.sealed_id).where(AuditKey.sealed_id == sealed_id))
        if row is not None:  # not undone by a rolled-back savepoint
            existing = read(var_dir)
            if existing is not None and existing.key_id != anchor.key_id:
                raise ConfigurationError(
                    "the audit anchor names another audit key", code="audit_key_mismatch"
                )
            if existing is None:
                session.info[_WRITTEN_ANCHOR] = (var_dir, anchor)  # undone on rollback
                try:  # an error here aborts the commit: no key without its anchor
                    write(var_dir, anchor)
                except OSError as exc:
                    raise ConfigurationError(
                        f"cannot write the audit anchor (audit/{ANCHOR_FILE} in the data "
                        f"directory: {exc.strerror}); the audit key is not made without it",
                        code="audit_anchor_unwritable",
                    ) from exc
    entries = session.info.pop(_PENDING_LOG, [])
    if entries:
        ids = {entry[1] for entry in entries}
        present = set(
            session.scalars(select(AuditCheckpoint.id).where(AuditCheckpoint.id.in_(ids)))
        )
        session.info[_READY_LOG] = [entry for entry in entries if entry[1] in present]


def _after_commit(session: Session) -> None:
    session.info.pop(_WRITTEN_ANCHOR, None)
    for var_dir, _, line in session.info.pop(_READY_LOG, []):
        try:
            _append_log(var_dir, line)
        except OSError:
            # The checkpoint is committed and stays in the database; only this host's copy of
            # it is missing. The next checkpoint covers everything this one did.
            log.exception("could not append a checkpoint to the local audit checkpoint log")


def _after_rollback(session: Session) -> None:
    written = session.info.pop(_WRITTEN_ANCHOR, None)
    if written is not None:
        _remove(*written)
    for key in (_PENDING_ANCHOR, _PENDING_LOG, _READY_LOG):
        session.info.pop(key, None)
