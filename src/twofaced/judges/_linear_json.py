"""A standardised logistic regression stored as plain JSON: the inference half every offline judge shares.

Why JSON: nothing is pickled, so loading a model file cannot run code, and predicting needs numpy and the judge's
featurizer but no scikit-learn (the fitting lives in ``tools/data/``, outside the package). The judges differ only
in what they read and how they turn text into features (``_af_offline.py``, ``_tone_offline.py``); the stored
classifier, its file layout and its checks are this one piece of code.

The file layout, in this key order (the trainers' regeneration test compares the files field by field):
``format``, ``judge``, ``version``, the judge's own descriptive fields (:attr:`LinearJsonClassifier.header`),
``threshold``, ``C``, ``intercept``, ``mean``, ``scale``, ``coef``, ``metadata`` (whatever the trainer recorded).

A judge subclasses :class:`LinearJsonClassifier`, sets the class constants and :meth:`featurize`:

    class OfflineToneClassifier(LinearJsonClassifier):
        judge, version, file_format, described = "tone-offline", "1", "twofaced-tone-offline/1", "tone"
        threshold, model_path, header = 0.5, MODEL_PATH, {"features": FEATURES}

        def featurize(self, texts): return featurize(texts)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from .._util import atomic_write_text, iter_jsonl
from ..errors import ConfigError


@dataclass
class LinearJsonClassifier:
    """Standardise, then logistic regression: ``P = 1 / (1 + exp(-(((x - mean) / scale) @ coef + intercept)))``.

    Built by :meth:`load` from the JSON file, or by a trainer in ``tools/data/`` that fits the fields. The class
    constants name the judge; :meth:`featurize` is the judge's own reading of a text.
    """

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: float = 0.0
    c: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    judge: ClassVar[str]  # the judge's registered name, written as "judge"
    version: ClassVar[str]
    file_format: ClassVar[str]  # "format" in the file; load refuses any other
    described: ClassVar[str]  # what is classified, for messages: "the offline {described} classifier"
    threshold: ClassVar[float]
    model_path: ClassVar[Path]  # the model file shipped with the package
    header: ClassVar[dict[str, Any]]  # the judge's descriptive fields, written after "version"

    def featurize(self, texts: Sequence[str]) -> np.ndarray:
        """One row of features per text; the judge's subclass says how."""
        raise NotImplementedError

    def _fitted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.mean is None or self.scale is None or self.coef is None:
            raise ConfigError(f"the offline {self.described} classifier is not fitted")
        return self.mean, self.scale, self.coef

    def predict_proba_features(self, x: np.ndarray) -> np.ndarray:
        """The positive class's probability for each row of features made by :meth:`featurize`."""
        mean, scale, coef = self._fitted()
        z = ((np.asarray(x, dtype=np.float64) - mean) / scale) @ coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The positive class's probability for each text; an empty list embeds nothing."""
        if not texts:
            return np.zeros(0)
        return self.predict_proba_features(self.featurize(texts))

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of the model file (see the module docstring for the key order)."""
        mean, scale, coef = self._fitted()
        return {
            "format": self.file_format,
            "judge": self.judge,
            "version": self.version,
            **self.header,
            "threshold": self.threshold,
            "C": self.c,
            "intercept": self.intercept,
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "coef": coef.tolist(),
            "metadata": self.metadata,
        }

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model file of this judge; anything else (unreadable, another format, ragged arrays) is a
        :class:`ConfigError` naming the file."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {cls.judge} model {path}: {exc}") from exc
        article = "an" if cls.judge[:1] in "aeiou" else "a"
        if not isinstance(d, dict) or d.get("format") != cls.file_format:
            raise ConfigError(f"{path} is not {article} {cls.judge} model file (format {cls.file_format})")
        try:
            mean, scale, coef = (np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef"))
            intercept = float(d["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: {article} {cls.judge} model file needs numeric mean, scale, coef and intercept "
                              f"({exc})") from exc
        if not mean.shape == scale.shape == coef.shape:
            raise ConfigError(f"{path}: mean, scale and coef differ in length")
        return cls(mean, scale, coef, intercept=intercept, c=d.get("C"), metadata=d.get("metadata", {}))

    @classmethod
    def load_default(cls) -> Self:
        """The model file shipped with the package (:attr:`model_path`)."""
        return cls.load(cls.model_path)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes: a model file records those of the labelled files it was trained and tested on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a labelled JSON Lines file, in order (a bad line is a ConfigError naming it)."""
    return [row for _, row in iter_jsonl(Path(path).read_text(encoding="utf-8"), str(path))]
