"""The people of the fix-verification and bundle tests (tests/coordination/test_fixes.py,
test_bundle.py): a case's reporter, vendor and sharing group, each with the roles the policy
tells apart, and outsiders."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from clearinghouse.accounts.models import OrgKind, Role
from tests.support.world import Member, World


class Cast:
    def __init__(self, world: World) -> None:
        def m(kind: OrgKind, role: Role = Role.member, org: str | None = None) -> Member:
            return world.member(org or world.org(kind), kind, role)

        self.coordinator = m(OrgKind.coordinator)
        self.coordinator_viewer = m(OrgKind.coordinator, Role.viewer, self.coordinator.org_id)
        self.reporter = m(OrgKind.lab)
        self.reporter_admin = m(OrgKind.lab, Role.admin, self.reporter.org_id)
        self.vendor = m(OrgKind.vendor)
        self.vendor_admin = m(OrgKind.vendor, Role.admin, self.vendor.org_id)
        self.vendor_viewer = m(OrgKind.vendor, Role.viewer, self.vendor.org_id)
        self.other_vendor = m(OrgKind.vendor, Role.admin)  # a vendor, not of this case
        self.operator = m(OrgKind.operator, Role.admin)  # the case's sharing group


def post(client: TestClient, who: Member, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, headers=who.headers, json=body)
