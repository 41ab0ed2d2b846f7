"""Running the monitor: :func:`serve_monitor` in the caller's thread until Ctrl-C (the CLI), or
:class:`MonitorServer` on a background thread (tests, a Python program).

Why aiohttp.web on asyncio's loop, by measurement (``bench/monitor_server.py``; docs/benchmarks.md, "Monitor:
added latency vs LiteLLM" / "Server framework"). The candidates ran the same minimal proxy hop, each pinned to
one core of a shared 2-core machine. The rule for a switch was at least 30% less CPU per request with no worse
p99, and no candidate met it:

- uvloop under the same app spent 5 to 20% less CPU per request in three of five runs and no less in the other
  two, with about the same p99. That is too little for a new dependency.
- Starlette on uvicorn (h11) spent more CPU than aiohttp and sustained the lowest rate.
- granian had the lowest tail in the full runs (about 4 to 5 ms added p99 at 200 requests/s, against about 8 ms),
  but no less CPU: a bare RSGI handler was 8% below to 12% above aiohttp in the full runs, and Starlette on
  granian cost 20 to 80% more. Switching would mean a new server and a rewritten app.

aiohttp is also the upstream client (``_proxy.py``), so the server and the client share one loop and one
dependency.

Invariant: the configuration, the baseline and the store are checked (and the store migrated) before any port
is bound, so a bad flag is one line and nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ClassVar

from .._util._app_server import BackgroundServer, run_app
from ._app import create_monitor_app
from ._baseline import load_baseline
from ._config import MonitorConfig
from ._runtime import Monitor
from ._store import open_monitor_store


def build_monitor(config: MonitorConfig) -> Monitor:
    """Check the configuration, read the baseline, open (and migrate) the store, restore the detectors."""
    config = config.checked()
    baseline = load_baseline(config.baseline)
    assert config.store is not None
    store = open_monitor_store(config.store)
    try:
        return Monitor(config, baseline, store)
    except BaseException:
        store.close()
        raise


def serve_monitor(config: MonitorConfig, *, host: str = "127.0.0.1", port: int = 8100,
                  on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the monitor at ``http://host:port/v1`` until interrupted (KeyboardInterrupt after a clean stop)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_app(create_monitor_app(build_monitor(config)), host, port, on_ready)


class MonitorServer(BackgroundServer):
    """The monitor on a background thread; use as a context manager.

        with MonitorServer(MonitorConfig(upstream=url, baseline=run_dir)) as monitor:
            client = openai.OpenAI(base_url=monitor.base_url, api_key="unused")
    """

    thread_name: ClassVar[str] = "twofaced-monitor"
    label: ClassVar[str] = "the monitor"
    stop_seconds: ClassVar[float] = 60.0

    def __init__(self, config: MonitorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.monitor = build_monitor(config)
        super().__init__(create_monitor_app(self.monitor), host, port)

    def run(self, coro_factory: Callable[[], object]) -> object:
        """Run ``coro_factory()`` on the server's loop and wait for its result (tests: ack, drain)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro_factory(), self._loop).result(60)  # type: ignore[arg-type]

    def drain(self, timeout: float = 30) -> None:
        """Wait until every queued exchange is scored."""
        queue = self.monitor.queue
        assert queue is not None

        async def joined() -> None:
            await asyncio.wait_for(queue.join(), timeout)

        self.run(joined)
