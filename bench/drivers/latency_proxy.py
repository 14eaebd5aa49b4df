"""A TCP proxy that adds a fixed delay to every request (what a real bucket feels like).

Usage:
    latency_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS

For each client connection it opens one to the target and copies bytes both ways. A *request*
is the first bytes the client sends after the server last answered (or after connecting):
those bytes wait ``DELAY_MS`` before they are forwarded, the rest of the request body streams
through at once. So every HTTP request on a keep-alive connection pays one delay, a big
multipart upload pays one per part, and many connections in parallel each pay their own (the
proxy never serialises them). Prints ``READY <port>`` when listening, and on SIGUSR1 and SIGTERM a
line ``PROXY {json}`` with the number of requests and connections seen so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

STATS = {"connections": 0, "requests": 0, "bytes_up": 0, "bytes_down": 0}


async def handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    delay: float,
) -> None:
    STATS["connections"] += 1
    try:
        up_r, up_w = await asyncio.open_connection(host, port)
    except OSError:
        writer.close()
        return
    state = {"new_request": True}

    async def client_to_server() -> None:
        try:
            while data := await reader.read(1 << 16):
                if state["new_request"]:
                    state["new_request"] = False
                    STATS["requests"] += 1
                    await asyncio.sleep(delay)
                STATS["bytes_up"] += len(data)
                up_w.write(data)
                await up_w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if up_w.can_write_eof():
                with contextlib.suppress(OSError):
                    up_w.write_eof()

    async def server_to_client() -> None:
        try:
            while data := await up_r.read(1 << 16):
                state["new_request"] = True
                STATS["bytes_down"] += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    await asyncio.gather(client_to_server(), server_to_client())
    up_w.close()


async def serve(listen: int, host: str, port: int, delay_ms: float) -> None:
    delay = delay_ms / 1000
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, port, delay), "127.0.0.1", listen, backlog=1024
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: print("PROXY " + json.dumps(STATS), flush=True))
    print(f"READY {listen}", flush=True)
    async with server:
        await stop.wait()
    print("PROXY " + json.dumps(STATS), flush=True)


def main(argv: list[str]) -> None:
    listen, host, port, delay_ms = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    asyncio.run(serve(listen, host, port, delay_ms))


if __name__ == "__main__":
    main(sys.argv[1:])
