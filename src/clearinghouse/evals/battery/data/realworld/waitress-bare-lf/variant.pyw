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


# Header lines ended by a bare LF: a front end that splits on CRLF sees a single header.
parser = parse(b"GET /a HTTP/1.1\r\nHost: example.com\nContent-Length: 3\n\nabc")
print("completed", parser.completed, "error", parser.error, "headers", parser.headers)
if parser.completed and parser.error is None and parser.headers.get("CONTENT_LENGTH") == "3":
    print("VULNERABLE: bare-LF header lines accepted:", parser.get_body_stream().read())
