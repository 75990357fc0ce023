"""Helpers of the inventory tests: an operator with an asset, SBOMs built by hand, jobs run."""

from __future__ import annotations

import json
from typing import Any

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.container import Services
from clearinghouse.inventory import assets
from clearinghouse.inventory.schemas import AssetCreate
from clearinghouse.workers.runner import Worker
from tests.support.world import Member, World


def operator_with_asset(world: World) -> tuple[Member, str]:
    org = world.org(OrgKind.operator)
    member = world.member(org, OrgKind.operator, Role.member)
    with world.services.db.transaction() as s:
        body = AssetCreate.model_validate(
            {"org_id": org, "name": "plant", "sector": "energy", "criticality": "high"}
        )
        return member, assets.create_asset(s, Principal.system(), body).id


def cyclonedx(*purls: str | None, version: str = "1.5") -> bytes:
    components: list[dict[str, Any]] = []
    for n, purl in enumerate(purls):
        c: dict[str, Any] = {"type": "library", "name": f"c{n}", "version": "1", "bom-ref": f"r{n}"}
        if purl:
            c["purl"] = purl
        components.append(c)
    return json.dumps(
        {"bomFormat": "CycloneDX", "specVersion": version, "version": 1, "components": components}
    ).encode()


def drain(services: Services, rounds: int = 50) -> None:
    worker = Worker(services)
    for _ in range(rounds):
        if not worker.run_once():
            return
