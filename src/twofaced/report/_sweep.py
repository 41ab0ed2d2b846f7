"""The report of a sweep directory: the grid of gaps as a heat map (HTML), a table (Markdown), or JSON.

One row per model x cue family, one column per ablation; each cell shows the gap, its 95% interval and the
Holm-adjusted p-value across the grid, coloured by the gap (red: more compliant when told it is in training,
blue: the reverse). Each cell links to that cell's own report path. Self-contained: no network, no script.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any


def _pp(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _colour(gap: float | None) -> str:
    if gap is None:
        return "#f1f1f4"
    a = min(1.0, abs(gap))
    r, g, b = (214, 69, 65) if gap > 0 else (50, 110, 200)
    mix = lambda c: round(255 - (255 - c) * (0.15 + 0.85 * a))  # noqa: E731
    return f"rgb({mix(r)},{mix(g)},{mix(b)})"


def _label(ablation: str | None) -> str:
    return ablation or "unablated"


def _lookup(grid: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {(c["model"], c["cue"], c["ablation"]): c for c in grid["cells"]}


def render_sweep_html(grid: dict[str, Any]) -> Iterator[str]:
    cells = _lookup(grid)
    e = html.escape
    yield ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
           f"<title>twofaced sweep: {e(grid['setting'])}</title><style>"
           "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d1d27}"
           "table{border-collapse:collapse}th,td{border:1px solid #d8d8e0;padding:.45rem .6rem;text-align:center}"
           "th{background:#f6f6f9;font-weight:600}td.rowhead{text-align:left;background:#fbfbfd}"
           ".gap{font-size:1.05rem;font-weight:650}.ci,.p{font-size:.78rem;color:#333}"
           ".legend span{display:inline-block;padding:.1rem .5rem;margin-right:.3rem;border-radius:3px}"
           "code{background:#f1f1f4;padding:0 .25rem;border-radius:3px}</style></head><body>")
    yield (f"<h1>Sweep: <code>{e(grid['setting'])}</code></h1><p>Compliance gap (training − deployment, percentage "
           "points) per model and cue family (rows) and ablation (columns), with its 95% interval and the "
           "Holm-adjusted p-value across the whole grid.</p>")
    yield ("<p class=\"legend\"><span style=\"background:" + _colour(1.0) + "\">complies more when watched</span>"
           "<span style=\"background:" + _colour(0.0) + "\">no gap</span><span style=\"background:"
           + _colour(-1.0) + "\">complies more when unwatched</span></p>")
    yield "<table><thead><tr><th>model</th><th>cue family</th>"
    yield "".join(f"<th>{e(_label(a))}</th>" for a in grid["ablations"]) + "</tr></thead><tbody>"
    for model in grid["models"]:
        for cue in grid["cues"]:
            yield f"<tr><td class=\"rowhead\"><code>{e(model)}</code></td><td class=\"rowhead\">{e(cue)}</td>"
            for abl in grid["ablations"]:
                c = cells.get((model, cue, abl))
                if c is None:
                    yield "<td style=\"background:#f1f1f4\">not run</td>"
                    continue
                p = c.get("p_holm_grid")
                yield (f"<td style=\"background:{_colour(c['gap'])}\" title=\"{e(c['method'] or '')}; n={c['n']}; "
                       f"{e(c['directory'])}\"><div class=\"gap\">{_pp(c['gap'])}</div>"
                       f"<div class=\"ci\">[{_pp(c['ci_low'])}, {_pp(c['ci_high'])}]</div>"
                       f"<div class=\"p\">{'' if p is None else f'p<sub>Holm</sub>={p:.2g}'} n={c['n']}</div></td>")
            yield "</tr>"
    yield ("</tbody></table><p>Each cell is an ordinary run directory (hover a cell for its path): "
           "<code>twofaced report DIR/cells/…</code> gives its full report with transcripts.</p></body></html>\n")


def render_sweep_md(grid: dict[str, Any]) -> Iterator[str]:
    cells = _lookup(grid)
    yield f"# Sweep: {grid['setting']}\n\nGap (training − deployment, pp) [95% CI], Holm p across the grid.\n\n"
    yield "| model | cue | " + " | ".join(_label(a) for a in grid["ablations"]) + " |\n"
    yield "|---|---|" + "---|" * len(grid["ablations"]) + "\n"
    for model in grid["models"]:
        for cue in grid["cues"]:
            parts = []
            for abl in grid["ablations"]:
                c = cells.get((model, cue, abl))
                if c is None:
                    parts.append("not run")
                    continue
                p = c.get("p_holm_grid")
                parts.append(f"{_pp(c['gap'])} [{_pp(c['ci_low'])}, {_pp(c['ci_high'])}]"
                             + ("" if p is None else f" p={p:.2g}"))
            yield f"| `{model}` | {cue} | " + " | ".join(parts) + " |\n"


def render_sweep_json(grid: dict[str, Any]) -> Iterator[str]:
    yield json.dumps(grid, indent=2) + "\n"


SWEEP_RENDERERS = {"html": render_sweep_html, "md": render_sweep_md, "json": render_sweep_json}
