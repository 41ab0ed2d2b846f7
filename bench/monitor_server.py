"""Which server framework the monitor's proxy hop should run on: CPU per request, added latency and the highest
sustained rate of each candidate installed in the venv, doing the same minimal work, in one run.

Every candidate serves ``POST /v1/chat/completions`` as the monitor's chat path does, minus scoring: read the
body, parse it as JSON, forward the raw bytes to the loopback stub (``_loopback.py``) over one pooled
``aiohttp.ClientSession`` (the monitor's client, chosen by ``monitor_upstream_client.py``), and return the
upstream's body; with ``"stream": true`` the upstream's SSE chunks are relayed as they arrive. Candidates:

- ``aiohttp``: aiohttp.web on asyncio's loop (what ``twofaced monitor serve`` runs);
- ``aiohttp+uvloop``: the same app on uvloop;
- ``starlette+uvicorn``: Starlette on uvicorn, uvloop, httptools where installed (else h11, said in the table);
- ``starlette+granian``: the same Starlette app on granian's ASGI interface (one worker, uvloop), if importable;
- ``granian-rsgi``: a bare handler on granian's own RSGI interface (no framework), if granian is importable.

Each candidate is its own process (``python bench/monitor_server.py --serve NAME``, or granian's CLI), all
started at once and pinned to CPU 1; the load generator (this process, uvloop) and the stub share CPU 0, as in
``monitor_latency.py``. The fixed points (plain and stream at ``--rate``, 200 requests/s, and plain at
``--busy-rate``, 600) are taken in ``--rounds`` interleaved rounds over the direct path and every candidate and
pooled, so a change in the machine's other load falls on all alike; **added** latency is the candidate's
quantile minus the direct path's at 200/s. CPU per request is the server process tree's user+system time
(psutil) over the answers. It is the fairer figure on a shared machine: the highest sustained rate also depends
on how much of CPU 1 the server wins from other jobs there, and a server with several busy threads (granian runs
a Rust runtime thread beside the Python one) can win a larger share than a one-thread event loop. Then each
candidate is ramped (x ``--ramp-factor``, 1.5, from 300; one step back between the last pass and the first
failure; ``--ramp-seconds`` points, 1.5 s) to the highest rate sustained under ``monitor_latency.py``'s rule:
no error, achieved >= 95% of offered, p99 <= ``--p99-bound``.

    .venv/bin/python bench/monitor_server.py            # ~3 minutes
    .venv/bin/python bench/monitor_server.py --quick    # under 1 minute
    .venv/bin/python bench/monitor_server.py --only aiohttp aiohttp+uvloop --rounds 6 --no-ramp
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _latency import (  # noqa: E402
    Points,
    Target,
    free_port,
    ms,
    pin_cores,
    pinned,
    ramp,
    start_stub,
    stop,
    sustained,
    wait_http,
)
from _loopback import Point, new_loop, quantile  # noqa: E402

UPSTREAM_ENV = "BENCH_MONITOR_SERVER_UPSTREAM"  # the stub's /v1 URL, for the granian workers
HTTPTOOLS = importlib.util.find_spec("httptools") is not None
GRANIAN = importlib.util.find_spec("granian") is not None

# --- the candidates' handlers (run in the server processes) ---------------------------------------------------
_session: Any = None


def _upstream() -> Any:
    """The one pooled client of this server process, made on first use on the loop that serves."""
    global _session
    if _session is None:
        import aiohttp

        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                         timeout=aiohttp.ClientTimeout(total=None, sock_read=60))
    return _session


async def _forward(raw: bytes) -> tuple[bool, Any]:
    """Parse the body (the monitor does), send it upstream; returns whether to relay a stream, and the response."""
    body = json.loads(raw)
    up = await _upstream().request("POST", os.environ[UPSTREAM_ENV] + "/chat/completions", data=raw,
                                   headers={"Content-Type": "application/json"})
    return body.get("stream") is True and up.status == 200 and up.content_type == "text/event-stream", up


def make_aiohttp() -> Any:
    from aiohttp import web

    async def chat(request: web.Request) -> web.StreamResponse:
        streamed, up = await _forward(await request.read())
        try:
            if streamed:
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                                       "Cache-Control": "no-cache"})
                await response.prepare(request)
                async for chunk in up.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
            data = await up.read()
        finally:
            up.release()
        return web.Response(status=up.status, body=data, content_type=up.content_type or "application/json")

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/ping", ping)
    return app


def make_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        streamed, up = await _forward(await request.body())
        if streamed:
            async def relay() -> AsyncIterator[bytes]:
                try:
                    async for chunk in up.content.iter_any():
                        yield chunk
                finally:
                    up.release()

            return StreamingResponse(relay(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            data = await up.read()
        finally:
            up.release()
        return Response(data, status_code=up.status, media_type=up.content_type or "application/json")

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/ping", ping)])


class RSGIApp:
    """The same hop on granian's RSGI interface, with no framework between."""

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.path != "/v1/chat/completions":
            protocol.response_bytes(200, [("content-type", "text/plain")], b"ok")
            return
        streamed, up = await _forward(await protocol())
        try:
            if streamed:
                transport = protocol.response_stream(200, [("content-type", "text/event-stream"),
                                                           ("cache-control", "no-cache")])
                async for chunk in up.content.iter_any():
                    await transport.send_bytes(chunk)
                return
            data = await up.read()
        finally:
            up.release()
        protocol.response_bytes(up.status, [("content-type", up.content_type or "application/json")], data)


def make_rsgi() -> RSGIApp:
    return RSGIApp()


def serve(name: str, port: int) -> None:
    """Serve candidate ``name`` (aiohttp and uvicorn ones; granian runs from its own CLI) until killed."""
    if name in ("aiohttp", "aiohttp+uvloop"):
        from aiohttp import web

        loop = new_loop() if name == "aiohttp+uvloop" else None
        web.run_app(make_aiohttp(), host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)
    elif name == "starlette+uvicorn":
        import uvicorn

        uvicorn.run(make_starlette(), host="127.0.0.1", port=port, loop="uvloop",
                    http="httptools" if HTTPTOOLS else "h11", access_log=False, log_level="warning",
                    lifespan="off")
    else:
        raise SystemExit(f"unknown --serve {name!r}")


# --- the harness ----------------------------------------------------------------------------------------------
def candidates() -> dict[str, str]:
    """Name -> how it is served (for the table)."""
    found = {"aiohttp": "aiohttp.web, asyncio loop", "aiohttp+uvloop": "aiohttp.web, uvloop",
             "starlette+uvicorn": f"Starlette on uvicorn, uvloop, {'httptools' if HTTPTOOLS else 'h11 (no httptools)'}"}
    if GRANIAN:
        found["starlette+granian"] = "Starlette on granian ASGI, 1 worker, uvloop"
        found["granian-rsgi"] = "bare RSGI handler on granian, 1 worker, uvloop"
    return found


def start(name: str, upstream: str, cpu: int | None, log: Path) -> Target:
    port = free_port()
    env = os.environ | {UPSTREAM_ENV: upstream}
    if name.startswith("starlette+granian") or name == "granian-rsgi":
        granian = str(Path(sys.executable).parent / "granian")
        interface, target = ("asgi", "make_starlette") if name == "starlette+granian" else ("rsgi", "make_rsgi")
        cmd = [granian, "--interface", interface, "--factory", "--working-dir", str(BENCH), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--no-ws",
               "--no-access-log", "--log-level", "warning", f"monitor_server:{target}"]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", name, "--port", str(port)]
    proc = subprocess.Popen(pinned(cmd, cpu), stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    wait_http(f"http://127.0.0.1:{port}/ping", proc, 60, name)
    return Target(name, port, proc)


@dataclass
class Result:
    """The pooled fixed points of one path and kind, and the CPU they cost."""

    name: str
    kind: str
    rate: float
    point: Point
    cpu_s: float = 0.0

    def add(self, point: Point, cpu_s: float) -> None:
        self.point.latency += point.latency
        self.point.ttfb += point.ttfb
        self.point.errors += point.errors
        self.point.sent += point.sent
        self.cpu_s += cpu_s

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(1, len(self.point.latency))


class Harness:
    def __init__(self, seconds: float, bound_ms: float, ramp_seconds: float, ramp_factor: float) -> None:
        self.seconds, self.bound_ms = seconds, bound_ms
        self.ramp_seconds, self.ramp_factor = ramp_seconds, ramp_factor
        self.points = Points()

    def point(self, target: Target, kind: str, rate: float, seconds: float | None = None) -> tuple[Point, float]:
        """One open-loop point; the point and the server's CPU seconds over it."""
        cpu0 = target.cpu()
        point = self.points.run(target, kind, rate, seconds or self.seconds)
        return point, target.cpu() - cpu0

    def ramp(self, target: Target, max_rate: float) -> tuple[float | None, float | None]:
        """The highest rate sustained (from 300, x ``ramp_factor``, then one step back) and the CPU ms/request
        there."""
        def step(rate: float) -> tuple[bool, float]:
            point, cpu = self.point(target, "plain", rate, self.ramp_seconds)
            print(f"  ramp {target.name} {rate:.0f}/s: achieved {point.achieved:.0f}, errors {point.errors}, "
                  f"p99 {1000 * quantile(point.latency, 0.99):.1f} ms", flush=True)
            return sustained(point, self.bound_ms), 1000 * cpu / max(1, len(point.latency))

        return ramp(step, 300.0, self.ramp_factor, max_rate) or (None, None)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    pin, gen_cpu, server_cpu = pin_cores(args.no_pin)
    names = candidates()
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise SystemExit(f"--only {' '.join(unknown)}: no such candidate here; choose from {', '.join(names)}")
        names = {k: v for k, v in names.items() if k in args.only}
    if not GRANIAN:
        print("granian: not importable in this venv; its rows are skipped", flush=True)
    print(f"load average at start: {_load()}", flush=True)
    logs = Path(args.logs) if args.logs else None
    procs: list[subprocess.Popen[bytes]] = []
    started = time.perf_counter()
    try:
        stub_proc, stub = start_stub(gen_cpu)
        procs.append(stub_proc)
        targets = [Target("direct", stub)]
        for name in names:
            log = (logs / f"{name}.log") if logs else Path(os.devnull)
            target = start(name, f"http://127.0.0.1:{stub}/v1", server_cpu, log)
            assert target.proc is not None
            procs.append(target.proc)
            targets.append(target)
        harness = Harness(args.seconds, args.p99_bound, args.ramp_seconds, args.ramp_factor)
        for target in targets:  # warm-up: connections, caches, the upstream pool
            harness.point(target, "plain", 100, seconds=args.warmup)
            harness.point(target, "stream", 50, seconds=args.warmup / 2)
        results: dict[tuple[str, str], Result] = {}
        for _ in range(args.rounds):
            for target in targets:
                for kind, rate in (("plain", args.rate), ("stream", args.rate), ("busy", args.busy_rate)):
                    if kind == "busy" and target.name == "direct":
                        continue
                    point, cpu = harness.point(target, "plain" if kind == "busy" else kind, rate)
                    key = (target.name, kind)
                    if key in results:
                        results[key].add(point, cpu)
                    else:
                        results[key] = Result(target.name, kind, rate, point, cpu)
        print(f"load average after the fixed points: {_load()}", flush=True)
        best = {} if args.no_ramp else {t.name: harness.ramp(t, args.max_rate) for t in targets[1:]}
        print(f"load average at the end: {_load()}; {time.perf_counter() - started:.0f} s\n", flush=True)
    finally:
        stop(procs)
    print(f"Fixed points: {args.rate:.0f} requests/s, {args.rounds} rounds x {args.seconds:g} s pooled; added = "
          "the candidate's quantile minus the direct path's; server pinned to "
          f"{'CPU 1' if pin else 'any CPU'}.\n")
    print(f"| server | how | plain CPU ms/req | plain p50 / p99 ms | plain added p50 / p99 ms | stream CPU ms/req | "
          f"stream added p50 / p99 ms | errors | plain CPU ms/req at {args.busy_rate:.0f}/s (p99 ms) | "
          "highest sustained rps | CPU ms/req there |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for target in targets:
        plain, stream = results[(target.name, "plain")], results[(target.name, "stream")]
        busy = results.get((target.name, "busy"))
        direct = {k: results[("direct", k)].point for k in ("plain", "stream")}
        added = {k: (quantile(r.point.latency, 0.5) - quantile(direct[k].latency, 0.5),
                     quantile(r.point.latency, 0.99) - quantile(direct[k].latency, 0.99))
                 for k, r in (("plain", plain), ("stream", stream))}
        rate, cpu_there = best.get(target.name, (None, None))
        is_direct = target.name == "direct"
        print(f"| {target.name} | {names.get(target.name, 'load generator to stub')} | "
              f"{'-' if is_direct else f'{plain.cpu_ms:.3f}'} | "
              f"{ms(quantile(plain.point.latency, 0.5))} / {ms(quantile(plain.point.latency, 0.99))} | "
              f"{'-' if is_direct else ' / '.join(ms(a) for a in added['plain'])} | "
              f"{'-' if is_direct else f'{stream.cpu_ms:.3f}'} | "
              f"{'-' if is_direct else ' / '.join(ms(a) for a in added['stream'])} | "
              f"{plain.point.errors + stream.point.errors} | "
              f"{'-' if busy is None else f'{busy.cpu_ms:.3f} ({ms(quantile(busy.point.latency, 0.99))})'} | "
              f"{'-' if is_direct or args.no_ramp else ('none' if rate is None else f'{rate:.0f}')} | "
              f"{'-' if cpu_there is None else f'{cpu_there:.3f}'} |")
        rows.append({"server": target.name, "plain_cpu_ms": None if is_direct else plain.cpu_ms,
                     "stream_cpu_ms": None if is_direct else stream.cpu_ms,
                     "plain_p50_ms": 1000 * quantile(plain.point.latency, 0.5),
                     "plain_p99_ms": 1000 * quantile(plain.point.latency, 0.99),
                     "added_ms": None if is_direct else {k: [1000 * a for a in v] for k, v in added.items()},
                     "errors": plain.point.errors + stream.point.errors, "sustained_rps": rate,
                     "busy_cpu_ms": None if busy is None else busy.cpu_ms,
                     "busy_p99_ms": None if busy is None else 1000 * quantile(busy.point.latency, 0.99),
                     "busy_errors": None if busy is None else busy.point.errors,
                     "cpu_ms_at_sustained": cpu_there})
    print(f"\nSustained: no error, >= 95% achieved, p99 <= {args.p99_bound:.0f} ms ({args.ramp_seconds:g} s points, "
          f"x{args.ramp_factor:g} steps from 300, one step back).")
    return {"pinned": pin, "rate": args.rate, "rounds": args.rounds, "seconds": args.seconds,
            "granian": GRANIAN, "httptools": HTTPTOOLS, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 round of 1 s fixed points, 1 s ramp points in x2 steps, a shorter warm-up")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each fixed point (3)")
    parser.add_argument("--ramp-seconds", type=float, default=1.5, help="length of each ramp point (1.5)")
    parser.add_argument("--ramp-factor", type=float, default=1.5, help="rate step of the ramp (1.5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up load per server (1)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the fixed points (2)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s of the fixed points (200)")
    parser.add_argument("--busy-rate", type=float, default=600.0,
                        help="requests/s of a plain fixed point for CPU per request under load (600)")
    parser.add_argument("--p99-bound", type=float, default=50.0, help="ms; a sustained rate keeps p99 under it")
    parser.add_argument("--max-rate", type=float, default=6000.0, help="the ramp stops here (6000)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="measure only these candidates")
    parser.add_argument("--no-ramp", action="store_true", help="only the fixed points")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the servers to CPU 1 and the rest to 0")
    parser.add_argument("--logs", help="a directory for the servers' output (default: discarded)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # internal: serve one candidate (see serve())
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    if args.quick:
        args.seconds, args.rounds, args.ramp_seconds, args.ramp_factor, args.warmup = 1.0, 1, 1.0, 2.0, 0.5
    result = run(args)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
