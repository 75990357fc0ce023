"""The case rules of `accounts.policy`, pure: every item kind, every clearance, and the item
list scope agreeing with `can_see` one by one (the SQL side runs in test_cases_api.py)."""

from __future__ import annotations

import pytest

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import (
    TLP_ORDER,
    ListScope,
    Principal,
    Target,
    can_see,
    case_item_scope,
    case_view,
)

PARTIES = frozenset(
    {
        ("org_vd", "vendor"),
        ("org_lab", "reporter"),
        ("org_co", "coordinator"),
        ("org_op", "operator_group"),
    }
)
CASE = Target("case", "case_1", case_parties=PARTIES)
PRINCIPALS = {
    "vendor": Principal("u1", "org_vd", OrgKind.vendor, Role.viewer),
    "reporter": Principal("u2", "org_lab", OrgKind.lab, Role.admin),
    "coordinator": Principal("u3", "org_co", OrgKind.coordinator, Role.viewer),
    "other_coordinator": Principal("u4", "org_co2", OrgKind.coordinator, Role.admin),
    "operator": Principal("u5", "org_op", OrgKind.operator, Role.admin),
    "outside_operator": Principal("u6", "org_op2", OrgKind.operator, Role.admin),
    "other_vendor": Principal("u7", "org_vd2", OrgKind.vendor, Role.admin),
    "no_org": Principal(None, None, None, None),
}
ITEMS = [
    Target(
        kind,
        f"{kind}_{tlp}_{author}_{rcpt}",
        org_id=author,
        tlp=tlp,
        recipient_org_ids=frozenset(rcpt),
        case_parties=PARTIES,
    )
    for kind in ("case_message", "case_event", "case_artifact")
    for tlp in TLP_ORDER
    for author in ("org_vd", "org_co")
    for rcpt in ((), ("org_lab",))
]


def _admits(scope: ListScope, t: Target) -> bool:
    if scope.everything:
        return True
    means = {
        "tlp_in": lambda v: t.tlp in v,
        "red_for_org": lambda v: t.tlp == "RED" and (t.org_id == v or v in t.recipient_org_ids),
    }
    return any(means[name](value) for name, value in scope.any_of)


@pytest.mark.parametrize("who", PRINCIPALS)
def test_item_scope_lists_exactly_what_can_see_shows(who: str) -> None:
    p = PRINCIPALS[who]
    for t in ITEMS:
        if not can_see(p, CASE):
            assert not can_see(p, t)
            continue
        assert _admits(case_item_scope(p, CASE, t.kind), t) == can_see(p, t), (who, t)


def test_clearances() -> None:
    """The adversaries: the sharing group reaching for AMBER or an artifact, a reporter for a
    RED message not addressed to it, outsiders for anything."""

    def seen(who: str) -> set[tuple[str, str]]:
        return {(t.kind, t.tlp or "") for t in ITEMS if can_see(PRINCIPALS[who], t)}

    assert seen("operator") == {("case_message", "CLEAR"), ("case_message", "GREEN")}
    assert ("case_artifact", "RED") in seen("vendor")  # RED it wrote
    red_to_vendor = Target("case_message", "m", org_id="org_co", tlp="RED", case_parties=PARTIES)
    assert not can_see(PRINCIPALS["vendor"], red_to_vendor)
    assert can_see(PRINCIPALS["other_coordinator"], red_to_vendor)
    for outsider in ("outside_operator", "other_vendor", "no_org"):
        assert seen(outsider) == set() and not can_see(PRINCIPALS[outsider], CASE)
    assert case_view(PRINCIPALS["operator"], CASE) == "early_warning"
    assert case_view(PRINCIPALS["vendor"], CASE) == "full"
