#!/usr/bin/python3
"""admission_client.py — raw clients for test_kms_admission.sh (the things
curl will not do: hold connections, trickle bytes, send headers without
their body, many partial bodies at once). Every wait is bounded. Prints
one "key=value" line per result.

  caps PORT TLS SRC:N[,SRC:N...] HOLD_S READY_FILE
      open N connections from each source address (127.0.0.x) in order,
      each finishing a GET /health (keep-alive); print how many were served
      and how many refused (closed before a reply); hold them HOLD_S s
  one PORT TLS SRC            one new connection: served or refused
  trickle-headers PORT        headers, one byte per second: seconds until closed
  silent PORT                 TCP only, nothing sent: seconds until closed
  trickle-body PORT LEN       full headers, then one body byte per 0.5 s
  big-cl PORT LEN             headers with Content-Length LEN, no body: the reply
  partial PORT N LEN SEND     N connections at once, each sends headers with
                              Content-Length LEN and SEND body bytes
"""
import socket
import ssl
import sys
import threading
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def connect(port, tls, src="127.0.0.1", timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return CTX.wrap_socket(s) if tls else s


def health(port, tls, src):
    """a connection that answered GET /health, or None when refused (closed
    before any answer)"""
    try:
        s = connect(port, tls, src, timeout=3)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        d = s.recv(4096)
        if d.startswith(b"HTTP/1.1 "):  # any answer (auth-eth's /health is a 404)
            return s
        s.close()
    except (OSError, ssl.SSLError):
        pass
    return None


def closed_after(s, start, limit):
    """seconds from start until the peer closes s (None past limit)"""
    s.settimeout(0.2)
    while time.time() - start < limit:
        try:
            if not s.recv(4096):
                return time.time() - start
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            return time.time() - start
    return None


def cmd_caps(port, tls, spec, hold, ready):
    held = []
    for part in spec.split(","):
        src, n = part.split(":")
        ok = bad = 0
        for _ in range(int(n)):
            s = health(port, tls, src)
            if s:
                held.append(s)
                ok += 1
            else:
                bad += 1
        print(f"src={src} served={ok} refused={bad}", flush=True)
    open(ready, "w").close()
    time.sleep(hold)
    for s in held:
        s.close()


def cmd_one(port, tls, src):
    s = health(port, tls, src)
    print("served" if s else "refused")
    if s:
        s.close()


def cmd_trickle_headers(port):
    start = time.time()
    s = connect(port, True)
    s.sendall(b"GET /health HTTP/1.1\r\n")
    s.settimeout(0.05)
    for i in range(60):
        try:
            s.sendall(b"X"[:1] if i % 10 else b"\r\nX-Slow: ")
        except (OSError, ssl.SSLError):
            break
        t = closed_after(s, time.time(), 1.0)
        if t is not None:
            break
    print(f"closed_after={time.time() - start:.2f}")


def cmd_silent(port):
    start = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = closed_after(s, start, 30)
    print(f"closed_after={t:.2f}" if t is not None else "closed_after=never")


def cmd_trickle_body(port, length):
    start = time.time()
    s = connect(port, True)
    s.sendall(b"POST /prpc/GetMeta?json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % length)
    for _ in range(length):
        try:
            s.sendall(b" ")
        except (OSError, ssl.SSLError):
            break
        if closed_after(s, time.time(), 0.5) is not None:
            break
    print(f"closed_after={time.time() - start:.2f}")


def cmd_big_cl(port, length):
    start = time.time()
    s = connect(port, True)
    s.sendall(b"POST /prpc/GetAppEnvEncryptPubKey?json HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length)
    out = b""
    s.settimeout(5)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
    except (OSError, ssl.SSLError):
        pass
    line = out.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"status_line={line!r} after={time.time() - start:.2f}")


def cmd_partial(port, n, length, send):
    results = []
    lock = threading.Lock()
    go = threading.Barrier(n)

    def one():
        r = "error"
        try:
            s = connect(port, True, timeout=10)
            go.wait(timeout=20)
            s.sendall(b"POST /prpc/GetAppEnvEncryptPubKey?json HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length)
            chunk = b" " * 65536
            sent = 0
            while sent < send:
                s.sendall(chunk)
                sent += len(chunk)
            s.settimeout(5)
            d = s.recv(4096)
            r = d.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
            time.sleep(1)
            s.close()
        except (OSError, ssl.SSLError, threading.BrokenBarrierError) as e:
            r = type(e).__name__
        with lock:
            results.append(r)

    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    counts = {}
    for r in results:
        counts[r] = counts.get(r, 0) + 1
    print("results=" + ";".join(f"{k}:{v}" for k, v in sorted(counts.items())))


def main():
    a = sys.argv[1:]
    c = a[0]
    if c == "caps":
        cmd_caps(int(a[1]), a[2] == "1", a[3], float(a[4]), a[5])
    elif c == "one":
        cmd_one(int(a[1]), a[2] == "1", a[3])
    elif c == "trickle-headers":
        cmd_trickle_headers(int(a[1]))
    elif c == "silent":
        cmd_silent(int(a[1]))
    elif c == "trickle-body":
        cmd_trickle_body(int(a[1]), int(a[2]))
    elif c == "big-cl":
        cmd_big_cl(int(a[1]), int(a[2]))
    elif c == "partial":
        cmd_partial(int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    else:
        sys.exit("unknown command " + c)


if __name__ == "__main__":
    main()
