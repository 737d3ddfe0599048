#!/usr/bin/env python3
"""Checks a smtpot event log (JSON lines) against the event contract.

Used by the deployment tests: every line is one JSON object with the common
keys; each session runs seq 1, 2, 3, ... from "connect" to exactly one
"disconnect"; every "message" event names a spool file whose SHA-256 is the
one logged.  Options add what a test expects.  Prints one line per session
("session ID SOURCE_IP:PORT -> DEST_PORT EVENTS") and exits 1 with a reason
on the first violation.
"""
import argparse
import collections
import hashlib
import json
import os
import re
import sys

KEYS = ("timestamp", "source_ip", "honeypot_type", "event", "data", "level",
        "session", "seq", "source_port", "dest_ip", "dest_port", "sensor")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def die(msg):
    print("events.py: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    events = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            where = "%s:%d" % (path, n)
            try:
                ev = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                die("%s: not a JSON line in UTF-8: %s" % (where, e))
            if not isinstance(ev, dict):
                die("%s: not a JSON object" % where)
            missing = [k for k in KEYS if k not in ev]
            if missing:
                die("%s: missing keys %s" % (where, ", ".join(missing)))
            if ev["honeypot_type"] != "smtp":
                die("%s: honeypot_type %r" % (where, ev["honeypot_type"]))
            if not TIMESTAMP.match(str(ev["timestamp"])):
                die("%s: timestamp %r" % (where, ev["timestamp"]))
            if ev["level"] not in ("INFO", "WARN", "ERROR"):
                die("%s: level %r" % (where, ev["level"]))
            if not isinstance(ev["data"], dict):
                die("%s: data is not an object" % where)
            events.append(ev)
    return events


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--sessions", type=int, help="exact number of sessions")
    ap.add_argument("--source-ip", help="every event has this source_ip")
    ap.add_argument("--sensor", help="every event has this sensor")
    ap.add_argument("--spool", help="spool directory holding the messages")
    ap.add_argument("--messages", type=int, help="exact number of message events")
    ap.add_argument("--marker", help="text some stored message contains")
    ap.add_argument("--no-errors", action="store_true",
                    help="no ERROR level event")
    ap.add_argument("--tls-sessions", type=int,
                    help="exact number of sessions with a tls event; every tls "
                    "event has result success and JA3/JA4 fingerprints")
    a = ap.parse_args()

    events = load(a.log)
    if not events:
        die("%s: no events" % a.log)
    sessions = collections.OrderedDict()
    for ev in events:
        sessions.setdefault(ev["session"], []).append(ev)
        if a.source_ip is not None and ev["source_ip"] != a.source_ip:
            die("event %s seq %s: source_ip %r, expected %r"
                % (ev["event"], ev["seq"], ev["source_ip"], a.source_ip))
        if a.sensor is not None and ev["sensor"] != a.sensor:
            die("event %s: sensor %r, expected %r" % (ev["event"], ev["sensor"], a.sensor))
        if a.no_errors and ev["level"] == "ERROR":
            die("ERROR event: %s" % json.dumps(ev))

    for sid, evs in sessions.items():
        evs.sort(key=lambda e: e["seq"])
        seqs = [e["seq"] for e in evs]
        if seqs != list(range(1, len(evs) + 1)):
            die("session %s: seq %s, expected 1..%d" % (sid, seqs, len(evs)))
        names = [e["event"] for e in evs]
        if names[0] != "connect":
            die("session %s starts with %r" % (sid, names[0]))
        if names[-1] != "disconnect" or names.count("disconnect") != 1:
            die("session %s: events %s, expected one disconnect, last" % (sid, names))
        for key in ("source_ip", "source_port", "dest_ip", "dest_port", "sensor"):
            if len({json.dumps(e[key]) for e in evs}) != 1:
                die("session %s: %s changes within the session" % (sid, key))

    if a.tls_sessions is not None:
        n = 0
        for sid, evs in sessions.items():
            tls = [e for e in evs if e["event"] == "tls"]
            n += bool(tls)
            for e in tls:
                d = e["data"]
                if d.get("result") != "success":
                    die("session %s: tls result %r: %s" % (sid, d.get("result"), json.dumps(d)))
                if not re.match(r"^[0-9a-f]{32}$", str(d.get("ja3_md5"))) or not d.get("ja4"):
                    die("session %s: tls event without ja3_md5/ja4: %s" % (sid, json.dumps(d)))
        if n != a.tls_sessions:
            die("%d sessions with TLS, expected %d" % (n, a.tls_sessions))

    if a.sessions is not None and len(sessions) != a.sessions:
        die("%d sessions, expected %d" % (len(sessions), a.sessions))

    messages = [e for e in events if e["event"] == "message"]
    if a.messages is not None and len(messages) != a.messages:
        die("%d message events, expected %d" % (len(messages), a.messages))
    found_marker = a.marker is None
    if a.spool is not None:
        for ev in messages:
            d = ev["data"]
            name, digest = d.get("spool_file"), d.get("sha256")
            if not name or not digest:
                die("message event without spool_file/sha256: %s" % json.dumps(d))
            if "/" in name:
                die("spool_file %r is not a bare file name" % name)
            path = os.path.join(a.spool, name)
            try:
                with open(path, "rb") as f:
                    body = f.read()
            except OSError as e:
                die("stored message %s: %s" % (path, e))
            if hashlib.sha256(body).hexdigest() != digest:
                die("%s: SHA-256 differs from the logged %s" % (path, digest))
            if a.marker is not None and a.marker.encode() in body:
                found_marker = True
    if not found_marker:
        die("no stored message contains %r" % a.marker)

    for sid, evs in sessions.items():
        first = evs[0]
        print("session %s %s:%s -> %s %s" % (
            sid, first["source_ip"], first["source_port"], first["dest_port"],
            " ".join(e["event"] for e in evs)))


if __name__ == "__main__":
    main()
