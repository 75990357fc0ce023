"""Request-scoped dependencies: the services, a transaction, and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from clearinghouse.accounts import tokens as accounts
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.core.errors import Unauthenticated

bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer chk_...`")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@asynccontextmanager
async def _in_threadpool(cm: AbstractContextManager[Session]) -> AsyncIterator[Session]:
    """Enter and leave a (blocking) transaction context in the threadpool, the exit shielded
    from cancellation. When a client disconnects mid-request, Starlette cancels the request;
    a plain sync generator dependency would then never run its cleanup, and the pooled
    connection would leak (enough disconnects exhaust the pool and hang every request)."""
    session = await run_in_threadpool(cm.__enter__)
    exc: BaseException | None = None
    try:
        yield session
    except BaseException as error:
        exc = error
        raise
    finally:
        with anyio.CancelScope(shield=True):
            args = (type(exc), exc, exc.__traceback__) if exc else (None, None, None)
            await run_in_threadpool(cm.__exit__, *args)


async def get_session(services: ServicesDep) -> AsyncIterator[Session]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    async with _in_threadpool(services.db.transaction()) as session:
        yield session


# scope="function": the transaction ends when the route returns, before the response is sent,
# so a client never sees a 2xx for a write that then fails to commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_read_session(services: ServicesDep) -> AsyncIterator[Session]:
    """A read-only transaction per request, for the anonymous public routes."""
    async with _in_threadpool(services.db.reading()) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def get_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an API token as `Authorization: Bearer <token>`")
    with services.db.transaction() as session:
        principal = accounts.authenticate(session, credentials.credentials)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` from the previous page")
]

# Object ids in paths: our ids are `<prefix>_<ULID>`; anything outside this alphabet is refused
# with 422 before it reaches a query (and an unknown but well-formed id is a plain 404).
Id = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SafeQuery = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_:.-]{1,120}$")]
