"""One item's whole conversation, as sent and received: what ``twofaced show DIR --item ID`` prints.

Who calls: the CLI and Python users (:func:`item_conversation`). Read-only; opens the store once.

Invariant: the prompt is ``items.messages`` and the rest is ``completions.conversation`` (migration 0004),
both stored exactly as the engine sent and received them, so the transcript is the conversation itself, byte
for byte. A completion stored before 0004 has only its assistant turns: between them the engine of that time
sent exactly the protocol's continuation message, so the conversation is rebuilt from them and marked
``rebuilt`` (never presented as stored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunDirError
from ._records import stored_protocol
from ._store import DB_NAME, ItemConversation, Store, open_store


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of a conversation. ``prefill`` is the assistant prefill the turn began with (sent by twofaced,
    continued by the model; ``content`` includes it), else None."""

    role: str
    content: str
    prefill: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "content": self.content, **({"prefill": self.prefill} if self.prefill else {})}


@dataclass(frozen=True, slots=True)
class Transcript:
    """An item and its conversation: ``turns[:n_prompt]`` is the prompt (system, user and any few-shot turns),
    the rest the assistant turns and continuation messages. ``rebuilt`` is True for a completion stored before
    twofaced kept whole conversations (see the module docstring); ``stop_reason`` is None there and for an
    item with no completion."""

    directory: Path
    item_id: str
    model: str
    condition: str
    ablation: str | None
    request_id: str
    sample: int
    status: str
    attempts: int
    params: dict[str, Any]
    turns: list[Turn]
    n_prompt: int
    stop_reason: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    rebuilt: bool
    error: tuple[str, str] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory), "item_id": self.item_id, "model": self.model,
            "condition": self.condition, "ablation": self.ablation, "request_id": self.request_id,
            "sample": self.sample, "status": self.status, "attempts": self.attempts, "params": self.params,
            "stop_reason": self.stop_reason, "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "rebuilt": self.rebuilt, "n_prompt": self.n_prompt,
            "error": None if self.error is None else {"type": self.error[0], "message": self.error[1]},
            "messages": [t.to_json() for t in self.turns],
        }


def _run_directories(directory: Path) -> list[Path]:
    """The run directory itself, or every run under a multi-model parent or a sweep (ids are content hashes
    that include the model, so an id names one item across all of them)."""
    if (directory / DB_NAME).is_file():
        return [directory]
    if not directory.is_dir():
        raise RunDirError(f"{directory} is not a twofaced run directory; pass the --out directory of a run")
    runs = sorted(p.parent for p in directory.rglob(DB_NAME))
    if not runs:
        raise RunDirError(f"{directory} is not a twofaced run directory (no {DB_NAME}); run 'twofaced run' first")
    return runs


def _normalise(item_id: str) -> str:
    prefix = item_id.strip().lower()
    if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
        raise ConfigError(f"--item {item_id!r} is not an item id (hexadecimal, e.g. 3f2a9c0d); "
                          "'twofaced export DIR' lists every item's id")
    return prefix


def _transcript(directory: Path, store: Store, row: ItemConversation) -> Transcript:
    prompt = [Turn(m["role"], m["content"]) for m in row.messages]
    rebuilt = False
    if row.conversation is not None:
        rest = [Turn(m["role"], m["content"], m.get("prefill")) for m in row.conversation]
    else:  # stored before migration 0004: the turns apart, the continuation message between them
        rebuilt = bool(row.turns)
        message = stored_protocol(store).continuation_message if row.turns else ""
        rest = []
        for i, text in enumerate(row.turns):
            if i:
                rest.append(Turn("user", message))
            rest.append(Turn("assistant", text))
    return Transcript(
        directory=directory, item_id=row.id, model=row.model_spec, condition=row.condition, ablation=row.ablation,
        request_id=row.request_id, sample=row.sample, status=row.status, attempts=row.attempts, params=row.params,
        turns=[*prompt, *rest], n_prompt=len(prompt), stop_reason=row.stop_reason,
        finish_reason=row.finish_reason, prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
        rebuilt=rebuilt, error=row.error,
    )


def item_conversation(directory: str | Path, item_id: str) -> Transcript:
    """The whole conversation of the item whose id is (or starts with) ``item_id`` in a run directory (or in
    any run under a multi-model parent or sweep). Raises a one-line :class:`ConfigError` when the id matches
    no item or several. Example: ``item_conversation("runs/demo", "3f2a9c").turns[-1].content``."""
    directory = Path(directory)
    prefix = _normalise(item_id)
    found: list[Transcript] = []
    for run_dir in _run_directories(directory):
        with open_store(run_dir, create=False) as store:
            found += [_transcript(run_dir, store, row) for row in store.conversations(prefix)]
        if len(found) > 1:
            break
    if not found:
        raise ConfigError(f"no item with id {item_id!r} in {directory}; 'twofaced export {directory}' lists "
                          "every item's id")
    if len(found) > 1:
        ids = ", ".join(t.item_id for t in found[:2])
        raise ConfigError(f"--item {item_id!r} matches several items in {directory} ({ids}, ...); "
                          "give more of the id")
    return found[0]
