#!/usr/bin/python3
"""audit_check.py FILE — an independent verifier of the KMS release log.

Re-checks the format of docs/release-log.md with the standard library only
(json, hashlib), not with the project's C code: every line is a JSON object
with the 13 fields, seq counts 1, 2, 3 ..., and each line's prev is the
SHA-256 (hex) of the previous line's bytes without its newline (64 zeros for
the first). Prints "OK N" or "BROKEN L: reason" (exit 1).
"""
import hashlib
import json
import sys

FIELDS = ["seq", "time", "method", "app_id", "instance_id", "device_id", "compose_hash",
          "os_image_hash", "tcb_status", "decision", "reason", "caller_cert_sha256", "prev"]


def check(data):
    prev, seq = "0" * 64, 1
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        return len(lines), "unterminated last line"
    for i, raw in enumerate(lines, 1):
        try:
            row = json.loads(raw)
        except ValueError:
            return i, "not JSON"
        if list(row.keys()) != FIELDS:
            return i, "fields %s" % list(row.keys())
        if row["seq"] != seq:
            return i, "seq %s, expected %d" % (row["seq"], seq)
        if row["prev"] != prev:
            return i, "prev mismatch"
        if row["decision"] not in ("allowed", "denied", "error"):
            return i, "decision %r" % row["decision"]
        prev, seq = hashlib.sha256(raw).hexdigest(), seq + 1
    return 0, "OK %d" % len(lines)


if __name__ == "__main__":
    bad, why = check(open(sys.argv[1], "rb").read())
    if bad:
        print("BROKEN %d: %s" % (bad, why))
        sys.exit(1)
    print(why)
