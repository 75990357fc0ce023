"""`make demo`, the web interface (issue 16): every person the demo created gets a sign-in
password (`clearinghouse users set-password --password-stdin`, with their own token), and the
demo prints the URL of the served UI, which holds the demo's data, with how to sign in as each
role. `make demo SERVE=1` keeps the server running afterwards (Ctrl-C stops it)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import httpx


def web_part(  # type: ignore[no-untyped-def]
    step: Callable[[str], None],
    call,
    cli_argv: Sequence[str],
    env: dict[str, str],
    base: str,
    people: list[tuple[str, str, str]],  # (role, e-mail, token)
) -> list[tuple[str, str, str]]:
    step("The web interface: each person gets a password; the pages hold the demo's data")
    accounts = []
    for role, email, token in people:
        users = call("GET", "/api/v1/users", token=token)["items"]
        user = next(u for u in users if u["email"] == email)
        password = "demo-" + secrets.token_urlsafe(9)
        done = subprocess.run(
            [*cli_argv, "users", "set-password", user["id"], "--password-stdin"],
            input=password + "\n",
            env={**env, "CLEARINGHOUSE_TOKEN": token},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"set-password for {email}: {done.stderr[-1000:]}")
        accounts.append((role, email, password))
    # One real sign-in through the form, as a browser does (CSRF token, session cookie).
    role, email, password = accounts[0]
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as browser:
        form = browser.get("/sign-in")
        token = _field(form.text, "csrf_token")
        signed = browser.post(
            "/sign-in", data={"email": email, "password": password, "csrf_token": token}
        )
        dashboard = browser.get("/dashboard")
    if signed.status_code != 303 or dashboard.status_code != 200:
        raise SystemExit(f"sign-in as {email}: {signed.status_code}, {dashboard.status_code}")
    print(f"signed in through the form as {email} ({role}): /dashboard answers 200")
    return accounts


def _field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def print_accounts(base: str, accounts: list[tuple[str, str, str]]) -> None:
    print(f"\nThe web interface: {base}/  (sign in at {base}/sign-in)")
    width = max(len(e) for _, e, _ in accounts)
    for role, email, password in accounts:
        print(f"  {role:<22} {email:<{width}}  {password}")
    print(
        f"  public pages: {base}/advisories, the OSV API {base}/v1/, the CSAF provider "
        f"{base}/.well-known/csaf/provider-metadata.json, TAXII {base}/taxii2/"
    )


def serve_until_interrupted(api: subprocess.Popen[Any]) -> None:
    print("\nSERVE=1: the server keeps running with the demo's data; Ctrl-C stops it.")
    try:
        api.wait()
    except KeyboardInterrupt:
        pass
