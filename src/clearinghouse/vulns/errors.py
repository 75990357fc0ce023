"""The vulns domain's errors, in the one hierarchy (`core.errors`)."""

from clearinghouse.core.errors import InvalidInput


class HostileFile(InvalidInput):
    """An import file the intake refuses whole (too large, a zip bomb, not a file)."""

    default_code = "file_refused"


class FormatError(InvalidInput):
    """The document is not a valid instance of its format (CSAF, CVE 5, KEV); the message says
    why. An import lists it as the record's rejection reason."""

    default_code = "format_invalid"


class QueryError(InvalidInput):
    """A malformed OSV query (HTTP 400, as osv.dev answers; the OSV routes answer `{"code": 3}`)."""

    status = 400
    default_code = "query_invalid"
