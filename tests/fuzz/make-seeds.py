#!/usr/bin/env python3
"""make-seeds.py [OUTDIR] - writes the seed corpus of the fuzz harnesses.

One folder per harness (line, address, data, message, session, tlsfp) under OUTDIR
(default build-fuzz/seeds), each file one input in that harness's layout:
header bytes, payload, then the table of piece sizes at the tail (see the
comment at the top of each tests/fuzz/fuzz_*.c). The sessions are the
hostile cases C1-C12 of the project's case list and a few ordinary ones;
the rest is cut from them. Generated at build time so that no binary seed
is committed. Python 3 standard library only.
"""
import os
import sys

CRLF = b"\r\n"

# --- the cases C1-C12, as the client's writes ---------------------------

CASES = {
    "c01-smuggled-eod": [
        b"EHLO client.example.com\r\n",
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
        b"Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<boss@example.org>\r\n"
        b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n",
        b"QUIT\r\n",
    ],
    "c02-bare-lf": [
        b"HELO client.example.com\n",
        b"MAIL FROM:<a@example.com>\n",
        b"RCPT TO:<b@example.com>\n",
        b"DATA\n",
        b"Subject: lf\n\nbody\n.\nQUIT\n",
    ],
    "c03-pipelining": [
        b"EHLO client.example.com\r\n",
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n"
        b"DATA\r\nSubject: t\r\n\r\nhello\r\n.\r\nQUIT\r\n",
    ],
    "c04-split-utf8": [
        b"HELO client.exa",
        b"mple.com\r",
        b"\nMAIL FROM:<caf\xc3",
        b"\xa9@example.com>\r\nQUIT\r\n",
    ],
    "c05-not-utf8": [
        b"X\x80X\r\n",
        b"EHLO client.example.com\xff\r\n",
        b"QUIT\r\n",
    ],
    "c06-nul": [
        b"HELO client.exa\x00mple.com\r\n",
        b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
        b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n",
        b"QUIT\r\n",
    ],
    # The real case sends 100,000 bytes; 3,000 already pass every line limit.
    "c07-long-ehlo": [
        b"EHLO " + b"a" * 3000 + CRLF,
        b"QUIT\r\n",
    ],
    "c08-trickle": [
        b"HELO client.example.com\r\n",
    ] + [b"x"] * 8,
    "c09-eof-in-data": [
        b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n",
        b"Subject: partial\r\n\r\nhalf a messa",
    ],
    "c10-helo-no-name": [
        b"HELO\r\n",
        b"EHLO \r\n",
        b"HELO client.example.com\r\n",
        b"QUIT\r\n",
    ],
    "c11-null-sender": [
        b"EHLO client.example.com\r\n",
        b"MAIL FROM:<>\r\n",
        b"RCPT TO:<postmaster@example.com>\r\n",
        b"DATA\r\n",
        b"Subject: bounce\r\n\r\nbounce\r\n.\r\n",
        b"QUIT\r\n",
    ],
    "c12-mail-params": [
        b"EHLO client.example.com\r\n",
        b"MAIL FROM:<a@example.com> SIZE=1024 BODY=8bitmime\r\n",
        b"RSET\r\n",
        b"MAIL FROM:<a@example.com> SIZE=99999999999999999999\r\n",
        b"MAIL FROM:<a@example.com> SIZE=abc\r\n",
        b"MAIL FROM:<a@example.com> X-UNKNOWN=1\r\n",
        b"QUIT\r\n",
    ],
}

HEADERS = (
    b"Received: from mail.example.net (mail.example.net [198.51.100.7])\r\n"
    b"\tby mx.example.com with ESMTP id 4F2A1\r\n"
    b"\tfor <victim@example.com>; Mon, 5 Jan 2026 10:15:30 +0000\r\n"
    b"Received: from [10.0.0.5] by mail.example.net; Mon, 5 Jan 2026 10:15:29 +0000\r\n"
    b"From: =?utf-8?B?UGF5UGFsIFNlY3VyaXR5?= <service@paypa1.example>\r\n"
    b"To: victim@example.com\r\n"
    b"Cc: other@example.com\r\n"
    b"Reply-To: =?iso-8859-1?Q?M=FCller?= <m@example.org>\r\n"
    b"Subject: =?UTF-8?B?w4l0YXQgZGUgdm90cmUgY29tcHRl?=\r\n"
    b" =?UTF-8?Q?_urgent_=E2=9C=94?=\r\n"
    b"Date: Mon, 5 Jan 2026 10:15:30 +0000\r\n"
    b"Message-ID: <20260105101530.4F2A1@mail.example.net>\r\n"
    b"X-Mailer: Microsoft Outlook Express 6.00.2600.0000\r\n"
    b"User-Agent: Mozilla/5.0\r\n"
    b"Return-Path: <bounce@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n"
)

BODY = (
    b"--XyZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Dear customer,\r\n..this line starts with a stuffed dot\r\n"
    b"Visit http://example.com/login?id=1 now.\r\n"
    b"--XyZ\r\n"
    b"Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    b"--XyZ--\r\n"
)

MESSAGE = HEADERS + CRLF + BODY

TYPICAL = {
    "t01-swaks": [
        b"EHLO client.example.com\r\n",
        b"MAIL FROM:<sender@example.net>\r\n",
        b"RCPT TO:<victim@example.com>\r\n",
        b"DATA\r\n",
        MESSAGE + b".\r\n",
        b"QUIT\r\n",
    ],
    "t02-two-messages": [
        b"EHLO client.example.com\r\nMAIL FROM:<a@example.com> BODY=8BITMIME SIZE=300\r\n"
        b"RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n",
        b"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n",
        b"MAIL FROM:<a@example.com> SMTPUTF8\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
        b"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n",
        b"RSET\r\nNOOP\r\nQUIT\r\n",
    ],
    "t03-every-verb": [
        b"help\r\nnoop\r\nMAIL FROM:<a@b>\r\nEHLO x\r\nvrfy root\r\nVRFY\r\nexpn staff\r\nEXPN\r\n"
        b"RCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:a@b\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<c@d>\r\n"
        b"RCPT TO:<>\r\nRCPT TO:<x@y> NOTIFY=NEVER\r\nRCPT TO: <@relay.example:x@y>\r\n"
        b"RCPT TO:<\"a b\"@y>\r\nDATA extra\r\nRSET x\r\nRSET\r\nAUTH LOGIN\r\nSTARTTLS\r\n"
        b"  NOOP\r\n\r\nQUIT now\r\n",
    ],
    "t04-smuggling": [
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        b"a\n.\nb\r.\r\nc\r\n.\nd\n.\r\ne\r.\rf\r\n.\rg\n.\rh\r\n.x\r\n",
        b"\r\n.\r\n",
        b"QUIT\r\n",
    ],
    "t05-data-bare-lf-then-crlf": [
        b"HELO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n",
        b".\r\nbody\r\n.\r\nQUIT\r\n",
    ],
    "t06-eof-dot-held": [
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody\r\n.\r",
    ],
    "t07-long-lines": [
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        b"Subject: " + b"s" * 1100 + b"\r\n\r\n" + b"b" * 1200 + b"\r\n.\r\n",
        b"NOOP " + b"n" * 600 + b"\r\nQUIT\r\n",
    ],
    "t09-auth": [
        b"EHLO client.example.com\r\n",
        b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
        b"AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n",
        b"AUTH LOGIN YWxpY2U=\r\n=\r\n",
        b"AUTH CRAM-MD5\r\nYWxpY2UgMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\r\n",
        b"AUTH LOGIN\r\n*\r\nAUTH PLAIN\r\n!!!\r\nAUTH PLAIN bm9udWw=\r\nAUTH CRAM-MD5 eA==\r\n"
        b"AUTH XOAUTH2 dXNlcj0=\r\nAUTH\r\n",
        b"MAIL FROM:<a@b> AUTH=<>\r\nRCPT TO:<c@d>\r\nRSET\r\nAUTH PLAIN AHUAcA==\r\nQUIT\r\n",
    ],
    "t10-starttls": [
        b"EHLO client.example.com\r\n",
        b"STARTTLS\r\nMAIL FROM:<injected@example.com>\r\n",
        b"STARTTLS now\r\nQUIT\r\n",
    ],
    "t08-errors": [
        b"FOO\r\nBAR\r\nBAZ\r\nQUX\r\nDATA\r\nRCPT TO:<a@b>\r\nMAIL\r\nMAIL FROM:\r\n"
        b"MAIL FROM:<a b>\r\nHELO x\r\nMAIL FROM:<a@b> SIZE=\r\nMAIL FROM:<a@b> =x\r\nQUIT\r\n",
    ],
}

# Settings bytes of the session harness (see fuzz_session.c).
H0_DEFAULT = 0x03 | 7 << 2          # line 2048, message 10240000, EOF, spool off
H1_DEFAULT = 0x03 | 7 << 2 | 5 << 5  # 100 recipients, 1000 commands, 20 errors
H2_DEFAULT = 0x03 | 3 << 2          # idle 300 s, session 1800 s, plain writes
H4_DEFAULT = 3 << 5                  # AUTH fail, offered unless port 587, 10 tries
H5_DEFAULT = 0                       # STARTTLS mode without a certificate

DELAYS = [0, 0, 0, 0, 1, 10, 100, 200, 500, 1000, 2000, 3000, 4000, 6000, 20000, 400000]


def delay_class(ms):
    return min(range(16), key=lambda i: abs(DELAYS[i] - ms))


def session_seed(chunks, h0=H0_DEFAULT, h1=H1_DEFAULT, h2=H2_DEFAULT, h3=0, h4=H4_DEFAULT,
                 h5=H5_DEFAULT, delay=200, entries=None):
    payload = b"".join(chunks)
    if entries is None:
        entries = [(len(c), 0 if i == 0 else delay) for i, c in enumerate(chunks)]
    if len(entries) > 255:
        entries = entries[:255]
    table = b""
    for size, ms in entries:
        size = size if size < 4096 else 0
        table += bytes([size & 0xFF, (size >> 8) | delay_class(ms) << 4])
    return bytes([h0, h1, h2, h3, h4, h5, len(entries)]) + payload + table


def pieces(payload, sizes, hdr):
    """Header bytes (the last is the table length), payload, 1-byte table."""
    sizes = sizes[:255]
    return bytes(hdr + [len(sizes)]) + payload + bytes(sizes)


def write(outdir, harness, name, data):
    d = os.path.join(outdir, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/seeds"
    sessions = dict(CASES)
    sessions.update(TYPICAL)

    # session: every case and typical session, with its own splits.
    for name, chunks in sessions.items():
        write(outdir, "session", name, session_seed(chunks))
    # C8 as specified: idle 5 s, session 15 s, a byte every 3 s.
    c8 = CASES["c08-trickle"]
    write(outdir, "session", "c08-trickle",
          session_seed(c8, h2=0x01 | 1 << 2, entries=[(len(c8[0]), 0)] + [(1, 3000)] * 8))
    # The same sessions under tight limits, a spool, odd ends and writes.
    write(outdir, "session", "t01-swaks-spool", session_seed(TYPICAL["t01-swaks"], h0=H0_DEFAULT | 0x80))
    write(outdir, "session", "t02-spool-small-cap",
          session_seed(TYPICAL["t02-two-messages"], h0=0x80 | 0x00 | 3 << 2))
    write(outdir, "session", "t03-limits",
          session_seed(TYPICAL["t03-every-verb"], h1=0x00 | 4 << 2 | 2 << 5))
    write(outdir, "session", "t08-max-errors",
          session_seed(TYPICAL["t08-errors"], h1=0x03 | 7 << 2 | 2 << 5))
    write(outdir, "session", "c09-reset", session_seed(CASES["c09-eof-in-data"], h0=H0_DEFAULT | 1 << 5))
    write(outdir, "session", "c09-stall", session_seed(CASES["c09-eof-in-data"], h0=H0_DEFAULT | 3 << 5,
                                                       h2=0x01 | 1 << 2))
    write(outdir, "session", "c03-partial-writes",
          session_seed(CASES["c03-pipelining"], h2=H2_DEFAULT | 1 << 4))
    write(outdir, "session", "c03-write-fails",
          session_seed(CASES["c03-pipelining"], h2=H2_DEFAULT | 2 << 4, h3=12))
    write(outdir, "session", "c01-signal",
          session_seed(CASES["c01-smuggled-eod"], h2=H2_DEFAULT | 1 << 6, h3=3))
    write(outdir, "session", "t09-auth-accept-after",
          session_seed(TYPICAL["t09-auth"], h4=2 | 1 << 2 | 3 << 5))
    write(outdir, "session", "t09-auth-accept-587",
          session_seed(TYPICAL["t09-auth"], h4=1 | 0x10 | 3 << 5))
    write(outdir, "session", "t09-auth-tries",
          session_seed(TYPICAL["t09-auth"], h4=3 | 1 << 2 | 1 << 5))
    write(outdir, "session", "t10-starttls-no-module", session_seed(TYPICAL["t10-starttls"], h5=1))
    write(outdir, "session", "t10-implicit-no-module", session_seed(TYPICAL["t10-starttls"], h5=2))
    write(outdir, "session", "t04-byte-by-byte",
          session_seed(TYPICAL["t04-smuggling"], entries=[(1, 0)]))

    # line: the client side of the sessions, split in several ways.
    for name, chunks in sessions.items():
        payload = b"".join(chunks)
        write(outdir, "line", name, pieces(payload, [min(len(c), 63) for c in chunks], [0x07, 0]))
        write(outdir, "line", name + "-small", pieces(payload, [1, 2, 3, 5, 8], [0x04 | 0x60, 0]))
    write(outdir, "line", "cr-split", pieces(b"ab\r\r\ncd\r\n\r\n\rx\n", [3, 1, 1, 2], [0x03, 0]))
    write(outdir, "line", "eio", pieces(b"HELO x\r\npartial\r", [4], [0x06 | 2 << 3, 0]))
    write(outdir, "line", "stall", pieces(b"HELO x\r\npartial", [0x45], [0x06 | 3 << 3 | 1 << 5, 0]))
    write(outdir, "line", "flush-fails", pieces(b"A\r\nB\r\nC\r\n", [1], [0x06, 4]))

    # address: what follows MAIL FROM: and RCPT TO: in every session, and more.
    addrs = [
        b"<a@example.com>", b" <a@example.com>", b"a@example.com", b"<>", b"<> SIZE=0",
        b"<a@example.com> SIZE=1024 BODY=8bitmime", b"<a@example.com> SIZE=99999999999999999999",
        b"<a@example.com> SIZE=abc", b"<a@example.com> X-UNKNOWN=1", b"<@r1,@r2:a@b>",
        b"<\"a b\\\"c\"@example.com>", b"<caf\xc3\xa9@example.com> SMTPUTF8", b"<a@b>x",
        b"<a@b", b"<a b@c>", b"<a@b> =x", b"\t<a@b>\tNOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b",
        b"<a@b> " + b" ".join(b"P%d=%d" % (i, i) for i in range(20)), b"<@relay>", b"",
        b"1048576", b"0000000000000000000000001", b"18446744073709551616",
    ]
    for i, a in enumerate(addrs):
        write(outdir, "address", "a%02d" % i, a)

    # data: the message parts of the sessions (after the DATA line).
    bodies = {
        "c01": b"Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<boss@example.org>\r\n"
               b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\n",
        "c06": b"Subject: nul\r\n\r\nbefore\x00after\r\n.\r\n",
        "c09": b"Subject: partial\r\n\r\nhalf a messa",
        "t01": MESSAGE + b".\r\n",
        "t04": b"a\n.\nb\r.\r\nc\r\n.\nd\n.\r\ne\r.\rf\r\n.\rg\n.\rh\r\n.x\r\n.\r\n",
        "eof-dot": b"body\r\n.",
        "eof-dot-cr": b"body\r\n.\r",
        "first-line-dot": b".\r\n",
        "stuffed": b"..\r\n...\r\n.\r\r\n.\r\n",
        "long": b"x" * 1000 + b"\r\n" + b"y" * 999 + b"\n.\r\n",
    }
    for name, body in bodies.items():
        write(outdir, "data", name, pieces(body, [], [0x0d, 0, 0]))
        write(outdir, "data", name + "-split", pieces(body, [1, 2, 3, 7], [0x04, 0, 0]))
    write(outdir, "data", "c02-bare-lf", pieces(b"Subject: lf\n\nbody\n.\nQUIT\n", [5], [0x0d | 0x10, 0, 0]))
    write(outdir, "data", "repeat", pieces(b"line.\r\n.\n\r.x\x00", [13, 1], [0x08 | 6 << 5, 0, 0]))
    # A 1,000-byte line made of 20 copies of 50 bytes, then the end of data.
    write(outdir, "data", "repeat-long-line", pieces(b"y" * 50 + b"\r\n.\r\n", [], [0x0d | 6 << 5, 50, 0]))

    # message: header blocks.
    heads = {
        "t01": HEADERS + CRLF + BODY,
        "bare-lf": HEADERS.replace(CRLF, b"\n") + b"\nbody\n",
        "no-blank": HEADERS,
        "words": b"Subject: =?utf-8?q?a_b?= =?utf-8?b?w6k=?= x =?x-unknown?B?/w==?=\r\n"
                 b"From: =?utf-8*en?Q?=C3=A9?= =?windows-1252?Q?=80?=\r\n"
                 b"To: =?utf-8?B?bad*?= =?utf-8?Q?=ZZ?= =??B??= =?a?\x00?x?=\r\n\r\n",
        "not-headers": b"no colon here\r\n folded\r\nSubject:\r\n\r\n",
        "received-many": b"".join(b"Received: hop %d\r\n" % i for i in range(20)) + CRLF,
        "start-blank": b"\r\nSubject: never\r\n",
        "mime-nested": b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n"
                       b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
                       b"--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n--inner\r\n"
                       b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                       b"<p>caf=C3=A9 soft=\r\nbreak</p>\r\n--inner--\r\n"
                       b"--outer\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
                       b"Content-Disposition: attachment;\r\n filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
                       b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\nJSVFT0YK\r\n"
                       b"--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nx\r\n"
                       b"--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                       b"iVBORw0KGgo=\r\n--outer--\r\nepilogue\r\n",
        "mime-qp-attachment": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                              b"Content-Disposition: attachment; filename=\"x.txt\"\r\n"
                              b"Content-Transfer-Encoding: Quoted-Printable\r\n\r\na=3Db=\r\nc=ZZ\r\n--b--\r\n",
    }
    for name, h in heads.items():
        write(outdir, "message", name, pieces(h, [], [0x06, 0, 0]))
        write(outdir, "message", name + "-split", pieces(h, [1, 5, 17], [0x07, 0, 0]))
    # 62-byte header lines repeated past the 64 KiB block, then the empty line.
    filler = b"X-Filler: " + b"f" * 50 + b"\r\n"
    write(outdir, "message", "fill-block", pieces(filler + b"\r\nbody\r\n", [0x85, 3], [0x06 | 6 << 3, len(filler), 0]))
    write(outdir, "message", "fill-block-one-piece", pieces(filler + b"\r\nbody\r\n", [], [0x06 | 6 << 3, len(filler), 0]))
    # One base64 line longer than the MIME line buffer (8 KiB), in an attachment.
    head = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    write(outdir, "message", "mime-long-base64-line",
          pieces(head + b"QUJD" * 16 + b"\r\n--b--\r\n", [0x85, 0x10], [0x06 | 6 << 3, 64, len(head)]))
    write(outdir, "message", "fill-block-no-blank", pieces(filler, [], [0x06 | 6 << 3, 0, 0]))

    # tlsfp: the recorded ClientHellos of the unit tests, and pieces of them.
    data_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    for name in sorted(os.listdir(data_dir)) if os.path.isdir(data_dir) else []:
        if name.startswith("clienthello") and name.endswith(".bin"):
            with open(os.path.join(data_dir, name), "rb") as f:
                hello = f.read()
            base = name[:-4]
            write(outdir, "tlsfp", base, b"\x07" + hello)
            write(outdir, "tlsfp", base + "-small-ja3", b"\x02" + hello)
            # The same handshake cut into two records.
            body = hello[5:]
            two = (hello[:3] + len(body[:40]).to_bytes(2, "big") + body[:40] +
                   hello[:3] + len(body[40:]).to_bytes(2, "big") + body[40:])
            write(outdir, "tlsfp", base + "-two-records", b"\x07" + two)


if __name__ == "__main__":
    main()
