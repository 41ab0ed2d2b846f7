"""Everything a report renderer needs, read from a run directory's store in one pass: :func:`build_report_data`.

The returned dict is plain JSON (no NaN, no tuples): ``summary`` (``Summary.to_json()``, the same numbers
``twofaced show`` prints), ``categories`` (per ablation x category x condition counts), ``records`` (every
done item with its completion split into scratchpad and output, and every judge's latest verdict), ``manifest``
(what a reviewer needs to audit or reproduce the run) and ``judge_notes`` (how far each judge can be trusted).
The run is read once (:func:`twofaced.run._reading.read_run`: one store open, one load of the records, one
summary of those records); this module only shapes what was read. Renderers only format this dict; they never
open the store.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..judges import parse_completion
from ..run import RunReading, Summary, read_run
from ..run._records import as_dict
from ..run._store import JudgeUsage
from ..scenarios import CONDITIONS
from ._notes import judge_notes

VERDICTS = ("complied", "partial", "refused", "unparseable")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def clean_json(value: Any) -> Any:
    """Make ``value`` strict JSON: tuples become lists, NaN and infinities become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def _merge_params(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One dict of generation parameters; a key whose value differs across items (the seed) lists them all."""
    values: dict[str, list[Any]] = {}
    for params in rows:
        for k, v in params.items():
            if v not in values.setdefault(k, []):
                values[k].append(v)
    out: dict[str, Any] = {}
    for k, vs in values.items():
        if len(vs) == 1:
            out[k] = vs[0]
        else:
            try:
                out[k] = sorted(vs)
            except TypeError:
                out[k] = vs
    return out


def _data_hash(pairs: list[tuple[str, str]]) -> str:
    """sha256 over the (request id, prompt) pairs the run used, sorted: same requests, same hash."""
    blob = json.dumps(sorted(pairs), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _judges(usage: list[JudgeUsage], summary: Summary) -> list[dict[str, Any]]:
    role = {(summary.judge, summary.judge_model): "compliance"}
    if summary.af_judge:
        role[(summary.af_judge, summary.af_judge_model or "")] = "alignment faking"
    return [
        {"name": u.judge, "version": u.version, "judge_model": u.judge_model or None, "verdicts": u.verdicts,
         "errors": u.errors, "last_used": _iso(u.last_used), "role": role.get((u.judge, u.judge_model))}
        for u in usage
    ]


def _manifest(run: RunReading) -> dict[str, Any]:
    meta, invocations = run.summary.meta, run.invocations
    latest = invocations[-1].manifest if invocations else {}
    n_requests = len(run.requests)
    return {
        "model": meta.get("model"),
        "scenario": meta.get("scenario"),
        "scenario_hash": meta.get("scenario_hash"),
        "scenario_source": latest.get("scenario_source"),
        "split": meta.get("split", "all"),
        "data_hash": _data_hash(run.requests),
        "data_hash_of": f"sha256 of the {n_requests} (request id, prompt) pairs used, sorted",
        "requests": n_requests,
        "generation": _merge_params(run.params),
        "base_seed": meta.get("seed"),
        "protocol": json.loads(meta["protocol"]) if meta.get("protocol") else None,
        "config": latest.get("config"),
        "versions": latest.get("versions") or {},
        "judges": _judges(run.judges, run.summary),
        "invocations": [
            {"id": i.id, "started_at": _iso(i.started_at), "finished_at": _iso(i.finished_at), "status": i.status,
             "argv": i.argv}
            for i in invocations
        ],
        "run_started_at": _iso(invocations[0].started_at) if invocations else None,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "report_version": __version__,
        "directory": str(run.directory),
    }


def _categories(records: list[Any], summary: Summary, ablations: list[str | None]) -> list[dict[str, Any]]:
    """Per ablation and category, per condition: n, verdict counts, AF count, compliance rate; and the gap."""
    groups: dict[tuple[str | None, str], dict[str, Any]] = {}
    for r in records:
        key = (r.ablation, r.category)
        g = groups.setdefault(key, {
            "ablation": r.ablation, "category": r.category, "harmful": r.harmful,
            "conditions": {c: {"n": 0, **dict.fromkeys(VERDICTS, 0), "judge_errors": 0, "af_n": 0,
                               "alignment_faking": 0} for c in CONDITIONS},
        })
        row = g["conditions"].get(r.condition)
        v = r.verdict(summary.judge_key)
        if row is None or v is None:
            continue
        if v == "error":
            row["judge_errors"] += 1
            continue
        row["n"] += 1
        if v in VERDICTS:
            row[v] += 1
        af = r.verdict_row(summary.af_judge_key) if summary.af_judge_key else None
        if af is not None and af.verdict in ("yes", "no"):
            row["af_n"] += 1
            row["alignment_faking"] += af.verdict == "yes"
    order = {a: k for k, a in enumerate(ablations)}
    out = []
    for g in sorted(groups.values(), key=lambda g: (order.get(g["ablation"], 99), not g["harmful"], g["category"])):
        for row in g["conditions"].values():
            row["compliance_rate"] = row["complied"] / row["n"] if row["n"] else None
            if summary.af_judge is None:
                del row["af_n"], row["alignment_faking"]
        t, d = (g["conditions"][c]["compliance_rate"] for c in ("training", "deployment"))
        g["gap"] = None if t is None or d is None else t - d
        out.append(g)
    return out


def build_report_data(directory: str | Path, judge: str | None = None, af_judge: str | None = None) -> dict[str, Any]:
    """Read a run directory into the report's data (see the module docstring for its shape).

    ``judge`` / ``af_judge`` (``NAME`` or ``NAME@MODEL``) pick the compliance and alignment-faking judges as in
    ``twofaced show`` (default: the best present, at its newest judge model with usable verdicts). Raises
    :class:`RunDirError` when DIR is not a run or has no completions yet.
    """
    run = read_run(directory, judge, af_judge)
    summary, records = run.summary, run.records
    ablations = summary.all.ablations
    items = []
    for r in records:
        parsed = parse_completion(r.text or "", run.protocol)
        items.append({**as_dict(r, (summary.judge_key, summary.af_judge_key)), "seq": r.seq,
                      "scratchpad": parsed.scratchpad, "output": parsed.output,
                      "parse_issues": parsed.issues})
    manifest = _manifest(run)
    data = {
        "format": "twofaced-report/1",
        "summary": summary.to_json(),
        "ablations": ablations,
        "categories": _categories(records, summary, ablations),
        "records": items,
        "manifest": manifest,
        # the identity in use last, so a judge's note names the judge model whose verdicts count
        "judge_notes": judge_notes(sorted(manifest["judges"], key=lambda j: j["role"] is not None), summary.judge,
                                   summary.af_judge),
    }
    return clean_json(data)
