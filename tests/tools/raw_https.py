#!/usr/bin/python3
"""raw_https.py PORT — sends stdin's bytes as is over TLS to 127.0.0.1:PORT
(no certificate check) and prints what comes back until the server closes
or 5 s pass. For requests curl will not send: duplicate headers, raw bytes
in the path."""
import socket
import ssl
import sys

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
s.sendall(sys.stdin.buffer.read())
out = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
except (socket.timeout, ssl.SSLError, ConnectionError):
    pass
sys.stdout.write(out.decode(errors="replace"))
