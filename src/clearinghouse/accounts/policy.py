"""Authorisation: the one place where access is decided.

Services call `authorize()` before they act and `list_scope()` before they list; routes and CLI
commands never decide access themselves. The policy denies by default: an action without a rule
below is refused, and a rule that does not say yes means no.

Decisions depend on the principal's organisation kind, role and token scopes, and on the
relation to the object (own organisation, assigned evaluator). An object the principal may not
see answers `NotFound`, exactly like an unknown id, so its existence does not leak. An object it
may see but not change answers `PermissionDenied`.

Confidential review content (findings, report files, model secrets) reaches only the lab that
owns the submission and the evaluator assigned to it. Coordinators administer the program and
see its metadata (agreements, submissions, windows), never the findings themselves.

Listings. `list_scope(principal, kind)` says which rows of a kind a listing may return, as a
`ListScope`: everything, nothing, or rows meeting any of a few named conditions with a value,
such as `("lab_org_id", org)` or `("public", True)`. The decision (who meets which condition)
is made here; the SQL spelling of a condition lives with the model. A name that is a column of
the model means that column equals the value; any other name is spelled by the domain that owns
the model, in a mapping passed with the query (`vulns.visibility.VULN_CONDITIONS`: "public",
"reported_by_org"), so this module imports no domain. `accounts.listing.scoped_page` and
`scoped_select` run the filter in the database, so listings page correctly.

To add a list rule for a kind: give `can_see` its case; add the same rule to `list_scope`
(conditions that mean exactly what `can_see` checks on the `Target`); give any condition that
is not a column its SQL in the domain's conditions mapping; list through `accounts.listing`;
and add the kind to the consistency test (tests/accounts/test_policy.py, `MEANS` and
`TARGETS`), which checks that every list scope admits exactly what `can_see` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from clearinghouse.accounts.models import OrgKind, Role, Scope
from clearinghouse.audit.schemas import Actor
from clearinghouse.core import tlp
from clearinghouse.core.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user of one organisation through one token, or the system itself."""

    user_id: str | None
    org_id: str | None
    org_kind: OrgKind | None
    role: Role | None
    scopes: frozenset[Scope] = field(default_factory=lambda: frozenset(Scope))
    token_id: str | None = None
    is_system: bool = False
    acting_for: str | None = None  # on_behalf_of: why the system acts in an organisation's name

    @classmethod
    def system(cls) -> Principal:
        """The operator at the console or a background worker: trusted by deployment."""
        return cls(None, None, None, None, frozenset(Scope), None, True)

    @classmethod
    def on_behalf_of(cls, org_id: str, org_kind: OrgKind, reason: str) -> Principal:
        """The system acting in one organisation's name, with a member's rights there and no
        more: the policy applies to it as to that organisation's member (it is not the system).
        A worker filing the vulnerabilities an eval run found, in the evaluator's name, is one.
        `reason` is written into every audit event it causes."""
        return cls(
            None, org_id, org_kind, Role.member, frozenset(Scope), None, False, acting_for=reason
        )

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.org_id, self.token_id, self.acting_for)

    def is_kind(self, kind: OrgKind) -> bool:
        return self.org_kind is kind

    def at_least(self, role: Role) -> bool:
        order = {Role.viewer: 0, Role.member: 1, Role.admin: 2}
        return self.role is not None and order[self.role] >= order[role]


@dataclass(frozen=True)
class Target:
    """The facts about an object that authorisation needs (no ORM objects in here)."""

    kind: str
    id: str | None = None
    org_id: str | None = None  # org / user / token: the organisation it belongs to
    user_id: str | None = None  # token: the user it belongs to
    lab_org_id: str | None = None  # agreement / submission
    evaluator_org_id: str | None = None  # submission
    public: bool = False  # vuln: published, TLP:CLEAR and out of embargo
    reporter_org_ids: frozenset[str] = frozenset()  # vuln / vuln_report: who reported it
    first_admin: bool = False  # invitation: for the admin of a new organisation (no one in it)
    # coordination (issue 14): a case's participants as (org id, role); a case item's TLP label
    # and the named recipients of a TLP:RED item (its author's organisation is `org_id`)
    case_parties: frozenset[tuple[str, str]] = frozenset()
    tlp: str | None = None
    recipient_org_ids: frozenset[str] = frozenset()


class Action(StrEnum):
    org_create = "org:create"
    org_read = "org:read"
    user_create = "user:create"
    user_read = "user:read"
    token_create = "token:create"
    token_read = "token:read"
    token_revoke = "token:revoke"
    agreement_create = "agreement:create"
    agreement_read = "agreement:read"
    agreement_withdraw = "agreement:withdraw"
    submission_create = "submission:create"
    submission_read = "submission:read"
    submission_verify = "submission:verify-access"
    submission_advance = "submission:advance"
    submission_close = "submission:close"
    submission_withdraw = "submission:withdraw"
    finding_create = "finding:create"
    finding_read = "finding:read"
    report_create = "report:create"
    report_read = "report:read"
    report_deliver = "report:deliver"
    report_acknowledge = "report:acknowledge"
    eval_run_create = "eval-run:create"
    eval_run_read = "eval-run:read"
    eval_task_read = "eval-task:read"
    eval_log_export = "eval-log:export"
    reference_model_create = "reference-model:create"
    reference_model_read = "reference-model:read"
    invitation_create = "invitation:create"
    audit_checkpoint = "audit:checkpoint"
    vuln_import = "vuln:import"
    audit_read = "audit:read"
    job_read = "job:read"
    vuln_report_create = "vuln-report:create"
    vuln_report_read = "vuln-report:read"
    vuln_read = "vuln:read"
    vuln_triage = "vuln:triage"
    vuln_merge = "vuln:merge"
    vuln_recipe_attach = "vuln-report:attach-recipe"
    vuln_validation_read = "vuln-report:read-validation"
    vuln_signals_read = "vuln-report:read-signals"
    vuln_signal_override = "vuln-report:override-signal"
    # --- notifications (issue 14, part 8): an organisation's own webhooks and subscriptions ---
    webhook_manage = "webhook:manage"
    webhook_read = "webhook:read"
    subscription_manage = "subscription:manage"
    subscription_read = "subscription:read"
    # --- coordination: the clearinghouse as a CNA (issue 14, part 6) ---
    cve_id_read = "cve-id:read"
    cve_id_reserve = "cve-id:reserve"
    cve_id_publish = "cve-id:publish"
    cve_id_reject = "cve-id:reject"
    cna_referral_decide = "cna-referral:decide"
    # coordination (issue 14): cases and what they hold (rules: the block at the end)
    case_create = "case:create"
    case_read = "case:read"
    case_manage = "case:manage"
    case_adjust_deadline = "case:adjust-deadline"
    case_vendor_status = "case:vendor-status"
    case_post_message = "case:post-message"
    case_upload_artifact = "case:upload-artifact"
    case_read_artifacts = "case:read-artifacts"
    # --- CSAF trusted provider (issue 13, part 3): the TLP:GREEN/AMBER/RED directories ---
    csaf_restricted_read = "csaf:read-restricted"
    # coordination (issue 14, parts 3 and 7): fix verification and the disclosure bundle
    case_post_fix = "case:post-fix"
    case_fix_override = "case:fix-override"
    case_bundle = "case:bundle"
    case_bundle_poc = "case:bundle-poc"
    # --- inventory (issue 15): operators' assets, SBOMs, exposures (rules: the block at the end)
    asset_create = "asset:create"
    asset_read = "asset:read"
    sbom_upload = "sbom:upload"
    sbom_read = "sbom:read"
    exposure_read = "exposure:read"
    exposure_update = "exposure:update"


READ_ACTIONS = {
    Action.org_read,
    Action.user_read,
    Action.token_read,
    Action.agreement_read,
    Action.submission_read,
    Action.finding_read,
    Action.report_read,
    Action.audit_read,
    Action.job_read,
    Action.eval_run_read,
    Action.eval_task_read,
    Action.reference_model_read,
    Action.vuln_report_read,
    Action.vuln_read,
    Action.vuln_validation_read,
    Action.vuln_signals_read,
    Action.webhook_read,  # notifications (issue 14, part 8)
    Action.subscription_read,
    Action.csaf_restricted_read,
}


# --- visibility: may the principal know the object exists? ---------------------------------


def _mine(p: Principal, org_id: str | None) -> bool:
    """The principal's own organisation (an absent one is nobody's, not a match of None)."""
    return p.org_id is not None and org_id == p.org_id


def _own_lab(p: Principal, t: Target) -> bool:
    return p.is_kind(OrgKind.lab) and _mine(p, t.lab_org_id)


def _assigned_evaluator(p: Principal, t: Target) -> bool:
    return p.is_kind(OrgKind.evaluator) and _mine(p, t.evaluator_org_id)


def can_see(p: Principal, t: Target) -> bool:
    if p.is_system:
        return True
    coordinator = p.is_kind(OrgKind.coordinator)
    match t.kind:
        case "org" | "user":
            return coordinator or _mine(p, t.org_id)
        case "token":
            return (
                (t.user_id is not None and t.user_id == p.user_id)
                or (coordinator and p.at_least(Role.admin))
                or (_mine(p, t.org_id) and p.at_least(Role.admin))
            )
        case "agreement":
            return coordinator or _own_lab(p, t)
        case "submission":
            return coordinator or _own_lab(p, t) or _assigned_evaluator(p, t)
        case "eval_run":
            # Runs of a submission: its assigned evaluator and coordinators. Reference runs
            # (no lab) are shared baselines: every evaluator and coordinator may see them.
            if t.lab_org_id is None:
                return coordinator or p.is_kind(OrgKind.evaluator)
            return coordinator or _assigned_evaluator(p, t)
        case "vuln":
            # Public records are for everyone; the rest (new reports, embargoed, TLP above
            # CLEAR) for coordinators and the organisations that reported them.
            return t.public or coordinator or p.org_id in t.reporter_org_ids
        case "vuln_report":
            return coordinator or p.org_id in t.reporter_org_ids
        case "duplicate_candidate":
            # Pairs of records, of any organisation, proposed for merging: the triage desk's.
            return coordinator
        case "reference_model":
            return coordinator or p.is_kind(OrgKind.evaluator)
        case "webhook" | "subscription" | "delivery":
            # Notifications (issue 14, part 8): an organisation's own channels and what went
            # through them, nobody else's (a coordinator who saw or changed another
            # organisation's webhook could read or redirect what that organisation is told).
            return _mine(p, t.org_id)
        case "case" | "case_message" | "case_event" | "case_artifact":
            return _case_can_see(p, t)
        case "asset" | "sbom" | "component" | "exposure":  # inventory (issue 15)
            return _inventory_can_see(p, t)
    return False


# --- permission: may the principal do this to an object it can see? -------------------------

Rule = Callable[[Principal, Target | None], bool]


def _coordinator(role: Role) -> Rule:
    return lambda p, t: p.is_kind(OrgKind.coordinator) and p.at_least(role)


def _visible(p: Principal, t: Target | None) -> bool:
    return t is not None and can_see(p, t)


def _content(role: Role) -> Rule:
    """Findings and reports: the owning lab and the assigned evaluator, never anyone else."""
    return lambda p, t: (
        t is not None and (_own_lab(p, t) or _assigned_evaluator(p, t)) and p.at_least(role)
    )


def _evaluator_work(p: Principal, t: Target | None) -> bool:
    return t is not None and _assigned_evaluator(p, t) and p.at_least(Role.member)


def _lab(role: Role) -> Rule:
    return lambda p, t: t is not None and _own_lab(p, t) and p.at_least(role)


def _reporter(role: Role) -> Rule:
    """A vulnerability report's own organisation (the one that filed it), at `role` or above."""
    return lambda p, t: (
        (t is not None and p.org_id is not None and p.org_id in t.reporter_org_ids)
        and p.at_least(role)
    )


def _either(*rules: Rule) -> Rule:
    return lambda p, t: any(rule(p, t) for rule in rules)


def _reference_runner(p: Principal, t: Target | None) -> bool:
    """Reference-model runs (no target): evaluators and coordinators, member or above."""
    return (
        t is None
        and (p.is_kind(OrgKind.evaluator) or p.is_kind(OrgKind.coordinator))
        and p.at_least(Role.member)
    )


def _run_content(p: Principal, t: Target | None) -> bool:
    """An eval run's transcripts and report files. A submission's run: the owning lab and the
    assigned evaluator (like findings). A reference run: evaluators and coordinators."""
    if t is None or not p.at_least(Role.member):
        return False
    if t.lab_org_id is None:
        return p.is_kind(OrgKind.evaluator) or p.is_kind(OrgKind.coordinator)
    return _own_lab(p, t) or _assigned_evaluator(p, t)


def _org_admin(p: Principal, t: Target | None) -> bool:
    return t is not None and t.org_id == p.org_id and p.at_least(Role.admin)


def _first_admin_invitation(p: Principal, t: Target | None) -> bool:
    """A coordinator admin may invite the first admin of a new organisation, one with nobody in
    it; once it has people, the organisation alone decides who joins it."""
    return t is not None and t.first_admin and _coordinator(Role.admin)(p, t)


def _token_owner(p: Principal, t: Target | None) -> bool:
    return t is not None and t.user_id is not None and t.user_id == p.user_id


RULES: dict[Action, Rule] = {
    Action.org_create: _coordinator(Role.admin),
    Action.org_read: _visible,
    # Nobody adds users to, or mints tokens for, another organisation: that would let a
    # coordinator act (and read) as a lab's user. New organisations get their first admin by
    # invitation, and that admin sets up their own credentials.
    Action.user_create: _org_admin,
    Action.invitation_create: _either(_org_admin, _first_admin_invitation),
    Action.user_read: _visible,
    Action.token_create: _either(_token_owner, _org_admin),
    Action.token_read: _visible,
    Action.token_revoke: _either(_token_owner, _org_admin, _coordinator(Role.admin)),
    Action.agreement_create: _either(_coordinator(Role.member), _lab(Role.admin)),
    Action.agreement_read: _visible,
    Action.agreement_withdraw: _either(_coordinator(Role.admin), _lab(Role.admin)),
    Action.submission_create: _lab(Role.member),
    Action.submission_read: _visible,
    Action.submission_verify: _either(
        _coordinator(Role.member), _lab(Role.member), _evaluator_work
    ),
    Action.submission_advance: _evaluator_work,
    Action.submission_close: _either(_coordinator(Role.member), _lab(Role.member)),
    Action.submission_withdraw: _lab(Role.member),
    Action.finding_create: _evaluator_work,
    Action.finding_read: _content(Role.viewer),
    Action.report_create: _evaluator_work,
    Action.report_read: _content(Role.viewer),
    Action.report_deliver: _evaluator_work,
    Action.report_acknowledge: _lab(Role.member),
    Action.eval_run_create: _either(_evaluator_work, _reference_runner),
    Action.eval_run_read: _visible,
    Action.eval_log_export: _run_content,
    Action.reference_model_create: _coordinator(Role.admin),
    Action.reference_model_read: lambda p, t: (
        p.is_kind(OrgKind.evaluator) or p.is_kind(OrgKind.coordinator)
    ),
    Action.audit_checkpoint: _coordinator(Role.admin),
    Action.vuln_import: _coordinator(Role.member),
    Action.eval_task_read: lambda p, t: (
        p.is_kind(OrgKind.evaluator) or p.is_kind(OrgKind.coordinator)
    ),
    Action.vuln_report_create: lambda p, t: p.org_id is not None and p.at_least(Role.member),
    Action.vuln_report_read: _visible,
    Action.vuln_read: _visible,
    Action.vuln_triage: _coordinator(Role.member),
    Action.vuln_merge: _coordinator(Role.member),
    # Validation by reproduction (issue 11): the reporting organisation and coordinators attach
    # a recipe; whoever may read the report reads its validation. The triage signals, the
    # queue, the spot checks and the overrides are the coordinators' desk (a reporter must not
    # learn which of its reports are spot-checked, nor read the coordinators' reasons).
    Action.vuln_recipe_attach: _either(_coordinator(Role.member), _reporter(Role.member)),
    Action.vuln_validation_read: _visible,
    Action.vuln_signals_read: _coordinator(Role.viewer),
    Action.vuln_signal_override: _coordinator(Role.member),
    Action.audit_read: _coordinator(Role.viewer),
    Action.job_read: _coordinator(Role.viewer),
    # --- notifications (issue 14, part 8): the organisation's admins manage its webhooks
    # (their secrets sign what it receives); its members manage its e-mail subscriptions;
    # everyone in it reads both. Other organisations do not even see them (can_see).
    Action.webhook_manage: lambda p, t: (
        _mine(p, t.org_id if t else None) and p.at_least(Role.admin)
    ),
    Action.webhook_read: _visible,
    Action.subscription_manage: lambda p, t: (
        _mine(p, t.org_id if t else None) and p.at_least(Role.member)
    ),
    Action.subscription_read: _visible,
    # --- CSAF trusted provider (issue 13, part 3) ---
    # The provider directory's folders above TLP:CLEAR (green, amber, red) hold every published
    # record of that label, whoever reported it: static files, not filtered per caller. So they
    # are the coordinators' (any role), who may read every record anyway; a reporter reads its
    # own restricted records through the API. TLP:CLEAR's folder needs no token at all.
    Action.csaf_restricted_read: _coordinator(Role.viewer),
}

# --- coordination: the clearinghouse as a CNA (issue 14, part 6) ---
# CVE ids are the coordinators' desk: only coordinator staff reserve, publish and reject them
# and record what another CNA said at first refusal (member or above); any coordinator reads
# them. Nobody else learns which ids are reserved, or for what.
READ_ACTIONS.add(Action.cve_id_read)
RULES.update(
    {
        Action.cve_id_read: _coordinator(Role.viewer),
        Action.cve_id_reserve: _coordinator(Role.member),
        Action.cve_id_publish: _coordinator(Role.member),
        Action.cve_id_reject: _coordinator(Role.member),
        Action.cna_referral_decide: _coordinator(Role.member),
    }
)


def authorize(p: Principal, action: Action, target: Target | None = None) -> None:
    """Raise unless `p` may perform `action` on `target`. Returns None when allowed."""
    if target is not None and not can_see(p, target):
        raise NotFound(f"no {target.kind} with id {target.id!r}")
    if p.is_system:
        return
    rule = RULES.get(action)
    if rule is None or not rule(p, target):
        raise PermissionDenied(
            f"your organisation and role may not {action.value.replace(':', ' ')}"
        )
    if action not in READ_ACTIONS and Scope.write not in p.scopes:
        raise PermissionDenied("this token is read-only", code="scope_missing")


Condition = Callable[[Any], ColumnElement[bool]]  # a named condition's value → its SQL


@dataclass(frozen=True)
class ListScope:
    """Which rows a listing may return: everything, nothing, or rows meeting any of a few named
    conditions, each `(name, value)`. `clause(Model, conditions)` turns it into the SQL filter,
    so a listing filters in the database and pages correctly, never in Python after a
    fixed-size read."""

    everything: bool = False
    any_of: tuple[tuple[str, object], ...] = ()

    @property
    def nothing(self) -> bool:
        return not self.everything and not self.any_of

    def clause(
        self, model: type, conditions: Mapping[str, Condition] | None = None
    ) -> ColumnElement[bool]:
        """The filter on `model`: a name in `conditions` is spelled by it; any other name is a
        column of `model` that must equal the value."""
        if self.everything:
            return true()
        if not self.any_of:
            return false()
        spelled = conditions or {}
        return or_(*(_spell(model, spelled, name, value) for name, value in self.any_of))


def _spell(
    model: type, conditions: Mapping[str, Condition], name: str, value: object
) -> ColumnElement[bool]:
    if name in conditions:
        return conditions[name](value)
    column = getattr(model, name, None)
    if column is None:
        raise TypeError(f"{model.__name__} has no column {name!r}: pass its SQL in `conditions`")
    return column == value  # type: ignore[no-any-return]


EVERYTHING = ListScope(everything=True)
NOTHING = ListScope()

# What a coordinator lists in full (and can_see shows in full): the program's metadata and the
# knowledge base's triage desk.
_COORDINATOR_LISTS_ALL = {
    "org",
    "user",
    "agreement",
    "submission",
    "eval_run",
    "reference_model",
    "vuln",
    "vuln_report",
    "duplicate_candidate",
    "case",
}


def _where(*conditions: tuple[str, object]) -> ListScope:
    """Rows meeting any of `conditions`; one whose value is absent (a principal with no
    organisation) matches nothing, rather than SQL's IS NULL."""
    return ListScope(any_of=tuple(c for c in conditions if c[1] is not None))


def list_scope(p: Principal, kind: str) -> ListScope:
    """The listing counterpart of `can_see`: a listing of `kind` returns exactly the rows the
    principal could read one by one (tests/accounts/test_policy.py checks every kind).
    `own_token` is the one listing narrower than `can_see`, by design: everyone, the system and
    organisation admins included, lists only their own tokens."""
    if kind == "own_token":
        return _where(("user_id", p.user_id))
    if p.is_system or (p.is_kind(OrgKind.coordinator) and kind in _COORDINATOR_LISTS_ALL):
        return EVERYTHING
    match kind:
        case "org":
            return _where(("id", p.org_id))
        case "user":
            return _where(("org_id", p.org_id))
        case "agreement" if p.is_kind(OrgKind.lab):
            return _where(("lab_org_id", p.org_id))
        case "submission" if p.is_kind(OrgKind.lab):
            return _where(("lab_org_id", p.org_id))
        case "submission" if p.is_kind(OrgKind.evaluator):
            return _where(("evaluator_org_id", p.org_id))
        case "eval_run" if p.is_kind(OrgKind.evaluator):
            # Its own runs of assigned submissions, and every reference run (shared baselines).
            return _where(("evaluator_org_id", p.org_id), ("is_reference", True))
        case "reference_model" if p.is_kind(OrgKind.evaluator):
            return EVERYTHING
        case "vuln":
            # Public records for everyone; the others for the organisations that reported them.
            return _where(("public", True), ("reported_by_org", p.org_id))
        case "vuln_report":
            return _where(("reporter_org_id", p.org_id))
        case "webhook" | "subscription" | "delivery":  # notifications (issue 14, part 8)
            return _where(("org_id", p.org_id))
        case "case":
            return _where(("participant_org", p.org_id))
        case "asset" | "sbom" | "component" | "exposure":  # inventory (issue 15)
            return _inventory_scope(p)
    return NOTHING


# --- coordination (issue 14): cases, their messages, artifacts and timeline ----------------
#
# Who sees a case: coordinators (every case) and its participants' organisations; nobody else
# learns it exists (404). What they see of it depends on their role in it:
# - reporter, vendor and coordinator participants get the full case, and its messages,
#   timeline events and artifacts up to TLP:AMBER+STRICT; a TLP:RED item only when their
#   organisation wrote it or is named among its recipients;
# - the operators' sharing group gets the early warning only (what is affected, severity,
#   mitigation) and messages up to TLP:GREEN (its clearance); never artifacts (PoCs,
#   patches), recipes, the timeline, or anything above GREEN;
# - coordinator organisations see everything.
# Listings of a case's items filter in SQL through `case_item_scope` (named conditions
# "tlp_in" and "red_for_org", spelled by coordination/listing.py).

TLP_ORDER = tuple(label.value for label in tlp.ORDER)  # CLEAR … RED (core.tlp)
CASE_FULL_ROLES = frozenset({"reporter", "vendor", "coordinator"})
CASE_EARLY_WARNING_ROLES = frozenset({"operator_group"})
_FULL_CLEARANCE = TLP_ORDER[:4]
_EARLY_WARNING_CLEARANCE = TLP_ORDER[:2]


def _case_roles(p: Principal, t: Target) -> frozenset[str]:
    return frozenset(role for org, role in t.case_parties if _mine(p, org))


def _case_full(p: Principal, t: Target) -> bool:
    return p.is_kind(OrgKind.coordinator) or bool(_case_roles(p, t) & CASE_FULL_ROLES)


def _red_for(p: Principal, t: Target) -> bool:
    return _mine(p, t.org_id) or (p.org_id is not None and p.org_id in t.recipient_org_ids)


def _case_can_see(p: Principal, t: Target) -> bool:
    if p.is_kind(OrgKind.coordinator):
        return True
    roles = _case_roles(p, t)
    if not roles:
        return False
    if t.kind == "case":
        return True
    if roles & CASE_FULL_ROLES:
        return t.tlp in _FULL_CLEARANCE or (t.tlp == "RED" and _red_for(p, t))
    # the sharing group: messages up to GREEN; never an artifact, nor the timeline (its events
    # name participants and statements the early warning leaves out)
    return t.kind == "case_message" and t.tlp in _EARLY_WARNING_CLEARANCE


def case_view(p: Principal, t: Target) -> str:
    """What of a visible case the principal gets: "full", or "early_warning" (the sharing
    group: affected products, severity, mitigation; no PoC, recipe, messages above GREEN)."""
    return "full" if p.is_system or _case_full(p, t) else "early_warning"


def case_item_scope(p: Principal, case: Target, kind: str) -> ListScope:
    """Which of a visible case's items (`case_message`, `case_event`, `case_artifact`) a
    listing may return: exactly those `can_see` shows one by one."""
    if p.is_system or p.is_kind(OrgKind.coordinator):
        return EVERYTHING
    roles = _case_roles(p, case)
    if roles & CASE_FULL_ROLES:
        return _where(("tlp_in", _FULL_CLEARANCE), ("red_for_org", p.org_id))
    if roles and kind == "case_message":
        return _where(("tlp_in", _EARLY_WARNING_CLEARANCE))
    return NOTHING


def _case_participant(*roles: str, role: Role = Role.member) -> Rule:
    return lambda p, t: t is not None and bool(_case_roles(p, t) & set(roles)) and p.at_least(role)


def _case_full_reader(p: Principal, t: Target | None) -> bool:
    return t is not None and _case_full(p, t)


READ_ACTIONS |= {Action.case_read, Action.case_read_artifacts}
RULES.update(
    {
        Action.case_create: _coordinator(Role.member),
        Action.case_read: _visible,
        Action.case_manage: _coordinator(Role.member),
        Action.case_adjust_deadline: _coordinator(Role.member),
        # a vendor answers for itself only: its status is posted by its own members
        Action.case_vendor_status: _case_participant("vendor"),
        Action.case_post_message: _either(
            _coordinator(Role.member), _case_participant(*CASE_FULL_ROLES)
        ),
        Action.case_upload_artifact: _either(
            _coordinator(Role.member), _case_participant(*CASE_FULL_ROLES)
        ),
        Action.case_read_artifacts: _case_full_reader,
    }
)


# --- coordination: fix verification and the disclosure bundle (issue 14, parts 3 and 7) ---
# A vendor posts its own fix for verification (its members, like its status); only a
# coordinator overrides a fix that did not verify (with an audited reason). The disclosure
# bundle goes to whoever reads the full case (reporters, vendors, coordinators; never the
# sharing group); the PoC in it is sealed further: coordinators (member or above) and the
# admins of the case's reporter and vendor organisations only. Everyone else who may have a
# bundle gets one without the PoC, and its manifest says so.
RULES.update(
    {
        Action.case_post_fix: _case_participant("vendor"),
        Action.case_fix_override: _coordinator(Role.member),
        Action.case_bundle: _case_full_reader,
        Action.case_bundle_poc: _either(
            _coordinator(Role.member), _case_participant("reporter", "vendor", role=Role.admin)
        ),
    }
)


# --- inventory (issue 15): operators' assets, their SBOMs and components, exposures ---------
# An operator's inventory says which of its systems run what: a map of where it can be hurt.
# Its own organisation sees it; coordinators see every operator's (they coordinate remediation
# with them); nobody else learns it exists (404): not labs, evaluators, vendors, nor another
# operator. Every object carries its asset's organisation as `org_id`.
# - An operator's members register its assets and upload their SBOMs; a coordinator member may
#   do both on an operator's behalf (audited; the domain refuses assets of any org but an
#   operator's). Viewers and read-only tokens only read.
# - Exposure status changes: the operator's members, and coordinator members.
# Listings ("asset", "sbom", "component", "exposure") filter on `org_id`.


def _inventory_can_see(p: Principal, t: Target) -> bool:
    return p.is_kind(OrgKind.coordinator) or (p.is_kind(OrgKind.operator) and _mine(p, t.org_id))


def _inventory_scope(p: Principal) -> ListScope:
    if p.is_kind(OrgKind.coordinator):
        return EVERYTHING
    if p.is_kind(OrgKind.operator):
        return _where(("org_id", p.org_id))
    return NOTHING


def _inventory_writer(p: Principal, t: Target | None) -> bool:
    """Its own operator's members, or coordinator members (on an operator's behalf). The target
    is the asset (or, to create one, the organisation it will belong to)."""
    if t is None or not p.at_least(Role.member):
        return False
    return p.is_kind(OrgKind.coordinator) or (p.is_kind(OrgKind.operator) and _mine(p, t.org_id))


READ_ACTIONS |= {Action.asset_read, Action.sbom_read, Action.exposure_read}
RULES.update(
    {
        Action.asset_create: _inventory_writer,
        Action.asset_read: _visible,
        Action.sbom_upload: _inventory_writer,
        Action.sbom_read: _visible,
        Action.exposure_read: _visible,
        Action.exposure_update: _inventory_writer,
    }
)
