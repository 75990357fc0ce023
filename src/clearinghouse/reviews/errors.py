"""The review program's errors, each with its stable `code` (core/errors.py)."""

from clearinghouse.core.errors import Conflict, OutboundRefused, UpstreamFailure


class AgreementWithdrawn(Conflict):
    default_code = "agreement_withdrawn"


class EndpointRefused(OutboundRefused):
    """A lab's endpoint URL breaks the outbound policy (`core/net.py`)."""

    default_code = "endpoint_refused"


class AccessVerificationFailed(UpstreamFailure):
    default_code = "access_verification_failed"


class DeadlinePassed(Conflict):
    default_code = "deadline_passed"
