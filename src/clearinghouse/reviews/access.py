"""A submission's access to the model: the lab's endpoint and the key it gave us.

The endpoint URL is checked against the outbound policy (`core/net.py`, docs/outbound.md) when
it is stored. Probing it (`ModelProber`; `HttpModelProber` is the real one) means `GET {endpoint_url}/models` with the key as a
bearer token, through the same policy at connect time: every address the host resolves to is
checked and the connection is pinned to a checked one. Redirects are not followed (a redirect
could carry the key to another host), and errors never include the key. The key is sealed in
the vault, revealed only at the moment of use and destroyed when the review ends; both are
audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
from sqlalchemy.orm import Session

from clearinghouse.accounts.policy import Principal
from clearinghouse.audit import trail as audit
from clearinghouse.core.errors import InvalidInput, OutboundRefused
from clearinghouse.core.events import AuditTag
from clearinghouse.core.net import OutboundPolicy, check_url, guarded_client
from clearinghouse.reviews.errors import AccessVerificationFailed, EndpointRefused
from clearinghouse.reviews.models import Submission
from clearinghouse.storage.vault import Vault


@dataclass(frozen=True)
class AccessCheck:
    models: list[str]


class ModelProber(Protocol):
    """Asks a lab's OpenAI-compatible endpoint which models the key reaches: the one call
    verify-access makes to the outside world.

    Raises `AccessVerificationFailed` when the endpoint is unreachable, refuses the key or does
    not answer like `/v1/models`, and `EndpointRefused` when the outbound policy forbids the
    connection. Tests use an in-memory twin (tests/support/prober.py).
    """

    def probe(self, endpoint_url: str, api_key: str) -> AccessCheck: ...


@dataclass(frozen=True)
class HttpModelProber:
    """The real prober: `GET {endpoint_url}/models` through `core.net`'s guarded client."""

    policy: OutboundPolicy

    def probe(self, endpoint_url: str, api_key: str) -> AccessCheck:
        return check_models_endpoint(endpoint_url, api_key, self.policy)


def _endpoint_refused(exc: OutboundRefused) -> EndpointRefused:
    return EndpointRefused(exc.detail, code=exc.code, **exc.extra)


def validate_endpoint_url(
    url: str, *, allow_private: bool, policy: OutboundPolicy | None = None
) -> str:
    """The creation-time check (`core.net.check_url`); returns the URL without a trailing /."""
    try:
        check_url(url, policy or OutboundPolicy(allow_private=allow_private), name="endpoint_url")
    except OutboundRefused as exc:
        raise _endpoint_refused(exc) from None
    return url.rstrip("/")


def check_models_endpoint(url: str, api_key: str, policy: OutboundPolicy) -> AccessCheck:
    target = url.rstrip("/") + "/models"
    try:
        with guarded_client(policy) as client:
            response = client.get(
                target, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
            )
    except OutboundRefused as exc:
        raise _endpoint_refused(exc) from None
    except httpx.HTTPError as exc:
        raise AccessVerificationFailed(
            f"could not reach {target}: {type(exc).__name__}", code="endpoint_unreachable"
        ) from None
    if response.status_code in (401, 403):
        raise AccessVerificationFailed(
            f"{target} refused the API key (HTTP {response.status_code})",
            code="endpoint_rejected_key",
        )
    if response.status_code != 200:
        raise AccessVerificationFailed(
            f"{target} answered HTTP {response.status_code}", code="endpoint_error"
        )
    try:
        body = response.json()
        models = [str(m["id"]) for m in body["data"]]
    except (ValueError, KeyError, TypeError):
        raise AccessVerificationFailed(
            f"{target} did not answer like an OpenAI-compatible /v1/models",
            code="endpoint_not_openai_compatible",
        ) from None
    return AccessCheck(models=models[:100])


def reveal_api_key(
    session: Session, p: Principal, vault: Vault, sub: Submission, purpose: str
) -> str:
    """Decrypt the model key at the moment of use, and audit that it was read. The caller has
    loaded `sub` through the policy."""
    if sub.api_key_sealed_id is None:
        raise InvalidInput(
            "this submission has no API key (withdrawn, ended, or weights-only)", code="no_api_key"
        )
    key = vault.reveal_text(session, sub.api_key_sealed_id)
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_SECRET_REVEAL,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"purpose": purpose},
    )
    return key


def destroy_api_key(
    session: Session, p: Principal, vault: Vault, sub: Submission, reason: str
) -> None:
    """Crypto-shred the model key (the sealed row stays for the trail); a no-op without one."""
    if sub.api_key_sealed_id is None:
        return
    vault.destroy(session, sub.api_key_sealed_id)
    sub.api_key_sealed_id = None
    audit.record(
        session,
        AuditTag.REVIEWS_SUBMISSION_SECRET_DESTROY,
        actor=p.actor,
        subject_type="submission",
        subject_id=sub.id,
        data={"reason": reason},
    )
