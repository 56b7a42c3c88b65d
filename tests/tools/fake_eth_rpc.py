#!/usr/bin/python3
"""fake_eth_rpc.py PORT MODE [UPSTREAM_URL] — a misbehaving Ethereum JSON-RPC
endpoint for dstack-auth-eth's integration tests (test-only; 127.0.0.1).

Any path is accepted (so tests can put API-key-like secrets in the URL path
and query). MODE, or the first word of the file named by $RPC_MODE_FILE when
that is set (re-read on every request, so a test can switch modes while
auth-eth runs):
  proxy         forward the body to UPSTREAM_URL (anvil) and return its answer
  429           every request: HTTP 429 with a JSON-RPC error, as rate-limited
                public endpoints answer
  429-calls     proxy, but requests carrying eth_call get HTTP 429
  hang          never answer (hold the connection)
  hang-calls    proxy, but requests carrying eth_call are never answered
  revert-calls  proxy, but requests carrying eth_call get a JSON-RPC error
                {"code":3,"message":"execution reverted"} for each call
  down          close the connection without an answer
Every request is appended to $RPC_LOG (one JSON line: path, body), if set.
"""
import json
import os
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
MODE = sys.argv[2] if len(sys.argv) > 2 else "proxy"
UPSTREAM = sys.argv[3] if len(sys.argv) > 3 else None


def mode():
    f = os.environ.get("RPC_MODE_FILE")
    if f:
        try:
            with open(f) as fh:
                m = fh.read().split()
                if m:
                    return m[0]
        except OSError:
            pass
    return MODE


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        log = os.environ.get("RPC_LOG")
        if log:
            with open(log, "a") as f:
                f.write(json.dumps({"path": self.path, "body": body.decode("utf-8", "replace")}) + "\n")
        m = mode()
        calls = b'"eth_call"' in body
        if m == "down":
            self.close_connection = True
            self.connection.close()
            return
        if m == "hang" or (m == "hang-calls" and calls):
            time.sleep(60)
            self.close_connection = True
            return
        if m == "429" or (m == "429-calls" and calls):
            self.send(429, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limited"}}')
            return
        if m == "revert-calls" and calls:
            req = json.loads(body)
            err = {"code": 3, "message": "execution reverted", "data": "0x"}
            if isinstance(req, list):
                out = [{"jsonrpc": "2.0", "id": r.get("id"), "error": err} for r in req]
            else:
                out = {"jsonrpc": "2.0", "id": req.get("id"), "error": err}
            self.send(200, json.dumps(out).encode())
            return
        r = urllib.request.Request(UPSTREAM, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                self.send(resp.status, resp.read())
        except Exception as e:  # upstream down: answer like a gateway would
            self.send(502, json.dumps({"error": str(e)}).encode())


class S(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


S(("127.0.0.1", PORT), H).serve_forever()
