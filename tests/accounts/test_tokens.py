"""Token listings: each caller lists its own tokens, an organisation admin included."""

from __future__ import annotations

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from tests.support.world import World


def test_an_admin_lists_only_its_own_tokens_not_its_members(
    client: TestClient, world: World
) -> None:
    org = world.org(OrgKind.lab)
    admin = world.member(org, OrgKind.lab, Role.admin)
    member = world.member(org, OrgKind.lab, Role.member)
    listed = client.get("/api/v1/tokens", headers=admin.headers)
    assert listed.status_code == 200
    owners = {t["user_id"] for t in listed.json()["items"]}
    assert owners == {admin.user_id}
    mine = client.get("/api/v1/tokens", headers=member.headers).json()["items"]
    assert {t["user_id"] for t in mine} == {member.user_id}
