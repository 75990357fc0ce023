import http.server
import threading

import urllib3

seen = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/login":
            # Redirect to another origin: the same port, another host name.
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        seen[self.path] = dict(self.headers)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

http_pool = urllib3.PoolManager()
response = http_pool.request(
    "GET", f"http://127.0.0.1:{port}/login", headers={"authorization": "Bearer secret-token"}
)
print(response.status, seen)
leaked = {k: v for k, v in seen.get("/elsewhere", {}).items() if k.lower() == "authorization"}
if leaked:
    print("VULNERABLE: the Authorization header followed a cross-origin redirect:", leaked)
server.shutdown()
