"""The authorisation matrix: every route × every org kind × every role × own/other object.

The route list comes from the application's OpenAPI document, so a new route that is not in
`SPECS` fails `test_every_route_is_covered`. Each spec says what the caller should get:
ALLOW (2xx), FORBID (403: may see, may not act) or HIDE (404: may not even know it exists).
The expectations are written out here independently of `accounts.policy`; they are the spec.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from clearinghouse.accounts.models import OrgKind, Role
from clearinghouse.accounts.policy import Principal
from clearinghouse.core.clock import utcnow
from clearinghouse.reviews import reports
from clearinghouse.reviews.models import Submission
from clearinghouse.reviews.schemas import ReportCreate, ReportMediaType
from clearinghouse.storage import jobs
from tests.support.cve_services import configure, cve_services
from tests.support.openai_stub import openai_endpoint
from tests.support.world import Member, World
from tests.vulns import recipe_kit

ALLOW, FORBID, HIDE = "allow", "forbid", "hide"
KINDS = list(OrgKind)
ROLES = list(Role)
RELATIONS = ["own", "other"]
RANK = {Role.viewer: 0, Role.member: 1, Role.admin: 2}
KEY = "sk-matrix-key-0123456789"


@dataclass(frozen=True)
class Caller:
    kind: OrgKind
    role: Role

    def at_least(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    def coordinator(self, role: Role = Role.viewer) -> bool:
        return self.kind is OrgKind.coordinator and self.at_least(role)


def see_org(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.coordinator or rel == "own"


def own_lab(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.lab and rel == "own"


def own_eval(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.evaluator and rel == "own"


def see_agreement(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.coordinator or own_lab(c, rel)


def see_submission(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.coordinator or own_lab(c, rel) or own_eval(c, rel)


def see_reported(c: Caller, rel: str) -> bool:
    """A report and its unpublished record: coordinators and the reporting organisation."""
    return c.kind is OrgKind.coordinator or rel == "own"


VULN_REPORT = {
    "title": "overflow in demo",
    "description": "a crafted header overflows a fixed buffer",
    "provenance": {"kind": "human"},
    "target": {"purl": "pkg:pypi/demo@1.0"},
}


def decide(visible: bool, allowed: bool) -> str:
    return HIDE if not visible else (ALLOW if allowed else FORBID)


def token_rule(c: Caller, rel: str) -> str:
    """Revoking: the token's own org admins, and coordinator admins (incident response)."""
    visible = c.coordinator(Role.admin) or (rel == "own" and c.at_least(Role.admin))
    return decide(visible, visible)


def token_mint_rule(c: Caller, rel: str) -> str:
    """Minting: only for a user of one's own organisation. A coordinator admin sees the other
    organisation's user but may not mint a token for it (it would read as that user)."""
    visible = c.coordinator(Role.admin) or (rel == "own" and c.at_least(Role.admin))
    return decide(visible, rel == "own" and c.at_least(Role.admin))


def own_admin(c: Caller, rel: str) -> str:
    """Adding people to an organisation: its own admins only (the other org has an admin)."""
    return decide(see_org(c, rel), rel == "own" and c.at_least(Role.admin))


def content_read(c: Caller, rel: str) -> str:
    return decide(see_submission(c, rel), own_lab(c, rel) or own_eval(c, rel))


def evaluator_work(c: Caller, rel: str) -> str:
    return decide(see_submission(c, rel), own_eval(c, rel) and c.at_least(Role.member))


def always(c: Caller, rel: str) -> str:
    return ALLOW


def coordinators(c: Caller, rel: str) -> str:
    return ALLOW if c.coordinator() else FORBID


def cna_staff(c: Caller, rel: str) -> str:
    return ALLOW if c.coordinator(Role.member) else FORBID


# --- coordination cases (issue 14): "own" is a case the caller's organisation takes part in,
# in the role its kind plays (vendor: vendor, operator: the sharing group, lab and evaluator:
# reporter); coordinators see every case; nobody else learns that a case exists.
def see_case(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.coordinator or rel == "own"


def case_full(c: Caller, rel: str) -> bool:
    """Reporters, vendors and coordinators: the full case; the sharing group: early warning."""
    return c.kind is OrgKind.coordinator or (rel == "own" and c.kind is not OrgKind.operator)


def case_writer(c: Caller, rel: str) -> str:
    return decide(see_case(c, rel), case_full(c, rel) and c.at_least(Role.member))


def case_coordinators(c: Caller, rel: str) -> str:
    return decide(see_case(c, rel), c.coordinator(Role.member))


ARTIFACT = {"filename": "poc.bin", "kind": "poc", "content_base64": "UG9D"}


# --- inventory (issue 15): an operator's assets, SBOMs and components. "own" is an asset of
# the caller's organisation when it is an operator; every other kind has no assets, so its
# "own" and "other" are another operator's. Coordinators see every operator's inventory and
# (members) write it on an operator's behalf; nobody else learns that an asset exists.
def see_asset(c: Caller, rel: str) -> bool:
    return c.kind is OrgKind.coordinator or (c.kind is OrgKind.operator and rel == "own")


def inventory_writer(c: Caller, rel: str) -> str:
    return decide(see_asset(c, rel), c.at_least(Role.member))


def asset_create(c: Caller, rel: str) -> str:
    """The body names the organisation: the caller's own ('own', or an operator for a
    coordinator) or another of its kind. Only operators' own members and coordinator members
    register; other kinds see their own organisation but may not (403)."""
    if c.kind is OrgKind.coordinator:
        return ALLOW if c.at_least(Role.member) else FORBID
    if rel == "other":
        return HIDE
    return ALLOW if c.kind is OrgKind.operator and c.at_least(Role.member) else FORBID


ASSET = {"name": "scada historian", "sector": "energy", "criticality": "high"}
VEX = json.dumps(
    {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.org/vex/matrix",
        "author": "operator",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2026-0001"},
                "products": [{"@id": "pkg:pypi/tinyparse@1.5"}],
                "status": "not_affected",
                "justification": "component_not_present",
            }
        ],
    }
).encode()
SBOM = (
    b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": '
    b'[{"type": "library", "name": "demo", "version": "1.0", "purl": "pkg:pypi/demo@1.0"}]}'
)


@dataclass(frozen=True)
class Spec:
    expect: Callable[[Caller, str], str]
    target: str | None = None  # which object the path/body refers to
    state: str | None = None  # submission state the object is put in
    body: Callable[[dict[str, str]], dict[str, Any]] | None = None
    mutates: bool = False
    query: str = ""
    upload: Callable[[dict[str, str]], bytes] | None = None  # a raw archive body instead of JSON
    files: Callable[[dict[str, str]], dict[str, Any]] | None = None  # a multipart body instead


def _release() -> str:
    return (utcnow() + timedelta(days=40)).isoformat()


SPECS: dict[tuple[str, str], Spec] = {
    ("GET", "/healthz"): Spec(always),
    ("GET", "/readyz"): Spec(always),
    ("GET", "/metrics"): Spec(always),
    ("POST", "/api/v1/orgs"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.admin) else FORBID,
        body=lambda t: {"name": f"new-{t['n']}", "kind": "vendor"},
        mutates=True,
    ),
    ("GET", "/api/v1/orgs"): Spec(always),
    ("GET", "/api/v1/orgs/{org_id}"): Spec(lambda c, r: decide(see_org(c, r), True), target="org"),
    ("POST", "/api/v1/users"): Spec(
        own_admin,
        target="org",
        body=lambda t: {"org_id": t["org_id"], "email": f"new{t['n']}@x.org", "role": "viewer"},
        mutates=True,
    ),
    ("GET", "/api/v1/users"): Spec(always),
    ("GET", "/api/v1/users/{user_id}"): Spec(
        lambda c, r: decide(see_org(c, r), True), target="user"
    ),
    ("POST", "/api/v1/tokens"): Spec(
        token_mint_rule, target="user", body=lambda t: {"user_id": t["user_id"]}, mutates=True
    ),
    ("POST", "/api/v1/orgs/{org_id}/invitations"): Spec(
        own_admin,
        target="org_with_admin",
        body=lambda t: {"email": f"inv{t['n']}@x.org", "role": "admin"},
        mutates=True,
    ),
    ("GET", "/api/v1/orgs/{org_id}/invitations"): Spec(own_admin, target="org_with_admin"),
    # The code is the credential: whoever holds it may redeem it, token or not.
    ("POST", "/api/v1/invitations/accept"): Spec(
        always, target="invitation", body=lambda t: {"code": t["code"]}, mutates=True
    ),
    ("GET", "/api/v1/tokens"): Spec(always),
    ("DELETE", "/api/v1/tokens/{token_id}"): Spec(token_rule, target="token", mutates=True),
    ("POST", "/api/v1/agreements"): Spec(
        lambda c, r: decide(
            see_agreement(c, r),
            c.coordinator(Role.member) or (own_lab(c, r) and c.at_least(Role.admin)),
        ),
        target="lab",
        body=lambda t: {
            "lab_org_id": t["lab_org_id"],
            "scope": "s",
            "confidentiality_terms": "t",
            "retention_days": 10,
        },
        mutates=True,
    ),
    ("GET", "/api/v1/agreements"): Spec(always),
    ("GET", "/api/v1/agreements/{agreement_id}"): Spec(
        lambda c, r: decide(see_agreement(c, r), True), target="agreement"
    ),
    ("POST", "/api/v1/agreements/{agreement_id}/withdraw"): Spec(
        lambda c, r: decide(
            see_agreement(c, r),
            c.coordinator(Role.admin) or (own_lab(c, r) and c.at_least(Role.admin)),
        ),
        target="agreement",
        body=lambda t: {},
        mutates=True,
    ),
    ("POST", "/api/v1/submissions"): Spec(
        lambda c, r: decide(see_agreement(c, r), own_lab(c, r) and c.at_least(Role.member)),
        target="agreement",
        body=lambda t: {
            "agreement_id": t["agreement_id"],
            "model_name": "m",
            "model_version": "1",
            "planned_release_at": _release(),
            "weights_digest": "sha256:" + "b" * 64,
            "evaluator_org_id": t["evaluator_org_id"],
        },
        mutates=True,
    ),
    ("GET", "/api/v1/submissions"): Spec(always),
    ("GET", "/api/v1/submissions/{submission_id}"): Spec(
        lambda c, r: decide(see_submission(c, r), True), target="submission", state="submitted"
    ),
    ("POST", "/api/v1/submissions/{submission_id}/verify-access"): Spec(
        lambda c, r: decide(
            see_submission(c, r),
            c.coordinator(Role.member)
            or ((own_lab(c, r) or own_eval(c, r)) and c.at_least(Role.member)),
        ),
        target="submission",
        state="submitted",
        mutates=True,
    ),
    ("POST", "/api/v1/submissions/{submission_id}/transition"): Spec(
        evaluator_work,
        target="submission",
        state="access_verified",
        body=lambda t: {"to": "testing"},
        mutates=True,
    ),
    ("GET", "/api/v1/submissions/{submission_id}/timeline"): Spec(
        lambda c, r: decide(see_submission(c, r), True), target="submission", state="submitted"
    ),
    ("POST", "/api/v1/submissions/{submission_id}/findings"): Spec(
        evaluator_work,
        target="submission",
        state="testing",
        mutates=True,
        body=lambda t: {"title": "t", "severity": "low", "body": "b"},
    ),
    ("GET", "/api/v1/submissions/{submission_id}/findings"): Spec(
        content_read, target="submission", state="testing"
    ),
    ("POST", "/api/v1/submissions/{submission_id}/reports"): Spec(
        evaluator_work,
        target="submission",
        state="testing",
        mutates=True,
        body=lambda t: {"title": "r", "media_type": "text/html", "content": "<p>r</p>"},
    ),
    ("GET", "/api/v1/submissions/{submission_id}/reports"): Spec(
        content_read, target="submission", state="testing"
    ),
    ("GET", "/api/v1/submissions/{submission_id}/reports/{version}"): Spec(
        content_read, target="report", state="findings_drafted"
    ),
    ("GET", "/api/v1/submissions/{submission_id}/reports/{version}/content"): Spec(
        content_read, target="report", state="findings_drafted"
    ),
    ("POST", "/api/v1/submissions/{submission_id}/reports/{version}/deliver"): Spec(
        evaluator_work, target="report", state="findings_drafted", mutates=True
    ),
    ("POST", "/api/v1/submissions/{submission_id}/reports/{version}/acknowledge"): Spec(
        lambda c, r: decide(see_submission(c, r), own_lab(c, r) and c.at_least(Role.member)),
        target="delivered_report",
        state="findings_drafted",
        mutates=True,
    ),
    ("GET", "/api/v1/evals/tasks"): Spec(
        lambda c, r: ALLOW if c.kind in (OrgKind.evaluator, OrgKind.coordinator) else FORBID
    ),
    ("POST", "/api/v1/evals/runs"): Spec(
        lambda c, r: (
            ALLOW
            if c.kind in (OrgKind.evaluator, OrgKind.coordinator) and c.at_least(Role.member)
            else FORBID
        ),
        target="reference_model",
        body=lambda t: {
            "reference_model": t["reference_model_id"],
            "tasks": ["knowledge_original"],
            "limit": 1,
        },
        mutates=True,
    ),
    ("GET", "/api/v1/evals/runs"): Spec(always),
    ("POST", "/api/v1/reference-models"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.admin) else FORBID,
        body=lambda t: {
            "name": f"ref-{t['n']}",
            "model": "openai-api/ref/m",
            "base_url": "http://127.0.0.1:9/v1",
            "api_key": KEY,
        },
        mutates=True,
    ),
    ("GET", "/api/v1/reference-models"): Spec(always),
    ("GET", "/api/v1/reference-models/{reference_model_id}"): Spec(
        lambda c, r: decide(c.kind in (OrgKind.evaluator, OrgKind.coordinator), True),
        target="reference_model",
    ),
    ("GET", "/api/v1/evals/runs/{run_id}"): Spec(
        lambda c, r: decide(c.kind is OrgKind.coordinator or own_eval(c, r), True),
        target="eval_run",
        state="access_verified",
    ),
    # A replay: reading the run, then creating a run for its submission (its evaluator,
    # member+); a coordinator sees the run but never runs a lab's model.
    ("POST", "/api/v1/evals/runs/{run_id}/replay"): Spec(
        lambda c, r: decide(
            c.kind is OrgKind.coordinator or own_eval(c, r),
            own_eval(c, r) and c.at_least(Role.member),
        ),
        target="eval_run",
        state="access_verified",
        mutates=True,
    ),
    # TAXII 2.1 (read-only): every authenticated caller reads the restricted collections, and
    # each gets only the objects the policy's vuln list scope lets it see (tests/vulns/
    # publication/test_taxii.py checks the content; anonymous callers get TLP:CLEAR only).
    ("GET", "/taxii2/"): Spec(always),
    ("GET", "/taxii2/api/"): Spec(always),
    ("GET", "/taxii2/api/collections/"): Spec(always),
    ("GET", "/taxii2/api/collections/{cid}/"): Spec(always, target="taxii_collection"),
    ("GET", "/taxii2/api/collections/{cid}/objects/"): Spec(always, target="taxii_collection"),
    ("GET", "/taxii2/api/collections/{cid}/manifest/"): Spec(always, target="taxii_collection"),
    # The public OSV API: the same answer for everyone, token or not.
    ("POST", "/v1/query"): Spec(
        always, body=lambda t: {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"}
    ),
    ("POST", "/v1/querybatch"): Spec(
        always, body=lambda t: {"queries": [{"package": {"purl": "pkg:pypi/demo@1.0"}}]}
    ),
    ("GET", "/v1/vulns/{vuln_id}"): Spec(always, target="vuln"),
    ("GET", "/v1/vulns"): Spec(always, query="?modified_since=2000-01-01T00:00:00Z"),
    ("GET", "/v1/aliases"): Spec(always, query="?alias=CVE-2026-0001"),
    # The knowledge base: any organisation reports; reports and unpublished records are seen
    # by coordinators and the reporting organisation; coordinators (member+) triage and merge.
    ("POST", "/api/v1/reports"): Spec(
        lambda c, r: ALLOW if c.at_least(Role.member) else FORBID,
        body=lambda t: VULN_REPORT,
        mutates=True,
    ),
    ("GET", "/api/v1/reports"): Spec(always),
    ("GET", "/api/v1/reports/{report_id}"): Spec(
        lambda c, r: decide(see_reported(c, r), True), target="vuln_report"
    ),
    # Validation and triage (issue 11): the reporting organisation (member+) and coordinators
    # attach recipes; whoever sees the report reads its validations; the signals, the queue,
    # the spot checks and overrides are the coordinators' desk.
    ("POST", "/api/v1/reports/{report_id}/recipe"): Spec(
        lambda c, r: decide(
            see_reported(c, r),
            c.coordinator(Role.member) or (r == "own" and c.at_least(Role.member)),
        ),
        target="vuln_report",
        upload=lambda t: recipe_kit.tiny(),
        mutates=True,
    ),
    ("GET", "/api/v1/reports/{report_id}/validations"): Spec(
        lambda c, r: decide(see_reported(c, r), True), target="vuln_report"
    ),
    ("POST", "/api/v1/reports/{report_id}/override"): Spec(
        lambda c, r: decide(see_reported(c, r), c.coordinator(Role.member)),
        target="vuln_report",
        body=lambda t: {"signal": "grounded", "value": "grounded", "reason": "read the code"},
        mutates=True,
    ),
    ("GET", "/api/v1/triage/queue"): Spec(coordinators),
    ("GET", "/api/v1/triage/spot-checks"): Spec(coordinators),
    ("GET", "/api/v1/vulns"): Spec(always),
    # Findings of the records the caller may see (filtered in SQL: tests/vulns/intake).
    ("GET", "/api/v1/import-findings"): Spec(always),
    ("GET", "/api/v1/vulns/{vuln_id}"): Spec(
        lambda c, r: decide(see_reported(c, r), True), target="vuln_report"
    ),
    ("GET", "/api/v1/vulns/{vuln_id}/export"): Spec(
        lambda c, r: decide(see_reported(c, r), True), target="vuln_report", query="?format=osv"
    ),
    ("POST", "/api/v1/vulns/{vuln_id}/triage"): Spec(
        lambda c, r: decide(see_reported(c, r), c.coordinator(Role.member)),
        target="vuln_report",
        body=lambda t: {"tlp": "RED"},
        mutates=True,
    ),
    ("GET", "/api/v1/duplicates"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.member) else FORBID
    ),
    ("POST", "/api/v1/duplicates/{candidate_id}/reject"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.member) else FORBID,
        target="candidate",
        mutates=True,
    ),
    ("POST", "/api/v1/merges"): Spec(
        lambda c, r: decide(see_reported(c, r), c.coordinator(Role.member)),
        target="candidate",
        body=lambda t: {"vuln_ids": [t["vuln_a"], t["vuln_b"]]},
        mutates=True,
    ),
    ("POST", "/api/v1/merges/{merge_id}/undo"): Spec(
        lambda c, r: decide(see_reported(c, r), c.coordinator(Role.member)),
        target="merge",
        mutates=True,
    ),
    ("GET", "/api/v1/audit/events"): Spec(coordinators),
    ("GET", "/api/v1/audit/verify"): Spec(coordinators),
    ("POST", "/api/v1/audit/checkpoints"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.admin) else FORBID, mutates=True
    ),
    ("GET", "/api/v1/audit/checkpoints/latest"): Spec(coordinators, target="checkpoint"),
    ("GET", "/api/v1/audit/checkpoint-key"): Spec(always),  # a public key: no token needed
    ("GET", "/api/v1/jobs"): Spec(coordinators),
    # --- CSAF trusted provider (issue 13, part 3): a restricted (TLP:AMBER) folder's file is
    # the coordinators' (any role); TLP:CLEAR's folder and security.txt need no token (their
    # anonymous reads are tested in tests/vulns/publication/test_provider.py).
    ("GET", "/.well-known/csaf/{name}"): Spec(always, target="csaf_meta"),
    ("GET", "/.well-known/csaf/{folder}/{name}"): Spec(coordinators, target="csaf_index"),
    ("GET", "/.well-known/csaf/{folder}/{year}/{name}"): Spec(coordinators, target="csaf_amber"),
    ("GET", "/.well-known/security.txt"): Spec(always),
    ("GET", "/api/v1/jobs/{job_id}"): Spec(coordinators, target="job"),
    # Notifications (issue 14, part 8): an organisation's own webhooks and subscriptions, of
    # every kind of organisation; nobody else sees them, coordinators included. Admins manage
    # webhooks (their secrets), members manage e-mail subscriptions, everyone in it reads.
    ("POST", "/api/v1/webhooks"): Spec(
        lambda c, r: ALLOW if c.at_least(Role.admin) else FORBID,
        body=lambda t: {"url": "http://127.0.0.1:9/hook", "events": ["*"]},
        mutates=True,
    ),
    ("GET", "/api/v1/webhooks"): Spec(always),
    ("GET", "/api/v1/webhooks/{webhook_id}"): Spec(
        lambda c, r: decide(r == "own", True), target="webhook"
    ),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Spec(
        lambda c, r: decide(r == "own", c.at_least(Role.admin)), target="webhook", mutates=True
    ),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): Spec(
        lambda c, r: decide(r == "own", c.at_least(Role.admin)), target="webhook", mutates=True
    ),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): Spec(
        lambda c, r: decide(r == "own", True), target="webhook"
    ),
    ("POST", "/api/v1/deliveries/{delivery_id}/redeliver"): Spec(
        lambda c, r: decide(r == "own", c.at_least(Role.admin)),
        target="dead_delivery",
        mutates=True,
    ),
    ("POST", "/api/v1/subscriptions"): Spec(
        lambda c, r: ALLOW if c.at_least(Role.member) else FORBID,
        body=lambda t: {"email": "soc@example.org", "events": ["*"]},
        mutates=True,
    ),
    ("GET", "/api/v1/subscriptions"): Spec(always),
    ("DELETE", "/api/v1/subscriptions/{subscription_id}"): Spec(
        lambda c, r: decide(r == "own", c.at_least(Role.member)),
        target="subscription",
        mutates=True,
    ),
    # The CNA (issue 14, part 6): CVE ids and first refusal are the coordinators' desk: staff
    # (member+) reserve, publish, reject and record what another CNA said; any coordinator
    # reads. Everyone else is refused, whatever the id (CVE Services runs as a stand-in).
    ("POST", "/api/v1/cve-ids"): Spec(cna_staff, body=lambda t: {"count": 1}, mutates=True),
    ("GET", "/api/v1/cve-ids"): Spec(coordinators),
    ("GET", "/api/v1/cve-ids/{cve_id}"): Spec(coordinators, target="cve_id"),
    ("POST", "/api/v1/cve-ids/{cve_id}/publish"): Spec(
        cna_staff, target="cve_id_public", body=lambda t: {}, mutates=True
    ),
    ("POST", "/api/v1/cve-ids/{cve_id}/reject"): Spec(
        cna_staff, target="cve_id", body=lambda t: {"reason": "not used"}, mutates=True
    ),
    ("POST", "/api/v1/cna-referrals"): Spec(
        cna_staff, target="vuln", body=lambda t: {"vuln_id": t["vuln_id"]}, mutates=True
    ),
    ("POST", "/api/v1/cna-referrals/{referral_id}/decision"): Spec(
        cna_staff,
        target="cna_referral",
        body=lambda t: {"decision": "declined", "reason": "declined by mail"},
        mutates=True,
    ),
    ("POST", "/api/v1/cases"): Spec(
        lambda c, r: ALLOW if c.coordinator(Role.member) else FORBID,
        target="case_vuln",
        body=lambda t: {"vuln_ids": [t["vuln_id"]], "title": "a case", "tlp": "AMBER"},
        mutates=True,
    ),
    ("GET", "/api/v1/cases"): Spec(always),
    ("GET", "/api/v1/cases/{case_id}"): Spec(
        lambda c, r: decide(see_case(c, r), True), target="case"
    ),
    ("POST", "/api/v1/cases/{case_id}/participants"): Spec(
        case_coordinators,
        target="case",
        body=lambda t: {"org_id": t["new_org_id"], "role": "operator_group"},
        mutates=True,
    ),
    ("POST", "/api/v1/cases/{case_id}/vendor-status"): Spec(
        lambda c, r: decide(
            see_case(c, r), r == "own" and c.kind is OrgKind.vendor and c.at_least(Role.member)
        ),
        target="case",
        body=lambda t: {"status": "under_investigation"},
        mutates=True,
    ),
    # A vendor's VEX for its case (issue 15 part 4): the vendor-status rule (a member of a
    # vendor organisation of the case); coordinators are not vendors (403), nor is the group.
    ("POST", "/api/v1/cases/{case_id}/vex"): Spec(
        lambda c, r: decide(
            see_case(c, r), r == "own" and c.kind is OrgKind.vendor and c.at_least(Role.member)
        ),
        target="case",
        files=lambda t: {"file": ("vex.json", VEX)},
        mutates=True,
    ),
    ("POST", "/api/v1/cases/{case_id}/transition"): Spec(
        case_coordinators, target="case", body=lambda t: {"to": "vendors_notified"}, mutates=True
    ),
    ("POST", "/api/v1/cases/{case_id}/deadline"): Spec(
        case_coordinators,
        target="case",
        state="vendors_notified",
        body=lambda t: {"days": 5, "reason": "the vendor needs time"},
        mutates=True,
    ),
    ("POST", "/api/v1/cases/{case_id}/publish"): Spec(
        case_coordinators,
        target="case",
        state="vendors_notified",
        body=lambda t: {"reason": "the vendor shipped the fix"},
        mutates=True,
    ),
    ("GET", "/api/v1/cases/{case_id}/messages"): Spec(
        lambda c, r: decide(see_case(c, r), True), target="case"
    ),
    ("POST", "/api/v1/cases/{case_id}/messages"): Spec(
        case_writer, target="case", body=lambda t: {"body": "hello"}, mutates=True
    ),
    ("GET", "/api/v1/cases/{case_id}/timeline"): Spec(
        lambda c, r: decide(see_case(c, r), True), target="case"
    ),
    ("GET", "/api/v1/cases/{case_id}/artifacts"): Spec(
        lambda c, r: decide(see_case(c, r), case_full(c, r)), target="case"
    ),
    ("POST", "/api/v1/cases/{case_id}/artifacts"): Spec(
        case_writer, target="case", body=lambda t: ARTIFACT, mutates=True
    ),
    ("GET", "/api/v1/cases/{case_id}/artifacts/{artifact_id}/content"): Spec(
        lambda c, r: decide(see_case(c, r), case_full(c, r)), target="case_artifact"
    ),
    # fix verification and the disclosure bundle (issue 14, parts 3 and 7)
    ("POST", "/api/v1/cases/{case_id}/fixes"): Spec(
        lambda c, r: decide(
            see_case(c, r), r == "own" and c.kind is OrgKind.vendor and c.at_least(Role.member)
        ),
        target="case",
        body=lambda t: {"kind": "commit", "commit": "abcdef1"},
        mutates=True,
    ),
    ("GET", "/api/v1/cases/{case_id}/fixes"): Spec(
        lambda c, r: decide(see_case(c, r), case_full(c, r)), target="case"
    ),
    ("POST", "/api/v1/cases/{case_id}/vendors/{vendor_org_id}/fix-override"): Spec(
        case_coordinators,
        target="case",
        body=lambda t: {"reason": "reviewed by hand"},
        mutates=True,
    ),
    ("GET", "/api/v1/cases/{case_id}/bundle"): Spec(
        lambda c, r: decide(see_case(c, r), case_full(c, r)), target="case"
    ),
    # inventory (issue 15)
    ("POST", "/api/v1/assets"): Spec(
        asset_create,
        target="asset_org",
        body=lambda t: {"org_id": t["org_id"], **ASSET},
        mutates=True,
    ),
    ("GET", "/api/v1/assets"): Spec(always),
    ("GET", "/api/v1/assets/{asset_id}"): Spec(
        lambda c, r: decide(see_asset(c, r), True), target="asset"
    ),
    ("POST", "/api/v1/assets/{asset_id}/sboms"): Spec(
        inventory_writer, target="asset", files=lambda t: {"file": ("bom.json", SBOM)}, mutates=True
    ),
    ("GET", "/api/v1/assets/{asset_id}/sboms"): Spec(
        lambda c, r: decide(see_asset(c, r), True), target="asset"
    ),
    ("GET", "/api/v1/sboms/{sbom_id}/components"): Spec(
        lambda c, r: decide(see_asset(c, r), True), target="sbom"
    ),
    # inventory exposures (issue 15): the asset's rules, object by object
    ("GET", "/api/v1/exposures"): Spec(always),
    ("GET", "/api/v1/exposures/{exposure_id}"): Spec(
        lambda c, r: decide(see_asset(c, r), True), target="exposure"
    ),
    ("POST", "/api/v1/exposures/{exposure_id}/status"): Spec(
        inventory_writer,
        target="exposure",
        body=lambda t: {"status": "in_progress", "note": "matrix"},
        mutates=True,
    ),
    ("POST", "/api/v1/exposures/bulk-status"): Spec(
        inventory_writer,
        target="exposure",
        body=lambda t: {"ids": [t["exposure_id"]], "status": "in_progress"},
        mutates=True,
    ),
    ("GET", "/api/v1/inventory/metrics"): Spec(always),
    ("POST", "/api/v1/assets/{asset_id}/vex"): Spec(
        inventory_writer, target="asset", files=lambda t: {"file": ("vex.json", VEX)}, mutates=True
    ),
}


def route_table(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/api/openapi.json").json()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() for m in ops)


def test_every_route_is_covered(client: TestClient) -> None:
    routes = set(route_table(client))
    assert routes - set(SPECS) == set(), "new routes need an authorisation spec in SPECS"
    assert set(SPECS) - routes == set(), "SPECS names routes that no longer exist"


class Fixtures:
    """Builds the target objects, related to the caller's org ('own') or not ('other')."""

    def __init__(self, world: World, endpoint: str) -> None:
        self.world = world
        self.endpoint = endpoint
        self.n = itertools.count()
        self.mine = {k: world.org(k) for k in KINDS}
        self.others = {k: world.org(k) for k in KINDS}
        self.callers = {(k, r): world.member(self.mine[k], k, r) for k in KINDS for r in ROLES}
        self.lab_submitters = {
            org: world.member(org, OrgKind.lab, Role.member)
            for org in (self.mine[OrgKind.lab], self.others[OrgKind.lab])
        }
        self.agreements: dict[str, str] = {}
        self.admined: set[str] = set()
        self.cache: dict[tuple[Any, ...], dict[str, str]] = {}

    def org_for(self, caller: Caller, rel: str) -> str:
        return self.mine[caller.kind] if rel == "own" else self.others[caller.kind]

    def parties(self, caller: Caller, rel: str) -> tuple[str, str]:
        lab = (
            self.mine[OrgKind.lab]
            if (rel == "own" and caller.kind is OrgKind.lab)
            else self.others[OrgKind.lab]
        )
        ev = (
            self.mine[OrgKind.evaluator]
            if (rel == "own" and caller.kind is OrgKind.evaluator)
            else self.others[OrgKind.evaluator]
        )
        return lab, ev

    def agreement(self, lab: str, fresh: bool) -> str:
        if fresh or lab not in self.agreements:
            self.agreements[lab] = self.world.agreement(lab)
        return self.agreements[lab]

    def build(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        key = (spec.target, spec.state, caller.kind, rel)
        if not spec.mutates and key in self.cache:
            return self.cache[key]
        t = self._build(spec, caller, rel)
        if not spec.mutates:
            self.cache[key] = t
        return t

    def _build(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        t: dict[str, str] = {"n": str(next(self.n))}
        w = self.world
        lab, ev = self.parties(caller, rel)
        match spec.target:
            case "org":
                t["org_id"] = self.org_for(caller, rel)
            case "org_with_admin":
                t["org_id"] = self.org_for(caller, rel)
                if rel == "other" and t["org_id"] not in self.admined:
                    w.member(t["org_id"], caller.kind, Role.admin)
                    self.admined.add(t["org_id"])
            case "invitation":
                from clearinghouse.accounts.invitations import create_invitation
                from clearinghouse.accounts.schemas import InvitationCreate

                with w.services.db.transaction() as s:
                    t["code"] = create_invitation(
                        s,
                        Principal.system(),
                        self.org_for(caller, rel),
                        InvitationCreate(email=f"inv{t['n']}@x.org", role=Role.member),
                    ).code
            case "user":
                org = self.org_for(caller, rel)
                t["user_id"] = w.member(org, caller.kind, Role.viewer).user_id
            case "token":
                org = self.org_for(caller, rel)
                m = w.member(org, caller.kind, Role.viewer)
                with w.services.db.transaction() as s:
                    from clearinghouse.accounts.tokens import authenticate

                    t["token_id"] = authenticate(s, m.token).token_id or ""
            case "taxii_collection":  # the restricted collection: TLP:AMBER
                from clearinghouse.vulns.publication.taxii import COLLECTIONS

                t["cid"] = next(c for c, tlp in COLLECTIONS.items() if tlp.value == "AMBER")
            case "lab":
                t["lab_org_id"] = lab
            case "agreement":
                t["agreement_id"] = self.agreement(lab, spec.mutates)
                t["evaluator_org_id"] = ev
            case "submission" | "report" | "delivered_report":
                t.update(self._submission(lab, ev, spec))
            case "eval_run":
                sub = self._submission(lab, ev, spec)
                from clearinghouse.evals.runs import services as evals
                from clearinghouse.evals.schemas import RunCreate

                with w.services.db.transaction() as s:
                    t["run_id"] = evals.create_run(
                        s,
                        Principal.system(),
                        w.services,
                        RunCreate(submission_id=sub["submission_id"], limit=1),
                    ).id
            case "vuln":
                from clearinghouse.vulns.osv import canonical
                from clearinghouse.vulns.records import upsert

                with w.services.db.transaction() as s:
                    upsert(
                        s,
                        canonical(
                            {
                                "id": f"TEST-{t['n']}",
                                "modified": "2026-01-01T00:00:00Z",
                                "affected": [
                                    {
                                        "package": {"ecosystem": "PyPI", "name": "demo"},
                                        "ranges": [
                                            {
                                                "type": "ECOSYSTEM",
                                                "events": [{"introduced": "0"}, {"fixed": "2.0"}],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ),
                    )
                t["vuln_id"] = f"TEST-{t['n']}"
            case "vuln_report" | "candidate" | "merge":
                t.update(self._reported(spec, caller, rel))
            case "case_vuln" | "case" | "case_artifact":
                t.update(self._case(spec, caller, rel))
            case "reference_model":
                from clearinghouse.evals.reference import create_reference_model
                from clearinghouse.evals.schemas import ReferenceModelCreate

                with w.services.db.transaction() as s:
                    t["reference_model_id"] = create_reference_model(
                        s,
                        Principal.system(),
                        w.services.vault,
                        ReferenceModelCreate.model_validate(
                            {
                                "name": f"matrix-{t['n']}",
                                "model": "openai-api/ref/m",
                                "base_url": self.endpoint,
                                "api_key": KEY,
                            }
                        ),
                        allow_private=True,
                    ).id
            case "job":
                with w.services.db.transaction() as s:
                    t["job_id"] = jobs.enqueue(s, "reviews.lapse_windows", {}).id
            case "webhook" | "dead_delivery" | "subscription":
                t.update(self._notifications(spec, caller, rel))
            case "asset_org":  # inventory (issue 15): whose asset the body registers
                coordinator = caller.kind is OrgKind.coordinator
                t["org_id"] = (
                    self.others[OrgKind.operator] if coordinator else self.org_for(caller, rel)
                )
            case "asset" | "sbom" | "exposure":
                t.update(self._inventory(spec, caller, rel))
            case "cve_id" | "cve_id_public" | "cna_referral":
                t.update(self._cna(spec.target, t["n"]))
            case "csaf_amber" | "csaf_index" | "csaf_meta":
                from sqlalchemy import update

                from clearinghouse.vulns.models import Vulnerability
                from clearinghouse.vulns.publication.provider import build

                www = w.services.settings.var_dir / "csaf" / "www"
                if not (www / "amber" / "index.txt").exists():
                    amber = self._build(Spec(always, target="vuln"), caller, rel)["vuln_id"]
                    with w.services.db.transaction() as s:
                        s.execute(
                            update(Vulnerability)
                            .where(Vulnerability.source_id == amber)
                            .values(tlp="AMBER")
                        )
                    build(w.services, Principal.system())
                year, name = (www / "amber" / "index.txt").read_text().split()[0].split("/")
                t.update(folder="amber", year=year, name=name)
                if spec.target == "csaf_meta":  # the top level: the public metadata
                    t["name"] = "provider-metadata.json"
                if spec.target == "csaf_index":  # a folder's file
                    t["name"] = "index.txt"
            case "checkpoint":
                from clearinghouse.audit import trail as audit
                from clearinghouse.audit.schemas import Actor

                with w.services.db.transaction() as s:
                    audit.write_checkpoint(s, Actor())
        return t

    def _cna(self, target: str, n: str) -> dict[str, str]:
        """A CVE id reserved from the stand-in (for a public record: one to publish), or a
        first-refusal referral for a record in Apache's scope."""
        from clearinghouse.coordination.cna import ids
        from clearinghouse.coordination.cna.schemas import CveReserve
        from clearinghouse.vulns.osv import canonical
        from clearinghouse.vulns.records import upsert

        svc, system = self.world.services, Principal.system()
        if target == "cve_id":
            (row,) = ids.reserve(svc.db, system, svc.settings, CveReserve())
            return {"cve_id": row.cve_id}
        package = ("Maven", "org.apache.logging.log4j:log4j-core")
        if target == "cve_id_public":
            package = ("PyPI", "demo")
        with svc.db.transaction() as s:
            doc = {
                "id": f"CNA-{n}",
                "modified": "2026-01-01T00:00:00Z",
                "summary": "a flaw",
                "affected": [{"package": {"ecosystem": package[0], "name": package[1]}}],
            }
            upsert(s, canonical(doc))
            if target == "cna_referral":
                referral = ids.first_refusal(s, system, svc.settings, f"CNA-{n}")
                return {"referral_id": referral.id or ""}
        (row,) = ids.reserve(svc.db, system, svc.settings, CveReserve(vuln_id=f"CNA-{n}"))
        return {"cve_id": row.cve_id}

    def _reported(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        """Records reported by the caller's organisation ('own') or another one of its kind."""
        from clearinghouse.core.ids import new_id
        from clearinghouse.vulns.dedup import candidates, merges
        from clearinghouse.vulns.models import DuplicateCandidate
        from clearinghouse.vulns.reports import submit_report
        from clearinghouse.vulns.schemas import ReportCreate as VulnReport

        w = self.world
        reporter = Principal(None, self.org_for(caller, rel), caller.kind, Role.member)
        with w.services.db.transaction() as s:
            a, b = (
                submit_report(s, reporter, w.services.vault, VulnReport.model_validate(VULN_REPORT))
                for _ in range(2)
            )
            t = {"report_id": a.id, "vuln_id": a.vuln_id, "vuln_a": a.vuln_id, "vuln_b": b.vuln_id}
            if spec.target == "candidate":
                first, second = sorted((a.vuln_id, b.vuln_id))
                s.add(
                    DuplicateCandidate(
                        id=new_id("dup"),
                        vuln_a=first,
                        vuln_b=second,
                        rule="alias",
                        score=1.0,
                        created_at=utcnow(),
                    )
                )
                s.flush()
                t["candidate_id"] = candidates.list_candidates(
                    s, Principal.system(), vuln_id=a.vuln_id
                )[0].id
            if spec.target == "merge":
                t["merge_id"] = merges.merge(s, Principal.system(), [a.vuln_id, b.vuln_id]).id
        return t

    def _notifications(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        """A webhook (with one dead delivery) or a subscription of the caller's organisation
        ('own') or of another one of its kind."""
        from clearinghouse.notifications import subscriptions, webhooks
        from clearinghouse.notifications.fanout import fan_out
        from clearinghouse.notifications.models import Delivery
        from clearinghouse.notifications.outbox import EVERYONE, Variant, emit
        from clearinghouse.notifications.schemas import SubscriptionCreate, WebhookCreate

        w = self.world
        owner = Principal(None, self.org_for(caller, rel), caller.kind, Role.admin)
        with w.services.db.transaction() as s:
            if spec.target == "subscription":
                body = SubscriptionCreate(email="soc@example.org", events=["*"])
                return {"subscription_id": subscriptions.create_subscription(s, owner, body).id}
            hook = webhooks.create_webhook(
                s,
                owner,
                w.services.vault,
                w.services.settings,
                WebhookCreate(url="http://127.0.0.1:9/hook", events=["*"]),
            )
            t = {"webhook_id": hook.id}
            if spec.target == "dead_delivery":
                n = emit(s, "vuln.published", "X", {"p": Variant({})}, {EVERYONE: "p"})
                fan_out(s, n.id, 1)
                d = s.scalars(select(Delivery).where(Delivery.webhook_id == hook.id)).one()
                d.status = "dead"
                t["delivery_id"] = d.id
        return t

    def _inventory(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        """An asset (and, for 'sbom', its SBOM) of the caller's operator ('own') or of another
        operator."""
        from clearinghouse.inventory import assets
        from clearinghouse.inventory.schemas import AssetCreate

        mine = caller.kind is OrgKind.operator and rel == "own"
        org = self.mine[OrgKind.operator] if mine else self.others[OrgKind.operator]
        with self.world.services.db.transaction() as s:
            body = AssetCreate.model_validate({"org_id": org, **ASSET})
            t = {"asset_id": assets.create_asset(s, Principal.system(), body).id}
        if spec.target == "sbom":
            from clearinghouse.inventory.sboms import intake

            with self.world.services.db.transaction() as s:
                t["sbom_id"] = intake.upload(
                    s, Principal.system(), self.world.services.settings, t["asset_id"], SBOM
                ).id
        if spec.target == "exposure":
            from clearinghouse.core.ids import new_id
            from tests.inventory.exposure_support import exposure, import_record, osv_doc

            with self.world.services.db.transaction() as s:
                vuln = import_record(s, osv_doc(f"PYSEC-MATRIX-{new_id('x')}"))
                t["exposure_id"] = exposure(s, t["asset_id"], vuln)
        return t

    def _case(self, spec: Spec, caller: Caller, rel: str) -> dict[str, str]:
        """A case reported by another lab with another vendor; for 'own', the caller's
        organisation joins in the role its kind plays."""
        from clearinghouse.coordination import artifacts, cases, participants
        from clearinghouse.coordination.schemas import (
            ArtifactCreate,
            CaseCreate,
            ParticipantCreate,
            TransitionCreate,
        )
        from clearinghouse.vulns.reports import submit_report
        from clearinghouse.vulns.schemas import ReportCreate as VulnReport

        w, system = self.world, Principal.system()
        reporter = Principal(None, self.others[OrgKind.lab], OrgKind.lab, Role.member)
        role = {OrgKind.vendor: "vendor", OrgKind.operator: "operator_group"}.get(
            caller.kind, "reporter"
        )
        with w.services.db.transaction() as s:
            report = submit_report(
                s, reporter, w.services.vault, VulnReport.model_validate(VULN_REPORT)
            )
            t = {"vuln_id": report.vuln_id, "new_org_id": self.others[OrgKind.operator]}
            if spec.target == "case_vuln":
                return t
            cid = cases.create_case(
                s, system, CaseCreate(vuln_ids=[report.vuln_id], title="matrix case")
            ).id
            t["case_id"] = cid
            t["vendor_org_id"] = self.others[OrgKind.vendor]
            joining = [(self.others[OrgKind.vendor], "vendor")]
            if rel == "own" and caller.kind is not OrgKind.coordinator:
                joining.append((self.mine[caller.kind], role))
            for org, as_role in joining:
                participants.add_participant(
                    s,
                    system,
                    cid,
                    ParticipantCreate.model_validate({"org_id": org, "role": as_role}),
                )
            if spec.state:
                cases.transition(
                    s, system, cid, TransitionCreate.model_validate({"to": spec.state})
                )
            if spec.target == "case_artifact":
                t["artifact_id"] = artifacts.upload(
                    s,
                    system,
                    w.services.blobs,
                    cid,
                    ArtifactCreate.model_validate(ARTIFACT),
                    max_bytes=1024,
                ).id
        return t

    def _submission(self, lab: str, ev: str, spec: Spec) -> dict[str, str]:
        w = self.world
        sid = w.submission(
            self.agreement(lab, False),
            self.lab_submitters[lab],
            ev,
            endpoint_url=self.endpoint,
            api_key=KEY,
        )
        system = Principal.system()
        with w.services.db.transaction() as s:
            sub = s.get(Submission, sid)
            assert sub is not None
            now = utcnow()
            if spec.state != "submitted":
                sub.state = "testing"  # reports may be added from testing on
                sub.window_opened_at, sub.deadline = now, now + timedelta(days=30)
            if spec.target in {"report", "delivered_report"}:
                reports.add_report(
                    s,
                    system,
                    w.services.blobs,
                    sid,
                    ReportCreate(title="r", media_type=ReportMediaType.html, content="<p>x</p>"),
                )
            if spec.state:
                sub.state = spec.state
            if spec.target == "delivered_report":
                reports.deliver_report(s, system, w.services.settings, sid, 1)
        return {"submission_id": sid, "version": "1"}


@pytest.fixture
def fixtures(world: World) -> Iterator[Fixtures]:
    with openai_endpoint(KEY) as (endpoint, _), cve_services() as (cve_url, _):
        configure(world.services.settings, cve_url)
        yield Fixtures(world, endpoint)


def _call(
    client: TestClient, method: str, path: str, spec: Spec, member: Member | None, t: dict[str, str]
):
    url = path.format(**t) + spec.query
    body = spec.body(t) if spec.body else None
    headers = member.headers if member else {}
    if spec.files is not None:
        return client.request(method, url, headers=headers, files=spec.files(t))
    if spec.upload is not None:
        headers = {**headers, "Content-Type": "application/gzip"}
        return client.request(method, url, headers=headers, content=spec.upload(t))
    return client.request(
        method, url, headers=headers, json=body if method in {"POST", "PUT", "PATCH"} else None
    )


@pytest.mark.slow
def test_authorisation_matrix(client: TestClient, fixtures: Fixtures) -> None:
    failures: list[str] = []
    cases = 0
    for (method, path), spec in SPECS.items():
        for kind, role, rel in itertools.product(KINDS, ROLES, RELATIONS):
            if spec.target is None and rel == "other":
                continue  # no object, so no relation to vary
            caller = Caller(kind, role)
            t = fixtures.build(spec, caller, rel)
            r = _call(client, method, path, spec, fixtures.callers[(kind, role)], t)
            cases += 1
            expected = spec.expect(caller, rel)
            got = (
                ALLOW
                if r.status_code < 300
                else {403: FORBID, 404: HIDE}.get(r.status_code, f"HTTP {r.status_code}")
            )
            if got != expected:
                failures.append(
                    f"{method} {path} as {kind.value}/{role.value} on {rel}: expected {expected}, "
                    f"got {r.status_code} {r.text[:160]}"
                )
            if got in {FORBID, HIDE} and r.headers["content-type"] != "application/problem+json":
                failures.append(f"{method} {path}: denial is not problem+json")
    assert not failures, f"{len(failures)} of {cases} cases wrong:\n" + "\n".join(failures[:40])


# Under /api/v1 but public by design, each tested for what it does accept: redeeming an
# invitation (the code is the credential), and the key that verifies audit checkpoints.
PUBLIC_API_ROUTES = {
    ("POST", "/api/v1/invitations/accept"),
    ("GET", "/api/v1/audit/checkpoint-key"),
}


def test_unauthenticated_requests_get_401_on_every_api_route(client: TestClient) -> None:
    for method, path in route_table(client):
        if not path.startswith("/api/v1/") or (method, path) in PUBLIC_API_ROUTES:
            continue
        url = path.replace("{", "").replace("}", "")
        r = client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["code"] == "unauthenticated"


def test_listings_show_only_what_the_caller_may_see(client: TestClient, fixtures: Fixtures) -> None:
    lab_own = fixtures.build(
        SPECS[("GET", "/api/v1/submissions/{submission_id}")],
        Caller(OrgKind.lab, Role.viewer),
        "own",
    )
    other = fixtures.build(
        SPECS[("GET", "/api/v1/submissions/{submission_id}")],
        Caller(OrgKind.lab, Role.viewer),
        "other",
    )
    ev_own = fixtures.build(
        SPECS[("GET", "/api/v1/submissions/{submission_id}")],
        Caller(OrgKind.evaluator, Role.viewer),
        "own",
    )

    def ids(kind: OrgKind, path: str) -> set[str]:
        r = client.get(path, headers=fixtures.callers[(kind, Role.viewer)].headers)
        assert r.status_code == 200
        return {x["id"] for x in r.json()["items"]}

    assert ids(OrgKind.lab, "/api/v1/submissions") == {lab_own["submission_id"]}
    assert ids(OrgKind.evaluator, "/api/v1/submissions") == {ev_own["submission_id"]}
    assert {lab_own["submission_id"], other["submission_id"], ev_own["submission_id"]} <= ids(
        OrgKind.coordinator, "/api/v1/submissions"
    )
    for outsider in (OrgKind.vendor, OrgKind.operator):
        assert ids(outsider, "/api/v1/submissions") == set()
        assert ids(outsider, "/api/v1/agreements") == set()
        assert ids(outsider, "/api/v1/orgs") == {fixtures.mine[outsider]}


def test_read_only_token_cannot_write(client: TestClient, world: World) -> None:
    org = world.org(OrgKind.coordinator)
    ro = world.member(org, OrgKind.coordinator, Role.admin, scopes=["read"])
    r = client.post("/api/v1/orgs", headers=ro.headers, json={"name": "x", "kind": "lab"})
    assert r.status_code == 403 and r.json()["code"] == "scope_missing"
    assert client.get("/api/v1/orgs", headers=ro.headers).status_code == 200
    # and it cannot mint itself a stronger token
    r = client.post(
        "/api/v1/tokens",
        headers=ro.headers,
        json={"user_id": ro.user_id, "scopes": ["read", "write"]},
    )
    assert r.status_code == 403 and r.json()["code"] == "scope_missing"
