"""Running the monitor: :func:`serve_monitor` in the caller's thread until Ctrl-C (the CLI), or
:class:`MonitorServer` on a background thread (tests, a Python program).

Invariant: the configuration, the baseline and the store are checked (and the store migrated) before any port
is bound, so a bad flag is one line and nothing is left running.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from ..serve._server import _start
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
    app = create_monitor_app(build_monitor(config))

    async def main() -> None:
        runner, bound = await _start(app, host, port)
        try:
            if on_ready is not None:
                on_ready(f"http://{host}:{bound}/v1")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


class MonitorServer:
    """The monitor on a background thread; use as a context manager.

        with MonitorServer(MonitorConfig(upstream=url, baseline=run_dir)) as monitor:
            client = openai.OpenAI(base_url=monitor.base_url, api_key="unused")
    """

    def __init__(self, config: MonitorConfig, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.monitor = build_monitor(config)
        self.host = host
        self.port = port
        self._app = create_monitor_app(self.monitor)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _main(self) -> None:
        runner, self.port = await _start(self._app, self.host, self.port)
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._failed = exc
        finally:
            self._ready.set()

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

    def start(self) -> MonitorServer:
        if self._thread is not None:
            raise RuntimeError("a MonitorServer starts once; make a new one")
        self._thread = threading.Thread(target=self._run, name="twofaced-monitor", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the monitor did not start within 30 s")
        if self._failed is not None:
            self._thread.join(10)
            raise self._failed
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)

    def __enter__(self) -> MonitorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
