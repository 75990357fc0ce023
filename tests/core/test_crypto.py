"""Envelope encryption: sealing, binding to the row, destruction and key rotation."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys

import pytest
from sqlalchemy import select, update

from clearinghouse.container import Services
from clearinghouse.core.crypto import DecryptionError, Keyring, kek_id
from clearinghouse.storage.vault import SealedValue, SecretDestroyed, Vault


def test_seal_reveal_and_destroy(services: Services) -> None:
    vault = services.vault
    with services.db.transaction() as s:
        row = vault.seal_text(s, "sk-abcdefghijkl-1234", purpose="t", show_hint=True)
        sid = row.id
    assert row.hint == "…1234"
    with services.db.transaction() as s:
        assert vault.reveal_text(s, sid) == "sk-abcdefghijkl-1234"
        vault.destroy(s, sid)
    with services.db.transaction() as s, pytest.raises(SecretDestroyed):
        vault.reveal_text(s, sid)


def test_ciphertext_is_bound_to_its_row(services: Services) -> None:
    vault = services.vault
    with services.db.transaction() as s:
        a = vault.seal_text(s, "secret-a", purpose="t")
        b = vault.seal_text(s, "secret-b", purpose="t")
        a_id, b_id = a.id, b.id
        # Move b's wrapped key and ciphertext into a's row: it must not open there.
        s.execute(
            update(SealedValue)
            .where(SealedValue.id == a_id)
            .values(wrapped_key=b.wrapped_key, ciphertext=b.ciphertext)
        )
    with services.db.transaction() as s, pytest.raises(DecryptionError):
        vault.reveal_text(s, a_id)
    with services.db.transaction() as s:
        assert vault.reveal_text(s, b_id) == "secret-b"


def test_rotation_rewraps_every_data_key(services: Services) -> None:
    with services.db.transaction() as s:
        ids = [services.vault.seal_text(s, f"value-{i}", purpose="t").id for i in range(7)]
    old = services.vault.keyring.current
    new = secrets.token_bytes(32)
    rotated = Vault(Keyring(new, (old,)))
    moved = 0
    while True:
        with services.db.transaction() as s:
            n = rotated.rewrap_batch(s, batch=3)
        moved += n
        if n == 0:
            break
    assert moved == 7
    only_new = Vault(Keyring(new))
    with services.db.transaction() as s:
        assert {r.kek_id for r in s.scalars(select(SealedValue))} == {kek_id(new)}
        assert [only_new.reveal_text(s, i) for i in ids] == [f"value-{i}" for i in range(7)]
    with services.db.transaction() as s, pytest.raises(DecryptionError):
        Vault(Keyring(old)).reveal_text(s, ids[0])


def test_cli_keys_rotate_generate(cli_env: dict[str, str], services: Services) -> None:
    """`keys rotate --generate` (development): new key file, old one retired, all re-wrapped."""
    with services.db.transaction() as s:
        sid = services.vault.seal_text(s, "survives rotation", purpose="t").id
    env = {k: v for k, v in cli_env.items() if k != "CLEARINGHOUSE_MASTER_KEY"}
    env["CLEARINGHOUSE_ENV"] = "development"
    var = services.settings.var_dir
    var.mkdir(parents=True, exist_ok=True)
    (var / "master.key").write_text(
        base64.urlsafe_b64encode(services.vault.keyring.current).decode()
    )
    r = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "keys", "rotate", "--generate", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["rewrapped"] >= 1 and out["kek_id"] != services.vault.keyring.current_id
    new_key = base64.urlsafe_b64decode((var / "master.key").read_text().strip())
    with services.db.transaction() as s:
        assert Vault(Keyring(new_key)).reveal_text(s, sid) == "survives rotation"
