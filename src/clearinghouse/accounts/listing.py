"""Listing what a principal may see: the policy's list scope as the SQL filter of a query, and
one page of it. The policy decides which rows (`policy.list_scope`); this module only runs the
filter in the database, so pages are full and cursors right."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Condition, Principal, list_scope
from clearinghouse.core.pagination import Page, paginate

T = TypeVar("T")


def scoped_select(
    p: Principal, kind: str, model: Any, *, conditions: Mapping[str, Condition] | None = None
) -> Select[Any]:
    """`select(model)` of the rows of `kind` the caller may list; `conditions` spells the
    policy's named conditions that are not columns of `model`."""
    return select(model).where(list_scope(p, kind).clause(model, conditions))


def scoped_page(
    session: Session,
    p: Principal,
    kind: str,
    model: Any,
    out: Callable[[Any], T],
    *,
    limit: int,
    cursor: str | None,
    where: Iterable[ColumnElement[bool]] = (),
    conditions: Mapping[str, Condition] | None = None,
) -> Page[T]:
    """One page of `model` rows the caller may see (narrowed by `where`), by id. A scope of
    nothing still runs (an always-false filter), so a bad limit or cursor is refused alike."""
    query = scoped_select(p, kind, model, conditions=conditions).where(*where)
    rows, nxt = paginate(session, query, model.id, limit=limit, cursor=cursor)
    return Page(items=[out(r) for r in rows], next_cursor=nxt)
