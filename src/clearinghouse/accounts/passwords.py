"""Password hashing for web sign-in: argon2id through argon2-cffi (its PasswordHasher and
defaults, RFC 9106's second recommended profile). A hash made with older parameters is
re-made at the next successful sign-in (`check_password` returns the new one)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clearinghouse.core.errors import InvalidInput

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that an unknown address costs the same time
# as a wrong password (no user enumeration by timing).
_DUMMY = _hasher.hash("not a password of anyone: the unknown-user path")

MIN_LENGTH = 12
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    """The argon2id hash to store, after the length rule (NIST SP 800-63B: length, no
    composition rules)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters", code="password_invalid"
        )
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, the hash to store instead or None). `stored` None (no password set, or an
    unknown user) verifies against a dummy hash and fails, in the same time."""
    if len(password) > MAX_LENGTH:
        return False, None
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)
