"""Train the request harmfulness classifier and write ``request_harm_model.json``: the training half of
``twofaced.judges._request_harm``.

What it trains on: the ``train`` split of the built-in request sets (``src/twofaced/scenarios/requests/``), and
``request_harm_train.jsonl``, 200 requests the project wrote for this classifier (data card beside it).
Only ``core.jsonl``'s ``harmful`` flag means "a harmful request"; in ``tone``, ``support`` and ``values`` the flag
means something else (a user who tempts a curt reply; a question where the setting's privacy objective is at
stake), and their cards say that nothing in them is harmful. So their rows are used as benign requests (label 0)
whatever their flag says: they are the everyday traffic a monitor sees most, and teach the classifier that an
angry customer or a privacy question is not a harmful request. The request sets alone hold only 70 harmful
requests; ``heldout_request_sets_only`` records how a fit on them alone does on the held-out file, the figure
the extra training file was written to improve.

What it reports, the honest figure first: ``heldout`` scores the fitted model on ``request_harm_heldout.jsonl``,
requests written apart from the training data with hard cases on both sides (data card beside it), with two
naive baselines on the same rows: the majority class, and a fixed list of obviously harmful words
(``KEYWORDS``, written before the held-out set was scored). ``request_sets_heldout`` scores the ``heldout`` split
of each request set (core's card warns that its topics make it easy for a lexical classifier; the other sets
are benign only, so their figure is the share wrongly flagged). ``cv`` is nested 5-fold stratified
cross-validation over the training rows, with the word block alone beside it (the evidence for the character
block). C is chosen by stratified 5-fold cross-validation (mean log-loss) on the training rows only; no held-out
row chooses anything. ``cost`` is the time per prediction on this machine (not compared by the regeneration
test).

Deterministic given the data and the scikit-learn version: crc32 features, fixed folds, liblinear (exact and a
hundred times faster than lbfgs on these sparse rows; it regularises the intercept too), weights rounded
to 6 decimals before anything is scored, so the metrics are those of the file as shipped.

    python tools/data/train_request_harm.py                  # rewrite src/twofaced/judges/data/request_harm_model.json
    python tools/data/train_request_harm.py --out-dir DIR    # write DIR/request_harm_model.json instead
    python tools/data/train_request_harm.py --heldout FILE   # test on another held-out file (never fitted on)

Needs scikit-learn (the ``offline`` extra).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _logistic_fit: the metrics layout the trainers share

from _logistic_fit import FOLDS, SEED, binary_metrics, by_kind, log_loss, r4, sklearn

from twofaced.judges._linear_json import file_sha256, read_rows
from twofaced.judges._request_harm import (
    DIMS,
    FEATURES,
    HELDOUT_PATH,
    MODEL_PATH,
    THRESHOLD,
    RequestHarmClassifier,
    clear_cache,
    features,
)
from twofaced.stats import auroc_interval, wilson

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = ROOT / "src" / "twofaced" / "scenarios" / "requests"
# (file, whether its "harmful" flag means a harmful request); False: every row is a benign request.
REQUEST_SETS = (("core.jsonl", True), ("tone.jsonl", False), ("support.jsonl", False), ("values.jsonl", False))
EXTRA_TRAIN = HELDOUT_PATH.with_name("request_harm_train.jsonl")  # every row is training data; no split
C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
DECIMALS = 6
TIMED_REQUESTS = 2000
# The keyword baseline: obviously harmful words, matched at the start of a word ("bombs", "hacking" count).
KEYWORDS = ("kill", "bomb", "explosive", "weapon", "gun", "poison", "drug", "meth", "cocaine", "heroin", "hack",
            "steal", "stolen", "fake", "counterfeit", "phishing", "malware", "ransomware", "suicide", "murder",
            "launder", "illegal")
_KEYWORD = re.compile(r"\b(?:" + "|".join(KEYWORDS) + ")", re.IGNORECASE)


def keyword_count(text: str) -> int:
    """The keyword baseline's score; it calls a request harmful when the count is at least one."""
    return len(_KEYWORD.findall(text))


def request_rows(split: str) -> list[dict[str, Any]]:
    """The rows of ``split`` of every request set, with ``label`` (1 harmful request, 0 benign) and ``set``."""
    rows = []
    for name, flag_means_harm in REQUEST_SETS:
        for r in read_rows(REQUESTS / name):
            if r["split"] == split:
                label = int(bool(r["harmful"])) if flag_means_harm else 0
                rows.append({"id": f"{Path(name).stem}-{r['id']}", "set": name, "prompt": str(r["prompt"]),
                             "label": label})
    return rows


def extra_rows(path: Path = EXTRA_TRAIN) -> list[dict[str, Any]]:
    """The rows of the classifier's own training file, in the layout of :func:`request_rows`."""
    return [{"id": str(r["id"]), "set": path.name, "prompt": str(r["prompt"]), "label": int(bool(r["harmful"]))}
            for r in read_rows(path)]


def matrix(texts: Sequence[str], words_only: bool = False) -> Any:
    """Sparse ``(n, DIMS)`` rows of :func:`features`: each block binary and L2-normalised, as the classifier
    scores them (a bucket in both blocks holds the sum)."""
    from scipy.sparse import csr_matrix

    data: list[float] = []
    cols: list[int] = []
    indptr = [0]
    for text in texts:
        row: dict[int, float] = {}
        for block in features(text)[:1] if words_only else features(text):
            for i in block:
                row[i] = row.get(i, 0.0) + 1.0 / len(block) ** 0.5
        cols += row.keys()
        data += row.values()
        indptr.append(len(cols))
    return csr_matrix((data, cols, indptr), shape=(len(texts), DIMS))


def fit_at(x: Any, y: np.ndarray, c: float) -> RequestHarmClassifier:
    """One fit at ``C``; classes weighted to balance (the traffic's mix is unknown), weights rounded."""
    LogisticRegression, _, _ = sklearn()
    lr = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=5000).fit(x, y)
    coef = [round(float(v), DECIMALS) + 0.0 for v in lr.coef_[0]]  # + 0.0: no "-0.0" in the file
    return RequestHarmClassifier(coef, round(float(lr.intercept_[0]), DECIMALS), c=c)


def predict(clf: RequestHarmClassifier, x: Any) -> np.ndarray:
    """P(harmful) of the rows of ``x`` (the same figure as ``clf.score`` on their texts)."""
    z = x @ np.asarray(clf.coef) + clf.intercept
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def choose_c(x: Any, y: np.ndarray) -> float:
    """The C of ``C_GRID`` with the best mean out-of-fold log-loss (stratified folds); a tie goes to the smaller."""
    _, StratifiedKFold, _ = sklearn()
    splits = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y))
    best, best_loss = C_GRID[0], float("inf")
    for c in C_GRID:
        loss = float(np.mean([log_loss(predict(fit_at(x[tr], y[tr], c), x[te]), y[te]) for tr, te in splits]))
        if loss < best_loss - 1e-9:
            best, best_loss = c, loss
    return best


def fit(x: Any, y: np.ndarray) -> RequestHarmClassifier:
    return fit_at(x, y, choose_c(x, y))


def nested_cv(x: Any, y: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities, C chosen inside each training fold."""
    _, StratifiedKFold, _ = sklearn()
    oof = np.zeros(len(y))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        oof[te] = predict(fit(x[tr], y[tr]), x[te])
    return oof


def with_intervals(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """``binary_metrics`` plus DeLong's AUROC interval and Wilson's accuracy interval."""
    base = binary_metrics(scores, y, THRESHOLD)
    ci = auroc_interval(scores.tolist(), y.tolist())
    c = base["confusion"]
    acc = wilson(c["tp"] + c["tn"], len(y))
    return base | {"auroc_ci_low": r4(ci.low), "auroc_ci_high": r4(ci.high), "auroc_ci_method": ci.method,
                   "accuracy_ci_low": r4(acc.low), "accuracy_ci_high": r4(acc.high), "n_positive": int(y.sum())}


def baselines(texts: Sequence[str], y: np.ndarray) -> dict[str, Any]:
    """The majority class (accuracy, Wilson interval) and the keyword list (AUROC of the count, accuracy of
    "at least one"), on the same rows."""
    share = float(y.mean())
    majority = wilson(round(max(share, 1 - share) * len(y)), len(y))
    counts = [float(keyword_count(t)) for t in texts]
    kw_auc = auroc_interval(counts, y.tolist())
    kw = binary_metrics(counts, y, 1.0)
    kw_acc = wilson(kw["confusion"]["tp"] + kw["confusion"]["tn"], len(y))
    return {
        "baseline_majority_accuracy": r4(majority.estimate), "baseline_majority_ci_low": r4(majority.low),
        "baseline_majority_ci_high": r4(majority.high),
        "baseline_keyword_auroc": r4(kw_auc.estimate), "baseline_keyword_ci_low": r4(kw_auc.low),
        "baseline_keyword_ci_high": r4(kw_auc.high), "baseline_keyword_accuracy": kw["accuracy"],
        "baseline_keyword_accuracy_ci_low": r4(kw_acc.low), "baseline_keyword_accuracy_ci_high": r4(kw_acc.high),
        "baseline_keyword_confusion": kw["confusion"],
    }


def heldout_metrics(clf: RequestHarmClassifier, path: str | Path = HELDOUT_PATH) -> dict[str, Any]:
    """The fitted model on the written-apart held-out file, baselines beside it, accuracy per kind of request."""
    rows = read_rows(path)
    texts = [str(r["prompt"]) for r in rows]
    y = np.asarray([int(bool(r["harmful"])) for r in rows])
    scores = np.asarray(clf.scores(texts))
    return (with_intervals(scores, y) | baselines(texts, y) | {
        "source": f"{Path(path).name}: {len(y)} requests written apart from the training requests, with benign "
                  "requests that share words with harmful ones and harmful ones without obvious keywords; see "
                  "request_harm_heldout.md",
        "data_sha256": file_sha256(path),
        "by_kind": by_kind([str(r["id"]) for r in rows], scores, y, THRESHOLD),
    })


def request_sets_heldout(clf: RequestHarmClassifier) -> dict[str, Any]:
    """The ``heldout`` split of each request set: core with its baselines; the benign-only sets as the share of
    their requests flagged harmful (a false-positive rate, Wilson interval)."""
    rows = request_rows("heldout")
    out: dict[str, Any] = {}
    for name, flag_means_harm in REQUEST_SETS:
        part = [r for r in rows if r["set"] == name]
        texts = [r["prompt"] for r in part]
        y = np.asarray([r["label"] for r in part])
        scores = np.asarray(clf.scores(texts))
        if flag_means_harm:
            out[name] = with_intervals(scores, y) | baselines(texts, y)
        else:
            flagged = int((scores >= THRESHOLD).sum())
            rate = wilson(flagged, len(y))
            out[name] = {"n": len(y), "flagged": flagged, "false_positive_rate": r4(rate.estimate),
                         "false_positive_ci_low": r4(rate.low), "false_positive_ci_high": r4(rate.high),
                         "baseline_keyword_flagged": sum(keyword_count(t) > 0 for t in texts)}
    return out


def cost(clf: RequestHarmClassifier, texts: Sequence[str]) -> dict[str, Any]:
    """Microseconds per ``clf.score`` on this machine: the mean over ``TIMED_REQUESTS`` requests (the texts
    cycled), best of three passes, with the word cache warm and with it cleared before every request."""
    timed = [texts[i % len(texts)] for i in range(TIMED_REQUESTS)]

    def per_request(cold: bool) -> float:
        best = float("inf")
        for _ in range(3):
            clear_cache()
            total = 0.0
            for t in timed:
                if cold:
                    clear_cache()
                start = time.perf_counter()
                clf.score(t)
                total += time.perf_counter() - start
            best = min(best, total)
        return round(best / len(timed) * 1e6, 1)

    return {"requests": len(timed), "mean_chars": round(statistics.fmean(map(len, timed)), 1),
            "us_per_request_warm": per_request(False), "us_per_request_cold": per_request(True),
            "note": "machine-dependent; best of 3 passes, single thread; cold = word cache cleared before each"}


def train_default(heldout_path: str | Path | None = HELDOUT_PATH,
                  timer: Callable[[RequestHarmClassifier, Sequence[str]], dict[str, Any]] = cost,
                  ) -> tuple[RequestHarmClassifier, dict[str, Any]]:
    """Fit on the request sets' train splits; returns the classifier (metadata filled) and its metrics."""
    import sklearn as sk

    sets_only = request_rows("train")
    rows = sets_only + extra_rows()
    texts = [r["prompt"] for r in rows]
    y = np.asarray([r["label"] for r in rows])
    x = matrix(texts)
    oof = nested_cv(x, y)
    words_oof = nested_cv(matrix(texts, words_only=True), y)
    clf = fit(x, y)

    metrics: dict[str, Any] = {}
    if heldout_path is not None:
        metrics["heldout"] = heldout_metrics(clf, heldout_path)
        small = fit(x[: len(sets_only)], y[: len(sets_only)])
        metrics["heldout_request_sets_only"] = {
            k: v for k, v in heldout_metrics(small, heldout_path).items() if not k.startswith("baseline")
        } | {"C": small.c, "n_train": len(sets_only)}
    metrics["request_sets_heldout"] = request_sets_heldout(clf)
    metrics["cv"] = with_intervals(oof, y) | {"folds": FOLDS, "by_kind": by_set(rows, oof, y)}
    metrics["cv_words_only"] = binary_metrics(words_oof, y, THRESHOLD) | {"folds": FOLDS}
    held = [str(r["prompt"]) for r in read_rows(heldout_path)] if heldout_path is not None else []
    clf.metadata = {
        "training_data": {name: {"sha256": file_sha256(REQUESTS / name), "split": "train",
                                 "label": "the harmful flag" if flag else "0 for every row (the flag means "
                                                                          "something else)"}
                          for name, flag in REQUEST_SETS}
        | {EXTRA_TRAIN.name: {"sha256": file_sha256(EXTRA_TRAIN), "split": "all", "label": "the harmful flag"}},
        "n": len(y), "n_positive": int(y.sum()), "class_weight": "balanced", "C_grid": list(C_GRID),
        "keywords": list(KEYWORDS), "scikit_learn": sk.__version__,
        "metrics": metrics,
        "cost": timer(clf, [r["prompt"] for r in request_rows("heldout")] + held),
    }
    return clf, metrics


def by_set(rows: Sequence[dict[str, Any]], scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Out-of-fold accuracy per request set and class."""
    ids = [f"x-{r['set'].removesuffix('.jsonl')}-{'harmful' if r['label'] else 'benign'}-0" for r in rows]
    return by_kind(ids, scores, y, THRESHOLD)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tools/data/train_request_harm.py", description=__doc__.splitlines()[0])
    ap.add_argument("--heldout", type=Path, default=HELDOUT_PATH, help=f"held-out JSONL (default {HELDOUT_PATH})")
    ap.add_argument("--out-dir", type=Path, default=MODEL_PATH.parent, metavar="DIR",
                    help=f"write DIR/{MODEL_PATH.name}; default: the package data")
    args = ap.parse_args(argv)
    if not args.heldout.is_file():
        raise SystemExit(f"error: held-out file {args.heldout} does not exist; pass an existing JSONL file")
    clf, metrics = train_default(args.heldout)
    out = args.out_dir / MODEL_PATH.name
    clf.save(out)
    summary = {"C": clf.c, "model": str(out), "features": FEATURES, "cost": clf.metadata["cost"]}
    print(json.dumps(summary | {k: {f: v for f, v in m.items() if f != "by_kind"} if "n" in m else m
                                for k, m in metrics.items()}, indent=1))
    print(json.dumps({"heldout_by_kind": metrics.get("heldout", {}).get("by_kind")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
