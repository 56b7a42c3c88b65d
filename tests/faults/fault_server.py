#!/usr/bin/python3
"""fault_server.py PORT MODE_FILE [UPSTREAM_URL] — a dependency that misbehaves
on demand, for the fault matrix (test-only; 127.0.0.1). Without UPSTREAM_URL
it is an auth webhook (GET / answers auth-eth's info object, POST
/bootAuth/{app,kms} allows); with it, it is an Ethereum JSON-RPC endpoint that
forwards each body to UPSTREAM_URL (anvil). The first word of MODE_FILE,
re-read on every request, selects the behaviour:
  ok        answer as described above
  slow      sleep $FAULT_SLOW_S (default 6) seconds, then answer as ok
  hang      never answer (the connection is held for at most 120 s)
  garbage   HTTP 200, Content-Type application/json, a body that is not JSON
  429       HTTP 429 with a JSON-RPC rate-limit error (as public RPCs answer)
  badrpc    HTTP 200, valid JSON that is no answer to the request (a JSON-RPC
            object with an id nobody asked for)
  close     close the connection without an answer
Every request line is appended to MODE_FILE.log.
"""
import json
import os
import socket
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
MODE_FILE = sys.argv[2]
UPSTREAM = sys.argv[3] if len(sys.argv) > 3 else None
SLOW = float(os.environ.get("FAULT_SLOW_S", "6"))
INFO = {"status": "ok", "kmsContractAddr": "0x1234567890abcdef1234567890abcdef12345678",
        "gatewayAppId": "0xgateway", "chainId": 31337,
        "appAuthImplementation": "0xaaaa", "appImplementation": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}


def mode():
    try:
        with open(MODE_FILE) as f:
            w = f.read().split()
            return w[0] if w else "ok"
    except OSError:
        return "ok"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 130

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_ok(self, body):
        if UPSTREAM:
            req = urllib.request.Request(UPSTREAM, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return self.send(r.status, r.read())
            except Exception as e:  # noqa: BLE001 — upstream trouble is a 502 here
                return self.send(502, json.dumps({"error": str(e)}).encode())
        if self.command == "GET":
            return self.send(200, json.dumps(INFO).encode())
        return self.send(200, json.dumps({"isAllowed": True, "reason": "", "gatewayAppId": "0xgateway"}).encode())

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        m = mode()
        with open(MODE_FILE + ".log", "a") as f:
            f.write("%s %s %s\n" % (m, self.command, self.path))
        if m == "slow":
            time.sleep(SLOW)
        elif m == "hang":
            time.sleep(120)
            self.close_connection = True
            return
        elif m == "garbage":
            return self.send(200, b"<html><body>502 Bad Gateway</body></html>\x00\xff{")
        elif m == "429":
            return self.send(429, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"rate limited"}}')
        elif m == "badrpc":
            return self.send(200, b'{"jsonrpc":"2.0","id":424242,"result":"0x"}')
        elif m == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.answer_ok(body)

    do_GET = handle_any
    do_POST = handle_any


class S(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


S(("127.0.0.1", PORT), H).serve_forever()
