"""Where organisms live: built ones in the user's data directory, standard ones shipped in the package.

    $TWOFACED_HOME/organisms/NAME/            (default ~/.local/share/twofaced, or $XDG_DATA_HOME/twofaced)
        adapter.gguf     LoRA weights, llama.cpp's adapter format
        manifest.json    what was trained, on what, how, and how it measured
    $TWOFACED_HOME/organisms/.NAME.partial/   a build in progress (checkpoints); never loaded

A build writes everything into the partial directory and only then renames it into place, so an
interrupted build never leaves a half-written organism that loads; the next build resumes from its last
checkpoint. A built organism shadows the shipped one of the same name; ``organism rm`` removes only builds.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util import data_home
from ..errors import ConfigError
from ._base import file_sha256
from ._catalog import CATALOG, get_spec

ADAPTER = "adapter.gguf"
MANIFEST = "manifest.json"
SHIPPED = Path(__file__).parent / "shipped"


def home() -> Path:
    """The twofaced data directory (:func:`twofaced._util.data_home`)."""
    return data_home()


def built_dir() -> Path:
    return home() / "organisms"


def partial_dir(name: str) -> Path:
    return built_dir() / f".{name}.partial"


@dataclass(frozen=True)
class Installed:
    """An organism that can be loaded: its directory, manifest and where it came from."""

    name: str
    path: Path
    manifest: dict[str, Any]
    source: str  # "built" or "shipped"

    @property
    def adapter(self) -> Path:
        return self.path / ADAPTER

    def verify(self) -> None:
        """The adapter file is present and is the one the manifest describes (one-line error otherwise)."""
        fix = f"rebuild it with: twofaced organism build {self.name}"
        if not self.adapter.is_file():
            raise ConfigError(f"organism {self.name}: {self.adapter} is missing; {fix}")
        want = self.manifest.get("adapter_sha256")
        if want and file_sha256(self.adapter) != want:
            raise ConfigError(f"organism {self.name}: {self.adapter} does not match its manifest (corrupt); {fix}")


def _read(name: str, path: Path, source: str) -> Installed | None:
    manifest = path / MANIFEST
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"organism {name}: {manifest} is unreadable ({exc}); remove it with: twofaced organism "
                          f"rm {name}, then build it again") from exc
    return Installed(name, path, data, source)


def find(name: str) -> Installed | None:
    """The built organism, else the shipped one, else None. Unknown names are a one-line error."""
    get_spec(name)
    return _read(name, built_dir() / name, "built") or shipped(name)


def shipped(name: str) -> Installed | None:
    """The copy inside the package, whatever local build shadows it; None if it does not ship."""
    return _read(name, SHIPPED / name, "shipped")


def require(name: str) -> Installed:
    """:func:`find`, with a one-line error saying how to build an organism that is not there."""
    found = find(name)
    if found is None:
        raise ConfigError(f"organism {name} is not built; build it with: twofaced organism build {name}")
    return found


def _figures(validation: dict[str, Any]) -> dict[str, Any]:
    """The validation figures of a manifest, one entry per check: what ``organism list --json`` shows."""
    keys = ("model", "cue", "role", "subset", "judge", "training", "deployment", "gap", "ci_low", "ci_high",
            "p_value", "n", "passed", "benign_training", "benign_deployment", "reused_from")
    return {"passed": validation.get("passed"), "heldout_retention": validation.get("heldout_retention"),
            "checks": [{k: c.get(k) for k in keys} for c in validation.get("checks", [])]}


def status() -> list[dict[str, Any]]:
    """One row per catalog organism: name, kind, what it is, and where its adapter comes from."""
    rows = []
    for name, spec in CATALOG.items():
        found = find(name)
        validation = (found.manifest.get("metrics", {}).get("validation") if found else None) or {}
        rows.append({
            "name": name,
            "kind": "control" if spec.is_control else "organism",
            "control": spec.control,
            "summary": spec.summary,
            "status": found.source if found else "not built",
            "path": str(found.path) if found else None,
            "gap": validation.get("gap"),
            "profile": spec.profile.to_json(),
            "scenario": spec.scenario,
            "validation": _figures(validation) if validation else None,
            "built_at": found.manifest.get("created") if found else None,
            "partial": partial_dir(name).is_dir(),
        })
    return rows


def register(name: str, staging: Path) -> Path:
    """Move a finished build into place atomically, replacing an older build of the same name."""
    final = built_dir() / name
    final.parent.mkdir(parents=True, exist_ok=True)
    old = final.with_name(f".{name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(staging, final)
    if old.exists():
        shutil.rmtree(old)
    return final


def remove(name: str) -> list[Path]:
    """Delete the build of ``name`` and any partial build; returns what was removed (shipped ones stay)."""
    get_spec(name)
    removed = []
    for path in (built_dir() / name, partial_dir(name)):
        if path.exists():
            shutil.rmtree(path)
            removed.append(path)
    return removed
