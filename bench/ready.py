#!/usr/bin/python3
"""ready.py — time from exec to ready for `make bench`.

Starts `dstack-kms --config CONFIG` ROUNDS times on an existing key set and
measures, from just before the exec, when its RPC port first accepts a TCP
connection and when GET /health over TLS first answers 200. Polls every
0.5 ms, gives up after 5 s per round, stops the process (SIGTERM, then
SIGKILL after 5 s) before the next round. Prints per round and one summary:
  ready rounds=N listen_ms_median=A health_ms_median=B health_ms_max=C
Bench tool only: 127.0.0.1, bounded in rounds and time.

Usage: ready.py KMS_BINARY CONFIG PORT ROUNDS LOGFILE
"""
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time


def health_ok(port, ctx):
    """One TLS GET /health; True on a 200 answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                head = s.recv(64)
                return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05):
            return True
    except OSError:
        return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def one_round(kms, config, port, log, ctx):
    t0 = time.monotonic()
    p = subprocess.Popen([kms, "--config", config], stdout=log, stderr=log)
    listen = health = None
    try:
        deadline = t0 + 5
        while time.monotonic() < deadline and p.poll() is None:
            if listen is None and accepts(port):
                listen = time.monotonic() - t0
            if listen is not None and health_ok(port, ctx):
                health = time.monotonic() - t0
                break
            time.sleep(0.0005)
    finally:
        stop(p)
    return listen, health


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: ready.py KMS_BINARY CONFIG PORT ROUNDS LOGFILE")
    kms, config, port, rounds, logfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    listens, healths = [], []
    with open(logfile, "ab") as log:
        for i in range(rounds):
            listen, health = one_round(kms, config, port, log, ctx)
            if listen is None or health is None:
                sys.exit(f"ready: round {i + 1}: the KMS was not ready within 5 s (log: {logfile})")
            print(f"ready round={i + 1} listen_ms={listen * 1000:.1f} health_ms={health * 1000:.1f}")
            listens.append(listen * 1000)
            healths.append(health * 1000)
            time.sleep(0.2)
    print(f"ready rounds={rounds} listen_ms_median={statistics.median(listens):.1f} "
          f"health_ms_median={statistics.median(healths):.1f} health_ms_max={max(healths):.1f}")


if __name__ == "__main__":
    main()
