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
parser = parse(b"POST / HTTP/1.1\nHost: example.com\nContent-Length: 5\n\nhello")
print("completed", parser.completed, "error", parser.error, "headers", parser.headers)
if parser.completed and parser.error is None and parser.headers.get("CONTENT_LENGTH") == "5":
    print("VULNERABLE: bare-LF header lines accepted:", parser.get_body_stream().read())
