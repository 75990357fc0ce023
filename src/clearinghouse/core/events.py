"""Audit tags: every kind of event the trail records, one member each.

A tag reads `domain:subject:action`. `audit.record()` takes a member of `AuditTag`; adding an
event means adding it here, so the vocabulary an auditor filters on is one list."""

from __future__ import annotations

from enum import StrEnum


class AuditTag(StrEnum):
    ACCOUNTS_INVITATION_ACCEPT = "accounts:invitation:accept"
    ACCOUNTS_INVITATION_CREATE = "accounts:invitation:create"
    ACCOUNTS_INVITATION_REFUSE = "accounts:invitation:refuse"
    ACCOUNTS_ORG_CREATE = "accounts:org:create"
    ACCOUNTS_TOKEN_CREATE = "accounts:token:create"
    ACCOUNTS_TOKEN_REVOKE = "accounts:token:revoke"
    ACCOUNTS_USER_CREATE = "accounts:user:create"
    AUDIT_CHECKPOINT_CREATE = "audit:checkpoint:create"
    AUDIT_KEY_CREATE = "audit:key:create"
    # coordination: the clearinghouse as a CNA (issue 14, part 6)
    COORDINATION_CNA_REFERRAL_CREATE = "coordination:cna-referral:create"
    COORDINATION_CNA_REFERRAL_DECIDE = "coordination:cna-referral:decide"
    COORDINATION_CVE_ID_PUBLISH = "coordination:cve-id:publish"
    COORDINATION_CVE_ID_REJECT = "coordination:cve-id:reject"
    COORDINATION_CVE_ID_RESERVE = "coordination:cve-id:reserve"
    EVALS_LOGS_EXPORT = "evals:logs:export"
    EVALS_REFERENCE_MODEL_SECRET_REVEAL = "evals:reference-model-secret:reveal"
    EVALS_REFERENCE_MODEL_CREATE = "evals:reference-model:create"
    EVALS_RUN_CREATE = "evals:run:create"
    EVALS_RUN_FINISH = "evals:run:finish"
    REVIEWS_AGREEMENT_CREATE = "reviews:agreement:create"
    REVIEWS_AGREEMENT_WITHDRAW = "reviews:agreement:withdraw"
    REVIEWS_FINDING_CREATE = "reviews:finding:create"
    REVIEWS_FINDING_READ = "reviews:finding:read"
    REVIEWS_REPORT_ACKNOWLEDGE = "reviews:report:acknowledge"
    REVIEWS_REPORT_CREATE = "reviews:report:create"
    REVIEWS_REPORT_DELIVER = "reviews:report:deliver"
    REVIEWS_REPORT_READ = "reviews:report:read"
    REVIEWS_SUBMISSION_SECRET_DESTROY = "reviews:submission-secret:destroy"
    REVIEWS_SUBMISSION_SECRET_REVEAL = "reviews:submission-secret:reveal"
    REVIEWS_SUBMISSION_ACCESS_RECHECK = "reviews:submission:access-recheck"
    REVIEWS_SUBMISSION_ACCESS_VERIFIED = "reviews:submission:access-verified"
    REVIEWS_SUBMISSION_CLOSED = "reviews:submission:closed"
    REVIEWS_SUBMISSION_CREATE = "reviews:submission:create"
    REVIEWS_SUBMISSION_FINDINGS_DRAFTED = "reviews:submission:findings-drafted"
    REVIEWS_SUBMISSION_LAPSED = "reviews:submission:lapsed"
    REVIEWS_SUBMISSION_LIST = "reviews:submission:list"
    REVIEWS_SUBMISSION_PURGE = "reviews:submission:purge"
    REVIEWS_SUBMISSION_READ = "reviews:submission:read"
    REVIEWS_SUBMISSION_REPORT_DELIVERED = "reviews:submission:report-delivered"
    REVIEWS_SUBMISSION_SUBMITTED = "reviews:submission:submitted"
    REVIEWS_SUBMISSION_TESTING = "reviews:submission:testing"
    REVIEWS_SUBMISSION_WITHDRAWN = "reviews:submission:withdrawn"
    REVIEWS_WINDOW_OPEN = "reviews:window:open"
    STORAGE_DATA_KEY_REWRAP = "storage:data-key:rewrap"
    VULNS_CANDIDATE_REJECT = "vulns:candidate:reject"
    VULNS_CWE_IMPORT = "vulns:cwe:import"
    VULNS_DEDUP_SCAN = "vulns:dedup:scan"
    VULNS_KEV_CREATE = "vulns:kev:create"
    VULNS_KEV_UPDATE = "vulns:kev:update"
    VULNS_MERGE_CREATE = "vulns:merge:create"
    VULNS_MERGE_UNDO = "vulns:merge:undo"
    VULNS_RECORDS_IMPORT = "vulns:records:import"
    VULNS_REPORT_CREATE = "vulns:report:create"
    VULNS_REPORT_OVERRIDE = "vulns:report:override"
    VULNS_VALIDATION_CREATE = "vulns:validation:create"
    VULNS_VALIDATION_FINISH = "vulns:validation:finish"
    VULNS_VULN_EXPORT = "vulns:vuln:export"
    VULNS_VULN_TRIAGE = "vulns:vuln:triage"


def submission_transition(state: str) -> AuditTag:
    """The tag for a submission entering `state` (its `reviews.states.SubmissionState` value)."""
    return AuditTag(f"reviews:submission:{state.replace('_', '-')}")
