"""The CNA's errors, each with a stable code."""

from __future__ import annotations

from clearinghouse.core.errors import Conflict, NotFound, UpstreamFailure


class CnaNotConfigured(Conflict):
    """The deployment is not a CNA (no CVE Services URL, user or key): a state of the instance,
    not a server fault, so a 409 that says what to set."""

    default_code = "cna_not_configured"
    title = "The CNA is not configured"


class CnaScopeOther(Conflict):
    """The product is in another CNA's scope, and that CNA has not declined (first refusal)."""

    default_code = "cna_scope_other"
    title = "Another CNA owns this product"


class CveIdNotOurs(NotFound):
    """An id we did not reserve (unknown here): we never publish or reject those."""

    default_code = "cve_id_not_reserved"


class CveServicesRefused(Conflict):
    """CVE Services answered 4xx: it refused the request (its own error name is kept)."""

    default_code = "cve_services_refused"
    title = "CVE Services refused the request"


class CveServicesFailed(UpstreamFailure):
    """CVE Services could not be reached, or answered 5xx or something that is not JSON."""

    default_code = "cve_services_unavailable"
