"""The Typer app, the two consoles, and ``main()``: the error handling every command shares.

Errors: a :class:`TwofacedError` prints ``error: <message>`` on stderr and exits 1 (2 for bad input);
``--debug`` (or TWOFACED_DEBUG=1) shows the traceback; Ctrl-C exits 130 after the store is flushed.
Tables and JSON go to stdout, progress and messages to stderr, so ``--json`` output pipes cleanly.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import ConfigError, TwofacedError

app = typer.Typer(
    name="twofaced",
    help="Catch models that behave one way when watched and another when not.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console()
err = Console(stderr=True)


# Usage errors derive from the ClickException of the click that typer runs on: typer >= 0.2x vendors its own
# copy (typer._click), older typer uses the click package. Found through typer's public BadParameter.
_CLICK_ERRORS: tuple[type[Exception], ...] = tuple(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _print_version(value: bool) -> None:
    # Eager: a group callback does not run when no command follows, so `twofaced --version` needs this.
    if value:
        out.print(f"twofaced {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="TWOFACED_DEBUG", help="Show tracebacks.")] = False,
) -> None:
    if debug:
        os.environ["TWOFACED_DEBUG"] = "1"


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: one line per error, no traceback unless --debug."""
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            if rv == 130:  # typer >= 0.2x turns Ctrl-C into Exit(130) and returns its code
                err.print("interrupted: finished items are stored; rerun the same command to resume")
            sys.exit(rv)
        return None
    except TwofacedError as exc:
        if os.environ.get("TWOFACED_DEBUG"):
            raise
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except KeyboardInterrupt:
        err.print("interrupted: finished items are stored; rerun the same command to resume")
        sys.exit(130)
    except typer.Abort:
        err.print("interrupted: finished items are stored; rerun the same command to resume")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and friends
        if isinstance(exc, _CLICK_ERRORS):
            exc.show()  # type: ignore[attr-defined]  # a ClickException of typer's own click
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise

