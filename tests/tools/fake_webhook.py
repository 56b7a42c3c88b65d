#!/usr/bin/python3
"""fake_webhook.py PORT [MODE] — a stand-in auth webhook for integration tests.

GET / answers auth-eth's info object; POST /bootAuth/{app,kms} answers
{"isAllowed": true, ...}. MODE "hang" never answers (to test the KMS's
timeout), "slow:MS" answers POSTs after MS milliseconds, "500" answers every
request with an error. Every request line is
appended to the file named by $WEBHOOK_LOG, if set; every POST body to the
file named by $WEBHOOK_BODIES as "PATH BODY" lines. $WEBHOOK_DENY_APPS (comma
separated appId hex values) makes /bootAuth/* deny those apps with the reason
"app <appId> is not registered".
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[2] if len(sys.argv) > 2 else "ok"
INFO = {"status": "ok", "kmsContractAddr": "0x1234567890abcdef1234567890abcdef12345678",
        "gatewayAppId": "0xgateway", "chainId": 31337,
        "appAuthImplementation": "0xaaaa", "appImplementation": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self):
        log = os.environ.get("WEBHOOK_LOG")
        if log:
            with open(log, "a") as f:
                f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("User-Agent")))

    def do_GET(self):
        self.record()
        if MODE == "hang":
            time.sleep(60)
        if MODE == "500":
            return self.reply(500, {"error": "boom"})
        self.reply(200, INFO)

    def do_POST(self):
        self.record()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        bodies = os.environ.get("WEBHOOK_BODIES")
        if bodies:
            with open(bodies, "a") as f:
                f.write("%s %s\n" % (self.path, body.decode()))
        if MODE == "hang":
            time.sleep(60)
        if MODE.startswith("slow:"):
            time.sleep(int(MODE[5:]) / 1000.0)
        deny = [a for a in os.environ.get("WEBHOOK_DENY_APPS", "").split(",") if a]
        try:
            app = json.loads(body).get("appId", "")
        except ValueError:
            app = ""
        if app in deny:
            return self.reply(200, {"isAllowed": False, "reason": "app %s is not registered" % app,
                                    "gatewayAppId": ""})
        self.reply(200, {"isAllowed": True, "reason": "", "gatewayAppId": "0xgateway"})


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
