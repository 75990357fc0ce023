"""Functional checks of urllib3 against a server on the loopback."""

import http.server
import threading

import urllib3

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


seen = {}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        seen[self.path] = (dict(self.headers), self._body())
        if self.path == "/same":
            self._reply(302, headers=[("Location", "/landing")])
        elif self.path == "/other":
            self._reply(302, headers=[("Location", f"http://localhost:{port}/landing")])
        else:
            self._reply(200, b"hello " + self.path.encode())

    def do_POST(self):
        seen[self.path] = (dict(self.headers), self._body())
        if self.path == "/see-other":
            self._reply(303, headers=[("Location", "/result")])
        else:
            self._reply(200, b"posted")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{port}"
pool = urllib3.PoolManager()

r = pool.request("GET", base + "/a")
check(r.status == 200 and r.data == b"hello /a", "a GET")
r = pool.request("POST", base + "/form", body=b"x=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
check(r.data == b"posted" and seen["/form"][1] == b"x=1", "a POST body")
r = pool.request("GET", base + "/h", headers={"X-Custom": "v", "Authorization": "Bearer t"})
check(seen["/h"][0].get("X-Custom") == "v", "custom headers are sent")
r = pool.request("GET", base + "/same", headers={"Authorization": "Bearer t", "X-Custom": "v"})
check(r.status == 200 and r.data == b"hello /landing", "a same-origin redirect is followed")
check(seen["/landing"][0].get("Authorization") == "Bearer t", "same-origin redirects keep credentials")
r = pool.request("GET", base + "/other", headers={"X-Custom": "v"})
check(r.status == 200 and seen["/landing"][0].get("X-Custom") == "v", "cross-origin redirects keep other headers")
r = pool.request("POST", base + "/see-other", body=b"data")
check(r.status == 200 and r.data == b"hello /result", "303 becomes a GET")
r = pool.request("GET", base + "/same", redirect=False)
check(r.status == 302 and r.headers["Location"] == "/landing", "redirect=False")
server.shutdown()
print(f"FUNCTIONAL OK ({checks} checks)")
