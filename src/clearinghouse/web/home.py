"""The shell's own pages: the public front page, the role-aware dashboard and the static
files (our CSS and script, served from this package: no CDN, no build step)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from clearinghouse.web.cookies import services_of
from clearinghouse.web.dashboard import panels_for
from clearinghouse.web.deps import OptionalPrincipal, PagePrincipal, SessionDep
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import render

router = page_router()
STATIC_DIR = Path(__file__).parent / "static"
_static = StaticFiles(directory=STATIC_DIR, follow_symlink=False)


@router.get("/")
def front(request: Request, p: OptionalPrincipal) -> HTMLResponse:
    return render(request, "home.html")


@router.get("/dashboard")
def dashboard(request: Request, p: PagePrincipal, session: SessionDep) -> HTMLResponse:
    return render(request, "dashboard.html", panels=panels_for(session, p, services_of(request)))


@router.get("/static/{name}")
async def static(
    request: Request, name: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_.-]{0,60}$")]
) -> Response:
    response = await _static.get_response(name, request.scope)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
