"""Signed notes and checkpoints, in the formats of C2SP `signed-note` and `tlog-checkpoint`.

    <origin>\\n<size>\\n<base64 head>\\n\\n— <key name> <base64(key id || Ed25519 signature)>\\n

Written by hand: the only Python package for these formats we found on PyPI (aics-tlog 0.2.x,
first released 2026-10, no track record) is too new to trust with the audit trail of a CERT,
and the formats are small. The tests check this code against the known-answer vectors of the
reference implementation (golang.org/x/mod/sumdb/note). Only Ed25519 (algorithm 0x01) exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIG_PREFIX = "— "  # U+2014 EM DASH and a space
MAX_SIGNATURES = 100  # as the reference implementation
MAX_NOTE_BYTES = 1 << 20


class NoteError(ValueError):
    """A note that cannot be accepted; `reason` is a stable machine code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise NoteError("malformed_key", f"invalid key name {name!r}")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    _check_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def for_key(cls, name: str, public_key: bytes) -> Verifier:
        return cls(name, key_id(name, public_key), public_key)

    def encode(self) -> str:
        """`<name>+<hex key id>+<base64(0x01 || public key)>`."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise NoteError("malformed_key", "a verifier key is <name>+<8 hex>+<base64 key>")
        name, hex_id, blob = parts
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise NoteError("malformed_key", "the verifier key is not base64") from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("malformed_key", "only Ed25519 verifier keys (0x01) are supported")
        verifier = cls.for_key(name, raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise NoteError("malformed_key", "the verifier key's id does not match its key")
        return verifier


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("malformed_note", "note text must end in one newline, with no blank line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("malformed_note", "note text must not contain control characters")


def sign(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note: the text, a blank line, and one signature line."""
    _check_text(text)
    kid = key_id(name, public_bytes(key))
    sig = key.sign(text.encode())
    return f"{text}\n{SIG_PREFIX}{name} {base64.b64encode(kid + sig).decode()}\n"


_SIG_LINE = re.compile(r"— (?P<name>[^\s+]+) (?P<sig>[A-Za-z0-9+/]+={0,2})")


def open_note(note: str | bytes, verifier: Verifier) -> str:
    """The text of `note` if it carries a valid signature by `verifier`; else NoteError.

    As the spec says: signatures by other keys are ignored, a bad signature by our key
    rejects the note, and a note without our signature is refused."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError("malformed_note", "the note is too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("malformed_note", "the note is not UTF-8") from exc
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError("malformed_note", "the note is too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("malformed_note", "the note contains control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("malformed_note", "no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed_note", "too many signatures")
    verified = False
    for line in lines:
        m = _SIG_LINE.fullmatch(line)
        if m is None:
            raise NoteError("malformed_note", "malformed signature line")
        try:
            raw = base64.b64decode(m["sig"], validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) < 5:
            raise NoteError("malformed_note", "malformed signature line")
        if m["name"] != verifier.name or raw[:4] != verifier.key_id:
            continue  # someone else's signature (a witness's, another instance's): ignored
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError("bad_signature", f"invalid signature for key {verifier.name}") from exc
        verified = True
    if not verified:
        raise NoteError("unknown_key", f"the note is not signed by {verifier.encode()}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    head: bytes  # the root hash; here, the audit chain's head

    def text(self) -> str:
        if not self.origin or any(c.isspace() and c != " " for c in self.origin):
            raise NoteError("malformed_checkpoint", "invalid origin")
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.head).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        # origin, size, hash, then optional extension lines; the text ends in a newline.
        if len(lines) < 4 or lines[-1] != "" or not lines[0]:
            raise NoteError("malformed_checkpoint", "a checkpoint is origin, size and hash lines")
        if not re.fullmatch(r"0|[1-9][0-9]{0,18}", lines[1]):
            raise NoteError("malformed_checkpoint", "the tree size is not a decimal number")
        try:
            head = base64.b64decode(lines[2], validate=True)
        except binascii.Error as exc:
            raise NoteError("malformed_checkpoint", "the hash is not base64") from exc
        if len(head) != 32:
            raise NoteError("malformed_checkpoint", "the hash is not 32 bytes")
        return cls(lines[0], int(lines[1]), head)
