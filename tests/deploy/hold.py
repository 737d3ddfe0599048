#!/usr/bin/env python3
"""Holds SMTP sessions open so a test can look at the processes serving them.

    hold.py READY RELEASE PORT...

Connects to 127.0.0.1:PORT for every PORT, reads each banner, then writes
the banners to READY (one line per port, in order) and waits, at most 60
seconds, for the file RELEASE to appear.  Then each session says EHLO and
QUIT and must get 250 and 221.  Exit 0 when all went so; 1 otherwise.
"""
import os
import socket
import sys
import time


def reply(f):
    """One SMTP reply, possibly multi-line; returns its last line."""
    while True:
        line = f.readline()
        if not line:
            raise EOFError("connection closed")
        line = line.decode("utf-8", "replace").rstrip("\r\n")
        if len(line) < 4 or line[3] != "-":
            return line


def main():
    ready, release, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
    conns = []
    for port in ports:
        s = socket.create_connection(("127.0.0.1", int(port)), timeout=20)
        f = s.makefile("rb")
        conns.append((s, f, reply(f)))
    with open(ready + ".tmp", "w") as out:
        out.write("".join(c[2] + "\n" for c in conns))
    os.rename(ready + ".tmp", ready)

    end = time.monotonic() + 60
    while not os.path.exists(release):
        if time.monotonic() > end:
            sys.exit("hold.py: not released within 60 s")
        time.sleep(0.1)

    ok = True
    for s, f, _ in conns:
        s.sendall(b"EHLO hold.test.example\r\n")
        r = reply(f)
        s.sendall(b"QUIT\r\n")
        q = reply(f)
        if not (r.startswith("250") and q.startswith("221")):
            print("hold.py: EHLO -> %r, QUIT -> %r" % (r, q), file=sys.stderr)
            ok = False
        s.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
