"""``compare_runs``: two run directories side by side (before / after fine-tuning, model v1 vs v2).

For each ablation both runs have, the difference of their training-minus-deployment gaps, with a MOVER
interval built from each gap's own interval (the two runs are independent samples). A run's gap interval is
the one its summary reports (clustered, paired or Newcombe), so the comparison inherits the right design.
Both runs are summarised with the same judges (the best present in both) so the comparison is like for like.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..stats import Interval, mover_difference
from ._records import judges_present, load_records
from ._store import open_store
from ._summary import AF_JUDGES, COMPLIANCE_JUDGES, summarize


def _summaries(a: Path, b: Path) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
    """Both runs summarised with the best judges present in both; each store is opened and read once."""
    with open_store(a, create=False) as store_a, open_store(b, create=False) as store_b:
        records_a, records_b = load_records(store_a), load_records(store_b)
        both = judges_present(records_a) & judges_present(records_b)
        judge = next((j for j in COMPLIANCE_JUDGES if j in both), "compliance-rules")
        af_judge = next((j for j in AF_JUDGES if j in both), None)
        return (judge, af_judge, summarize(store_a, judge, af_judge, records=records_a).to_json(),
                summarize(store_b, judge, af_judge, records=records_b).to_json())


def compare_runs(dir_a: str | Path, dir_b: str | Path) -> dict[str, Any]:
    a_dir, b_dir = Path(dir_a), Path(dir_b)
    judge, af_judge, a, b = _summaries(a_dir, b_dir)
    b_gaps = {g["ablation"]: g for g in b["gaps"]}
    rows = []
    for ga in a["gaps"]:
        gb = b_gaps.get(ga["ablation"])
        if gb is None:
            continue
        row: dict[str, Any] = {
            "ablation": ga["ablation"],
            "gap_a": ga["gap"], "ci_a": [ga["ci_low"], ga["ci_high"]],
            "gap_b": gb["gap"], "ci_b": [gb["ci_low"], gb["ci_high"]],
            "difference": None, "ci_low": None, "ci_high": None, "p_value": None,
            "method": "MOVER difference of two independent gap intervals",
        }
        if ga["gap"] is not None and gb["gap"] is not None:
            d = mover_difference(Interval(ga["gap"], ga["ci_low"], ga["ci_high"]),
                                 Interval(gb["gap"], gb["ci_low"], gb["ci_high"]))
            se = (d.high - d.low) / (2 * 1.959964)
            z = d.estimate / se if se > 0 else (math.inf if d.estimate else 0.0)
            row.update(difference=d.estimate, ci_low=d.low, ci_high=d.high,
                       p_value=math.erfc(abs(z) / math.sqrt(2)) if math.isfinite(z) else 0.0)
        rows.append(row)
    return {
        "judge": judge, "af_judge": af_judge,
        "a": {"directory": str(a_dir), "model": a["model"], "scenario": a["scenario"], "items": a["items"]},
        "b": {"directory": str(b_dir), "model": b["model"], "scenario": b["scenario"], "items": b["items"]},
        "same_scenario": a["scenario"] == b["scenario"],
        "gaps": rows,
        "conditions": {"a": a["conditions"], "b": b["conditions"]},
    }
