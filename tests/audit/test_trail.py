"""The audit chain: appended in the same transaction, append-only, and tamper-evident."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clearinghouse.audit import trail as audit
from clearinghouse.audit import verify as audit_verify
from clearinghouse.audit.schemas import Actor
from clearinghouse.container import Services
from clearinghouse.operations import audit as audit_queries
from tests.support.tamper import tamper


def _events(services: Services, n: int) -> None:
    with services.db.transaction() as s:
        for i in range(n):
            audit.record(
                s,
                "test:thing:touch",
                actor=Actor("usr_1", "org_1"),
                subject_type="thing",
                subject_id=f"t{i}",
                data={"i": i, "api_key": "sk-must-be-redacted"},
            )


def _tamper(services: Services, *stmts: str) -> None:
    """Change rows the way a database superuser could: around the append-only triggers."""
    tamper(services, *stmts)


def test_chain_verifies_and_redacts(services: Services) -> None:
    _events(services, 5)
    with services.db.transaction() as s:
        result = audit_verify.verify_chain(s)
        rows = audit_queries.list_events(s, _system(), limit=10)
    # A fresh instance is keyed from its first event: that event creates the audit key.
    assert result.model_dump(include={"ok", "events", "first_bad", "legacy_events"}) == {
        "ok": True,
        "events": 6,
        "first_bad": None,
        "legacy_events": 0,
    }
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0].tag == "audit:key:create" and rows[0].data["legacy_events"] == 0
    assert all(r.data["api_key"] == "[redacted]" for r in rows[1:])


def _system():
    from clearinghouse.accounts.policy import Principal

    return Principal.system()


def test_database_refuses_update_and_delete(services: Services) -> None:
    _events(services, 2)
    for stmt in (
        "UPDATE audit_events SET tag = 'x:y:z' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), services.db.engine.begin() as c:
            c.execute(text(stmt))


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_events SET data = '{\"i\": 99}' WHERE seq = 3",
        "UPDATE audit_events SET actor_user_id = 'usr_evil' WHERE seq = 3",
        "UPDATE audit_events SET actor_token_id = 'tok_evil' WHERE seq = 3",
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE audit_events SET occurred_at = occurred_at + INTERVAL '1 second' WHERE seq = 3",
    ],
)
def test_tampering_is_detected_at_the_first_bad_row(services: Services, tamper: str) -> None:
    _events(services, 6)  # seq 1 is the key's creation; the test rows are seq 2..7
    if services.db.dialect == "sqlite":
        tamper = tamper.replace(
            "occurred_at + INTERVAL '1 second'", "datetime(occurred_at, '+1 second')"
        )
    _tamper(services, tamper)
    with services.db.transaction() as s:
        result = audit_verify.verify_chain(s)
    assert result.ok is False and result.first_bad in (
        3,
        4,
    )  # a deleted row shows up at the next seq
    if "DELETE" not in tamper:
        assert result.first_bad == 3


def test_rehashing_a_tampered_row_with_sha256_breaks_at_that_row(services: Services) -> None:
    """Today an attacker could recompute a changed row's hash (plain SHA-256); the chain is
    now keyed, so the forged hash itself is wrong, not only the next row's link."""
    _events(services, 4)
    from clearinghouse.audit.models import AuditEvent

    with services.db.transaction() as s:
        row = s.query(AuditEvent).filter_by(seq=3).one()
        row.data = {"i": 42}
        forged = audit.legacy_digest(row.prev_hash, row)
        s.expunge(row)
    _tamper(
        services, f"UPDATE audit_events SET data = '{{\"i\": 42}}', hash = '{forged}' WHERE seq = 3"
    )
    with services.db.transaction() as s:
        assert audit_verify.verify_chain(s).first_bad == 3


def test_cli_audit_verify_exit_codes(services: Services, cli_env: dict[str, str]) -> None:
    _events(services, 3)
    cmd = [sys.executable, "-m", "clearinghouse", "audit", "verify", "--json"]
    ok = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert {k: body[k] for k in ("ok", "events", "first_bad", "legacy_events", "checkpoints")} == {
        "ok": True,
        "events": 4,
        "first_bad": None,
        "legacy_events": 0,
        "checkpoints": [],
    }
    _tamper(services, "UPDATE audit_events SET tag = 'test:thing:forged' WHERE seq = 2")
    bad = subprocess.run(cmd, env=cli_env, capture_output=True, text=True)
    assert bad.returncode == 1
    body = json.loads(bad.stdout)
    assert (body["ok"], body["events"], body["first_bad"]) == (False, 2, 2)


def test_audit_tables_refuse_update_and_delete(services: Services) -> None:
    """The key row and the checkpoints are append-only too."""
    _events(services, 1)
    with services.db.transaction() as s:
        audit.write_checkpoint(s, Actor())
    for stmt in (
        "UPDATE audit_checkpoints SET size = 1",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_keys SET name = 'other'",
        "DELETE FROM audit_keys",
    ):
        with pytest.raises(DBAPIError, match="append-only"), services.db.engine.begin() as c:
            c.execute(text(stmt))


def test_event_and_change_commit_together(services: Services) -> None:
    """A failed transaction leaves neither the change nor its event behind."""
    from clearinghouse.accounts.models import OrgKind
    from clearinghouse.accounts.orgs import create_org
    from clearinghouse.accounts.schemas import OrgCreate

    with pytest.raises(RuntimeError), services.db.transaction() as s:
        create_org(s, _system(), OrgCreate(name="doomed", kind=OrgKind.vendor))
        raise RuntimeError("crash after the change")
    with services.db.transaction() as s:
        assert audit_verify.verify_chain(s).events == 0
        assert audit.keys.load(s) is None  # nor the audit key that event would have made
