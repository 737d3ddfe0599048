"""The self-sandbox of smtpot, proved from outside.

1. A forced socket()/connect() after setup (an LD_PRELOAD probe standing in
   for injected code) fails with EPERM, is logged as an ERROR event, and
   ends the session cleanly (exit 0, disconnect reason "sandbox").
2. strace over a whole session shows no network system call besides the
   peer look-up on fd 0 and the replies sent on fd 1 (and the journal
   socket when the journal sink is on).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMTPOT = os.path.join(TOP, "smtpot")
PROBE = os.path.join(TOP, "tests", "sandbox_probe.so")
SESSION = (b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
           b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n")


def run_session(args, env=None, wrap=()):
    """Runs smtpot on one end of a socketpair; returns (exit status, replies)."""
    a, b = socket.socketpair()
    p = subprocess.Popen(list(wrap) + [SMTPOT] + args, stdin=b, stdout=b, env=env)
    b.close()
    a.settimeout(20)
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

    def test_forced_socket_and_connect_fail(self):
        out = os.path.join(self.dir, "probe.txt")
        env = dict(os.environ, LD_PRELOAD=PROBE, SMTPOT_PROBE_OUT=out)
        rc, replies = run_session(["--log-file=" + self.log, "--spool-dir=" + self.dir], env=env)
        self.assertEqual(rc, 0)
        with open(out) as f:
            probe = f.read().split("\n")[0]
        self.assertEqual(probe, "socket=-1 errno=1 connect=-1 errno=1")
        ev = self.events()
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
