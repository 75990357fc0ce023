"""Schemathesis on the validation and triage routes only, with more examples than the whole-API
run (tests/test_schemathesis.py) gives them: random archives, multipart bodies, override bodies
and queue pages, as a coordinator (who may use them all) and as the reporter of a real report
(whose recipe route parses the body): no 5xx, and every answer matches the OpenAPI document."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clearinghouse.accounts.models import OrgKind, Role
from tests.support.server import serving
from tests.support.world import World

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
ROUTES = r"^/api/v1/(reports/\{report_id\}/(recipe|validations|override)|triage/)"


@pytest.mark.slow
def test_the_validation_and_triage_routes_give_no_server_error(
    world: World, cli_env: dict[str, str], tmp_path: Path
) -> None:
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency; run `make setup`"
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    reporter = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    budget = os.environ.get("CLEARINGHOUSE_SCHEMATHESIS_SECONDS", "30")
    with serving(cli_env) as base:
        for who, member in (("coordinator", coordinator), ("reporter", reporter)):
            r = subprocess.run(
                [
                    st,
                    "run",
                    f"{base}/api/openapi.json",
                    "-H",
                    f"Authorization: Bearer {member.token}",
                    "--checks",
                    CHECKS,
                    "--include-path-regex",
                    ROUTES,
                    "-n",
                    "60",
                    "--max-time",
                    budget,
                    "--seed",
                    "20261130",
                    "--warnings",
                    "off",
                    "--report-dir",
                    str(tmp_path / who),
                ],
                capture_output=True,
                text=True,
                timeout=int(budget) + 120,
            )
            assert r.returncode == 0, f"schemathesis as {who}:\n{r.stdout[-6000:]}"
            assert "generated" in r.stdout
            # the five operations: recipe, validations, override, queue, spot-checks
            assert "Tested: 5" in r.stdout, r.stdout[-3000:]
