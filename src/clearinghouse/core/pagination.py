"""Cursor pagination over time-ordered string ids.

The cursor is opaque to clients (base64 of the last id seen). Because ids sort by creation time,
`WHERE id > :last ORDER BY id` is stable under concurrent inserts, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from clearinghouse.core.errors import InvalidInput

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            "the cursor is not one this server issued", code="cursor_invalid"
        ) from exc
    if not value or len(value) > 80 or not value.isascii() or not value.isprintable():
        raise InvalidInput("the cursor is not one this server issued", code="cursor_invalid")
    return value


def paginate(
    session: Session, query: Select[Any], id_column: Any, *, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Run `query` one page at a time. Returns (rows, next_cursor)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", code="limit_invalid")
    if cursor:
        query = query.where(id_column > decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more and rows else None
