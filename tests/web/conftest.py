"""Fixtures of the browser tests: the real server on a free loopback port over the test
database, and headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never
`playwright install`). Without Chromium the browser tests skip with "not installed", which
CI=true turns into a failure (tests/conftest.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.container import Services
from tests.conftest import REPO
from tests.support.server import serving
from tests.support.web import PASSWORD, give_password
from tests.support.world import Member

CHROMIUM = Path("/usr/bin/chromium")
BLOCKING = {"serious", "critical"}


def artifacts_dir() -> Path:
    root = os.environ.get("CLEARINGHOUSE_TEST_ARTIFACTS")
    path = Path(root) / "screenshots" if root else REPO / "var" / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (scripts/setup.sh installs it)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(cli_env: dict[str, str]) -> Iterator[str]:
    """`clearinghouse serve` on 127.0.0.1 and a free port, over this test's database."""
    with serving(cli_env, start_timeout=120) as base:  # a loaded CI machine starts slowly
        yield base


class Pages:
    """One browser context (its own cookies) on the live server, checking every page it visits
    with axe-core (serious and critical violations fail) and saving named screenshots."""

    def __init__(self, browser: Any, base: str, test: str) -> None:
        self.context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test)
        self.checked: list[str] = []

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        self.check()
        return response

    def check(self) -> None:
        """axe-core on the page as it is now."""
        from axe_playwright_python.sync_playwright import Axe

        self.page.wait_for_load_state("load")
        results = Axe().run(self.page)
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v.get("impact") in BLOCKING
        ]
        assert bad == [], f"axe on {self.page.url}: {bad}"
        self.checked.append(self.page.url)

    def shot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def sign_in(self, services: Services, member: Member) -> None:
        email = give_password(services, member)
        self.goto("/sign-in")
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/dashboard**")
        self.check()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def pages(browser: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    opened: list[Pages] = []

    def new() -> Pages:
        p = Pages(browser, live_server, request.node.name)
        opened.append(p)
        return p

    yield new
    for p in opened:
        p.close()
