"""CVE Services through `cvelib` (Red Hat's CNA client), with every request sent through our
outbound policy.

cvelib's `CveApi` sends all its requests from one method, `_http_request`, with the module
function `requests.request` (no session or transport to hand it). We subclass it and replace
that one method: the same method, path, headers (CVE-API-ORG, CVE-API-USER, CVE-API-KEY) and
body, sent with `core.net.guarded_client` (addresses checked at connect time and pinned, no
redirects, no proxies from the environment). Everything else (the paths, the CNA container
handling, cvelib's schema validation before a publish or a reject) stays cvelib's.
The configured URL is also checked with `check_url` before each call, so a bad URL gets a
clear error before anything is sent.

Errors never carry a header or the key: a refusal keeps CVE Services' own error name
(`CVEID_ORG_DOES_NOT_MATCH`, `CVE_RECORD_EXISTS`, ...) and a bounded message.
"""

from __future__ import annotations

from typing import Any

import httpx
from cvelib.cve_api import CveApi, CveRecordValidationError

from clearinghouse.coordination.cna.errors import (
    CnaNotConfigured,
    CveServicesFailed,
    CveServicesRefused,
)
from clearinghouse.core.config import Settings
from clearinghouse.core.errors import InvalidInput
from clearinghouse.core.net import OutboundPolicy, check_url, guarded_client

__all__ = ["CveRecordValidationError", "CveServices", "cve_services", "record_invalid"]


class CveServices(CveApi):  # type: ignore[misc]  # cvelib ships no type information
    """cvelib's client, sending through the outbound policy."""

    def __init__(
        self, *, url: str, org: str, user: str, api_key: str, policy: OutboundPolicy
    ) -> None:
        super().__init__(username=user, org=org, api_key=api_key, url=url)
        self._policy = policy

    def _http_request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        check_url(self.url, self._policy, name="cve_services_url")
        url = httpx.URL(self.url).join(path)  # urljoin, as cvelib does
        headers = {
            "CVE-API-KEY": self.api_key,
            "CVE-API-ORG": self.org,
            "CVE-API-USER": self.username,
        }
        try:
            with guarded_client(self._policy) as client:
                response = client.request(method.upper(), url, headers=headers, **kwargs)
                response.read()
        except httpx.HTTPError as exc:
            raise CveServicesFailed(
                f"CVE Services did not answer {method.upper()} {path}: {type(exc).__name__}"
            ) from None
        if response.status_code >= 400:
            raise _refusal(response, method, path)
        return response


def _refusal(response: httpx.Response, method: str, path: str) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    name = str(body.get("error") or "")[:80]
    message = str(body.get("message") or "")[:300]
    what = f"{method.upper()} {path} answered {response.status_code} {name}: {message}".strip()
    if response.status_code >= 500:
        return CveServicesFailed(f"CVE Services failed: {what}")
    return CveServicesRefused(
        f"CVE Services refused: {what}", upstream_status=response.status_code, upstream_error=name
    )


def record_invalid(exc: CveRecordValidationError) -> InvalidInput:
    """cvelib's schema check refused a container before it was sent."""
    first = "; ".join(str(e.message)[:200] for e in (exc.errors or [])[:3])
    return InvalidInput(
        f"the CVE record is not valid CVE JSON 5: {first}", code="cve_record_invalid"
    )


def cve_services(settings: Settings, policy: OutboundPolicy | None = None) -> CveServices:
    """The client for this deployment, or `cna_not_configured` when it is not a CNA."""
    key = settings.cve_services_api_key
    if not settings.cve_services_url or not settings.cve_services_user or key is None:
        raise CnaNotConfigured(
            "this instance is not configured as a CNA: set CLEARINGHOUSE_CVE_SERVICES_URL, "
            "CLEARINGHOUSE_CVE_SERVICES_USER and CLEARINGHOUSE_CVE_SERVICES_API_KEY "
            "(docs/cna.md)"
        )
    return CveServices(
        url=settings.cve_services_url,
        org=settings.cve_cna_short_name,
        user=settings.cve_services_user,
        api_key=key.get_secret_value(),
        policy=policy or OutboundPolicy.from_settings(settings),
    )
