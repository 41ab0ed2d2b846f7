"""Linear probes on activations: three ways to find a direction, a per-layer sweep, a threshold, metrics.

Methods (each gives a direction ``w`` and a score ``w . (x - mean) / scale``, higher = positive class):

- ``logistic``: L2-regularised logistic regression on standardised features (mean and scale of the training
  rows), ``C`` fixed at :data:`LOGISTIC_C` (strong: there are far fewer rows than the 576 dimensions).
- ``diff-means``: the difference of the class means of the standardised training rows.
- ``pca``: the first principal direction (uncentred) of the contrast differences (positive minus negative
  member of each training pair, standardised), signed so the mean difference projects positive.

Invariants:
- The layer is chosen on the validation split only: the highest validation AUROC, ties broken by the
  validation separation d' (difference of class means over the pooled standard deviation), then by the lower
  layer. The test split is never looked at before the choice.
- The threshold is set on the validation negatives (the ordinary requests): the smallest value that at most 1%
  of them exceed. With fewer than 100 negatives that is their maximum, so the realised false positive rate on
  new data can be higher than 1%; ``fpr`` on the test negatives reports it.
- A probe carries the sha256 of the weights it was fitted on (:func:`._activations.model_hash`); using it on
  other weights is refused with one line.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._util import atomic_write, atomic_write_text
from ..errors import ConfigError
from ..stats import auroc_interval

METHODS = ("logistic", "diff-means", "pca")
LOGISTIC_C = 0.05
TARGET_FPR = 0.01
FORMAT = 1


@dataclass
class Probe:
    """A fitted probe: where it reads (layer, position), its direction and standardisation, its threshold, and
    the model it belongs to."""

    method: str
    target: str
    layer: int
    position: str
    direction: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    threshold: float
    model_hash: str
    model_spec: str
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores of rows ``x`` ``[n, hidden]`` at this probe's layer."""
        return np.asarray(((x - self.mean) / self.scale) @ self.direction, dtype=np.float64)

    def check_model(self, digest: str, spec: str) -> None:
        if digest != self.model_hash:
            raise ConfigError(
                f"this probe was trained on {self.model_spec} (weights {self.model_hash[:12]}), not on {spec} "
                f"(weights {digest[:12]}); train one for it with: twofaced probe train --model {spec}"
            )

    def save(self, out: Path) -> Path:
        """``out/probe.json`` + ``out/direction.npy``, ``mean.npy``, ``scale.npy``, each written atomically."""
        out.mkdir(parents=True, exist_ok=True)
        for name in ("direction", "mean", "scale"):
            buf = io.BytesIO()
            np.save(buf, np.asarray(getattr(self, name), dtype=np.float64))
            atomic_write(out / f"{name}.npy", [buf.getvalue()], binary=True)
        head = {k: v for k, v in asdict(self).items() if k not in ("direction", "mean", "scale")}
        atomic_write_text(out / "probe.json", json.dumps({"format": FORMAT, **head}, indent=2, default=float) + "\n")
        return out

    @classmethod
    def load(cls, path: Path) -> Probe:
        """The probe saved in directory ``path``; a one-line error when it is missing or unreadable."""
        head_file = path / "probe.json"
        if not head_file.is_file():
            raise ConfigError(f"{path} holds no probe (no probe.json); make one with: twofaced probe train ... "
                              f"--out {path}")
        try:
            head = json.loads(head_file.read_text(encoding="utf-8"))
            arrays = {name: np.load(path / f"{name}.npy") for name in ("direction", "mean", "scale")}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: the probe is unreadable ({exc}); train it again") from exc
        if head.pop("format", None) != FORMAT:
            raise ConfigError(f"{path}: probe format not understood by this twofaced; train it again")
        return cls(**head, **arrays)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def fit_direction(method: str, x: np.ndarray, y: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                          np.ndarray]:
    """(direction, mean, scale) of ``method`` fitted on rows ``x`` with labels ``y`` and pair ids ``pairs``."""
    if method not in METHODS:
        raise ConfigError(f"unknown probe method {method!r}; use one of: {', '.join(METHODS)}")
    if len(set(y.tolist())) < 2:
        raise ConfigError("too little data for a split: the training part holds one class only")
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    if method == "logistic":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=LOGISTIC_C, max_iter=2000)
        clf.fit(z, y)
        w = clf.coef_[0].astype(np.float64)
    elif method == "diff-means":
        w = z[y == 1].mean(axis=0) - z[y == 0].mean(axis=0)
    else:
        diffs = []
        for p in np.unique(pairs):
            rows = np.flatnonzero(pairs == p)
            pos, neg = rows[y[rows] == 1], rows[y[rows] == 0]
            if len(pos) and len(neg):
                diffs.append(z[pos].mean(axis=0) - z[neg].mean(axis=0))
        if len(diffs) < 2:
            raise ConfigError("too little data for a split: the pca method needs at least 2 complete pairs")
        d = np.stack(diffs)
        # Uncentred, as representation engineering does with randomly sign-flipped pairs: centring would remove
        # the very shift that every pair shares.
        _, _, vt = np.linalg.svd(d, full_matrices=False)
        w = vt[0]
        if d.mean(axis=0) @ w < 0:
            w = -w
    norm = float(np.linalg.norm(w))
    return (w / norm if norm > 0 else w), mean, scale


def threshold_at(negatives: np.ndarray, fpr: float = TARGET_FPR) -> float:
    """The smallest threshold that at most ``fpr`` of ``negatives`` exceed (a score > threshold is flagged)."""
    if len(negatives) == 0:
        raise ConfigError("too little data for a split: no negative example to set the threshold on")
    s = np.sort(negatives)[::-1]
    allowed = math.floor(fpr * len(s))  # how many negatives may lie above the threshold
    return float(s[allowed])


def dprime(scores: np.ndarray, y: np.ndarray) -> float:
    pos, neg = scores[y == 1], scores[y == 0]
    pooled = math.sqrt((pos.var() + neg.var()) / 2) or 1e-12
    return float((pos.mean() - neg.mean()) / pooled)


def metrics(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC with its interval (DeLong where defined), recall and false positive rate at ``threshold``."""
    iv = auroc_interval(scores.tolist(), y.astype(int).tolist())
    pos, neg = scores[y == 1], scores[y == 0]
    return {
        "auroc": iv.estimate, "auroc_low": iv.low, "auroc_high": iv.high, "auroc_method": iv.method,
        "recall_at_1pct_fpr": float((pos > threshold).mean()) if len(pos) else None,
        "fpr": float((neg > threshold).mean()) if len(neg) else None,
        "n_pos": len(pos), "n_neg": len(neg),
    }


@dataclass
class SweepRow:
    layer: int
    val_auroc: float | None
    val_dprime: float


def sweep(acts: np.ndarray, layers: list[int], y: np.ndarray, pairs: np.ndarray, train: np.ndarray,
          val: np.ndarray, method: str) -> tuple[int, list[SweepRow], dict[int, tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray]]]:
    """Fit ``method`` at every layer (``acts`` is ``[n, len(layers), hidden]``) on ``train`` rows; return the
    layer chosen on ``val`` rows, the sweep table and every layer's fit."""
    rows: list[SweepRow] = []
    fits = {}
    for j, layer in enumerate(layers):
        fit = fit_direction(method, acts[train, j], y[train], pairs[train])
        fits[layer] = fit
        w, mean, scale = fit
        s = ((acts[val, j] - mean) / scale) @ w
        rows.append(SweepRow(layer, auroc_interval(s.tolist(), y[val].astype(int).tolist()).estimate,
                             dprime(s, y[val])))
    best = max(rows, key=lambda r: (r.val_auroc if r.val_auroc is not None else -1.0, r.val_dprime, -r.layer))
    return best.layer, rows, fits
