#!/usr/bin/python3
"""conn_flood.py — hostile connection patterns for test_conn_faults.sh (what
curl will not do: a thousand concurrent handshakes with bad client
certificates, ten thousand held idle connections, headers too large to be
read, a Content-Length without its body). 127.0.0.1 only; every wait is
bounded. Results are printed as "key=value" lines.

  badcert PORT N PAR SRCS CERT:KEY[,CERT:KEY...]
      N TLS handshakes, PAR at a time, spread over the source addresses
      SRCS (comma separated 127.0.0.x) and the client certificates given;
      every other one is limited to TLS 1.2 (the server's verdict then ends
      the handshake itself; under TLS 1.3 it arrives as the first record
      after it, which is awaited for 3 s). A connection still open then
      sends a GET. Each is classified:
        alert_handshake / alert_after   a TLS alert from the server
        served                          an HTTP answer (the cert was let in)
        refused / reset / eof / timeout / error:<name>
      prints outcome=<class>:<count> lines, alert=<reason>:<count> lines,
      total=N and seconds=<wall time>
  idle PORT N READY RELEASE MAX_S
      N non-blocking TCP connects, nothing sent; writes "opened=<n>
      failed=<m>" to READY, then holds them until RELEASE exists (at most
      MAX_S s); prints opened=, failed=, closed_by_peer= (connections the
      server had closed by then), then closes them all
  bighdr PORT SIZE END
      one GET over TLS with a SIZE-byte header, the headers ended (END 1)
      or left unfinished (END 0): status_line=, sent_all=, after=
  bigcl PORT LEN     headers with Content-Length LEN and no body: status_line=, after=
"""
import errno
import os
import select
import socket
import ssl
import sys
import threading
import time


def client_ctx(cert, key, tls12):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if tls12:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        c.load_cert_chain(cert, key)
    return c


def alert_reason(e):
    r = getattr(e, "reason", None) or str(e)
    return r if "ALERT" in r.upper() else None


def one_badcert(port, src, ctx):
    """the class of one handshake attempt and, for an alert, its reason"""
    raw = socket.socket()
    raw.settimeout(10)
    try:
        raw.bind((src, 0))
        raw.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        raw.close()
        return "refused", None
    except socket.timeout:
        raw.close()
        return "timeout", None
    except OSError as e:
        raw.close()
        return "error:" + errno.errorcode.get(e.errno, type(e).__name__), None
    s = ctx.wrap_socket(raw, do_handshake_on_connect=False)
    phase = "handshake"
    try:
        s.do_handshake()
        phase = "after"
        # under TLS 1.3 the server judges the certificate after the client's
        # Finished: wait for its verdict before writing (a write racing the
        # server's close could turn its alert into a reset)
        s.settimeout(3)
        try:
            d = s.recv(4096)
        except socket.timeout:
            d = None
        if d == b"":
            return "eof", None
        s.settimeout(10)
        s.sendall(b"GET /prpc/GetMeta?json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        d = s.recv(4096)
        if d.startswith(b"HTTP/"):
            return "served", d.split(b"\r\n", 1)[0].decode(errors="replace")
        return "eof", None
    except ssl.SSLError as e:
        r = alert_reason(e)
        if r:
            return "alert_" + phase, r
        if isinstance(e, ssl.SSLEOFError) or "EOF" in str(e):
            return "eof", None
        return "error:" + (getattr(e, "reason", None) or type(e).__name__), None
    except ConnectionResetError:
        return "reset", None
    except BrokenPipeError:
        return "reset", None
    except socket.timeout:
        return "timeout", None
    except OSError as e:
        return "error:" + errno.errorcode.get(e.errno, type(e).__name__), None
    finally:
        s.close()


def cmd_badcert(port, n, par, srcs, pairs):
    srcs = srcs.split(",")
    certs = [p.split(":", 1) for p in pairs.split(",")]
    ctxs = [[client_ctx(c, k, False), client_ctx(c, k, True)] for c, k in certs]
    lock = threading.Lock()
    todo = list(range(n))
    outcomes, alerts = {}, {}
    start = time.time()

    def worker():
        while True:
            with lock:
                if not todo or time.time() - start > 60:
                    return
                i = todo.pop()
            ctx = ctxs[i % len(ctxs)][(i // len(ctxs)) % 2]
            cls, why = one_badcert(port, srcs[i % len(srcs)], ctx)
            with lock:
                outcomes[cls] = outcomes.get(cls, 0) + 1
                if why:
                    key = why if cls.startswith("alert") else cls + " " + why
                    alerts[key] = alerts.get(key, 0) + 1

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(par)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(max(1, 90 - (time.time() - start)))
    for k in sorted(outcomes):
        print(f"outcome={k}:{outcomes[k]}")
    for k in sorted(alerts):
        print(f"alert={k}:{alerts[k]}")
    print(f"total={sum(outcomes.values())}")
    print(f"seconds={time.time() - start:.2f}", flush=True)


def cmd_idle(port, n, ready, release, max_s):
    socks, failed = [], 0
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            r = s.connect_ex(("127.0.0.1", port))
        except OSError:
            r = -1
        if r in (0, errno.EINPROGRESS, errno.EAGAIN):
            socks.append(s)
        else:
            failed += 1
            s.close()
    with open(ready + ".tmp", "w") as f:
        f.write(f"opened={len(socks)} failed={failed}\n")
    os.rename(ready + ".tmp", ready)
    print(f"opened={len(socks)}", flush=True)
    print(f"failed={failed}", flush=True)
    end = time.time() + max_s
    while time.time() < end and not os.path.exists(release):
        time.sleep(0.1)
    # which of them has the server closed by now (EOF or reset)
    p = select.poll()
    by_fd = {}
    for s in socks:
        p.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        by_fd[s.fileno()] = s
    closed = 0
    for fd, ev in p.poll(0):
        s = by_fd[fd]
        try:
            if ev & (select.POLLHUP | select.POLLERR) or s.recv(1) == b"":
                closed += 1
        except OSError:
            closed += 1
    print(f"closed_by_peer={closed}", flush=True)
    for s in socks:
        s.close()


def tls_socket(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return client_ctx(None, None, False).wrap_socket(s)


def read_status(s, limit):
    """the first line the server answered (or what stopped us)"""
    out = b""
    s.settimeout(limit)
    try:
        while b"\r\n" not in out:
            d = s.recv(4096)
            if not d:
                break
            out += d
    except (OSError, ssl.SSLError) as e:
        if not out:
            return "<" + type(e).__name__ + ">"
    line = out.split(b"\r\n", 1)[0].decode(errors="replace")
    return line or "<closed>"


def cmd_bighdr(port, size, end):
    start = time.time()
    s = tls_socket(port)
    head = b"GET /prpc/GetMeta?json HTTP/1.1\r\nHost: x\r\nX-Big: "
    pad = b"a" * size
    sent_all = True
    try:
        s.sendall(head)
        for i in range(0, size, 16384):
            s.sendall(pad[i:i + 16384])
        if end:
            s.sendall(b"\r\n\r\n")
    except (OSError, ssl.SSLError):
        sent_all = False
    line = read_status(s, 5)
    print(f"status_line={line!r} sent_all={int(sent_all)} after={time.time() - start:.2f}")
    s.close()


def cmd_bigcl(port, length):
    start = time.time()
    s = tls_socket(port)
    s.sendall(b"POST /prpc/GetAppEnvEncryptPubKey?json HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % length)
    line = read_status(s, 5)
    print(f"status_line={line!r} after={time.time() - start:.2f}")
    s.close()


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    c = a[0]
    if c == "badcert":
        cmd_badcert(int(a[1]), int(a[2]), int(a[3]), a[4], a[5])
    elif c == "idle":
        cmd_idle(int(a[1]), int(a[2]), a[3], a[4], float(a[5]))
    elif c == "bighdr":
        cmd_bighdr(int(a[1]), int(a[2]), a[3] == "1")
    elif c == "bigcl":
        cmd_bigcl(int(a[1]), int(a[2]))
    else:
        sys.exit("unknown command " + c)


if __name__ == "__main__":
    main()
