"""The public advisories: published records only, searchable and paged, for everyone. Read
through the same vulns services as the API, as the anonymous principal whatever the visitor:
a page of published advisories shows what the OSV API and the CSAF feed publish, never a
signed-in organisation's own unpublished reports (those are on its own pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from clearinghouse.accounts.policy import Principal
from clearinghouse.vulns import search
from clearinghouse.web.deps import OptionalPrincipal, ReadSessionDep
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import render

router = page_router()
PUBLIC = Principal(None, None, None, None, frozenset())  # nobody: public records only
PAGE_SIZE = 25


@router.get("/advisories")
def advisory_list(
    request: Request,
    _: OptionalPrincipal,
    session: ReadSessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    ecosystem: Annotated[str | None, Query(max_length=60)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    page = search.list_vulns(
        session,
        PUBLIC,
        q=q or None,
        ecosystem=ecosystem or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request, "public/advisories.html", page=page, q=q or "", ecosystem=ecosystem or ""
    )


@router.get("/advisories/{vuln_id}")
def advisory(
    request: Request,
    vuln_id: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")],
    _: OptionalPrincipal,
    session: ReadSessionDep,
) -> HTMLResponse:
    vuln = search.vuln_detail(session, PUBLIC, vuln_id)
    return render(request, "public/advisory.html", vuln=vuln)
