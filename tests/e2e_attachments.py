"""Attachments of the real spam corpus, checked against Python's email module.

Every message in $SHARED/corpus/spam (default ../shared) goes through
smtpot; the attachments it reports (file name, decoded size, SHA-256 of
the decoded bytes) must be exactly those Python's own MIME parser finds.
"""
import email
import glob
import hashlib
import json
import os
import subprocess
import sys
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SHARED", os.path.join(os.path.dirname(TOP), "shared"))
CORPUS = sorted(glob.glob(os.path.join(SHARED, "corpus", "spam", "*.eml")))
SMTPOT = os.environ.get("SMTPOT", os.path.join(TOP, "smtpot"))


def expected(raw):
    """What an independent MIME parser calls attachments in raw."""
    out = []
    for part in email.message_from_bytes(raw).walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        ctype = part.get_content_type()
        disposition = part.get("Content-Disposition", "").lower()
        if name or disposition.startswith("attachment") or not (
                ctype.startswith("text/") or ctype == "message/rfc822"):
            data = part.get_payload(decode=True) or b""
            out.append((name or "", len(data), hashlib.sha256(data).hexdigest()))
    return out


def reported(raw):
    """What smtpot reports for raw sent as one message on a pipe."""
    body = raw.replace(b"\r\n.", b"\r\n..")
    if body.startswith(b"."):
        body = b"." + body
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    session = (b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"DATA\r\n" + body + b".\r\nQUIT\r\n")
    r = subprocess.run([SMTPOT, "--spool-dir="], input=session,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.returncode
    events = [json.loads(line) for line in r.stderr.decode("utf-8").splitlines()]
    msg = [e for e in events if e["event"] == "message"]
    assert len(msg) == 1, events
    return [(a.get("filename", ""), a["size"], a["sha256"]) for a in msg[0]["data"]["attachments"]]


class Corpus(unittest.TestCase):
    def test_every_message(self):
        if not CORPUS:
            self.skipTest("no corpus under %s (set SHARED)" % SHARED)
        with_attachments = 0
        for path in CORPUS:
            with self.subTest(message=os.path.basename(path)):
                with open(path, "rb") as f:
                    raw = f.read()
                want = expected(raw)
                self.assertEqual(reported(raw), want)
                with_attachments += bool(want)
        # The corpus has attachments (PDFs, images): the test must not pass on empty lists.
        self.assertGreater(with_attachments, 5)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    skipped = len(result.skipped)
    print("e2e_attachments: %d passed, %d failed, %d skipped"
          % (result.testsRun - failed - skipped, failed, skipped))
    sys.exit(1 if failed else 0)
