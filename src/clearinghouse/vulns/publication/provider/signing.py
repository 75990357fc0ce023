"""OpenPGP signatures of the provider directory (CSAF 7.1.19, 7.1.20), through GnuPG and
python-gnupg (the maintained binding; we write no OpenPGP ourselves).

The signing key is generated at first use in a GnuPG home under the instance's var dir
(`<var_dir>/csaf/gpg`). Its passphrase is 32 random bytes sealed with the vault
(`storage/vault.py`, purpose `csaf-openpgp-passphrase`); the id of the sealed value is kept next
to the key (`passphrase.id`), so the key is useless without the database and the master key.

The agent's key stretching is set low (`s2k-count 65536`): the passphrase is random, so
stretching adds no strength, and at the default count one signature cost 2 s on a loaded
2-core machine (13 ms here), which a 10k-document rebuild cannot afford.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import gnupg

from clearinghouse.core.errors import ClearinghouseError
from clearinghouse.storage.services import Services

PURPOSE = "csaf-openpgp-passphrase"


class SigningFailed(ClearinghouseError):
    status = 500
    default_code = "csaf_signing_failed"
    title = "CSAF signing failed"


@dataclass
class Signer:
    """The provider's OpenPGP key: created on first use, then loaded."""

    home: Path
    fingerprint: str
    _passphrase: str = field(repr=False)
    _gpg: gnupg.GPG = field(repr=False)

    @classmethod
    def open(cls, services: Services, name: str, email: str) -> Signer:
        home = services.settings.var_dir / "csaf" / "gpg"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        home.chmod(0o700)
        conf = home / "gpg-agent.conf"
        if not conf.exists():
            conf.write_text("s2k-count 65536\nallow-loopback-pinentry\n")
        gpg = gnupg.GPG(gnupghome=str(home))
        sealed_id_file = home / "passphrase.id"
        with services.db.transaction() as session:
            if sealed_id_file.exists():
                passphrase = services.vault.reveal_text(session, sealed_id_file.read_text().strip())
            else:
                passphrase = secrets.token_urlsafe(32)
                row = services.vault.seal_text(session, passphrase, purpose=PURPOSE)
                sealed_id_file.write_text(row.id + "\n")
        keys = gpg.list_keys(secret=True)
        if keys:
            fingerprint = str(keys[0]["fingerprint"])
        else:
            made = gpg.gen_key(
                gpg.gen_key_input(
                    key_type="EDDSA",
                    key_curve="ed25519",
                    key_usage="sign",
                    name_real=name,
                    name_email=email,
                    passphrase=passphrase,
                    expire_date=0,
                )
            )
            if not made.fingerprint:
                raise SigningFailed("GnuPG could not generate the CSAF signing key")
            fingerprint = str(made.fingerprint)
        return cls(home, fingerprint, passphrase, gpg)

    def sign(self, data: bytes) -> bytes:
        """An ASCII-armoured detached signature of `data`."""
        sig = self._gpg.sign(
            data, keyid=self.fingerprint, passphrase=self._passphrase, detach=True, binary=False
        )
        if not sig.data:
            raise SigningFailed(f"GnuPG could not sign: {sig.status}")
        return bytes(sig.data)

    def public_key(self) -> bytes:
        return str(self._gpg.export_keys(self.fingerprint)).encode()

    def close(self) -> None:
        """Stop the GnuPG agent this home started (no process is left behind)."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf is None:
            return
        subprocess.run(
            [gpgconf, "--homedir", str(self.home), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
            timeout=30,
        )
