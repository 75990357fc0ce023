from clearinghouse.core.errors import ClearinghouseError


class SandboxBroken(ClearinghouseError):
    """The sandbox itself stopped working (not the command in it). Scored as an error."""

    status = 500
    default_code = "sandbox_broken"
    title = "Sandbox broken"
