"""Independent JA3 / JA4 computation for recorded ClientHello records.

Written from the published descriptions of JA3 and JA4, without looking at
smtpot's C code, so the two can be checked against each other.
"""
import hashlib
import struct
import sys

GREASE = {0x0a0a + 0x1010 * i for i in range(16)}


def parse(records):
    hs = b""
    i = 0
    while i + 5 <= len(records) and records[i] == 22:
        n = struct.unpack(">H", records[i + 3:i + 5])[0]
        hs += records[i + 5:i + 5 + n]
        i += 5 + n
    assert hs[0] == 1, "not a ClientHello"
    body = hs[4:4 + int.from_bytes(hs[1:4], "big")]
    ver = struct.unpack(">H", body[0:2])[0]
    p = 34
    p += 1 + body[p]  # session id
    n = struct.unpack(">H", body[p:p + 2])[0]
    ciphers = [struct.unpack(">H", body[p + 2 + k:p + 4 + k])[0] for k in range(0, n, 2)]
    p += 2 + n
    p += 1 + body[p]  # compression
    ch = {"version": ver, "ciphers": ciphers, "exts": [], "groups": [], "formats": [],
          "sigalgs": [], "versions": [], "sni": False, "alpn": None}
    if p >= len(body):
        return ch
    end = p + 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 2
    while p + 4 <= end:
        t, n = struct.unpack(">HH", body[p:p + 4])
        d = body[p + 4:p + 4 + n]
        p += 4 + n
        ch["exts"].append(t)
        if t == 0:
            ch["sni"] = True
        elif t == 10:
            ch["groups"] = [struct.unpack(">H", d[2 + k:4 + k])[0] for k in range(0, struct.unpack(">H", d[:2])[0], 2)]
        elif t == 11:
            ch["formats"] = list(d[1:1 + d[0]])
        elif t == 13:
            ch["sigalgs"] = [struct.unpack(">H", d[2 + k:4 + k])[0] for k in range(0, struct.unpack(">H", d[:2])[0], 2)]
        elif t == 16:
            ch["alpn"] = d[3:3 + d[2]]
        elif t == 43:
            ch["versions"] = [struct.unpack(">H", d[1 + k:3 + k])[0] for k in range(0, d[0], 2)]
    return ch


def ja3(ch):
    f = lambda v: "-".join(str(x) for x in v if x not in GREASE)
    s = "%d,%s,%s,%s,%s" % (ch["version"], f(ch["ciphers"]), f(ch["exts"]), f(ch["groups"]),
                            "-".join(str(x) for x in ch["formats"]))
    return s, hashlib.md5(s.encode()).hexdigest()


def ja4(ch):
    vers = [v for v in ch["versions"] if v not in GREASE] or [ch["version"]]
    tv = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(max(vers), "00")
    ciphers = [c for c in ch["ciphers"] if c not in GREASE]
    exts = [e for e in ch["exts"] if e not in GREASE]
    alpn = "00"
    if ch["alpn"]:
        a = ch["alpn"]
        if chr(a[0]).isalnum() and chr(a[-1]).isalnum() and a[0] < 128 and a[-1] < 128:
            alpn = chr(a[0]) + chr(a[-1])
        else:
            alpn = a[:1].hex()[0] + a[-1:].hex()[-1]
    first = "t%s%s%02d%02d%s" % (tv, "d" if ch["sni"] else "i", min(len(ciphers), 99),
                                 min(len(exts), 99), alpn)
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"
    b = h(",".join("%04x" % c for c in sorted(ciphers)))
    rest = sorted(e for e in exts if e not in (0, 16))
    c_in = ",".join("%04x" % e for e in rest)
    if ch["sigalgs"] and rest:
        c_in += "_" + ",".join("%04x" % s for s in ch["sigalgs"])
    return "%s_%s_%s" % (first, b, h(c_in) if rest else "000000000000")


if __name__ == "__main__":
    ch = parse(open(sys.argv[1], "rb").read())
    s, m = ja3(ch)
    print(s)
    print(m)
    print(ja4(ch))
