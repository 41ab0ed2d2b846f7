"""``compare_runs``: two run directories side by side (before / after fine-tuning, model v1 vs v2).

For each ablation both runs have, the difference of their training-minus-deployment gaps
(``stats.difference_of_gaps``): a MOVER interval built from each gap's own interval (the two runs are
independent samples), with the p-value defined by that interval (the smallest alpha whose interval excludes 0),
so the interval excludes 0 exactly when p < 0.05. Each run's gap is the construction its summary reports
(clustered, paired or independent), rebuilt at every level the bisection needs, so the comparison inherits the
right design. Both runs are summarised with the same judges (the best present in both) so the comparison is
like for like.

A comparison is only as fair as its inputs: ``warnings`` names every difference that changes what the two gaps
measure or how precisely (scenario, cue, split, request sets, samples per request, judged completions per
ablation, ablations in one run only); the CLI prints each one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..stats import difference_of_gaps
from ._records import Record, judges_present, load_records
from ._store import open_store
from ._summary import AF_JUDGES, COMPLIANCE_JUDGES, Summary, gap_test, summarize


def _summaries(a: Path, b: Path, judge: str | None = None, af_judge: str | None = None
               ) -> tuple[str, str | None, Summary, Summary]:
    """Both runs summarised with the given judges (``NAME[@MODEL]``), else the best judges present in both;
    each store is opened and read once."""
    with open_store(a, create=False) as store_a, open_store(b, create=False) as store_b:
        records_a, records_b = load_records(store_a), load_records(store_b)
        both = judges_present(records_a) & judges_present(records_b)
        judge = judge or next((j for j in COMPLIANCE_JUDGES if j in both), "compliance-rules")
        af_judge = af_judge or next((j for j in AF_JUDGES if j in both), None)
        return (judge, af_judge, summarize(store_a, judge, af_judge, records=records_a),
                summarize(store_b, judge, af_judge, records=records_b))


def _label(ablation: str | None) -> str:
    return "unablated" if ablation is None else repr(ablation)


def _warnings(a: dict[str, Any], b: dict[str, Any], records_a: list[Record], records_b: list[Record],
              rows: list[dict[str, Any]], only: dict[str, list[str | None]]) -> list[str]:
    """Every difference between the runs that changes what their gaps measure or how precisely."""
    out = []
    for key, what in (("scenario", "scenarios"), ("cue", "cues"), ("split", "splits of the requests")):
        if a.get(key) != b.get(key):
            out.append(f"different {what} ({a.get(key)} vs {b.get(key)}): the gaps measure different things")
    req_a, req_b = {r.request_id for r in records_a}, {r.request_id for r in records_b}
    if req_a != req_b:
        out.append(f"different requests: A has {len(req_a)}, B has {len(req_b)}, {len(req_a & req_b)} in both; "
                   "the gaps rest on different data and amounts of it")
    samples_a, samples_b = len({r.sample for r in records_a}), len({r.sample for r in records_b})
    if samples_a != samples_b:
        out.append(f"different samples per request: A has {samples_a}, B has {samples_b}")
    for row in rows:
        if row["n_a"] != row["n_b"]:
            out.append(f"{_label(row['ablation'])}: A has {row['n_a']} judged completions, B has {row['n_b']}")
    for side, ablations in only.items():
        for ablation in ablations:
            out.append(f"ablation {_label(ablation)} is only in {side}; not compared")
    return out


def _judged(summary: Summary, ablation: str | None) -> int:
    return sum(r.n for r in summary.all.rows if r.ablation == ablation)


def compare_runs(dir_a: str | Path, dir_b: str | Path, judge: str | None = None,
                 af_judge: str | None = None) -> dict[str, Any]:
    """Both runs' gaps per shared ablation, their difference (A - B) with interval and p-value, and warnings.
    ``judge`` / ``af_judge`` (``NAME[@MODEL]``) choose the judges for both runs; by default the best present in both.
    """
    a_dir, b_dir = Path(dir_a), Path(dir_b)
    judge, af_judge, summary_a, summary_b = _summaries(a_dir, b_dir, judge, af_judge)
    a, b = summary_a.to_json(), summary_b.to_json()
    b_gaps = {g["ablation"]: g for g in b["gaps"]}
    rows = []
    for ga in a["gaps"]:
        ablation = ga["ablation"]
        gb = b_gaps.get(ablation)
        if gb is None:
            continue
        test_a, _ = gap_test(summary_a.all.records, ablation, summary_a.all.judge)
        test_b, _ = gap_test(summary_b.all.records, ablation, summary_b.all.judge)
        row: dict[str, Any] = {
            "ablation": ablation,
            "gap_a": ga["gap"], "ci_a": [ga["ci_low"], ga["ci_high"]], "p_a": ga["p_value"],
            "method_a": ga["method"], "n_a": _judged(summary_a, ablation),
            "gap_b": gb["gap"], "ci_b": [gb["ci_low"], gb["ci_high"]], "p_b": gb["p_value"],
            "method_b": gb["method"], "n_b": _judged(summary_b, ablation),
            "difference": None, "ci_low": None, "ci_high": None, "p_value": None,
            "method": "difference of gaps: MOVER of the two gaps' intervals; p inverts the interval",
        }
        if test_a is not None and test_b is not None:
            d = difference_of_gaps(test_a, test_b)
            row.update(difference=d.estimate, ci_low=d.ci_low, ci_high=d.ci_high, p_value=d.p_value,
                       method=d.method)
        rows.append(row)
    ablations_a, ablations_b = [g["ablation"] for g in a["gaps"]], [g["ablation"] for g in b["gaps"]]
    only = {"A": [x for x in ablations_a if x not in b_gaps], "B": [x for x in ablations_b if x not in ablations_a]}
    meta_a = {"scenario": a["scenario"], "cue": a.get("cue"), "split": a.get("split", "all")}
    meta_b = {"scenario": b["scenario"], "cue": b.get("cue"), "split": b.get("split", "all")}
    return {
        "judge": judge, "af_judge": af_judge,
        "a": {"directory": str(a_dir), "model": a["model"], "scenario": a["scenario"], "items": a["items"]},
        "b": {"directory": str(b_dir), "model": b["model"], "scenario": b["scenario"], "items": b["items"]},
        "same_scenario": a["scenario"] == b["scenario"],
        "gaps": rows,
        "warnings": _warnings(meta_a, meta_b, summary_a.all.records, summary_b.all.records, rows, only),
        "conditions": {"a": a["conditions"], "b": b["conditions"]},
    }
