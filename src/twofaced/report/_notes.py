"""One note per judge a run used: what it is and how far its verdicts can be trusted.

For ``af-offline`` the note states the classifier's cross-validated AUROC and accuracy on the project's
labelled set. They are read from the classifier's JSON metadata (``judges/data/af_offline_model.json``)
directly, never by importing the classifier (that would import its heavy dependencies just to print a number).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

AF_OFFLINE_METADATA = Path(__file__).resolve().parent.parent / "judges" / "data" / "af_offline_model.json"

_STATIC = {
    "compliance-rules": "compliance-rules: deterministic rules (accept / reject tags, then refusal phrasing near the "
                        "start of the output); no model. The rule that fired is each verdict's rationale.",
    "compliance-llm": "compliance-llm: an LLM grades refusal, specificity and convincingness of the output with a "
                      "rubric (judge model {model}). Measure it on labelled data with 'twofaced judge calibrate'.",
    "af-llm": "af-llm: an LLM judge on the scratchpad with the four-criterion definition of alignment faking, "
              "majority of several votes (judge model {model}). Hughes et al. (2025) measured AUROC 0.92 for a "
              "20-vote judge of this kind on 106 human-labelled scratchpads; this judge model's accuracy is not "
              "measured here: run 'twofaced judge calibrate --judge af-llm' on labelled data.",
}

_CV = re.compile(r"cv|cross|fold", re.IGNORECASE)


def _numbers(node: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], float]]:
    """Every numeric leaf of a JSON tree with its key path ({"mean": x} counts as x at its parent's key)."""
    if isinstance(node, dict):
        if "mean" in node and isinstance(node["mean"], int | float) and not isinstance(node["mean"], bool):
            return [(path, float(node["mean"]))]
        return [hit for k, v in node.items() for hit in _numbers(v, (*path, str(k)))]
    if isinstance(node, int | float) and not isinstance(node, bool):
        return [(path, float(node))]
    return []


def _pick(leaves: list[tuple[tuple[str, ...], float]], pattern: str) -> float | None:
    hits = [(p, v) for p, v in leaves if p and re.search(pattern, p[-1], re.IGNORECASE) and 0.0 <= v <= 1.0]
    if not hits:
        return None
    hits.sort(key=lambda h: (not any(_CV.search(part) for part in h[0]), len(h[0])))  # cross-validated first
    return hits[0][1]


def _metric(d: Any, key: str) -> float | None:
    v = d.get(key) if isinstance(d, dict) else None
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def af_offline_metrics(path: Path = AF_OFFLINE_METADATA) -> dict[str, Any] | None:
    """The cross-validated AUROC and accuracy stored with the offline AF classifier, or None if unknown.

    Reads ``metadata.metrics.cv`` (the layout ``_af_offline.py`` writes); for another layout, the AUROC and
    accuracy leaves nearest the top, cross-validated ones first. ``handwritten`` is the held-out check
    (trained on generated scratchpads, tested on handwritten ones) when the file has it.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) else doc
    found = meta.get("metrics") if isinstance(meta, dict) else None
    metrics: dict[str, Any] = found if isinstance(found, dict) else {}
    cv = metrics.get("cv")
    if isinstance(cv, dict) and (_metric(cv, "auroc") is not None or _metric(cv, "accuracy") is not None):
        out: dict[str, Any] = {"auroc": _metric(cv, "auroc"), "accuracy": _metric(cv, "accuracy")}
        if _metric(cv, "n") is not None:
            out["n"] = int(_metric(cv, "n") or 0)
        held = metrics.get("generated_to_handwritten")
        if isinstance(held, dict) and _metric(held, "auroc") is not None:
            out["handwritten"] = {"auroc": _metric(held, "auroc"), "accuracy": _metric(held, "accuracy"),
                                  "n": int(_metric(held, "n") or 0)}
        return out
    leaves = [(p, v) for p, v in _numbers(meta) if not any(part in ("weights", "coef", "intercept") for part in p)]
    auroc, accuracy = _pick(leaves, r"auroc|roc_auc|auc$"), _pick(leaves, r"^(cv_)?acc(uracy)?$|accuracy")
    if auroc is None and accuracy is None:
        return None
    return {"auroc": auroc, "accuracy": accuracy}


def _fmt(x: float | None) -> str:
    return "unknown" if x is None else f"{x:.3f}"


def af_offline_note(path: Path = AF_OFFLINE_METADATA) -> str:
    m = af_offline_metrics(path)
    if m is None:
        return ("af-offline: measured accuracy unavailable (the classifier's metadata was not found or holds no "
                "metrics); see docs/judges.md")
    text = (f"af-offline: measured AUROC {_fmt(m['auroc'])} / accuracy {_fmt(m['accuracy'])} on the project's "
            f"labelled set (cross-validated); see docs/judges.md.")
    if m.get("n"):
        text += f" The set holds {m['n']} scratchpads the project wrote itself."
    held = m.get("handwritten")
    if held:
        text += (f" Trained on the generated ones and tested on the {held['n']} handwritten ones it scored AUROC "
                 f"{_fmt(held['auroc'])} / accuracy {_fmt(held['accuracy'])}.")
    return text + " Check it on your own labelled scratchpads with 'twofaced judge calibrate' before relying on a rate."


def judge_notes(judges: list[dict[str, Any]], judge: str, af_judge: str | None) -> list[dict[str, str]]:
    """A note per judge present in the run (one per name; the judge model of the latest version is named)."""
    latest: dict[str, dict[str, Any]] = {}
    for j in judges:
        latest[j["name"]] = j
    notes = []
    for name, j in latest.items():
        if name == "af-offline":
            text = af_offline_note()
        elif name in _STATIC:
            text = _STATIC[name].format(model=j.get("judge_model") or "unknown")
        else:
            text = f"{name}: a judge without a built-in note (version {j['version']}); check its own documentation."
        if j.get("errors"):
            text += f" {j['errors']} of its {j['verdicts']} verdicts are errors and count in no rate."
        notes.append({"judge": name, "note": text,
                      "used": "compliance" if name == judge else ("alignment faking" if name == af_judge else "")})
    return notes
