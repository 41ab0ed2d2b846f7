"""Running the application: :func:`serve` in the caller's thread until Ctrl-C (the CLI), or :class:`ModelServer`
on a background thread with its own event loop (tests, notebooks, a Python program that serves and evaluates).

Invariant: the model is built (and a bad spec refused) before any port is bound, and a port that cannot be bound
raises :class:`ConfigError` naming it, with nothing left running; the model is closed whenever the server stops.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..errors import ConfigError
from ..models import Model, canonical_spec, get_model
from ._app import DEFAULT_MAX_BODY, create_app

SHUTDOWN_SECONDS = 2.0  # how long a stopping server waits for in-flight requests before closing connections


def _listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return ConfigError(f"cannot listen on {host}:{port}: {reason}; choose another --port, or 0 for any free one")


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Set up and bind; on failure clean up (closing the model) and raise ConfigError. Returns the bound port."""
    # Ctrl-C must not wait for clients that keep idle connections open: aiohttp's default grace is 60 s
    # (measured: an unclosed openai client held `twofaced serve` past a 30 s wait under load).
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise _listen_error(host, port, exc) from exc
    except BaseException:
        await runner.cleanup()
        raise
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _model(spec: str | Model, options: dict[str, Any]) -> tuple[Model, str]:
    if isinstance(spec, str):
        return get_model(spec, **options), spec
    return spec, spec.spec


def serve(spec: str | Model, *, host: str = "127.0.0.1", port: int = 8000, max_body: int = DEFAULT_MAX_BODY,
          on_ready: Callable[[str], None] | None = None, **model_options: Any) -> None:
    """Serve ``spec`` (a model spec, or a built :class:`Model`) at ``http://host:port/v1`` until interrupted.

    ``model_options`` (e.g. ``base_url``) are the defaults :func:`get_model` gives the backend. ``on_ready`` is
    called with the base URL once the port is bound. Ctrl-C raises :class:`KeyboardInterrupt` after the server
    and the model are closed; the CLI (``twofaced serve``) turns it into exit status 130.

        serve("mock/faker", port=8000, on_ready=print)
    """
    model, name = _model(spec, model_options)
    app = create_app(model, max_body=max_body, spec=name)

    async def main() -> None:
        runner, bound = await _start(app, host, port)
        try:
            if on_ready is not None:
                on_ready(f"http://{host}:{bound}/v1")
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(main())


class ModelServer:
    """A served model on a background thread; use as a context manager.

        with ModelServer("mock/faker") as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="unused")

    ``port=0`` (the default) picks a free port; :attr:`base_url` names it once started. The server owns the model:
    it is closed when the server stops or fails to start (a server never started leaves it to the caller)."""

    def __init__(self, spec: str | Model, *, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = DEFAULT_MAX_BODY, **model_options: Any) -> None:
        model, name = _model(spec, model_options)
        self.model = model
        self.model_id = canonical_spec(name)  # what GET /v1/models lists and requests name
        self.host = host
        self.port = port
        self._app = create_app(model, max_body=max_body, spec=name)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

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
        except BaseException as exc:  # a failure to start is re-raised by start() in the caller's thread
            self._failed = exc
        finally:
            self._ready.set()

    def start(self) -> ModelServer:
        """Listen, then return; a port that cannot be bound raises ConfigError and leaves no thread behind."""
        if self._thread is not None:
            raise RuntimeError("a ModelServer starts once; make a new one")
        self._thread = threading.Thread(target=self._run, name="twofaced-serve", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the model server did not start within 30 s")
        if self._failed is not None:
            self._thread.join(10)
            raise self._failed
        return self

    def stop(self) -> None:
        """Stop serving and close the model; waits for the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
