#!/usr/bin/env python3
"""notify_listener.py SOCKET OUT — a NOTIFY_SOCKET stand-in: receives sd_notify
datagrams on the Unix socket SOCKET and appends each, with a monotonic
timestamp, as one line "<seconds> <message>" to OUT."""
import os
import socket
import sys
import time

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(4096).decode(errors="replace").replace("\n", " ")
        f.write("%.3f %s\n" % (time.monotonic(), data))
