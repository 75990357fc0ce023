"""Functional checks of gunicorn's WSGI response writer."""

import socket

from gunicorn.http.wsgi import Response

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


class Request:
    version = (1, 1)
    method = "GET"

    def should_close(self):
        return False


def respond(status, headers, body):
    server, client = socket.socketpair()
    response = Response(Request(), server, None)
    write = response.start_response(status, headers)
    write(body)
    response.close()
    server.close()
    raw = b""
    while chunk := client.recv(65536):
        raw += chunk
    client.close()
    return raw


raw = respond("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")], b"hello")
head, _, body = raw.partition(b"\r\n\r\n")
check(head.startswith(b"HTTP/1.1 200 OK\r\n"), "the status line")
check(b"\r\nContent-Type: text/plain" in head, "an application header")
check(body == b"hello", "the body")
raw = respond("302 Found", [("Location", "/next?a=1&b=two words")], b"")
check(b"\r\nLocation: /next?a=1&b=two words\r\n" in raw, "a redirect with spaces in the value")
raw = respond("200 OK", [("X-Trimmed", "  v  ")], b"abc")
check(b"\r\nX-Trimmed: v\r\n" in raw, "values are trimmed")
check(b"Transfer-Encoding: chunked" in raw and b"3\r\nabc\r\n" in raw, "chunked without a length")
print(f"FUNCTIONAL OK ({checks} checks)")
