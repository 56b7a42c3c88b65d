#!/usr/bin/env python3
"""hang_server.py PORT — accepts TCP connections on 127.0.0.1:PORT, reads
what they send and never answers (a hung webhook or PCCS). Prints the number
of connections accepted so far to PORT.count after each accept."""
import socket
import sys
import threading

port = int(sys.argv[1])
count_file = sys.argv[2] if len(sys.argv) > 2 else None
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1024)
held = []
n = 0


def drain(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


while True:
    c, _ = srv.accept()
    held.append(c)
    n += 1
    threading.Thread(target=drain, args=(c,), daemon=True).start()
    if count_file:
        with open(count_file + ".tmp", "w") as f:
            f.write(str(n))
        import os
        os.replace(count_file + ".tmp", count_file)
