"""Envelope encryption with AES-256-GCM (via `cryptography`).

Each sealed value gets its own random 256-bit data key (DEK). The value is encrypted with the
DEK; the DEK is wrapped (encrypted) with the master key-encryption key (KEK). Rotation re-wraps
DEKs under a new KEK without touching the ciphertexts. Associated data binds every ciphertext to
the row and purpose it was written for, so a ciphertext copied into another row will not open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from clearinghouse.core.errors import ConfigurationError

NONCE_BYTES = 12


def kek_id(key: bytes) -> str:
    """A short public fingerprint of a KEK (never the key itself)."""
    return hashlib.sha256(b"clearinghouse:kek:" + key).hexdigest()[:16]


class DecryptionError(ConfigurationError):
    default_code = "decryption_failed"


@dataclass(frozen=True)
class Keyring:
    """The current KEK plus retired KEKs that may still unwrap older DEKs."""

    current: bytes
    retired: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return kek_id(self.current)

    def _by_id(self, wanted: str) -> bytes:
        for key in (self.current, *self.retired):
            if kek_id(key) == wanted:
                return key
        raise DecryptionError(
            f"no master key with id {wanted} is configured; add the old key to "
            "CLEARINGHOUSE_RETIRED_MASTER_KEYS and run `clearinghouse keys rotate`",
            code="master_key_unknown",
        )

    def wrap(self, dek: bytes, *, context: str) -> tuple[str, bytes]:
        """Encrypt a DEK under the current KEK. Returns (kek_id, nonce || ciphertext)."""
        return self.current_id, seal(self.current, dek, f"dek:{context}")

    def unwrap(self, kid: str, wrapped: bytes, *, context: str) -> bytes:
        return open_sealed(self._by_id(kid), wrapped, f"dek:{context}")


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def seal(key: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def open_sealed(key: bytes, blob: bytes, aad: str) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
    except InvalidTag as exc:
        raise DecryptionError(
            "ciphertext failed authentication (wrong key or tampered data)"
        ) from exc


def hint(secret: str) -> str:
    """What may be shown of a secret: at most its last four characters."""
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


def derive_key(secret: bytes, purpose: str, length: int = 32) -> bytes:
    """A subkey of `secret` for one `purpose` (HKDF-SHA256, RFC 5869). Subkeys for different
    purposes are independent: knowing one reveals nothing about the others or the secret."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret
    )


def mac_hex(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 of `message`, hex."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()
