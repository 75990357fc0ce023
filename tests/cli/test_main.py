"""The command line: bootstrap, --json output, and readable errors with non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys

from clearinghouse.container import Services


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearinghouse", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )


def test_bootstrap_then_drive_the_program(
    cli_env: dict[str, str], services: Services, tmp_path
) -> None:
    r = cli(cli_env, "admin", "bootstrap", "--json")
    assert r.returncode == 0, r.stderr
    boot = json.loads(r.stdout)
    assert set(boot) == {"org_id", "user_id", "token"} and boot["token"].startswith("chk_")
    again = cli(cli_env, "admin", "bootstrap", "--json")
    assert again.returncode == 1 and "already_bootstrapped" in again.stderr

    env = {**cli_env, "CLEARINGHOUSE_TOKEN": boot["token"]}
    lab = json.loads(cli(env, "orgs", "create", "Lab One", "--kind", "lab", "--json").stdout)
    ev = json.loads(cli(env, "orgs", "create", "Agency", "--kind", "evaluator", "--json").stdout)
    # The coordinator may not create the lab's users or mint their tokens: it invites the
    # lab's first admin, who redeems the one-time code for their own token.
    refused = cli(env, "users", "create", "--org", lab["id"], "--email", "l@lab.org", "--json")
    assert refused.returncode == 1 and "permission_denied" in refused.stderr
    invite = json.loads(
        cli(
            env,
            "invitations",
            "create",
            "--org",
            lab["id"],
            "--email",
            "l@lab.org",
            "--role",
            "admin",
            "--json",
        ).stdout
    )
    accepted = cli(
        {**cli_env, "CLEARINGHOUSE_INVITATION_CODE": invite["code"]},
        "invitations",
        "accept",
        "--json",
    )
    assert accepted.returncode == 0, accepted.stderr
    lab_token = json.loads(accepted.stdout)["token"]
    agr = json.loads(
        cli(
            env,
            "agreements",
            "create",
            "--lab",
            lab["id"],
            "--scope",
            "cyber",
            "--terms",
            "t",
            "--json",
        ).stdout
    )
    lab_env = {**cli_env, "CLEARINGHOUSE_TOKEN": lab_token}
    r = cli(
        lab_env,
        "submissions",
        "create",
        "--agreement",
        agr["id"],
        "--model",
        "m",
        "--version",
        "1",
        "--release",
        "2099-01-01",
        "--evaluator",
        ev["id"],
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--api-key-file",
        "-",
        "--json",
        stdin="sk-from-stdin-0123456789\n",
    )
    assert r.returncode == 0, r.stderr
    sub = json.loads(r.stdout)
    assert sub["state"] == "submitted" and sub["access"]["api_key_hint"] == "…6789"
    assert sub["planned_release_at"] == "2099-01-01T00:00:00Z"
    listed = json.loads(cli(lab_env, "submissions", "list", "--json").stdout)
    assert [s["id"] for s in listed["items"]] == [sub["id"]]
    table = cli(lab_env, "submissions", "list")
    assert table.returncode == 0 and "submitted" in table.stdout
    shown = json.loads(cli(lab_env, "submissions", "show", sub["id"], "--json").stdout)
    assert shown["deadline"] is None

    # Errors: readable, with the code, non-zero exit, and nothing on stdout.
    bad = cli(lab_env, "submissions", "transition", sub["id"], "--to", "closed")
    assert bad.returncode == 1 and "illegal_transition" in bad.stderr and bad.stdout == ""
    unreachable = cli(lab_env, "submissions", "verify-access", sub["id"])
    assert unreachable.returncode == 1 and "endpoint_unreachable" in unreachable.stderr
    assert "sk-from-stdin" not in unreachable.stderr
    missing = cli(cli_env, "orgs", "list")
    assert missing.returncode == 1 and "unauthenticated" in missing.stderr
    usage = cli(env, "orgs", "create", "X", "--kind", "wizard")
    assert usage.returncode == 2

    verify = json.loads(cli(cli_env, "audit", "verify", "--json").stdout)
    assert verify["ok"] is True and verify["events"] > 5
    jobs = cli(env, "jobs", "list", "--json")
    assert jobs.returncode == 0 and json.loads(jobs.stdout)["items"] == []
    db = json.loads(cli(cli_env, "db", "current", "--json").stdout)
    assert db["revision"] == db["head"]


def test_python_dash_m_and_help(cli_env: dict[str, str]) -> None:
    r = cli(cli_env, "--help")
    assert r.returncode == 0
    for group in (
        "admin",
        "agreements",
        "submissions",
        "audit",
        "keys",
        "worker",
        "serve",
        "model",
    ):
        assert group in r.stdout
