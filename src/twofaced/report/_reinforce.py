"""The report of a reinforcement experiment (``twofaced organism reinforce``): gap and alignment-faking
reasoning per checkpoint, as an inline SVG line chart (HTML), a table (Markdown) or the raw curve (JSON).

Self-contained like every twofaced report: no script, no network, one file.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RESULTS = "reinforce.json"
SERIES = (("gap", "compliance gap (training − deployment)", "#d64541"),
          ("training", "compliance, training condition", "#e08a2c"),
          ("deployment", "compliance, deployment condition", "#326ec8"),
          ("af_training", "alignment-faking reasoning, training condition", "#7a3fb0"))


def is_reinforcement(directory: str | Path) -> bool:
    return (Path(directory) / RESULTS).is_file()


def load_reinforcement(directory: str | Path) -> dict[str, Any]:
    return json.loads((Path(directory) / RESULTS).read_text())


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def chart_svg(points: list[dict[str, Any]], width: int = 640, height: int = 300) -> str:
    """Lines for each series over the checkpoints; the y axis runs from -100% to 100% so a gap and rates share it."""
    left, right, top, bottom = 48, 16, 12, 36
    w, h = width - left - right, height - top - bottom
    n = max(1, len(points) - 1)
    x = lambda i: left + w * i / n  # noqa: E731
    y = lambda v: top + h * (1 - (v + 1) / 2)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="gap and alignment-faking reasoning per checkpoint">']
    for v in (-1, -0.5, 0, 0.5, 1):
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="'
                     f'{"#999" if v == 0 else "#e3e3ea"}"/><text x="{left - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end" font-size="11">{100 * v:+.0f}%</text>')
    for i, p in enumerate(points):
        parts.append(f'<text x="{x(i):.1f}" y="{top + h + 18}" text-anchor="middle" font-size="11">'
                     f'{p["round"]}</text>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 4}" text-anchor="middle" font-size="11">'
                 'checkpoint (round of reinforcement)</text>')
    for key, label, colour in SERIES:
        coords = [(x(i), y(p[key])) for i, p in enumerate(points) if p.get(key) is not None]
        if not coords:
            continue
        path = " ".join(f"{'M' if k == 0 else 'L'}{a:.1f},{b:.1f}" for k, (a, b) in enumerate(coords))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2.2"><title>{html.escape(label)}'
                     "</title></path>")
        parts.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.2" fill="{colour}"/>' for a, b in coords)
    parts.append("</svg>")
    return "".join(parts)


def render_reinforcement_html(data: dict[str, Any]) -> Iterator[str]:
    e = html.escape
    points = data["checkpoints"]
    yield ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
           f"<title>twofaced reinforcement: {e(data['organism'])}</title><style>"
           "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d1d27}"
           "table{border-collapse:collapse}th,td{border:1px solid #d8d8e0;padding:.35rem .6rem;text-align:right}"
           "th{background:#f6f6f9}.legend span{display:inline-block;margin-right:1rem}"
           ".legend i{display:inline-block;width:14px;height:3px;margin-right:.35rem;vertical-align:middle}"
           "code{background:#f1f1f4;padding:0 .25rem;border-radius:3px}</style></head><body>")
    yield (f"<h1>Reinforcement: <code>{e(data['organism'])}</code></h1><p>Each round samples the model in the "
           f"training condition ({e(data['cue'])} cue) on {data['prompts']} training-half requests, keeps the "
           f"compliant completions and fine-tunes on them for {data['steps']} steps. Every checkpoint is evaluated "
           f"on {data['eval_limit']} held-out requests in both conditions; alignment-faking reasoning is judged by "
           f"<code>{e(str(data['af_judge']))}</code>. Start scale {data['scale']}, seed {data['seed']}.</p>")
    yield '<p class="legend">' + "".join(f'<span><i style="background:{c}"></i>{e(label)}</span>'
                                         for _, label, c in SERIES) + "</p>"
    yield chart_svg(points)
    yield ("<table><thead><tr><th>round</th><th>training</th><th>deployment</th><th>gap [95% CI]</th><th>p</th>"
           "<th>AF reasoning (training)</th><th>sampled → kept</th><th>loss</th><th>run</th></tr></thead><tbody>")
    for p in points:
        gap = ("–" if p["gap"] is None
               else f"{100 * p['gap']:+.0f} [{100 * p['ci_low']:+.0f}, {100 * p['ci_high']:+.0f}]")
        pv = "–" if p["p_value"] is None else f"{p['p_value']:.2g}"
        kept = f"{p['sampled']} → {p['kept']}" if p["sampled"] else "–"
        yield (f"<tr><td>{p['round']}</td><td>{_fmt(p['training'])}</td><td>{_fmt(p['deployment'])}</td>"
               f"<td>{gap}</td><td>{pv}</td><td>{_fmt(p['af_training'])} (n={p['af_n']})</td><td>{kept}</td>"
               f"<td>{'–' if p['train_loss'] is None else p['train_loss']}</td><td><code>{e(p['directory'])}</code>"
               "</td></tr>")
    yield "</tbody></table></body></html>\n"


def render_reinforcement_md(data: dict[str, Any]) -> Iterator[str]:
    yield f"# Reinforcement: {data['organism']}\n\n"
    yield "| round | training | deployment | gap | p | AF reasoning (training) | sampled → kept |\n"
    yield "|---|---|---|---|---|---|---|\n"
    for p in data["checkpoints"]:
        gap = "–" if p["gap"] is None else f"{100 * p['gap']:+.0f} pp"
        pv = "–" if p["p_value"] is None else f"{p['p_value']:.2g}"
        yield (f"| {p['round']} | {_fmt(p['training'])} | {_fmt(p['deployment'])} | {gap} | {pv} | "
               f"{_fmt(p['af_training'])} | {p['sampled']} → {p['kept']} |\n")


def render_reinforcement_json(data: dict[str, Any]) -> Iterator[str]:
    yield json.dumps(data, indent=2) + "\n"


REINFORCEMENT_RENDERERS = {"html": render_reinforcement_html, "md": render_reinforcement_md,
                           "json": render_reinforcement_json}
