"""Writing a file so a reader never sees half of it, and reading JSON Lines with one-line errors.

Invariant: ``atomic_write`` and ``replacing`` write a uniquely named temporary file beside the target and move
it into place with ``os.replace``; on any failure (an exception, Ctrl-C) the temporary file is removed and the
target keeps its previous content.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, TwofacedError


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (torch.save, a GGUF writer); moved
    onto ``path`` when the block ends, deleted if it raises. ``with replacing(ckpt) as tmp: torch.save(x, tmp)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, chunks: Iterable[str] | Iterable[bytes], *, binary: bool = False) -> Path:
    """Stream ``chunks`` into ``path`` through a temporary file beside it (fsynced); return ``path``.

    Used for everything a user keeps: reports, manifests, predictions, experiment results.
    """
    path = Path(path)
    with replacing(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, like a plain open
        f: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write`` of one string: ``atomic_write_text(out / "sweep.json", json.dumps(data))``."""
    return atomic_write(path, [text])


def atomic_write_jsonl(path: str | Path, rows: Iterable[Any]) -> Path:
    """``atomic_write`` of one JSON object per line (predictions files, exported records)."""
    return atomic_write(path, (json.dumps(row) + "\n" for row in rows))


def iter_jsonl(text: str, label: str, *, error: type[TwofacedError] = ConfigError,
               hint: str = "; expected JSON Lines") -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of JSON Lines ``text``.

    A line that is not JSON raises ``error`` naming ``label`` and the line, so callers (request files, label
    files, transcript files) give the same one-line message. The caller checks each value's shape.
    """
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{label}: line {n} is not valid JSON ({exc.msg}){hint}") from exc
        yield n, value


def data_home() -> Path:
    """The twofaced data directory: ``$TWOFACED_HOME``, else ``$XDG_DATA_HOME/twofaced``, else
    ``~/.local/share/twofaced``. Built organisms and cached activations live under it."""
    if os.environ.get("TWOFACED_HOME"):
        return Path(os.environ["TWOFACED_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "twofaced"


def slug(text: str, default: str) -> str:
    """``text`` as one safe path component: runs of other characters become ``-`` (``default`` if empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or default
