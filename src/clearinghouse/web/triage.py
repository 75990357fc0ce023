"""The coordinator's triage pages (issue 16): the queue ordered by the validation signals, a
report with each signal's evidence and its validations, duplicate candidates side by side with
merge and reject, and the triage form. Every page calls the service its API route calls
(api/routes/vulns.py), with the page's principal: the policy decides (coordinators only; the
queue and the duplicates refuse everyone else exactly as the API does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from clearinghouse.accounts.models import OrgKind
from clearinghouse.accounts.policy import Action, Principal
from clearinghouse.api.deps import Cursor, Id
from clearinghouse.container import Services
from clearinghouse.core.tlp import Tlp
from clearinghouse.vulns import reports, screening, search, validations
from clearinghouse.vulns import triage as workflow
from clearinghouse.vulns.dedup import candidates, merges
from clearinghouse.vulns.schemas import MergeCreate, OverrideCreate, VulnTriage
from clearinghouse.vulns.states import TRIAGE_MOVES, VulnStatus
from clearinghouse.web.dashboard import Panel, panel
from clearinghouse.web.deps import CsrfChecked, PagePrincipal, SessionDep
from clearinghouse.web.form_input import Form, allowed, from_form
from clearinghouse.web.routing import page_router
from clearinghouse.web.templating import add_nav, add_notice, redirect, render

router = page_router()
VulnId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:+-]{1,120}$")]

QUEUE_PAGE = 25
SIDE_BY_SIDE = 20  # duplicate pairs shown at once, best score first; the rest follow
SIGNALS = ("grounded", "has_poc", "reproduced", "already_fixed", "duplicate_of", "track_record")
OVERRIDABLE = ("grounded", "reproduced", "already_fixed", "duplicate_of", "ssvc", "likely_invalid")

add_nav("Triage", "/triage", OrgKind.coordinator, order=10)
add_notice("triaged", "The record was updated.")
add_notice("merged", "The records were merged into one alias set.")
add_notice("rejected", "The duplicate candidate was rejected.")
add_notice("overridden", "The override was recorded; the queue uses it.")


@router.get("/triage")
def queue(
    request: Request, p: PagePrincipal, session: SessionDep, cursor: Cursor = None
) -> HTMLResponse:
    page = screening.queue(session, p, limit=QUEUE_PAGE, cursor=cursor)
    open_pairs = len(candidates.list_candidates(session, p, state="open"))
    return render(request, "triage/queue.html", page=page, open_pairs=open_pairs)


@router.get("/triage/duplicates")
def duplicates(request: Request, p: PagePrincipal, session: SessionDep) -> HTMLResponse:
    found = candidates.list_candidates(session, p, state="open")
    pairs = [
        (c, search.vuln_detail(session, p, c.vuln_a), search.vuln_detail(session, p, c.vuln_b))
        for c in found[:SIDE_BY_SIDE]
    ]
    return render(request, "triage/duplicates.html", pairs=pairs, total=len(found))


@router.post("/triage/merges", dependencies=[CsrfChecked])
def merge(p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    body = from_form(MergeCreate, form)
    merges.merge(session, p, body.vuln_ids, body.note)
    return redirect("/triage/duplicates", notice="merged")


@router.post("/triage/duplicates/{candidate_id}/reject", dependencies=[CsrfChecked])
def reject(candidate_id: Id, p: PagePrincipal, session: SessionDep) -> RedirectResponse:
    candidates.reject_candidate(session, p, candidate_id)
    return redirect("/triage/duplicates", notice="rejected")


def _signal_rows(view: Any) -> list[dict[str, Any]]:
    """Each signal's effective value and its evidence, from the report's triage view."""
    rows = []
    effective = view.effective.model_dump()
    for name in SIGNALS:
        raw = view.signals.get(name) or {}
        evidence = [str(e) for e in raw.get("evidence") or [] if isinstance(e, str)]
        if name == "grounded" and raw.get("summary"):
            evidence.insert(0, str(raw["summary"]))
        value = effective.get(name)
        if name == "grounded" and effective.get("grounded_score") is not None:
            value = f"{value} (score {effective['grounded_score']:.2f})"
        rows.append(
            {
                "name": name.replace("_", " "),
                "value": "—" if value is None else value,
                "overridden": view.in_force.get(name),
                "evidence": evidence,
                "candidates": raw.get("candidates") or [] if name == "duplicate_of" else [],
            }
        )
    return rows


@router.get("/triage/reports/{report_id}")
def report_page(
    request: Request, report_id: Id, p: PagePrincipal, session: SessionDep
) -> HTMLResponse:
    report = reports.get_report(session, p, report_id)
    vuln = search.vuln_detail(session, p, report.vuln_id)
    ctx: dict[str, Any] = {
        "report": report,
        "vuln": vuln,
        "validations": validations.list_validations(session, p, report_id),
        "signals": _signal_rows(report.triage) if report.triage else [],
        "ssvc": (report.triage.signals.get("ssvc") or {}) if report.triage else {},
        "can_triage": allowed(p, Action.vuln_triage),
        "can_merge": allowed(p, Action.vuln_merge),
        "can_open_case": allowed(p, Action.case_create),
        "can_override": allowed(p, Action.vuln_signal_override),
        "moves": sorted(m.value for m in TRIAGE_MOVES[VulnStatus(vuln.status)]),
        "tlps": [t.value for t in Tlp],
        "overridable": OVERRIDABLE,
    }
    ctx["pairs"] = (
        candidates.list_candidates(session, p, vuln_id=vuln.id) if ctx["can_merge"] else []
    )
    return render(request, "triage/report.html", **ctx)


@router.post("/triage/reports/{report_id}/triage", dependencies=[CsrfChecked])
def triage(report_id: Id, p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    body = from_form(VulnTriage, form, utc=("embargo_until",))
    report = reports.get_report(session, p, report_id)
    workflow.triage(session, p, report.vuln_id, body)
    return redirect(f"/triage/reports/{report_id}", notice="triaged")


@router.post("/triage/reports/{report_id}/override", dependencies=[CsrfChecked])
def override(report_id: Id, p: PagePrincipal, session: SessionDep, form: Form) -> RedirectResponse:
    screening.override(session, p, report_id, from_form(OverrideCreate, form))
    return redirect(f"/triage/reports/{report_id}", notice="overridden")


PANEL_ITEMS = 5


@panel(OrgKind.coordinator, order=10)
def triage_panel(session: Session, p: Principal, services: Services) -> Panel | None:
    """The top of the triage queue: what needs the coordinator's action first."""
    if not allowed(p, Action.vuln_signals_read):
        return None
    page = screening.queue(session, p, limit=PANEL_ITEMS)
    return Panel("Triage queue", "triage/_panel.html", {"items": page.items})
