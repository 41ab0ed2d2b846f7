"""Which pooled async HTTP client the monitor should use for its upstream hop: CPU per request and latency of
each candidate installed in the venv, against the same loopback stub as ``monitor_latency.py``.

The hop is one ``POST /v1/chat/completions`` with the client's JSON body passed through as bytes, the reply
read whole, on a client made once and reused (keep-alive). Candidates: ``aiohttp.ClientSession`` (what the
monitor uses), ``httpx.AsyncClient`` and ``httpx2.AsyncClient`` where installed, each on asyncio's default loop
(what ``twofaced monitor serve`` runs) and, for aiohttp, on uvloop too. Per candidate: requests at a fixed
concurrency (``--concurrency``, 32) with this process's CPU per request (``time.process_time``) and the rate,
and one request at a time for latency p50 / p99. The stub runs in its own process on CPU 0 and this one on
CPU 1 (``--no-pin``: anywhere); rounds are interleaved and the median round is reported.

    .venv/bin/python bench/monitor_upstream_client.py            # ~1 minute
    .venv/bin/python bench/monitor_upstream_client.py --n 1000 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _latency import MESSAGES, start_stub  # noqa: E402
from _loopback import new_loop, quantile  # noqa: E402

BODY = json.dumps({"model": "stub", "messages": MESSAGES}).encode()
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-stub"}
Post = Callable[[], Awaitable[bytes]]


async def _aiohttp(url: str) -> tuple[Post, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=60))

    async def post() -> bytes:
        response = await session.request("POST", url, data=BODY, headers=HEADERS)
        try:
            return await response.read()
        finally:
            response.release()

    return post, session.close


def _httpx_like(module: str) -> Callable[[str], Awaitable[tuple[Post, Callable[[], Awaitable[None]]]]]:
    async def make(url: str) -> tuple[Post, Callable[[], Awaitable[None]]]:
        httpx = __import__(module)
        client = httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=httpx.Limits(max_connections=None,
                                                                                    max_keepalive_connections=256))

        async def post() -> bytes:
            response = await client.post(url, content=BODY, headers=HEADERS)
            return bytes(response.content)

        return post, client.aclose

    return make


CANDIDATES: dict[str, tuple[str, Callable[[str], Awaitable[tuple[Post, Callable[[], Awaitable[None]]]]], bool]] = {
    "aiohttp": ("aiohttp", _aiohttp, False),
    "aiohttp+uvloop": ("aiohttp", _aiohttp, True),
    "httpx": ("httpx", _httpx_like("httpx"), False),
    "httpx2": ("httpx2", _httpx_like("httpx2"), False),
}


async def _measure(make: Callable[[str], Awaitable[tuple[Post, Callable[[], Awaitable[None]]]]], url: str, n: int,
                   concurrency: int, serial: int) -> dict[str, float]:
    post, close = await make(url)
    try:
        await asyncio.gather(*(post() for _ in range(concurrency)))  # warm: open the connections
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await post()

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        latencies = []
        for _ in range(serial):
            start = time.perf_counter()
            await post()
            latencies.append(time.perf_counter() - start)
    finally:
        await close()
    return {"cpu_ms": 1000 * cpu / n, "rps": n / wall, "p50_ms": 1000 * quantile(latencies, 0.5),
            "p99_ms": 1000 * quantile(latencies, 0.99)}


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})
    names = [c for c in args.clients if importlib.util.find_spec(CANDIDATES[c][0]) is not None]
    for missing in sorted(set(args.clients) - set(names)):
        print(f"{missing}: not installed; skipped", file=sys.stderr)
    stub, port = start_stub(0 if pin else None)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    rounds: dict[str, list[dict[str, float]]] = {c: [] for c in names}
    try:
        for _ in range(args.rounds):
            for name in names:
                _, make, uv = CANDIDATES[name]
                loop = new_loop() if uv else asyncio.new_event_loop()
                try:
                    rounds[name].append(loop.run_until_complete(
                        _measure(make, url, args.n, args.concurrency, args.serial)))
                finally:
                    loop.close()
    finally:
        stub.terminate()
        stub.wait(10)
    result = {}
    for name, got in rounds.items():
        result[name] = {k: statistics.median(r[k] for r in got) for k in got[0]}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="requests per candidate and round (4000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serial", type=int, default=500, help="one-at-a-time requests for latency (500)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown (3)")
    parser.add_argument("--clients", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--no-pin", action="store_true", help="do not pin the stub to CPU 0 and this to CPU 1")
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    args = parser.parse_args(argv)
    result = run(args)
    print(f"| client | CPU ms/request | requests/s at concurrency {args.concurrency} | p50 ms (serial) | "
          "p99 ms (serial) |\n| --- | ---: | ---: | ---: | ---: |")
    for name, r in result.items():
        print(f"| {name} | {r['cpu_ms']:.3f} | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
