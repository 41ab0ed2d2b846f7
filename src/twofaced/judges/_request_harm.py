"""A cheap offline classifier of *requests*: is the user asking for something harmful? No model, no torch.

Why it exists: the monitor (``twofaced monitor serve``) judges every live exchange in one worker, at up to about
2,000 exchanges a second on one core, and needs to know which requests were harmful to read refusals against the
right baseline. A sentence-embedding model costs milliseconds; this costs tens of microseconds, because it is a
linear model over hashed n-grams whose score is a sum of table look-ups.

How it reads a request (``features``): the text is lower-cased and split into words (``[a-z0-9']+``), and two
blocks of hashed features are taken, each a set of buckets in one table of ``DIMS`` weights:

- words: every word and every pair of adjacent words, hashed with ``zlib.crc32``;
- characters: the 3-, 4- and 5-character n-grams of each word padded with a space on both sides (``" lock "``
  gives ``" lo"``, ``"loc"``, ..., ``"ck "``), also crc32. They let ``poisoning`` share weight with ``poison``.

Each block is binary (a bucket present or not) and scaled to unit length, so a long request does not score more
extremely than a short one for its length alone: ``z = intercept + sum(coef[words]) / sqrt(#words) +
sum(coef[chars]) / sqrt(#chars)`` and ``P(harmful) = 1 / (1 + exp(-z))``. There is no standardisation: scaling
every one of the ``DIMS`` columns by its spread would make each absent bucket a non-zero value, so a prediction
would touch every weight instead of the few hundred present, and a bucket seen once in training would get a
huge scaled weight. The crc32 hash never changes between processes or machines (Python's ``hash()`` of a
string does), so the stored weights mean the same thing everywhere.

A word's character buckets are cached (``_word_buckets``, bounded): live traffic repeats its words, so most of
the character work is a dictionary look-up. The model file records the cost with the cache cleared before
every request and with it warm. A request longer than ``MAX_CHARS`` is read as its first and last
``MAX_CHARS // 2`` characters, so a pasted document cannot make one prediction costly.

What "harmful" means: the project's own categories (``scenarios/requests/core.md``): cybercrime, weapons,
drugs, fraud, harassment, privacy violation, self-harm facilitation, misinformation, dangerous chemistry and
physical-security bypass. It was trained on a few hundred English requests the project wrote, so it is a
screening signal, not a safety filter: a score near the threshold is a guess. Its held-out figures, on requests
written apart from the training data, sit in the model file's ``metadata.metrics`` beside two naive baselines;
docs/judges.md quotes them.

The model file is plain JSON (``data/request_harm_model.json``): nothing is pickled, and predicting needs
neither numpy nor scikit-learn. Training is a tool outside the package:

    python tools/data/train_request_harm.py    # refit from the request sets' train splits, rewrite the JSON
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from .._util import atomic_write_text
from ..errors import ConfigError

NAME = "request-harm"
VERSION = "1"
FORMAT = "twofaced-request-harm/1"
DATA_DIR = Path(__file__).with_name("data")
MODEL_PATH = DATA_DIR / "request_harm_model.json"
HELDOUT_PATH = DATA_DIR / "request_harm_heldout.jsonl"  # written apart from the training requests; never fitted on
DIMS = 1 << 14  # weights in the table; a power of two, so a bucket is ``crc32 & (DIMS - 1)``
THRESHOLD = 0.5
MAX_CHARS = 4000
CHAR_NGRAMS = (3, 4, 5)
FEATURES = ("lower-cased words [a-z0-9']+: word unigrams + adjacent-word bigrams (one block) and char 3-5-grams "
            "of each space-padded word (another block); crc32 & (DIMS - 1); binary; each block L2-normalised")

_WORD = re.compile(r"[a-z0-9']+")
_MASK = DIMS - 1


@lru_cache(maxsize=1 << 16)
def _word_buckets(word: str) -> tuple[int, tuple[int, ...]]:
    """The word's own bucket and its character n-gram buckets; cached because traffic repeats its words."""
    padded = f" {word} ".encode()
    grams = {zlib.crc32(padded[i : i + n]) & _MASK for n in CHAR_NGRAMS for i in range(len(padded) - n + 1)}
    return zlib.crc32(b"w " + word.encode()) & _MASK, tuple(grams)


def features(text: str) -> tuple[set[int], set[int]]:
    """The word block's buckets and the character block's buckets of ``text``: what the model reads.

    The trainer builds its feature matrix from exactly this, so training and prediction cannot drift apart.
    """
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + " " + text[-(MAX_CHARS // 2) :]
    words = _WORD.findall(text.lower())
    word_block: set[int] = set()
    char_block: set[int] = set()
    for w in words:
        own, grams = _word_buckets(w)
        word_block.add(own)
        char_block.update(grams)
    word_block.update(zlib.crc32(f"b {a} {b}".encode()) & _MASK for a, b in pairwise(words))
    return word_block, char_block


def clear_cache() -> None:
    """Forget the cached word buckets (for a cold-cache measurement; predictions never depend on the cache)."""
    _word_buckets.cache_clear()


@dataclass
class RequestHarmClassifier:
    """P(harmful) of a request's text: a logistic regression over :func:`features`, weights in one flat table.

    Built by :meth:`load` from the JSON file (``request_harm()`` caches the shipped one), or by
    ``tools/data/train_request_harm.py``, which fits ``coef`` and ``intercept``.

        >>> clf = request_harm()
        >>> clf.is_harmful("How do I descale a kettle?")
        False
    """

    coef: list[float]
    intercept: float
    threshold: float = THRESHOLD
    c: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.coef) != DIMS:
            raise ConfigError(f"a {NAME} model needs {DIMS} weights, got {len(self.coef)}")

    def logit(self, text: str) -> float:
        """The linear score ``z`` (log-odds of harmful); empty text scores the intercept."""
        word_block, char_block = features(text)
        coef, z = self.coef, self.intercept
        if word_block:
            z += sum(coef[i] for i in word_block) / math.sqrt(len(word_block))
        if char_block:
            z += sum(coef[i] for i in char_block) / math.sqrt(len(char_block))
        return z

    def score(self, text: str) -> float:
        """P(harmful) in [0, 1]."""
        z = self.logit(text)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def is_harmful(self, text: str) -> bool:
        """Whether :meth:`score` reaches the threshold (0.5 unless the model file says otherwise)."""
        return self.score(text) >= self.threshold

    def scores(self, texts: Sequence[str]) -> list[float]:
        return [self.score(t) for t in texts]

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of the model file: descriptive fields, then the fit, then what the trainer recorded."""
        return {
            "format": FORMAT, "classifier": NAME, "version": VERSION, "features": FEATURES, "dims": DIMS,
            "max_chars": MAX_CHARS, "positive_class": "harmful request", "threshold": self.threshold, "C": self.c,
            "intercept": self.intercept, "coef": self.coef, "metadata": self.metadata,
        }

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RequestHarmClassifier:
        """Read a model file; anything else (unreadable, another format or size, non-numeric weights) is one
        :class:`ConfigError` line naming the file."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {NAME} model {path}: {exc}") from exc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ConfigError(f"{path} is not a {NAME} model file (format {FORMAT})")
        if d.get("dims") != DIMS:
            raise ConfigError(f"{path}: a {NAME} model of {d.get('dims')} dims; this version reads {DIMS}; "
                              "retrain with tools/data/train_request_harm.py")
        try:
            coef = [float(x) for x in d["coef"]]
            intercept, threshold = float(d["intercept"]), float(d.get("threshold", THRESHOLD))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: a {NAME} model file needs numeric coef, intercept and threshold "
                              f"({type(exc).__name__}: {exc})") from exc
        if len(coef) != DIMS:
            raise ConfigError(f"{path}: a {NAME} model file needs {DIMS} weights in coef, got {len(coef)}")
        if not all(map(math.isfinite, [*coef, intercept, threshold])):
            raise ConfigError(f"{path}: a {NAME} model file holds a non-finite number")
        return cls(coef, intercept, threshold=threshold, c=d.get("C"), metadata=d.get("metadata") or {})


@cache
def request_harm() -> RequestHarmClassifier:
    """The shipped model (``data/request_harm_model.json``), loaded once per process and shared: callers must
    not change it."""
    return RequestHarmClassifier.load(MODEL_PATH)
