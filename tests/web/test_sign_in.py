"""Web sign-in: passwords (argon2id), sessions (only hashes stored), cookie flags, CSRF on every
form, expiry, revocation, the rate limit and the invitation page. Each test plays the
attacker: a wrong or guessed password, a replayed cookie, a forged form, a hostile `next`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from datetime import timedelta
from subprocess import CompletedProcess

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from clearinghouse.accounts.invitations import create_invitation
from clearinghouse.accounts.models import OrgKind, Role, Scope, User, WebSession
from clearinghouse.accounts.passwords import check_password, hash_password
from clearinghouse.accounts.schemas import InvitationCreate
from clearinghouse.accounts.tokens import authenticate, hash_secret
from clearinghouse.accounts.web_sessions import resolve
from clearinghouse.api.app import create_app
from clearinghouse.audit.models import AuditEvent
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.core.config import Environment, Settings
from clearinghouse.core.errors import ConfigurationError
from clearinghouse.core.events import AuditTag
from tests.support.web import PASSWORD, csrf_of, email_of, give_password, sign_in
from tests.support.world import World


def _post_sign_in(
    client: TestClient, email: str, password: str, org: str = "", next_path: str = "/dashboard"
) -> httpx.Response:
    token = csrf_of(client.get("/sign-in").text)
    return client.post(
        "/sign-in",
        data={
            "email": email,
            "password": password,
            "organisation": org,
            "csrf_token": token,
            "next": next_path,
        },
        follow_redirects=False,
    )


def _events(services: Services, tag: AuditTag) -> list[tuple[str | None, str | None, str]]:
    """(subject id, acting user id, data as text) of each event tagged `tag`, in order."""
    with services.db.reading() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.tag == str(tag)).order_by(AuditEvent.seq)
        )
        return [(e.subject_id, e.actor_user_id, str(e.data)) for e in rows]


def test_a_password_signs_in_with_a_hardened_cookie_and_the_session_is_stored_hashed(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    r = _post_sign_in(client, email, PASSWORD, next_path="/dashboard?x=1")
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard?x=1")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("ch_session=")  # insecure dev name: the test server is http
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    secret = client.cookies["ch_session"]
    with services.db.reading() as s:
        row = s.scalar(select(WebSession))
        user = s.get(User, lab.user_id)
        assert row is not None and user is not None
        assert row.secret_hash == hash_secret(secret)
        assert secret not in str([getattr(row, c.key) for c in WebSession.__table__.columns])
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    assert client.get("/dashboard").status_code == 200
    assert _events(services, AuditTag.ACCOUNTS_SIGNIN)[0][1] == lab.user_id


def test_over_https_the_cookie_is_host_prefixed_and_secure(
    services: Services, world: World
) -> None:
    settings = services.settings.model_copy(update={"web_insecure_cookies": False})
    secure = dataclasses.replace(services, settings=settings)  # type: ignore[type-var]
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    with TestClient(create_app(secure), base_url="https://testserver") as c:
        r = _post_sign_in(c, email, PASSWORD)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-ch_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie


def test_production_refuses_insecure_cookies(tmp_path: object, master_key: str) -> None:
    settings = Settings(
        env=Environment.production,
        master_key=master_key,
        database_url="sqlite:///x.db",
        web_insecure_cookies=True,
    )  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="INSECURE_COOKIES"):
        settings.check_production()
    assert Settings(env=Environment.production).web_cookie_secure


def test_a_wrong_password_and_an_unknown_email_are_refused_alike_and_audited(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    wrong = _post_sign_in(client, email, "not the password at all")
    unknown = _post_sign_in(client, "nobody@example.org", PASSWORD)
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert "ch_session" not in r.headers.get("set-cookie", "")
    # the same message: the page does not say whether the e-mail exists
    assert "is wrong" in wrong.text and "is wrong" in unknown.text
    failed = _events(services, AuditTag.ACCOUNTS_SIGNIN_FAIL)
    assert [e[0] for e in failed] == [lab.user_id, None]
    assert all(PASSWORD not in e[2] for e in failed)
    assert client.get("/dashboard", follow_redirects=False).status_code == 303


def test_repeated_failures_are_throttled_even_for_the_right_password(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    for _ in range(services.settings.web_login_max_failures):
        assert _post_sign_in(client, email, "a wrong guess, again").status_code == 401
    r = _post_sign_in(client, email, PASSWORD)
    assert r.status_code == 429
    assert "ch_session" not in client.cookies
    # another e-mail from the same address is not locked out by these failures
    other = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    assert _post_sign_in(client, give_password(services, other), PASSWORD).status_code == 303


def test_an_email_in_two_organisations_must_name_its_organisation(
    client: TestClient, services: Services, world: World
) -> None:
    one = world.member(world.org(OrgKind.lab, "Lab One"), OrgKind.lab, Role.member)
    two = world.member(world.org(OrgKind.vendor, "Vendor Two"), OrgKind.vendor, Role.member)
    with services.db.transaction() as s:
        s.execute(update(User).where(User.id == two.user_id).values(email=f"X{two.user_id}@e.org"))
        s.execute(update(User).where(User.id == one.user_id).values(email=f"x{two.user_id}@e.org"))
    give_password(services, one)
    give_password(services, two, "the vendor's own passphrase")
    email = f"x{two.user_id}@e.org"
    r = _post_sign_in(client, email, PASSWORD)
    assert r.status_code == 401 and "several organisations" in r.text
    # the vendor's password with the lab's name does not sign in as either
    assert (
        _post_sign_in(client, email, "the vendor's own passphrase", org="Lab One").status_code
        == 401
    )
    r = _post_sign_in(client, email, PASSWORD, org="lab one")
    assert r.status_code == 303
    with services.db.reading() as s:
        assert s.scalar(select(WebSession.user_id)) == one.user_id


def test_the_session_is_the_principal_a_read_write_token_of_that_user_would_be(
    client: TestClient, services: Services, world: World
) -> None:
    ev = world.member(world.org(OrgKind.evaluator), OrgKind.evaluator, Role.admin)
    sign_in(client, services, ev)
    with services.db.transaction() as s:
        web = resolve(s, client.cookies["ch_session"], services.settings).principal
        api = authenticate(s, ev.token)
    assert (web.user_id, web.org_id, web.org_kind, web.role) == (
        api.user_id,
        api.org_id,
        api.org_kind,
        api.role,
    )
    assert web.scopes == {Scope.read, Scope.write} and not web.is_system


def test_sign_out_revokes_the_session_and_the_old_cookie_no_longer_works(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    sign_in(client, services, lab)
    stolen = client.cookies["ch_session"]
    token = csrf_of(client.get("/dashboard").text)
    r = client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/")
    client.cookies.clear()
    client.cookies.set("ch_session", stolen)  # the attacker replays the copied cookie
    assert client.get("/dashboard", follow_redirects=False).status_code == 303
    assert _events(services, AuditTag.ACCOUNTS_SIGNOUT)


@pytest.mark.parametrize("expiry", ["idle", "absolute", "disabled"])
def test_an_expired_session_or_a_disabled_user_is_sent_to_sign_in(
    client: TestClient, services: Services, world: World, expiry: str
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    sign_in(client, services, lab)
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    now = utcnow()
    with services.db.transaction() as s:
        if expiry == "idle":
            idle = timedelta(minutes=services.settings.web_session_idle_minutes, seconds=1)
            s.execute(update(WebSession).values(last_seen_at=now - idle))
        elif expiry == "absolute":
            s.execute(update(WebSession).values(expires_at=now - timedelta(seconds=1)))
        else:
            s.execute(update(User).where(User.id == lab.user_id).values(disabled_at=now))
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


@pytest.mark.parametrize("forged", ["missing", "wrong", "another browser's"])
def test_a_form_without_its_csrf_token_is_rejected(
    client: TestClient, services: Services, world: World, forged: str
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    data = {"email": email, "password": PASSWORD}
    if forged == "wrong":
        data["csrf_token"] = "0" * 64
    elif forged == "another browser's":
        with TestClient(create_app(services)) as other:
            data["csrf_token"] = csrf_of(other.get("/sign-in").text)
    client.get("/sign-in")  # this browser has its own CSRF cookie
    r = client.post("/sign-in", data=data, follow_redirects=False)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "ch_session" not in client.cookies
    # and signed in, the sign-out form is refused without its token (the session stays)
    sign_in(client, services, lab)
    r = client.post("/sign-out", data={"csrf_token": "x" * 64}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/dashboard", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    "hostile", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_site(
    client: TestClient, services: Services, world: World, hostile: str
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    r = _post_sign_in(client, give_password(services, lab), PASSWORD, next_path=hostile)
    assert r.status_code == 303 and r.headers["location"].startswith("/dashboard")


def test_a_hash_with_old_parameters_is_rehashed_at_sign_in(
    client: TestClient, services: Services, world: World
) -> None:
    lab = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.member)
    email = give_password(services, lab)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash(PASSWORD)
    with services.db.transaction() as s:
        s.execute(update(User).where(User.id == lab.user_id).values(password_hash=weak))
    assert _post_sign_in(client, email, PASSWORD).status_code == 303
    with services.db.reading() as s:
        stored = s.scalar(select(User.password_hash).where(User.id == lab.user_id))
    assert stored != weak and not PasswordHasher().check_needs_rehash(stored or "")


def test_accepting_an_invitation_sets_the_password_and_signs_in_once(
    client: TestClient, services: Services, world: World
) -> None:
    org = world.org(OrgKind.vendor)
    admin = world.member(org, OrgKind.vendor, Role.admin)
    with services.db.transaction() as s:
        issued = create_invitation(
            s,
            authenticate(s, admin.token),
            org,
            InvitationCreate(email="new.person@example.org", role=Role.member),
        )
    page = client.get(f"/invitations/accept?code={issued.code}")
    assert issued.code in page.text
    form = {"code": issued.code, "password": "short", "confirm": "short"}
    r = client.post("/invitations/accept", data={**form, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "12" in r.text  # too short: nothing was accepted
    form.update(password=PASSWORD, confirm=PASSWORD)
    r = client.post(
        "/invitations/accept",
        data={**form, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "ch_session" in client.cookies
    assert client.get("/dashboard").status_code == 200
    # the code works once; signing in with the new password works from another browser
    with TestClient(create_app(services)) as other:
        again = other.get("/invitations/accept")
        r = other.post("/invitations/accept", data={**form, "csrf_token": csrf_of(again.text)})
        assert r.status_code == 422 and "not valid" in r.text
        assert _post_sign_in(other, "new.person@example.org", PASSWORD).status_code == 303


def _set_password(
    cli_env: dict[str, str], user_id: str, password: str, token: str
) -> CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "clearinghouse",
            "users",
            "set-password",
            user_id,
            "--password-stdin",
        ],
        input=password + "\n",
        env={**cli_env, "CLEARINGHOUSE_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_sets_ones_own_or_a_members_password_and_nobody_elses(
    services: Services, world: World, cli_env: dict[str, str]
) -> None:
    org = world.org(OrgKind.lab)
    lab = world.member(org, OrgKind.lab, Role.member)
    admin = world.member(org, OrgKind.lab, Role.admin)
    run = _set_password(cli_env, lab.user_id, PASSWORD, lab.token)  # one's own
    assert run.returncode == 0, run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    with TestClient(create_app(services)) as c:
        assert _post_sign_in(c, email_of(services, lab.user_id), PASSWORD).status_code == 303
    short = _set_password(cli_env, lab.user_id, "short", lab.token)
    assert short.returncode == 1 and "password_invalid" in short.stderr
    assert _set_password(cli_env, lab.user_id, PASSWORD + "!", admin.token).returncode == 0
    # the adversaries: another organisation's admin, a coordinator admin, a fellow member
    other_admin = world.member(world.org(OrgKind.lab), OrgKind.lab, Role.admin)
    coordinator = world.member(world.org(OrgKind.coordinator), OrgKind.coordinator, Role.admin)
    fellow = world.member(org, OrgKind.lab, Role.member)
    for who in (other_admin, coordinator, fellow):
        refused = _set_password(cli_env, lab.user_id, "an attacker's passphrase", who.token)
        assert refused.returncode == 1, who
    with TestClient(create_app(services)) as c:
        email = email_of(services, lab.user_id)
        assert _post_sign_in(c, email, "an attacker's passphrase").status_code == 401
        assert _post_sign_in(c, email, PASSWORD + "!").status_code == 303


def test_an_unknown_user_costs_a_full_password_check() -> None:
    """No user enumeration by timing: `check_password(None, ...)` verifies against a dummy
    argon2 hash. (A loose bound, a third of a real check, so that a loaded machine passes; a
    shortcut that skipped the hash would take microseconds, thousands of times less.)"""
    stored = hash_password(PASSWORD)

    def cost(stored_hash: str | None) -> float:
        started = time.perf_counter()
        for _ in range(3):
            assert check_password(stored_hash, "a wrong guess here")[0] is False
        return time.perf_counter() - started

    assert cost(None) > cost(stored) / 3
