"""Running an aiohttp application on loopback or any address: in the caller's thread until Ctrl-C (a CLI command),
or on a background thread with its own event loop (tests, notebooks, a program that serves and calls itself).

One runner serves ``twofaced serve``, the monitor and the test stub, so they bind, report a busy port, stop and
clean up the same way:

- **A port that cannot be bound** is a :class:`ConfigError` naming it ("cannot listen on HOST:PORT: address
  already in use; choose another --port, or 0 for any free one"), with nothing left running: the app is cleaned
  up (its ``on_cleanup`` hooks run, so a model it owns is closed) and a background thread is joined.
- **Stopping waits at most** :data:`SHUTDOWN_SECONDS` for requests in flight, then closes their connections:
  aiohttp's default grace is 60 s, and a client that keeps idle connections open held a server past a 30 s wait.
- **Ctrl-C in the foreground** (:func:`run_app`) cancels the serving task through ``asyncio.run``, cleans up, then
  raises :class:`KeyboardInterrupt` for the caller to turn into exit status 130.

aiohttp is imported here, not in ``_util/__init__``, so the layers that never serve do not pay for it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import ClassVar, Self

from aiohttp import web

from ..errors import ConfigError

SHUTDOWN_SECONDS = 2.0  # how long a stopping server waits for in-flight requests before closing connections


def listen_error(host: str, port: int, exc: OSError, prefix: str = "") -> ConfigError:
    """The one-line error for a port that cannot be bound; ``prefix`` names the server ("stub server ")."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return ConfigError(f"{prefix}cannot listen on {host}:{port}: {reason}; choose another --port, or 0 for any "
                       "free one")


async def start_site(app: web.Application, host: str, port: int, prefix: str = "") -> tuple[web.AppRunner, int]:
    """Set up ``app`` and bind it; returns the runner (the caller owes ``await runner.cleanup()``) and the bound
    port (``port=0`` picks a free one). On failure the app is cleaned up and a busy port raises ConfigError."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise listen_error(host, port, exc, prefix) from exc
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def run_app(app: web.Application, host: str, port: int, on_ready: Callable[[str], None] | None = None,
            path: str = "/v1") -> None:
    """Serve ``app`` in the caller's thread until interrupted; ``on_ready`` gets ``http://host:port{path}`` once the
    port is bound. Ctrl-C raises KeyboardInterrupt after the app is cleaned up.

        run_app(create_app(model), "127.0.0.1", 8000, on_ready=print)
    """

    async def main() -> None:
        runner, bound = await start_site(app, host, port)
        try:
            if on_ready is not None:
                on_ready(f"http://{host}:{bound}{path}")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


class BackgroundServer:
    """An aiohttp app served on a thread of its own with its own event loop; use as a context manager.

        with ModelServer("mock/faker") as server:   # start(): listening when it returns
            httpx.get(server.base_url + "/models")
                                                    # stop(): SHUTDOWN_SECONDS for requests in flight, then cleanup

    A subclass passes its app and sets the class constants. It starts once; a port that cannot be bound raises
    ConfigError from :meth:`start` in the caller's thread and leaves no thread behind. :meth:`_serve` (the
    thread's body) and :meth:`_halt` (how :meth:`stop` ends it, on the server's loop) are the seam for a subclass
    that runs its own loop instead of ``asyncio.run``.
    """

    thread_name: ClassVar[str] = "twofaced-server"
    label: ClassVar[str] = "the server"  # for "... did not start within 30 s"
    listen_prefix: ClassVar[str] = ""  # before "cannot listen on HOST:PORT"
    start_seconds: ClassVar[float] = 30.0
    stop_seconds: ClassVar[float] = 30.0  # how long stop() waits for the thread

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.host = host
        self.port = port  # 0 until started: then the bound port
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    async def _main(self) -> None:
        runner, self.port = await start_site(self._app, self.host, self.port, self.listen_prefix)
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def _serve(self) -> None:
        """The thread's body: bind, set :attr:`port` and ``_loop``, set ``_ready``, serve until :meth:`_halt`."""
        asyncio.run(self._main())

    def _halt(self) -> None:
        """Called on the server's loop by :meth:`stop`."""
        assert self._stopping is not None
        self._stopping.set()

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # a failure to start is re-raised by start() in the caller's thread
            self._failed = exc
            if self._loop is not None and not self._loop.is_closed():
                self._loop.close()
        finally:
            self._ready.set()

    def start(self) -> Self:
        """Listen, then return; a port that cannot be bound raises ConfigError and leaves no thread behind."""
        if self._thread is not None:
            raise RuntimeError(f"a {type(self).__name__} starts once; make a new one")
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_seconds):
            raise RuntimeError(f"{self.label} did not start within {self.start_seconds:g} s")
        if self._failed is not None:
            self._thread.join(10)
            failed, self._failed = self._failed, None
            if isinstance(failed, OSError):  # a subclass's own loop bound the port: say it as start_site does
                raise listen_error(self.host, self.port, failed, self.listen_prefix) from failed
            raise failed
        return self

    def stop(self) -> None:
        """Stop serving (the app's cleanup hooks run) and wait up to :attr:`stop_seconds` for the thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._halt)
        if self._thread is not None:
            self._thread.join(self.stop_seconds)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
