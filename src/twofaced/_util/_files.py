"""Writing a file so a reader never sees half of it, and reading JSON Lines with one-line errors.

Invariant: ``atomic_write`` streams into a uniquely named temporary file beside the target, fsyncs it and
moves it into place with ``os.replace``; on any failure (an exception, Ctrl-C) the temporary file is removed
and the target keeps its previous content.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TwofacedError


def atomic_write(path: str | Path, chunks: Iterable[str] | Iterable[bytes], *, binary: bool = False) -> Path:
    """Stream ``chunks`` into ``path`` through a temporary file beside it; return ``path``.

    Called by everything that writes a result a user keeps (reports, manifests, predictions, checkpoints
    use ``os.replace`` on their own temporary file only when a foreign library writes it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, like a plain open
    try:
        if binary:
            with os.fdopen(fd, "wb") as fb:
                for chunk in chunks:
                    fb.write(chunk)  # type: ignore[arg-type]
                fb.flush()
                os.fsync(fb.fileno())
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                for chunk in chunks:
                    fh.write(chunk)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write`` of one string: ``atomic_write_text(out / "sweep.json", json.dumps(data))``."""
    return atomic_write(path, [text])


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
