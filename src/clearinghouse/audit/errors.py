from clearinghouse.core.errors import ClearinghouseError


class AuditChainBroken(ClearinghouseError):
    status = 500
    default_code = "audit_chain_broken"
    title = "Audit chain broken"
