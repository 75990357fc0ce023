"""The web interface (issue 16): server-rendered pages, served by the API's app. A thin shell
like `api/`: a page parses its request, calls the same domain services as the API route with
the same `Principal`, and renders. No business logic here and no authorisation decision: the
policy decides, and what the API would refuse (404 for what one may not see) the page refuses.

How to add pages (docs/web.md has the full guide):

1. A module `web/<area>.py` with `router = page_router()` (`web.routing`), declared in its
   domain's `container.DOMAINS` entry: `pages=("clearinghouse.web.<area>:router",)`. Pages are
   included outside the OpenAPI document. Page functions are plain `def` (they run in the
   threadpool: services and sessions are blocking).
2. Guard: `p: PagePrincipal` (anonymous visitors get a 303 to `/sign-in?next=...`) or
   `p: OptionalPrincipal` for public pages; `session: SessionDep` is the request's one
   transaction (committed when the page function returns). Errors raised by services
   (NotFound, PermissionDenied, Conflict, InvalidInput) become HTML error pages with the
   API's statuses.
3. Render: `return render(request, "<area>/<page>.html", **ctx)` (`web.templating`). Templates
   extend `base.html` and import the macros: `{% import "_macros.html" as m with context %}`:
   `m.csrf_field()`, `m.tlp_badge(tlp)`, `m.embargo_banner(until)`, `m.empty(message, href,
   action)`, `m.pager(page.next_cursor)`, `m.countdown(until)`, `m.state(value)`, `m.when(ts)`.
4. Forms: every POST route declares `dependencies=[CsrfChecked]` and its form contains
   `{{ m.csrf_field() }}`; after the change, `return redirect(url, notice="code")` (a 303;
   register the notice's fixed text with `add_notice(code, text)`).
5. Navigation: `add_nav(label, href, *org_kinds)` at import; the dashboard: `@panel(*kinds)`
   in `web.dashboard` returning a `Panel`.
6. Charts: `web.charts` (server-rendered SVG with a text alternative).
"""
