"""Why a caller is not authenticated: each a stable `code` answered with 401."""

from clearinghouse.core.errors import Unauthenticated


class TokenInvalid(Unauthenticated):
    default_code = "token_invalid"


class TokenExpired(Unauthenticated):
    default_code = "token_expired"


class TokenRevoked(Unauthenticated):
    default_code = "token_revoked"


class InvitationInvalid(Unauthenticated):
    """An invitation code that is unknown, already used, expired or superseded."""

    default_code = "invitation_invalid"
