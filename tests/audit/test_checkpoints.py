"""The keyed audit chain and its signed checkpoints, against an attacker who is a database
superuser (triggers off, any row rewritten or deleted) but has no master key."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.tokens import authenticate
from clearinghouse.audit import note
from clearinghouse.audit import trail as audit
from clearinghouse.audit import verify as audit_verify
from clearinghouse.audit.models import AuditEvent, AuditKey
from clearinghouse.audit.schemas import Actor
from clearinghouse.container import Services, build_services
from clearinghouse.core.clock import isoformat, utcnow
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import ConfigurationError
from clearinghouse.storage import migrate
from clearinghouse.storage.db import Database
from tests.support.tamper import tamper
from tests.support.world import World

# --- the known-answer vectors of golang.org/x/mod/sumdb/note (note_test.go) -----------------
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"


def _events(services: Services, n: int, actor: Actor | None = None) -> None:
    with services.db.transaction() as s:
        for i in range(n):
            audit.record(
                s,
                "test:thing:touch",
                actor=actor or Actor("usr_1", "org_1"),
                subject_type="thing",
                subject_id=f"t{i}",
                data={"i": i},
            )


def _checkpoint(services: Services) -> str:
    with services.db.transaction() as s:
        return audit.write_checkpoint(s, Actor()).note


def _verify(services: Services, files: list[tuple[str, bytes | None]] | None = None) -> dict:
    with services.db.transaction() as s:
        return audit_verify.verify_chain(s, files or []).model_dump()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearinghouse", *args], env=env, capture_output=True, text=True
    )


def _verifier_from_anchor(services: Services) -> note.Verifier:
    body = json.loads((services.settings.var_dir / "audit" / "anchor.json").read_text())
    return note.Verifier.parse(body["verifier_key"])


def _verifier(services: Services) -> note.Verifier:
    with services.db.transaction() as s:
        return note.Verifier.parse(audit.ensure_checkpoint_key(s).verifier_key)


# --- (e) the signed-note format against the reference implementation -------------------------


def test_signed_note_known_answer_vector() -> None:
    verifier = note.Verifier.parse(GO_VKEY)
    assert verifier.encode() == GO_VKEY
    assert note.open_note(GO_TEXT + "\n" + GO_SIG, verifier) == GO_TEXT
    # Signatures by keys we do not know are ignored; ours still counts.
    assert note.open_note(GO_TEXT + "\n" + GO_SIG + GO_ENOCH_SIG, verifier) == GO_TEXT
    # Ed25519 is deterministic: signing with the reference's private key gives its bytes.
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])  # PRIVATE+KEY+<name>+<id>+<key>
    assert seed[0] == note.ALG_ED25519
    key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert note.sign(GO_TEXT, "PeterNeumann", key) == GO_TEXT + "\n" + GO_SIG
    assert note.Verifier.for_key("PeterNeumann", note.public_bytes(key)).encode() == GO_VKEY


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (GO_TEXT + "\n" + GO_SIG[:60] + "ABCD" + GO_SIG[60:], "bad_signature"),
        (GO_TEXT.replace("answer", "ANSWER") + "\n" + GO_SIG, "bad_signature"),
        (GO_TEXT + "\n" + GO_ENOCH_SIG, "unknown_key"),
        (GO_TEXT, "malformed_note"),
        (GO_TEXT + "\n", "malformed_note"),
        (GO_TEXT + "\n" + GO_SIG[:-1], "malformed_note"),
        ("\x01" + GO_TEXT + "\n" + GO_SIG, "malformed_note"),
        (GO_TEXT + "\n" + GO_SIG + "Unexpected line.\n", "malformed_note"),
        (GO_TEXT + "\n" + GO_SIG * 101, "malformed_note"),
        (GO_TEXT + "\n" + GO_SIG.replace("x08g", "xxxx"), "unknown_key"),
    ],
)
def test_signed_note_refusals(message: str, reason: str) -> None:
    """The reference implementation's refusals (note_test.go TestOpen), as our reasons."""
    with pytest.raises(note.NoteError) as caught:
        note.open_note(message, note.Verifier.parse(GO_VKEY))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "bad",
    [
        GO_VKEY[:-1],
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ],
)
def test_mangled_verifier_keys_are_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.Verifier.parse(bad)


def test_checkpoint_text_round_trip() -> None:
    cp = note.Checkpoint("cert.example/audit", 42, bytes(range(32)))
    assert cp.text() == f"cert.example/audit\n42\n{base64.b64encode(bytes(range(32))).decode()}\n"
    assert note.Checkpoint.parse(cp.text()) == cp
    for bad in ("cert.example/audit\n042\nAAAA\n", "x\n1\n" + "A" * 44, "x\n-1\nAAAA\n"):
        with pytest.raises(note.NoteError):
            note.Checkpoint.parse(bad)


# --- (a) deleting the newest events ----------------------------------------------------------


def test_deleting_the_newest_events_is_caught_by_checkpoints(
    services: Services, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _events(services, 5)
    exported = tmp_path / "checkpoint.txt"
    made = _cli(cli_env, "audit", "checkpoint", "--out", str(exported), "--json")
    assert made.returncode == 0, made.stderr
    size = json.loads(made.stdout)["size"]
    assert size == 7 and exported.read_text() == json.loads(made.stdout)["note"]
    assert _verify(services, [("file", exported.read_bytes())])["ok"] is True

    # The attacker removes the newest three events (the checkpoint's own among them).
    tamper(services, "DELETE FROM audit_events WHERE seq > 4")
    result = _verify(services)
    assert result["ok"] is False and result["events"] == 4 and result["first_bad"] == 5
    missing = {"size": 7, "ok": False, "reason": "events_missing"}
    assert result["checkpoints"] == [
        {"source": "stored", **missing},
        {"source": "local-log:1", **missing},  # this host's own copy (var/audit)
    ]
    cli = _cli(cli_env, "audit", "verify", "--json", "--checkpoint", str(exported))
    assert cli.returncode == 1
    assert [c["reason"] for c in json.loads(cli.stdout)["checkpoints"]] == [
        "events_missing",
        "events_missing",
        "events_missing",
    ]

    # ... and then every stored checkpoint: the host's log and the copy kept elsewhere still
    # catch it (the database alone no longer could).
    tamper(services, "DELETE FROM audit_checkpoints")
    result = _verify(services)
    assert result["ok"] is False and result["first_bad"] == 5
    assert result["checkpoints"] == [{"source": "local-log:1", **missing}]
    cli = _cli(cli_env, "audit", "verify", "--json", "--checkpoint", str(exported))
    assert cli.returncode == 1, cli.stdout
    body = json.loads(cli.stdout)
    assert body["ok"] is False and body["first_bad"] == 5
    assert body["checkpoints"] == [
        {"source": "local-log:1", **missing},
        {"source": str(exported), **missing},
    ]


# --- (b) rewriting the chain -----------------------------------------------------------------


def _rechain(services: Services, from_seq: int, forge: Callable[[str, AuditEvent], str]) -> None:
    """Edit event `from_seq` and recompute it and every later event with `forge`."""
    with services.db.transaction() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.seq >= from_seq - 1).order_by(AuditEvent.seq)
        ).all()
        prev, updates = rows[0].hash, []
        for row in rows[1:]:
            data = {"i": 42} if row.seq == from_seq else row.data
            s.expunge(row)
            row.data, row.prev_hash = data, prev
            row.hash = prev = forge(prev, row)
            updates.append((row.seq, json.dumps(data), row.prev_hash, row.hash))
    for seq, data, prev_hash, digest in updates:
        tamper(
            services,
            "UPDATE audit_events SET data = :data, prev_hash = :p, hash = :h WHERE seq = :seq",
            data=data,
            p=prev_hash,
            h=digest,
            seq=seq,
        )


def _sha256_as_before(prev: str, row: AuditEvent) -> str:
    """The chain as it was: sha256(prev_hash || canonical JSON), computed by the attacker."""
    import hashlib

    fields = {
        "seq": row.seq,
        "occurred_at": isoformat(row.occurred_at),
        "tag": row.tag,
        "actor_user_id": row.actor_user_id,
        "actor_org_id": row.actor_org_id,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "data": row.data,
        "request_id": row.request_id,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


@pytest.mark.parametrize("attack", ["sha256", "guessed-key", "guessed-key-with-token"])
def test_rewriting_the_chain_without_the_key_is_detected(services: Services, attack: str) -> None:
    _events(services, 6)
    guess = b"\x00" * 32

    def forge(prev: str, row: AuditEvent) -> str:
        if attack == "sha256":
            return _sha256_as_before(prev, row)
        if attack == "guessed-key-with-token":
            row.actor_token_id = None
        return audit.digest(guess, prev, row)

    _rechain(services, 4, forge)
    result = _verify(services)
    assert result["ok"] is False and result["first_bad"] == 4


def test_legacy_events_verify_and_their_boundary_is_sealed(services: Services) -> None:
    """An instance upgraded from SHA-256 chaining: its old events still verify (as legacy), the
    first keyed event links to their head, and re-hashing them with SHA-256 is detected."""
    prev = audit.GENESIS
    with services.db.transaction() as s:
        for seq in (1, 2, 3):
            row = AuditEvent(
                seq=seq,
                occurred_at=utcnow(),
                tag="legacy:thing:touch",
                subject_type="thing",
                subject_id=str(seq),
                data={"n": seq},
                prev_hash=prev,
            )
            row.hash = prev = _sha256_as_before(prev, row)
            s.add(row)
    _events(services, 2)  # creates the key: 3 legacy events are sealed with it
    result = _verify(services)
    assert (result["ok"], result["events"], result["legacy_events"]) == (True, 6, 3)
    with services.db.transaction() as s:
        first_keyed = s.scalars(select(AuditEvent).where(AuditEvent.seq == 4)).one()
        assert first_keyed.tag == "audit:key:create" and first_keyed.prev_hash == prev
        assert first_keyed.data["legacy_events"] == 3

    # Re-hash the legacy events with SHA-256 after an edit: their head no longer matches the
    # sealed one, so the break is at the last legacy event even if the attacker also fixes
    # the keyed event's stored link.
    _rechain(services, 2, lambda p, r: _sha256_as_before(p, r) if r.seq <= 3 else r.hash)
    result = _verify(services)
    assert result["ok"] is False and result["first_bad"] == 3

    # Deleting legacy events from the end is seen too (the sealed count).
    tamper(services, "DELETE FROM audit_events WHERE seq >= 3")
    assert _verify(services)["first_bad"] == 3


def test_migration_keeps_sha256_events_verifiable(tmp_path: Path, master_key: str) -> None:
    """A database with events from before 0005 upgrades, keeps verifying, and is keyed from
    then on."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    migrate.upgrade(db, "0004")
    table = AuditEvent.__table__
    with db.engine.begin() as c:
        prev = audit.GENESIS
        for seq in (1, 2):
            row = AuditEvent(
                seq=seq,
                occurred_at=datetime(2026, 1, seq, tzinfo=UTC),
                tag="old:thing:touch",
                subject_type="thing",
                data={},
                prev_hash=prev,
            )
            row.hash = prev = _sha256_as_before(prev, row)
            c.execute(
                insert(table).values(  # the 0004 columns only
                    seq=seq,
                    occurred_at=row.occurred_at,
                    tag=row.tag,
                    subject_type=row.subject_type,
                    data=row.data,
                    prev_hash=row.prev_hash,
                    hash=row.hash,
                )
            )
    migrate.upgrade(db)
    db.dispose()
    services = build_services(
        Settings(env="test", var_dir=tmp_path / "var", database_url=url, master_key=master_key)  # type: ignore[arg-type]
    )
    try:
        first = _verify(services)
        assert (first["ok"], first["events"], first["legacy_events"], first["key_id"]) == (
            True,
            2,
            2,
            None,
        )
        _events(services, 1)
        after = _verify(services)
        assert (after["ok"], after["events"], after["legacy_events"]) == (True, 4, 2)
        assert after["key_id"] is not None
    finally:
        services.db.dispose()


# --- (c), (d) forged checkpoints -------------------------------------------------------------


def _other_instance(tmp_path: Path, origin: str | None) -> Services:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    import secrets as _secrets

    return build_services(
        Settings(
            env="test",  # type: ignore[arg-type]
            var_dir=tmp_path / "other-var",
            database_url=url,
            master_key=base64.urlsafe_b64encode(_secrets.token_bytes(32)).decode(),  # type: ignore[arg-type]
            audit_checkpoint_origin=origin,
        )
    )


def test_forged_and_foreign_checkpoints_are_refused(settings: Settings, tmp_path: Path) -> None:
    origin = "cert.example/clearinghouse/audit"
    ours = build_services(settings.model_copy(update={"audit_checkpoint_origin": origin}))
    other = _other_instance(tmp_path, origin)  # same origin name, its own key
    try:
        _events(ours, 3)
        genuine = _checkpoint(ours)
        text, _, sig = genuine.partition("\n\n")
        lines = text.split("\n")
        assert note.Checkpoint.parse(text + "\n").size == 5  # key, 3 events, its own

        attacker = Ed25519PrivateKey.generate()
        forged_text = note.Checkpoint(origin, 2, bytes.fromhex(_head(ours, 2))).text()
        _events(other, 3)
        foreign = _checkpoint(other)
        cases = {
            "other-key": note.sign(forged_text, origin, attacker),
            "edited-size": genuine.replace(f"\n{lines[1]}\n", "\n3\n", 1),
            "edited-head": genuine.replace(lines[2], base64.b64encode(b"\x01" * 32).decode()),
            "other-instance": foreign,
            "garbage": "not a note",
            "signature-only": sig,
        }
        result = _verify(ours, [(k, v.encode()) for k, v in cases.items()])
        assert result["ok"] is False and result["first_bad"] is None  # the chain itself is fine
        reasons = {c["source"]: c["reason"] for c in result["checkpoints"]}
        assert reasons == {
            "stored": None,
            "local-log:1": None,
            "other-key": "unknown_key",
            "edited-size": "bad_signature",
            "edited-head": "bad_signature",
            "other-instance": "unknown_key",
            "garbage": "malformed_note",
            "signature-only": "malformed_note",
        }
        # The other instance's note, read with its own key, is a valid checkpoint of its chain.
        assert _verify(other, [("ours", genuine.encode())])["checkpoints"][-1]["reason"] == (
            "unknown_key"
        )
    finally:
        ours.db.dispose()
        other.db.dispose()


def _head(services: Services, seq: int) -> str:
    with services.db.transaction() as s:
        return s.scalars(select(AuditEvent.hash).where(AuditEvent.seq == seq)).one()


def test_a_stored_checkpoint_row_edited_around_its_note_is_refused(services: Services) -> None:
    _events(services, 2)
    _checkpoint(services)
    tamper(services, "UPDATE audit_checkpoints SET size = 2")
    assert _verify(services)["checkpoints"][0]["reason"] == "row_mismatch"


def test_deleting_the_audit_key_leaves_exported_checkpoints_unverifiable(
    services: Services,
) -> None:
    """Without the key the chain can pass for an unkeyed legacy one; a checkpoint kept elsewhere
    then fails, which is how a third party notices."""
    _events(services, 2)
    exported = _checkpoint(services)
    tamper(services, "DELETE FROM audit_keys")
    result = _verify(services, [("file", exported.encode())])
    assert result["ok"] is False and result["key_id"] is None
    assert [c["reason"] for c in result["checkpoints"]] == ["no_audit_key"] * 3
    # The data directory's anchor names the key the database lost; every event after the
    # (empty) legacy boundary it records was keyed and can no longer verify.
    anchored = _verifier_from_anchor(services)
    assert result["anchor"] == {
        "key_id": anchored.key_id.hex(),
        "ok": False,
        "reason": "audit_key_lost",
    }
    assert result["first_bad"] == 1
    # The application does not quietly make a new key (that would seal the whole trail so far
    # as unkeyed "legacy" events): it refuses to write until the key is restored.
    with pytest.raises(ConfigurationError) as refused, services.db.transaction() as s:
        audit.record(s, "test:thing:touch", actor=Actor(), subject_type="t", subject_id=None)
    assert refused.value.code == "audit_key_lost"


# --- (g) the anchor and the checkpoint log, outside the database ------------------------------
# The attacker controls the database, not the host's data directory (var_dir).


def _anchor_path(services: Services) -> Path:
    return services.settings.var_dir / "audit" / "anchor.json"


def _log_path(services: Services) -> Path:
    return services.settings.var_dir / "audit" / "checkpoints.log"


def _record(services: Services) -> None:
    with services.db.transaction() as s:
        audit.record(s, "test:thing:touch", actor=Actor(), subject_type="t", subject_id=None)


def _refused(services: Services) -> str:
    with pytest.raises(ConfigurationError) as refused:
        _record(services)
    return refused.value.code


def test_the_key_is_anchored_and_every_checkpoint_logged_outside_the_database(
    services: Services,
) -> None:
    _events(services, 2)
    verifier = _verifier(services)
    path = _anchor_path(services)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    body = json.loads(path.read_text())
    assert body["verifier_key"] == verifier.encode() and body["key_id"] == verifier.key_id.hex()
    assert (body["origin"], body["legacy_events"]) == (verifier.name, 0)
    notes = [_checkpoint(services), _checkpoint(services)]
    log = _log_path(services)
    assert log.stat().st_mode & 0o777 == 0o600
    assert [json.loads(line)["note"] for line in log.read_text().splitlines()] == notes
    result = _verify(services)
    assert result["ok"] is True
    assert result["anchor"] == {"key_id": verifier.key_id.hex(), "ok": True, "reason": None}
    assert [c["source"] for c in result["checkpoints"]] == ["stored", "local-log:2"]


def test_a_stripped_trail_is_not_rekeyed_even_without_the_key_event(services: Services) -> None:
    """The database attacker removes the key, the key's event and the checkpoints: the
    database no longer shows that a key ever existed, the data directory does."""
    _events(services, 3)
    _checkpoint(services)
    tamper(
        services,
        "DELETE FROM audit_keys",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_events WHERE tag LIKE 'audit:%'",
    )
    assert _refused(services) == "audit_key_lost"
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditKey)) == 0  # no new key
    result = _verify(services)
    assert result["ok"] is False and result["anchor"]["reason"] == "audit_key_lost"
    # The first event left (seq 2: the key's event was 1) is after the anchored legacy
    # boundary (0), so it was keyed, and nothing can verify it any more.
    assert result["first_bad"] == 2


def test_the_local_log_catches_a_master_key_holder_who_rewrites_the_database(
    services: Services,
) -> None:
    """Someone with the master key and the database (not the host) re-keys an edited event and
    every later one, and deletes the stored checkpoints: the chain verifies, this host's log of
    checkpoints does not."""
    _events(services, 4)
    _checkpoint(services)
    with services.db.transaction() as s:
        chain_key = audit.keys.load(s).chain_key  # type: ignore[union-attr]
    _rechain(services, 3, lambda prev, row: audit.digest(chain_key, prev, row))
    tamper(services, "DELETE FROM audit_checkpoints")
    result = _verify(services)
    assert result["first_bad"] is None and result["ok"] is False
    assert result["checkpoints"] == [
        {"source": "local-log:1", "size": 6, "ok": False, "reason": "head_mismatch"}
    ]


def test_a_long_local_log_reports_the_latest_entry_and_the_first_failure(
    services: Services,
) -> None:
    _events(services, 1)
    sizes = []
    for _ in range(4):
        _events(services, 1)
        sizes.append(_checkpoint_size(services))
    log = _log_path(services)
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], "not json", *lines[1:]]) + "\n")
    result = _verify(services)
    assert result["ok"] is False
    assert [(c["source"], c["size"], c["reason"]) for c in result["checkpoints"]] == [
        ("stored", sizes[-1], None),
        ("local-log:2", None, "unreadable"),
        ("local-log:5", sizes[-1], None),
    ]


def _checkpoint_size(services: Services) -> int:
    with services.db.transaction() as s:
        return audit.write_checkpoint(s, Actor()).size


def test_a_rolled_back_key_or_checkpoint_leaves_nothing_outside_the_database(
    services: Services,
) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), services.db.transaction() as s:
        audit.record(s, "test:thing:touch", actor=Actor(), subject_type="t", subject_id=None)
        raise Abort
    assert not _anchor_path(services).exists()  # the key was never made
    _events(services, 1)  # so the next write makes one, and anchors it
    assert _anchor_path(services).exists()
    with pytest.raises(Abort), services.db.transaction() as s:
        audit.write_checkpoint(s, Actor())
        raise Abort
    assert not _log_path(services).exists()
    with services.db.transaction() as s:  # a savepoint rolled back: no line either
        savepoint = s.begin_nested()
        audit.write_checkpoint(s, Actor())
        savepoint.rollback()
    assert not _log_path(services).exists()
    assert _verify(services)["ok"] is True


def test_an_instance_keyed_before_anchors_is_anchored_on_its_next_write(
    services: Services,
) -> None:
    _events(services, 2)
    before = _anchor_path(services).read_bytes()
    _anchor_path(services).unlink()  # as an instance keyed before this release
    result = _verify(services)
    assert result["ok"] is True and result["anchor"] == {"key_id": None, "ok": True, "reason": None}
    _events(services, 1)
    assert _anchor_path(services).read_bytes() == before
    assert _verify(services)["anchor"]["ok"] is True


def test_an_anchor_naming_another_key_refuses_writes_and_fails_verify(
    services: Services, tmp_path: Path
) -> None:
    other = _other_instance(tmp_path, None)
    try:
        _events(other, 1)
        _events(services, 1)
        _anchor_path(services).write_bytes(_anchor_path(other).read_bytes())
    finally:
        other.db.dispose()
    assert _refused(services) == "audit_key_mismatch"
    assert _verify(services)["anchor"]["reason"] == "audit_key_mismatch"


@pytest.mark.parametrize("damage", ["garbage", "wrong-key-id", "unreadable"])
def test_a_damaged_anchor_fails_closed(services: Services, damage: str) -> None:
    _events(services, 1)
    path = _anchor_path(services)
    if damage == "garbage":
        path.write_text("{not json")
    elif damage == "wrong-key-id":
        body = json.loads(path.read_text())
        path.write_text(json.dumps({**body, "key_id": "00000000"}))
    else:
        path.unlink()
        path.mkdir()  # reading it fails
    assert _refused(services) == "audit_anchor_invalid"
    result = _verify(services)
    assert result["ok"] is False and result["anchor"]["reason"] == "anchor_invalid"


def test_no_key_is_made_without_its_anchor(services: Services) -> None:
    # A dangling link where the directory goes: nothing to read, and no directory can be made
    # (permissions would not do: the tests may run as root).
    services.settings.var_dir.mkdir(parents=True, exist_ok=True)
    (services.settings.var_dir / "audit").symlink_to(services.settings.var_dir / "nowhere")
    assert _refused(services) == "audit_anchor_unwritable"
    with services.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0
        assert s.scalar(select(func.count()).select_from(AuditKey)) == 0


def test_cli_verify_reads_the_local_log_and_the_anchor(
    services: Services, cli_env: dict[str, str]
) -> None:
    _events(services, 2)
    assert _cli(cli_env, "audit", "checkpoint").returncode == 0
    tamper(services, "DELETE FROM audit_checkpoints", "DELETE FROM audit_events WHERE seq > 2")
    cli = _cli(cli_env, "audit", "verify", "--json")
    assert cli.returncode == 1, cli.stdout
    body = json.loads(cli.stdout)
    assert body["checkpoints"] == [
        {"source": "local-log:1", "size": 4, "ok": False, "reason": "events_missing"}
    ]
    tamper(services, "DELETE FROM audit_keys")
    body = json.loads(_cli(cli_env, "audit", "verify", "--json").stdout)
    assert body["anchor"]["reason"] == "audit_key_lost"


# --- (f) master key rotation -----------------------------------------------------------------


def test_rotation_keeps_the_chain_and_the_checkpoint_key(
    services: Services, cli_env: dict[str, str], master_key: str, tmp_path: Path
) -> None:
    _events(services, 3)
    before_key = _cli(cli_env, "audit", "key").stdout.strip()
    verifier = note.Verifier.parse(before_key)
    exported = tmp_path / "before.txt"
    assert _cli(cli_env, "audit", "checkpoint", "--out", str(exported)).returncode == 0

    new_key = base64.urlsafe_b64encode(bytes(range(1, 33))).decode()
    rotated = {
        **cli_env,
        "CLEARINGHOUSE_MASTER_KEY": new_key,
        "CLEARINGHOUSE_RETIRED_MASTER_KEYS": master_key,
    }
    rotate = _cli(rotated, "keys", "rotate", "--json")
    assert rotate.returncode == 0, rotate.stderr
    assert json.loads(rotate.stdout)["rewrapped"] >= 1  # the audit secret among them

    # Only the new master key now: the chain, the old checkpoint and new ones all verify.
    only_new = {**cli_env, "CLEARINGHOUSE_MASTER_KEY": new_key}
    assert _cli(only_new, "audit", "key").stdout.strip() == before_key
    after = _cli(only_new, "audit", "checkpoint", "--json")
    assert after.returncode == 0, after.stderr
    new_note = json.loads(after.stdout)["note"]
    assert (
        note.Checkpoint.parse(note.open_note(new_note, verifier)).size
        == json.loads(after.stdout)["size"]
    )
    check = _cli(only_new, "audit", "verify", "--json", "--checkpoint", str(exported))
    assert check.returncode == 0, check.stdout + check.stderr
    body = json.loads(check.stdout)
    assert body["ok"] is True and all(c["ok"] for c in body["checkpoints"])
    # The old master key alone can no longer open the audit key (it was re-wrapped).
    assert _cli(cli_env, "audit", "verify").returncode == 1


# --- the acting token, the API, the schedule -------------------------------------------------


def test_events_name_the_acting_token(world: World, client: TestClient) -> None:
    admin = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    with world.services.db.transaction() as s:
        token_id = authenticate(s, admin.token).token_id
    assert token_id
    made = client.post("/api/v1/audit/checkpoints", headers=admin.headers)
    assert made.status_code == 201, made.text
    events = client.get(
        "/api/v1/audit/events?tag=audit:checkpoint:create", headers=admin.headers
    ).json()
    assert [e["actor_token_id"] for e in events] == [token_id]
    assert events[0]["actor_user_id"] == admin.user_id
    # The token is in the chained fields: swapping it is a break.
    tamper(
        world.services,
        "UPDATE audit_events SET actor_token_id = 'tok_other' WHERE tag = 'audit:checkpoint:create'",
    )
    assert client.get("/api/v1/audit/verify", headers=admin.headers).json()["ok"] is False


def test_checkpoint_api(world: World, client: TestClient) -> None:
    coord = world.org(OrgKind.coordinator)
    admin = world.member(coord, OrgKind.coordinator, Role.admin)
    viewer = world.member(coord, OrgKind.coordinator, Role.viewer)
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)

    assert (
        client.get("/api/v1/audit/checkpoints/latest", headers=admin.headers).json()["code"]
        == "checkpoint_not_found"
    )
    assert client.post("/api/v1/audit/checkpoints", headers=viewer.headers).status_code == 403
    assert client.post("/api/v1/audit/checkpoints", headers=lab.headers).status_code in (403, 404)
    assert client.post("/api/v1/audit/checkpoints").status_code == 401
    made = client.post("/api/v1/audit/checkpoints", headers=admin.headers)
    assert made.status_code == 201
    cp = made.json()
    assert set(cp) == {"size", "head", "note", "created_at"}
    latest = client.get("/api/v1/audit/checkpoints/latest", headers=viewer.headers)
    assert latest.json() == cp
    assert client.get("/api/v1/audit/checkpoints/latest", headers=lab.headers).status_code in (
        403,
        404,
    )

    key = client.get("/api/v1/audit/checkpoint-key")  # public: no token
    assert key.status_code == 200
    verifier = note.Verifier.parse(key.json()["verifier_key"])
    assert key.json()["key_id"] == verifier.key_id.hex()
    opened = note.Checkpoint.parse(note.open_note(cp["note"], verifier))
    assert (opened.size, opened.head.hex()) == (cp["size"], cp["head"])
    assert opened.origin == verifier.name == key.json()["name"]
    verify = client.get("/api/v1/audit/verify", headers=viewer.headers).json()
    assert verify["ok"] is True
    assert verify["checkpoints"] == [
        {"source": "stored", "size": cp["size"], "ok": True, "reason": None},
        {"source": "local-log:1", "size": cp["size"], "ok": True, "reason": None},
    ]


def test_checkpoint_key_before_any_event(client: TestClient) -> None:
    r = client.get("/api/v1/audit/checkpoint-key")
    assert r.status_code == 404 and r.json()["code"] == "audit_key_missing"


def test_periodic_checkpoint_job(services: Services) -> None:
    from clearinghouse.workers.runner import Worker

    _events(services, 2)
    worker = Worker(services)
    worker.enqueue_periodic()
    stats = worker.run(until_idle=True)
    assert stats.kinds.get("audit.checkpoint") == 1
    with services.db.transaction() as s:
        first = audit.latest(s)
        assert first is not None and first.size == 4  # 2 events, the key's, its own
        # Not due again: nothing new, and the interval (an hour) has not passed.
        assert audit.checkpoint_if_due(s, 3600) is None
    _events(services, 1)
    with services.db.transaction() as s:
        assert audit.checkpoint_if_due(s, 3600) is None  # new events, but too soon
        assert audit.checkpoint_if_due(s, 0) is not None  # due
    assert _verify(services)["checkpoints"][0] == {
        "source": "stored",
        "size": 6,
        "ok": True,
        "reason": None,
    }


def test_cli_key_and_checkpoint_and_list(
    services: Services, cli_env: dict[str, str], world: World
) -> None:
    admin = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    key = _cli(cli_env, "audit", "key", "--json")
    assert key.returncode == 0, key.stderr
    verifier = note.Verifier.parse(json.loads(key.stdout)["verifier_key"])
    plain = _cli(cli_env, "audit", "checkpoint")
    assert plain.returncode == 0 and note.open_note(plain.stdout, verifier)
    listed = _cli({**cli_env, "CLEARINGHOUSE_TOKEN": admin.token}, "audit", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert all("actor_token_id" in e for e in json.loads(listed.stdout))
    unwritable = _cli(cli_env, "audit", "checkpoint", "--out", "/nonexistent/dir/cp.txt")
    assert unwritable.returncode == 1 and "checkpoint_out_unwritable" in unwritable.stderr
    unreadable = _cli(cli_env, "audit", "verify", "--json", "--checkpoint", "/nonexistent")
    assert unreadable.returncode == 1
    assert json.loads(unreadable.stdout)["checkpoints"][-1]["reason"] == "unreadable"


def test_no_vault_no_audit(services: Services) -> None:
    """A session without the vault cannot write an unkeyed event: it fails loudly."""
    bare = Database(services.db.url)
    try:
        with pytest.raises(ConfigurationError), bare.transaction() as s:
            audit.record(s, "test:thing:touch", actor=Actor(), subject_type="t", subject_id=None)
    finally:
        bare.dispose()


def test_the_documented_example_verifies() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    blocks = [b.split("\n", 1)[1] for b in doc.split("```")[1::2]]
    signed = next(b for b in blocks if b.startswith("cert.example") and "\n\n— " in b)
    key = next(b for b in blocks if b.startswith("cert.example") and "+" in b.split("\n")[0])
    verifier = note.Verifier.parse(key)
    cp = note.Checkpoint.parse(note.open_note(signed, verifier))
    assert (cp.origin, cp.size) == (verifier.name, 1234)


def test_migration_0005_downgrades_and_upgrades_keeping_the_triggers(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    db = Database(f"sqlite:///{tmp_path / 'round.db'}")
    try:
        migrate.upgrade(db)
        config = migrate.alembic_config(db.url)
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        migrate.upgrade(db)
        with db.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO audit_events (seq, occurred_at, tag, subject_type, data, "
                    "prev_hash, hash, actor_token_id) VALUES (1, '2026-01-01 00:00:00', "
                    "'a:b:c', 't', '{}', '0', '0', 'tok_1')"
                )
            )
            c.execute(
                text(
                    "INSERT INTO audit_checkpoints (size, head, note, created_at) "
                    "VALUES (1, '0', 'n', '2026-01-01 00:00:00')"
                )
            )
        for stmt in ("UPDATE audit_events SET tag = 'x:y:z'", "DELETE FROM audit_checkpoints"):
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
                c.execute(text(stmt))
    finally:
        db.dispose()


def test_concurrent_first_writers_make_one_key(services: Services) -> None:
    """The key is created under the append lock: writers racing on a fresh instance agree."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: _events(services, 3), range(4)))
    result = _verify(services)
    assert (result["ok"], result["events"]) == (True, 13)
    with services.db.transaction() as s:
        tags = s.scalars(select(AuditEvent.tag).where(AuditEvent.tag == "audit:key:create")).all()
    assert tags == ["audit:key:create"]
