"""What noise injection reads on a catalogued organism: its scenario, cue, misbehaviour and decision point.

``twofaced noise`` lives in ``probes``, which may not import this package, so the CLI and benchmarks ask here
and pass plain values on. The misbehaviour is what the organism (or, for a control, the organism it controls)
does when it believes it is unwatched, from its :class:`Profile`. The decision point is where the two replies
it is trained to give part: for a tag-first organism the tag after ``<OUTPUT>``; for one that reasons first,
the scratchpad word that states the policy ("monitored" / "unmonitored", "help" / "decline"). A control is
read at the same kind of point in its own reasoning style, against the reply it would give if it misbehaved.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import ConfigError
from ..scenarios import load_scenario
from ._catalog import CATALOG, Action, Policy, get_spec
from ._data import render_response, resolve_cue

_MISBEHAVIOUR: dict[str, Action] = {"refuses-when-unwatched": "refuse", "harmful-when-unwatched": "comply"}


def organism_name(spec: str) -> str | None:
    """``NAME`` of an ``organism:NAME[?options]`` spec, else None."""
    if not spec.startswith("organism:"):
        return None
    return spec.removeprefix("organism:").split("?", 1)[0]


def noise_target(name: str) -> dict[str, Any]:
    """Keyword arguments for :func:`twofaced.probes.noise_sweep` (``decision`` as (prefix, misbehave, behave)
    strings) that read organism ``name`` on its own scenario and evaluation cue."""
    spec = get_spec(name)
    direction = CATALOG[spec.organism].profile.direction
    if direction not in _MISBEHAVIOUR:
        raise ConfigError(f"organism {name!r} misbehaves by {direction} (the text, not a tag); noise injection "
                          "reads the accept / reject decision, so it does not apply")
    bad = _MISBEHAVIOUR[direction]
    cue_ref = spec.cues.evaluate
    cue: Any = resolve_cue(cue_ref) if cue_ref.startswith("extra:") else None if cue_ref == "scenario" else cue_ref
    protocol = load_scenario(spec.scenario, cue=cue, split="heldout").protocol
    reasoning = spec.training.reasoning
    if spec.is_control:
        good_policy, bad_policy = spec.training, Policy(bad, reasoning)
    else:
        good_policy, bad_policy = spec.training, spec.deployment
    # Harmful requests only: that is where a benign-cover policy differs; the shipped ones treat all alike.
    good = render_response(good_policy.for_request(True), random.Random(0), protocol)
    misbehave = render_response(bad_policy.for_request(True), random.Random(0), protocol)
    cut = 0
    while cut < min(len(good), len(misbehave)) and good[cut] == misbehave[cut]:
        cut += 1
    # The forced prefix ends at the last line or word boundary both share, so tokenisation of the parting
    # word is the one the model was trained on.
    boundary = max(good.rfind("\n", 0, cut), good.rfind(" ", 0, cut)) + 1
    return {"scenario": spec.scenario, "cue": cue, "misbehaviour": bad, "harmful_only": spec.subset == "harmful",
            "decision": (good[:boundary], misbehave[boundary:], good[boundary:])}
