from clearinghouse.core.errors import InvalidInput


class InvalidRecord(InvalidInput):
    default_code = "record_invalid"


class HostileFile(InvalidInput):
    default_code = "file_refused"
