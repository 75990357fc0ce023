import socket

PORT = int("@PORT@")  # a listener on the host's 127.0.0.1, filled in by the test
reached = []
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    reached.append("the host's loopback")
except OSError as exc:
    print("loopback:", exc)
try:
    socket.getaddrinfo("pypi.org", 443)
    reached.append("a DNS resolver")
except OSError as exc:
    print("dns:", exc)
for what in reached:
    print("NETWORK REACHED:", what)
