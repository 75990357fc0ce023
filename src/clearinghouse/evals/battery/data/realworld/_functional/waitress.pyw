"""Functional checks of waitress's request parser on well-formed requests."""

from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


def parse(data):
    parser = HTTPRequestParser(Adjustments())
    while data and not parser.completed:
        used = parser.received(data)
        if not used:
            break
        data = data[used:]
    return parser, data


p, rest = parse(b"GET /path/x?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
check(p.completed and p.error is None, "a GET parses")
check((p.command, p.path, p.query) == ("GET", "/path/x", "a=1&b=2"), "method, path and query")
check(p.headers["HOST"] == "example.com" and p.headers["ACCEPT"] == "*/*", "headers")
p, rest = parse(b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world")
check(p.completed and p.get_body_stream().read() == b"hello world", "a Content-Length body")
p, rest = parse(
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)
check(p.completed and p.error is None and p.get_body_stream().read() == b"hello world", "a chunked body")
p, rest = parse(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
check(p.path == "/a" and rest.startswith(b"GET /b"), "pipelined requests stay apart")
p, rest = parse(b"GET / HTTP/1.0\r\n\r\n")
check(p.completed and p.version == "1.0", "HTTP/1.0")
p, rest = parse(b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: a  b\r\n\r\n")
check(p.headers["X_LONG"] == "a  b", "inner whitespace of a value is kept")
print(f"FUNCTIONAL OK ({checks} checks)")
