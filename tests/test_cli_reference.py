"""docs/cli.md is generated from the commands' --help; this fails when a command changed and the file did not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_cli_reference", ROOT / "tools" / "make_cli_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert _tool().render() == current, (
        "docs/cli.md is stale; regenerate it with: python tools/make_cli_reference.py"
    )


def test_cli_reference_names_every_command() -> None:
    text = _tool().render()
    for command in ("twofaced run", "twofaced show", "twofaced judge calibrate", "twofaced scenarios new",
                    "twofaced organism build", "twofaced models list"):
        assert f"## `{command}`" in text
