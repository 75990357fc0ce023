"""Sealed eval artefacts: a run's Inspect logs (the transcripts of an unreleased model) and its
report files never stay on disk in plaintext; they are sealed blobs recorded against the run,
exported (decrypted, audited) only to those the policy allows, and destroyed by retention."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from inspect_ai.log import read_eval_log
from sqlalchemy import select
from sqlalchemy.engine import make_url

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import metadata
from clearinghouse.core.clock import utcnow
from clearinghouse.core.errors import Conflict
from clearinghouse.evals.models import EvalArtefact
from clearinghouse.evals.runs import services as runs
from clearinghouse.evals.runs.artefacts import purge_submission
from clearinghouse.reviews import retention
from clearinghouse.reviews.models import Submission
from clearinghouse.storage.blobs import Blob
from clearinghouse.storage.vault import SealedValue
from clearinghouse.workers.runner import Worker
from tests.support.fake_chat import chat_server
from tests.support.world import Member, World

CANARY = "CANARY-7f3e9c1d-transcript-of-an-unreleased-model"
KEY = "sk-lab-artefacts-0123456789abcdef"


def _submission_run(
    client: TestClient, world: World, base_url: str
) -> tuple[str, str, Member, Member]:
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    sid = world.submission(world.agreement(lab), lab_m, ev, endpoint_url=base_url, api_key=KEY)
    r = client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers)
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/evals/runs",
        headers=ev_m.headers,
        json={"submission_id": sid, "tasks": ["knowledge_original"], "limit": 2},
    )
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    Worker(world.services).run_once()
    run = client.get(f"/api/v1/evals/runs/{run_id}", headers=ev_m.headers).json()
    assert run["state"] == "succeeded", run["error"]
    return sid, run_id, ev_m, lab_m


def _files_holding(roots: list[Path], needle: str) -> list[str]:
    """The files under `roots` (recursively) that contain `needle`. Read in another process:
    a process that opens and closes a SQLite database file drops its own connections' POSIX
    locks, after which other processes no longer see its WAL."""
    script = (
        "import gzip, pathlib, sys\n"
        "needle = sys.argv[1].encode()\n"
        "def holds(p):\n"
        "    if needle in p.read_bytes():\n"
        "        return True\n"
        "    if p.suffix == '.gz' and needle in gzip.decompress(p.read_bytes()):\n"
        "        return True\n"
        "    if p.suffix == '.eval':  # Inspect's logs are compressed: read them as Inspect does\n"
        "        from inspect_ai.log import read_eval_log\n"
        "        return needle.decode() in read_eval_log(str(p)).model_dump_json()\n"
        "    return False\n"
        "for root in map(pathlib.Path, sys.argv[2:]):\n"
        "    files = [root] if root.is_file() else (root.rglob('*') if root.exists() else [])\n"
        "    for p in files:\n"
        "        if p.is_file() and holds(p):\n"
        "            print(p)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, needle, *map(str, roots)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _rows_holding(world: World, needle: str) -> list[str]:
    """Every row of every table, as text: which tables hold `needle` in plaintext."""
    found = []
    with world.services.db.transaction() as s:
        for table in metadata().sorted_tables:
            for row in s.execute(select(table)):
                if needle in repr(tuple(row)):
                    found.append(table.name)
                    break
    return found


def _cli(cli_env: dict[str, str], token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearinghouse", *args],
        env={**cli_env, "CLEARINGHOUSE_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_transcripts_are_sealed_and_exported_only_to_the_assigned_evaluator(
    client: TestClient,
    world: World,
    cli_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker's home: Inspect keeps traces and sample buffers there unless told otherwise.
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    with chat_server(answer=CANARY) as model:
        _sid, run_id, ev_m, lab_m = _submission_run(client, world, model.base_url)
        assert model.requests and set(model.authorizations) == {f"Bearer {KEY}"}
    settings = world.services.settings
    # Nothing under the data directory holds the transcript: no run directory, no report
    # file; nor does the SQLite database or its WAL.
    assert not (settings.var_dir / "evals" / run_id).exists()
    roots = [settings.var_dir]
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        db = Path(url.database or "")
        roots += [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert db.exists()
    assert _files_holding([*roots, home], CANARY) == []
    assert _rows_holding(world, CANARY) == []
    with world.services.db.transaction() as s:
        arts = s.scalars(select(EvalArtefact).where(EvalArtefact.run_id == run_id)).all()
        kinds = {a.kind for a in arts}
        assert kinds == {"log", "report_json"} and any(a.name.endswith(".eval") for a in arts)

    # The assigned evaluator lists and exports them (audited); the export reads in Inspect.
    listed = _cli(cli_env, ev_m.token, "evals", "logs", run_id, "--json")
    assert listed.returncode == 0, listed.stderr
    assert {x["name"] for x in json.loads(listed.stdout)} == {a.name for a in arts}
    out_dir = tmp_path / "export"
    exported = _cli(
        cli_env, ev_m.token, "evals", "logs", run_id, "--export", str(out_dir), "--json"
    )
    assert exported.returncode == 0, exported.stderr
    files = json.loads(exported.stdout)["files"]
    eval_files = [f for f in files if f.endswith(".eval")]
    assert eval_files and (out_dir / "report.json").exists()
    log = read_eval_log(eval_files[0])
    assert log.samples and any(CANARY in (s.output.completion or "") for s in log.samples)
    assert (Path(eval_files[0]).stat().st_mode & 0o077) == 0  # readable by the exporter only
    with world.services.db.transaction() as s:
        exports = s.scalars(select(AuditEvent).where(AuditEvent.tag == "evals:logs:export")).all()
        assert len(exports) == 1 and exports[0].subject_id == run_id

    # Another evaluator may not know the run exists; a coordinator sees it but not its content;
    # the lab cannot see the run at all.
    other = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.admin)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    for member, message in (
        (other, "[not_found]"),
        (coord, "[permission_denied]"),
        (lab_m, "[not_found]"),
    ):
        denied = _cli(
            cli_env, member.token, "evals", "logs", run_id, "--export", str(tmp_path / "x")
        )
        assert denied.returncode == 1 and message in denied.stderr, (member, denied.stderr)
    assert not (tmp_path / "x").exists()
    with world.services.db.transaction() as s:
        assert (
            len(s.scalars(select(AuditEvent).where(AuditEvent.tag == "evals:logs:export")).all())
            == 1
        )


def test_retention_destroys_a_submissions_sealed_artefacts(
    client: TestClient, world: World
) -> None:
    with chat_server(answer=CANARY) as model:
        sid, run_id, _ev_m, _lab_m = _submission_run(client, world, model.base_url)
    services = world.services
    with services.db.transaction() as s:
        sub = s.get(Submission, sid)
        assert sub is not None
        sub.state, sub.ended_at = "closed", utcnow() - timedelta(days=365)
    with services.db.transaction() as s:
        assert retention.purge_expired(
            s,
            services.vault,
            services.blobs,
            services.settings.var_dir,
            eval_artefacts=purge_submission,
        ) == [sid]
    with services.db.transaction() as s:
        arts = s.scalars(select(EvalArtefact).where(EvalArtefact.run_id == run_id)).all()
        assert arts and all(a.destroyed_at is not None for a in arts)
        for a in arts:
            blob = s.get(Blob, a.blob_id)
            assert blob is not None
            sealed = s.get(SealedValue, blob.sealed_id)
            assert sealed is not None and sealed.ciphertext is None and sealed.wrapped_key is None
    with services.db.transaction() as s, pytest.raises(Conflict) as exc:
        runs.export_logs(s, Principal.system(), services, run_id)
    assert exc.value.code == "artefacts_destroyed"
