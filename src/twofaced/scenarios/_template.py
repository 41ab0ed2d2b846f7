"""``twofaced scenarios new``: a commented scenario file that validates as it is written.

The text lives in ``templates/scenario.yaml`` (package data) with ``@NAME@``-style placeholders, not Jinja2:
the file itself is full of Jinja2 that must reach the user untouched.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import ScenarioError
from ._loader import builtin_cue_families

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def render_template(name: str, path: str) -> str:
    """The commented YAML of scenario ``name``, whose comments name ``path`` in the commands they suggest."""
    text = resources.files(__package__).joinpath("templates/scenario.yaml").read_text(encoding="utf-8")
    families = builtin_cue_families()
    note = ("  # Instead of writing a cue, you may name a built-in family (cue: tier-tag) or a variant of one\n"
            "  # (cue: tier-tag:lower), or pick one per run with twofaced run --cue. See one with:\n"
            f"  # twofaced scenarios show FAMILY. Families: {', '.join(families)}.\n" if families else "")
    return (text.replace("@NAME_LINE@", f"name: {name}".ljust(29)).replace("@NAME@", name)
            .replace("@PATH@", path).replace("@CUE_NOTE@\n", note))


def write_template(name: str, path: Path | None = None) -> Path:
    """Write the template of scenario ``name`` to ``path`` (default ``NAME.yaml``); never overwrites a file."""
    if not NAME.match(name):
        raise ScenarioError(f"scenario name {name!r}: use lowercase letters, digits, '.', '_' and '-', starting "
                            "with a letter or digit")
    path = path or Path(f"{name}.yaml")
    if path.exists():
        raise ScenarioError(f"{path} already exists; choose another --out or remove it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(render_template(name, str(path)))
    except FileExistsError:
        raise ScenarioError(f"{path} already exists; choose another --out or remove it first") from None
    except OSError as exc:
        raise ScenarioError(f"cannot write {path} ({exc.strerror}); check the path") from exc
    return path
