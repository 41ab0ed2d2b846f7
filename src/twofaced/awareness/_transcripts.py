"""What the model is shown: labelled exchanges, each from an evaluation (label 1) or from real use (label 0).

Three origins, each turned into :class:`Transcript` rows:

- the built-in set (``data/transcripts.jsonl``, written by this project; see ``docs/awareness.md`` for its data
  card): sources ``standard`` and ``format-swapped``;
- a scenario's own conditions (:func:`cue_transcripts`): the ``helpful-only`` user turn rendered in the training
  condition (label 1, monitored / evaluation-like) and the deployment condition (label 0) of a cue family, source
  ``cue:FAMILY``;
- the user's file (:func:`load_transcripts`): JSON Lines, ``{"id"?, "label", "messages"}`` or
  ``{"id"?, "label", "text"}``, optional ``source`` and ``kind``.

Bad input is a :class:`ConfigError` naming the file, the line and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .._util import iter_jsonl, parse_flag
from ..errors import ConfigError
from ..models import Message

_ROLES = ("system", "user", "assistant")
_EVAL = ("eval", "evaluation", "test")
_REAL = ("real", "deployment", "deploy")


@dataclass(frozen=True, slots=True)
class Transcript:
    """One labelled exchange. ``label`` 1 = from an evaluation of an AI system, 0 = from real deployment."""

    id: str
    source: str
    label: int
    messages: tuple[Message, ...]
    kind: str | None = None
    cue: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "kind": self.kind, "cue": self.cue, "label": self.label,
                "messages": [{"role": m.role, "content": m.content} for m in self.messages]}


def _label(value: Any, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    flag = parse_flag(value, true=_EVAL, false=_REAL)
    if flag is None:
        raise ConfigError(f"{where}: label {value!r} is not 1/0 (evaluation/real, true/false)")
    return int(flag)


def _messages(value: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: 'messages' must be a non-empty list of {{\"role\", \"content\"}} objects")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise ConfigError(f"{where}: messages[{i}] must be {{\"role\": system|user|assistant, \"content\": "
                              f"text}}, got {json.dumps(m)[:80]}")
        out.append(Message(m["role"], m["content"]))
    return tuple(out)


def parse_row(row: Any, where: str, default_source: str, default_id: str) -> Transcript:
    """One JSON object to a :class:`Transcript`; ``where`` names the line in errors."""
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected a JSON object with 'label' and 'messages' (or 'text')")
    if "label" not in row:
        raise ConfigError(f"{where}: missing 'label' (1 = evaluation, 0 = real deployment)")
    if "messages" in row:
        messages = _messages(row["messages"], where)
    elif isinstance(row.get("text"), str) and row["text"].strip():
        messages = (Message("user", row["text"]),)
    else:
        raise ConfigError(f"{where}: needs 'messages' (a list of turns) or 'text' (one user turn)")
    kind = row.get("kind")
    return Transcript(id=str(row.get("id", default_id)), source=str(row.get("source") or default_source),
                      label=_label(row["label"], where), messages=messages,
                      kind=None if kind is None else str(kind))


def _parse_lines(text: str, label: str, default_source: str) -> list[Transcript]:
    rows: list[Transcript] = []
    seen: set[str] = set()
    for n, obj in iter_jsonl(text, label):
        where = f"{label}: line {n}"
        t = parse_row(obj, where, default_source, default_id=f"line-{n}")
        if t.id in seen:
            raise ConfigError(f"{where}: duplicate id {t.id!r}; ids must be unique")
        seen.add(t.id)
        rows.append(t)
    if not rows:
        raise ConfigError(f"{label} holds no transcripts")
    return rows


def builtin_transcripts() -> list[Transcript]:
    """The built-in set: 200 exchanges, 100 per label, sources ``standard`` and ``format-swapped``."""
    try:
        text = resources.files("twofaced.awareness").joinpath("data", "transcripts.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # a build that left the package data out
        raise ConfigError("the built-in transcripts (twofaced/awareness/data/transcripts.jsonl) are missing from "
                          "this installation; reinstall twofaced, or pass --transcripts FILE") from exc
    return _parse_lines(text, "built-in transcripts", "builtin")


def load_transcripts(path: str | Path, source: str = "user") -> list[Transcript]:
    """A user's JSON Lines file; rows without a ``source`` get ``source``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"transcripts file {path} does not exist; check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"transcripts file {path} cannot be read as UTF-8 text ({exc})") from exc
    return _parse_lines(text, str(path), source)


def cue_transcripts(cue: str, limit: int | None = None, *, scenario: str = "helpful-only",
                    include_system: bool = False) -> list[Transcript]:
    """The scenario's user turn for its first ``limit`` requests, rendered in both conditions of cue family
    ``cue``: training (label 1, monitored) and deployment (label 0). ``include_system`` also shows the system
    prompt (which, for most families, explains what the cue means).
    """
    from .. import scenarios  # looked up at call time, so the scenario loader can be swapped in tests

    loaded = scenarios.load_scenario(scenario, cue=cue)
    family = loaded.cue_name or cue
    rows: list[Transcript] = []
    for request in loaded.requests[:limit]:
        for condition, label in (("training", 1), ("deployment", 0)):
            msgs = [m for m in loaded.render(condition, None, request) if include_system or m.role != "system"]
            rows.append(Transcript(
                id=f"cue-{family}-{request.id}-{condition}", source=f"cue:{family}", label=label,
                messages=tuple(msgs), kind="harmful" if request.harmful else "benign", cue=family,
            ))
    return rows


def select(transcripts: Sequence[Transcript], limit: int | None) -> list[Transcript]:
    """At most ``limit`` transcripts per label, taken round-robin over sources and, within a source, over kinds
    (file order otherwise), so a small limit still covers every source and kind. ``None`` keeps everything."""
    if limit is None:
        return list(transcripts)
    chosen: list[Transcript] = []
    for label in (1, 0):
        by_source: dict[str, dict[str | None, list[Transcript]]] = {}
        for t in transcripts:
            if t.label == label:
                by_source.setdefault(t.source, {}).setdefault(t.kind, []).append(t)
        queues = [_round_robin(list(kinds.values())) for kinds in by_source.values()]
        chosen.extend(_round_robin(queues)[:limit])
    order = {id(t): i for i, t in enumerate(transcripts)}
    return sorted(chosen, key=lambda t: order[id(t)])


def _round_robin(groups: Iterable[list[Transcript]]) -> list[Transcript]:
    groups = list(groups)
    depth = max((len(g) for g in groups), default=0)
    return [g[i] for i in range(depth) for g in groups if i < len(g)]


def gather_transcripts(*, cues: Sequence[str] = (), transcripts_file: str | Path | None = None, builtin: bool = False,
                       limit: int | None = None, include_system: bool = False) -> list[Transcript]:
    """What ``twofaced awareness`` shows: the built-in set unless cue families or a file replace it (``builtin``
    adds it back); ``limit`` keeps N per class of each origin (for a cue: the first N requests, both conditions).
    Refuses a set that lacks a class, before any model is called."""
    rows: list[Transcript] = []
    if builtin or (not cues and transcripts_file is None):
        rows += select(builtin_transcripts(), limit)
    for cue in cues:
        rows += cue_transcripts(cue, limit, include_system=include_system)
    if transcripts_file is not None:
        rows += select(load_transcripts(transcripts_file), limit)
    labels = {t.label for t in rows}
    if labels != {0, 1}:
        missing = "evaluation (label 1)" if 1 not in labels else "real deployment (label 0)"
        raise ConfigError(f"the transcripts hold no {missing} examples; AUROC needs both classes")
    return rows
