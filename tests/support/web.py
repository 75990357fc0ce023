"""Helpers for the web interface's tests: a user's password, the CSRF token of a page, and a
TestClient signed in through the real sign-in form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import User
from clearinghouse.accounts.policy import Principal
from clearinghouse.accounts.web_sessions import set_password
from clearinghouse.container import Services
from tests.support.world import Member

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has a form with its CSRF token"
    return match.group(1)


def email_of(services: Services, user_id: str) -> str:
    with services.db.reading() as s:
        email = s.scalar(select(User.email).where(User.id == user_id))
    assert email
    return email


def give_password(services: Services, member: Member, password: str = PASSWORD) -> str:
    """Set the member's password; return their e-mail."""
    with services.db.transaction() as s:
        set_password(s, Principal.system(), member.user_id, password)
    return email_of(services, member.user_id)


def sign_in(
    client: TestClient,
    services: Services,
    member: Member,
    *,
    password: str = PASSWORD,
    org: str = "",
) -> TestClient:
    """Sign `client` in as `member` through the sign-in form (the password is set first)."""
    email = give_password(services, member, password)
    form = client.get("/sign-in")
    r = client.post(
        "/sign-in",
        data={
            "email": email,
            "password": password,
            "organisation": org,
            "csrf_token": csrf_of(form.text),
            "next": "/dashboard",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def signed_in_client(services: Services, member: Member) -> TestClient:
    """A new browser (its own cookie jar) signed in as `member`. Close it after use."""
    from clearinghouse.api.app import create_app

    client = TestClient(create_app(services), raise_server_exceptions=False)
    client.__enter__()
    return sign_in(client, services, member)
