"""Web sessions are purged: the periodic `accounts.purge_web_sessions` job, run by a real
worker, deletes the rows of sessions that ended (absolute expiry, idle expiry, sign-out) more
than `PURGE_GRACE` ago and keeps live ones and those that ended within the grace; and an ended
session's cookie never signs anyone in, whether its row is still there or already purged."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from clearinghouse.accounts import web_sessions
from clearinghouse.accounts.models import OrgKind, Role, User, WebSession
from clearinghouse.accounts.tasks import PURGE_JOB
from clearinghouse.accounts.web_sessions import PURGE_GRACE
from clearinghouse.container import Services
from clearinghouse.core.clock import utcnow
from clearinghouse.storage import jobs
from clearinghouse.workers.runner import Worker
from tests.support.world import Member, World


def _open(services: Services, member: Member) -> tuple[str, str]:
    """A session of `member`: (its id, the cookie's secret)."""
    with services.db.transaction() as s:
        user = s.scalar(select(User).where(User.id == member.user_id))
        assert user is not None
        opened = web_sessions.open_session(s, user, services.settings, via="password")
    return opened.session_id, opened.secret


def _set(services: Services, session_id: str, **values: object) -> None:
    with services.db.transaction() as s:
        s.execute(update(WebSession).where(WebSession.id == session_id).values(**values))


def _ids(services: Services) -> set[str]:
    with services.db.reading() as s:
        return set(s.scalars(select(WebSession.id)))


def _signed_in(client: TestClient, secret: str) -> bool:
    client.cookies.set("ch_session", secret)
    try:
        r = client.get("/dashboard", follow_redirects=False)
    finally:
        client.cookies.clear()
    return r.status_code == 200


def _purge(services: Services) -> None:
    worker = Worker(services)
    worker.enqueue_periodic()
    stats = worker.run(until_idle=True)
    assert stats.kinds.get(PURGE_JOB) == 1


def test_ended_sessions_are_purged_after_the_grace_and_live_ones_stay(
    client: TestClient, services: Services, world: World
) -> None:
    assert PURGE_JOB in jobs.periodic_kinds()
    member = world.member(world.org(OrgKind.vendor), OrgKind.vendor, Role.member)
    idle = timedelta(minutes=services.settings.web_session_idle_minutes)
    long_ago = utcnow() - PURGE_GRACE - timedelta(hours=1)
    recently = utcnow() - PURGE_GRACE + timedelta(hours=1)
    live, live_secret = _open(services, member)
    expired, expired_secret = _open(services, member)
    _set(services, expired, expires_at=long_ago)
    idled, idled_secret = _open(services, member)
    _set(services, idled, last_seen_at=long_ago - idle)
    signed_out, signed_out_secret = _open(services, member)
    _set(services, signed_out, revoked_at=long_ago)
    in_grace, in_grace_secret = _open(services, member)
    _set(services, in_grace, expires_at=recently)
    idle_in_grace, _ = _open(services, member)
    _set(services, idle_in_grace, last_seen_at=recently - idle)
    ended = (expired_secret, idled_secret, signed_out_secret, in_grace_secret)

    # Before the purge the ended rows are there, and none of their cookies signs in.
    assert all(not _signed_in(client, secret) for secret in ended)
    assert _signed_in(client, live_secret)

    _purge(services)
    assert _ids(services) == {live, in_grace, idle_in_grace}
    # After it: still nobody signs in with an ended cookie, and the live session still works.
    assert all(not _signed_in(client, secret) for secret in ended)
    assert _signed_in(client, live_secret)
