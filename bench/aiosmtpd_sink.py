"""aiosmtpd_sink.py: aiosmtpd as a peer for the benchmark.

Serves SMTP on HOST PORT with aiosmtpd's Sink handler, which discards every
message.  It is `python3 -m aiosmtpd -n -c aiosmtpd.handlers.Sink` without the
command line's 32 MiB message cap, so the 50 MiB workload is accepted.
Stops on SIGTERM.
"""
import asyncio
import sys

from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), data_size_limit=None, hostname="aiosmtpd.example"),
        host, port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: aiosmtpd_sink.py HOST PORT")
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
