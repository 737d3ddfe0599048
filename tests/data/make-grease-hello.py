"""Writes clienthello-grease.bin: a ClientHello with GREASE values, SNI, ALPN
and supported_versions, split over two TLS records (as large hellos are)."""
import struct
import sys


def ext(t, data):
    return struct.pack(">HH", t, len(data)) + data


sni = b"\x00" + struct.pack(">H", 15) + b"mx.example.com."
exts = b"".join([
    ext(0x1a1a, b""),
    ext(0, struct.pack(">H", len(sni)) + sni),
    ext(10, struct.pack(">H", 6) + struct.pack(">HHH", 0x2a2a, 29, 23)),
    ext(11, b"\x01\x00"),
    ext(13, struct.pack(">H", 6) + struct.pack(">HHH", 0x0403, 0x0804, 0x0401)),
    ext(16, struct.pack(">H", 12) + b"\x02h2\x08http/1.1"),
    ext(43, b"\x06" + struct.pack(">HHH", 0x3a3a, 0x0304, 0x0303)),
    ext(0xff01, b"\x00"),
])
ciphers = struct.pack(">HHHHH", 0x0a0a, 0x1301, 0x1302, 0xc02f, 0x009c)
body = (struct.pack(">H", 0x0303) + bytes(range(32)) + b"\x00" + struct.pack(">H", len(ciphers)) +
        ciphers + b"\x01\x00" + struct.pack(">H", len(exts)) + exts)
hs = b"\x01" + len(body).to_bytes(3, "big") + body
cut = 40
out = (b"\x16\x03\x01" + struct.pack(">H", cut) + hs[:cut] +
       b"\x16\x03\x01" + struct.pack(">H", len(hs) - cut) + hs[cut:])
open(sys.argv[1], "wb").write(out)
