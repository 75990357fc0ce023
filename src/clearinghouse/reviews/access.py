"""Checking that a lab's OpenAI-compatible endpoint answers with the key it gave us.

`GET {endpoint_url}/models` with the key as a bearer token, through the outbound policy
(`core/net.py`, docs/outbound.md): the URL is checked when it is stored, and again at connect
time, where every address the host resolves to is checked and the connection is pinned to a
checked one. Redirects are not followed (a redirect could carry the key to another host).
Errors never include the key.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from clearinghouse.core.errors import OutboundRefused
from clearinghouse.core.net import OutboundPolicy, check_url, guarded_client
from clearinghouse.reviews.errors import AccessVerificationFailed, EndpointRefused


@dataclass(frozen=True)
class AccessCheck:
    models: list[str]


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
