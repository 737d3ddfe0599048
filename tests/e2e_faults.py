#!/usr/bin/env python3
"""e2e_faults.py - smtpot under faults, with the real binary and the real
kernel:

  T01 the log file cannot be written (a full 64 KiB tmpfs with the spool on
      it; a path under a regular file) while --journal takes every event;
  T02 SIGTERM at every phase of a session (banner, half a command line,
      after EHLO, inside DATA, inside AUTH after a 334, inside a STARTTLS
      handshake, inside TLS, blocked writing to a client that never reads);
  T02b SIGTERM in the window before a blocking wait (an LD_PRELOAD shim);
  T03 SIGKILL at the same phases, and during a flood of events;
  T04 client resets (SO_LINGER 0) at the same phases, over real TCP;
  T05 500 concurrent sessions appending to one file.

Standard library only; helpers come from tests/e2e.py. Run from the
repository root after `make smtpot smtpot-tls`:
    python3 tests/e2e_faults.py [-q] [TestClass[.test_method] ...]
The tmpfs test needs root (mount) and is skipped otherwise; the journal
tests use the running journald, or start /lib/systemd/systemd-journald as
root and stop it by its PID. Every process started is stopped by its own
PID, every mount is unmounted in a finally, every wait is bounded.
E2E_KEEP=1 keeps the scratch directory. The last line printed is
"e2e_faults: N passed, N failed[, N skipped]".
"""

import concurrent.futures
import errno
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import termios
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (tests/e2e.py: event parsing, envelope checks, the result counter)
from e2e import (LIVE, certificate, check_envelope, clean_env, client_context, get,  # noqa: E402
                 names, parse_events, read_until, stop_all, tmpdir)

e2e.use_suite("e2e_faults")

REPO = e2e.REPO
SMTPOT = e2e.SMTPOT
MODULE = os.path.join(REPO, "smtpot-tls")
HELLO_FILE = os.path.join(REPO, "tests", "data", "clienthello-openssl.bin")
HOSTNAME = e2e.HOSTNAME
JOURNALD = e2e.JOURNALD
FINAL_RE = re.compile(r"^[0-9a-f]{64}\.eml$")
QUEUED_RE = re.compile(rb"^250 2\.0\.0 Ok: queued as [0-9A-F]{10}$")
BANNER = b"220 mx.example.com ESMTP Postfix (Debian/GNU)"
EHLO_LINES = [b"250-mx.example.com", b"250-PIPELINING", b"250-SIZE 10240000", b"250-VRFY",
              b"250-AUTH PLAIN LOGIN CRAM-MD5", b"250-ENHANCEDSTATUSCODES", b"250-8BITMIME",
              b"250 SMTPUTF8"]
LOSS_RE = re.compile(rb"^smtpot: log file sink: (.+); later failures are counted, not reported$")

# LIVE (from e2e): key -> stop function of every process or mount not yet cleaned up


def whole_lines(tc, data, what):
    """Every line of a log is whole: the text ends with a newline, every
    line is one JSON object in UTF-8 (e2e.parse_events is strict)."""
    if data:
        tc.assertTrue(data.endswith(b"\n"), "%s does not end with a newline: %r" % (what, data[-200:]))
    return parse_events(data)


def check_prefix(tc, evs):
    """The events of one session so far: one session id, seq 1..n, connect first."""
    tc.assertTrue(evs, "no events")
    for e in evs:
        check_envelope(tc, e)
    tc.assertEqual(len({e["session"] for e in evs}), 1)
    tc.assertEqual([e["seq"] for e in evs], list(range(1, len(evs) + 1)), names(evs))
    tc.assertEqual(evs[0]["event"], "connect")
    tc.assertEqual(names(evs).count("connect"), 1)


def check_whole(tc, evs, lost=0):
    """A whole session: the prefix rules, then exactly one disconnect, last,
    whose counters say how many events there are."""
    check_prefix(tc, evs)
    tc.assertEqual(names(evs).count("disconnect"), 1, names(evs))
    tc.assertEqual(evs[-1]["event"], "disconnect", names(evs))
    tc.assertEqual(get(evs[-1], "data.counters.events"), len(evs))
    if lost is not None:
        tc.assertEqual(get(evs[-1], "data.counters.events_lost"), lost)
    return evs[-1]["data"]["reason"]


def outq(sock):
    """Bytes sent on sock that the peer has not read yet (SIOCOUTQ)."""
    buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    return int.from_bytes(buf, sys.byteorder, signed=True)


def drained(sock, timeout=10.0):
    """Waits until the server has read everything sent, then a little more
    so that it is back in its blocking wait."""
    deadline = time.monotonic() + timeout
    while outq(sock) > 0:
        if time.monotonic() > deadline:
            raise AssertionError("the server did not read what was sent")
        time.sleep(0.01)
    time.sleep(0.15)


class Smtpot:
    """smtpot run by the test on one end of a socket (a socketpair, or a TCP
    connection the test accepted), stderr kept in a file."""

    def __init__(self, sock, extra=(), log=None, spool=None, d=None, env=None):
        self.dir = d or tmpdir("smtpot")
        self.log = log if log is not None else os.path.join(self.dir, "events.jsonl")
        self.spool = spool if spool is not None else os.path.join(self.dir, "spool")
        self.errpath = os.path.join(self.dir, "stderr-%d" % id(self))
        args = [SMTPOT, "--hostname=" + HOSTNAME, "--spool-dir=" + self.spool]
        if self.log:
            args.append("--log-file=" + self.log)
        args += list(extra)
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=sock, stdout=sock, stderr=err,
                                         env=dict(clean_env(), **(env or {})), cwd=self.dir)
        self.pid = self.proc.pid
        LIVE[("smtpot", id(self))] = self.kill

    def wait(self, timeout=10.0):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("smtpot did not end within %s s" % timeout)
        LIVE.pop(("smtpot", id(self)), None)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        LIVE.pop(("smtpot", id(self)), None)

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read()

    def log_bytes(self):
        try:
            with open(self.log, "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return b""

    def spool_names(self):
        try:
            return sorted(os.listdir(self.spool))
        except (FileNotFoundError, NotADirectoryError):
            return []


def pair(extra=(), **kw):
    a, b = socket.socketpair()
    try:
        srv = Smtpot(b, extra, **kw)
    finally:
        b.close()
    a.settimeout(10)
    return a, srv


def tcp(extra=(), **kw):
    """A real TCP connection on 127.0.0.1, accepted by the test and given to smtpot."""
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        lst.settimeout(10)
        cli = socket.create_connection(lst.getsockname(), timeout=10)
        conn, _ = lst.accept()
    finally:
        lst.close()
    try:
        srv = Smtpot(conn, extra, **kw)
    finally:
        conn.close()
    return cli, srv


def reset(sock):
    """Closes with SO_LINGER {on, 0}: the kernel sends RST, not FIN."""
    raw = sock
    if isinstance(sock, ssl.SSLSocket):
        raw = socket.socket(fileno=sock.detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()


def read_rest(sock, timeout=10.0):
    """Everything until the server closes (or resets)."""
    deadline = time.monotonic() + timeout
    out = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError, OSError):
            break
        if not chunk:
            break
        out += chunk
    return out


# --- the phases of a session ----------------------------------------------------

PHASES = ["banner", "mid_line", "after_ehlo", "in_data", "in_auth", "in_handshake", "in_tls", "blocked_write"]
BODY = b"Subject: cut\r\n\r\n" + b"".join(b"line %06d of a message that never ends\r\n" % i
                                          for i in range(3000)) + b"half a li"
with open(HELLO_FILE, "rb") as _f:
    HELLO = _f.read()


def tls_args():
    cert, key = certificate()
    return ["--tls-cert=" + cert, "--tls-key=" + key, "--tls-module=" + MODULE]


def drive_to(phase, sock):
    """Brings a session to phase; returns the socket to act on (TLS for in_tls)."""
    read_until(sock, BANNER + b"\r\n")
    if phase == "banner":
        return sock
    if phase == "blocked_write":
        # Commands, never reading the replies, until smtpot is stuck writing them.
        sock.setblocking(False)
        burst = b"HELP\r\n" * 4096
        stuck, deadline = None, time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                sock.send(burst)
                stuck = None
            except BlockingIOError:
                stuck = stuck or time.monotonic()
                if time.monotonic() - stuck > 0.5:
                    break
                time.sleep(0.01)
        sock.settimeout(10)
        return sock
    if phase == "mid_line":
        sock.sendall(b"EHLO client.example.com\r\nMAIL FROM:<half@exa")
        read_until(sock, b"250 SMTPUTF8\r\n")
        drained(sock)
        return sock
    sock.sendall(b"EHLO client.example.com\r\n")
    read_until(sock, b"250 SMTPUTF8\r\n")
    if phase == "after_ehlo":
        drained(sock)
        return sock
    if phase == "in_data":
        sock.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        read_until(sock, b"354 End data with <CR><LF>.<CR><LF>\r\n")
        sock.sendall(BODY)
        drained(sock)
        return sock
    if phase == "in_auth":
        sock.sendall(b"AUTH LOGIN\r\n")
        read_until(sock, b"334 VXNlcm5hbWU6\r\n")
        sock.sendall(b"dXNlcg==\r\n")
        read_until(sock, b"334 UGFzc3dvcmQ6\r\n")
        drained(sock)
        return sock
    sock.sendall(b"STARTTLS\r\n")
    read_until(sock, b"220 2.0.0 Ready to start TLS\r\n")
    if phase == "in_handshake":
        sock.sendall(HELLO[:100])  # half a ClientHello: the server waits for the rest
        drained(sock)
        return sock
    s = client_context().wrap_socket(sock, server_hostname=HOSTNAME)
    s.sendall(b"EHLO client.example.com\r\n")
    read_until(s, b"250 SMTPUTF8\r\n")
    time.sleep(0.15)
    return s


def args_for(phase):
    if phase == "blocked_write":
        return ["--max-commands=1000000", "--max-errors=1000000"]
    return tls_args() if phase in ("in_handshake", "in_tls") else []


def check_reached(tc, phase, evs, ended):
    """The events are those of the phase (and, when ended, its pending event and a disconnect)."""
    if phase == "blocked_write":
        n = names(evs)
        tc.assertEqual(n[0], "connect")
        tc.assertGreater(len(n), 100)
        tc.assertEqual(set(n[1:-1] if ended else n[1:]), {"help"})
        if ended:
            tc.assertEqual(n[-1], "disconnect")
        return
    want = REACHED[phase]
    if ended:
        want = want + ([PENDING[phase]] if phase in PENDING else []) + ["disconnect"]
    tc.assertEqual(names(evs), want)


# Events written when each phase is reached, and the one its end adds.
REACHED = {
    "banner": ["connect"],
    "mid_line": ["connect", "ehlo"],
    "after_ehlo": ["connect", "ehlo"],
    "in_data": ["connect", "ehlo", "mail_from", "rcpt_to", "data"],
    "in_auth": ["connect", "ehlo"],
    "in_handshake": ["connect", "ehlo", "starttls"],
    "in_tls": ["connect", "ehlo", "starttls", "tls", "ehlo"],
}
PENDING = {"in_data": "message", "in_auth": "auth", "in_handshake": "tls"}


def check_pending(tc, phase, evs, srv, end, cause):
    """The event a phase leaves open is written when the session ends early."""
    if phase == "in_data":
        m = [e for e in evs if e["event"] == "message"][0]["data"]
        tc.assertIs(m["complete"], False)
        tc.assertEqual(m["end"], end)
        tc.assertEqual(m["size"], len(BODY))
        tc.assertEqual(m["received_bytes"], len(BODY))
        tc.assertEqual(m["headers"]["subject"], "cut")
        # A partial message is stored (smtpot-events(7)), complete as a file.
        tc.assertIsNotNone(m["spool_file"])
        with open(os.path.join(srv.spool, m["spool_file"]), "rb") as f:
            tc.assertEqual(f.read(), BODY)
        tc.assertEqual(srv.spool_names(), [m["spool_file"]])
    elif phase == "in_auth":
        a = [e for e in evs if e["event"] == "auth"][0]["data"]
        tc.assertEqual(a["result"], "incomplete")
        tc.assertEqual(a["username"], "user")
        tc.assertEqual(a["raw"], ["dXNlcg=="])
    elif phase == "in_handshake":
        t = [e for e in evs if e["event"] == "tls"][0]["data"]
        tc.assertEqual(t["result"], "failure")
        tc.assertEqual(t["error"], "handshake: interrupted" if cause == "signal" else
                       "handshake: connection closed")
    elif phase == "in_tls":
        tc.assertEqual([e for e in evs if e["event"] == "tls"][0]["data"]["result"], "success")


# --- 1. the log file cannot be written; the journal gets everything --------------

def journal_listening():
    return e2e.journal_listening()


class Journal:
    """The running journald, or one started here (root) and stopped by PID."""
    proc = None

    @classmethod
    def need(cls, tc):
        if shutil.which("journalctl") is None:
            tc.skipTest("journalctl is not installed (apt-get install systemd)")
        if journal_listening():
            return
        if os.geteuid() != 0:
            tc.skipTest("no journald listens on %s and starting one needs root" % e2e.JOURNAL_SOCKET)
        if not os.access(JOURNALD, os.X_OK):
            tc.skipTest("no journald listens and %s is missing" % JOURNALD)
        if cls.proc is None or cls.proc.poll() is not None:
            out = open(os.path.join(tmpdir("journald"), "journald.out"), "wb")
            cls.proc = subprocess.Popen([JOURNALD], stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT)
            out.close()
            LIVE["journald"] = cls.stop
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and cls.proc.poll() is None:
            if journal_listening():
                return
            time.sleep(0.05)
        cls.stop()
        raise RuntimeError("systemd-journald did not start listening")

    @classmethod
    def stop(cls):
        if cls.proc is not None and cls.proc.poll() is None:
            cls.proc.terminate()
            try:
                cls.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait(timeout=5)
        cls.proc = None
        LIVE.pop("journald", None)

    @staticmethod
    def query(*match):
        r = subprocess.run(["journalctl", "--no-pager", "-q", "--all", "-o", "json"] + list(match),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if r.returncode != 0:
            raise AssertionError("journalctl failed: %r" % r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines()]

    @classmethod
    def session_of(cls, pid, since_us, timeout=15.0):
        """The entries of the session run by pid (PIDs are reused: only
        entries from since_us on), once its disconnect is in."""
        deadline = time.monotonic() + timeout
        while True:
            mine = [j for j in cls.query("SYSLOG_IDENTIFIER=smtpot", "_PID=%d" % pid)
                    if int(j["__REALTIME_TIMESTAMP"]) >= since_us]
            if mine:
                sid = mine[0]["SMTPOT_SESSION"]
                entries = cls.query("SMTPOT_SESSION=" + sid)
                if any(j["SMTPOT_EVENT"] == "disconnect" for j in entries):
                    return sid, entries
            if time.monotonic() > deadline:
                raise AssertionError("the journal has no whole session of PID %d: %r" % (pid, mine[-3:]))
            time.sleep(0.1)


def run_whole_session(tc, sock):
    """A whole session whose replies must be exactly those of a healthy server."""
    got = []
    script = [
        (None, [BANNER]),
        (b"EHLO client.example.com\r\n", EHLO_LINES),
        (b"MAIL FROM:<a@example.com>\r\n", [b"250 2.1.0 Ok"]),
        (b"RCPT TO:<b@example.com>\r\n", [b"250 2.1.5 Ok"]),
        (b"DATA\r\n", [b"354 End data with <CR><LF>.<CR><LF>"]),
        (b"Subject: full\r\n\r\n" + b"x" * 100000 + b"\r\n.\r\n", [QUEUED_RE]),
        (b"NOOP\r\n", [b"250 2.0.0 Ok"]),
        (b"XYZZY " + b"z" * 1500 + b"\r\n", [b"500 5.5.2 Error: command not recognized"]),
        (b"QUIT\r\n", [b"221 2.0.0 Bye"]),
    ]
    buf = b""
    for send, want in script:
        if send:
            sock.sendall(send)
        for w in want:
            while b"\r\n" not in buf:
                sock.settimeout(10)
                chunk = sock.recv(65536)
                if not chunk:
                    raise AssertionError("closed; waiting for %r" % (w,))
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            got.append(line)
            if isinstance(w, bytes):
                tc.assertEqual(line, w)
            else:
                tc.assertRegex(line, w)
    tc.assertEqual(read_rest(sock), b"", "bytes after 221")
    return got


class T01SinkFailure(unittest.TestCase):
    def check_failed_file_sink(self, srv, since_us, file_failure, spool_what, spool_errno):
        rc = srv.wait()
        self.assertEqual(rc, 0, srv.stderr())
        # The loss is reported once, on stderr, and nothing else is.
        err = srv.stderr().splitlines()
        self.assertEqual(len(err), 1, err)
        m = LOSS_RE.match(err[0])
        self.assertIsNotNone(m, err)
        self.assertRegex(m.group(1).decode(), file_failure)

        # The journal has the whole session.
        sid, entries = Journal.session_of(srv.pid, since_us)
        evs = [json.loads(j["MESSAGE"]) for j in entries]
        for j, e in zip(entries, evs):
            self.assertEqual(j["SMTPOT_EVENT"], e["event"])
            self.assertEqual(j["SMTPOT_SEQ"], str(e["seq"]))
        self.assertEqual(names(evs), ["connect", "ehlo", "mail_from", "rcpt_to", "data", "error", "message",
                                      "noop", "unknown_command", "quit", "disconnect"])
        check_whole(self, evs, lost=None)
        self.assertEqual(evs[-1]["data"]["reason"], "quit")
        error = [e for e in evs if e["event"] == "error"][0]
        self.assertEqual(error["level"], "ERROR")
        self.assertEqual(error["data"]["what"], spool_what)
        self.assertEqual(error["data"]["errno"], spool_errno)
        msg = [e for e in evs if e["event"] == "message"][0]["data"]
        self.assertIsNone(msg["spool_file"])
        self.assertIs(msg["complete"], True)
        self.assertEqual(msg["size"], 17 + 100000 + 2)

        # The file holds whole lines only, each exactly one of the journal's, in
        # order; a small event may still fit after a big one was lost.
        data = srv.log_bytes()
        lines = [l.decode() for l in data.split(b"\n")[:-1]] if data else []
        whole_lines(self, data, "the log file")
        journal_lines = [j["MESSAGE"] for j in entries]
        it = iter(journal_lines)
        self.assertTrue(all(l in it for l in lines), "the file's lines are not the journal's, in order")
        self.assertLess(len(lines), len(evs))
        lost = get(evs[-1], "data.counters.events_lost")
        self.assertGreater(lost, 0)
        # events_lost counts the events before the disconnect that the file missed.
        self.assertEqual(lost, len([l for l in journal_lines[:-1] if l not in lines]))
        # Nothing under a final name, no temporary file left.
        self.assertEqual([n for n in srv.spool_names() if FINAL_RE.match(n)], [])
        self.assertEqual([n for n in srv.spool_names() if n.startswith(".tmp.")], [])
        return evs, lines

    def test_full_tmpfs(self):
        """Log file and spool on a 64 KiB tmpfs with one page left."""
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        if shutil.which("mount") is None or shutil.which("umount") is None:
            self.skipTest("mount/umount missing")
        Journal.need(self)
        mnt = tmpdir("tmpfs")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "smtpot-faults", mnt],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %r" % r.stdout)

        def unmount():
            subprocess.run(["umount", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
            LIVE.pop(("mount", mnt), None)

        LIVE[("mount", mnt)] = unmount
        srv = None
        try:
            filler = os.path.join(mnt, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                for _ in range(1000):
                    os.write(fd, b"\0" * 4096)
                self.fail("a 64 KiB tmpfs took 4 MB")
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
            finally:
                os.close(fd)
            size = os.path.getsize(filler)
            self.assertGreater(size, 0)
            # One page free: the log takes a few events, then a write is cut short.
            os.truncate(filler, (size // 4096 - 1) * 4096)
            log, spool = os.path.join(mnt, "events.jsonl"), os.path.join(mnt, "spool")
            since_us = int((time.time() - 1) * 1e6)
            a, b = socket.socketpair()
            try:
                srv = Smtpot(b, ["--journal"], log=log, spool=spool, d=tmpdir("full"))
                b.close()
                run_whole_session(self, a)
            finally:
                a.close()
                b.close()
            evs, lines = self.check_failed_file_sink(srv, since_us, r"^(short write|write): No space left on device$",
                                                     "spool write", errno.ENOSPC)
            self.assertGreater(len(lines), 0, "the free page took no event")
            # The file's lines are cut at a page: whatever went past it is gone.
            self.assertLessEqual(os.path.getsize(log), 4096)
        finally:
            if srv is not None:
                srv.kill()
            r = subprocess.run(["umount", mnt], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            LIVE.pop(("mount", mnt), None)
            self.assertEqual(r.returncode, 0, "umount %s: %r" % (mnt, r.stdout))
            self.assertFalse(os.path.ismount(mnt))

    def test_log_file_cannot_be_opened(self):
        """--log-file under a regular file, --journal beside it; no root needed."""
        Journal.need(self)
        d = tmpdir("unopenable")
        blocker = os.path.join(d, "file")
        with open(blocker, "wb"):
            pass
        since_us = int((time.time() - 1) * 1e6)
        a, b = socket.socketpair()
        try:
            srv = Smtpot(b, ["--journal"], log=os.path.join(blocker, "events.jsonl"),
                         spool=os.path.join(blocker, "spool"), d=d)
            b.close()
            run_whole_session(self, a)
        finally:
            a.close()
            b.close()
        evs, lines = self.check_failed_file_sink(srv, since_us, r"^cannot open: Not a directory$",
                                                 "spool directory", errno.ENOTDIR)
        self.assertEqual(lines, [])
        self.assertEqual(get(evs[-1], "data.counters.events_lost"), len(evs) - 1)


# --- 2-4. SIGTERM, SIGKILL and client resets at every phase ------------------------

class Phases:
    """One test per phase of drive_to, each calling the class's run_phase
    (test_blocked_write is added by the classes that have it)."""

    def test_banner(self):
        self.run_phase("banner")

    def test_mid_line(self):
        self.run_phase("mid_line")

    def test_after_ehlo(self):
        self.run_phase("after_ehlo")

    def test_in_data(self):
        self.run_phase("in_data")

    def test_in_auth(self):
        self.run_phase("in_auth")

    def test_in_handshake(self):
        self.run_phase("in_handshake")

    def test_in_tls(self):
        self.run_phase("in_tls")


def signal_at(phase, sig, then=None):
    """Drives a session on a socketpair to `phase`, sends smtpot `sig` and
    waits for its end; returns (srv, its exit status, then(socket) or None)."""
    a, srv = pair(args_for(phase))
    s = a
    try:
        # Keep the socket drive_to returns: dropping a TLS socket closes the connection.
        s = drive_to(phase, a)
        srv.proc.send_signal(sig)
        rc = srv.wait(10)
        got = then(s) if then is not None else None
    finally:
        srv.kill()
        s.close()
        a.close()
    return srv, rc, got


class T02Sigterm(Phases, unittest.TestCase):
    def run_phase(self, phase):
        srv, rc, rest = signal_at(phase, signal.SIGTERM, lambda s: read_rest(s, 5))
        self.assertEqual(rc, 0, srv.stderr())
        self.assertEqual(srv.stderr(), b"")
        if phase != "blocked_write":
            # Nothing more, or at most a 421 goodbye.
            self.assertRegex(rest, rb"^(421 [^\r\n]*\r\n)?$", "replies after SIGTERM")
        evs = whole_lines(self, srv.log_bytes(), "the log file")
        check_reached(self, phase, evs, True)
        self.assertEqual(check_whole(self, evs), "signal")
        self.assertEqual(evs[-1]["data"]["signal"], signal.SIGTERM)
        check_pending(self, phase, evs, srv, "signal", "signal")

    def test_blocked_write(self):
        """smtpot blocked writing replies the client never reads: SIGTERM
        (systemctl stop) must still be logged as a signal."""
        self.run_phase("blocked_write")


# An LD_PRELOAD shim that stalls one poll(2) call before it enters the kernel:
# the window between smtpot's look at its stop flag and its blocking wait.
POLL_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	static int (*real)(struct pollfd *, nfds_t, int);
	static int count;
	const char *at = getenv("SMTPOT_STALL_POLL");

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "poll");
	if (at != NULL && ++count == atoi(at)) {
		struct timespec ts = { 0, 600000000 };

		while (nanosleep(&ts, &ts) < 0)
			; /* a signal handler ran: sleep on, as a descheduled process would */
	}
	return real(fds, n, timeout);
}
"""


def poll_shim(tc):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        tc.skipTest("no C compiler for the LD_PRELOAD shim")
    d = tmpdir("shim")
    src, so = os.path.join(d, "stall.c"), os.path.join(d, "stall.so")
    with open(src, "w") as f:
        f.write(POLL_SHIM)
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so, src, "-ldl"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if r.returncode != 0:
        tc.skipTest("cannot build the shim: %r" % r.stdout)
    return so


class T02bSigtermRace(unittest.TestCase):
    @unittest.skipIf(os.environ.get("SMTPOT", "").endswith("-san"),
                     "an LD_PRELOAD probe cannot come before the ASan runtime")
    def test_sigterm_just_before_a_wait(self):
        """SIGTERM between smtpot's check of its stop flag and its poll(2):
        the wait must not swallow it (until an idle timeout, or 60 s)."""
        so = poll_shim(self)
        a, srv = pair(["--idle-timeout=5"], env={"LD_PRELOAD": so, "SMTPOT_STALL_POLL": "2"})
        try:
            read_until(a, BANNER + b"\r\n")
            a.sendall(b"EHLO client.example.com\r\n")
            read_until(a, b"250 SMTPUTF8\r\n")
            time.sleep(0.2)  # smtpot is inside its second poll(), stalled before the kernel
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGTERM)
            rc = srv.wait(15)
            took = time.monotonic() - t0
        finally:
            srv.kill()
            a.close()
        self.assertEqual(rc, 0, srv.stderr())
        evs = whole_lines(self, srv.log_bytes(), "the log file")
        reason = check_whole(self, evs)
        self.assertEqual(reason, "signal")
        self.assertLess(took, 2, "SIGTERM 0.2 s into a wait ended the session only after %.1f s "
                                 "(the idle timeout): the signal was swallowed by poll(2)" % took)


class T03Sigkill(Phases, unittest.TestCase):
    FLOOD_SESSIONS = 40
    FLOOD_ROUNDS = 10

    def run_phase(self, phase):
        srv, rc, _ = signal_at(phase, signal.SIGKILL)
        self.assertEqual(rc, -signal.SIGKILL)
        evs = whole_lines(self, srv.log_bytes(), "the log file")
        check_reached(self, phase, evs, False)
        check_prefix(self, evs)
        finals = [n for n in srv.spool_names() if FINAL_RE.match(n)]
        self.assertEqual(finals, [], "a final spool name for an unfinished message")
        if phase == "in_data":
            # The message's bytes past the 64 KiB buffer reached a temporary file only.
            tmps = [n for n in srv.spool_names() if n.startswith(".tmp.%s." % evs[0]["session"])]
            self.assertEqual(len(tmps), 1, srv.spool_names())
            with open(os.path.join(srv.spool, tmps[0]), "rb") as f:
                self.assertTrue(BODY.startswith(f.read()))

    def test_blocked_write(self):
        self.run_phase("blocked_write")

    def test_during_an_event_flood(self):
        """SIGKILL while events of 18 KB pour out of 40 sessions sharing one
        log file; the 5 not killed get SIGTERM just after. Killed sessions
        may lose the event being written, no one else loses any: the 5
        survivors' sessions are complete and whole."""
        rng = random.Random(7247)
        d = tmpdir("flood")
        # No space in the line: the verb is the whole line, so both fields hold
        # 2000 bytes shown as U+FFFD plus their base64: about 18 KB per event.
        burst = (b"\xff" * 2000 + b"\r\n") * 64
        for round_ in range(self.FLOOD_ROUNDS):
            procs = []
            stop = threading.Event()
            log = os.path.join(d, "events-%d.jsonl" % round_)
            try:
                for _ in range(self.FLOOD_SESSIONS):
                    a, srv = pair(["--max-commands=1000000", "--max-errors=1000000"], log=log, d=d)
                    procs.append((a, srv))

                def pump(a):
                    def drain():
                        while True:
                            try:
                                if not a.recv(65536):
                                    return
                            except OSError:
                                return

                    threading.Thread(target=drain, daemon=True).start()
                    a.settimeout(5)
                    end = time.monotonic() + 5
                    while time.monotonic() < end and not stop.is_set():
                        try:
                            a.sendall(burst)
                        except OSError:
                            return

                pumps = [threading.Thread(target=pump, args=(a,), daemon=True) for a, _ in procs]
                for t in pumps:
                    t.start()
                time.sleep(rng.uniform(0.05, 0.15))
                killed = self.FLOOD_SESSIONS - 5
                for _, srv in procs[:killed]:
                    srv.proc.send_signal(signal.SIGKILL)
                time.sleep(0.05)
                stop.set()
                for _, srv in procs[killed:]:
                    srv.proc.send_signal(signal.SIGTERM)
                for _, srv in procs[:killed]:
                    self.assertEqual(srv.wait(10), -signal.SIGKILL)
                for _, srv in procs[killed:]:
                    self.assertEqual(srv.wait(10), 0)
            finally:
                stop.set()
                for a, srv in procs:
                    srv.kill()
                    a.close()
            with open(log, "rb") as f:
                data = f.read()
            os.unlink(log)  # tens of MB each round
            # A write(2) of several pages is cut short by SIGKILL between two
            # pages (the kernel checks for fatal signals there): the killed
            # session's last event can stay as a fragment, and an event that
            # another session appends next starts on the fragment's line.
            # smtpot(8) states this limit. What must hold: only killed
            # sessions lose an event (at most the one being written), and
            # every other event is whole after the fragment.
            kept = []
            torn = 0
            for n, line in enumerate(data.split(b"\n"), 1):
                if not line:
                    continue
                try:
                    kept.append(json.loads(line.decode("utf-8")))
                    continue
                except ValueError:
                    pass
                torn += 1
                cut = line.rfind(b'{"timestamp":"')
                if cut > 0:
                    try:
                        kept.append(json.loads(line[cut:].decode("utf-8")))
                    except ValueError:
                        pass  # a fragment that no whole event followed
            self.assertLessEqual(torn, killed, "round %d: more torn lines than killed sessions" % round_)
            evs = kept
            sessions = e2e.by_session(evs)
            survivors = 0
            for sevs in sessions.values():
                if "disconnect" in names(sevs):
                    self.assertEqual(check_whole(self, sevs), "signal")
                    survivors += 1
                else:
                    check_prefix(self, sevs)
            self.assertEqual(survivors, 5)


class T04Reset(Phases, unittest.TestCase):
    def run_phase(self, phase):
        cli, srv = tcp(args_for(phase))
        try:
            s = drive_to(phase, cli)
            reset(s)
            rc = srv.wait(10)
        finally:
            srv.kill()
            cli.close()
        self.assertEqual(rc, 0, srv.stderr())
        self.assertEqual(srv.stderr(), b"")
        evs = whole_lines(self, srv.log_bytes(), "the log file")
        check_reached(self, phase, evs, True)
        reason = check_whole(self, evs)
        self.assertEqual(evs[0]["source_ip"], "127.0.0.1")
        if phase == "in_data":
            self.assertEqual(reason, "eof_in_data")
        elif phase == "in_handshake":
            # The handshake failed because the client left: smtpot-events(7) calls that tls_failed.
            self.assertEqual(reason, "tls_failed")
        else:
            self.assertEqual(reason, "eof")
        if phase == "mid_line":
            self.assertEqual(evs[-1]["data"]["unterminated_line"], "MAIL FROM:<half@exa")
        check_pending(self, phase, evs, srv, "eof", "reset")


# --- 5. 500 concurrent sessions, one file ----------------------------------------------

class T05Concurrent(unittest.TestCase):
    SESSIONS = 500
    WORKERS = 100
    LIMIT_S = 60

    @staticmethod
    def script(i):
        """Four kinds of session, with events from 300 bytes to 9 KiB."""
        kind = i % 4
        if kind == 0:
            body = b"Subject: s%d\r\n\r\n" % i + b"line of session %d\r\n" % i * (i % 50 + 1)
            return kind, (b"EHLO c%d.example.com\r\nMAIL FROM:<a%d@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                          b"DATA\r\n" % (i, i)) + body + b".\r\nQUIT\r\n", "quit"
        if kind == 1:
            return kind, (b"HELO c%d\r\nMAIL FROM:<a%d@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                          b"Subject: cut\r\n\r\npartial %d" % (i, i, i)), "eof_in_data"
        if kind == 2:
            return kind, b"\xff" * 1800 + b" %d\r\n" % i + b"EHLO x\r\nQUIT\r\n", "quit"
        return kind, b"NOOP\r\n" * 20 + b"VRFY user%d\r\n" % i, "eof"

    def test_500_sessions_one_file(self):
        d = tmpdir("concurrent")
        log, spool = os.path.join(d, "events.jsonl"), os.path.join(d, "spool")
        os.mkdir(spool, 0o700)
        errpath = os.path.join(d, "stderr")
        t0 = time.monotonic()
        procs = []
        err = open(errpath, "ab")
        try:
            # All 500 processes exist at once, each waiting on its own client.
            for i in range(self.SESSIONS):
                a, b = socket.socketpair()
                try:
                    p = subprocess.Popen([SMTPOT, "--hostname=" + HOSTNAME, "--sensor=faults",
                                          "--log-file=" + log, "--spool-dir=" + spool],
                                         stdin=b, stdout=b, stderr=err, env=clean_env(), cwd=d)
                finally:
                    b.close()
                procs.append((i, a, p))
                LIVE[("concurrent", i)] = (lambda p=p: (p.poll() is None and p.kill(), p.wait(5)))

            def session(item):
                i, a, p = item
                kind, data, reason = self.script(i)
                a.settimeout(self.LIMIT_S)
                read_until(a, BANNER + b"\r\n", timeout=self.LIMIT_S)
                a.sendall(data)
                if reason != "quit":
                    a.shutdown(socket.SHUT_WR)
                got = read_rest(a, self.LIMIT_S)
                return i, got

            replies = {}
            with concurrent.futures.ThreadPoolExecutor(self.WORKERS) as pool:
                for i, got in pool.map(session, procs, timeout=self.LIMIT_S):
                    replies[i] = got
            for i, a, p in procs:
                self.assertEqual(p.wait(max(1, self.LIMIT_S - (time.monotonic() - t0))), 0, "session %d" % i)
                LIVE.pop(("concurrent", i), None)
        finally:
            err.close()
            for i, a, p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(5)
                LIVE.pop(("concurrent", i), None)
                a.close()
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, self.LIMIT_S)
        with open(errpath, "rb") as f:
            self.assertEqual(f.read(), b"")

        with open(log, "rb") as f:
            data = f.read()
        evs = whole_lines(self, data, "the log file")
        self.assertEqual(len(evs), data.count(b"\n"))
        sessions = e2e.by_session(evs)
        self.assertEqual(len(sessions), self.SESSIONS)
        total = 0
        seen = set()
        for sid, sevs in sessions.items():
            reason = check_whole(self, sevs)
            total += get(sevs[-1], "data.counters.events")
            first = sevs[1]["data"] if len(sevs) > 1 else {}
            line = first.get("line", "")
            if "name" in first and first["name"].startswith("c"):
                i = int(first["name"][1:].split(".")[0])
            elif line.startswith("\ufffd"):
                i = int(line.rsplit(" ", 1)[1])
            else:
                i = int([e for e in sevs if e["event"] == "vrfy"][0]["data"]["address"][4:])
            kind, _, want = self.script(i)
            self.assertEqual(reason, want, "session %d" % i)
            self.assertEqual(sevs[0]["sensor"], "faults")
            seen.add(i)
            if kind == 0:
                self.assertRegex(replies[i].split(b"\r\n")[-3], QUEUED_RE)
        self.assertEqual(seen, set(range(self.SESSIONS)))
        self.assertEqual(total, len(evs), "lines in the file vs. the sum of counters.events")
        print("e2e_faults: %d sessions, %d lines in %.1f s" % (self.SESSIONS, len(evs), elapsed),
              file=sys.stderr)


# --- running --------------------------------------------------------------------------

ORDER = [T01SinkFailure, T02Sigterm, T02bSigtermRace, T03Sigkill, T04Reset, T05Concurrent]


def main(argv):
    def finish(finished):
        stop_all()
        Journal.stop()

    return e2e.run_main(argv, sys.modules[__name__], ORDER, [SMTPOT, MODULE],
                        "make smtpot smtpot-tls", finish=finish)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
