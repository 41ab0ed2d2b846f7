"""``twofaced serve SPEC``: one model behind an OpenAI-compatible server, until Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..models import get_model
from ..serve import DEFAULT_MAX_BODY, serve
from ._app import app, err, out
from ._options import BaseUrl


@app.command("serve")
def serve_command(
    spec: Annotated[str, typer.Argument(help="Model spec to serve: embedded, organism:NAME, mock/POLICY, "
                                             "openai/MODEL (with --base-url) ...")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
                    ] = 8000,
    base_url: BaseUrl = None,
    max_body: Annotated[int, typer.Option("--max-body", min=1, help="Largest request body in bytes; larger ones "
                                                                     "are answered 413.")] = DEFAULT_MAX_BODY,
    probe: Annotated[Path | None, typer.Option("--probe", help="A probe saved by 'probe train' on these weights: "
                                               "its score on every exchange rides on the reply as 'twofaced' "
                                               "(a monitor signal; needs a torch backend).")] = None,
) -> None:
    """Serve a model spec as an OpenAI-compatible server: GET /v1/models, POST /v1/chat/completions (plain and
    stream: true, streamed after the whole reply is generated), GET /healthz. Runs until Ctrl-C."""
    target: Any = spec
    annotate = None
    if probe is not None:
        from ..probes._serving import probe_annotator

        target = get_model(spec, **({"base_url": base_url} if base_url else {}))
        annotate = probe_annotator(probe, target, spec)
    try:
        serve(target, host=host, port=port, max_body=max_body, annotate=annotate,
              **({"base_url": base_url} if probe is None else {}),
              on_ready=lambda url: out.print(f"serving {spec} at {url}", highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        # Not the other commands' "finished items are stored" line: a server stores nothing, so say what stopped.
        err.print(f"stopped serving {spec}", highlight=False, soft_wrap=True)
        sys.exit(130)
