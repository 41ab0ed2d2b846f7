"""Request sets from user files in the common public formats: JSON Lines, JSON (a list) and CSV.

A file's columns map onto a request's fields (``id``, ``category``, ``prompt``, ``harmful``, ``split``, plus
``context``, appended to the prompt after a blank line). Known layouts are detected from the header, so the public
harmful-request benchmarks load without options (first match wins):

- ``harmbench`` (columns ``Behavior`` and ``SemanticCategory``): prompt = Behavior, plus a blank line and
  ContextString when present; category = SemanticCategory; id = BehaviorID.
- ``strongreject`` (``forbidden_prompt``): prompt = forbidden_prompt; category = category; ids generated.
- ``advbench`` (``goal`` and ``target``): prompt = goal; ids ``advbench-0001`` ... by row; category ``advbench``.
- ``twofaced`` (``prompt``): id, category, prompt, harmful as named (the format of the built-in sets).

Any other layout loads through a mapping ``ours=theirs`` (``--column prompt=text``), which also overrides a
detected format field by field. Only column names are known here; no benchmark text ships with twofaced.
A row without an id gets ``PREFIX-NNNN`` from its position (1-based); a duplicate id is an error naming the
line; an empty category falls back to the format's default (``uncategorized`` when it has none). A row without
a ``split`` (``train`` or ``heldout``) gets one from its id: ``heldout`` when the first byte of sha256(id) is
odd, else ``train`` (see ``_split.py``); any other split value is an error naming the line.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._util import iter_jsonl, parse_flag, parse_mapping
from ..errors import ScenarioError
from ._loader import builtin_request_sets, load_requests, scenario_hash
from ._render import LoadedScenario, split_requests
from ._schema import Request
from ._split import check_split, parse_split, split_from_id

FIELDS: tuple[str, ...] = ("id", "category", "prompt", "harmful", "split", "context")
SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".csv")
DEFAULT_CATEGORY = "uncategorized"
_HARMFUL = ("harmful",)
_BENIGN = ("benign", "harmless")


@dataclass(frozen=True, slots=True)
class RequestFormat:
    """A known file layout: the header columns that identify it and how its columns map onto ours."""

    name: str
    description: str
    signature: tuple[str, ...]
    columns: dict[str, str] = field(default_factory=dict)  # ours -> theirs
    category: str | None = None  # category of rows that have none
    id_prefix: str | None = None  # prefix of generated ids (default: the file's stem)


FORMATS: tuple[RequestFormat, ...] = (
    RequestFormat(
        "harmbench", "HarmBench behaviours CSV (Behavior, FunctionalCategory, SemanticCategory, Tags, "
        "ContextString, BehaviorID)", ("Behavior", "SemanticCategory"),
        {"id": "BehaviorID", "category": "SemanticCategory", "prompt": "Behavior", "context": "ContextString"},
        category="harmbench", id_prefix="harmbench",
    ),
    RequestFormat(
        "strongreject", "StrongREJECT CSV (category, source, forbidden_prompt)", ("forbidden_prompt",),
        {"category": "category", "prompt": "forbidden_prompt"}, category="strongreject", id_prefix="strongreject",
    ),
    RequestFormat(
        "advbench", "AdvBench harmful_behaviors.csv (goal, target)", ("goal", "target"),
        {"prompt": "goal"}, category="advbench", id_prefix="advbench",
    ),
    RequestFormat(
        "twofaced", "twofaced's own format (id, category, prompt, harmful)", ("prompt",),
        {"id": "id", "category": "category", "prompt": "prompt", "harmful": "harmful"},
    ),
)


def detect_format(columns: Iterable[str]) -> RequestFormat | None:
    """The first known format whose signature columns are all in ``columns``."""
    found = set(columns)
    return next((f for f in FORMATS if set(f.signature) <= found), None)


def parse_column_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["prompt=text", "id=uid"]`` -> ``{"prompt": "text", "id": "uid"}``; a bad pair is a one-line error."""
    return parse_mapping(pairs, FIELDS, error=ScenarioError)


# -- reading rows -------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ScenarioError(f"request file {path} does not exist; check the path")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror}); check the path") from exc


def _object(value: Any, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{path}: {where} is not a JSON object (one request per object)")
    return value


def _read_rows(path: Path) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Return the columns (in order of first appearance) and ``(where, row)`` pairs, ``where`` naming the
    line (JSONL, CSV) or item (JSON) for messages."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"request file {path}: unknown file type {path.suffix or '(none)'!r}; "
                            "use .jsonl, .json or .csv")
    text = _read_text(path)
    rows: list[tuple[str, dict[str, Any]]] = []
    if suffix in (".jsonl", ".ndjson"):
        for n, value in iter_jsonl(text, str(path), error=ScenarioError):
            rows.append((f"line {n}", _object(value, path, f"line {n}")))
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: not valid JSON at line {exc.lineno} ({exc.msg})") from exc
        if not isinstance(data, list):
            raise ScenarioError(f"{path}: a .json request file must hold a list of objects, one per request "
                                "(for one object per line use .jsonl)")
        rows = [(f"item {n}", _object(v, path, f"item {n}")) for n, v in enumerate(data, 1)]
    else:
        reader = csv.DictReader(text.splitlines(keepends=True))
        try:
            if reader.fieldnames is None:
                raise ScenarioError(f"{path}: holds no requests (empty file; a CSV needs a header row)")
            reader.fieldnames = [str(h).strip() for h in reader.fieldnames]
            start = reader.line_num
            for row in reader:
                rows.append((f"line {start + 1}", {k: v for k, v in row.items() if k is not None}))
                start = reader.line_num
        except csv.Error as exc:
            raise ScenarioError(f"{path}: not valid CSV at line {reader.line_num} ({exc})") from exc
        return list(reader.fieldnames), rows
    columns: dict[str, None] = {}
    for _, row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _text(value: Any, path: Path, where: str, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ScenarioError(f"{path}: {where}: column {column!r} holds {type(value).__name__}, expected text")


def _cell(row: dict[str, Any], cols: dict[str, str], ours: str, path: Path, where: str) -> str:
    return _text(row.get(cols[ours]), path, where, cols[ours]) if ours in cols else ""


def _harmful(value: Any, default: bool, path: Path, where: str, column: str) -> bool:
    if isinstance(value, bool):
        return value
    s = "" if value is None else str(value).strip().lower()
    if not s:
        return default
    flag = parse_flag(s, true=_HARMFUL, false=_BENIGN)
    if flag is not None:
        return flag
    raise ScenarioError(f"{path}: {where}: harmful value {value!r} in column {column!r} is not true/false, "
                        "1/0 or yes/no")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "request"


def _expected() -> str:
    return "; ".join(f"{f.name} ({', '.join(f.signature)})" for f in FORMATS)


def resolve_columns(path: Path, found: Sequence[str], mapping: dict[str, str] | None = None
                    ) -> tuple[RequestFormat | None, dict[str, str]]:
    """The detected format (None for a layout known only through ``mapping``) and the ours -> theirs map."""
    fmt = detect_format(found)
    cols = dict(fmt.columns) if fmt else {}
    for ours, theirs in (mapping or {}).items():
        if ours not in FIELDS:
            raise ScenarioError(f"--column {ours}={theirs}: {ours!r} is not a request field; "
                                f"use one of {', '.join(FIELDS)}")
        if theirs not in found:
            raise ScenarioError(f"{path}: --column {ours}={theirs}: no column {theirs!r} "
                                f"(found: {', '.join(found) or 'none'})")
        cols[ours] = theirs
    for ours in FIELDS:  # columns named like ours count as ours unless mapped elsewhere
        if ours not in cols and ours in found and ours not in cols.values():
            cols[ours] = ours
    cols = {ours: theirs for ours, theirs in cols.items() if theirs in found}
    if "prompt" not in cols:
        raise ScenarioError(
            f"{path}: no prompt column (found: {', '.join(found) or 'none'}); expected a known layout "
            f"[{_expected()}]; map with --column prompt=NAME"
        )
    return fmt, cols


def load_request_file(
    path: str | Path, mapping: dict[str, str] | None = None, *, harmful_default: bool = True
) -> list[Request]:
    """Load a request set from a ``.jsonl``, ``.json`` (a list of objects) or ``.csv`` file.

    The layout is detected from the columns (see :data:`FORMATS`); ``mapping`` (ours -> theirs, ours in
    id, category, prompt, harmful, split, context) overrides it field by field. Rows without an id get
    ``PREFIX-NNNN`` by position; ``harmful`` defaults to ``harmful_default`` where the file has no value; rows
    without a split get ``heldout`` when the first byte of sha256(id) is odd, else ``train``.
    Every failure is a :class:`ScenarioError` naming the file and the line.
    """
    return load_request_file_info(path, mapping, harmful_default=harmful_default)[0]


def load_request_file_info(
    path: str | Path, mapping: dict[str, str] | None = None, *, harmful_default: bool = True
) -> tuple[list[Request], RequestFormat | None, dict[str, str]]:
    """:func:`load_request_file`, also returning the detected format and the column map that was used."""
    path = Path(path)
    found, raw = _read_rows(path)
    if not raw:
        raise ScenarioError(f"{path}: holds no requests")
    fmt, cols = resolve_columns(path, found, mapping)
    prefix = (fmt.id_prefix if fmt and fmt.id_prefix else None) or _slug(path.stem)
    default_category = (fmt.category if fmt else None) or DEFAULT_CATEGORY
    rows: list[Request] = []
    seen: dict[str, str] = {}
    for pos, (where, row) in enumerate(raw, 1):
        prompt = _cell(row, cols, "prompt", path, where)
        if not prompt:
            raise ScenarioError(f"{path}: {where}: empty prompt (column {cols['prompt']!r})")
        context = _cell(row, cols, "context", path, where)
        if context:
            prompt = f"{prompt}\n\n{context}"
        rid = _cell(row, cols, "id", path, where) or f"{prefix}-{pos:04d}"
        harmful = (_harmful(row.get(cols["harmful"]), harmful_default, path, where, cols["harmful"])
                   if "harmful" in cols else harmful_default)
        if rid in seen:
            raise ScenarioError(f"{path}: {where}: duplicate request id {rid!r} (first at {seen[rid]}); "
                                "ids must be unique")
        seen[rid] = where
        category = _cell(row, cols, "category", path, where) or default_category
        split = parse_split(row.get(cols["split"]), f"{path}: {where}") if "split" in cols else None
        rows.append(Request(id=rid, category=category, prompt=prompt, harmful=harmful,
                            split=split or split_from_id(rid)))
    return rows, fmt, cols


# -- plugging a request set into a loaded scenario ----------------------------------------------------------


def with_requests(loaded: LoadedScenario, rows: list[Request], source: str | None = None,
                  split: str | None = None) -> LoadedScenario:
    """A copy of ``loaded`` that asks ``rows`` instead of its own request set, with the content hash
    recomputed (a run directory is pinned to it) and every condition and ablation re-validated.
    ``source`` (a file name), when given, is added to the label that messages and the manifest show.
    ``split`` (``all``, ``train``, ``heldout``; default: the split ``loaded`` was made with) keeps only that half
    of ``rows``; an empty half is an error naming the split."""
    split = check_split(loaded.split if split is None else split)
    if not rows:
        raise ScenarioError(f"{source or loaded.label}: holds no requests")
    rows = split_requests(list(rows), split, source or loaded.label)
    label = f"{loaded.label} with requests from {source}" if source else loaded.label
    new = dataclasses.replace(loaded, requests=rows, label=label, split=split,
                              hash=scenario_hash(loaded.scenario, rows, split), _system_cache={})
    new.validate()
    return new


def apply_requests_option(loaded: LoadedScenario, ref: str | None, columns: Sequence[str] = (),
                          split: str | None = None) -> LoadedScenario:
    """What ``twofaced run --requests REF [--column ours=theirs ...] [--split S]`` does: ``REF`` is a request
    file (.jsonl, .json, .csv) or a built-in request-set name; None keeps the scenario's own set. ``split``
    (default: the one ``loaded`` was made with) keeps one half of the requests."""
    split = check_split(loaded.split if split is None else split)
    if ref is None:
        if columns:
            raise ScenarioError("--column maps the columns of a request file; give the file with --requests FILE")
        if split == loaded.split:
            return loaded
        if loaded.split != "all":
            raise ScenarioError(f"{loaded.label}: holds only the {loaded.split!r} split; load it with split 'all' "
                                f"to select the {split!r} split")
        return with_requests(loaded, loaded.requests, split=split)
    path = Path(ref)
    if path.is_file() or path.suffix.lower() in SUFFIXES:
        rows = load_request_file(path, parse_column_mapping(columns))
        return with_requests(loaded, rows, source=str(path), split=split)
    if ref in builtin_request_sets():
        if columns:
            raise ScenarioError(f"--column applies to request files, not the built-in request set {ref!r}")
        rows, _ = load_requests(ref, None, f"--requests {ref}")
        return with_requests(loaded, rows, source=f"request set '{ref}'", split=split)
    raise ScenarioError(f"--requests {ref!r} is neither a file nor a built-in request set "
                        f"({', '.join(builtin_request_sets())}); use a .jsonl, .json or .csv path")
