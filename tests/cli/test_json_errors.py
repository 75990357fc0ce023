"""With `--json`, a failing command prints one JSON object on stderr carrying the same stable
machine `code` as the API's problem+json (scripts branch on it); without it, readable text.
Stdout stays empty either way, so a script reading it never parses an error as a result."""

from __future__ import annotations

import json
import subprocess
import sys

from clearinghouse.accounts.models import OrgKind, Role
from tests.support.world import World


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearinghouse", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_errors_are_json_with_their_code_under_json(world: World, cli_env: dict[str, str]) -> None:
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.member)
    env = {**cli_env, "CLEARINGHOUSE_TOKEN": coordinator.token}
    missing = _cli(env, "cases", "show", "case_nope", "--json")
    assert missing.returncode == 1 and missing.stdout == ""
    error = json.loads(missing.stderr)["error"]
    assert error["code"] == "not_found" and error["status"] == 404, error
    bad = _cli(env, "cases", "create", "CH-2026-99999", "--title", "x", "--json")
    assert bad.returncode == 1 and bad.stdout == ""
    assert json.loads(bad.stderr)["error"]["code"] == "invalid_input", bad.stderr
    anonymous = _cli(cli_env, "cases", "list", "--json")
    assert json.loads(anonymous.stderr)["error"]["code"] == "unauthenticated"
    text = _cli(env, "cases", "show", "case_nope")
    assert text.returncode == 1 and "[not_found]" in text.stderr
    assert not text.stderr.lstrip().startswith("{")
