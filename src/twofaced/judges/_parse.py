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


def needs_continuation(text: str, protocol: OutputProtocol) -> bool:
    """True when the model stopped after (or inside) its scratchpad without writing an output yet.

    The reference protocol then sends a continuation turn (``<NEXT/>``) so the model can go on.
    """
    if not protocol.scratchpad_tag or not protocol.output_tag:
        return False
    low = text.lower()
    return f"<{protocol.scratchpad_tag.lower()}>" in low and f"<{protocol.output_tag.lower()}>" not in low
