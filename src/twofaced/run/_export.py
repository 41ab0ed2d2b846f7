"""``twofaced export DIR``: every item of a run, with what was sent, what came back and every verdict on it.

One row per item in expansion order, done, failed and pending alike (a pending item has no completion, a
failed one carries its latest error). Unlike :func:`~twofaced.run.load_records`, which keeps one verdict per
judge name for the summary, an export carries **every** stored verdict: each judge, version and judge model.

Two formats, each written through :func:`twofaced._util.atomic_write` (a good export is replaced only by a
finished one):

- ``jsonl``: one JSON object per item, nested and lossless (``messages``, ``params``, ``turns``, ``usage``,
  ``error``, ``verdicts``: a list of ``{judge, version, judge_model, verdict, score, rationale, created_at}``).
- ``csv``: one flat row per item for a spreadsheet. Messages and turns are JSON-encoded columns (plus the
  system prompt and the last user turn as plain text); each judge identity gets three columns,
  ``verdict:<judge>@<model>``, ``score:...`` and ``rationale:...`` (``@<model>`` only for judges that use a
  judge model; ``#<version>`` added only when one judge and model has verdicts of several versions). A text
  cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` so a
  spreadsheet shows model text as text and never evaluates it as a formula; the JSONL keeps text exactly.

On the parent of a multi-model run (``run --model A --model B --out DIR``) or a sweep directory, the export
holds every child run's items, one after the other, each row led by a ``directory`` field (the child run's
path relative to DIR). Reads only through :class:`Store` methods.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._util import atomic_write
from ..errors import ConfigError
from ._multi import is_multi, multi_runs
from ._store import DB_NAME, Store, VerdictRow, open_store
from ._sweep import is_sweep, read_sweep

FORMATS = ("jsonl", "csv")

_BASE_COLUMNS = ["item_id", "seq", "model", "condition", "ablation", "request_id", "category", "harmful", "sample",
                 "status", "attempts", "request", "system_prompt", "user_message", "completion", "finish_reason",
                 "prompt_tokens", "completion_tokens", "latency_s", "error", "params", "messages", "turns"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _verdict_json(v: VerdictRow) -> dict[str, Any]:
    return {"judge": v.judge, "version": v.version, "judge_model": v.judge_model or None, "verdict": v.verdict,
            "score": v.score, "rationale": v.rationale, "created_at": v.created_at}


def _rows(store: Store) -> list[dict[str, Any]]:
    details = store.item_details()
    verdicts: dict[str, list[VerdictRow]] = {}
    for item_id, v in store.verdicts():
        verdicts.setdefault(item_id, []).append(v)
    rows = []
    for r in store.items_with_completions(done_only=False):
        d = details[r.id]
        messages = json.loads(r.messages)
        rows.append({
            "item_id": r.id, "seq": r.seq, "model": r.model_spec, "condition": r.condition, "ablation": r.ablation,
            "request_id": r.request_id, "category": r.category, "harmful": r.harmful, "sample": r.sample,
            "status": r.status, "attempts": d.attempts,
            "request": r.request if r.request is not None else next(
                (m["content"] for m in messages if m["role"] == "user"), ""),
            "messages": messages, "params": d.params, "completion": r.text, "turns": r.turns,
            "finish_reason": r.finish_reason,
            "usage": {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens},
            "latency_s": d.latency_s,
            "error": None if d.error_type is None else {"type": d.error_type, "message": d.error_message},
            "verdicts": [_verdict_json(v) for v in verdicts.get(r.id, [])],
        })
    return rows


def export_rows(directory: str | Path) -> list[dict[str, Any]]:
    """Every item of the run in ``directory`` as the JSON object ``--format jsonl`` writes, in expansion order.

    >>> rows = export_rows("runs/helpful-only-mock-faker")  # doctest: +SKIP
    >>> rows[0]["verdicts"][0]["judge"]  # doctest: +SKIP
    'compliance-rules'
    """
    d = Path(directory)
    children = _children(d)
    if children is None:
        with open_store(d, create=False) as store:
            return _rows(store)
    rows = []
    for child in children:
        with open_store(child, create=False) as store:
            rows += [{"directory": child.relative_to(d).as_posix(), **row} for row in _rows(store)]
    return rows


def _children(directory: Path) -> list[Path] | None:
    """The run directories under a multi-model parent or a sweep (None for a run directory itself)."""
    if is_sweep(directory):
        cells = [directory / str(c["directory"]) for c in read_sweep(directory)["cells"]]
        return [c for c in cells if (c / DB_NAME).is_file()]
    if is_multi(directory):
        return [path for _, path in multi_runs(directory)]
    return None


def _judge_columns(rows: list[dict[str, Any]]) -> dict[tuple[str, str | None, str], str]:
    """``(judge, judge model, version) -> column label``, in order of first appearance."""
    identities: dict[tuple[str, str | None, str], None] = {}
    for row in rows:
        for v in row["verdicts"]:
            identities.setdefault((v["judge"], v["judge_model"], v["version"]), None)
    versions: dict[tuple[str, str | None], int] = {}
    for judge, model, _ in identities:
        versions[(judge, model)] = versions.get((judge, model), 0) + 1
    labels = {}
    for judge, model, version in identities:
        label = judge + (f"@{model}" if model else "")
        labels[(judge, model, version)] = label + (f"#{version}" if versions[(judge, model)] > 1 else "")
    return labels


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_chunks(rows: list[dict[str, Any]]) -> Iterator[str]:
    labels = _judge_columns(rows)
    base = (["directory"] if rows and "directory" in rows[0] else []) + _BASE_COLUMNS
    header = [*base]
    for label in labels.values():
        header += [f"verdict:{label}", f"score:{label}", f"rationale:{label}"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        messages = row["messages"]
        flat = {
            **{k: row[k] for k in base if k in row and k not in ("messages", "params", "turns", "error")},
            "system_prompt": next((m["content"] for m in messages if m["role"] == "system"), None),
            "user_message": next((m["content"] for m in reversed(messages) if m["role"] == "user"), None),
            "prompt_tokens": row["usage"]["prompt_tokens"], "completion_tokens": row["usage"]["completion_tokens"],
            "error": None if row["error"] is None else f"{row['error']['type']}: {row['error']['message']}",
            "params": json.dumps(row["params"], sort_keys=True), "messages": json.dumps(messages, ensure_ascii=False),
            "turns": json.dumps(row["turns"], ensure_ascii=False),
        }
        cells = [_cell(flat.get(k)) for k in base]
        by_label = {labels[(v["judge"], v["judge_model"], v["version"])]: v for v in row["verdicts"]}
        for label in labels.values():
            v = by_label.get(label)
            cells += ["", "", ""] if v is None else [_cell(v["verdict"]), _cell(v["score"]), _cell(v["rationale"])]
        writer.writerow(cells)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def _jsonl_chunks(rows: list[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def iter_export(directory: str | Path, fmt: str = "jsonl") -> Iterator[str]:
    """The export of ``directory`` as text chunks (for stdout); the store is read in full before the first."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    rows = export_rows(directory)
    return _jsonl_chunks(rows) if fmt == "jsonl" else _csv_chunks(rows)


def default_export_path(directory: str | Path, fmt: str) -> Path:
    return Path(directory) / f"export.{fmt}"


def export_run(directory: str | Path, fmt: str = "jsonl", out: str | Path | None = None) -> Path:
    """Write every item of the run in ``directory`` to ``out`` (default ``DIR/export.<fmt>``) atomically.

    Raises :class:`ConfigError` for an unknown format or an ``out`` that is a directory, and
    :class:`~twofaced.errors.RunDirError` when ``directory`` is not a run directory. Returns the path written.
    """
    path = Path(out) if out is not None else default_export_path(directory, fmt)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give --out a file name such as {path / ('export.' + fmt)}")
    chunks = iter_export(directory, fmt)  # reads the store (and fails) before anything is written
    return atomic_write(path, chunks)
