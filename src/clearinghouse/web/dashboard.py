"""The dashboard's panels: what needs the caller's action and what is overdue, per role.

A page module adds a panel for the organisation kinds it serves:

    @panel(OrgKind.lab, order=10)
    def lab_windows(session: Session, p: Principal, services: Services) -> Panel | None:
        return Panel("Review windows", "lab/_panel.html", {"rows": ...})

Extension points: the lab and evaluator panels are in `web/lab.py` and `web/evaluator.py`;
coordinator, vendor and operator panels go in their own page modules the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services


@dataclass(frozen=True)
class Panel:
    title: str
    template: str  # included with `panel` in its context
    ctx: dict[str, Any] = field(default_factory=dict)
    overdue: int = 0  # how many of its items are overdue (shown in the heading)


PanelFn = Callable[[Session, Principal, Services], Panel | None]
_PANELS: list[tuple[int, frozenset[OrgKind], PanelFn]] = []


def panel(*kinds: OrgKind, order: int = 50) -> Callable[[PanelFn], PanelFn]:
    def register(fn: PanelFn) -> PanelFn:
        _PANELS.append((order, frozenset(kinds), fn))
        _PANELS.sort(key=lambda e: e[0])
        return fn

    return register


def panels_for(session: Session, p: Principal, services: Services) -> list[Panel]:
    out = []
    for _, kinds, fn in _PANELS:
        if p.org_kind in kinds and (built := fn(session, p, services)) is not None:
            out.append(built)
    return out
