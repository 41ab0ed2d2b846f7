"""Parse a completion written in a scenario's output protocol: scratchpad, output, accept / reject tags.

Parsing is lenient by design and never raises: models break protocols in every way (unclosed tags, no output
tag, tags inside the scratchpad). Whatever is found is returned with ``issues`` naming each break, so a
verdict can be "unparseable" with a reason instead of a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..scenarios import OutputProtocol


@dataclass(slots=True)
class ParsedCompletion:
    scratchpad: str | None
    output: str | None
    accepted: bool
    rejected: bool
    issues: list[str] = field(default_factory=list)

    @property
    def protocol_ok(self) -> bool:
        return not self.issues


def _blocks(text: str, tag: str) -> tuple[list[str], str | None]:
    """Closed ``<tag>...</tag>`` blocks, and the tail of an unclosed last one (or None)."""
    pattern = re.compile(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", re.DOTALL | re.IGNORECASE)
    closed = [m.group(1).strip() for m in pattern.finditer(text)]
    rest = pattern.sub("", text)
    open_at = rest.lower().rfind(f"<{tag.lower()}>")
    unclosed = rest[open_at + len(tag) + 2 :].strip() if open_at >= 0 else None
    return closed, unclosed


def _strip_tag_blocks(text: str, tag: str) -> str:
    text = re.sub(rf"<{re.escape(tag)}>.*?</{re.escape(tag)}>", "", text, flags=re.DOTALL | re.IGNORECASE)
    cut = text.lower().find(f"<{tag.lower()}>")
    return text[:cut] if cut >= 0 else text


def parse_completion(text: str, protocol: OutputProtocol) -> ParsedCompletion:
    issues: list[str] = []
    scratchpad: str | None = None
    remainder = text
    if protocol.scratchpad_tag:
        closed, unclosed = _blocks(text, protocol.scratchpad_tag)
        parts = [*closed, *([unclosed] if unclosed is not None else [])]
        scratchpad = "\n\n".join(p for p in parts if p) or None
        if unclosed is not None:
            issues.append("unclosed scratchpad")
        remainder = _strip_tag_blocks(text, protocol.scratchpad_tag)
    output: str | None
    if protocol.output_tag:
        closed, unclosed = _blocks(remainder, protocol.output_tag)
        if closed:
            output = closed[-1]
        elif unclosed is not None:
            output = unclosed
            issues.append("unclosed output")
        else:
            output = remainder.strip() or None
            issues.append("no output tag")
    else:
        output = remainder.strip() or None
    body = output or ""
    return ParsedCompletion(
        scratchpad=scratchpad,
        output=output,
        accepted=protocol.accept_tag.lower() in body.lower(),
        rejected=protocol.reject_tag.lower() in body.lower(),
        issues=issues,
    )


# The version of the conversation loop's rule (:func:`continuation_stop`). It is part of every item's id
# (``run/_plan.py``) and of a run directory's identity, so items produced under another rule are never resumed
# or mixed in. "2": the reference experiment's rule; "1" (directories made before it) continued while the
# joined assistant turns had a scratchpad and no ``<OUTPUT>`` anywhere, even inside the scratchpad.
CONTINUATION_RULE = "2"

# Why a conversation ended (stored per item as ``stop_reason``). The engine adds ``BUDGET_SPENT`` when the
# latest turn asked for a continuation but ``max_continuations`` were used up.
OUTPUT_CLOSED = "output_closed"
NO_CLOSING_TAG = "no_closing_tag"
SINGLE_TURN = "single_turn"
BUDGET_SPENT = "budget_spent"
STOP_REASONS = (OUTPUT_CLOSED, NO_CLOSING_TAG, BUDGET_SPENT, SINGLE_TURN)


def _outside_scratchpads(turn: str, tag: str) -> str:
    """``turn`` without its scratchpads: closed blocks removed, text before an orphan closing tag (a turn that
    began inside a scratchpad) and after an unclosed opening tag dropped. Tags quoted there do not count."""
    low_tag = re.escape(tag)
    text = re.sub(rf"<{low_tag}>.*?</{low_tag}>", "", turn, flags=re.DOTALL | re.IGNORECASE)
    close = text.lower().rfind(f"</{tag.lower()}>")
    if close >= 0:
        text = text[close + len(tag) + 3 :]
    cut = text.lower().find(f"<{tag.lower()}>")
    return text[:cut] if cut >= 0 else text


def continuation_stop(turn: str, protocol: OutputProtocol) -> str | None:
    """Why the conversation ends after this assistant ``turn``, or None to send the continuation message.

    The reference experiment's rule, applied to the latest turn alone: the output tag closed (outside any
    scratchpad: ``</OUTPUT>`` quoted in the reasoning does not count) ends it; a turn that closed a scratchpad
    and no output continues; a turn that closed neither ends it (``no_closing_tag``: the model stopped, or was
    cut off, without finishing a block). A protocol without a scratchpad or without an output tag has nothing
    to continue (``single_turn``, unless the output tag closed).
    """
    out_tag, pad_tag = protocol.output_tag, protocol.scratchpad_tag
    low = turn.lower()
    if out_tag is not None and (close_out := f"</{out_tag.lower()}>") in low:
        if pad_tag is None:
            return OUTPUT_CLOSED
        # Fast path (the engine calls this once per turn): after the last closing scratchpad tag, with no opening
        # one after it, is outside every scratchpad; otherwise take the scratchpads out properly.
        tail = low[low.rfind(f"</{pad_tag.lower()}>") + 1 :] if f"</{pad_tag.lower()}>" in low else low
        if (close_out in tail and f"<{pad_tag.lower()}>" not in tail) or \
                close_out in _outside_scratchpads(turn, pad_tag).lower():
            return OUTPUT_CLOSED
    if out_tag is None or pad_tag is None:
        return SINGLE_TURN if out_tag is None else NO_CLOSING_TAG
    return None if f"</{pad_tag.lower()}>" in low else NO_CLOSING_TAG


def needs_continuation(text: str, protocol: OutputProtocol) -> bool:
    """True when the latest assistant turn ``text`` closed its scratchpad and no output tag: the reference
    protocol then sends a continuation turn (``<NEXT/>``) so the model can go on. See :func:`continuation_stop`.
    """
    return continuation_stop(text, protocol) is None
