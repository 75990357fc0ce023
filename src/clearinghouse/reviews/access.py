"""Checking that a lab's OpenAI-compatible endpoint answers with the key it gave us.

`GET {endpoint_url}/models` with the key as a bearer token. Redirects are not followed (a
redirect could carry the key to another host). In production the endpoint must be https and
must not resolve to a loopback, private or link-local address (no SSRF into our network).
Errors never include the key.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from clearinghouse.reviews.errors import AccessVerificationFailed, EndpointRefused


@dataclass(frozen=True)
class AccessCheck:
    models: list[str]


def validate_endpoint_url(url: str, *, allow_private: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EndpointRefused("endpoint_url must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise EndpointRefused("endpoint_url must not carry credentials; send the key as api_key")
    if allow_private:
        return url.rstrip("/")
    if parts.scheme != "https":
        raise EndpointRefused("endpoint_url must use https")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise EndpointRefused(f"endpoint host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
        ):
            raise EndpointRefused("endpoint_url resolves to a private or loopback address")
    return url.rstrip("/")


def check_models_endpoint(url: str, api_key: str, *, timeout: float) -> AccessCheck:
    target = url.rstrip("/") + "/models"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(
                target, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
            )
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
