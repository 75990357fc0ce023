"""The error hierarchy.

Every error the product raises on purpose derives from `ClearinghouseError` and carries a stable
machine `code`. The API renders it as problem+json (RFC 9457) with that code; the CLI prints the
message and exits non-zero. Domain code raises these and never imports FastAPI.

* ClearinghouseError
  + InvalidInput               (422)  input is well-formed JSON but breaks a rule
    - OutboundRefused          (422)  an outbound URL or address the outbound policy refuses
  + Unauthenticated            (401)  missing, unknown, expired or revoked credentials
  + PermissionDenied           (403)  the principal may see the object but not do this to it
  + NotFound                   (404)  unknown id, or an object the principal may not see
  + Conflict                   (409)  the request clashes with the object's current state
    - IllegalTransition        (409)  a review state machine move that is not allowed
  + UpstreamFailure            (502)  a remote system (a lab's model endpoint) misbehaved
  + ConfigurationError         (500)  the deployment is misconfigured (refuses to start)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ClearinghouseError(Exception):
    """Root of every deliberate error. `code` is stable and safe to show to clients."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra = extra

    def diagnostics(self) -> str:
        """A one-paragraph explanation for humans (the CLI prints this)."""
        return f"{self.title} [{self.code}]: {self.detail}"


class InvalidInput(ClearinghouseError):
    status = 422
    default_code = "invalid_input"
    title = "Invalid input"


class OutboundRefused(InvalidInput):
    """The outbound policy (`core/net.py`) refuses a URL or the address it resolves to.

    Raised when a URL is stored and again at connect time, before any byte is sent. The
    `reason` extra says which rule (scheme, credentials, https_required, unresolvable, address).
    """

    default_code = "endpoint_refused"
    title = "Outbound destination refused"


class Unauthenticated(ClearinghouseError):
    status = 401
    default_code = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(ClearinghouseError):
    status = 403
    default_code = "permission_denied"
    title = "Permission denied"


class NotFound(ClearinghouseError):
    status = 404
    default_code = "not_found"
    title = "Not found"


class Conflict(ClearinghouseError):
    status = 409
    default_code = "conflict"
    title = "Conflict"


class IllegalTransition(Conflict):
    default_code = "illegal_transition"
    title = "Illegal state transition"


class UpstreamFailure(ClearinghouseError):
    status = 502
    default_code = "upstream_failure"
    title = "Upstream failure"


class ConfigurationError(ClearinghouseError):
    status = 500
    default_code = "configuration_error"
    title = "Configuration error"
