"""The evaluator's pages (evals domain): the submissions assigned to it; its eval runs, with
live progress while one runs (the page reloads itself), scores with confidence intervals as a
table and an SVG chart, the risk tier with its reasons, and the run's report (preview and
delivery: `/reports/...`, web/lab.py). Every read and change goes through the same services as
the API's evals routes, with the signed-in principal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Principal
from clearinghouse.api.deps import Id
from clearinghouse.container import Services
from clearinghouse.evals.battery.framework import TaskOptions
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.schemas import RunCreate, RunOut
from clearinghouse.reviews import reports, submissions
from clearinghouse.web.charts import Bar, score_bars
from clearinghouse.web.cookies import services_of
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()
add_nav("Assigned submissions", "/evaluator/submissions", OrgKind.evaluator, order=10)
add_nav("Eval runs", "/evaluator/runs", OrgKind.evaluator, order=11)
add_notice("run_queued", "The run is queued; this page follows its progress.")

PageCursor = Annotated[str | None, Query(max_length=200)]
RUNNING = {"queued", "running"}
REFRESH_SECONDS = 5


@router.get("/evaluator/submissions")
def assigned(
    request: Request, p: PagePrincipal, session: SessionDep, cursor: PageCursor = None
) -> HTMLResponse:
    settings = services_of(request).settings
    page = submissions.list_submissions(session, p, settings, limit=50, cursor=cursor)
    return render(request, "evaluator/submissions.html", page=page)


def _tasks(services: Services, p: Principal) -> list[Any]:
    return runs.list_tasks(p, TaskOptions(seed=0, shared_data=services.settings.shared_data))


@router.get("/evaluator/runs")
def run_list(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    cursor: PageCursor = None,
    submission: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    services = services_of(request)
    page = runs.list_runs(session, p, limit=50, cursor=cursor)
    assigned_subs = submissions.list_submissions(session, p, services.settings, limit=200).items
    return render(
        request,
        "evaluator/runs.html",
        page=page,
        submissions=assigned_subs,
        tasks=_tasks(services, p) if assigned_subs else [],
        selected=submission,
        error=None,
    )


@router.post("/evaluator/runs", dependencies=[CsrfChecked])
def start_run(
    request: Request,
    p: PagePrincipal,
    session: SessionDep,
    submission_id: Annotated[str, Form(max_length=40)],
    tasks: Annotated[list[str], Form(max_length=50)],
    limit: Annotated[int, Form(ge=1, le=10_000)] = 10,
) -> Response:
    services = services_of(request)
    try:
        data = RunCreate(submission_id=submission_id, tasks=tasks, limit=limit)
    except ValidationError:
        return redirect("/evaluator/runs", notice="run_invalid")
    out = runs.create_run(session, p, services, data)
    return redirect(f"/evaluator/runs/{out.id}", notice="run_queued")


add_notice("run_invalid", "The run was not started: choose a submission and at least one task.")


def _report_version(session: Session, p: Principal, run: RunOut) -> int | None:
    if run.report_id is None or run.submission_id is None:
        return None
    for r in reports.list_reports(session, p, run.submission_id):
        if r.id == run.report_id:
            return r.version
    return None


@router.get("/evaluator/runs/{run_id}")
def run_detail(request: Request, run_id: Id, p: PagePrincipal, session: SessionDep) -> HTMLResponse:
    run = runs.get_run(session, p, run_id)
    chart = score_bars(
        "Scores with 95% confidence intervals",
        [Bar(f"{s.task} · {s.metric}", s.value, s.ci_low, s.ci_high) for s in run.scores],
        description=f"Eval run {run.id} of {run.model}.",
    )
    return render(
        request,
        "evaluator/run.html",
        run=run,
        chart=chart,
        running=run.state in RUNNING,
        refresh=REFRESH_SECONDS,
        report_version=_report_version(session, p, run),
    )


@panel(OrgKind.evaluator, order=10)
def evaluator_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """Assigned submissions whose window is open (overdue: past the deadline with no report
    delivered), and runs in progress or failed."""
    from clearinghouse.core.clock import utcnow

    subs = submissions.list_submissions(session, p, services.settings, limit=50).items
    open_ = [
        s
        for s in subs
        if s.deadline is not None
        and s.state.value in {"access_verified", "testing", "findings_drafted"}
    ]
    recent = runs.list_runs(session, p, limit=50).items
    active = [r for r in recent if r.state in RUNNING or r.state == "failed"]
    now = utcnow()
    overdue = sum(1 for s in open_ if s.deadline is not None and s.deadline <= now)
    return Panel(
        "Reviews and runs",
        "evaluator/_panel.html",
        {"subs": open_, "runs": active, "now": now},
        overdue,
    )
