"""What every command shares: services, the acting principal, output and error handling."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from clearinghouse.accounts import tokens as accounts
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services, build_services
from clearinghouse.core.config import get_settings
from clearinghouse.core.errors import ClearinghouseError, InvalidInput, Unauthenticated
from clearinghouse.core.logging import configure_logging

T = TypeVar("T")
err = Console(stderr=True)
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _require_token(value: str | None) -> str | None:
    """Default deny: a command that acts for someone refuses before it parses anything else, so
    no command ever runs as the system for want of a token."""
    if not value:
        # Runs while the options are parsed, before the command's own `--json` is known.
        fail(
            Unauthenticated("pass --token or set CLEARINGHOUSE_TOKEN"), as_json="--json" in sys.argv
        )
    return value


TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CLEARINGHOUSE_TOKEN",
        help="API token to act as (env CLEARINGHOUSE_TOKEN)",
        show_default=False,
        callback=_require_token,
    ),
]

_services: Services | None = None


def services() -> Services:
    global _services
    if _services is None:
        settings = get_settings()
        configure_logging(
            settings.log_level, "text" if sys.stderr.isatty() else settings.log_format
        )
        _services = build_services(settings)
    return _services


def fail(exc: ClearinghouseError, *, as_json: bool = False) -> None:
    """Exit 1 with the error on stderr: readable text, or with `--json` one JSON object with
    the same stable machine `code` the API's problem+json carries."""
    if as_json:
        problem = {"code": exc.code, "status": exc.status, "title": exc.title, "detail": exc.detail}
        sys.stderr.write(json.dumps({"error": problem}) + "\n")
        raise typer.Exit(1)
    err.print(f"[bold red]error[/]: {escape(exc.diagnostics())}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def guarded(fn: Callable[[], T]) -> T:
    """Run `fn`, turning product errors into a readable message and exit status 1."""
    try:
        return fn()
    except ClearinghouseError as exc:
        fail(exc, as_json="--json" in sys.argv)
        raise AssertionError("unreachable") from exc


@contextmanager
def acting(token: str | None) -> Iterator[tuple[Session, Principal, Services]]:
    """A transaction, acting as the token's principal (policy applies as over HTTP)."""
    svc = services()
    if not token:
        raise Unauthenticated("pass --token or set CLEARINGHOUSE_TOKEN")
    with svc.db.transaction() as session:
        principal = accounts.authenticate(session, token)
    with svc.db.transaction() as session:
        yield session, principal, svc


def read_bounded(file: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of `file` (the service refuses what is over), or
    `file_unreadable`."""
    try:
        with file.open("rb") as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", code="file_unreadable") from exc


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


def emit(value: Any, as_json: bool, columns: list[str] | None = None) -> None:
    """Print `value` as JSON, or as a table (lists) / key-value lines (objects)."""
    data = to_jsonable(value)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if isinstance(data, dict) and "items" in data and "next_cursor" in data:
        data_list = data["items"]
        emit(data_list, False, columns)
        if data["next_cursor"]:
            out.print(f"more: --cursor {data['next_cursor']}")
        return
    if isinstance(data, list):
        if not data:
            out.print("(none)")
            return
        cols = columns or list(data[0].keys())
        table = Table(*cols)
        for row in data:
            table.add_row(*[_cell(row.get(c)) for c in cols])
        out.print(table)
        return
    if isinstance(data, dict):
        width = max(len(k) for k in data) if data else 0
        for key, val in data.items():
            out.print(f"{key.ljust(width)}  {_cell(val)}", highlight=False)
        return
    out.print(str(data))


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(fn: F) -> F:
    """Decorator for commands: product errors become a message on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = bool(kwargs.get("as_json"))
        try:
            return fn(*args, **kwargs)
        except ClearinghouseError as exc:
            fail(exc, as_json=as_json)
        except ValidationError as exc:  # a request schema built from the options
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'input'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            fail(InvalidInput(problems), as_json=as_json)

    return wrapper  # type: ignore[return-value]
