from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser


def parse(data):
    parser = HTTPRequestParser(Adjustments())
    while data and not parser.completed:
        used = parser.received(data)
        if not used:
            break
        data = data[used:]
    return parser


# "0x5" is not a valid chunk size (RFC 7230 allows hex digits only); Python's int(x, 16)
# accepts it, so a front end and waitress disagree on where the body ends.
request = (
    b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"+5\r\nhello\r\n0\r\n\r\n"
)
parser = parse(request)
print("completed", parser.completed, "error", parser.error)
if parser.completed and parser.error is None:
    print("VULNERABLE: the chunk size +5 was accepted, body", parser.get_body_stream().read())
