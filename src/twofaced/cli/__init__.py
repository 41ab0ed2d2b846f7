"""The ``twofaced`` command: parses, calls the library, prints. One module per command group; no logic here.

Errors: a :class:`TwofacedError` prints ``error: <message>`` on stderr and exits 1 (2 for bad input);
``--debug`` (or TWOFACED_DEBUG=1) shows the traceback; Ctrl-C exits 130 after the store is flushed.
Tables and JSON go to stdout, progress and messages to stderr, so ``--json`` output pipes cleanly.
"""

from . import (  # noqa: F401  (each registers its commands on the app)
    _analysis,
    _awareness,
    _bench,
    _export,
    _import,
    _judge,
    _monitor,
    _noise,
    _organism,
    _probe,
    _report,
    _run,
    _scenarios,
    _serve,
    _sweep,
)
from ._app import app, main

__all__ = ["app", "main"]
