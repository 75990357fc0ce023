"""Adversarial review of the issue-9 fixes (confidentiality and robustness).

Each test here replays a break found by attacking the fixes as they landed, against the real
code and real databases (SQLite and PostgreSQL). Each one fails on the code as reviewed and
states, in its docstring, what a fix must make true. Nothing is marked xfail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.audit import trail as audit
from clearinghouse.audit import verify as audit_verify
from clearinghouse.audit.models import AuditEvent
from clearinghouse.audit.schemas import Actor
from clearinghouse.container import Services, metadata
from clearinghouse.evals.models import EvalRun
from clearinghouse.evals.runs import results
from tests.support.databases import blank_database
from tests.support.fake_chat import chat_server
from tests.support.tamper import superuser
from tests.support.world import World

# --- 1. audit: a keyless downgrade of the whole chain passes `audit verify` -------------------


def _events(services: Services, n: int) -> None:
    with services.db.transaction() as s:
        for i in range(n):
            audit.record(
                s,
                "test:thing:touch",
                actor=Actor("usr_1", "org_1", "tok_1"),
                subject_type="thing",
                subject_id=f"t{i}",
                data={"i": i},
            )


def _downgrade_to_unkeyed(services: Services, forged_subject: str) -> None:
    """The attacker (database superuser, no master key) makes the trail look as if it had
    never been keyed: deletes the audit key row, every stored checkpoint and every event the
    audit module wrote itself (`audit:key:create`, `audit:checkpoint:create`), edits one event,
    renumbers the rest and re-hashes them as an unkeyed SHA-256 ("legacy") chain, without
    acting token ids, which legacy events do not carry."""
    with services.db.transaction() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        for row in rows:
            s.expunge(row)
    prev, forged = audit.GENESIS, []
    for seq, row in enumerate((r for r in rows if not r.tag.startswith("audit:")), start=1):
        if row.subject_id == forged_subject:
            row.data = {"i": 4242}
        row.seq, row.actor_token_id, row.prev_hash = seq, None, prev
        row.hash = prev = audit.legacy_digest(prev, row)
        forged.append(row)
    with superuser(services) as c:
        for table in ("audit_checkpoints", "audit_keys", "audit_events"):
            c.execute(text(f"DELETE FROM {table}"))
        for row in forged:
            c.execute(
                insert(AuditEvent.__table__).values(
                    {col.name: getattr(row, col.name) for col in AuditEvent.__table__.columns}
                )
            )


def test_a_keyless_rewrite_of_a_keyed_trail_does_not_verify(
    services: Services, cli_env: dict[str, str]
) -> None:
    """BREAK (audit, medium). Issue 9.4 asks that rows cannot be re-hashed without the key.
    `verify_chain` treats a trail with no `audit_keys` row as an unkeyed legacy chain
    (audit/verify.py `_walk`: `material is None` -> SHA-256 for every event), so a database
    superuser who deletes the key row and the stored checkpoints can edit any event, re-hash
    the whole trail with plain SHA-256, and `audit verify --json` (with the stored checkpoints,
    i.e. without a copy kept elsewhere) answers ok: true. Only the docs' "third parties keep
    checkpoints" saves it; the database alone cannot tell a never-keyed trail from a stripped
    one. It gets worse on the next write: `keys.create` (audit/keys.py) refuses only while an
    `audit:key:create` event exists, which the attacker removed, so the application makes a
    fresh key that seals the forged events as "legacy", and every later checkpoint signs the
    forgery (verified: ok true, a new key_id). A fix must make a trail that was keyed
    unverifiable once its key is gone (for example: the instance knows, outside the database,
    that it has an audit key and which one)."""
    _events(services, 5)
    with services.db.transaction() as s:
        audit.write_checkpoint(s, Actor())
    with services.db.transaction() as s:
        assert audit_verify.verify_chain(s).ok is True

    _downgrade_to_unkeyed(services, forged_subject="t2")

    with services.db.transaction() as s:
        edited = s.scalar(select(AuditEvent).where(AuditEvent.subject_id == "t2"))
        assert edited is not None and edited.data == {"i": 4242}  # the forgery is in place
        tags = s.scalars(select(AuditEvent.tag)).all()
        assert tags == ["test:thing:touch"] * 5  # no trace of a key or a checkpoint
        result = audit_verify.verify_chain(s)
    assert result.ok is False, result.model_dump()
    cli = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "audit", "verify", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stdout
    # Re-keying: the application's next write (today it makes a fresh key that seals the forged
    # trail as "legacy") must not launder the forgery either.
    from clearinghouse.core.errors import ConfigurationError

    try:
        _events(services, 1)
    except ConfigurationError:
        pass  # refusing to write over a stripped trail is one way to fix it
    with services.db.transaction() as s:
        assert audit_verify.verify_chain(s).ok is False


# --- 2. eval artefacts: the model's transcript is stored in plaintext rows ---------------------

CANARY = "CANARY-5d1e-adversarial-review-unreleased-model-transcript"
KEY = "sk-lab-adversarial-0123456789abcdef"


def _rows_holding(services: Services, needle: str) -> list[str]:
    found = []
    with services.db.transaction() as s:
        for table in metadata().sorted_tables:
            for row in s.execute(select(table)):
                if needle in repr(tuple(row)):
                    found.append(table.name)
                    break
    return found


def _queued_run(client: TestClient, world: World, task: str) -> tuple[str, Any]:
    """A lab's submission with its window open, and an eval run of it queued by its evaluator."""
    lab, ev = world.org(OrgKind.lab), world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    with chat_server() as model:
        sid = world.submission(
            world.agreement(lab), lab_m, ev, endpoint_url=model.base_url, api_key=KEY
        )
        r = client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers)
        assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/evals/runs",
        headers=ev_m.headers,
        json={"submission_id": sid, "tasks": [task], "limit": 1},
    )
    assert r.status_code == 202, r.text
    return sid, r


def test_a_vulnerability_reported_in_a_run_leaves_no_plaintext_transcript(
    client: TestClient, world: World
) -> None:
    """BREAK (eval artefacts, high). Issue 9.9: the transcripts of an unreleased model are
    sealed, and retention destroys them. When the model under test calls
    `report_vulnerability` during a submission's run, `_finish` ->
    `adopt_vulnerability_reports` (evals/runs/results.py) stores the last six transcript
    messages (`transcript_excerpt`) and the PoC the model wrote, in plaintext, in
    `eval_vulnerability_reports` (evals/models.py: `poc`, `transcript_excerpt` are Text
    columns) and again in `vulnerability_reports.transcript_excerpt`. These rows are outside
    the vault and `purge_expired` (reviews/retention.py) never touches them, so they also
    survive retention. The canary test in tests/evals/test_artefacts.py misses it because its
    model never reports a vulnerability. Here the worker's own harvest step is fed what the
    harvester extracts from such a transcript (tests/evals/test_services.py shows the
    extraction)."""
    sid, r = _queued_run(client, world, "ctf_generated")
    run_id = r.json()["id"]
    harvested = {
        "task": "ctf_generated",
        "sample_id": "web_sqli-0",
        "epoch": 1,
        "target": "pkg:pypi/demo@1.0",
        "description": "heap overflow in parse",
        "poc": f"poc written by the model: {CANARY}",
        "transcript_excerpt": f"assistant: {CANARY}\ntool: Recorded.",
    }
    with world.services.db.transaction() as s:
        run = s.get(EvalRun, run_id)
        assert run is not None and run.submission_id == sid
        results.adopt_vulnerability_reports(s, world.services, run, [harvested])
    assert _rows_holding(world.services, CANARY) == []


def _live_secrets_holding(services: Services, needle: str) -> list[str]:
    """Every sealed value that can still be decrypted (blobs included), opened with the master
    key: which purposes still hold `needle`."""
    from clearinghouse.storage.vault import SealedValue

    with services.db.transaction() as s:
        rows = s.scalars(select(SealedValue).where(SealedValue.ciphertext.is_not(None))).all()
        return [r.purpose for r in rows if needle.encode() in services.vault.reveal(s, r.id)]


def test_retention_destroys_the_transcript_excerpts_of_a_submissions_runs(
    client: TestClient, world: World
) -> None:
    """BREAK (eval artefacts / retention, high; sibling of the test above). Whatever form the
    harvested transcript excerpt takes, the retention purge must destroy it with the rest of the
    submission's confidential content. `purge_expired` (reviews/retention.py) destroys findings,
    report files and sealed run artefacts, and leaves `eval_vulnerability_reports` (poc,
    transcript_excerpt) and `vulnerability_reports.transcript_excerpt` as they are, so the
    unreleased model's words outlive the agreement's retention period. The canary here is in
    the excerpt only (the report's description and PoC belong to the knowledge base)."""
    from datetime import timedelta

    from clearinghouse.core.clock import utcnow
    from clearinghouse.evals.runs.artefacts import purge_submission
    from clearinghouse.reviews import retention
    from clearinghouse.reviews.models import Submission

    sid, r = _queued_run(client, world, "ctf_generated")
    services = world.services
    with services.db.transaction() as s:
        run = s.get(EvalRun, r.json()["id"])
        assert run is not None
        results.adopt_vulnerability_reports(
            s,
            services,
            run,
            [
                {
                    "task": "ctf_generated",
                    "sample_id": "web_sqli-0",
                    "epoch": 1,
                    "target": "pkg:pypi/demo@1.0",
                    "description": "heap overflow in parse",
                    "poc": "AAAA",
                    "transcript_excerpt": f"assistant: {CANARY}",
                }
            ],
        )
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
    assert _rows_holding(services, CANARY) == []
    assert _live_secrets_holding(services, CANARY) == []


def test_retention_removes_a_crashed_runs_plaintext_directory(
    client: TestClient, world: World
) -> None:
    """BREAK (eval artefacts / retention, low). A worker killed mid-run (SIGKILL, OOM, power)
    leaves Inspect's plaintext logs in `var/evals/<run>/`; they are sealed and removed only if
    the job runs again (`execute_run`). If no worker takes the job again before the agreement's
    retention period ends (workers stopped, the deployment moved), `purge_expired`
    (reviews/retention.py) purges the submission and leaves that directory, the unreleased
    model's transcript in plaintext, in the data directory for good. Worse, a retry after the
    purge seals it anew (`execute_run`'s failure path calls `seal_directory`) into artefacts
    that no later purge destroys, since the submission is already marked purged."""
    from datetime import timedelta

    from clearinghouse.core.clock import utcnow
    from clearinghouse.evals.runs import artefacts
    from clearinghouse.evals.runs.artefacts import purge_submission
    from clearinghouse.reviews import retention
    from clearinghouse.reviews.models import Submission

    sid, r = _queued_run(client, world, "knowledge_original")
    services = world.services
    # What the killed worker left: Inspect's log of the task in progress.
    leftover = artefacts.run_dir(services.settings.var_dir, r.json()["id"]) / "knowledge_original"
    leftover.mkdir(parents=True)
    (leftover / "2026-11-30T05-00-00_knowledge-original_x.eval").write_text(CANARY)
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
    left = [str(p) for p in services.settings.var_dir.rglob("*") if p.is_file()]
    assert not [p for p in left if CANARY in Path(p).read_text(errors="replace")], left
    # A worker now takes the job again: nothing of the purged submission may be sealed anew.
    from clearinghouse.evals.models import EvalArtefact
    from clearinghouse.workers.runner import Worker

    Worker(services).run_once()
    with services.db.transaction() as s:
        live = s.scalars(select(EvalArtefact).where(EvalArtefact.destroyed_at.is_(None))).all()
        assert [a.name for a in live] == []
    assert _live_secrets_holding(services, CANARY) == []


# --- 3. CLI default deny: knowledge-base writes without a token -------------------------------


def test_the_cli_publishes_no_record_without_a_token(
    client: TestClient, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """BREAK (CLI default deny, low-medium). Issue 9.10: a CLI command run without a token must
    not act as the system, and every command goes through the same policy as the API (where an
    import needs `vuln:import`, a coordinator). `clearinghouse vulns import` takes no token at all
    (cli/vulns.py `vulns_import` -> `import_file(services().db, ...)`: no principal, no
    `authorize`, no audit event): anyone who can run the CLI on the host publishes a record
    on the anonymous OSV API. `vulns cwe-import`, `vulns dedup` and `vulns dump` are the same;
    the team's own tests/cli/test_default_deny.py already fails for these four commands."""
    record = {
        "id": "PYSEC-2099-77",
        "modified": "2026-01-01T00:00:00Z",
        "summary": "planted without a token",
        "affected": [{"package": {"ecosystem": "PyPI", "name": "planted"}, "versions": ["1.0"]}],
    }
    path = tmp_path / "planted.json"
    path.write_text(json.dumps(record))
    env = {k: v for k, v in cli_env.items() if k != "CLEARINGHOUSE_TOKEN"}
    r = subprocess.run(
        [sys.executable, "-m", "clearinghouse", "vulns", "import", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stdout
    query = client.post(
        "/v1/query", json={"package": {"ecosystem": "PyPI", "name": "planted"}, "version": "1.0"}
    )
    assert query.status_code == 200 and query.json().get("vulns", []) == [], query.text


# --- 4. accounts: what the old attack minted survives the upgrade ------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no schema), to migrate step by step."""
    with blank_database(request, tmp_path, "blank") as url:
        yield url


def test_tokens_minted_across_organisations_before_the_fix_stop_working(
    blank_database_url: str, tmp_path: Path, master_key: str
) -> None:
    """BREAK (accounts, medium; remediation). Issue 9.2's attack minted, before the fix, a
    token for a lab's user through a coordinator admin's `POST /api/v1/tokens`, and an admin
    user in the lab's organisation through `POST /api/v1/users`. The fix stops new mints
    (accounts/policy.py `token_create`, `user_create`) but migration 0006 and the code leave
    what was already minted alone: on an upgraded instance the coordinator's copy of the lab
    user's token, and its mole admin in the lab, still authenticate and still read the lab's
    findings. The audit trail says who did it (`accounts:token:create` and
    `accounts:user:create` events whose actor organisation is not the user's). A fix must
    revoke (or disable) them when the instance is upgraded. (On SQLite this test first meets
    the migration break below; on PostgreSQL it reaches the tokens.)"""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from clearinghouse.accounts.models import ApiToken, Membership, Org, User
    from clearinghouse.accounts.tokens import authenticate, hash_secret
    from clearinghouse.container import build_services
    from clearinghouse.core.config import Settings
    from clearinghouse.core.errors import Unauthenticated
    from clearinghouse.storage import migrate
    from clearinghouse.storage.db import Database

    url = blank_database_url
    db = Database(url)
    migrate.upgrade(db, "0005")  # the schema the attack ran against
    now = datetime(2026, 11, 1, tzinfo=UTC)
    later = now + timedelta(days=90)
    bearers: dict[str, str] = {}
    with db.engine.begin() as c:
        for oid, kind in (("org_coord", "coordinator"), ("org_lab", "lab")):
            c.execute(insert(Org.__table__).values(id=oid, name=oid, kind=kind, created_at=now))
        people = (
            ("usr_coord", "org_coord", "coord@cert.example"),
            ("usr_liaison", "org_lab", "liaison@lab.example"),
            ("usr_mole", "org_lab", "mole@cert.example"),  # made by the coordinator
        )
        for uid, oid, email in people:
            c.execute(insert(User.__table__).values(id=uid, email=email, created_at=now))
            c.execute(
                insert(Membership.__table__).values(
                    user_id=uid, org_id=oid, role="admin", created_at=now
                )
            )
        tokens = (
            ("tok_coordown", "usr_coord", "usr_coord", "org_coord"),
            ("tok_liaisonown", "usr_liaison", "usr_liaison", "org_lab"),  # the lab's own
            ("tok_minted", "usr_liaison", "usr_coord", "org_coord"),  # the coordinator's copy
            ("tok_mole", "usr_mole", "usr_coord", "org_coord"),
        )
        for seq, (tid, uid, actor_user, actor_org) in enumerate(tokens, start=1):
            secret = f"secret-{tid}-0123456789abcdefghijklmnop"
            c.execute(
                insert(ApiToken.__table__).values(
                    id=tid,
                    user_id=uid,
                    secret_hash=hash_secret(secret),
                    hint=secret[-4:],
                    scopes=["read", "write"],
                    description="",
                    created_at=now,
                    expires_at=later,
                )
            )
            bearers[tid] = f"chk_{tid.removeprefix('tok_')}_{secret}"
            c.execute(  # the event the old code wrote with the token (hash: not checked here)
                insert(AuditEvent.__table__).values(
                    seq=seq,
                    occurred_at=now,
                    tag="accounts:token:create",
                    actor_user_id=actor_user,
                    actor_org_id=actor_org,
                    subject_type="token",
                    subject_id=tid,
                    data={"user_id": uid},
                    prev_hash=audit.GENESIS,
                    hash=audit.GENESIS,
                )
            )
    migrate.upgrade(db)
    db.dispose()
    services = build_services(
        Settings(env="test", var_dir=tmp_path / "var", database_url=url, master_key=master_key)  # type: ignore[arg-type]
    )
    try:
        refused = []
        for tid in ("tok_minted", "tok_mole"):
            try:
                with services.db.transaction() as s:
                    authenticate(s, bearers[tid])
            except Unauthenticated:
                refused.append(tid)
        with services.db.transaction() as s:  # the lab's own token still works
            assert authenticate(s, bearers["tok_liaisonown"]).user_id == "usr_liaison"
        assert refused == ["tok_minted", "tok_mole"]
    finally:
        services.db.dispose()


def test_a_coordinator_cannot_seat_an_admin_in_an_existing_lab_without_one(
    client: TestClient, world: World
) -> None:
    """BREAK (accounts, medium). Issue 9.2: a coordinator may create an organisation and invite
    its *first* admin; it may not add people to a lab. `create_invitation`
    (accounts/invitations.py) lets a coordinator admin invite an admin into any organisation that
    has no enabled admin (`_has_admin`), however old and however full of people and data. A lab
    whose users are all members or viewers (what the pre-fix `POST /api/v1/users` made, and
    what this suite's own fixtures make) is taken over: the coordinator invites itself as the
    lab's admin, accepts the code it was just shown, and reads the lab's confidential findings.
    The first-admin path must be for an organisation with no users yet (a new one)."""
    lab = world.org(OrgKind.lab)
    ev = world.org(OrgKind.evaluator)
    lab_m = world.member(lab, OrgKind.lab, Role.member)  # the lab's liaison: a member
    ev_m = world.member(ev, OrgKind.evaluator, Role.member)
    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    with chat_server() as model:
        sid = world.submission(
            world.agreement(lab), lab_m, ev, endpoint_url=model.base_url, api_key=KEY
        )
        for r in (
            client.post(f"/api/v1/submissions/{sid}/verify-access", headers=ev_m.headers),
            client.post(
                f"/api/v1/submissions/{sid}/transition",
                headers=ev_m.headers,
                json={"to": "testing"},
            ),
            client.post(
                f"/api/v1/submissions/{sid}/findings",
                headers=ev_m.headers,
                json={"title": "t", "severity": "high", "body": CANARY},
            ),
        ):
            assert r.status_code < 300, r.text
    # The coordinator cannot read the finding itself...
    r = client.get(f"/api/v1/submissions/{sid}/findings", headers=coord.headers)
    assert r.status_code in (403, 404) and CANARY not in r.text
    # ... and must not be able to become the lab's admin to read it.
    r = client.post(
        f"/api/v1/orgs/{lab}/invitations",
        headers=coord.headers,
        json={"email": "mole@coordinator.example", "role": "admin"},
    )
    if r.status_code == 201:  # show what the seat gives before failing
        mole = client.post("/api/v1/invitations/accept", json={"code": r.json()["code"]})
        assert mole.status_code == 201, mole.text
        read = client.get(
            f"/api/v1/submissions/{sid}/findings",
            headers={"Authorization": f"Bearer {mole.json()['token']}"},
        )
        assert CANARY not in read.text, "the coordinator's mole read the lab's finding"
    assert r.status_code == 403, r.text


def test_a_replayed_invitation_code_is_recorded_for_the_orgs_admins(
    client: TestClient, world: World
) -> None:
    """BREAK (accounts / audit, low). `accept_invitation` (accounts/invitations.py) promises that
    a refused code answers the caller with one 401 "so that a guessed code learns nothing;
    the reason is in the audit trail for the organisation's admins". Neither holds: the codes
    differ (`invitation_used`, `invitation_superseded`, `invitation_expired` against
    `invitation_invalid`), and nothing is written to the trail, because the refusal raises
    inside the request's transaction and rolls back whatever would have been recorded. A code
    replayed after it was used (a leaked invitation link) leaves no trace for the lab."""
    from clearinghouse.audit.models import AuditEvent as Event

    coord = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    lab = client.post(
        "/api/v1/orgs", headers=coord.headers, json={"name": "Replayed Lab", "kind": "lab"}
    ).json()["id"]
    code = client.post(
        f"/api/v1/orgs/{lab}/invitations",
        headers=coord.headers,
        json={"email": "first@lab.example", "role": "admin"},
    ).json()["code"]
    assert client.post("/api/v1/invitations/accept", json={"code": code}).status_code == 201
    replay = client.post("/api/v1/invitations/accept", json={"code": code})
    assert replay.status_code == 401
    with world.services.db.transaction() as s:
        tags = s.scalars(select(Event.tag).where(Event.tag.like("accounts:invitation:%"))).all()
    assert len(tags) == 3, tags  # create, accept, and the refused replay
    assert replay.json()["code"] == "invitation_invalid", replay.json()


# --- 5. upgrading an existing SQLite instance to the fixed version ----------------------------


def test_an_sqlite_instance_with_users_upgrades_through_0006(tmp_path: Path) -> None:
    """BREAK (robustness, high for SQLite deployments). Migration 0006 changes the `users`
    table's email constraint with `op.batch_alter_table("users")`, which on SQLite copies the
    table and runs `DROP TABLE users`. The engine turns `PRAGMA foreign_keys=ON` on for every
    connection (storage/db.py), and `memberships` and `api_tokens` reference `users`, so on
    any instance that has a single user the upgrade fails with "FOREIGN KEY constraint
    failed" (storage/migrations/versions/0006_accounts_invitations.py). No existing SQLite
    deployment can install the fixes; the migration tests only upgraded databases without
    users."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from clearinghouse.accounts.models import Membership, Org, User
    from clearinghouse.storage import migrate
    from clearinghouse.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'deployed.db'}")
    try:
        migrate.upgrade(db, "0005")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        with db.engine.begin() as c:
            c.execute(
                insert(Org.__table__).values(
                    id="org_1", name="cert", kind="coordinator", created_at=now
                )
            )
            c.execute(
                insert(User.__table__).values(id="usr_1", email="a@cert.example", created_at=now)
            )
            c.execute(
                insert(Membership.__table__).values(
                    user_id="usr_1", org_id="org_1", role="admin", created_at=now
                )
            )
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head(db)
        with db.engine.begin() as c:
            assert c.execute(select(User.__table__.c.email)).scalars().all() == ["a@cert.example"]
    finally:
        db.dispose()


def test_an_sqlite_instance_with_eval_reports_upgrades_through_0007(tmp_path: Path) -> None:
    """BREAK (robustness, the sibling of the one above). Migration 0007 adds two foreign keys
    to `eval_runs` with `op.batch_alter_table("eval_runs")`: on SQLite that recreates the table
    and drops the old one, which `eval_vulnerability_reports.run_id` references. An instance
    whose runs ever harvested a vulnerability report cannot upgrade
    (storage/migrations/versions/0007_reference_models_and_eval_artefacts.py:46)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from clearinghouse.evals.models import EvalVulnerabilityReport
    from clearinghouse.storage import migrate
    from clearinghouse.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'deployed.db'}")
    try:
        migrate.upgrade(db, "0006")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        with db.engine.begin() as c:
            c.execute(
                insert(EvalRun.__table__).values(  # the 0006 columns only
                    id="run_1",
                    model_spec="openai-api/ref/m",
                    is_reference=True,
                    tasks=["ctf_generated"],
                    options={},
                    state="succeeded",
                    progress={},
                    config={},
                    results={},
                    tier={},
                    created_at=now,
                )
            )
            c.execute(
                insert(EvalVulnerabilityReport.__table__).values(
                    id="evr_1",
                    run_id="run_1",
                    task="ctf_generated",
                    sample_id="s",
                    epoch=1,
                    target="pkg:pypi/demo@1.0",
                    description="d",
                    poc="p",
                    transcript_excerpt="t",
                    source="eval",
                    created_at=now,
                )
            )
        migrate.upgrade(db)
        assert migrate.current(db) == migrate.head(db)
    finally:
        db.dispose()
