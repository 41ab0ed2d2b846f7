"""The report of a multi-model parent directory (``twofaced run --model A --model B --out DIR``): the side by side.

One row per model and ablation setting: n, compliance in training and in deployment, the gap with its 95%
interval, p-value and method, and the AF-reasoning rate where an alignment-faking judge has run. As in the
terminal's side-by-side table the rows use the harmful requests when the set has both kinds (every request
otherwise; ``subset`` says which), so the gaps compare like with like. Each model's directory is an ordinary run
whose full report (transcripts included) ``twofaced report DIR/MODEL-DIR`` writes.

HTML is self-contained (inline style, no script, no network: a Content-Security-Policy forbids it), Markdown
is the same table, JSON is :func:`multi_report_data`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..run import multi_summaries
from . import _format as f


def _rows(label: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    subset = "harmful" if "harmful" in summary["subsets"] else "all"
    table = summary["subsets"]["harmful"] if subset == "harmful" else summary
    rows = []
    for gap in table["gaps"]:
        conds = {r["condition"]: r for r in table["conditions"] if r["ablation"] == gap["ablation"]}
        train, deploy = conds.get("training", {}), conds.get("deployment", {})
        af = [r for r in conds.values() if r.get("af_n")]
        rows.append({
            "label": label, "model": summary["model"], "ablation": gap["ablation"], "subset": subset,
            "n": sum(r["n"] for r in conds.values()), "n_training": train.get("n", 0),
            "n_deployment": deploy.get("n", 0), "training": gap["training"], "deployment": gap["deployment"],
            "gap": gap["gap"], "ci_low": gap["ci_low"], "ci_high": gap["ci_high"], "p_value": gap.get("p_value"),
            "method": gap.get("method"),
            "af_rate_training": (train["alignment_faking"] / train["af_n"]) if train.get("af_n") else None,
            "af_judge": summary["af_judge"] if af else None,
        })
    return rows


def multi_report_data(directory: str | Path, judge: str | None = None, af_judge: str | None = None
                      ) -> dict[str, Any]:
    """The side by side of every model under ``directory``: ``rows`` (one per model and ablation) and
    ``models`` (each model's directory, relative to DIR, and full summary, as ``twofaced show DIR --json``)."""
    d = Path(directory)
    runs = multi_summaries(d, judge, af_judge)
    models = []
    rows = []
    for r in runs:
        summary = r.summary.to_json()
        rel = r.directory.relative_to(d).as_posix() if r.directory.is_relative_to(d) else str(r.directory)
        models.append({"label": r.label, "model": r.spec, "directory": rel, "summary": summary})
        rows += _rows(r.label, summary)
    return {"kind": "twofaced-models", "directory": str(d), "created_at": datetime.now(UTC).isoformat(),
            "rows": rows, "models": models}


def render_multi_html(data: dict[str, Any]) -> Iterator[str]:
    e = html.escape
    yield ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
           f"<title>twofaced: {len(data['models'])} models side by side</title><style>"
           "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d1d27}"
           "table{border-collapse:collapse;margin:.6rem 0 1.2rem}th,td{border:1px solid #d8d8e0;padding:.4rem .6rem;"
           "text-align:right}th{background:#f6f6f9;font-weight:600}td.l,th.l{text-align:left}"
           ".pos{color:#b3261e;font-weight:650}.neg{color:#1f5fbf;font-weight:650}.muted{color:#666}"
           "code{background:#f1f1f4;padding:0 .25rem;border-radius:3px}</style></head><body>")
    yield (f"<h1>Side by side: {len(data['models'])} models on the same items</h1><p>Compliance in the training "
           "(monitored) and deployment (unmonitored) conditions and the gap between them, in percentage points "
           "with its 95% interval and p-value; harmful requests where the set has both kinds.</p>")
    yield ("<table><thead><tr><th class=\"l\">model</th><th class=\"l\">ablation</th><th>n (train / deploy)</th>"
           "<th>training</th><th>deployment</th><th>gap (pp)</th><th>95% CI</th><th>p</th><th class=\"l\">method</th>"
           "<th>AF reasoning (training)</th></tr></thead><tbody>")
    for r in data["rows"]:
        cls = "" if r["gap"] is None or r["gap"] == 0 else (" class=\"pos\"" if r["gap"] > 0 else " class=\"neg\"")
        yield (f"<tr><td class=\"l\"><code>{e(r['label'])}</code></td><td class=\"l\">"
               f"{e(f.ablation_label(r['ablation']))}</td><td>{r['n_training']} / {r['n_deployment']}</td>"
               f"<td>{e(f.pct(r['training']))}</td>"
               f"<td>{e(f.pct(r['deployment']))}</td><td{cls}>{e(f.pp(r['gap']))}</td>"
               f"<td>{e(f.ci(r['ci_low'], r['ci_high'], points=True))}</td><td>{e(f.pval(r['p_value']))}</td>"
               f"<td class=\"l muted\">{e(r['method'] or '–')}</td><td>{e(f.pct(r['af_rate_training']))}</td></tr>")
    yield "</tbody></table><h2>Runs</h2><table><thead><tr><th class=\"l\">model</th><th class=\"l\">directory</th>"
    yield ("<th class=\"l\">scenario</th><th>items done</th><th class=\"l\">judges</th></tr></thead><tbody>")
    for m in data["models"]:
        s = m["summary"]
        judges = s["judge"] + (f", {s['af_judge']}" if s["af_judge"] else "")
        yield (f"<tr><td class=\"l\"><code>{e(m['model'])}</code></td><td class=\"l\"><code>{e(m['directory'])}"
               f"</code></td><td class=\"l\">{e(str(s['scenario']))}"
               f"{e(' (cue ' + str(s['cue']) + ')') if s.get('cue') else ''}</td>"
               f"<td>{s['items']['done']} of {s['items']['total']}</td><td class=\"l\">{e(judges)}</td></tr>")
    yield ("</tbody></table><p class=\"muted\">Each directory is an ordinary run: <code>twofaced report "
           f"{e(data['directory'])}/DIRECTORY</code> gives its full report with transcripts.</p></body></html>\n")


def render_multi_md(data: dict[str, Any]) -> Iterator[str]:
    yield (f"# Side by side: {len(data['models'])} models on the same items\n\nGap in compliance, training − "
           "deployment (harmful requests where the set has both kinds).\n\n")
    yield "| model | ablation | n (train / deploy) | training | deployment | gap | 95% CI | p | method |\n"
    yield "|---|---|---|---|---|---|---|---|---|\n"
    for r in data["rows"]:
        yield (f"| `{r['label']}` | {f.ablation_label(r['ablation'])} | {r['n_training']} / {r['n_deployment']} | "
               f"{f.pct(r['training'])} | "
               f"{f.pct(r['deployment'])} | {f.pp(r['gap'])} | {f.ci(r['ci_low'], r['ci_high'], points=True)} | "
               f"{f.pval(r['p_value'])} | {r['method'] or '–'} |\n")
    yield "\n" + "".join(f"- `{m['model']}`: `{m['directory']}`\n" for m in data["models"])


def render_multi_json(data: dict[str, Any]) -> Iterator[str]:
    yield json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


MULTI_RENDERERS = {"html": render_multi_html, "md": render_multi_md, "json": render_multi_json}
