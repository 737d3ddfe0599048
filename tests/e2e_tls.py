#!/usr/bin/env python3
"""e2e_tls.py - end-to-end tests of smtpot's TLS and AUTH: the real binary
(and its TLS module smtpot-tls) behind systemd-socket-activate, or on a
socketpair, driven by real clients (swaks, smtplib, openssl s_client, curl,
raw sockets), asserting the replies and the JSON events: credentials decoded
byte for byte, CRAM-MD5 digests recomputed, JA3/JA4 recomputed by
tests/tlsfp_ref.py, STARTTLS injection dropped.

Standard library only. Run from the repository root after
`make smtpot smtpot-tls`:
    python3 tests/e2e_tls.py [-v|-q] [TestClass[.test_method] ...]
A throwaway self-signed certificate is made with `openssl` at start. Only
127.0.0.1 is used; every process started is stopped by its own PID; every
loop is bounded. The last line printed is "e2e_tls: N passed, N failed[, N skipped]".
"""

import base64
import concurrent.futures
import hashlib
import hmac
import os
import re
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402  (tests/e2e.py: scratch directories, servers, clients, the runner)
import tlsfp_ref  # noqa: E402  (tests/tlsfp_ref.py, the independent JA3/JA4)
from e2e import (certificate, clean_env, client_context, need_tool, names,  # noqa: E402
                 one as find, parse_events, tmpdir)

e2e.use_suite("e2e_tls")
REPO = e2e.REPO
SMTPOT = e2e.SMTPOT
MODULE = os.path.join(REPO, "smtpot-tls")
DATA = os.path.join(REPO, "tests", "data")
CHECK_TLSFP = os.path.join(REPO, "tests", "check_tlsfp.c")
HOSTNAME = e2e.HOSTNAME
BANNER = "220 %s ESMTP Postfix (Debian/GNU)" % HOSTNAME
AUTH_LINE = "AUTH PLAIN LOGIN CRAM-MD5"
REPLY_535 = "535 5.7.8 Error: authentication failed: authentication failure"
REPLY_235 = "235 2.7.0 Authentication successful"

JA4_RE = re.compile(r"^t(13|12|11|10)[di]\d{2}\d{2}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$")
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
CHALLENGE_RE = re.compile(r"^<\d{10}\.\d+@" + re.escape(HOSTNAME) + r">$")

# --- events ----------------------------------------------------------------------

def read_log(path, since=0):
    try:
        with open(path, "rb") as f:
            f.seek(since)
            data = f.read()
    except FileNotFoundError:
        return []
    return parse_events(data[:data.rfind(b"\n") + 1])


def sessions_of(events):
    return list(e2e.by_session(events).values())


def field_bytes(d, key):
    """The original bytes of a text field: from key_b64 when the bytes were not
    UTF-8, else the UTF-8 of the string."""
    if key + "_b64" in d:
        return base64.b64decode(d[key + "_b64"], validate=True)
    return d[key].encode("utf-8")


def check_field(tc, d, key, expected):
    """The field holds exactly `expected` (bytes): as a string when valid
    UTF-8 (and then without _b64), else with _b64 carrying the bytes."""
    tc.assertIn(key, d, "%s missing in %s" % (key, d))
    try:
        text = expected.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        tc.assertEqual(d[key], text, key)
        tc.assertNotIn(key + "_b64", d, key)
    else:
        tc.assertIn(key + "_b64", d, "%s: no _b64 for non-UTF-8 bytes in %s" % (key, d))
        tc.assertEqual(field_bytes(d, key), expected, key)
        tc.assertIn("\ufffd", d[key], key)


def check_session(tc, evs):
    """seq 1..n, one connect first, one disconnect last, counters.events == n."""
    tc.assertTrue(evs)
    tc.assertEqual([e["seq"] for e in evs], list(range(1, len(evs) + 1)), names(evs))
    tc.assertEqual(evs[0]["event"], "connect", names(evs))
    tc.assertEqual(evs[-1]["event"], "disconnect", names(evs))
    tc.assertEqual(names(evs).count("connect"), 1, names(evs))
    tc.assertEqual(names(evs).count("disconnect"), 1, names(evs))
    tc.assertEqual(evs[-1]["data"]["counters"]["events"], len(evs))
    for e in evs:
        tc.assertEqual(e["honeypot_type"], "smtp")
    return evs[-1]["data"]["reason"]


def check_cram(tc, d, user, password, challenge_b64=None):
    """The CRAM-MD5 event: the challenge as sent, the response as sent and the
    digest equal to HMAC-MD5(password, challenge) computed here."""
    tc.assertEqual(d["mechanism"], "CRAM-MD5")
    chal = d["challenge"]
    tc.assertRegex(chal, CHALLENGE_RE)
    if challenge_b64 is not None:
        tc.assertEqual(base64.b64decode(challenge_b64, validate=True), chal.encode())
    digest = hmac.new(password, chal.encode(), hashlib.md5).hexdigest()
    tc.assertEqual(d["digest"], digest, "digest is not HMAC-MD5(password, logged challenge)")
    check_field(tc, d, "username", user)
    check_field(tc, d, "response", user + b" " + digest.encode())
    tc.assertEqual(base64.b64decode(d["raw"][-1], validate=True), user + b" " + digest.encode())
    tc.assertFalse(d["initial_response"])
    tc.assertNotIn("password", d)


def hello_records(b):
    """The leading records of b that carry the first handshake message."""
    i, hs = 0, b""
    while i + 5 <= len(b) and b[i] == 22:
        n = int.from_bytes(b[i + 3:i + 5], "big")
        hs += b[i + 5:i + 5 + n]
        i += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            break
    return b[:i]


def check_tls_event(tc, e, mode, seen=None, sni=""):
    """A successful tls event: version, cipher, SNI, fingerprints that match
    what tlsfp_ref computes from the logged ClientHello."""
    d = e["data"]
    tc.assertEqual(e["level"], "INFO")
    tc.assertEqual(d["mode"], mode)
    tc.assertEqual(d["result"], "success", d)
    tc.assertIn(d["version"], ("TLSv1.2", "TLSv1.3"))
    tc.assertTrue(d["cipher"])
    if seen is not None:  # (version, cipher) as the client saw them
        tc.assertEqual((d["version"], d["cipher"]), seen)
    tc.assertEqual(d["sni"], sni)
    tc.assertRegex(d["ja3_md5"], HEX32_RE)
    tc.assertEqual(d["ja3_md5"], hashlib.md5(d["ja3"].encode()).hexdigest())
    tc.assertRegex(d["ja4"], JA4_RE)
    tc.assertEqual(d["ja4"][3], "d" if sni else "i", d["ja4"])
    hello = base64.b64decode(d["client_hello_b64"], validate=True)
    ch = tlsfp_ref.parse(hello)
    tc.assertEqual(d["ja3"], tlsfp_ref.ja3(ch)[0])
    tc.assertEqual(d["ja3_md5"], tlsfp_ref.ja3(ch)[1])
    tc.assertEqual(d["ja4"], tlsfp_ref.ja4(ch))
    if sni:
        tc.assertEqual(d["client_sni"], sni)
    else:
        tc.assertNotIn("client_sni", d)
    return hello


def c_constants():
    """{data file: {"ja3", "md5", "ja4"}} from the asserts of tests/check_tlsfp.c."""
    with open(CHECK_TLSFP) as f:
        src = f.read()
    out = {}
    for m in re.finditer(r"START_TEST\((\w+)\)(.*?)END_TEST", src, re.S):
        body = m.group(2)
        f = re.search(r'load\("tests/data/([^"]+)"', body)
        vals = {}
        for a in re.finditer(r'ck_assert_str_eq\((ja3|md5|ja4),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', body):
            vals[a.group(1)] = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', a.group(2)))
        if f and vals:
            out[f.group(1)] = vals
    return out


# --- servers and clients -----------------------------------------------------------

class Server(e2e.Server):
    """smtpot with --tls-cert and --tls-key behind `systemd-socket-activate
    --inetd -a` on 127.0.0.1 (port= a fixed port, tried once)."""

    def __init__(self, name, *extra, port=None):
        cert, key = certificate()
        super().__init__(name, "--tls-cert=" + cert, "--tls-key=" + key, *extra, port=port)

    def sessions(self, count, since=0, timeout=10.0):
        """Waits for `count` ended sessions after byte offset `since`."""
        deadline = time.monotonic() + timeout
        while True:
            evs = read_log(self.log, since)
            done = [s for s in sessions_of(evs) if s[-1]["event"] == "disconnect"]
            if len(done) >= count or time.monotonic() > deadline:
                if len(done) < count:
                    raise AssertionError("%d of %d sessions ended: %s" % (
                        len(done), count, [names(s) for s in sessions_of(evs)]))
                return done

    def session(self, since=0, timeout=10.0):
        s = self.sessions(1, since, timeout)
        if len(s) != 1:
            raise AssertionError("%d sessions, expected 1" % len(s))
        return s[0]


class Conn(e2e.Client):
    """A raw SMTP client over TCP, later TLS; every read has a deadline."""

    MAX_REPLY_LINES = 1000

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def quiet(self, seconds):
        """True when nothing arrives (and nothing is buffered) for `seconds`;
        the end of the connection counts as quiet."""
        if self.buf:
            return False
        if isinstance(self.sock, ssl.SSLSocket):
            self.sock.settimeout(seconds)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return True
            except (ssl.SSLEOFError, ConnectionResetError):
                return True
            self.received += chunk
            self.buf += chunk
            return chunk == b""
        r, _, _ = select.select([self.sock], [], [], seconds)
        if not r:
            return True
        self.sock.settimeout(1)
        return self.sock.recv(65536, socket.MSG_PEEK) == b""

    def starttls(self, server_hostname=None, ctx=None):
        if self.buf:
            raise AssertionError("plaintext bytes after the 220 to STARTTLS: %r" % self.buf)
        self.sock.settimeout(self.timeout)
        self.sock = (ctx or client_context()).wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def until_eof(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            try:
                if not self._recv(deadline):
                    break
            except (ConnectionResetError, ssl.SSLError):
                break
        return self.received

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(argv, input=None, timeout=30):
    return subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=clean_env())


# --- 1. swaks: AUTH PLAIN, LOGIN, CRAM-MD5, with and without STARTTLS -------------

SWAKS_CREDS = {
    # mechanism: (user, password); UTF-8 and bytes that are not UTF-8.
    "PLAIN": ("jürgen@exämple.com".encode(), b"p\xe4ss \xff\xfe\x01w\xc3\x28rd"),
    "LOGIN": (b"\xaf\xb2\xb2\xa9", "pässwörd ✓ 🔑".encode()),
    "CRAM-MD5": ("jörg müller".encode(), b"k\xc3\x28y \xff\x80 secret"),
}


class T01Swaks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("swaks") is None:
            raise unittest.SkipTest("swaks is not installed")
        cls.results = {}
        with Server("swaks-accept", "--auth=accept") as acc, Server("swaks-fail") as fail:
            jobs = []
            for policy, srv in (("accept", acc), ("fail", fail)):
                for mech in SWAKS_CREDS:
                    for tls in (False, True):
                        jobs.append((policy, srv, mech, tls))
            with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
                outs = list(pool.map(lambda j: cls.swaks(*j), jobs))
            evs = {}
            for srv in (acc, fail):
                for s in srv.sessions(6):
                    evs[find(s, "ehlo")["data"]["name"]] = s
            for (policy, srv, mech, tls), out in zip(jobs, outs):
                cls.results[(policy, mech, tls)] = out + (evs.get(cls.helo(policy, mech, tls)),)
            # The disconnect event comes just before the exit: wait for the launcher to see it.
            cls.children = {p: s.wait_children() for p, s in (("accept", acc), ("fail", fail))}

    @staticmethod
    def helo(policy, mech, tls):
        return "%s-%s-%s.client.example" % (policy, mech.lower(), "tls" if tls else "plain")

    @classmethod
    def swaks(cls, policy, srv, mech, tls):
        user, password = SWAKS_CREDS[mech]
        argv = [b"swaks", b"--server", b"127.0.0.1:%d" % srv.port, b"--to", b"b@example.com",
                b"--from", b"a@example.com", b"--helo", cls.helo(policy, mech, tls).encode(),
                b"--auth", mech.encode(), b"--auth-user", user, b"--auth-password", password,
                b"--timeout", b"10"]
        if tls:
            argv.append(b"--tls")
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30,
                           env=clean_env())
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def check(self, policy, mech, tls):
        rc, out, evs = self.results[(policy, mech, tls)]
        self.assertIsNotNone(evs, "no session found for %s\n%s" % (self.helo(policy, mech, tls), out))
        check_session(self, evs)
        user, password = SWAKS_CREDS[mech]
        rx = "<~ " if tls else "<- "
        # AUTH was offered in plaintext on this (non-587) port, and used.
        ehlos = [e for e in evs if e["event"] == "ehlo"]
        self.assertIn("250-" + AUTH_LINE, ehlos[0]["data"]["reply"])
        auth = find(evs, "auth")
        d = auth["data"]
        self.assertEqual(auth["level"], "WARN")
        self.assertEqual(d["mechanism"], mech)
        self.assertEqual(names(evs).count("auth"), 1)
        if tls:
            self.assertEqual(names(evs)[:6], ["connect", "ehlo", "starttls", "tls", "ehlo", "auth"])
            check_tls_event(self, find(evs, "tls"), "starttls")
            self.assertNotIn("STARTTLS", ehlos[1]["data"]["reply"])
            self.assertIn("=== TLS started", out)
        else:
            self.assertEqual(names(evs)[:3], ["connect", "ehlo", "auth"])
            self.assertNotIn("tls", names(evs))
        if mech == "PLAIN":
            self.assertTrue(d["initial_response"])
            self.assertEqual(d["authzid"], "")
            check_field(self, d, "username", user)
            check_field(self, d, "password", password)
            self.assertEqual(base64.b64decode(d["raw"][0]), b"\0" + user + b"\0" + password)
        elif mech == "LOGIN":
            check_field(self, d, "username", user)
            check_field(self, d, "password", password)
            self.assertEqual(d["username_b64"], "r7KyqQ==")
            self.assertEqual([base64.b64decode(x) for x in d["raw"]], [user, password])
            self.assertIn(rx + " 334 VXNlcm5hbWU6", out)
            self.assertIn(rx + " 334 UGFzc3dvcmQ6", out)
        else:
            m = re.search(re.escape(rx) + r" 334 (\S+)", out)
            self.assertIsNotNone(m, out)
            check_cram(self, d, user, password, challenge_b64=m.group(1))
        if policy == "accept":
            self.assertEqual(rc, 0, out)
            self.assertEqual(d["result"], "success")
            self.assertEqual(d["reply"], REPLY_235)
            self.assertIn(rx + " " + REPLY_235, out)
            msg = find(evs, "message")
            self.assertEqual(msg["data"]["from"], "a@example.com")
            self.assertEqual(msg["data"]["to"], ["b@example.com"])
            self.assertTrue(msg["data"]["complete"])
            self.assertIn(rx + " 250 2.0.0 Ok: queued as " + msg["data"]["queue_id"], out)
            self.assertEqual(names(evs)[-6:], ["mail_from", "rcpt_to", "data", "message", "quit",
                                               "disconnect"])
        else:
            self.assertNotEqual(rc, 0, out)
            self.assertEqual(d["result"], "failure")
            self.assertEqual(d["reply"], REPLY_535)
            self.assertEqual(d["code"], 535)
            # swaks marks the reply that failed the run with "<**" ("<~*" over TLS).
            self.assertRegex(out, re.compile("^%s %s$" % (re.escape("<~*" if tls else "<**"),
                                                          re.escape(REPLY_535)), re.M))
            self.assertNotIn("message", names(evs))
            self.assertNotIn("mail_from", names(evs))

    def test_plain_accept(self):
        self.check("accept", "PLAIN", False)

    def test_plain_accept_tls(self):
        self.check("accept", "PLAIN", True)

    def test_plain_fail(self):
        self.check("fail", "PLAIN", False)

    def test_plain_fail_tls(self):
        self.check("fail", "PLAIN", True)

    def test_login_accept(self):
        self.check("accept", "LOGIN", False)

    def test_login_accept_tls(self):
        self.check("accept", "LOGIN", True)

    def test_login_fail(self):
        self.check("fail", "LOGIN", False)

    def test_login_fail_tls(self):
        self.check("fail", "LOGIN", True)

    def test_cram_md5_accept(self):
        self.check("accept", "CRAM-MD5", False)

    def test_cram_md5_accept_tls(self):
        self.check("accept", "CRAM-MD5", True)

    def test_cram_md5_fail(self):
        self.check("fail", "CRAM-MD5", False)

    def test_cram_md5_fail_tls(self):
        self.check("fail", "CRAM-MD5", True)

    def test_zz_sessions_exited_0(self):
        for policy, (spawned, died) in self.children.items():
            self.assertEqual(len(spawned), 6, policy)
            self.assertEqual(sorted(died), sorted(spawned), policy)
            self.assertEqual({p: c for p, c in died.items() if c != 0}, {}, policy)


# --- 2. smtplib: STARTTLS, then login / forced mechanisms, then sendmail ---------

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: smtplib over TLS\r\n\r\nhello\r\n"


class T02Smtplib(unittest.TestCase):
    def connect(self, srv, helo, max_version=None):
        s = smtplib.SMTP("127.0.0.1", srv.port, local_hostname=helo, timeout=10)
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        self.assertTrue(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("auth"))  # port-25 profile: offered in plaintext
        code, msg = s.starttls(context=client_context(max_version=max_version))
        self.assertEqual((code, msg), (220, b"2.0.0 Ready to start TLS"))
        return s

    def test_login_picks_mechanism_and_sends(self):
        with Server("smtplib-login", "--auth=accept") as srv:
            s = self.connect(srv, "login.client.example")
            try:
                # RFC 3207 4.2: the handshake forgets the EHLO.
                self.assertEqual(s.docmd("MAIL FROM:<a@example.com>"),
                                 (503, b"5.5.1 Error: send HELO/EHLO first"))
                self.assertEqual(s.docmd("AUTH PLAIN AHUAcA=="),
                                 (503, b"5.5.1 Error: send HELO/EHLO first"))
                code, _ = s.ehlo()
                self.assertEqual(code, 250)
                self.assertFalse(s.has_extn("starttls"))
                self.assertEqual(s.esmtp_features["auth"].split(), ["PLAIN", "LOGIN", "CRAM-MD5"])
                self.assertEqual(s.login("login-user@example.com", "s3cret: pass word!"),
                                 (235, b"2.7.0 Authentication successful"))
                self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], MESSAGE), {})
                tls_seen = (s.sock.version(), s.sock.cipher()[0])
            finally:
                s.quit()
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "quit")
            self.assertEqual(names(evs), ["connect", "ehlo", "starttls", "tls", "mail_from", "auth",
                                          "ehlo", "auth", "mail_from", "rcpt_to", "data", "message",
                                          "quit", "disconnect"])
            check_tls_event(self, find(evs, "tls"), "starttls", seen=tls_seen)
            self.assertIn("bad_sequence", find(evs, "mail_from")["data"]["flags"])
            self.assertEqual(find(evs, "auth")["data"]["code"], 503)
            self.assertNotIn("mechanism", find(evs, "auth")["data"])  # refused before the exchange
            a = find(evs, "auth", 1)["data"]
            # smtplib prefers CRAM-MD5 when offered.
            check_cram(self, a, b"login-user@example.com", b"s3cret: pass word!")
            self.assertEqual(a["result"], "success")
            m = find(evs, "message")["data"]
            self.assertEqual(m["sha256"], hashlib.sha256(MESSAGE).hexdigest())
            self.assertEqual(m["helo"], "login.client.example")
            self.assertEqual(m["headers"]["subject"], "smtplib over TLS")
            srv.check_children(self)

    def test_forced_mechanisms(self):
        cases = [("PLAIN", True), ("PLAIN", False), ("LOGIN", True), ("LOGIN", False),
                 ("CRAM-MD5", True)]
        with Server("smtplib-forced", "--auth=accept") as srv:
            for i, (mech, initial) in enumerate(cases):
                since = srv.log_size()
                user, password = "user%d@example.com" % i, "p@ss w:rd %d\\\"'!" % i
                s = self.connect(srv, "forced%d.client.example" % i)
                try:
                    s.ehlo()
                    s.user, s.password = user, password
                    obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
                    code, _ = s.auth(mech, obj, initial_response_ok=initial)
                    self.assertEqual(code, 235, mech)
                    self.assertEqual(s.sendmail("a@example.com", ["b@example.com"], MESSAGE), {})
                    seen = (s.sock.version(), s.sock.cipher()[0])
                finally:
                    s.quit()
                evs = srv.session(since)
                check_session(self, evs)
                check_tls_event(self, find(evs, "tls"), "starttls", seen=seen)
                a = find(evs, "auth")["data"]
                self.assertEqual(a["mechanism"], mech)
                self.assertEqual(a["result"], "success")
                self.assertEqual(a["reply"], REPLY_235)
                if mech == "CRAM-MD5":
                    check_cram(self, a, user.encode(), password.encode())
                    continue
                self.assertEqual(a["initial_response"], initial, mech)
                self.assertEqual(a["username"], user)
                self.assertEqual(a["password"], password)
                self.assertNotIn("username_b64", a)
                self.assertEqual(len(a["raw"]), 1 if mech == "PLAIN" else 2)
                if mech == "PLAIN":
                    self.assertEqual(a["authzid"], "")
                self.assertEqual(find(evs, "message")["data"]["from"], "a@example.com")
            srv.check_children(self)

    def test_login_refused_by_default(self):
        with Server("smtplib-fail") as srv:
            s = self.connect(srv, "fail.client.example")
            try:
                s.ehlo()
                with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                    s.login("victim", "hunter2")
                self.assertEqual(cm.exception.smtp_code, 535)
                self.assertEqual(cm.exception.smtp_error,
                                 b"5.7.8 Error: authentication failed: authentication failure")
            finally:
                s.quit()
            evs = srv.session()
            check_session(self, evs)
            auths = [e["data"] for e in evs if e["event"] == "auth"]
            # smtplib tries every mechanism it knows, in its order.
            self.assertEqual([a["mechanism"] for a in auths], ["CRAM-MD5", "PLAIN", "LOGIN"])
            self.assertEqual({a["result"] for a in auths}, {"failure"})
            self.assertEqual({a["reply"] for a in auths}, {REPLY_535})
            check_cram(self, auths[0], b"victim", b"hunter2")
            for a in auths[1:]:
                self.assertEqual((a["username"], a["password"]), ("victim", "hunter2"))
            srv.check_children(self)

    def test_tls12(self):
        with Server("smtplib-tls12", "--auth=accept") as srv:
            s = self.connect(srv, "tls12.client.example", max_version=ssl.TLSVersion.TLSv1_2)
            try:
                self.assertEqual(s.sock.version(), "TLSv1.2")
                s.ehlo()
                s.login("u12", "p12")
            finally:
                s.quit()
            evs = srv.session()
            check_session(self, evs)
            t = find(evs, "tls")
            check_tls_event(self, t, "starttls")
            self.assertEqual(t["data"]["version"], "TLSv1.2")
            self.assertTrue(t["data"]["ja4"].startswith("t12i"), t["data"]["ja4"])
            srv.check_children(self)


# --- 3. openssl s_client: STARTTLS and implicit TLS, with SNI ------------------

class T03SClient(unittest.TestCase):
    def s_client(self, port, starttls):
        need_tool(self, "openssl")
        argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", HOSTNAME,
                "-quiet", "-crlf"]
        if starttls:
            argv[2:2] = ["-starttls", "smtp"]
        r = run(argv, input=b"EHLO sclient.example\nQUIT\n", timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, (out, r.stderr))
        return out.splitlines()

    def test_starttls(self):
        with Server("sclient-starttls") as srv:
            lines = self.s_client(srv.port, starttls=True)
            self.assertIn("250-" + AUTH_LINE, lines)
            self.assertNotIn("250-STARTTLS", lines)
            self.assertEqual(lines[-1], "221 2.0.0 Bye")
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "quit")
            self.assertEqual(names(evs), ["connect", "ehlo", "starttls", "tls", "ehlo", "quit",
                                          "disconnect"])
            st = find(evs, "starttls")["data"]
            self.assertEqual(st["reply"], "220 2.0.0 Ready to start TLS")
            self.assertNotIn("injected", st)
            check_tls_event(self, find(evs, "tls"), "starttls", sni=HOSTNAME)
            self.assertEqual(find(evs, "ehlo", 1)["data"]["name"], "sclient.example")
            srv.check_children(self)

    def test_implicit(self):
        with Server("sclient-implicit", "--tls=implicit") as srv:
            lines = self.s_client(srv.port, starttls=False)
            self.assertEqual(lines[0], BANNER)
            self.assertIn("250-" + AUTH_LINE, lines)
            self.assertNotIn("250-STARTTLS", lines)
            self.assertEqual(lines[-1], "221 2.0.0 Bye")
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "quit")
            self.assertEqual(names(evs), ["connect", "tls", "ehlo", "quit", "disconnect"])
            self.assertEqual(evs[0]["data"].get("tls"), "implicit")
            self.assertNotIn("reply", evs[0]["data"])  # no banner before the handshake
            t = find(evs, "tls")
            check_tls_event(self, t, "implicit", sni=HOSTNAME)
            self.assertEqual(t["data"]["reply"], BANNER)
            self.assertEqual(t["data"]["code"], 220)
            srv.check_children(self)

    def test_implicit_banner_after_handshake(self):
        with Server("implicit-banner", "--tls=implicit") as srv:
            c = Conn(srv.port)
            try:
                self.assertTrue(c.quiet(0.5), "bytes before the handshake: %r" % c.received)
                self.assertEqual(c.received, b"")
                c.starttls(server_hostname=HOSTNAME, ctx=client_context(verify=True))
                self.assertEqual(c.reply(), (220, [BANNER]))
                self.assertEqual(c.cmd(b"QUIT"), (221, ["221 2.0.0 Bye"]))
                seen = (c.sock.version(), c.sock.cipher()[0])
            finally:
                c.close()
            evs = srv.session()
            self.assertEqual(names(evs), ["connect", "tls", "quit", "disconnect"])
            check_tls_event(self, find(evs, "tls"), "implicit", seen=seen, sni=HOSTNAME)
            srv.check_children(self)

    def test_plaintext_client_on_implicit_port(self):
        with Server("implicit-plain", "--tls=implicit") as srv:
            c = Conn(srv.port)
            try:
                c.send(b"EHLO plain.example\r\n")
                got = c.until_eof()
            finally:
                c.close()
            self.assertNotIn(b"220", got)
            self.assertTrue(got == b"" or got[0] == 0x15, "not a TLS alert: %r" % got[:40])
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "tls_failed")
            self.assertEqual(names(evs), ["connect", "tls", "disconnect"])
            d = find(evs, "tls")["data"]
            self.assertEqual(d["result"], "failure")
            self.assertTrue(d["error"].startswith("handshake"), d["error"])
            self.assertFalse(d["client_hello_parsed"])
            self.assertTrue(b"EHLO plain.example\r\n".startswith(
                base64.b64decode(d["client_hello_b64"])))
            srv.check_children(self)


# --- 4. curl over implicit TLS ------------------------------------------------

class T04Curl(unittest.TestCase):
    def test_curl_smtps(self):
        need_tool(self, "curl")
        body = b"From: a@example.com\r\nSubject: curl smtps\r\n\r\nline one\r\nline two\r\n"
        with Server("curl", "--tls=implicit", "--auth=accept") as srv:
            path = os.path.join(srv.dir, "msg.eml")
            with open(path, "wb") as f:
                f.write(body)
            for login_options in (None, "AUTH=PLAIN", "AUTH=LOGIN"):
                since = srv.log_size()
                argv = ["curl", "-sS", "--insecure", "--max-time", "20",
                        "smtps://127.0.0.1:%d" % srv.port, "--mail-from", "a@example.com",
                        "--mail-rcpt", "b@example.com", "--upload-file", path, "--user", "u:p"]
                if login_options:
                    argv += ["--login-options", login_options]
                r = run(argv)
                self.assertEqual(r.returncode, 0, r.stderr)
                evs = srv.session(since)
                self.assertEqual(check_session(self, evs), "quit")
                self.assertEqual(names(evs), ["connect", "tls", "ehlo", "auth", "mail_from", "rcpt_to",
                                              "data", "message", "quit", "disconnect"])
                check_tls_event(self, find(evs, "tls"), "implicit")
                a = find(evs, "auth")["data"]
                self.assertEqual(a["result"], "success")
                self.assertEqual(a["username"], "u")
                if login_options is None:
                    # curl prefers CRAM-MD5: the password is in the digest.
                    check_cram(self, a, b"u", b"p")
                else:
                    self.assertEqual(a["mechanism"], login_options[5:])
                    self.assertEqual(a["password"], "p")
                m = find(evs, "message")["data"]
                self.assertEqual(m["from"], "a@example.com")
                self.assertEqual(m["to"], ["b@example.com"])
                self.assertEqual(m["sha256"], hashlib.sha256(body).hexdigest())
                with open(os.path.join(srv.spool, m["spool_file"]), "rb") as f:
                    self.assertEqual(f.read(), body)
            srv.check_children(self)


# --- 5. STARTTLS injection ------------------------------------------------------

class T05Injection(unittest.TestCase):
    def inject(self, extra):
        with Server("inject") as srv:
            c = Conn(srv.port)
            try:
                self.assertEqual(c.reply()[0], 220)
                self.assertEqual(c.cmd(b"EHLO inj.example")[0], 250)
                c.send(b"STARTTLS\r\n" + extra)  # one write
                self.assertEqual(c.reply(), (220, ["220 2.0.0 Ready to start TLS"]))
                # Nothing answers the injected bytes before the handshake...
                self.assertTrue(c.quiet(0.3), "plaintext after the 220: %r" % c.received)
                c.starttls()
                # ... nor after it: the first reply over TLS is the EHLO's.
                code, lines = c.cmd(b"EHLO inj.example")
                self.assertEqual(code, 250)
                self.assertEqual(lines[0], "250-" + HOSTNAME)
                self.assertEqual(c.cmd(b"NOOP"), (250, ["250 2.0.0 Ok"]))
                self.assertEqual(c.cmd(b"QUIT"), (221, ["221 2.0.0 Bye"]))
                self.assertTrue(c.quiet(0.2))
            finally:
                c.close()
            # Exactly two 220 replies: the banner and the one to STARTTLS.
            plain = c.received.split(b"\r\n")
            self.assertEqual(sum(1 for x in plain if x.startswith(b"220 ")), 2)
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "quit")
            return evs

    def test_rset_after_starttls(self):
        evs = self.inject(b"RSET\r\n")
        self.assertEqual(names(evs), ["connect", "ehlo", "starttls", "tls", "ehlo", "noop", "quit",
                                      "disconnect"])
        st = find(evs, "starttls")["data"]
        self.assertEqual(st["injected"], "RSET\r\n")
        self.assertIn("pipelined_after_starttls", st["flags"])
        self.assertEqual(st["reply"], "220 2.0.0 Ready to start TLS")
        self.assertNotIn("rset", names(evs))
        self.assertEqual(find(evs, "tls")["data"]["result"], "success")

    def test_transaction_after_starttls(self):
        extra = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<x@example.com>\r\nRSET\r\n"
        evs = self.inject(extra)
        self.assertEqual(find(evs, "starttls")["data"]["injected"], extra.decode())
        for name in ("mail_from", "rcpt_to", "rset"):
            self.assertNotIn(name, names(evs))


# --- 6. JA3 / JA4 of recorded ClientHellos, replayed ------------------------------

class T06Replay(unittest.TestCase):
    def replay(self, name):
        with open(os.path.join(DATA, name), "rb") as f:
            hello = f.read()
        with Server("replay", "--tls=implicit") as srv:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            try:
                s.sendall(hello)
                got, deadline = b"", time.monotonic() + 2
                while len(got) < 5 and time.monotonic() < deadline:
                    r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
                    if not r:
                        break
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            finally:
                s.close()
            # The server answered in TLS (a ServerHello / HelloRetryRequest or an alert).
            self.assertIn(got[:1], (b"\x16", b"\x15"), got[:40])
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "tls_failed")
            d = find(evs, "tls")["data"]
        self.assertEqual(d["result"], "failure")
        self.assertTrue(d["error"])
        self.assertEqual(base64.b64decode(d["client_hello_b64"]), hello)
        ch = tlsfp_ref.parse(hello)
        ref = {"ja3": tlsfp_ref.ja3(ch)[0], "md5": tlsfp_ref.ja3(ch)[1], "ja4": tlsfp_ref.ja4(ch)}
        self.assertEqual((d["ja3"], d["ja3_md5"], d["ja4"]), (ref["ja3"], ref["md5"], ref["ja4"]))
        const = c_constants()[name]
        self.assertEqual(ref, const, "tlsfp_ref.py and check_tlsfp.c disagree")
        return d

    def test_openssl_hello(self):
        d = self.replay("clienthello-openssl.bin")
        self.assertEqual(d["client_sni"], HOSTNAME)

    def test_grease_hello(self):
        d = self.replay("clienthello-grease.bin")
        self.assertEqual(d["client_sni"], HOSTNAME + ".")
        self.assertEqual(d["client_alpn"], "h2")

    def test_client_hello_b64_holds_only_the_hello(self):
        # With a real client the handshake goes on after the ClientHello; the
        # logged client_hello_b64 must still be the ClientHello records only.
        with Server("hello-only", "--tls=implicit") as srv:
            c = Conn(srv.port)
            try:
                c.starttls(server_hostname=HOSTNAME)
                self.assertEqual(c.reply(), (220, [BANNER]))
                c.cmd(b"QUIT")
            finally:
                c.close()
            d = find(srv.session(), "tls")["data"]
        hello = base64.b64decode(d["client_hello_b64"])
        only = hello_records(hello)
        self.assertTrue(only)
        self.assertEqual(hello, only, "%d bytes after the ClientHello records (record types %s)" % (
            len(hello) - len(only), sorted({hello[i] for i in record_starts(hello)[1:]})))


def record_starts(b):
    out, i = [], 0
    while i + 5 <= len(b):
        out.append(i)
        i += 5 + int.from_bytes(b[i + 3:i + 5], "big")
    return out


# --- 7. submission profile: AUTH only after STARTTLS on port 587 ----------------

class T07Submission(unittest.TestCase):
    def offered(self, srv, dest_port):
        c = Conn(srv.port)
        try:
            self.assertEqual(c.reply()[0], 220)
            code, lines = c.cmd(b"EHLO sub.example")
            self.assertEqual(code, 250)
            self.assertNotIn("250-" + AUTH_LINE, lines)
            self.assertIn("250-STARTTLS", lines)
            self.assertEqual(c.cmd(b"AUTH PLAIN AHUAcA=="),
                             (503, ["503 5.5.1 Error: authentication not enabled"]))
            self.assertEqual(c.cmd(b"STARTTLS")[0], 220)
            c.starttls()
            code, lines = c.cmd(b"EHLO sub.example")
            self.assertEqual(code, 250)
            self.assertIn("250-" + AUTH_LINE, lines)
            self.assertNotIn("250-STARTTLS", lines)
            self.assertEqual(c.cmd(b"AUTH PLAIN AHUAcA=="), (535, [REPLY_535]))
            self.assertEqual(c.cmd(b"QUIT")[0], 221)
        finally:
            c.close()
        evs = srv.session()
        check_session(self, evs)
        self.assertEqual({e["dest_port"] for e in evs}, {dest_port})
        a = [e["data"] for e in evs if e["event"] == "auth"]
        self.assertEqual(a[0]["code"], 503)
        self.assertEqual((a[1]["username"], a[1]["password"], a[1]["result"]), ("u", "p", "failure"))
        srv.check_children(self)

    def test_auto_on_587(self):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", 587))
        except OSError as e:
            self.skipTest("127.0.0.1:587 cannot be bound here (%s)" % e)
        finally:
            probe.close()
        try:
            srv = Server("submission", "--auth-without-tls=auto", port=587).start()
        except RuntimeError as e:
            self.skipTest("127.0.0.1:587 is busy: %s" % e)
        try:
            self.offered(srv, 587)
        finally:
            srv.stop()

    def test_no_on_any_port(self):
        with Server("auth-no", "--auth-without-tls=no") as srv:
            self.offered(srv, srv.port)


# --- 8. AUTH edge cases over STARTTLS -------------------------------------------

class T08AuthEdges(unittest.TestCase):
    def test_edges(self):
        b64 = lambda b: base64.b64encode(b)
        plain_bin = b"\xff\x1b[31m\x00user\x7f\xc3\x28\x00pa\x00ss\x01\"\\"
        with Server("auth-edges") as srv:
            c = Conn(srv.port)
            try:
                self.assertEqual(c.reply()[0], 220)
                self.assertEqual(c.cmd(b"EHLO edges.example")[0], 250)
                self.assertEqual(c.cmd(b"STARTTLS")[0], 220)
                c.starttls()
                self.assertEqual(c.cmd(b"EHLO edges.example")[0], 250)
                steps = [
                    # binary user name, empty password
                    (b"AUTH LOGIN", "334 VXNlcm5hbWU6"), (b"r7KyqQ==", "334 UGFzc3dvcmQ6"),
                    (b"=", REPLY_535),
                    # cancel
                    (b"AUTH PLAIN", "334 "), (b"*", "501 5.7.0 Authentication aborted"),
                    # malformed base64
                    (b"AUTH LOGIN", "334 VXNlcm5hbWU6"), (b"!!notb64", "501 5.5.2 Cannot decode response"),
                    # empty PLAIN response
                    (b"AUTH PLAIN =", "535 5.7.8 Error: authentication failed: malformed response"),
                    # CRAM-MD5 cancelled: the challenge is still logged
                    (b"AUTH CRAM-MD5", None), (b"*", "501 5.7.0 Authentication aborted"),
                    # PLAIN with control bytes, bad UTF-8 and a NUL in the password
                    (b"AUTH PLAIN " + b64(plain_bin), REPLY_535),
                    # LOGIN with initial response, cancelled at the password
                    (b"AUTH LOGIN dXNlcg==", "334 UGFzc3dvcmQ6"), (b"*", "501 5.7.0 Authentication aborted"),
                    # CRAM-MD5 answer without a space
                    (b"AUTH CRAM-MD5", None), (b64(b"no-space-here"), REPLY_535),
                    # CRAM-MD5 answer that is not base64
                    (b"AUTH CRAM-MD5", None), (b"@@@", "501 5.5.2 Cannot decode response"),
                ]
                challenges = []
                for line, expect in steps:
                    code, lines = c.cmd(line)
                    self.assertEqual(len(lines), 1)
                    if expect is None:
                        self.assertEqual(code, 334, lines)
                        challenges.append(lines[0][4:])
                    else:
                        self.assertEqual(lines[0], expect, line)
                self.assertEqual(c.cmd(b"QUIT")[0], 221)
            finally:
                c.close()
            evs = srv.session()
            self.assertEqual(check_session(self, evs), "quit")
            a = [e["data"] for e in evs if e["event"] == "auth"]
            self.assertEqual(len(a), 9)
            self.assertEqual([x["result"] for x in a],
                             ["failure", "cancelled", "malformed", "malformed", "cancelled", "failure",
                              "cancelled", "failure", "malformed"])
            # 1: binary user name kept, empty password
            self.assertEqual(a[0]["username_b64"], "r7KyqQ==")
            check_field(self, a[0], "username", b"\xaf\xb2\xb2\xa9")
            self.assertEqual(a[0]["password"], "")
            self.assertEqual(a[0]["raw"], ["r7KyqQ==", "="])
            # 2: cancel
            self.assertEqual((a[1]["mechanism"], a[1]["raw"]), ("PLAIN", ["*"]))
            self.assertNotIn("username", a[1])
            # 3: malformed base64 kept as sent
            self.assertEqual(a[2]["raw"], ["!!notb64"])
            self.assertNotIn("username", a[2])
            # 4: empty PLAIN
            self.assertEqual((a[3]["raw"], a[3]["response"], a[3]["initial_response"]), (["="], "", True))
            # 5: CRAM-MD5 cancelled
            self.assertEqual(a[4]["challenge"].encode(), base64.b64decode(challenges[0]))
            self.assertRegex(a[4]["challenge"], CHALLENGE_RE)
            self.assertEqual(a[4]["raw"], ["*"])
            # 6: binary PLAIN, every byte recoverable
            check_field(self, a[5], "authzid", b"\xff\x1b[31m")
            check_field(self, a[5], "username", b"user\x7f\xc3\x28")
            check_field(self, a[5], "password", b"pa\x00ss\x01\"\\")
            self.assertEqual(a[5]["password"], "pa\u0000ss\u0001\"\\")
            self.assertEqual(base64.b64decode(a[5]["raw"][0]), plain_bin)
            # 7: LOGIN initial response, cancelled at the password
            self.assertEqual((a[6]["username"], a[6]["raw"], a[6]["initial_response"]),
                             ("user", ["dXNlcg==", "*"], True))
            self.assertNotIn("password", a[6])
            # 8: CRAM-MD5 without a space: the response is kept whole
            self.assertEqual(a[7]["response"], "no-space-here")
            self.assertEqual(a[7]["challenge"].encode(), base64.b64decode(challenges[1]))
            self.assertNotIn("digest", a[7])
            # 9: CRAM-MD5 malformed
            self.assertEqual(a[8]["raw"], ["@@@"])
            self.assertEqual(a[8]["challenge"].encode(), base64.b64decode(challenges[2]))
            self.assertEqual(len({x["challenge"] for x in (a[4], a[7], a[8])}), 3, "challenge reused")
            srv.check_children(self)


# --- 9. failed handshakes: smtpot on a socketpair, exit status -------------------

def direct(tc, talk, *extra, program=None, popen=None, on_start=None):
    """smtpot on one end of a socketpair; talk(sock) drives the other.
    popen: more Popen arguments; on_start(proc) is told the process.
    Returns (exit status, stderr, events)."""
    cert, key = certificate()
    d = tmpdir("direct")
    log = os.path.join(d, "events.jsonl")
    a, b = socket.socketpair()
    try:
        p = subprocess.Popen(
            [program or SMTPOT, "--log-file=" + log, "--spool-dir=" + os.path.join(d, "spool"),
             "--hostname=" + HOSTNAME, "--tls-cert=" + cert, "--tls-key=" + key] + list(extra),
            stdin=b, stdout=b, stderr=subprocess.PIPE, env=clean_env(), cwd=d, **(popen or {}))
        b.close()
        if on_start is not None:
            on_start(p)
        try:
            a.settimeout(10)
            talk(a)
            a.close()
            _, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=5)
    finally:
        a.close()
        b.close()
    evs = read_log(log)
    check_session(tc, evs)
    return p.returncode, err, evs


class T09FailedHandshake(unittest.TestCase):
    def direct(self, talk, *extra):
        return direct(self, talk, *extra)

    @staticmethod
    def to_starttls(sock):
        f = b""
        sock.sendall(b"EHLO x\r\nSTARTTLS\r\n")
        deadline = time.monotonic() + 10
        while b"220 2.0.0 Ready to start TLS\r\n" not in f and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            f += chunk
        if b"220 2.0.0 Ready to start TLS\r\n" not in f:
            raise AssertionError("no 220 to STARTTLS: %r" % f)

    def test_garbage_after_starttls(self):
        garbage = b"GET / HTTP/1.1\r\nHost: mx.example.com\r\n\r\n"

        def talk(sock):
            self.to_starttls(sock)
            sock.sendall(garbage)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until smtpot closes
                try:
                    if not sock.recv(4096):
                        break
                except ConnectionResetError:
                    break

        status, err, evs = self.direct(talk)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, b"")
        self.assertEqual(names(evs), ["connect", "ehlo", "starttls", "tls", "disconnect"])
        d = find(evs, "tls")["data"]
        self.assertEqual((d["mode"], d["result"]), ("starttls", "failure"))
        self.assertIsInstance(d["error"], str)
        self.assertTrue(d["error"].startswith("handshake: "), d["error"])
        self.assertGreater(len(d["error"]), len("handshake: "))
        self.assertNotIn("version", d)
        self.assertFalse(d["client_hello_parsed"])
        self.assertTrue(garbage.startswith(base64.b64decode(d["client_hello_b64"])))
        self.assertEqual(evs[-1]["data"]["reason"], "tls_failed")

    def test_eof_after_starttls(self):
        status, err, evs = self.direct(self.to_starttls)
        self.assertEqual(status, 0, err)
        self.assertEqual(err, b"")
        d = find(evs, "tls")["data"]
        self.assertEqual(d["result"], "failure")
        # Both OpenSSL 1.1's syscall EOF and OpenSSL 3's "unexpected eof" read as this.
        self.assertEqual(d["error"], "handshake: connection closed")
        self.assertNotIn("client_hello_b64", d)
        self.assertEqual(evs[-1]["data"]["reason"], "tls_failed")

    def test_silence_after_starttls(self):
        def talk(sock):
            self.to_starttls(sock)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # say nothing until smtpot gives up
                try:
                    if not sock.recv(4096):
                        break
                except ConnectionResetError:
                    break

        status, err, evs = self.direct(talk, "--idle-timeout=1")
        self.assertEqual(status, 0, err)
        self.assertEqual(names(evs), ["connect", "ehlo", "starttls", "tls", "timeout", "disconnect"])
        self.assertEqual(find(evs, "tls")["data"]["error"], "handshake: timeout")
        t = find(evs, "timeout")["data"]
        self.assertEqual((t["phase"], t["timeout"]), ("tls", "idle"))
        self.assertEqual(evs[-1]["data"]["reason"], "timeout")


# --- 10. The hand-over to smtpot-tls ---------------------------------------------

def is_static(path):
    """True when the ELF file has no PT_INTERP (no dynamic loader)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(int.from_bytes(table[i * phentsize:i * phentsize + 4], "little") != 3
               for i in range(phnum))


class T10Handover(unittest.TestCase):
    """smtpot is static and holds no TLS: at STARTTLS it executes smtpot-tls in
    its own place. The session goes on as one: its id, its event numbers, its
    counters and its clock."""

    def test_counters_span_starttls(self):
        before = (b"EHLO one.example\r\nNOOP\r\nFROB\r\nMAIL FROM:<a@example.com>\r\n"
                  b"RCPT TO:<b@example.com>\r\nDATA\r\n", b"Subject: before\r\n\r\nbody\r\n.\r\n",
                  b"STARTTLS\r\n")
        after = (b"EHLO two.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<c@example.com>\r\n"
                 b"DATA\r\n", b"Subject: after\r\n\r\nbody\r\n.\r\nQUIT\r\n")

        def until(f, start):
            for _ in range(100):
                if f.readline().startswith(start):
                    return
            raise AssertionError("no %r reply" % start)

        def talk(sock):
            f = sock.makefile("rb")
            f.readline()
            sock.sendall(before[0])
            until(f, b"354 ")
            sock.sendall(before[1])
            until(f, b"250 2.0.0 Ok: queued")
            time.sleep(0.3)
            sock.sendall(before[2])
            self.assertEqual(f.readline(), b"220 2.0.0 Ready to start TLS\r\n")
            t = client_context().wrap_socket(sock, server_hostname=HOSTNAME)
            g = t.makefile("rb")
            t.sendall(after[0])
            until(g, b"354 ")
            t.sendall(after[1])
            until(g, b"221 ")
            t.close()

        status, err, evs = direct(self, talk)
        self.assertEqual((status, err), (0, b""))
        self.assertEqual(names(evs), ["connect", "ehlo", "noop", "unknown_command", "mail_from",
                                      "rcpt_to", "data", "message", "starttls", "tls", "ehlo",
                                      "mail_from", "rcpt_to", "data", "message", "quit", "disconnect"])
        self.assertEqual(len({e["session"] for e in evs}), 1)
        d = evs[-1]["data"]
        c = d["counters"]
        self.assertEqual((c["commands"], c["unknown_commands"], c["errors"], c["messages"],
                          c["recipients"], c["events_lost"]), (12, 1, 1, 2, 2, 0))
        self.assertEqual(c["verbs"], {"EHLO": 2, "NOOP": 1, "STARTTLS": 1, "MAIL": 2, "RCPT": 2,
                                      "DATA": 2, "QUIT": 1})
        # What came before STARTTLS counts too, not only what came after.
        self.assertGreaterEqual(c["bytes_in"], len(b"".join(before + after)))
        self.assertGreaterEqual(d["duration_ms"], 300)  # counted from the connection, not the exec
        self.assertEqual(d["sandbox"], "seccomp")
        self.assertEqual(find(evs, "tls")["data"]["result"], "success")
        msgs = [e["data"] for e in evs if e["event"] == "message"]
        self.assertEqual([m["spool_file"] for m in msgs], [m["sha256"] + ".eml" for m in msgs])
        self.assertEqual(len({m["sha256"] for m in msgs}), 2)
        self.assertEqual([m["complete"] for m in msgs], [True, True])

    def alone(self, module, talk, *extra, **kw):
        """smtpot alone in a directory (no smtpot-tls beside it to fall back
        on), --tls-module=module(dir): a path in that directory."""
        if not is_static(SMTPOT):
            self.skipTest("%s runs TLS itself" % SMTPOT)
        d = tmpdir("alone")
        prog = os.path.join(d, "smtpot")
        shutil.copy2(SMTPOT, prog)
        return direct(self, talk, "--tls-module=" + module(d), *extra, program=prog, **kw)

    def missing_module(self, talk, *extra, **kw):
        return self.alone(lambda d: os.path.join(d, "none", "smtpot-tls"), talk, *extra, **kw)

    @staticmethod
    def refused_then_quit(replies):
        def talk(sock):
            f = sock.makefile("rb")
            f.readline()
            sock.sendall(b"EHLO x\r\n")
            while not f.readline().startswith(b"250 "):
                pass
            sock.sendall(b"STARTTLS\r\nQUIT\r\n")
            replies.extend([f.readline(), f.readline()])
        return talk

    def check_refused(self, result, replies, why):
        status, err, evs = result
        self.assertEqual(status, 0, err)
        self.assertEqual(replies, [b"454 4.7.0 TLS not available due to local problem\r\n",
                                   b"221 2.0.0 Bye\r\n"])
        self.assertEqual(names(evs), ["connect", "ehlo", "error", "starttls", "quit", "disconnect"])
        self.assertIn(why, find(evs, "error")["data"]["what"])

    def test_starttls_without_module(self):
        replies = []
        self.check_refused(self.missing_module(self.refused_then_quit(replies)), replies,
                           "cannot run the TLS module")

    def test_module_that_is_no_program(self):
        """A directory, a script, a text file: refused before the 220, not after."""
        def executable(name, text):
            def make(d):
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write(text)
                os.chmod(path, 0o755)
                return path
            return make

        for module in (lambda d: d, executable("smtpot-tls.sh", "#!/bin/sh\nexit 0\n"),
                       executable("notes", "not a program\n")):
            replies = []
            self.check_refused(self.alone(module, self.refused_then_quit(replies)), replies,
                               "cannot run the TLS module")

    def test_descriptor_63_taken_or_out_of_reach(self):
        import resource
        r, w = os.pipe()
        try:
            os.dup2(r, 63)
            replies = []
            self.check_refused(self.alone(lambda d: MODULE, self.refused_then_quit(replies),
                                          popen={"pass_fds": (63,)}), replies, "descriptor 63 is in use")
        finally:
            os.close(63)
            os.close(r)
            os.close(w)

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))

        replies = []
        self.check_refused(self.alone(lambda d: MODULE, self.refused_then_quit(replies),
                                      popen={"preexec_fn": low_limit}), replies, "descriptor 63")

    def test_module_that_is_not_smtpot_tls(self):
        """Other programs, smtpot itself included, lack smtpot-tls's ELF note:
        refused before the 220, never run on the connection."""
        def copy_of(path):
            def make(d):
                other = os.path.join(d, "other")
                shutil.copy2(path, other)
                return other
            return make

        for module in (copy_of(SMTPOT), copy_of(shutil.which("cat"))):
            replies = []
            self.check_refused(self.alone(module, self.refused_then_quit(replies)), replies,
                               "not smtpot-tls")

    def test_session_handed_to_a_program_without_tls(self):
        """smtpot given a session to go on with (SMTPOT_RESUME, as smtpot-tls
        gets it) ends it properly: an error, then the disconnect."""
        if not is_static(SMTPOT):
            self.skipTest("%s runs TLS itself" % SMTPOT)
        d = tmpdir("handed")
        log = os.path.join(d, "events.jsonl")
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        state = ("session=%s sandbox=seccomp started_ms=%d spool_failed=0 seq=3 lost=0 commands=2 "
                 "errors=0 messages=0 recipients=0 unknown=0 auth_tries=0 auth_failures=0 bytes_in=16 "
                 "bytes_out=300 spool_count=0 verbs=%s sink=file,%d,0,0,0"
                 % ("ab" * 16, time.monotonic() * 1000, ",".join(["0"] * 16), fd))
        a, b = socket.socketpair()
        try:
            p = subprocess.Popen([SMTPOT, "--spool-dir=" + os.path.join(d, "spool")], stdin=b, stdout=b,
                                 stderr=subprocess.PIPE, pass_fds=(fd,),
                                 env=dict(clean_env(), SMTPOT_RESUME=state))
            b.close()
            _, err = p.communicate(timeout=10)
        finally:
            os.close(fd)
            a.close()
            b.close()
        self.assertEqual((p.returncode, err), (0, b""))
        evs = read_log(log)
        self.assertEqual([(e["seq"], e["event"]) for e in evs], [(4, "error"), (5, "disconnect")])
        self.assertEqual({e["session"] for e in evs}, {"ab" * 16})
        self.assertIn("no TLS", evs[0]["data"]["what"])
        self.assertEqual(evs[1]["data"]["reason"], "tls_unavailable")
        self.assertEqual(evs[1]["data"]["counters"]["commands"], 2)

    to_starttls = staticmethod(T09FailedHandshake.to_starttls)

    def test_implicit_without_module(self):
        status, err, evs = self.missing_module(lambda sock: sock.recv(100), "--tls=implicit")
        self.assertEqual(status, 0, err)
        self.assertEqual(names(evs), ["connect", "error", "disconnect"])
        self.assertIn("cannot run the TLS module", find(evs, "error")["data"]["what"])
        self.assertEqual(evs[-1]["data"]["reason"], "tls_unavailable")

    def test_sigterm_at_the_handover(self):
        """SIGTERM as the 220 arrives: before, during or after the exec, the
        session ends on it, with its disconnect, never killed outright."""
        for i in range(20):
            procs = []

            def talk(sock):
                self.to_starttls(sock)
                time.sleep((i % 5) * 0.0005)
                procs[0].send_signal(signal.SIGTERM)
                sock.recv(100)

            status, err, evs = direct(self, talk, "--idle-timeout=5", on_start=procs.append)
            self.assertEqual(status, 0, (i, err))
            self.assertEqual(evs[-1]["data"]["reason"], "signal", (i, names(evs)))
            self.assertEqual(evs[-1]["data"]["signal"], signal.SIGTERM)

    def test_config_file_edited_during_the_session(self):
        """The TLS module goes on with the settings the session started with."""
        d = tmpdir("conf")
        conf = os.path.join(d, "smtpot.conf")
        with open(conf, "w") as f:
            f.write("max-recipients = 1\n")
        lines = []

        def talk(sock):
            f = sock.makefile("rb")
            f.readline()
            os.unlink(conf)  # gone, as an operator may move it
            self.to_starttls(sock)
            t = client_context().wrap_socket(sock, server_hostname=HOSTNAME)
            g = t.makefile("rb")
            t.sendall(b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                      b"RCPT TO:<c@example.com>\r\nQUIT\r\n")
            lines.extend(g.readlines())
            t.close()

        status, err, evs = direct(self, talk, "--config=" + conf)
        self.assertEqual(status, 0, err)
        codes = [x[:4] for x in lines if x[3:4] == b" "]
        self.assertEqual(codes, [b"250 ", b"250 ", b"250 ", b"452 ", b"221 "], lines)
        self.assertEqual(find(evs, "limit")["data"]["limit"], "recipients")
        self.assertEqual(evs[-1]["data"]["reason"], "quit")
        self.assertEqual(find(evs, "tls")["data"]["result"], "success")


ORDER = [T01Swaks, T02Smtplib, T03SClient, T04Curl, T05Injection, T06Replay, T07Submission,
         T08AuthEdges, T09FailedHandshake, T10Handover]


def main(argv):
    return e2e.run_main(argv, sys.modules[__name__], ORDER, [SMTPOT, MODULE],
                        "make smtpot smtpot-tls")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
