"""The self-sandbox of smtpot, proved from outside.

1. A forced socket()/connect()/execve()/io_uring_setup() after setup (an LD_PRELOAD probe
   standing in for injected code) fails with EPERM, is logged as an ERROR
   event, and ends the session cleanly (exit 0, disconnect reason
   "sandbox"). smtpot is static, so the probe goes into smtpot-tls, the
   same program linked dynamically: run on its own, and executed by smtpot
   at STARTTLS, under the filter smtpot installed.
2. With STARTTLS offered, smtpot may execute descriptor 63 (its TLS module,
   put there before the filter): gdb, standing in for injected code in the
   static smtpot, cannot replace or close it.
3. strace over a whole session shows no network system call besides the
   peer look-up on fd 0 and the replies sent on fd 1 (and the journal
   socket when the journal sink is on).
"""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMTPOT = os.path.join(TOP, "smtpot")
SMTPOT_TLS = os.path.join(TOP, "smtpot-tls")
PROBE = os.path.join(TOP, "tests", "sandbox_probe.so")
SESSION = (b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
           b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")
REFUSED = ("socket=-1 errno=1 connect=-1 errno=1 execve=-1 errno=1 execveat=-1 errno=1 "
           "dup63=%d execveat63=-1 errno=1 io_uring=-1 errno=1")


def read_until(sock, end):
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("connection closed after %r" % data)
        data += chunk
    return data


def run_session(args, env=None, wrap=(), program=SMTPOT, starttls=False):
    """Runs smtpot on one end of a socketpair; returns (exit status, replies).
    With starttls, the session goes to TLS first."""
    a, b = socket.socketpair()
    p = subprocess.Popen(list(wrap) + [program] + args, stdin=b, stdout=b, env=env)
    b.close()
    a.settimeout(20)
    if starttls:
        read_until(a, b"\r\n")
        a.sendall(b"EHLO client.example.com\r\nSTARTTLS\r\n")
        read_until(a, b"220 2.0.0 Ready to start TLS\r\n")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        a = ctx.wrap_socket(a)
    a.sendall(SESSION)
    out = b""
    try:
        while True:
            chunk = a.recv(4096)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    a.close()
    return p.wait(timeout=30), out


class Sandbox(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smtpot-sandbox-")
        self.log = os.path.join(self.dir, "events.jsonl")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def events(self):
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def probed(self, starttls):
        out = os.path.join(self.dir, "probe.txt")
        env = dict(os.environ, LD_PRELOAD=PROBE, SMTPOT_PROBE_OUT=out)
        args = ["--log-file=" + self.log, "--spool-dir=" + self.dir]
        if starttls:
            args += self.tls_args()
        rc, replies = run_session(args, env=env, program=SMTPOT if starttls else SMTPOT_TLS,
                                  starttls=starttls)
        self.assertEqual(rc, 0)
        with open(out) as f:
            probe = f.read().split("\n")[0]
        # Descriptor 63 is smtpot-tls itself after STARTTLS, and cannot be replaced.
        self.assertEqual(probe, REFUSED % (-1 if starttls else 63))
        return self.events()

    def test_forced_calls_fail(self):
        self.check_refused(self.probed(starttls=False))

    def test_forced_calls_fail_after_starttls(self):
        """smtpot-tls runs on under the filter smtpot installed, one session to the end."""
        ev = self.probed(starttls=True)
        self.check_refused(ev)
        self.assertEqual(len({e["session"] for e in ev}), 1)
        self.assertEqual([e["seq"] for e in ev], list(range(1, len(ev) + 1)))
        self.assertIn("tls", [e["event"] for e in ev])

    def check_refused(self, ev):
        errors = [e for e in ev if e["event"] == "error"]
        self.assertTrue(errors, "no error event")
        self.assertEqual(errors[0]["level"], "ERROR")
        self.assertIn("sandbox refused system call", errors[0]["data"]["what"])
        self.assertEqual(ev[-1]["event"], "disconnect")
        self.assertEqual(ev[-1]["data"]["reason"], "sandbox")
        self.assertEqual(ev[-1]["data"]["sandbox"], "seccomp")
        self.assertEqual(sum(e["event"] == "disconnect" for e in ev), 1)

    def test_without_probe_sandbox_is_on(self):
        rc, replies = run_session(["--log-file=" + self.log, "--spool-dir=" + self.dir])
        self.assertEqual(rc, 0)
        self.assertTrue(replies.endswith(b"221 2.0.0 Bye\r\n"))
        self.assertEqual(self.events()[-1]["data"]["sandbox"], "seccomp")

    def gdb_calls(self, extra, calls):
        """smtpot itself (static: no LD_PRELOAD) after EHLO, made to run
        `calls` by gdb; returns gdb's values and the events."""
        a, b = socket.socketpair()
        p = subprocess.Popen([SMTPOT, "--log-file=" + self.log, "--spool-dir=" + self.dir] + extra,
                             stdin=b, stdout=b)
        b.close()
        try:
            a.settimeout(20)
            read_until(a, b"\r\n")
            a.sendall(b"EHLO client.example.com\r\n")
            read_until(a, b"250 SMTPUTF8\r\n")  # the filter is in force by now
            cmd = ["gdb", "-p", str(p.pid), "-batch", "-nx", "-ex", "handle SIGSYS nostop noprint pass"]
            for c in calls:
                cmd += ["-ex", "print (long)syscall(%s)" % c]
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=120).stdout
            values = [int(line.split("=", 1)[1]) for line in out.splitlines()
                      if line.startswith("$") and "=" in line]
            self.assertEqual(len(values), len(calls), out)
            a.shutdown(socket.SHUT_WR)
            while a.recv(4096):
                pass
            self.assertEqual(p.wait(timeout=20), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            a.close()
        return values, self.events()

    def tls_args(self):
        key, cert = os.path.join(self.dir, "key.pem"), os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mx.example.com", "-keyout", key, "-out", cert],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return ["--tls-cert=" + cert, "--tls-key=" + key, "--tls-module=" + SMTPOT_TLS]

    @unittest.skipUnless(shutil.which("gdb") and os.geteuid() == 0, "needs gdb and root")
    def test_exec_descriptor_is_pinned(self):
        """With STARTTLS offered, smtpot may execute descriptor 63 (its TLS
        module), so nothing may replace or close what is there."""
        dup2, close, close_range = (f"{n}" for n in (33, 3, 436))  # x86_64 numbers
        values, ev = self.gdb_calls(self.tls_args(), [dup2 + ", 0, 63", close + ", 63",
                                                      close_range + ", 60, 70, 0"])
        self.assertEqual(values, [-1, -1, -1])
        errors = [e["data"]["what"] for e in ev if e["event"] == "error"]
        self.assertIn(errors[0], ["sandbox refused system call " + n for n in (dup2, close, close_range)])
        self.assertEqual(ev[-1]["data"]["reason"], "sandbox")
        # Without STARTTLS no exec is allowed at all, and 63 is just a number.
        self.tearDown()
        self.setUp()
        values, ev = self.gdb_calls(["--tls=no"], [dup2 + ", 0, 63"])
        self.assertEqual(values, [63])
        self.assertEqual(ev[-1]["data"]["reason"], "eof")

    @unittest.skipUnless(shutil.which("strace"), "strace is not installed")
    def test_no_network_calls(self):
        trace = os.path.join(self.dir, "trace")
        rc, replies = run_session(["--log-file=" + self.log, "--spool-dir=" + self.dir],
                                  wrap=["strace", "-f", "-qq", "-e", "trace=%network", "-o", trace])
        self.assertEqual(rc, 0)
        self.assertIn(b"250 2.0.0 Ok: queued as", replies)
        with open(trace) as f:
            calls = [line.split(None, 1)[1] for line in f if line.strip()]
        names = sorted({c.split("(")[0] for c in calls})
        # The peer look-up on fd 0 and the replies written with send(2) on fd 1.
        self.assertEqual(names, ["getpeername", "getsockname", "sendto"], calls)
        for c in calls:
            fd = c.split("(")[1].split(",")[0]
            self.assertIn(fd, ("0", "1"), c)
            if c.startswith("sendto"):
                self.assertIn(", NULL, 0)", c, "a reply sent anywhere but the client: " + c)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    print("e2e_sandbox: %d passed, %d failed, %d skipped" % (result.testsRun - failed - skipped, failed, skipped))
    sys.exit(1 if failed else 0)
