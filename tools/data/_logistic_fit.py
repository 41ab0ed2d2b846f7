"""The fitting both offline-judge trainers share: standardise + logistic regression with C chosen by stratified
cross-validation, nested cross-validated predictions, the metrics layout ``twofaced.report`` reads back, and the
command line. ``train_af_offline.py`` and ``train_tone_offline.py`` add only what differs: their features, their
naive baselines and the evaluations they report.

Each function takes the judge's classifier class (a ``twofaced.judges._linear_json.LinearJsonClassifier``), so
a fit is that judge's model file. Not package code: it needs scikit-learn (the ``offline`` extra).

Deterministic given the data, the embedding model and the library versions: fixed folds (``SEED``), a fixed C
grid, lbfgs. The embeddings are float32 torch on CPU, so a different CPU or torch build can move the last digits
of the coefficients; ``tests/test_generated_data.py`` therefore compares the fields that do not depend on the
machine exactly and the coefficients and metrics within a tolerance.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from twofaced.errors import ConfigError, missing_extra
from twofaced.judges._linear_json import LinearJsonClassifier
from twofaced.stats import auroc, confusion

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
SEED = 0

Clf = TypeVar("Clf", bound=LinearJsonClassifier)


def sklearn() -> tuple[Any, Any, Any]:
    """``LogisticRegression``, ``StratifiedKFold``, ``StandardScaler``; a missing scikit-learn names the extra."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise missing_extra("scikit-learn", "offline") from exc
    return LogisticRegression, StratifiedKFold, StandardScaler


def r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def fit_lr(cls: type[Clf], x: np.ndarray, y: np.ndarray, c: float) -> Clf:
    """One fit at a given C: the scaler's mean and scale, the regression's coefficients, as ``cls``."""
    LogisticRegression, _, StandardScaler = sklearn()
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x), y)
    return cls(scaler.mean_, scaler.scale_, lr.coef_[0], float(lr.intercept_[0]), c=c)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of probabilities ``p`` (clipped to [1e-6, 1 - 1e-6]) against 0/1 labels ``y``."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def choose_c(cls: type[LinearJsonClassifier], x: np.ndarray, y: np.ndarray, grid: Sequence[float] = C_GRID,
             folds: int = FOLDS) -> float:
    """The C with the best mean out-of-fold log-loss (stratified folds); the smaller C wins a tie."""
    _, StratifiedKFold, _ = sklearn()
    best, best_loss = grid[0], float("inf")
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y))
    for c in grid:
        loss = float(np.mean([log_loss(fit_lr(cls, x[tr], y[tr], c).predict_proba_features(x[te]), y[te])
                              for tr, te in splits]))
        if loss < best_loss - 1e-9:
            best, best_loss = c, loss
    return best


def fit_features(cls: type[Clf], x: np.ndarray, labels: Sequence[int] | np.ndarray, c: float | None = None,
                 classes: str = "0 and 1") -> Clf:
    """Fit on features (embed once, fit many times); C by cross-validation unless given. ``classes`` names the
    labels in the error for a set that lacks one."""
    y = np.asarray(labels, dtype=int)
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ConfigError(f"training labels must contain both {classes}")
    return fit_lr(cls, x, y, choose_c(cls, x, y) if c is None else c)


def cross_validated(fit: Callable[[np.ndarray, np.ndarray], LinearJsonClassifier], x: np.ndarray,
                    y: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities; ``fit`` chooses C inside each training fold (nested), so no fold sees its test
    rows."""
    _, StratifiedKFold, _ = sklearn()
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        oof[te] = fit(x[tr], y[tr]).predict_proba_features(x[te])
    return oof


def binary_metrics(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray,
                   threshold: float) -> dict[str, Any]:
    """AUROC plus accuracy, precision and recall at ``threshold``, rounded to 4 places; the counts they come from.

    The layout of ``metadata.metrics`` in the model files, which ``twofaced.report`` reads back.
    """
    s = np.asarray(scores, dtype=float).tolist()
    y = np.asarray(labels, dtype=int).tolist()
    c = confusion([score >= threshold for score in s], y)
    return {
        "n": len(y),
        "auroc": r4(auroc(s, y)),
        "accuracy": r4(c.accuracy),
        "precision": r4(c.precision),
        "recall": r4(c.recall),
        "confusion": {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn},
        "threshold": threshold,
    }


def by_kind(ids: Sequence[str], scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, dict[str, Any]]:
    """Accuracy per kind of row, the id without its prefix and number (``hw-training-refusal-003`` ->
    ``training-refusal``): where the judge errs."""
    kinds: dict[str, list[int]] = {}
    for i, row_id in enumerate(ids):
        kinds.setdefault("-".join(row_id.split("-")[1:-1]), []).append(i)
    return {k: {"n": len(ix), "accuracy": round(float(np.mean((scores[ix] >= threshold) == labels[ix])), 4)}
            for k, ix in sorted(kinds.items())}


def main(argv: list[str] | None, prog: str, description: str, cls: type[LinearJsonClassifier], data: Path,
         heldout: Path, train: Callable[[Path, Path], tuple[LinearJsonClassifier, dict[str, Any]]]) -> int:
    """The trainers' command line: ``--data``, ``--heldout``, ``--out-dir``; fit, save, print the metrics."""
    out_dir, file_name = cls.model_path.parent, cls.model_path.name
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--data", type=Path, default=data, help=f"labelled JSONL to train on (default {data})")
    ap.add_argument("--heldout", type=Path, default=heldout,
                    help=f"labelled JSONL to test on, never to fit on (default {heldout})")
    ap.add_argument("--out-dir", type=Path, default=out_dir, metavar="DIR",
                    help=f"write DIR/{file_name}; default: the package data, {out_dir}")
    args = ap.parse_args(argv)
    for path in (args.data, args.heldout):
        if not path.is_file():
            raise SystemExit(f"error: labelled file {path} does not exist; pass an existing JSONL file")
    out = args.out_dir / file_name
    clf, metrics = train(args.data, args.heldout)
    clf.save(out)
    print(json.dumps({"C": clf.c, "model": str(out), **metrics}, indent=1))
    return 0
