#!/usr/bin/env python3
"""e2e.py - end-to-end tests of smtpot: the real binary behind
systemd-socket-activate (or on a pipe, a socketpair, an accepted TCP socket),
driven by real clients (swaks, curl, smtplib, raw sockets), asserting the
replies, the JSON events, the spool files and the exit status.

Standard library only. Run from the repository root after `make smtpot`:
    python3 tests/e2e.py [-q] [TestClass[.test_method] ...]
SMTPOT=./smtpot-san runs it against another build, SHARED= names the
directory with corpus/ and cases/, E2E_KEEP=1 keeps the scratch directory.
Everything talks to 127.0.0.1 only; every process started is stopped by its
own PID; every loop is bounded in count and time. The last line printed is
"e2e: N passed, N failed[, N skipped]".
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SMTPOT=path runs the suite against another build (e.g. ./smtpot-san).
SMTPOT = os.path.abspath(os.environ.get("SMTPOT") or os.path.join(REPO, "smtpot"))
SHARED = os.path.abspath(os.environ.get("SHARED") or os.path.join(REPO, "..", "shared"))
CORPUS = os.path.join(SHARED, "corpus", "spam")
CASES_README = os.path.join(SHARED, "cases", "README.md")
HOSTNAME = "mx.example.com"
JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNALD = "/lib/systemd/systemd-journald"

ENVELOPE_KEYS = ["timestamp", "source_ip", "honeypot_type", "event", "data", "level",
                 "session", "seq", "source_port", "dest_ip", "dest_port", "sensor"]
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SESSION_RE = re.compile(r"^[0-9a-f]{32}$")
QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$")
PRIORITY = {"INFO": "6", "WARN": "4", "ERROR": "3"}
# The contract of smtpot-events(7): level and journal MESSAGE_ID per event name.
LEVELS = {
    "connect": "INFO", "helo": "INFO", "ehlo": "INFO", "mail_from": "WARN",
    "rcpt_to": "WARN", "data": "INFO", "message": "WARN", "rset": "INFO",
    "noop": "INFO", "vrfy": "WARN", "expn": "WARN", "help": "INFO", "quit": "INFO",
    "auth": "WARN", "starttls": "INFO", "tls": "INFO", "unknown_command": "WARN",
    "limit": "WARN", "timeout": "WARN", "disconnect": "INFO", "error": "ERROR",
}
MESSAGE_IDS = {
    "connect": "a9c3c1dcfad64fa19fb10b06430db8fb", "helo": "07b138271b304ae0b5d33e4d4861588f",
    "ehlo": "61c88c39a5e64f4a8c121a21240e42dc", "mail_from": "ee8a4091e0fb4fcfa83d1d9f6b7f2f92",
    "rcpt_to": "e0472a5cb7e541eca55c162cae2be386", "data": "4856e9cdca704fec909fdbbbfc0ef8fe",
    "message": "88f9dde33c384c6c8860f6f1026c71bc", "rset": "dc7135fe74c94335b10c5e46be806867",
    "noop": "707fc06c61364200ba826fb19a8aa64c", "vrfy": "04cdbcc488274c1ab85204351aca8c6f",
    "expn": "7a856cd75ac24f10b9d63c3287ad30a8", "help": "21024471653346ba927ac98a36a0ab86",
    "quit": "c0af0e0138784bcabc849e5e6ac4d538", "auth": "421395a375654b3c87a07895bd3765b3",
    "starttls": "8c7b2a43bea447af906f88b0c8c7dda6", "tls": "3552835fbd4a48649e17c8c21b64602c",
    "unknown_command": "e439f552525849d2a4cd384dd35f1afe", "limit": "2b757562cb0d4eee9ac170ea1c45807b",
    "timeout": "f2c41545664d4fe6ba9512c6a8f3dbc1", "disconnect": "38aa4449eb5244f0b1d7b391ad6bb01e",
    "error": "41f8cba277c146188d0dbd1a68153bff",
}

TMP = None  # the run's scratch directory, made in main() or on first use
LIVE = {}   # id -> stop function of every process started and not yet stopped
# The suite that runs: its name on messages and its scratch directory's prefix
# (tests/e2e_tls.py and tests/e2e_faults.py set their own through use_suite).
PROG = "e2e"
TMP_PREFIX = "smtpot-e2e-"
CERT = KEY = None


def use_suite(prog):
    """Makes this module's helpers serve the suite `prog` (e.g. "e2e_tls")."""
    global PROG, TMP_PREFIX
    PROG = prog
    TMP_PREFIX = "smtpot-%s-" % prog.replace("_", "-")


def stop_all():
    """Stops what a test could not (an exception, a signal, a broken pipe)."""
    for key, stop in list(LIVE.items()):
        try:
            stop()
        except Exception as e:  # keep stopping the others
            print("%s: cleanup of %s failed: %s" % (PROG, key, e), file=sys.stderr)
        LIVE.pop(key, None)


TMP_LOCK = threading.Lock()


def tmpdir(prefix):
    global TMP
    with TMP_LOCK:  # the trickle thread asks at the same time as the first test
        if TMP is None:
            TMP = tempfile.mkdtemp(prefix=TMP_PREFIX)
    return tempfile.mkdtemp(prefix=prefix + "-", dir=TMP)


def clean_env():
    """The environment for smtpot: nothing that would make it believe it runs
    under systemd or inetd (an inherited INVOCATION_ID would give every
    session the same id)."""
    env = dict(os.environ)
    for k in ("INVOCATION_ID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "REMOTE_ADDR",
              "REMOTE_PORT", "TCPREMOTEIP", "TCPREMOTEPORT", "REMOTE_HOST", "JOURNAL_STREAM"):
        env.pop(k, None)
    return env


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate():
    """A throwaway self-signed certificate for HOSTNAME, made once."""
    global CERT, KEY
    if CERT is None:
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl is not installed (apt-get install openssl)")
        d = tmpdir("cert")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=" + HOSTNAME, "-addext", "subjectAltName=DNS:" + HOSTNAME,
             "-keyout", key, "-out", cert],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl req failed: %r" % r.stdout)
        CERT, KEY = cert, key
    return CERT, KEY


def client_context(verify=False, max_version=None):
    """A TLS client context: trusting certificate() when `verify`, else none."""
    if verify:
        ctx = ssl.create_default_context(cafile=certificate()[0])
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def need_tool(tc, name):
    if shutil.which(name) is None:
        tc.skipTest("%s is not installed (apt-get install %s)" % (name, name))


def pid_alive_child_of(pid, parent):
    """True when pid exists, is not a zombie and its parent is `parent`."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0] != "Z" and int(fields[1]) == parent


# --- events ----------------------------------------------------------------

def parse_events(data):
    """Every line must be valid UTF-8 and one JSON object; returns them."""
    if data and not data.endswith(b"\n"):
        raise AssertionError("event log does not end with a newline: %r" % data[-200:])
    out = []
    for n, raw in enumerate(data.split(b"\n")[:-1] if data else [], 1):
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise AssertionError("event line %d is not valid UTF-8: %s: %r" % (n, e, raw[:200]))
        try:
            obj = json.loads(text)  # strict: raw control characters are refused
        except ValueError as e:
            raise AssertionError("event line %d is not JSON: %s: %r" % (n, e, raw[:200]))
        if not isinstance(obj, dict):
            raise AssertionError("event line %d is not an object" % n)
        out.append(obj)
    return out


def read_events(path):
    try:
        with open(path, "rb") as f:
            return parse_events(f.read())
    except FileNotFoundError:
        return []


def wait_events(path, disconnects, timeout=10.0, since=0):
    """Polls the log until it holds `disconnects` disconnect events after
    byte offset `since`; returns the parsed events after that offset."""
    deadline = time.monotonic() + timeout
    events = []
    while True:
        try:
            with open(path, "rb") as f:
                f.seek(since)
                data = f.read()
        except FileNotFoundError:
            data = b""
        # Only whole lines: a writer may be between two events.
        data = data[:data.rfind(b"\n") + 1]
        events = parse_events(data)
        n = sum(1 for e in events if e["event"] == "disconnect")
        if n >= disconnects or time.monotonic() > deadline:
            return events
        time.sleep(0.02)


def by_session(events):
    out = {}
    for e in events:
        out.setdefault(e["session"], []).append(e)
    return out


def names(events):
    return [e["event"] for e in events]


def one(events, name, index=0):
    found = [e for e in events if e["event"] == name]
    if len(found) <= index:
        raise AssertionError("no %s event #%d in %s" % (name, index, names(events)))
    return found[index]


def get(obj, path):
    """get(e, "data.anomalies.nul.count"); list indexes are numbers."""
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        else:
            obj = obj[part]
    return obj


def check_envelope(tc, e, source_ip=None, dest_port=None, sensor=None):
    tc.assertEqual(list(e.keys()), ENVELOPE_KEYS, "key order of %s" % e)
    tc.assertRegex(e["timestamp"], TIMESTAMP_RE)
    tc.assertEqual(e["honeypot_type"], "smtp")
    tc.assertIn(e["event"], LEVELS, "unknown event name %r" % e["event"])
    tc.assertEqual(e["level"], LEVELS[e["event"]], "level of %s" % e["event"])
    tc.assertRegex(e["session"], SESSION_RE)
    tc.assertIsInstance(e["seq"], int)
    tc.assertIsInstance(e["data"], dict)
    if source_ip is not None:
        tc.assertEqual(e["source_ip"], source_ip)
    if dest_port is not None:
        tc.assertEqual(e["dest_port"], dest_port)
    if sensor is not None:
        tc.assertEqual(e["sensor"], sensor)


def check_session(tc, evs, source_ip="127.0.0.1", dest_port=None, sensor=None):
    """One session's events: envelope, seq 1..n, one connect first, one
    disconnect last, the same addresses throughout, counters.events == n."""
    tc.assertTrue(evs, "no events")
    for e in evs:
        check_envelope(tc, e, source_ip=source_ip, dest_port=dest_port, sensor=sensor)
    tc.assertEqual([e["seq"] for e in evs], list(range(1, len(evs) + 1)), "seq of %s" % names(evs))
    tc.assertEqual(len({e["session"] for e in evs}), 1)
    tc.assertEqual(evs[0]["event"], "connect", names(evs))
    tc.assertEqual(evs[-1]["event"], "disconnect", names(evs))
    tc.assertEqual(names(evs).count("connect"), 1, names(evs))
    tc.assertEqual(names(evs).count("disconnect"), 1, names(evs))
    tc.assertEqual(len({(e["source_ip"], e["source_port"], e["dest_ip"], e["dest_port"], e["sensor"])
                        for e in evs}), 1, "envelope changes inside a session")
    tc.assertEqual(evs[0]["data"]["code"], 220)
    tc.assertTrue(evs[0]["data"]["reply"].startswith("220 "))
    tc.assertEqual(get(evs[-1], "data.counters.events"), len(evs))
    tc.assertEqual(get(evs[-1], "data.counters.events_lost"), 0)
    return evs[-1]["data"]["reason"]


def reply_codes(data):
    """Reply codes in the bytes a client received, one per (multi-line) reply."""
    codes = []
    for line in data.split(b"\r\n"):
        if len(line) >= 3 and line[:3].isdigit() and (len(line) == 3 or line[3:4] == b" "):
            codes.append(int(line[:3]))
    return codes


# --- servers and clients ------------------------------------------------------

class Server:
    """smtpot behind `systemd-socket-activate --inetd -a` on 127.0.0.1."""

    def __init__(self, name, *extra, spool_dir=None, log=True, env=None, port=None):
        self.dir = tmpdir(name)
        self.env = dict(clean_env(), **(env or {}))
        self.log = os.path.join(self.dir, "events.jsonl")
        self.spool = spool_dir if spool_dir is not None else os.path.join(self.dir, "spool")
        self.args = [SMTPOT, "--spool-dir=" + self.spool, "--hostname=" + HOSTNAME]
        if log:
            self.args.append("--log-file=" + self.log)
        self.args += list(extra)
        self.fixed_port = port  # a given port is tried once; else 5 free ones
        self.proc = None
        self.port = None
        self.errpath = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if shutil.which("systemd-socket-activate") is None:
            raise unittest.SkipTest("systemd-socket-activate is not installed (apt-get install systemd)")
        for attempt in range(1 if self.fixed_port else 5):
            port = self.fixed_port or free_port()
            self.errpath = os.path.join(self.dir, "activate-%d.err" % attempt)
            with open(self.errpath, "wb") as err:
                p = subprocess.Popen(
                    ["systemd-socket-activate", "--inetd", "-a", "-l", "127.0.0.1:%d" % port] + self.args,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    env=self.env, cwd=self.dir)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and p.poll() is None:
                if b"Listening on" in self.stderr():
                    self.proc, self.port = p, port
                    LIVE[id(self)] = self.stop
                    return self
                time.sleep(0.01)
            self._kill(p)
        raise RuntimeError("systemd-socket-activate did not start on %s: %r" % (port, self.stderr()))

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read()

    @staticmethod
    def _kill(p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    def children(self):
        """(PIDs spawned, {pid: exit code}) from the activator's log."""
        text = self.stderr().decode("utf-8", "replace")
        spawned = [int(x) for x in re.findall(r" as PID (\d+)", text)]
        died = {int(a): int(b) for a, b in re.findall(r"Child (\d+) died with code (-?\d+)", text)}
        return spawned, died

    def wait_children(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            spawned, died = self.children()
            if all(p in died for p in spawned) or time.monotonic() > deadline:
                return spawned, died
            time.sleep(0.02)

    def check_children(self, tc, count=None, timeout=10.0):
        """Every session process ended with status 0."""
        spawned, died = self.wait_children(timeout)
        if count is not None:
            tc.assertEqual(len(spawned), count, "sessions spawned")
        tc.assertEqual(sorted(died), sorted(spawned), "session processes still running")
        bad = {p: c for p, c in died.items() if c != 0}
        tc.assertEqual(bad, {}, "session processes with a non-zero status")

    def stop(self):
        if self.proc is None:
            return
        try:
            spawned, died = self.wait_children(5)
            for pid in spawned:
                if pid not in died and pid_alive_child_of(pid, self.proc.pid):
                    os.kill(pid, signal.SIGKILL)
        finally:
            self._kill(self.proc)
            self.proc = None
            LIVE.pop(id(self), None)

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except FileNotFoundError:
            return 0


class Client:
    """A raw SMTP client on a TCP socket, every read bounded by a deadline."""

    MAX_REPLY_LINES = 10000

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.local_port = self.sock.getsockname()[1]
        self.timeout = timeout
        self.buf = b""
        self.received = b""

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply in time; got %r" % self.received[-300:])
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        self.received += chunk
        return chunk

    def reply(self):
        """One whole reply: (code, [lines])."""
        deadline = time.monotonic() + self.timeout
        lines = []
        for _ in range(self.MAX_REPLY_LINES):
            while b"\r\n" not in self.buf:
                chunk = self._recv(deadline)
                if not chunk:
                    raise EOFError("connection closed; got %r" % self.received[-300:])
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), lines
        raise AssertionError("reply without an end")

    def send(self, data):
        self.sock.sendall(data)

    def until_eof(self, timeout=10.0):
        """Reads until the server closes; returns everything received."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if not self._recv(deadline):
                return self.received
        raise AssertionError("too many reads")

    def close(self):
        self.sock.close()


def spool_bytes(server, message_event):
    name = message_event["data"]["spool_file"]
    if name is None:
        raise AssertionError("message not stored: %s" % message_event)
    if "/" in name or name.startswith("."):
        raise AssertionError("spool file name is a path: %r" % name)
    with open(os.path.join(server.spool, name), "rb") as f:
        return f.read()


# --- 1. swaks ------------------------------------------------------------------

class T01Swaks(unittest.TestCase):
    def test_swaks_full_session(self):
        need_tool(self, "swaks")
        with Server("swaks", "--sensor=e2e-sensor") as srv:
            body = "hello from swaks\n.leading dot\nlast line"
            r = subprocess.run(
                ["swaks", "--server", "127.0.0.1:%d" % srv.port, "--to", "b@example.com",
                 "--from", "a@example.com", "--helo", "client.example.com",
                 "--header", "Subject: test", "--body", body, "--timeout", "10"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30, env=clean_env())
            transcript = r.stdout.decode("utf-8", "replace")
            self.assertEqual(r.returncode, 0, transcript)
            queued = [m.group(1) for m in
                      (QUEUED_RE.match(l[4:]) for l in transcript.splitlines() if l.startswith("<-  "))
                      if m]
            self.assertEqual(len(queued), 1, transcript)
            self.assertIn("<-  221 2.0.0 Bye", transcript)

            evs = wait_events(srv.log, 1)
            self.assertEqual(names(evs), ["connect", "ehlo", "mail_from", "rcpt_to", "data",
                                          "message", "quit", "disconnect"])
            reason = check_session(self, evs, source_ip="127.0.0.1", dest_port=srv.port,
                                   sensor="e2e-sensor")
            self.assertEqual(reason, "quit")
            self.assertEqual([e["level"] for e in evs],
                             ["INFO", "INFO", "WARN", "WARN", "INFO", "WARN", "INFO", "INFO"])
            self.assertEqual({e["dest_ip"] for e in evs}, {"127.0.0.1"})
            self.assertIsInstance(evs[0]["source_port"], int)
            self.assertNotEqual(evs[0]["source_port"], srv.port)
            self.assertEqual(evs[0]["data"]["reply"], "220 %s ESMTP Postfix (Debian/GNU)" % HOSTNAME)
            self.assertEqual(get(evs[1], "data.name"), "client.example.com")
            self.assertEqual(get(evs[2], "data.from"), "a@example.com")
            self.assertEqual(get(evs[3], "data.to"), "b@example.com")
            self.assertEqual(get(evs[4], "data.code"), 354)
            for e in evs[1:5] + evs[6:7]:
                self.assertIn("line", e["data"])
                self.assertIsInstance(e["data"]["code"], int)
            m = evs[5]["data"]
            self.assertEqual(m["queue_id"], queued[0])
            self.assertEqual(m["reply"], "250 2.0.0 Ok: queued as " + queued[0])
            self.assertEqual(m["from"], "a@example.com")
            self.assertEqual(m["to"], ["b@example.com"])
            self.assertEqual(m["helo"], "client.example.com")
            self.assertIs(m["complete"], True)
            self.assertIs(m["truncated"], False)
            self.assertEqual(m["headers"]["subject"], "test")
            self.assertEqual(m["dots_unstuffed"], 1)
            stored = spool_bytes(srv, evs[5])
            self.assertEqual(sha256(stored), m["sha256"])
            self.assertEqual(len(stored), m["size"])
            self.assertEqual(m["spool_file"], m["sha256"] + ".eml")
            self.assertIn(b"\r\nSubject: test\r\n", stored)
            self.assertIn(b"\r\n\r\nhello from swaks\r\n.leading dot\r\nlast line\r\n", stored)
            self.assertEqual(get(evs[-1], "data.counters.messages"), 1)
            self.assertEqual(get(evs[-1], "data.counters.recipients"), 1)
            srv.check_children(self, count=1)


# --- 2. smtplib ------------------------------------------------------------------

class T02Smtplib(unittest.TestCase):
    def test_sendmail_two_recipients(self):
        msg = (b"From: a@example.com\r\nTo: b@example.com, c@example.com\r\n"
               b"Subject: smtplib\r\n\r\nline one\r\n.dot line\r\n..two dots\r\nend\r\n")
        with Server("smtplib") as srv:
            with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="client.example.com",
                              timeout=10) as s:
                refused = s.sendmail("a@example.com", ["b@example.com", "c@example.com"], msg)
                self.assertEqual(refused, {})
            evs = wait_events(srv.log, 1)
            self.assertEqual(names(evs), ["connect", "ehlo", "mail_from", "rcpt_to", "rcpt_to",
                                          "data", "message", "quit", "disconnect"])
            check_session(self, evs, dest_port=srv.port)
            # smtplib announces the size it is about to send.
            mf = one(evs, "mail_from")["data"]
            self.assertEqual(mf["params"][0]["name"].upper(), "SIZE")
            self.assertEqual(mf["size"], len(msg))
            m = one(evs, "message")["data"]
            self.assertEqual(m["to"], ["b@example.com", "c@example.com"])
            self.assertEqual(m["from"], "a@example.com")
            self.assertRegex(m["reply"], QUEUED_RE)
            self.assertEqual(m["size"], len(msg))
            self.assertEqual(m["sha256"], sha256(msg))
            self.assertEqual(m["dots_unstuffed"], 2)
            self.assertEqual(spool_bytes(srv, one(evs, "message")), msg)
            srv.check_children(self, count=1)

    def test_pipelined_burst(self):
        """MAIL/RCPT/RCPT/DATA in one write: one reply per command, in order."""
        with Server("pipelining") as srv:
            c = Client(srv.port)
            try:
                self.assertEqual(c.reply()[0], 220)
                c.send(b"EHLO client.example.com\r\n")
                code, lines = c.reply()
                self.assertEqual(code, 250)
                self.assertIn("250-PIPELINING", lines)
                c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                       b"RCPT TO:<c@example.com>\r\nDATA\r\n")
                burst = [c.reply() for _ in range(4)]
                self.assertEqual([b[1] for b in burst],
                                 [["250 2.1.0 Ok"], ["250 2.1.5 Ok"], ["250 2.1.5 Ok"],
                                  ["354 End data with <CR><LF>.<CR><LF>"]])
                c.send(b"Subject: burst\r\n\r\nbody\r\n.\r\nQUIT\r\n")
                code, lines = c.reply()
                self.assertRegex(lines[0], QUEUED_RE)
                self.assertEqual(c.reply(), (221, ["221 2.0.0 Bye"]))
                rest = c.until_eof()
                self.assertTrue(rest.endswith(b"221 2.0.0 Bye\r\n"), "bytes after 221: %r" % rest[-100:])
                self.assertEqual(c.buf, b"", "extra replies: %r" % c.buf)
            finally:
                c.close()
            evs = wait_events(srv.log, 1)
            check_session(self, evs, dest_port=srv.port)
            self.assertEqual(evs[0]["source_port"], c.local_port)
            self.assertEqual(names(evs), ["connect", "ehlo", "mail_from", "rcpt_to", "rcpt_to",
                                          "data", "message", "quit", "disconnect"])
            # Each command's event carries its own line and the reply it got.
            self.assertEqual([(e["data"]["line"], e["data"]["reply"]) for e in evs[2:6]],
                             [("MAIL FROM:<a@example.com>", "250 2.1.0 Ok"),
                              ("RCPT TO:<b@example.com>", "250 2.1.5 Ok"),
                              ("RCPT TO:<c@example.com>", "250 2.1.5 Ok"),
                              ("DATA", "354 End data with <CR><LF>.<CR><LF>")])
            m = one(evs, "message")
            self.assertEqual(m["data"]["to"], ["b@example.com", "c@example.com"])
            self.assertEqual(spool_bytes(srv, m), b"Subject: burst\r\n\r\nbody\r\n")
            srv.check_children(self, count=1)


# --- 3. curl -------------------------------------------------------------------------

class T03Curl(unittest.TestCase):
    def test_curl_upload(self):
        need_tool(self, "curl")
        with Server("curl") as srv:
            body = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: curl upload\r\n\r\n"
                    b"first\r\n.dot line that curl stuffs\r\nlast\r\n")
            path = os.path.join(srv.dir, "mail.txt")
            with open(path, "wb") as f:
                f.write(body)
            r = subprocess.run(
                ["curl", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d/client.example.com" % srv.port,
                 "--mail-from", "a@example.com", "--mail-rcpt", "b@example.com",
                 "--upload-file", path],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=clean_env())
            self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
            evs = wait_events(srv.log, 1)
            check_session(self, evs, dest_port=srv.port)
            self.assertEqual(names(evs), ["connect", "ehlo", "mail_from", "rcpt_to", "data",
                                          "message", "quit", "disconnect"])
            self.assertEqual(get(one(evs, "ehlo"), "data.name"), "client.example.com")
            m = one(evs, "message")["data"]
            self.assertEqual(m["from"], "a@example.com")
            self.assertEqual(m["to"], ["b@example.com"])
            self.assertRegex(m["reply"], QUEUED_RE)
            self.assertIs(m["complete"], True)
            self.assertEqual(m["size"], len(body))
            self.assertEqual(m["sha256"], sha256(body))
            self.assertEqual(m["dots_unstuffed"], 1)
            self.assertEqual(m["headers"]["subject"], "curl upload")
            self.assertEqual(spool_bytes(srv, one(evs, "message")), body)
            srv.check_children(self, count=1)


# --- 4. the spam corpus --------------------------------------------------------------

class T04Corpus(unittest.TestCase):
    def test_corpus_stored_byte_exact(self):
        if not os.path.isdir(CORPUS):
            self.skipTest("no spam corpus at %s (set SHARED=)" % CORPUS)
        files = sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml"))
        if not files:
            self.skipTest("no .eml files in %s" % CORPUS)
        raws = []
        for name in files:
            with open(os.path.join(CORPUS, name), "rb") as f:
                raws.append(f.read())
        with Server("corpus") as srv:
            # One connection, one transaction per file, as a bulk sender does.
            # smtplib sends bytes as they are (no line-end rewriting), adds
            # nothing when the data ends with CRLF, and dot-stuffs every line
            # that starts with "." (the corpus has such lines only after CRLF).
            with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="bulk.example.com",
                              timeout=30) as s:
                for name, raw in zip(files, raws):
                    self.assertTrue(raw.endswith(b"\r\n"), name)
                    self.assertEqual(s.sendmail("spammer@example.net", ["victim@example.com"], raw),
                                     {}, name)
            evs = wait_events(srv.log, 1, timeout=30)
            check_session(self, evs, dest_port=srv.port)
            msgs = [e for e in evs if e["event"] == "message"]
            self.assertEqual(len(msgs), len(files))
            for name, raw, m in zip(files, raws, msgs):
                d = m["data"]
                with self.subTest(file=name):
                    self.assertRegex(d["reply"], QUEUED_RE)
                    self.assertIs(d["complete"], True)
                    self.assertIs(d["truncated"], False)
                    self.assertEqual(d["size"], len(raw))
                    self.assertEqual(d["sha256"], sha256(raw))
                    stored = spool_bytes(srv, m)
                    self.assertEqual(sha256(stored), sha256(raw))
                    self.assertTrue(stored == raw, "stored bytes differ from %s" % name)
                    self.assertEqual(d["dots_unstuffed"], len(re.findall(rb"(?:^|\r\n)\.", raw)))
                    # The archive's "[removed]" edits left bare LFs: flagged, kept.
                    bare_lf = len(re.findall(rb"(?<!\r)\n", raw))
                    self.assertEqual(get(d, "anomalies").get("bare_lf", {}).get("count", 0), bare_lf)
            self.assertEqual(get(evs[-1], "data.counters.messages"), len(files))
            srv.check_children(self, count=1)


# --- 5. the journal -------------------------------------------------------------------

def journal_listening():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.connect(JOURNAL_SOCKET)
        return True
    except OSError:
        return False
    finally:
        s.close()


class T05Journal(unittest.TestCase):
    journald = None

    @classmethod
    def setUpClass(cls):
        cls.skip_reason = None
        if shutil.which("journalctl") is None:
            cls.skip_reason = "journalctl is not installed (apt-get install systemd)"
            return
        if journal_listening():
            return
        if os.geteuid() != 0:
            cls.skip_reason = "no journald listens on %s and starting one needs root" % JOURNAL_SOCKET
            return
        if not os.access(JOURNALD, os.X_OK):
            cls.skip_reason = "no journald listens and %s is missing" % JOURNALD
            return
        cls.journald_log = open(os.path.join(tmpdir("journald"), "journald.out"), "wb")
        cls.journald = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL,
                                        stdout=cls.journald_log, stderr=subprocess.STDOUT)
        LIVE["journald"] = cls.tearDownClass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and cls.journald.poll() is None:
            if journal_listening():
                return
            time.sleep(0.05)
        cls.tearDownClass()
        raise RuntimeError("systemd-journald did not start listening on %s" % JOURNAL_SOCKET)

    @classmethod
    def tearDownClass(cls):
        if cls.journald is not None:
            Server._kill(cls.journald)
            cls.journald = None
            cls.journald_log.close()
        LIVE.pop("journald", None)

    def journalctl(self, *args):
        r = subprocess.run(["journalctl", "--no-pager", "-q", "--all"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
        return r.stdout

    def test_journal_matches_file(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)
        # PIDs are reused: a query by _PID keeps only entries from now on.
        since_us = int((time.time() - 1) * 1e6)
        # A spool directory under a regular file cannot be made: an ERROR event.
        blocker = os.path.join(tmpdir("journal-blocker"), "file")
        open(blocker, "wb").close()
        with Server("journal", "--journal", spool_dir=os.path.join(blocker, "spool")) as srv:
            c = Client(srv.port)
            try:
                script = [(b"", 220), (b"EHLO client.example.com\r\n", 250), (b"NOOP\r\n", 250),
                          (b"VRFY root\r\n", 252), (b"XYZZY\r\n", 500),
                          (b"MAIL FROM:<a@example.com>\r\n", 250), (b"RCPT TO:<b@example.com>\r\n", 250),
                          (b"DATA\r\n", 354), (b"Subject: journal\r\n\r\nhello\r\n.\r\n", 250),
                          (b"RSET\r\n", 250), (b"QUIT\r\n", 221)]
                for send, code in script:
                    if send:
                        c.send(send)
                    self.assertEqual(c.reply()[0], code, send)
                c.until_eof()
            finally:
                c.close()
            evs = wait_events(srv.log, 1)
            check_session(self, evs, dest_port=srv.port)
            self.assertEqual({e["level"] for e in evs}, {"INFO", "WARN", "ERROR"})
            self.assertEqual(one(evs, "error")["data"]["what"], "spool directory")
            self.assertIsNone(one(evs, "message")["data"]["spool_file"])
            with open(srv.log, "rb") as f:
                file_lines = f.read().decode("utf-8").splitlines()
            session = evs[0]["session"]
            spawned, died = srv.wait_children()
            self.assertEqual(len(spawned), 1)
            self.assertEqual(died.get(spawned[0]), 0)

            deadline = time.monotonic() + 15
            got = []
            while time.monotonic() < deadline:
                got = self.journalctl("-o", "cat", "SYSLOG_IDENTIFIER=smtpot",
                                      "SMTPOT_SESSION=" + session).decode("utf-8").splitlines()
                if len(got) >= len(file_lines):
                    break
                time.sleep(0.1)
            self.assertEqual(got, file_lines, "journalctl -o cat differs from the log file")
            by_pid = [j["MESSAGE"] for j in
                      (json.loads(l) for l in self.journalctl("-o", "json", "SYSLOG_IDENTIFIER=smtpot",
                                                              "_PID=%d" % spawned[0]).splitlines())
                      if int(j["__REALTIME_TIMESTAMP"]) >= since_us]
            self.assertEqual(by_pid, file_lines, "journalctl _PID= differs from the log file")

            entries = [json.loads(l) for l in
                       self.journalctl("-o", "json", "SMTPOT_SESSION=" + session).splitlines()]
            self.assertEqual(len(entries), len(evs))
            for j, e, line in zip(entries, evs, file_lines):
                with self.subTest(seq=e["seq"], event=e["event"]):
                    self.assertEqual(j["MESSAGE"], line)
                    self.assertEqual(j["PRIORITY"], PRIORITY[e["level"]])
                    self.assertEqual(j["MESSAGE_ID"], MESSAGE_IDS[e["event"]])
                    self.assertEqual(j["SYSLOG_IDENTIFIER"], "smtpot")
                    self.assertEqual(j["SMTPOT_EVENT"], e["event"])
                    self.assertEqual(j["SMTPOT_SESSION"], session)
                    self.assertEqual(j["SMTPOT_SEQ"], str(e["seq"]))
                    self.assertEqual(j["SMTPOT_SOURCE_IP"], "127.0.0.1")
                    self.assertEqual(j["SMTPOT_LEVEL"], e["level"])
                    self.assertEqual(j["_PID"], str(spawned[0]))
            catalog = os.path.join(REPO, "systemd", "smtpot.catalog")
            if os.path.exists(catalog):
                with open(catalog) as f:
                    ids = set(re.findall(r"^-- ([0-9a-f]{32})\s*$", f.read(), re.M))
                self.assertEqual(set(MESSAGE_IDS.values()) - ids, set(), "ids missing from the catalog")


# --- 6. concurrency -------------------------------------------------------------------

class T06Concurrency(unittest.TestCase):
    SESSIONS = 200
    PARALLEL = 20

    def test_200_sessions_one_log(self):
        with Server("concurrency") as srv:
            # The spool directory exists, as under systemd (StateDirectory=):
            # its creation by racing sessions is test_spool_dir_race's job.
            os.mkdir(srv.spool, 0o700)
            def session(i):
                body = ("Subject: session %d\r\n\r\n" % i + ("line %d of session %d\r\n" % (i, i)) * 50).encode()
                with smtplib.SMTP("127.0.0.1", srv.port, local_hostname="c%d.example.com" % i,
                                  timeout=20) as s:
                    refused = s.sendmail("a%d@example.com" % i, ["b%d@example.com" % i], body)
                return i, refused, body

            start = time.monotonic()
            results = {}
            with concurrent.futures.ThreadPoolExecutor(self.PARALLEL) as pool:
                futures = [pool.submit(session, i) for i in range(self.SESSIONS)]
                for f in concurrent.futures.as_completed(futures, timeout=90):
                    i, refused, body = f.result()
                    self.assertEqual(refused, {})
                    results[i] = body
            self.assertEqual(len(results), self.SESSIONS)
            evs = wait_events(srv.log, self.SESSIONS, timeout=30)
            self.assertLess(time.monotonic() - start, 120)

            with open(srv.log, "rb") as f:
                lines = f.read().split(b"\n")[:-1]
            self.assertEqual(len(lines), len(evs))
            sessions = by_session(evs)
            self.assertEqual(len(sessions), self.SESSIONS)
            total = 0
            ports = set()
            seen = set()
            for sid, sevs in sessions.items():
                with self.subTest(session=sid):
                    # Lines of a session are in seq order even when interleaved with others.
                    self.assertEqual(check_session(self, sevs, dest_port=srv.port), "quit")
                    self.assertEqual(names(sevs), ["connect", "ehlo", "mail_from", "rcpt_to", "data",
                                                   "message", "quit", "disconnect"])
                    i = int(get(one(sevs, "ehlo"), "data.name")[1:].split(".")[0])
                    m = one(sevs, "message")["data"]
                    self.assertEqual(m["from"], "a%d@example.com" % i)
                    self.assertEqual(m["to"], ["b%d@example.com" % i])
                    self.assertEqual(m["sha256"], sha256(results[i]))
                    self.assertEqual(spool_bytes(srv, one(sevs, "message")), results[i])
                    seen.add(i)
                    ports.add(sevs[0]["source_port"])
                    total += get(sevs[-1], "data.counters.events")
            self.assertEqual(seen, set(range(self.SESSIONS)))
            self.assertEqual(total, len(lines))
            self.assertEqual(len(os.listdir(srv.spool)), self.SESSIONS)
            srv.check_children(self, count=self.SESSIONS)

    def test_spool_dir_race(self):
        """Sessions that find the spool directory missing create it; when
        two do so at once, the loser's mkdir fails with EEXIST and it must
        open the directory the winner made, not give up on the message.
        With strace, the race is forced: the first open of the (existing)
        directory is made to fail with ENOENT, as when another session
        creates it between this one's open and mkdir. Without strace,
        rounds of 40 sessions send DATA at once to a fresh directory."""
        if shutil.which("strace"):
            d = tmpdir("spool-race")
            log, spool = os.path.join(d, "events.jsonl"), os.path.join(d, "spool")
            os.mkdir(spool, 0o700)
            session = (b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                       b"DATA\r\nSubject: race\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            argv = [SMTPOT, "--spool-dir=" + spool, "--hostname=" + HOSTNAME]
            # Which call opens the directory (open or openat: the C library's choice);
            # strace counts each call apart, so only that one is made to fail.
            first = os.path.join(d, "first.out")
            subprocess.run(["strace", "-qq", "-o", first, "-P", spool, "-e", "trace=openat,open"] + argv
                           + ["--log-file=" + os.path.join(d, "first.jsonl")],
                           input=session, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=30, env=clean_env())
            with open(first) as f:
                call = f.read().split("(", 1)[0].split()[-1]
            self.assertIn(call, ("open", "openat"))
            for name in os.listdir(spool):
                os.unlink(os.path.join(spool, name))
            r = subprocess.run(
                ["strace", "-f", "-qq", "-o", os.path.join(d, "strace.out"), "-P", spool,
                 "-e", "trace=openat,open,mkdir", "-e", "inject=%s:error=ENOENT:when=1" % call] + argv
                + ["--log-file=" + log],
                input=session, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=clean_env())
            with open(os.path.join(d, "strace.out")) as f:
                trace = f.read()
            self.assertIn("INJECTED", trace, "strace did not force the race: %s" % trace)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(reply_codes(r.stdout), [220, 250, 250, 250, 354, 250, 221])
            evs = read_events(log)
            check_session(self, evs, source_ip="unknown")
            self.assertNotIn("error", names(evs), [e["data"] for e in evs if e["event"] == "error"])
            m = one(evs, "message")["data"]
            self.assertIsNotNone(m["spool_file"], "message not stored")
            with open(os.path.join(spool, m["spool_file"]), "rb") as f:
                self.assertEqual(f.read(), b"Subject: race\r\n\r\nbody\r\n")
            return
        deadline = time.monotonic() + 6
        rounds = 0
        while time.monotonic() < deadline and rounds < 40:
            rounds += 1
            with Server("spool-race") as srv:
                n = 40
                barrier = threading.Barrier(n)

                def session(i):
                    c = Client(srv.port)
                    try:
                        c.reply()
                        c.send(b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
                        for _ in range(3):
                            c.reply()
                        barrier.wait(10)
                        c.send(b"DATA\r\nSubject: %d\r\n\r\nx\r\n.\r\nQUIT\r\n" % i)
                        c.until_eof()
                    finally:
                        c.close()

                with concurrent.futures.ThreadPoolExecutor(n) as pool:
                    for f in [pool.submit(session, i) for i in range(n)]:
                        f.result(timeout=30)
                evs = wait_events(srv.log, n)
                errors = [e["data"] for e in evs if e["event"] == "error"]
                self.assertEqual(errors, [], "round %d" % rounds)
                self.assertEqual(len(os.listdir(srv.spool)), n)

    def test_session_ids_unique_under_a_launcher_started_by_systemd(self):
        """xinetd passes its whole environment to the servers it starts
        (xinetd.conf(5), "env"); run as xinetd.service on a systemd host, that
        includes the INVOCATION_ID of xinetd.service itself, the same for
        every connection. Each connection must still get its own session id.
        (systemd-socket-activate passes only a few variables, so the launcher
        here is the test itself, as xinetd: fork, exec, full environment.)"""
        inherited = "0123456789abcdef0123456789abcdef"
        ids = []
        for i in range(3):
            a, b = socket.socketpair()
            d = Direct([], b, env={"INVOCATION_ID": inherited})
            b.close()
            try:
                a.sendall(b"QUIT\r\n")
                read_until(a, b"221 ")
                status, err = d.wait()
            finally:
                d.kill()
                a.close()
            self.assertEqual(status, 0, err)
            evs = read_events(d.log)
            check_session(self, evs, source_ip="unknown")
            ids.append(evs[0]["session"])
        self.assertEqual(len(set(ids)), 3, "3 connections logged under the session ids %s" % ids)


# --- 7. C8 in real time -----------------------------------------------------------------

class Trickle:
    """Case C8, run in a thread while the other tests run: HELO, then one
    byte every 3 s, never a line end; 5 s idle and 15 s session limits."""

    def __init__(self):
        self.thread = None
        self.result = None
        self.error = None
        self.server = None

    def start(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    def _run(self):
        try:
            self.server = Server("trickle", "--idle-timeout=5", "--session-timeout=15").start()
            self.result = self._talk(self.server.port)
            self.result["events"] = wait_events(self.server.log, 1)
            self.result["children"] = self.server.wait_children()
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            if self.server is not None:
                self.server.stop()

    @staticmethod
    def _talk(port):
        c = Client(port, timeout=20)
        t0 = time.monotonic()
        sent = 0
        closed_at = None
        try:
            if c.reply()[0] != 220:
                raise AssertionError("no banner")
            c.send(b"HELO client.example.com\r\n")
            c.reply()
            next_send = time.monotonic() + 3
            deadline = t0 + 25
            for _ in range(1000):
                now = time.monotonic()
                if now > deadline:
                    break
                r, _, _ = select.select([c.sock], [], [], max(0.0, min(next_send, deadline) - now))
                if r:
                    try:
                        chunk = c.sock.recv(4096)
                    except ConnectionError:
                        chunk = b""
                    c.received += chunk
                    if not chunk:
                        closed_at = time.monotonic() - t0
                        break
                    continue
                if time.monotonic() >= next_send:
                    try:
                        c.send(b"x")
                        sent += 1
                    except OSError:
                        pass
                    next_send += 3
        finally:
            c.close()
        return {"received": c.received, "closed_at": closed_at, "sent": sent, "port": c.local_port}

    def wait(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


TRICKLE = Trickle()


class T07Trickle(unittest.TestCase):
    def test_c8_trickle_real_time(self):
        TRICKLE.start()
        self.assertTrue(TRICKLE.wait(40), "the trickle client did not finish in 40 s")
        if isinstance(TRICKLE.error, unittest.SkipTest):
            raise TRICKLE.error
        if TRICKLE.error is not None:
            raise TRICKLE.error
        r = TRICKLE.result
        self.assertEqual(reply_codes(r["received"]), [220, 250, 421], r["received"])
        self.assertIn(b"421 4.4.2 " + HOSTNAME.encode() + b" Error: timeout exceeded\r\n", r["received"])
        self.assertIsNotNone(r["closed_at"], "server never closed")
        self.assertGreaterEqual(r["closed_at"], 14.5)
        self.assertLessEqual(r["closed_at"], 16.5)
        self.assertGreaterEqual(r["sent"], 4)
        evs = r["events"]
        self.assertEqual(names(evs), ["connect", "helo", "timeout", "disconnect"])
        check_session(self, evs)
        t = one(evs, "timeout")["data"]
        self.assertEqual(t["timeout"], "session")  # each byte came before the 5 s idle limit
        self.assertEqual(t["seconds"], 15)
        self.assertEqual(t["phase"], "command")
        self.assertIn(t["partial_line"], ("xxxx", "xxxxx"))
        self.assertEqual(t["code"], 421)
        d = evs[-1]["data"]
        self.assertEqual(d["reason"], "timeout")
        self.assertGreaterEqual(d["duration_ms"], 14500)
        self.assertLessEqual(d["duration_ms"], 16000)
        spawned, died = r["children"]
        self.assertEqual(len(spawned), 1)
        self.assertEqual(died.get(spawned[0]), 0)


# --- 8. cases C1-C12 -----------------------------------------------------------------------

# (chunks, ends with EOF, reply codes); a chunk is (split, bytes): split means
# it goes out about 200 ms after the previous write, as a separate read.
CASES = {
    "C1": ([(0, b"EHLO client.example.com\r\n"),
            (0, b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
            (0, b"Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<boss@example.org>\r\nRCPT TO:<b@example.com>\r\n"
                b"DATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n"),
            (0, b"QUIT\r\n")], False, [220, 250, 250, 250, 354, 250, 221]),
    "C2": ([(0, b"HELO client.example.com\n"), (0, b"MAIL FROM:<a@example.com>\n"),
            (0, b"RCPT TO:<b@example.com>\n"), (0, b"DATA\n"),
            (0, b"Subject: lf\n\nbody\n.\nQUIT\n")], True, [220, 250, 250, 250, 354]),
    "C3": ([(0, b"EHLO client.example.com\r\n"),
            (0, b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n"
                b"DATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n")],
           False, [220, 250, 250, 250, 250, 354, 250, 221]),
    "C4": ([(0, b"HELO client.exa"), (1, b"mple.com\r"), (1, b"\nMAIL FROM:<caf\xc3"),
            (1, b"\xa9@example.com>\r\nQUIT\r\n")], False, [220, 250, 250, 221]),
    "C5": ([(0, b"X\x80X\r\n"), (0, b"EHLO client.example.com\xff\r\n"), (0, b"QUIT\r\n")],
           False, [220, 500, 250, 221]),
    "C6": ([(0, b"HELO client.exa\x00mple.com\r\n"),
            (0, b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
            (0, b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n"), (0, b"QUIT\r\n")],
           False, [220, 250, 250, 250, 354, 250, 221]),
    "C7": ([(0, b"EHLO " + b"a" * 100000 + b"\r\n"), (0, b"QUIT\r\n")], False, [220, 500, 221]),
    "C9": ([(0, b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"),
            (0, b"Subject: partial\r\n\r\nhalf a messa")], True, [220, 250, 250, 250, 354]),
    "C10": ([(0, b"HELO\r\n"), (0, b"EHLO \r\n"), (0, b"HELO client.example.com\r\n"), (0, b"QUIT\r\n")],
            False, [220, 501, 501, 250, 221]),
    "C11": ([(0, b"EHLO client.example.com\r\n"), (0, b"MAIL FROM:<>\r\n"),
             (0, b"RCPT TO:<postmaster@example.com>\r\n"), (0, b"DATA\r\n"),
             (0, b"Subject: bounce\r\n\r\nbounce\r\n.\r\n"), (0, b"QUIT\r\n")],
            False, [220, 250, 250, 250, 354, 250, 221]),
    "C12": ([(0, b"EHLO client.example.com\r\n"), (0, b"MAIL FROM:<a@example.com> SIZE=1024 BODY=8bitmime\r\n"),
             (0, b"RSET\r\n"), (0, b"MAIL FROM:<a@example.com> SIZE=99999999999999999999\r\n"),
             (0, b"MAIL FROM:<a@example.com> SIZE=abc\r\n"), (0, b"MAIL FROM:<a@example.com> X-UNKNOWN=1\r\n"),
             (0, b"QUIT\r\n")], False, [220, 250, 250, 250, 552, 501, 555, 221]),
}


def unescape_case(text):
    """The README notation: \\r, \\n and \\xHH are single bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text.startswith("\\r", i):
            out += b"\r"
            i += 2
        elif text.startswith("\\n", i):
            out += b"\n"
            i += 2
        elif text.startswith("\\x", i):
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += text[i].encode("utf-8")
            i += 1
    return bytes(out)


def parse_readme_cases(path):
    """{name: (chunks, eof, codes)} from the cases README."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    cases = {}
    for m in re.finditer(r"^## (C\d+)\b.*?(?=^## |\Z)", text, re.M | re.S):
        name, section = m.group(1), m.group(0)
        codes = re.search(r"Replies ((?:\d{3}[ ,.]*)+)", section)
        block = re.search(r"^```\n(.*?)^```", section, re.M | re.S)
        if not block:
            continue
        chunks, eof, split = [], False, 0
        for line in block.group(1).splitlines():
            if line == "--split--":
                split = 1
            elif line == "--EOF--":
                eof = True
            elif line.startswith("C> "):
                body = line[3:]
                if body.startswith('"'):
                    data = b""
                    for term in body.split(" + "):
                        tm = re.fullmatch(r'"(.*)"(?: x (\d+))?', term)
                        data += unescape_case(tm.group(1)) * int(tm.group(2) or 1)
                else:
                    data = unescape_case(body)
                chunks.append((split, data))
                split = 0
        # A case may leave its replies unsaid (C6): None then.
        cases[name] = (chunks, eof, [int(c) for c in re.findall(r"\d{3}", codes.group(1))]
                       if codes else None)
    return cases


class T08Cases(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("cases").start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.stop()

    def run_case(self, name):
        chunks, eof, codes = CASES[name]
        since = self.srv.log_size()
        c = Client(self.srv.port)
        try:
            # Wait for the banner as a client does, then write chunk by chunk.
            self.assertEqual(c.reply()[0], 220)
            for split, data in chunks:
                time.sleep(0.2 if split else 0.02)
                c.send(data)
            if eof:
                c.sock.shutdown(socket.SHUT_WR)
            received = c.until_eof()
        finally:
            c.close()
        self.assertEqual(reply_codes(received), codes, received[-500:])
        evs = wait_events(self.srv.log, 1, since=since)
        self.assertEqual(names(evs).count("disconnect"), 1, names(evs))
        check_session(self, evs, dest_port=self.srv.port)
        self.assertEqual(evs[0]["source_port"], c.local_port)
        return evs

    def stored(self, ev):
        return spool_bytes(self.srv, ev)

    def test_readme_matches(self):
        """The cases here are the ones in the shared README, byte for byte."""
        if not os.path.exists(CASES_README):
            self.skipTest("no %s (set SHARED=)" % CASES_README)
        readme = parse_readme_cases(CASES_README)
        for name, (chunks, eof, codes) in CASES.items():
            with self.subTest(case=name):
                self.assertIn(name, readme, "case missing from the README")
                r_chunks, r_eof, r_codes = readme[name]
                self.assertEqual([(sp, len(b), sha256(b)) for sp, b in r_chunks],
                                 [(sp, len(b), sha256(b)) for sp, b in chunks], "writes differ")
                self.assertEqual(r_eof, eof)
                if r_codes is not None:
                    self.assertEqual(r_codes, codes)
        # C8 is timing, not bytes: T07Trickle runs it in real time.
        self.assertLessEqual(set(readme) - set(CASES), {"C8"})

    def test_c01_smuggled_end_of_data(self):
        evs = self.run_case("C1")
        self.assertEqual(names(evs).count("message"), 1)
        self.assertEqual([e["data"]["from"] for e in evs if e["event"] == "mail_from"], ["a@example.com"])
        m = one(evs, "message")
        self.assertEqual(get(m, "data.anomalies.smuggling.count"), 1)
        self.assertEqual(get(m, "data.anomalies.smuggling.dot_lines.0.form"), "\n.\r\n")
        self.assertIs(m["data"]["complete"], True)
        self.assertEqual(self.stored(m), b"Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<boss@example.org>\r\n"
                                         b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n")
        self.assertEqual(evs[-1]["data"]["reason"], "quit")

    def test_c02_bare_lf_session(self):
        evs = self.run_case("C2")
        self.assertIn("bare_lf", one(evs, "helo")["data"]["flags"])
        self.assertIn("bare_lf", one(evs, "data")["data"]["flags"])
        m = one(evs, "message")
        self.assertIs(m["data"]["complete"], False)
        self.assertEqual(m["data"]["end"], "eof")
        self.assertEqual(self.stored(m), b"Subject: lf\n\nbody\n.\nQUIT\n")
        self.assertEqual(evs[-1]["data"]["reason"], "eof_in_data")

    def test_c03_pipelining(self):
        evs = self.run_case("C3")
        m = one(evs, "message")
        self.assertEqual(m["data"]["to"], ["b@example.com", "c@example.com"])
        self.assertEqual(m["data"]["headers"]["subject"], "t")
        self.assertEqual(self.stored(m), b"Subject: t\r\n\r\nhello\r\n")

    def test_c04_splits(self):
        evs = self.run_case("C4")
        h = one(evs, "helo")["data"]
        self.assertEqual(h["name"], "client.example.com")
        self.assertNotIn("flags", h)
        self.assertEqual(one(evs, "mail_from")["data"]["from"], "caf\u00e9@example.com")

    def test_c05_not_utf8(self):
        evs = self.run_case("C5")
        u = one(evs, "unknown_command")["data"]
        self.assertEqual(u["line"], "X\ufffdX")
        self.assertEqual(base64.b64decode(u["line_b64"]), b"X\x80X")
        e = one(evs, "ehlo")["data"]
        self.assertEqual(base64.b64decode(e["name_b64"]), b"client.example.com\xff")

    def test_c06_nul(self):
        evs = self.run_case("C6")
        h = one(evs, "helo")["data"]
        self.assertEqual(h["name"], "client.exa\x00mple.com")
        self.assertIn("nul", h["flags"])
        m = one(evs, "message")
        self.assertEqual(get(m, "data.anomalies.nul.count"), 1)
        self.assertEqual(self.stored(m), b"Subject: nul\r\n\r\nbefore\x00after\r\n")

    def test_c07_huge_ehlo(self):
        evs = self.run_case("C7")
        lim = one(evs, "limit")["data"]
        self.assertEqual(lim["limit"], "line_length")
        self.assertEqual(lim["line_length"], 100005)
        self.assertIs(lim["line_truncated"], True)
        self.assertLessEqual(len(lim["line"]), 4096)  # a capped prefix
        self.assertTrue(lim["line"].startswith("EHLO aaaa"), lim["line"][:40])
        self.assertNotIn("ehlo", names(evs))

    def test_c09_eof_in_data(self):
        evs = self.run_case("C9")
        m = one(evs, "message")
        self.assertIs(m["data"]["complete"], False)
        self.assertEqual(self.stored(m), b"Subject: partial\r\n\r\nhalf a messa")
        self.assertEqual(m["data"]["sha256"], sha256(b"Subject: partial\r\n\r\nhalf a messa"))
        self.assertEqual(evs[-1]["data"]["reason"], "eof_in_data")

    def test_c10_helo_without_name(self):
        evs = self.run_case("C10")
        self.assertEqual([(e["event"], e["data"]["code"]) for e in evs[1:-1]],
                         [("helo", 501), ("ehlo", 501), ("helo", 250), ("quit", 221)])
        self.assertEqual(evs[2]["data"]["line"], "EHLO ")

    def test_c11_null_sender(self):
        evs = self.run_case("C11")
        self.assertEqual(one(evs, "mail_from")["data"]["from"], "")
        self.assertEqual(one(evs, "message")["data"]["from"], "")

    def test_c12_mail_parameters(self):
        evs = self.run_case("C12")
        mails = [e["data"] for e in evs if e["event"] == "mail_from"]
        self.assertEqual([m["code"] for m in mails], [250, 552, 501, 555])
        self.assertEqual(mails[0]["params"], [{"name": "SIZE", "value": "1024"},
                                              {"name": "BODY", "value": "8bitmime"}])
        self.assertEqual(mails[1]["params"], [{"name": "SIZE", "value": "99999999999999999999"}])
        self.assertEqual(mails[2]["params"], [{"name": "SIZE", "value": "abc"}])
        self.assertEqual(mails[3]["params"], [{"name": "X-UNKNOWN", "value": "1"}])

    def test_zz_whole_log_and_exit_status(self):
        """After all cases: the whole shared log parses, one disconnect per
        session, and every session process exited 0."""
        self.srv.check_children(self)
        sessions = by_session(read_events(self.srv.log))
        self.assertGreaterEqual(len(sessions), len(CASES))
        for sid, evs in sessions.items():
            self.assertEqual(names(evs).count("disconnect"), 1, (sid, names(evs)))


# --- 9. pipes and operator errors ------------------------------------------------------------

class T09Pipe(unittest.TestCase):
    def run_smtpot(self, args, stdin=b"QUIT\r\n"):
        return subprocess.run([SMTPOT] + args, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=15, env=clean_env(), cwd=tmpdir("pipe"))

    def test_printf_pipe(self):
        prog = os.path.relpath(SMTPOT, REPO)
        prog = prog if "/" in prog else "./" + prog
        r = subprocess.run(["sh", "-c", "printf 'EHLO x\\r\\nQUIT\\r\\n' | %s --log-file=/dev/stderr"
                            % shlex.quote(prog)],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15,
                           env=clean_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(reply_codes(r.stdout), [220, 250, 221], r.stdout)
        self.assertTrue(r.stdout.endswith(b"221 2.0.0 Bye\r\n"))
        evs = parse_events(r.stderr)
        self.assertEqual(names(evs), ["connect", "ehlo", "quit", "disconnect"])
        check_session(self, evs, source_ip="unknown")
        for e in evs:
            self.assertEqual((e["source_port"], e["dest_ip"], e["dest_port"]), (None, "unknown", None))
        self.assertEqual(evs[-1]["data"]["reason"], "quit")

    def test_typed_by_hand_bare_lf_and_stderr_default(self):
        r = self.run_smtpot(["--hostname=hand.example.com"], stdin=b"ehlo x\nnoop\nquit\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(reply_codes(r.stdout), [220, 250, 250, 221])
        self.assertTrue(r.stdout.startswith(b"220 hand.example.com "))
        evs = parse_events(r.stderr)  # no sink named: events go to stderr
        check_session(self, evs, source_ip="unknown", sensor=os.uname().nodename)
        self.assertEqual(names(evs), ["connect", "ehlo", "noop", "quit", "disconnect"])
        self.assertIn("bare_lf", one(evs, "ehlo")["data"]["flags"])

    def check_operator_error(self, args, status, words):
        r = self.run_smtpot(args)
        self.assertEqual(r.returncode, status, (args, r.stderr))
        self.assertEqual(r.stdout, b"", "something was sent to the client: %r" % r.stdout)
        err = r.stderr.decode("utf-8", "replace")
        self.assertNotIn('"event"', err)
        for w in words:
            self.assertIn(w, err)

    def test_bad_options_exit_64(self):
        self.check_operator_error(["--nope"], 64, ["--nope"])
        self.check_operator_error(["extra-argument"], 64, ["extra-argument"])
        self.check_operator_error(["--idle-timeout=0"], 64, ["idle-timeout"])
        self.check_operator_error(["--max-message-size=lots"], 64, ["max-message-size", "lots"])
        self.check_operator_error(["--hostname=two words"], 64, ["hostname"])

    def test_missing_config_exit_66(self):
        self.check_operator_error(["--config=/nonexistent/smtpot.conf"], 66, ["/nonexistent/smtpot.conf"])

    def test_bad_config_exit_78(self):
        d = tmpdir("config")
        for i, text in enumerate(["this is not a setting\n", "no-such-setting = 1\n",
                                  "# fine\n\nmax-errors = many\n", "hostname = two words\n"]):
            path = os.path.join(d, "bad%d.conf" % i)
            with open(path, "w") as f:
                f.write(text)
            line = text.count("\n")
            with self.subTest(config=text):
                self.check_operator_error(["--config=" + path], 78, ["%s:%d" % (path, line)])

    def test_good_config_and_precedence(self):
        d = tmpdir("config")
        path = os.path.join(d, "good.conf")
        with open(path, "w") as f:
            f.write("# comment\n\nhostname = file.example.com\n  banner = ESMTP test  \nsensor=file-sensor\n")
        r = self.run_smtpot(["--config=" + path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"220 file.example.com ESMTP test\r\n"), r.stdout)
        self.assertEqual(parse_events(r.stderr)[0]["sensor"], "file-sensor")
        r = self.run_smtpot(["--hostname=cli.example.com", "--config=" + path])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"220 cli.example.com ESMTP test\r\n"), r.stdout)

    def test_help_and_version(self):
        r = self.run_smtpot(["--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"usage: smtpot", r.stdout)
        r = self.run_smtpot(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, rb"^smtpot \d+\.\d+")


# --- 10. exit status of client-caused ends ------------------------------------------------

class Direct:
    """smtpot run by the test itself on one end of a socket."""

    def __init__(self, args, sock, env=None):
        self.dir = tmpdir("direct")
        self.log = os.path.join(self.dir, "events.jsonl")
        self.spool = os.path.join(self.dir, "spool")
        self.proc = subprocess.Popen(
            [SMTPOT, "--log-file=" + self.log, "--spool-dir=" + self.spool, "--hostname=" + HOSTNAME] + args,
            stdin=sock, stdout=sock, stderr=subprocess.PIPE, env=dict(clean_env(), **(env or {})),
            cwd=self.dir)
        LIVE[id(self)] = self.kill

    def wait(self, timeout=10):
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("smtpot did not end within %s s" % timeout)
        LIVE.pop(id(self), None)
        return self.proc.returncode, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=5)
        LIVE.pop(id(self), None)


def read_until(sock, needle, timeout=10.0):
    deadline = time.monotonic() + timeout
    buf = b""
    for _ in range(100000):
        if needle in buf:
            return buf
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    raise AssertionError("%r not received; got %r" % (needle, buf[-300:]))


class T10ExitStatus(unittest.TestCase):
    def socketpair_session(self, args, talk, timeout=10):
        """Runs smtpot on a socketpair, lets talk(sock) drive it, returns
        (exit status, stderr, events)."""
        a, b = socket.socketpair()
        try:
            d = Direct(args, b)
            b.close()
            try:
                talk(a)
            finally:
                a.close()
            status, err = d.wait(timeout)
        finally:
            a.close()
            b.close()
        evs = read_events(d.log)
        check_session(self, evs, source_ip="unknown")
        return status, err, evs

    def check_end(self, args, talk, reason, status=0):
        st, err, evs = self.socketpair_session(args, talk)
        self.assertEqual(evs[-1]["data"]["reason"], reason, names(evs))
        self.assertEqual(st, status, err)
        self.assertEqual(err, b"")
        return evs

    def test_quit(self):
        def talk(s):
            read_until(s, b"220 ")
            s.sendall(b"EHLO x\r\nQUIT\r\n")
            read_until(s, b"221 2.0.0 Bye\r\n")
        self.check_end([], talk, "quit")

    def test_eof_between_commands(self):
        def talk(s):
            s.sendall(b"HELO x\r\n")
            read_until(s, b"250 ")
            s.shutdown(socket.SHUT_WR)
        self.check_end([], talk, "eof")

    def test_eof_mid_line(self):
        def talk(s):
            s.sendall(b"HELO x\r\nNOO")
            read_until(s, b"250 ")
        evs = self.check_end([], talk, "eof")
        self.assertEqual(evs[-1]["data"]["unterminated_line"], "NOO")

    def test_eof_in_data(self):
        def talk(s):
            s.sendall(b"HELO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: x\r\n\r\npart")
            read_until(s, b"354 ")
        evs = self.check_end([], talk, "eof_in_data")
        self.assertIs(one(evs, "message")["data"]["complete"], False)

    def test_idle_timeout(self):
        t0 = time.monotonic()

        def talk(s):
            read_until(s, b"220 ")
            read_until(s, b"421 4.4.2 ", timeout=5)
        evs = self.check_end(["--idle-timeout=1"], talk, "timeout")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(one(evs, "timeout")["data"]["timeout"], "idle")

    def test_too_many_errors(self):
        def talk(s):
            s.sendall(b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n")
            read_until(s, b"421 4.7.0 ")
        evs = self.check_end(["--max-errors=3"], talk, "max_errors")
        self.assertEqual(one(evs, "limit")["data"]["limit"], "errors")
        self.assertNotIn("noop", names(evs))

    def test_too_many_commands(self):
        def talk(s):
            s.sendall(b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
            read_until(s, b"421 4.7.0 ")
        evs = self.check_end(["--max-commands=2"], talk, "max_commands")
        self.assertEqual(names(evs).count("noop"), 2)

    def test_client_that_never_reads(self):
        """The client floods commands, never reads, then leaves: the blocked
        write fails, the session logs write_error and still exits 0."""
        def talk(s):
            s.setblocking(False)
            burst = b"HELP\r\n" * 4096
            sent, stuck_since = 0, None
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    sent += s.send(burst)
                    stuck_since = None
                except BlockingIOError:
                    # Nothing accepted for 0.5 s: smtpot is stuck writing to us.
                    stuck_since = stuck_since or time.monotonic()
                    if time.monotonic() - stuck_since > 0.5:
                        break
                    time.sleep(0.01)
            self.assertGreater(sent, 0)
        evs = self.check_end(["--max-commands=1000000", "--max-errors=1000000"], talk, "write_error")
        self.assertGreater(names(evs).count("help"), 100)

    def test_tcp_reset(self):
        """A real TCP connection accepted by the test: the peer is known, and
        a client that resets the connection still means exit 0."""
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        lst.settimeout(10)
        cli = socket.create_connection(lst.getsockname(), timeout=10)
        conn, _ = lst.accept()
        lst.close()
        try:
            d = Direct([], conn)
            conn.close()
            read_until(cli, b"220 ")
            cli.sendall(b"EHLO client.example.com\r\n")
            read_until(cli, b"250 ")
            cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            port = cli.getsockname()[1]
            cli.close()
            status, err = d.wait()
        finally:
            cli.close()
            conn.close()
        self.assertEqual(status, 0, err)
        evs = read_events(d.log)
        check_session(self, evs, source_ip="127.0.0.1")
        self.assertEqual(evs[0]["source_port"], port)
        # smtpot counts a reset as the client leaving: reason eof.
        self.assertEqual(evs[-1]["data"]["reason"], "eof")

    def test_sigterm_still_logs_disconnect(self):
        a, b = socket.socketpair()
        d = Direct([], b)
        b.close()
        try:
            read_until(a, b"220 ")
            a.sendall(b"EHLO x\r\n")
            read_until(a, b"250 ")
            d.proc.send_signal(signal.SIGTERM)
            d.wait(5)
        finally:
            d.kill()
            a.close()
        evs = read_events(d.log)
        check_session(self, evs, source_ip="unknown")
        self.assertEqual(evs[-1]["data"]["reason"], "signal")
        self.assertEqual(evs[-1]["data"]["signal"], signal.SIGTERM)


# --- running ------------------------------------------------------------------------------

ORDER = [T01Swaks, T02Smtplib, T03Curl, T04Corpus, T05Journal, T06Concurrency, T08Cases,
         T09Pipe, T10ExitStatus, T07Trickle]  # C8 runs in the background from the start


class Result(unittest.TextTestResult):
    """Also keeps one outcome per test: a test with failing subtests is one
    failure, and an error in a class fixture counts as one failure."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outcomes = {}

    def _mark(self, test, outcome):
        key = test.id()
        if self.outcomes.get(key) != "failed":
            self.outcomes[key] = outcome

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.showAll:
            self.stream.writeln("    (%.2f s)" % (time.monotonic() - self._t0))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._mark(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._mark(test, "failed")

    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test, "failed")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._mark(test, "skipped")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(test, "failed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._mark(test, "failed")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._mark(test, "passed")

    def count(self, outcome):
        return sum(1 for o in self.outcomes.values() if o == outcome)


def run_main(argv, module, order, needed, hint, start=None, finish=None):
    """Runs a suite's classes (`order`, or the names in argv) and prints
    "PROG: N passed, N failed[, N skipped]" last. `needed` are the files that
    must exist first (SMTPOT executable), `hint` what makes them; start() runs
    before the tests, finish(finished) after them, before stop_all()."""
    verbosity = 2 if "-q" not in argv else 1
    selected = [a for a in argv if not a.startswith("-")]
    missing = [p for p in needed if not (os.access(p, os.X_OK) if p == SMTPOT else os.path.exists(p))]
    if missing:
        print("%s: %s not found; run `%s` first" % (PROG, ", ".join(missing), hint), file=sys.stderr)
        print("%s: 0 passed, 1 failed" % PROG)
        return 1
    loader = unittest.TestLoader()
    if selected:
        suite = loader.loadTestsFromNames(selected, module)
    else:
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in order)
    if start is not None:
        start(selected)
    # A SIGTERM unwinds like an exception, so the finally below stops every server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    finished = False
    try:
        result = unittest.TextTestRunner(stream=sys.stderr, verbosity=verbosity,
                                         resultclass=Result).run(suite)
        finished = True
    finally:
        if finish is not None:
            finish(finished)
        stop_all()
        if TMP is not None and not os.environ.get("E2E_KEEP"):
            shutil.rmtree(TMP, ignore_errors=True)
    failed, skipped, passed = result.count("failed"), result.count("skipped"), result.count("passed")
    print("%s: %.1f s" % (PROG, time.monotonic() - t0), file=sys.stderr)
    for test, reason in result.skipped:
        print("%s: skipped %s: %s" % (PROG, test.id(), reason), file=sys.stderr)
    line = "%s: %d passed, %d failed" % (PROG, passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed or not result.wasSuccessful() else 0


def main(argv):
    def start(selected):
        if not selected or any(s.startswith("T07") for s in selected):
            TRICKLE.start()

    def finish(finished):
        # The trickle thread ends by itself within 40 s; after an interrupt,
        # its server is stopped under it instead.
        if finished and TRICKLE.thread is not None:
            TRICKLE.wait(40)
        if not finished and TRICKLE.thread is not None:
            stop_all()
            TRICKLE.wait(2)  # a server it started meanwhile is stopped too

    return run_main(argv, sys.modules[__name__], ORDER, [SMTPOT], "make smtpot", start, finish)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
