"""What a page route declares to get its caller, its transaction and its CSRF check.

    @router.get("/lab/submissions")
    def submissions(request: Request, p: PagePrincipal, session: SessionDep) -> HTMLResponse: ...

    @router.post("/things/{thing_id}/close", dependencies=[CsrfChecked])
    def close(...) -> RedirectResponse: ...

- `PagePrincipal`: the signed-in user's `Principal` (the same one an API token of that user
  with the read and write scopes would give); an anonymous visitor is sent to
  `/sign-in?next=<this page>` (303) instead. `OptionalPrincipal`: the principal or None.
- `CsrfChecked`: a POST whose form lacks the right `csrf_token` is answered 403 (a page), and
  the route never runs. Every POST route of ours declares it.
- `SessionDep`: the API's one-transaction-per-request dependency, committed when the route
  returns (pages call the same services as the API routes, inside it).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import ReadSessionDep, SessionDep
from clearinghouse.core.errors import PermissionDenied
from clearinghouse.web.cookies import csrf_valid, web_session

__all__ = [
    "CsrfChecked",
    "CsrfRefused",
    "OptionalPrincipal",
    "PagePrincipal",
    "ReadSessionDep",
    "SessionDep",
    "SignInRequired",
]


class SignInRequired(Exception):
    """Raised by `PagePrincipal` for an anonymous visitor; the page route answers a 303 to the
    sign-in page, which comes back to `next` afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(PermissionDenied):
    default_code = "csrf_invalid"
    title = "Form expired or forged"


def optional_principal(request: Request) -> Principal | None:
    resolved = web_session(request)
    return resolved.principal if resolved else None


def page_principal(request: Request) -> Principal:
    resolved = web_session(request)
    if resolved is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return resolved.principal


async def check_csrf(request: Request) -> None:
    form = await request.form()
    if not await run_in_threadpool(csrf_valid, request, form.get("csrf_token")):
        raise CsrfRefused(
            "this form is out of date or did not come from this site; reload the page and "
            "submit it again"
        )


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
PagePrincipal = Annotated[Principal, Depends(page_principal)]
CsrfChecked = Depends(check_csrf)


def sign_in_url(next_path: str) -> str:
    return "/sign-in?next=" + quote(next_path, safe="/")
