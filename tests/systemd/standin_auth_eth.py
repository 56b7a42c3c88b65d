#!/usr/bin/python3
"""standin_auth_eth.py — a stand-in for dstack-auth-eth in the systemd test,
installed as /usr/local/bin/dstack-auth-eth only while build/dstack-auth-eth
does not exist yet (the test says so in its output).

Test-only. Configured like the real one by the environment (HOST, PORT,
ETH_RPC_URL, KMS_CONTRACT_ADDR from EnvironmentFile=), prints the tutorial's
start-up lines (after eth_chainId and eth_getCode succeed), and answers the
routes `dstack-kmsctl verify` and the KMS use: POST / ping and is_app_allowed,
GET /, POST /bootAuth/app|kms. It evaluates no policy: every boot request is
denied with the reason "stand-in: no policy". Never logs the RPC URL's path.
"""
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
RPC = os.environ.get("ETH_RPC_URL", "http://localhost:8545")
ADDR = os.environ.get("KMS_CONTRACT_ADDR", "0x" + "0" * 40)
STATE = {"chain_id": None, "loaded": False}


def origin(url):
    u = urllib.parse.urlsplit(url)
    return "%s://%s" % (u.scheme, u.netloc.rsplit("@", 1)[-1])


def rpc(method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(RPC, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=3) as r:
        j = json.load(r)
    if "result" not in j:
        raise RuntimeError("%s: %s" % (method, j.get("error")))
    return j["result"]


def connect_loop():
    while not STATE["loaded"]:
        try:
            cid = int(rpc("eth_chainId", []), 16)
            if STATE["chain_id"] is None:
                print("Connected to Ethereum RPC: %s" % origin(RPC), flush=True)
            STATE["chain_id"] = cid
            if len(rpc("eth_getCode", [ADDR, "latest"])) > 2:
                print("KMS contract loaded: %s" % ADDR, flush=True)
                STATE["loaded"] = True
                return
            print("no contract code at KMS_CONTRACT_ADDR: set KMS_CONTRACT_ADDR in "
                  "/etc/kms/auth-eth.env", flush=True)
        except Exception as e:  # keep serving, retry
            print("Ethereum RPC %s not usable (%s); retrying" % (origin(RPC), type(e).__name__),
                  flush=True)
        time.sleep(2)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if self.path != "/":
            return self.send(404, {"message": "not found"})
        if not STATE["loaded"]:
            return self.send(500, {"status": "error", "message": "authorization backend unavailable"})
        self.send(200, {"status": "ok", "kmsContractAddr": ADDR, "ethRpcUrl": origin(RPC),
                        "gatewayAppId": "", "chainId": STATE["chain_id"],
                        "appAuthImplementation": "0x" + "0" * 40, "appImplementation": "0x" + "0" * 40})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.send(500, {"status": "error", "message": "authorization backend unavailable"})
        if self.path == "/":
            if req.get("method") == "ping":
                return self.send(200, {"result": "pong"})
            if req.get("method") == "is_app_allowed":
                if not STATE["loaded"]:
                    return self.send(200, {"result": False, "reason": "authorization backend unavailable"})
                return self.send(200, {"result": False})
            return self.send(400, {"error": "unknown method"})
        if self.path in ("/bootAuth/app", "/bootAuth/kms"):
            if not STATE["loaded"]:
                return self.send(200, {"isAllowed": False, "reason": "authorization backend unavailable",
                                       "gatewayAppId": ""})
            return self.send(200, {"isAllowed": False, "reason": "stand-in: no policy", "gatewayAppId": ""})
        self.send(404, {"message": "not found"})


def sd_notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.send(msg.encode())


srv = ThreadingHTTPServer((HOST, PORT), H)
print("Server listening on %s:%d" % (HOST, PORT), flush=True)
sd_notify("READY=1\nSTATUS=stand-in serving on %s:%d" % (HOST, PORT))
threading.Thread(target=connect_loop, daemon=True).start()
try:
    srv.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
