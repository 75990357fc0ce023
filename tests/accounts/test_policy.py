"""The policy, without a database: a principal acting on an organisation's behalf has that
organisation's member rights and nothing of the system's; every list scope admits exactly what
`can_see` shows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clearinghouse.accounts.models import OrgKind, Role, Scope
from clearinghouse.accounts.policy import (
    Action,
    ListScope,
    Principal,
    Target,
    authorize,
    can_see,
    list_scope,
)
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


# --- list_scope and can_see agree -----------------------------------------------------------
#
# What each condition a list scope may name means, written against the `Target` the same object
# gives `can_see` (the SQL spelling of each lives with its model; tests/test_list_scope.py
# checks that side on the real databases). A scope admits a target when any condition holds.
MEANS: dict[tuple[str, str], Callable[[Target, object], bool]] = {
    ("org", "id"): lambda t, v: t.id == v,
    ("user", "org_id"): lambda t, v: t.org_id == v,
    ("agreement", "lab_org_id"): lambda t, v: t.lab_org_id == v,
    ("submission", "lab_org_id"): lambda t, v: t.lab_org_id == v,
    ("submission", "evaluator_org_id"): lambda t, v: t.evaluator_org_id == v,
    ("eval_run", "evaluator_org_id"): lambda t, v: t.evaluator_org_id == v,
    ("eval_run", "is_reference"): lambda t, v: (t.lab_org_id is None) == v,
    ("vuln", "public"): lambda t, v: t.public == v,
    ("vuln", "reported_by_org"): lambda t, v: v in t.reporter_org_ids,
    ("vuln_report", "reporter_org_id"): lambda t, v: v in t.reporter_org_ids,
    # notifications (issue 14, part 8)
    ("webhook", "org_id"): lambda t, v: t.org_id == v,
    ("subscription", "org_id"): lambda t, v: t.org_id == v,
    ("delivery", "org_id"): lambda t, v: t.org_id == v,
    ("case", "participant_org"): lambda t, v: v in {org for org, _ in t.case_parties},
    # inventory (issue 15)
    ("asset", "org_id"): lambda t, v: t.org_id == v,
    ("sbom", "org_id"): lambda t, v: t.org_id == v,
    ("component", "org_id"): lambda t, v: t.org_id == v,
    ("exposure", "org_id"): lambda t, v: t.org_id == v,
}
# Kinds that can_see knows but that are listed under another kind: tokens are listed as the
# caller's own only (list_scope's `own_token`), a narrower set than may be read one by one.
UNLISTED = {"token"}

ORGS = {
    "org_co": OrgKind.coordinator,
    "org_lab": OrgKind.lab,
    "org_lab2": OrgKind.lab,
    "org_ev": OrgKind.evaluator,
    "org_ev2": OrgKind.evaluator,
    "org_vd": OrgKind.vendor,
    "org_vd2": OrgKind.vendor,
    "org_op": OrgKind.operator,
    "org_op2": OrgKind.operator,
}
PRINCIPALS = [
    Principal.system(),
    AGENT,
    Principal(None, None, None, None),  # no organisation: sees what the public sees
    Principal("u_w", "org_vd", OrgKind.vendor, Role.member, frozenset({Scope.write})),
    Principal("u_r", "org_co", OrgKind.coordinator, Role.viewer, frozenset({Scope.read})),
    *(Principal(f"u_{org}_{role}", org, kind, role) for org, kind in ORGS.items() for role in Role),
]
TARGETS = [
    *(Target("org", org, org_id=org) for org in ORGS),
    *(Target("user", f"u_{org}", org_id=org) for org in ORGS),
    *(Target("agreement", f"agr_{lab}", lab_org_id=lab) for lab in ("org_lab", "org_lab2")),
    *(
        Target("submission", f"sub_{lab}_{ev}", lab_org_id=lab, evaluator_org_id=ev)
        for lab in ("org_lab", "org_lab2")
        for ev in ("org_ev", "org_ev2")
    ),
    *(
        Target("eval_run", f"run_{lab}_{ev}", lab_org_id=lab, evaluator_org_id=ev)
        for lab in ("org_lab", "org_lab2", None)
        for ev in ("org_ev", "org_ev2")
    ),
    Target("reference_model", "ref_1"),
    *(
        Target("vuln", f"vuln_{public}_{n}", public=public, reporter_org_ids=reporters)
        for public in (True, False)
        for n, reporters in enumerate(
            [frozenset(), frozenset({"org_vd"}), frozenset({"org_ev", "org_lab"})]
        )
    ),
    *(
        Target("vuln_report", f"vrp_{n}", reporter_org_ids=reporters)
        for n, reporters in enumerate([frozenset(), frozenset({"org_vd"}), frozenset({"org_ev"})])
    ),
    Target("duplicate_candidate", "dup_1"),
    *(  # notifications (issue 14, part 8)
        Target(kind, f"{kind}_{org}", org_id=org)
        for kind in ("webhook", "subscription", "delivery")
        for org in ORGS
    ),
    *(
        Target("case", f"case_{n}", case_parties=parties)
        for n, parties in enumerate(
            [
                frozenset(),
                frozenset({("org_vd", "vendor"), ("org_lab", "reporter")}),
                frozenset({("org_op", "operator_group"), ("org_co", "coordinator")}),
            ]
        )
    ),
    *(  # inventory (issue 15): every kind, of every organisation (operators' and others')
        Target(kind, f"{kind}_{org}", org_id=org)
        for kind in ("asset", "sbom", "component", "exposure")
        for org in ORGS
    ),
]


def _admits(scope: ListScope, t: Target) -> bool:
    return scope.everything or any(MEANS[(t.kind, name)](t, value) for name, value in scope.any_of)


@pytest.mark.parametrize("p", PRINCIPALS, ids=lambda p: f"{p.org_id}-{p.role}-{p.is_system}")
def test_list_scope_lists_exactly_what_can_see_shows(p: Principal) -> None:
    """Every kind a listing goes through, every principal: a listing may return a row exactly
    when the object could be read on its own (a record, a report, a candidate, ...)."""
    kinds = {t.kind for t in TARGETS}
    assert kinds | UNLISTED >= {"org", "user", "vuln", "vuln_report", "duplicate_candidate"}
    for t in TARGETS:
        assert _admits(list_scope(p, t.kind), t) == can_see(p, t), (p, t)


def test_a_principal_without_an_organisation_matches_nothing_by_a_missing_id() -> None:
    """An absent organisation is no value to compare: it never becomes SQL's IS NULL (which
    would match the reports and records the system filed, with no reporter organisation)."""
    bare = Principal(None, None, None, None)
    assert list_scope(bare, "vuln_report").nothing
    assert list_scope(bare, "vuln").any_of == (("public", True),)
    assert not can_see(bare, Target("org", None, org_id=None))
    assert not can_see(bare, Target("token", "tok_1", org_id=None, user_id=None))


def test_everyone_lists_only_their_own_tokens_the_system_and_admins_included() -> None:
    """The adversary is an organisation admin or the system listing tokens: `own_token` is the
    caller's own, never the organisation's or everyone's."""
    admin = Principal("usr_admin", "org_1", OrgKind.lab, Role.admin)
    scope = list_scope(admin, "own_token")
    assert scope.any_of == (("user_id", "usr_admin"),)
    assert list_scope(Principal.system(), "own_token").nothing
