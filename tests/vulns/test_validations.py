"""Validation in the product (issue 11): a recipe attached over the API is sealed, validated by
the durable job `vulns.validate`, and its result shows on the report and the record; the signals
are computed at intake and after validation; the queue ranks an invented report below a
reproduced one and says why. On both databases, with the real sandbox for the C recipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.events import AuditTag
from clearinghouse.storage.blobs import Blob
from clearinghouse.storage.jobs import Job
from clearinghouse.storage.vault import SealedValue
from clearinghouse.vulns import validations
from clearinghouse.vulns.models import Validation, Vulnerability
from clearinghouse.vulns.validation.schemas import ValidationResult
from clearinghouse.workers.runner import Worker
from tests.support.needs import needs_bwrap, needs_gcc
from tests.support.world import Member
from tests.vulns import recipe_kit

CORPUS = recipe_kit.REPO / "tests" / "data" / "triage_corpus" / "reports"
SIGNATURE = "heap-buffer-overflow@store_field|parse_records|main"


def corpus(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text())


def submit(
    client: TestClient,
    who: Member,
    *,
    title: str,
    description: str,
    target: str = recipe_kit.HEAP_TARGET,
    model: str | None = "model-a",
) -> dict[str, Any]:
    provenance = {"kind": "ai_model", "model_name": model} if model else {"kind": "human"}
    r = client.post(
        "/api/v1/reports",
        headers=who.headers,
        json={
            "title": title,
            "description": description,
            "provenance": provenance,
            "target": {"purl": target},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def submit_corpus(client: TestClient, who: Member, name: str, **over: Any) -> dict[str, Any]:
    report = corpus(name)
    return submit(client, who, title=report["title"], description=report["description"], **over)


def attach(
    client: TestClient,
    who: Member,
    report_id: str,
    data: bytes,
    *,
    multipart: bool = True,
    content_type: str = "application/gzip",
) -> Any:
    url = f"/api/v1/reports/{report_id}/recipe"
    if multipart:
        return client.post(
            url, headers=who.headers, files={"file": ("recipe.tar.gz", data, content_type)}
        )
    return client.post(url, headers={**who.headers, "Content-Type": content_type}, content=data)


def finish(services: Services, job_id: str, *, rounds: int = 20) -> None:
    """Run this job (only) in-process until it has finished."""
    worker = Worker(services)
    for _ in range(rounds):
        worker.run_once(job_id=job_id)
        with services.db.transaction() as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.state in ("succeeded", "dead"):
                return
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def counts(services: Services) -> dict[str, int]:
    with services.db.transaction() as s:
        return {
            "validations": s.scalar(select(func.count()).select_from(Validation)) or 0,
            "blobs": s.scalar(select(func.count()).select_from(Blob)) or 0,
            "jobs": s.scalar(
                select(func.count()).select_from(Job).where(Job.kind == validations.JOB_KIND)
            )
            or 0,
            "events": s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        }


def events(services: Services, tag: AuditTag) -> list[dict[str, Any]]:
    with services.db.transaction() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.tag == tag.value)).all()
        return [dict(r.data) for r in rows]


# --- the whole path ------------------------------------------------------------------------


@needs_bwrap
@needs_gcc
def test_a_recipe_is_sealed_validated_once_and_shown_on_the_report_and_the_record(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    reporter, coordinator = people["vendor"], people["coordinator"]
    report = submit_corpus(client, reporter, "g01-records-off-by-one")
    data = recipe_kit.heap()
    r = attach(client, reporter, report["id"], data)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["state"] == "queued" and queued["job_id"] and queued["verdict"] is None
    assert queued["recipe_sha256"] and queued["recipe_filename"] == "recipe.tar.gz"

    # Sealed at rest: the blob's sealed value is not the archive.
    with services.db.transaction() as s:
        v = s.get(Validation, queued["id"])
        assert v is not None
        blob = s.get(Blob, v.recipe_blob_id)
        assert blob is not None
        sealed = s.get(SealedValue, blob.sealed_id)
        assert sealed is not None and data not in bytes(sealed.ciphertext)

    finish(services, queued["job_id"])
    shown = client.get(f"/api/v1/reports/{report['id']}", headers=reporter.headers).json()
    validation = shown["validation"]
    assert validation["state"] == "done", validation
    assert validation["verdict"] == "reproduced"
    assert validation["fixed_verdict"] == "fixed_confirmed"
    assert validation["signature"] == SIGNATURE
    assert validation["crash_type"] == "heap-buffer-overflow"
    assert "AddressSanitizer" in validation["evidence"]
    assert validation["build_cached"] is False and validation["validated_at"]
    assert validation["timings"]["total_seconds"] > 0
    assert shown["triage"] is None  # the reporter does not see the coordinators' desk
    # The record shows it, and its crash signature now feeds dedup's crash rule.
    record = client.get(f"/api/v1/vulns/{report['vuln_id']}", headers=reporter.headers).json()
    assert record["validation"]["id"] == queued["id"]
    assert record["crash_signature"] == SIGNATURE
    with services.db.transaction() as s:
        assert s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == "vulns.scan_duplicates", Job.idempotency_key.like("%:crash:%"))
        )
    # The coordinators see the signals after validation: reproduced, grounded in the recipe's
    # own source, SSVC Coordinate.
    triage = client.get(f"/api/v1/reports/{report['id']}", headers=coordinator.headers).json()[
        "triage"
    ]
    assert triage["stage"] == "validated"
    assert triage["effective"]["reproduced"] == "reproduced"
    assert triage["effective"]["grounded"] == "grounded"
    assert triage["effective"]["ssvc"] == "coordinate"
    assert triage["tier_name"] == "reproduced, not fixed"

    # Running the finished job's work again changes nothing: one result, one event.
    before = counts(services)
    validations.run(services, queued["id"], attempt=5)
    assert counts(services) == before
    assert len(events(services, AuditTag.VULNS_VALIDATION_FINISH)) == 1
    assert [e["validation_id"] for e in events(services, AuditTag.VULNS_VALIDATION_CREATE)] == [
        queued["id"]
    ]


@needs_bwrap
@needs_gcc
def test_the_queue_puts_an_invented_report_below_a_reproduced_one_and_says_why(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    reporter, coordinator = people["vendor"], people["coordinator"]
    # An invented report arrives first: nothing is known of the program yet.
    early = submit_corpus(client, reporter, "i02-records-wrong-function", model="slop-bot")
    genuine = submit_corpus(client, reporter, "g01-records-off-by-one")
    queued = attach(client, reporter, genuine["id"], recipe_kit.heap()).json()
    finish(services, queued["job_id"])
    # A second invented report about the same program, after the validation: grounded at intake
    # against the kept source tree of that validation.
    invented = submit_corpus(client, reporter, "i01-records-parse-header", model="slop-bot")
    page = client.get("/api/v1/triage/queue", headers=coordinator.headers).json()
    order = [item["report_id"] for item in page["items"]]
    assert order[0] == genuine["id"], page
    assert order[-1] == invented["id"], page
    bottom = page["items"][-1]
    assert bottom["likely_invalid"] and bottom["tier_name"] == "likely invalid"
    assert bottom["why"].startswith("3 of 3, likely invalid: likely invalid: none of the code")
    assert "parse_header()" in bottom["why"]
    assert bottom["signals"]["grounded"] == "ungrounded"
    top = page["items"][0]
    assert top["signals"]["reproduced"] == "reproduced" and SIGNATURE in top["why"]
    # The early one had no tree to be checked against at intake (grounding unknown).
    middle = page["items"][1]
    assert middle["report_id"] == early["id"] and middle["signals"]["grounded"] is None


@needs_bwrap
@needs_gcc
def test_the_track_record_counts_the_models_earlier_validated_reports(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    """The model's record as this organisation reports it: another organisation filing
    rejected reports under the same model name does not sink it."""
    reporter, rival, coordinator = people["vendor"], people["lab"], people["coordinator"]
    first = submit_corpus(client, reporter, "g01-records-off-by-one", model="finder-1")
    finish(services, attach(client, reporter, first["id"], recipe_kit.heap()).json()["job_id"])
    for _ in range(3):  # a rival files invented reports as "finder-1"; they are rejected
        slop = submit_corpus(client, rival, "i01-records-parse-header", model="finder-1")
        r = client.post(
            f"/api/v1/vulns/{slop['vuln_id']}/triage",
            headers=coordinator.headers,
            json={"status": "rejected"},
        )
        assert r.status_code == 200, r.text
    text = "parse_records() trusts the 16-bit length of every record it reads."
    second = submit(client, reporter, title="Another bug", description=text, model="finder-1")
    other = submit(client, reporter, title="Another bug", description=text, model="finder-2")
    rivals = submit(client, rival, title="Another bug", description=text, model="finder-1")
    shown = client.get(f"/api/v1/reports/{second['id']}", headers=coordinator.headers).json()
    assert shown["triage"]["effective"]["track_record"] == "1 of 1 validated"
    record = shown["triage"]["signals"]["track_record"]["record"]
    assert record["subject"] == f"org:{reporter.org_id}/model:finder-1" and record["n"] == 1
    unknown = client.get(f"/api/v1/reports/{other['id']}", headers=coordinator.headers).json()
    assert unknown["triage"]["effective"]["track_record"] is None
    theirs = client.get(f"/api/v1/reports/{rivals['id']}", headers=coordinator.headers).json()
    assert theirs["triage"]["effective"]["track_record"] == "0 of 3 validated"


# --- broken recipes and a broken run --------------------------------------------------------


def test_a_recipe_that_breaks_at_run_time_is_an_error_not_not_reproduced(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    """Two recipes that parse but cannot be run: a package the index cannot serve (a closed
    port), and a source archive inside the recipe that is hostile. Both end `error`."""
    services.settings.package_index_url = "http://127.0.0.1:9/simple"
    reporter = people["vendor"]
    unreachable = recipe_kit.tarball(
        replace={
            "recipe.toml": recipe_kit.TINY_RECIPE.replace(
                b'source = "src"', b'source = "pkg:pypi/tinyparse@2.4.0"'
            ),
            "poc.txt": b"tiny\n",
        }
    )
    hostile_source = recipe_kit.tarball(
        replace={
            "recipe.toml": recipe_kit.TINY_RECIPE.replace(
                b'source = "src"', b'source = "src.tar.gz"'
            ),
            "poc.txt": b"tiny\n",
            "src.tar.gz": recipe_kit.with_dotdot(),
        }
    )
    for data, code in ((unreachable, "source_unavailable"), (hostile_source, "archive_refused")):
        report = submit(client, reporter, title="A bug", description="It crashes when parsing.")
        r = attach(client, reporter, report["id"], data)
        assert r.status_code == 202, r.text
        finish(services, r.json()["job_id"])
        got = client.get(
            f"/api/v1/reports/{report['id']}/validations", headers=reporter.headers
        ).json()
        assert [(v["state"], v["verdict"], v["error_code"]) for v in got] == [
            ("error", "error", code)
        ]
        assert got[0]["fixed_verdict"] == "not_run"
    triage = client.get(
        f"/api/v1/reports/{report['id']}", headers=people["coordinator"].headers
    ).json()["triage"]
    assert triage["effective"]["reproduced"] == "inconclusive"  # never "not reproduced"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (recipe_kit.with_dotdot, "archive_refused"),
        (recipe_kit.with_symlink, "archive_refused"),
        (recipe_kit.bomb, "archive_refused"),
        (lambda: b"just some text, not an archive", "recipe_upload_invalid"),
        (lambda: b"", "recipe_empty"),
        (
            lambda: recipe_kit.tarball(replace={"recipe.toml": b"[target]\nsource = 1\n"}),
            "recipe_invalid",
        ),
        (
            lambda: recipe_kit.tarball(
                replace={
                    "recipe.toml": recipe_kit.TINY_RECIPE.replace(b"stdout-regex", b"crash"),
                    "poc.txt": b"x",
                    "src/a.c": b"",
                }
            ),
            "expect_unknown",
        ),
        (lambda: recipe_kit.tarball(replace={"README": b"no recipe.toml"}), "recipe_missing"),
    ],
    ids=["dotdot", "symlink", "bomb", "text", "empty", "schema", "expect", "no-toml"],
)
def test_a_hostile_or_bad_recipe_is_refused_with_its_code_and_nothing_is_written(
    client: TestClient,
    services: Services,
    people: dict[str, Member],
    make: Any,
    code: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This test's own temporary directory: another xdist worker's validations make and remove
    # ch-recipe-* directories in the shared one while this test looks.
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    reporter = people["vendor"]
    report = submit(client, reporter, title="A bug", description="It crashes when parsing.")
    before = counts(services)
    tmp_before = set(Path(tempfile.gettempdir()).glob("ch-recipe-*"))
    r = attach(client, reporter, report["id"], make())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code
    assert counts(services) == before  # no validation, blob, job or audit event
    assert set(Path(tempfile.gettempdir()).glob("ch-recipe-*")) <= tmp_before
    assert not (Path(tempfile.gettempdir()) / recipe_kit.ESCAPED).exists()


def test_an_upload_over_the_size_cap_is_refused(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    services.settings.recipe_max_bytes = 4096
    reporter = people["vendor"]
    report = submit(client, reporter, title="A bug", description="It crashes when parsing.")
    big = recipe_kit.tarball(
        replace={"recipe.toml": recipe_kit.TINY_RECIPE, "pad": os.urandom(8192)}
    )
    for multipart in (True, False):
        r = attach(client, reporter, report["id"], big, multipart=multipart)
        assert r.status_code == 422 and r.json()["code"] == "recipe_too_large", r.text
    assert counts(services)["validations"] == 0


def test_a_recipe_sent_as_its_files_is_packed_and_accepted(
    client: TestClient, services: Services, people: dict[str, Member]
) -> None:
    reporter = people["vendor"]
    report = submit(client, reporter, title="A bug", description="It crashes when parsing.")
    files = [
        ("files", ("recipe.toml", recipe_kit.TINY_RECIPE, "text/plain")),
        ("files", ("poc.txt", b"tiny\n", "text/plain")),
        ("files", ("src/main.c", b"int x;\n", "text/plain")),
    ]
    r = client.post(f"/api/v1/reports/{report['id']}/recipe", headers=reporter.headers, files=files)
    assert r.status_code == 202, r.text
    hostile = [("files", ("../recipe.toml", recipe_kit.TINY_RECIPE, "text/plain"))]
    r = client.post(
        f"/api/v1/reports/{report['id']}/recipe", headers=reporter.headers, files=hostile
    )
    assert r.status_code == 422 and r.json()["code"] == "archive_refused"


# --- a worker killed mid-run --------------------------------------------------------------


def _worker_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "CLEARINGHOUSE_JOB_LEASE_SECONDS": "2",
        "CLEARINGHOUSE_JOB_HEARTBEAT_SECONDS": "0.5",
        "CLEARINGHOUSE_WORKER_POLL_SECONDS": "0.1",
        "CLEARINGHOUSE_PERIODIC_INTERVAL_SECONDS": "3600",
        "CLEARINGHOUSE_LOG_LEVEL": "WARNING",
    }


@pytest.mark.slow
@needs_bwrap
@needs_gcc
def test_a_validation_killed_mid_run_is_retried_and_completes_once(
    client: TestClient,
    services: Services,
    people: dict[str, Member],
    cli_env: dict[str, str],
) -> None:
    reporter = people["vendor"]
    report = submit_corpus(client, reporter, "g01-records-off-by-one")
    slow = recipe_kit.heap(run="sleep 2; ./records {poc}")
    queued = attach(client, reporter, report["id"], slow).json()
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearinghouse", "worker"],
        env=_worker_env(cli_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "the worker never ran it"
            with services.db.transaction() as s:
                v = s.get(Validation, queued["id"])
                assert v is not None
                if v.state == "running":
                    break
            time.sleep(0.05)
        time.sleep(1.0)  # inside the sandbox run now
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its sandboxes, at once
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    with services.db.transaction() as s:
        v = s.get(Validation, queued["id"])
        assert v is not None and v.state == "running" and v.attempt == 1
    time.sleep(2.5)  # the dead worker's lease expires
    finish(services, queued["job_id"])
    with services.db.transaction() as s:
        rows = s.scalars(select(Validation).where(Validation.report_id == report["id"])).all()
        assert len(rows) == 1
        assert (rows[0].state, rows[0].verdict, rows[0].attempt) == ("done", "reproduced", 2)
        job = s.get(Job, queued["job_id"])
        assert job is not None and (job.state, job.attempts) == ("succeeded", 2)
    assert len(events(services, AuditTag.VULNS_VALIDATION_FINISH)) == 1
    # The killed attempt's late write, were it to come, changes nothing.
    late = ValidationResult.model_validate(rows[0].result | {"verdict": "not_reproduced"})
    assert not validations._finish(services, queued["id"], 1, late, None, None, None)
    with services.db.transaction() as s:
        v = s.get(Validation, queued["id"])
        assert v is not None and v.verdict == "reproduced"
        vuln = s.get(Vulnerability, report["vuln_id"])
        assert vuln is not None and vuln.crash_signature == SIGNATURE
    assert len(events(services, AuditTag.VULNS_VALIDATION_FINISH)) == 1
