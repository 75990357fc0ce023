import http.server
import threading

import urllib3

seen = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self):
        self._body()
        self.send_response(303)
        self.send_header("Location", "/result")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        seen[self.path] = self._body()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

response = urllib3.PoolManager().request(
    "POST", f"http://127.0.0.1:{port}/form", body=b"password=hunter2"
)
print(response.status, seen)
if seen.get("/result"):
    print("VULNERABLE: the POST body was sent again with the GET after a 303:", seen["/result"])
server.shutdown()
