"""The base of every request schema.

Every string that reaches the database must be storable in both backends: PostgreSQL refuses
NUL characters in text, and neither backend can store lone UTF-16 surrogates (which JSON's
`\\udXXX` escapes can produce). Such input is rejected here, as a validation error, instead of
failing deep inside a transaction.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def unstorable_text(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    if "\x00" in value:
        return "text must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (no lone surrogates)"
    return None


def check_storable(value: Any) -> None:
    """Raise ValueError if any string in `value` (recursively) cannot be stored."""
    if isinstance(value, str):
        if (reason := unstorable_text(value)) is not None:
            raise ValueError(reason)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_storable(k)
            check_storable(v)
    elif isinstance(value, list | tuple):
        for v in value:
            check_storable(v)


class Input(BaseModel):
    """A request body: unknown fields are refused, and every string must be storable."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        check_storable(data)
        return data
