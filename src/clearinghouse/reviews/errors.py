from clearinghouse.core.errors import Conflict, InvalidInput, UpstreamFailure


class AgreementWithdrawn(Conflict):
    default_code = "agreement_withdrawn"


class EndpointRefused(InvalidInput):
    """The endpoint URL is not acceptable (scheme, or a private address in production)."""

    default_code = "endpoint_refused"


class AccessVerificationFailed(UpstreamFailure):
    default_code = "access_verification_failed"


class DeadlinePassed(Conflict):
    default_code = "deadline_passed"
