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


# A vertical tab before "chunked": a front end that does not treat it as whitespace sees an
# unknown transfer coding and frames the request by its Content-Length instead.
request = (
    b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding:\x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
)
parser = parse(request)
print("completed", parser.completed, "error", parser.error, "headers", parser.headers)
if parser.completed and parser.error is None and parser.chunked:
    print("VULNERABLE: a Transfer-Encoding header padded with \\x0b was honoured:", parser.get_body_stream().read())
