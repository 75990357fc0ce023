"""Why a caller is not authenticated (each a stable `code` answered with 401), and why a web
sign-in is refused."""

from clearinghouse.core.errors import ClearinghouseError, Unauthenticated


class TokenInvalid(Unauthenticated):
    default_code = "token_invalid"


class TokenExpired(Unauthenticated):
    default_code = "token_expired"


class TokenRevoked(Unauthenticated):
    default_code = "token_revoked"


class InvitationInvalid(Unauthenticated):
    """An invitation code that is unknown, already used, expired or superseded."""

    default_code = "invitation_invalid"


class SignInRefused(ClearinghouseError):
    """A wrong e-mail, organisation or password: one message for all, so that the answer does
    not tell which was wrong."""

    status = 401
    default_code = "sign_in_refused"
    title = "Sign-in refused"


class SignInThrottled(ClearinghouseError):
    status = 429
    default_code = "sign_in_throttled"
    title = "Too many failed sign-ins"
