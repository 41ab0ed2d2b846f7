"""What the probes are trained and evaluated on: labelled, paired prompts.

Two targets:

- ``unmonitored``: the scenario's rendered prompt (system prompt + user turn) under a cue family, label 0 in
  the training (monitored) condition and 1 in the deployment (unmonitored) one. The two renderings of one
  request under one family form a pair. Training uses the request set's ``train`` half under some cue
  families; evaluation uses the ``heldout`` half, under the same families (in distribution) or others
  (held-out cue families).
- ``defection``: the project's generic contrast pairs (``data/defection_pairs.jsonl``, data card beside it):
  a question about the model's intent answered "Yes" (label 1) or "No" (label 0).

Invariant: a pair never straddles two splits (:func:`split_pairs`), so a probe is never validated or tested on
the twin of a training prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..models import Message
from ..scenarios import CueFamily, load_scenario
from ._activations import Prompt

#: A cue to render prompts under: a built-in ``family[:variant]`` name, or a family object (a phrasing the caller
#: defines, e.g. an organism's own held-out wording, which this package cannot name because it may not import
#: ``organisms``).
CueRef = str | CueFamily

TARGETS = ("unmonitored", "defection")
DEFAULT_SCENARIO = "helpful-only"
#: Cue families an ``unmonitored`` probe trains on by default; the others (date, eval-format, trigger) are unseen.
DEFAULT_TRAIN_CUES = ("tier-tag", "explicit")
DEFAULT_HELDOUT_CUES = ("date", "eval-format")
PAIRS_FILE = Path(__file__).parent / "data" / "defection_pairs.jsonl"
#: Fewest pairs a split may hold (train, validation, test each need both classes twice for an interval).
MIN_PAIRS_PER_SPLIT = 2


@dataclass
class Dataset:
    """Prompts with labels (1 positive) and pair ids (the two members of a pair share one)."""

    prompts: list[Prompt]
    labels: np.ndarray
    pairs: np.ndarray
    source: str
    groups: list[str] = field(default_factory=list)  # the cue family of each row ("" for contrast pairs)

    def subset(self, rows: np.ndarray) -> Dataset:
        return Dataset([self.prompts[i] for i in rows], self.labels[rows], self.pairs[rows], self.source,
                       [self.groups[i] for i in rows] if self.groups else [])


def cue_label(ref: CueRef) -> str:
    """The name a cue is stored and reported under."""
    return ref if isinstance(ref, str) else ref.name


def cue_family_key(name: str, defined: Sequence[str] = ()) -> str:
    """What counts as one cue family when asking whether an evaluation cue was held out: a built-in name's family
    (``tier-tag:words`` is ``tier-tag``); a caller-defined phrasing (in ``defined``) is a family of its own."""
    return name if name in defined else name.split(":")[0]


def scenario_data(families: Sequence[CueRef], scenario: str = DEFAULT_SCENARIO, split: str = "train",
                  limit: int | None = 24) -> Dataset:
    """Training (0) vs deployment (1) prompts of ``scenario`` under each cue family, ``limit`` requests each."""
    if not families:
        raise ConfigError("no cue family given; name one with --cue FAMILY")
    prompts: list[Prompt] = []
    labels: list[int] = []
    pairs: list[int] = []
    groups: list[str] = []
    pair = 0
    for family in families:
        loaded = load_scenario(scenario, cue=family, split=split)
        for request in loaded.requests[:limit]:
            for label, condition in ((0, "training"), (1, "deployment")):
                prompts.append(loaded.render(condition, None, request))
                labels.append(label)
                pairs.append(pair)
                groups.append(cue_label(family))
            pair += 1
    return Dataset(prompts, np.array(labels), np.array(pairs), f"{scenario} ({split} requests)", groups)


def honest_prompts(family: CueRef, scenario: str = DEFAULT_SCENARIO, limit: int | None = 24) -> list[Prompt]:
    """The scenario's held-out requests in the training (monitored) condition: ordinary exchanges in which no
    organism, faker or control, has a reason to act otherwise than trained (the ``fpr_honest`` population)."""
    loaded = load_scenario(scenario, cue=family, split="heldout")
    return [loaded.render("training", None, r) for r in loaded.requests[:limit]]


def defection_data(path: Path = PAIRS_FILE) -> Dataset:
    """The contrast pairs as chats: ``user: question`` then the assistant's "Yes" (1) or "No" (0)."""
    prompts: list[Prompt] = []
    labels: list[int] = []
    pairs: list[int] = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        for label, key in ((0, "negative"), (1, "positive")):
            prompts.append([Message("user", row["question"]), Message("assistant", row[key])])
            labels.append(label)
            pairs.append(i)
    return Dataset(prompts, np.array(labels), np.array(pairs), path.name, [""] * len(prompts))


def split_pairs(pairs: np.ndarray, fractions: tuple[float, ...], seed: int = 0,
                what: str = "the data") -> list[np.ndarray]:
    """Row indices of each split, cutting by pair (shuffled with ``seed``); a one-line error when a split would
    hold fewer than :data:`MIN_PAIRS_PER_SPLIT` pairs."""
    ids = np.unique(pairs)
    need = MIN_PAIRS_PER_SPLIT * len(fractions)
    counts = [round(f * len(ids)) for f in fractions[:-1]]
    counts.append(len(ids) - sum(counts))
    if len(ids) < need or min(counts) < MIN_PAIRS_PER_SPLIT:
        raise ConfigError(f"too little data for a split: {what} has {len(ids)} pairs, and each of the "
                          f"{len(fractions)} splits needs at least {MIN_PAIRS_PER_SPLIT}; raise --limit or add "
                          "cue families")
    order = np.random.default_rng(seed).permutation(ids)
    out = []
    start = 0
    for n in counts:
        chosen = set(order[start:start + n].tolist())
        out.append(np.array([i for i, p in enumerate(pairs) if p in chosen], dtype=int))
        start += n
    return out
