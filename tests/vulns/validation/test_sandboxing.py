"""What a recipe runs, it runs in the sandbox: hostile recipes (network, writes outside the
workdir, a fork bomb) get a verdict and leave no trace on the host, and a sandbox that does not
work is the verdict `error`, never `not_reproduced`."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearinghouse.vulns.validation.runner import Validator
from clearinghouse.vulns.validation.schemas import FixedVerdict, Verdict
from tests.support.needs import needs_bwrap, needs_gcc
from tests.vulns.validation.conftest import DATA, EXAMPLES

pytestmark = needs_bwrap


def _recipe(name: str, tmp_path: Path, **fill: str) -> Path:
    """A copy of a data recipe with its @PLACEHOLDERS@ filled in."""
    copy = tmp_path / name
    shutil.copytree(DATA / name, copy)
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".sh", ".toml"):
            text = path.read_text()
            for key, value in fill.items():
                text = text.replace(f"@{key}@", value)
            path.write_text(text)
    return copy


@pytest.fixture
def host_listener() -> Iterator[tuple[int, list[bool]]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    accepted: list[bool] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(True)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], accepted
    stop.set()
    thread.join()
    srv.close()


def test_a_recipe_that_tries_the_network_reaches_nothing(
    offline_validator: Validator, tmp_path: Path, host_listener: tuple[int, list[bool]]
) -> None:
    port, accepted = host_listener
    recipe = _recipe("hostile-network", tmp_path, PORT=str(port))
    # The same PoC on the host does reach the listener: the test can see a connection.
    probe = subprocess.run(
        ["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"],
        capture_output=True,
    )
    assert probe.returncode == 0
    deadline = time.monotonic() + 5
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert accepted == [True]
    accepted.clear()

    result = offline_validator.validate(recipe)
    assert result.verdict is Verdict.not_reproduced, result.evidence
    assert "NETWORK REACHED" not in result.evidence
    assert "loopback:" in result.evidence and "dns:" in result.evidence
    time.sleep(0.5)
    assert accepted == []


def test_a_recipe_that_writes_outside_its_workdir_changes_nothing(
    offline_validator: Validator, tmp_path: Path
) -> None:
    canary = f"ch-canary-{secrets.token_hex(6)}"
    recipe = _recipe("hostile-write", tmp_path, CANARY=canary)
    result = offline_validator.validate(recipe)
    assert result.verdict is Verdict.not_reproduced, result.evidence
    assert "refused /etc/" in result.evidence and "refused /proc/1/root/etc/" in result.evidence
    assert f"private /tmp/{canary}" in result.evidence  # the sandbox's own, not the host's
    for directory in ("/etc", "/usr", "/var/tmp", "/root", "/", "/tmp", "/sys", "/home", "/work"):
        assert not (Path(directory) / canary).exists(), directory
    assert not list(tmp_path.rglob(f"*{canary}*"))  # nor in the cache or the recipe


def _sleepers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return found.stdout.split()


def test_a_fork_bomb_is_contained_and_nothing_outlives_the_validation(
    offline_validator: Validator, tmp_path: Path
) -> None:
    # A duration no other process uses, so that concurrent tests cannot see each other's.
    marker = f"300.{secrets.randbelow(10**9):09d}"
    recipe = _recipe("hostile-forkbomb", tmp_path, MARKER=marker)
    started = time.monotonic()
    result = offline_validator.validate(recipe)
    assert time.monotonic() - started < 90
    # The shell dies when a fork fails (or is killed for time): a verdict either way.
    assert result.verdict is Verdict.not_reproduced, result.evidence
    assert result.exit_code != 0
    assert _sleepers(marker) == []  # the sleepers it did start were killed with the sandbox


@pytest.fixture
def fake_bwrap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory put first on PATH; a test writes a `bwrap` into it. World-readable, so that
    the sandbox's unprivileged user (as root, commands drop to one) really runs the fake."""
    bin_dir = Path(tempfile.mkdtemp(prefix="ch-fake-bwrap-"))
    bin_dir.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    yield bin_dir / "bwrap"
    shutil.rmtree(bin_dir)


BROKEN = {
    "exits-1": "#!/bin/sh\nexit 1\n",
    "bwrap-error": "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    # Runs nothing and says nothing: without the liveness check this looked like a PoC that
    # ran and did not reproduce.
    "runs-nothing": "#!/bin/sh\nexit 0\n",
}


@needs_gcc
@pytest.mark.parametrize("script", sorted(BROKEN))
def test_a_broken_sandbox_is_an_error_never_not_reproduced(
    script: str, fake_bwrap: Path, offline_validator: Validator, tmp_path: Path
) -> None:
    fake_bwrap.write_text(BROKEN[script])
    fake_bwrap.chmod(0o755)
    for recipe in (EXAMPLES / "c-heap-overflow", DATA / "plain-python"):  # build, or run only
        result = offline_validator.validate(recipe)
        assert result.verdict is Verdict.error, (recipe.name, result.evidence)
        assert result.error_code == "sandbox_broken"
        assert result.fixed_verdict is FixedVerdict.not_run
    assert not (tmp_path / "cache" / "builds").exists() or not [
        p for p in (tmp_path / "cache" / "builds").iterdir() if not p.name.startswith(".")
    ]


def test_no_bubblewrap_is_an_error(
    offline_validator: Validator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = offline_validator.validate(DATA / "plain-python")
    assert (result.verdict, result.error_code) == (Verdict.error, "bwrap_missing")


def test_the_plain_recipe_reproduces_with_a_working_sandbox(offline_validator: Validator) -> None:
    """The control for the broken-sandbox tests: the same recipe, the real bubblewrap."""
    result = offline_validator.validate(DATA / "plain-python")
    assert (result.verdict, result.crash_type) == (Verdict.reproduced, "ValueError")
    assert result.build_cached is None  # nothing to build
    assert result.fixed_verdict is FixedVerdict.not_run


def test_an_invented_report_that_prints_its_own_crash_still_reproduces_on_the_fix(
    offline_validator: Validator,
) -> None:
    """The run command is the reporter's, so it can print a sanitizer report without running
    the target. The fixed source exposes it: the "crash" survives the fix."""
    result = offline_validator.validate(DATA / "forged-report")
    assert result.verdict is Verdict.reproduced
    assert result.fixed_verdict is FixedVerdict.still_reproduces
    assert result.signature == result.fixed_signature == "heap-buffer-overflow@parse_header|main"


def test_a_catastrophic_stdout_regex_is_an_error_not_a_hang(
    offline_validator: Validator, tmp_path: Path
) -> None:
    """The pattern and the output are both the reporter's: `(a+)+$` on a long run of a's ending
    in b backtracks for ages. The search is cut off and the verdict says why."""
    recipe = _recipe("plain-python", tmp_path)
    (recipe / "recipe.toml").write_text(
        '[target]\nsource = "src"\n'
        "run = \"python3 -c 'print(64 * chr(97) + chr(98))' {poc}\"\n"
        '[poc]\nfile = "input.txt"\nexpect = "stdout-regex:(a+)+$"\n'
    )
    started = time.monotonic()
    result = offline_validator.validate(recipe)
    assert time.monotonic() - started < 60
    assert (result.verdict, result.error_code) == (Verdict.error, "expect_undecidable")
