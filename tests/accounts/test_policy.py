"""The policy, without a database: a principal acting on an organisation's behalf has that
organisation's member rights and nothing of the system's."""

from __future__ import annotations

import pytest

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Action, Principal, Target, authorize, can_see, list_scope
from clearinghouse.core.errors import NotFound, PermissionDenied

AGENT = Principal.on_behalf_of("org_ev", OrgKind.evaluator, "eval run run_1 found it")


def test_acting_on_behalf_is_not_the_system() -> None:
    assert not AGENT.is_system
    assert AGENT.org_id == "org_ev" and AGENT.role is Role.member
    assert AGENT.actor.on_behalf_of == "eval run run_1 found it"
    assert Principal.system().actor.on_behalf_of is None


def test_it_files_a_report_in_the_organisations_name() -> None:
    authorize(AGENT, Action.vuln_report_create)


@pytest.mark.parametrize(
    "action", [Action.vuln_triage, Action.vuln_merge, Action.audit_read, Action.org_create]
)
def test_it_gets_no_coordinator_or_system_right(action: Action) -> None:
    with pytest.raises(PermissionDenied):
        authorize(AGENT, action)


def test_it_sees_only_its_organisations_confidential_objects() -> None:
    other = Target("vuln_report", id="vrp_x", reporter_org_ids=frozenset({"org_other"}))
    own = Target("vuln_report", id="vrp_y", reporter_org_ids=frozenset({"org_ev"}))
    assert can_see(AGENT, own) and not can_see(AGENT, other)
    with pytest.raises(NotFound):
        authorize(AGENT, Action.vuln_report_read, other)
    lab_sub = Target("submission", id="sub_1", lab_org_id="org_lab", evaluator_org_id="org_x")
    assert not can_see(AGENT, lab_sub)
    scope = list_scope(AGENT, "submission")
    assert not scope.everything and scope.any_of == (("evaluator_org_id", "org_ev"),)
