"""Secrets never appear in plaintext: not in the database files, responses, errors or logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.core.logging import JsonFormatter, redact_text
from tests.support.openai_stub import openai_endpoint
from tests.support.world import World

SECRET = "sk-PLAINTEXT-NEEDLE-9f8e7d6c5b4a"
FINDING = "CONFIDENTIAL-FINDING-NEEDLE-1234"


def _exercise(world: World, client: TestClient, endpoint: str) -> tuple[str, list[str]]:
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    sid = world.submission(world.agreement(lab), lab_m, ev, endpoint_url=endpoint, api_key=SECRET)
    texts = []
    for r in (
        client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers),
        client.post(
            f"/api/v1/submissions/{sid}/transition", headers=ev_m.headers, json={"to": "testing"}
        ),
        client.post(
            f"/api/v1/submissions/{sid}/findings",
            headers=ev_m.headers,
            json={"title": "t", "severity": "high", "body": FINDING},
        ),
        client.get(f"/api/v1/submissions/{sid}", headers=lab_m.headers),
        client.get("/api/v1/submissions", headers=ev_m.headers),
        client.get(f"/api/v1/submissions/{sid}/timeline", headers=lab_m.headers),
    ):
        assert r.status_code < 300, r.text
        texts.append(r.text)
    return sid, texts


def test_api_key_and_findings_are_never_stored_or_shown_in_plaintext(
    world: World, client: TestClient, database_url: str, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    with openai_endpoint(SECRET) as (endpoint, _):
        _, texts = _exercise(world, client, endpoint)
    for t in texts:
        assert SECRET not in t and SECRET[-8:] not in t
    for record in caplog.records:
        assert SECRET not in JsonFormatter().format(record)
    world.services.db.dispose()
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        # Checkpoint the WAL so every page is in the main file, then read all the bytes there are.
        engine = create_engine(database_url)
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert len(blob) > 10_000
        assert SECRET.encode() not in blob and FINDING.encode() not in blob
    else:
        engine = create_engine(database_url)
        with engine.connect() as c:
            tables = [
                r[0]
                for r in c.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ]
            dump = "".join(str(c.execute(text(f'SELECT * FROM "{t}"')).fetchall()) for t in tables)
        engine.dispose()
        assert "sealed_values" in tables and len(dump) > 1000
        assert SECRET not in dump and FINDING not in dump
        assert SECRET.encode().hex() not in dump


def test_redaction_of_secret_shapes() -> None:
    assert "chk_ABC_" not in redact_text("token chk_ABC_0123456789abcdef used")
    assert redact_text("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert redact_text('{"api_key": "sk-123"}') == '{"api_key": "[redacted]"}'
    record = logging.LogRecord("x", logging.INFO, "f", 1, "msg", (), None)
    record.api_key = "sk-should-not-print"
    record.api_key_hint = "…1234"
    line = JsonFormatter().format(record)
    assert "sk-should-not-print" not in line and "…1234" in line


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "CLEARINGHOUSE_ENV": "production",
        "CLEARINGHOUSE_VAR_DIR": str(tmp_path),
        "CLEARINGHOUSE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    r = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert "master_key_missing" in r.stderr
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "master_key_insecure"),
        ("dG9vLXNob3J0", "master_key_invalid"),
        ("%%%not base64%%%", "master_key_invalid"),
    ],
)
def test_production_refuses_weak_or_malformed_keys(key: str, code: str) -> None:
    from clearinghouse.core.config import Environment, Settings
    from clearinghouse.core.errors import ConfigurationError

    settings = Settings(env=Environment.production, master_key=key, database_url="sqlite://")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as info:
        settings.check_production()
    assert info.value.code == code


def test_production_refuses_private_endpoints_and_implicit_database(master_key: str) -> None:
    from clearinghouse.core.config import Environment, Settings
    from clearinghouse.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="PRIVATE_ENDPOINTS"):
        Settings(
            env=Environment.production,
            master_key=master_key,
            database_url="sqlite://",  # type: ignore[arg-type]
            allow_private_endpoints=True,
        ).check_production()
    with pytest.raises(ConfigurationError) as info:
        Settings(env=Environment.production, master_key=master_key).check_production()  # type: ignore[arg-type]
    assert info.value.code == "database_url_missing"
    ok = Settings(env=Environment.production, master_key=master_key, database_url="sqlite://")  # type: ignore[arg-type]
    ok.check_production()
    assert ok.private_endpoints_allowed is False


def test_development_generates_a_private_key_file(tmp_path: Path) -> None:
    from clearinghouse.core.config import Settings

    s = Settings(var_dir=tmp_path / "var")
    key = s.master_key_bytes
    path = tmp_path / "var" / "master.key"
    assert len(key) == 32 and path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert Settings(var_dir=tmp_path / "var").master_key_bytes == key  # stable across restarts
