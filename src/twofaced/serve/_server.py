"""Running the application: :func:`serve` in the caller's thread until Ctrl-C (the CLI), or :class:`ModelServer`
on a background thread with its own event loop (tests, notebooks, a Python program that serves and evaluates).

Invariant: the model is built (and a bad spec refused) before any port is bound, and a port that cannot be bound
raises :class:`ConfigError` naming it, with nothing left running; the model is closed whenever the server stops.
Binding, the stop grace (2 s for requests in flight) and the thread are the shared runner's
(``twofaced._util._app_server``); this module builds the model and its app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .._util._app_server import BackgroundServer, run_app
from ..models import Model, canonical_spec, get_model
from ._app import DEFAULT_MAX_BODY, Annotate, create_app


def _model(spec: str | Model, options: dict[str, Any]) -> tuple[Model, str]:
    if isinstance(spec, str):
        return get_model(spec, **options), spec
    return spec, spec.spec


def serve(spec: str | Model, *, host: str = "127.0.0.1", port: int = 8000, max_body: int = DEFAULT_MAX_BODY,
          on_ready: Callable[[str], None] | None = None, annotate: Annotate | None = None,
          **model_options: Any) -> None:
    """Serve ``spec`` (a model spec, or a built :class:`Model`) at ``http://host:port/v1`` until interrupted.

    ``model_options`` (e.g. ``base_url``) are the defaults :func:`get_model` gives the backend. ``on_ready`` is
    called with the base URL once the port is bound; ``annotate`` is the per-exchange hook of :func:`create_app`
    (``twofaced serve --probe``). Ctrl-C raises :class:`KeyboardInterrupt` after the server
    and the model are closed; the CLI (``twofaced serve``) turns it into exit status 130.

        serve("mock/faker", port=8000, on_ready=print)
    """
    model, name = _model(spec, model_options)
    run_app(create_app(model, max_body=max_body, spec=name, annotate=annotate), host, port, on_ready)


class ModelServer(BackgroundServer):
    """A served model on a background thread; use as a context manager.

        with ModelServer("mock/faker") as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="unused")

    ``port=0`` (the default) picks a free port; :attr:`base_url` names it once started. The server owns the model:
    it is closed when the server stops or fails to start (a server never started leaves it to the caller)."""

    thread_name: ClassVar[str] = "twofaced-serve"
    label: ClassVar[str] = "the model server"

    def __init__(self, spec: str | Model, *, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = DEFAULT_MAX_BODY, annotate: Annotate | None = None, **model_options: Any) -> None:
        model, name = _model(spec, model_options)
        self.model = model
        self.model_id = canonical_spec(name)  # what GET /v1/models lists and requests name
        super().__init__(create_app(model, max_body=max_body, spec=name, annotate=annotate), host, port)
