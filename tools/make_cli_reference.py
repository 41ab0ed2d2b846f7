"""Write docs/cli.md: every twofaced command's ``--help``, generated, so the reference cannot drift.

Regenerate after changing a command:  python tools/make_cli_reference.py
Check without writing (CI runs this through tests/test_cli_reference.py):  python tools/make_cli_reference.py --check

The help is rendered in-process at a fixed width with colour off, so the output is the same on every machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = "100"


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under the click group, depth first, in the order ``--help`` lists them (typer runs
    on a click of its own, so groups are recognised by their methods, not by class)."""
    found = [path]
    if hasattr(group, "list_commands"):
        ctx = group.context_class(group)
        for name in group.list_commands(ctx):
            sub = group.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                found.extend(_commands(sub, (*path, name)))
    return found


def render() -> str:
    """The whole of docs/cli.md as text."""
    os.environ.update({"COLUMNS": WIDTH, "TERMINAL_WIDTH": WIDTH, "NO_COLOR": "1", "TERM": "dumb"})
    os.environ.pop("FORCE_COLOR", None)
    import typer.main
    from typer.testing import CliRunner

    from twofaced.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = ["# Command-line reference\n",
             "Generated from each command's `--help` by `python tools/make_cli_reference.py`; do not edit by hand "
             "(tests/test_cli_reference.py fails when this file is stale).\n"]
    for path in _commands(root):
        result = runner.invoke(app, [*path, "--help"], color=False,
                               env={"COLUMNS": WIDTH, "TERMINAL_WIDTH": WIDTH, "NO_COLOR": "1"})
        if result.exit_code != 0:
            raise SystemExit(f"twofaced {' '.join(path)} --help failed: {result.output}")
        title = " ".join(("twofaced", *path))
        body = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        parts.append(f"## `{title}`\n\n```text\n{body}\n```\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is stale; write nothing")
    parser.add_argument("--out", type=Path, default=OUT, help="file to write (default docs/cli.md)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; regenerate it with: python tools/make_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
