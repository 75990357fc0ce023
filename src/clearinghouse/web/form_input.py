"""HTML forms as the API's request schemas, and which forms a page shows: a page reads its POSTed form and builds the SAME
pydantic `Input` model the API route takes, so a form can carry nothing the API would refuse.

    body = from_form(VulnTriage, form, utc=("embargo_until",))

- Only the model's own fields are read (the CSRF token and buttons are not fields); an empty
  value means "not given" (the model's default applies).
- A list field takes repeated inputs (checkboxes) and/or one value per line of a textarea.
- A `datetime-local` input has no zone: the page labels it UTC, and `utc` names those fields.
- An invalid form is a 422 page (`form_invalid`) naming the fields (our names, never the
  values sent: nothing from the request is echoed).

Written by hand: FastAPI's `Form()` models refuse the extra `csrf_token` under `extra="forbid"`,
and turn a model error into a JSON 422.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from clearinghouse.accounts.policy import Action, Principal, Target, authorize
from clearinghouse.core.errors import InvalidInput, NotFound, PermissionDenied

M = TypeVar("M", bound=BaseModel)
_NAIVE_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


async def posted_form(request: Request) -> FormData:
    """The request's form (Starlette parses it once: the CSRF check has already read it)."""
    return await request.form()


Form = Annotated[FormData, Depends(posted_form)]


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(typing.get_origin(a) is list for a in typing.get_args(annotation))


def _lines(values: Iterable[object]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str):
            out.extend(line.strip() for line in value.splitlines() if line.strip())
    return out


def from_form(model: type[M], form: FormData, *, utc: tuple[str, ...] = (), **fixed: Any) -> M:
    """`model` built from the form's fields; `fixed` values (from the path, never the form)
    take precedence."""
    data: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in fixed:
            continue
        if _is_list(field.annotation):
            values = _lines(form.getlist(name))
            if values:
                data[name] = values
            continue
        value = form.get(name)
        if isinstance(value, UploadFile) or value is None:
            continue
        value = value.strip()
        if value == "":
            continue
        if name in utc and _NAIVE_LOCAL.match(value):
            value += "Z"
        data[name] = value
    data.update(fixed)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidInput(
            "check these fields: " + (", ".join(names) or "the form"), code="form_invalid"
        ) from None


def allowed(p: Principal, action: Action, target: Target | None = None) -> bool:
    """Whether the policy lets `p` do `action` (to decide whether a page shows a form or a
    link). Only `accounts.policy` decides; the service checks again when the form is posted."""
    try:
        authorize(p, action, target)
    except (PermissionDenied, NotFound):
        return False
    return True
