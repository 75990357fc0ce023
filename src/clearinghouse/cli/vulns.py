"""Vulnerability knowledge base commands.

Every command acts as a token's principal (`--token` or CLEARINGHOUSE_TOKEN), under the same
policy as over HTTP; none acts as the system. Imports need a coordinator member; a dump holds
the public records, and an export what the token may read.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from clearinghouse.accounts.policy import Principal
from clearinghouse.cli.common import (
    JsonOpt,
    TokenOpt,
    acting,
    emit,
    err,
    handles_errors,
    out,
)
from clearinghouse.container import Services
from clearinghouse.core.errors import InvalidInput, NotFound

vulns_app = typer.Typer(help="The vulnerability knowledge base.", no_args_is_help=True)
LIST_COLUMNS = ["id", "source_id", "status", "tlp", "kev", "cwe_ids", "summary"]


def register(app: typer.Typer) -> None:
    app.add_typer(vulns_app, name="vulns")


def _principal(token: str | None) -> tuple[Principal, Services]:
    """The token's principal, for the commands that manage their own transactions (imports,
    dumps): none is held open while they run."""
    with acting(token) as (_, p, svc):
        return p, svc


@vulns_app.command("import")
@handles_errors
def vulns_import(
    path: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="a .json, .jsonl(.gz) or .zip file"),
    ],
    fmt: Annotated[str, typer.Option("--format", help="osv | kev | csaf | cve5")] = "osv",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import advisories (coordinators); prints {created, updated, unchanged, rejected:
    [{source, reason}]}."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from clearinghouse.vulns.intake.common import ImportResult
    from clearinghouse.vulns.intake.osv import import_file

    p, svc = _principal(token)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(
        *columns, console=err, transient=True, disable=as_json or not sys.stderr.isatty()
    ) as bar:
        task = bar.add_task(f"importing {path.name}")

        def tick(r: ImportResult) -> None:
            bar.update(
                task,
                description=f"importing {path.name}: {r.created} created, {r.updated} updated, "
                f"{r.unchanged} unchanged, {len(r.rejected)} rejected",
            )

        result = import_file(svc.db, p, path, on_record=tick, fmt=fmt)
    emit(result.as_dict(), as_json)


@vulns_app.command("cwe-import")
@handles_errors
def cwe_import(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="MITRE's CWE CSV, e.g. 2000.csv")
    ],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load the CWE list (names and validity of CWE ids) into the database (coordinators)."""
    from clearinghouse.vulns.intake.cwe import import_cwe

    p, svc = _principal(token)
    emit(import_cwe(svc.db, p, path).as_dict(), as_json)


@vulns_app.command("list")
@handles_errors
def vulns_list(
    q: Annotated[str | None, typer.Option("--search", "-q", help="full-text search")] = None,
    status: Annotated[str | None, typer.Option(help="new|triaged|validated|...")] = None,
    ecosystem: str | None = None,
    package: str | None = None,
    cwe: str | None = None,
    kev: Annotated[bool | None, typer.Option("--kev/--no-kev", show_default=False)] = None,
    limit: int = 50,
    cursor: str | None = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List, search and filter the records you may see."""
    from clearinghouse.vulns.search import list_vulns
    from clearinghouse.vulns.states import VulnStatus

    try:
        state = VulnStatus(status) if status else None
    except ValueError:
        raise InvalidInput(f"unknown status {status!r}", code="status_invalid") from None
    with acting(token) as (session, p, _):
        page = list_vulns(
            session,
            p,
            q=q,
            status=state,
            ecosystem=ecosystem,
            package=package,
            cwe=cwe,
            kev=kev,
            limit=limit,
            cursor=cursor,
        )
        emit(page, as_json, LIST_COLUMNS)


@vulns_app.command("show")
@handles_errors
def vulns_show(vuln_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """One record with its enrichment (CVSS scores, CWE names, KEV flag, reports)."""
    from clearinghouse.vulns.search import vuln_detail

    with acting(token) as (session, p, _):
        emit(vuln_detail(session, p, vuln_id), as_json)


@vulns_app.command("triage")
@handles_errors
def vulns_triage(
    vuln_id: str,
    status: Annotated[str | None, typer.Option(help="triaged|validated|published|rejected")] = None,
    tlp: Annotated[str | None, typer.Option(help="CLEAR|GREEN|AMBER|AMBER+STRICT|RED")] = None,
    lift_embargo: bool = False,
    crash_signature: str | None = None,
    note: str = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Coordinators: move a record through triage."""
    from pydantic import ValidationError

    from clearinghouse.vulns.schemas import VulnTriage
    from clearinghouse.vulns.triage import triage

    try:
        change = VulnTriage.model_validate(
            {
                "status": status,
                "tlp": tlp,
                "lift_embargo": lift_embargo,
                "crash_signature": crash_signature,
                "note": note,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{first['loc'][0]}: {first['msg']}") from None
    with acting(token) as (session, p, _):
        emit(triage(session, p, vuln_id, change), as_json)


@vulns_app.command("report")
@handles_errors
def vulns_report(
    title: Annotated[str, typer.Option()],
    description: Annotated[str, typer.Option()],
    purl: str | None = None,
    repository: str | None = None,
    commit: str | None = None,
    model: Annotated[str | None, typer.Option(help="the AI model that found it")] = None,
    model_version: str | None = None,
    eval_run: str | None = None,
    cwe: str | None = None,
    cvss: str | None = None,
    poc: Annotated[Path | None, typer.Option(exists=True, dir_okay=False)] = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report a vulnerability (it lands in the triage queue, under embargo)."""
    from pydantic import ValidationError

    from clearinghouse.evals.runs.services import RUNS  # Inspect AI: see cli/evals.py
    from clearinghouse.vulns.reports import submit_report
    from clearinghouse.vulns.schemas import ReportCreate

    kind = "eval_run" if eval_run else "ai_model" if model else "human"
    try:
        body = ReportCreate.model_validate(
            {
                "title": title,
                "description": description,
                "provenance": {
                    "kind": kind,
                    "model_name": model,
                    "model_version": model_version,
                    "eval_run_id": eval_run,
                },
                "target": {"purl": purl, "repository_url": repository, "commit": commit},
                "claimed_cwe": cwe,
                "claimed_cvss": cvss,
                "poc": (
                    {
                        "filename": poc.name,
                        "content_base64": base64.b64encode(poc.read_bytes()).decode(),
                    }
                    if poc
                    else None
                ),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from None
    with acting(token) as (session, p, svc):
        emit(submit_report(session, p, svc.vault, body, runs=RUNS), as_json)


@vulns_app.command("reports")
@handles_errors
def vulns_reports(
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The triage queue of reports."""
    from clearinghouse.vulns.reports import list_reports
    from clearinghouse.vulns.states import VulnStatus

    with acting(token) as (session, p, _):
        emit(
            list_reports(
                session,
                p,
                status=VulnStatus(status) if status else None,
                limit=limit,
                cursor=cursor,
            ),
            as_json,
            ["id", "vuln_id", "status", "provenance", "model_name", "target_purl", "created_at"],
        )


@vulns_app.command("dedup")
@handles_errors
def vulns_dedup(
    vuln_ids: Annotated[list[str] | None, typer.Argument(help="records to scan")] = None,
    all_open: Annotated[bool, typer.Option("--open", help="scan every record in triage")] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find duplicate candidates for records (coordinators)."""
    from clearinghouse.vulns.dedup import candidates

    with acting(token) as (session, p, _):
        result = candidates.scan_records(session, p, list(vuln_ids or []), all_open=all_open)
    emit(result, as_json)


@vulns_app.command("candidates")
@handles_errors
def vulns_candidates(
    vuln_id: str | None = None,
    state: str = "open",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Duplicate candidates, best first (coordinators)."""
    from clearinghouse.vulns.dedup import candidates

    with acting(token) as (session, p, _):
        emit(candidates.list_candidates(session, p, vuln_id=vuln_id, state=state), as_json)


@vulns_app.command("merge")
@handles_errors
def vulns_merge(
    vuln_ids: Annotated[list[str], typer.Argument(help="two or more records")],
    note: str = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Merge records into one alias set (undo with `vulns unmerge MERGE_ID`)."""
    from clearinghouse.vulns.dedup import merges

    with acting(token) as (session, p, _):
        emit(merges.merge(session, p, vuln_ids, note), as_json)


@vulns_app.command("unmerge")
@handles_errors
def vulns_unmerge(merge_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Undo a merge."""
    from clearinghouse.vulns.dedup import merges

    with acting(token) as (session, p, _):
        emit(merges.undo_merge(session, p, merge_id), as_json)


@vulns_app.command("reject-candidate")
@handles_errors
def vulns_reject(candidate_id: str, token: TokenOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a duplicate candidate as not a duplicate."""
    from clearinghouse.vulns.dedup import candidates

    with acting(token) as (session, p, _):
        emit(candidates.reject_candidate(session, p, candidate_id), as_json)


@vulns_app.command("export")
@handles_errors
def vulns_export(
    vuln_id: Annotated[str, typer.Argument(help="our id or any alias (CVE, GHSA, ...)")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="osv | csaf | csaf-2.1 | csaf-vex | openvex | cyclonedx-vex | cve5 | stix",
        ),
    ] = "osv",
    token: TokenOpt = None,
) -> None:
    """Print the record as a document of the given format on stdout."""
    from clearinghouse.vulns.publication.cve5 import Cna
    from clearinghouse.vulns.publication.export import export_vuln

    with acting(token) as (session, p, svc):
        doc = export_vuln(session, p, vuln_id, fmt, cna=Cna.of(svc.settings))
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


@vulns_app.command("dump")
@handles_errors
def vulns_dump(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="created if missing")],
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the public records in osv.dev's layout: <Ecosystem>/all.zip, ecosystems.txt,
    modified_id.csv (for osv-scanner offline mode and Dependency-Track's OSV mirror)."""
    from clearinghouse.vulns.publication.dump import dump
    from clearinghouse.vulns.publication.export import public_records

    p, svc = _principal(token)
    emit(dump(public_records(svc.db, p), directory), as_json)


@vulns_app.command("recipe")
@handles_errors
def vulns_recipe(
    report_id: str,
    recipe: Annotated[
        Path,
        typer.Argument(
            exists=True, help="a recipe directory, or an archive of one (tar, tar.gz, zip)"
        ),
    ],
    wait: Annotated[
        bool, typer.Option(help="run this validation's job here and wait for its verdict")
    ] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Attach a reproduction recipe to a report (its organisation, coordinators): sealed, and
    validated by a durable job; with --wait, that job (only) runs here."""
    from clearinghouse.vulns import validations

    upload = _recipe_upload(recipe)
    with acting(token) as (session, p, svc):
        queued = validations.attach_recipe(session, p, svc, report_id, upload)
    result = queued
    if wait:
        result = _wait_for(token, svc, queued)
    emit(result, as_json)
    if wait and result.state == "error":
        raise typer.Exit(1)


def _recipe_upload(path: Path) -> Any:
    """A recipe directory packed as a tar.gz (links kept as links: the server checks them), or
    an archive as it is."""
    import io
    import tarfile

    from clearinghouse.cli.common import services
    from clearinghouse.vulns import recipes

    cap = services().settings.recipe_max_bytes
    if path.is_dir():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for child in sorted(path.iterdir()):
                tar.add(child, arcname=child.name, recursive=True)
        return recipes.archive(buffer.getvalue(), cap)
    if path.stat().st_size > cap:
        raise recipes.RecipeUploadInvalid(
            f"the recipe is larger than {cap} bytes", code="recipe_too_large"
        )
    return recipes.archive(path.read_bytes(), cap)


def _wait_for(token: str | None, svc: Services, queued: Any) -> Any:
    """Run the validation's own job in this process (a shell never runs other people's jobs)
    until the validation is finished, or its job is dead."""
    import time

    from clearinghouse.storage.jobs import Job
    from clearinghouse.vulns import validations
    from clearinghouse.workers.runner import Worker

    worker = Worker(svc)
    while True:
        if not worker.run_once(job_id=queued.job_id):
            time.sleep(1)  # backing off before a retry, or another worker has it
        with acting(token) as (session, p, _):
            current = validations.list_validations(session, p, queued.report_id)
            job = session.get(Job, queued.job_id)
        mine = next(v for v in current if v.id == queued.id)
        if mine.state in ("done", "error") or job is None or job.state == "dead":
            return mine


@vulns_app.command("validation")
@handles_errors
def vulns_validation(
    report_id: str,
    all_attempts: Annotated[
        bool, typer.Option("--all", help="every validation, newest first")
    ] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A report's latest validation (verdict, fixed verdict, signature, evidence)."""
    from clearinghouse.vulns import validations

    with acting(token) as (session, p, _):
        found = validations.list_validations(session, p, report_id)
    if all_attempts:
        emit(found, as_json, ["id", "state", "verdict", "fixed_verdict", "signature", "created_at"])
        return
    if not found:
        raise NotFound(f"report {report_id} has no validation yet", code="validation_missing")
    emit(found[0], as_json)


@vulns_app.command("queue")
@handles_errors
def vulns_queue(
    limit: int = 50,
    cursor: str | None = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The triage queue (coordinators): reports ordered by evidence, each with why."""
    from clearinghouse.vulns import screening

    with acting(token) as (session, p, _):
        page = screening.queue(session, p, limit=limit, cursor=cursor)
    if as_json:
        emit(page, True)
        return
    emit(page, False, ["position", "report_id", "tier_name", "ssvc", "title"])
    for item in page.items:
        out.print(f"{item.position}. {item.why}", highlight=False, soft_wrap=True)


@vulns_app.command("spot-checks")
@handles_errors
def vulns_spot_checks(
    include_checked: Annotated[
        bool, typer.Option(help="also those a coordinator has already checked")
    ] = False,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The likely-invalid reports sampled for a human spot check (coordinators)."""
    from clearinghouse.vulns import screening

    with acting(token) as (session, p, svc):
        picks = screening.spot_checks(
            session,
            p,
            screening.AuditSampling.for_settings(svc.settings),
            include_checked=include_checked,
        )
    emit(picks, as_json, ["position", "report_id", "checked", "title", "why"])


@vulns_app.command("override")
@handles_errors
def vulns_override(
    report_id: str,
    signal: Annotated[
        str,
        typer.Option(
            help="grounded | reproduced | already_fixed | duplicate_of | ssvc | likely_invalid"
        ),
    ],
    value: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option(help="why the automatic verdict is wrong (required)")] = "",
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Coordinators: override an automatic verdict on a report, with a reason (audited)."""
    from clearinghouse.vulns import screening
    from clearinghouse.vulns.schemas import OverrideCreate

    body = OverrideCreate.model_validate({"signal": signal, "value": value, "reason": reason})
    with acting(token) as (session, p, _):
        emit(screening.override(session, p, report_id, body), as_json)
