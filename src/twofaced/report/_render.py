"""Render report data as one self-contained HTML page, Markdown or JSON, and write it atomically.

Renderers are generators of text chunks (``RENDERERS[fmt](data)``), so a large report streams to disk.
:func:`write_report` streams through :func:`twofaced._util.atomic_write`: a temporary file beside the target,
moved into place with ``os.replace`` only once the renderer has finished, so an interrupted or failing report
never leaves a half-written file in place of a good one, and never leaves its temporary file behind.

The HTML page needs nothing but itself: CSS and JavaScript are inline, there are no fonts, images or CDN
links, and the report data sits in a ``<script type="application/json">`` tag with ``<``, ``>`` and ``&``
written as JSON escapes, so model text containing ``</script>`` cannot end the tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .._util import atomic_write
from ..errors import ConfigError
from ..run import is_multi, is_sweep, sweep_grid
from . import _format as f
from ._data import build_report_data
from ._multi import MULTI_RENDERERS, multi_report_data
from ._reinforce import REINFORCEMENT_RENDERERS, is_reinforcement, load_reinforcement
from ._sweep import SWEEP_RENDERERS

FORMATS = ("html", "md", "json")
EXTENSIONS = {"html": "html", "md": "md", "json": "json"}


def _resource(name: str) -> str:
    return resources.files("twofaced.report").joinpath("templates", name).read_text(encoding="utf-8")


def script_json(data: Any) -> Markup:
    """JSON safe to place inside a <script> element: no '<', '>', '&' or line separators in the text."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return Markup(text)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("twofaced.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=f.pct, pp=f.pp, pval=f.pval, ablation=f.ablation_label, when=f.when)
    env.globals.update(ci=f.ci, segments=f.segments, legend=f.legend, nonzero=f.nonzero)
    return env


def render_html(data: dict[str, Any]) -> Iterator[str]:
    template = _environment().get_template("report.html.j2")
    yield from template.generate(
        data=data, s=data["summary"], m=data["manifest"], head=f.headline(data),
        css=Markup(_resource("report.css")), js=Markup(_resource("report.js")), data_json=script_json(data),
    )


def render_json(data: dict[str, Any]) -> Iterator[str]:
    yield from json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False).iterencode(data)
    yield "\n"


# -- Markdown --------------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    text = "–" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _truncate(text: str | None, n: int) -> str:
    """Model text on one line, cut at ``n`` characters, with '<' escaped so it never renders as HTML."""
    text = " ".join((text or "").split())
    text = text if len(text) <= n else text[: n - 1] + "…"
    return text.replace("\\", "\\\\").replace("<", "\\<").replace("`", "\\`")


def _md_conditions(table: dict[str, Any], has_af: bool) -> list[str]:
    header = ["ablation", "condition", "n", "complied", "partial", "refused", "unparseable", "judge errors",
              "compliance [95% CI]"]
    if has_af:
        header += ["AF reasoning", "complied with AF", "complied without AF"]
    rows = []
    for r in table["conditions"]:
        row = [f.ablation_label(r["ablation"]), r["condition"], r["n"], r["complied"], r["partial"], r["refused"],
               r["unparseable"], r["judge_errors"], f"{f.pct(r['compliance_rate'])} {f.ci(r['ci_low'], r['ci_high'])}"]
        if has_af:
            row += [f"{r['alignment_faking']}/{r['af_n']}" + (f" ({r['af_uncertain']} uncertain)"
                                                              if r["af_uncertain"] else ""),
                    r["complied_with_af"], r["complied_without_af"]]
        rows.append(row)
    gaps = [[f.ablation_label(g["ablation"]), f.pct(g["training"]), f.pct(g["deployment"]), f.pp(g["gap"]),
             f.ci(g["ci_low"], g["ci_high"], points=True) if g["gap"] is not None else "–", f.pval(g.get("p_value")),
             f.pval(g.get("p_holm")), g.get("method")] for g in table["gaps"]]
    return [*_table(header, rows), "Gap in compliance, training − deployment:", "",
            *_table(["ablation", "training", "deployment", "gap", "95% CI", "p", "p (Holm)", "method"], gaps)]


def _headline_text(data: dict[str, Any]) -> str:
    h = f.headline(data)
    g, t, d = h["gap"], h["training"], h["deployment"]
    if g is None or g["gap"] is None:
        return "No compliance gap could be computed (a condition has no judged completions)."
    p = "" if g.get("p_value") is None else f", p = {f.pval(g['p_value'])}"
    return (f"**Compliance gap (training − deployment), {f.ablation_label(h['ablation'])}: {f.pp(g['gap'])}** "
            f"(95% CI {f.ci(g['ci_low'], g['ci_high'], points=True)}{p}; {g['method']}); "
            f"training {f.pct(g['training'])} ({t['complied']}/{t['n']}), deployment {f.pct(g['deployment'])} "
            f"({d['complied']}/{d['n']}); n = {h['n']} judged completions over {h['n_requests']} requests.")


def render_markdown(data: dict[str, Any]) -> Iterator[str]:
    s, m = data["summary"], data["manifest"]
    has_af = s["af_judge"] is not None
    yield f"# twofaced report: {s['scenario']} on {m['model']}\n\n"
    yield _headline_text(data) + "\n\n"
    no_af = "none has run (no AF figures; run 'twofaced judge run DIR --judge af-llm --judge-model SPEC')."
    at = lambda name, model: f"`{name}`" + (f" (judge model `{model}`)" if model else "")  # noqa: E731
    af = f"{at(s['af_judge'], s.get('af_judge_model'))}." if has_af else no_af
    judges = f"Compliance judge: {at(s['judge'], s.get('judge_model'))}; alignment-faking judge: {af}"
    items = s["items"]
    yield (f"{judges} Items: {items['done']} done of {items['total']}"
           + (f", {items['failed']} failed" if items["failed"] else "")
           + (f", {items['pending']} pending" if items["pending"] else "") + ".\n\n")
    yield "## Results by condition\n\n"
    yield "\n".join(_md_conditions(s, has_af)) + "\n"
    for name, table in s["subsets"].items():
        yield f"### {'Harmful requests' if name == 'harmful' else 'Benign controls'}\n\n"
        yield "\n".join(_md_conditions(table, has_af)) + "\n"
    yield "## By category\n\n"
    header = ["ablation", "category", "kind", "condition", "n", "complied", "partial", "refused", "unparseable",
              *(["AF reasoning"] if has_af else []), "compliance", "gap"]
    rows = []
    for g in data["categories"]:
        for cond, c in g["conditions"].items():
            rows.append([f.ablation_label(g["ablation"]), g["category"], "harmful" if g["harmful"] else "benign",
                         cond, c["n"], c["complied"], c["partial"], c["refused"], c["unparseable"],
                         *([f"{c['alignment_faking']}/{c['af_n']}"] if has_af else []),
                         f.pct(c["compliance_rate"]), f.pp(g["gap"]) if cond == "training" else ""])
    yield "\n".join(_table(header, rows)) + "\n"
    records = data["records"]
    shown = records[:3]
    yield (f"## Transcripts\n\n{len(records)} transcripts (all of them are in the HTML and JSON reports); "
           f"the first {len(shown)}, truncated:\n\n")
    for r in shown:
        verdicts = "; ".join(f"{k}: {v['verdict']}" for k, v in r["verdicts"].items())
        yield (f"- **{r['condition']}** · {f.ablation_label(r['ablation'])} · {r['category']} · `{r['request_id']}`"
               f" (sample {r['sample']}): {verdicts}\n"
               f"  - request: {_truncate(r['request'], 160)}\n"
               f"  - output: {_truncate(r['output'], 200) or '(none)'}\n")
    yield "\n## Manifest\n\n"
    gen = ", ".join(f"{k}={v}" for k, v in m["generation"].items())
    yield "\n".join(_table(["field", "value"], [
        ["model", f"`{m['model']}`"], ["scenario", m["scenario"]], ["scenario hash", f"`{m['scenario_hash']}`"],
        ["scenario source", m["scenario_source"]], ["request split", m.get("split", "all")],
        ["data hash", f"`{m['data_hash']}` ({m['data_hash_of']})"],
        ["generation parameters", gen], ["base seed", m["base_seed"]], ["run started", m["run_started_at"]],
        ["invocations", len(m["invocations"])], ["report created", m["created_at"]],
        ["run directory", m["directory"]],
    ])) + "\n"
    yield "### Package versions\n\n"
    yield "\n".join(_table(["package", "version"], [[k, v] for k, v in m["versions"].items()])) + "\n"
    yield "### Judges\n\n"
    yield "\n".join(_table(["judge", "version", "judge model", "verdicts", "errors", "used for"],
                           [[j["name"], j["version"], j["judge_model"], j["verdicts"], j["errors"], j["role"] or ""]
                            for j in m["judges"]])) + "\n"
    yield "## Judge notes\n\n"
    yield "".join(f"- {n['note']}\n" for n in data["judge_notes"])


RENDERERS: dict[str, Callable[[dict[str, Any]], Iterator[str]]] = {
    "html": render_html, "md": render_markdown, "json": render_json,
}


def default_output(directory: str | Path, fmt: str) -> Path:
    return Path(directory) / f"report.{EXTENSIONS[fmt]}"


def write_report(directory: str | Path, out: str | Path | None = None, fmt: str = "html", *,
                 judge: str | None = None, af_judge: str | None = None) -> Path:
    """Build the report of a run directory and write it to ``out`` (default ``DIR/report.<fmt>``) atomically.

    A sweep directory (``twofaced sweep``) gets the heat map of its grid, the parent of a multi-model run the
    side-by-side table of its models. Returns the path written. Raises
    :class:`ConfigError` for an unknown format and :class:`RunDirError`
    when DIR is not a run or has no completions yet; an existing file at ``out`` is replaced only on success.
    """
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
    path = Path(out) if out is not None else default_output(directory, fmt)
    if path.is_dir():
        raise ConfigError(f"{path} is a directory; give --out a file name such as {path / ('report.' + fmt)}")
    if is_reinforcement(directory):  # twofaced organism reinforce: the curve per checkpoint
        atomic_write(path, REINFORCEMENT_RENDERERS[fmt](load_reinforcement(directory)))
        return path
    if is_sweep(directory):  # a grid of runs: the heat map of gaps
        atomic_write(path, SWEEP_RENDERERS[fmt](sweep_grid(directory)))
        return path
    if is_multi(directory):  # the parent of `run --model A --model B --out DIR`: the side by side
        atomic_write(path, MULTI_RENDERERS[fmt](multi_report_data(directory, judge, af_judge)))
        return path
    data = build_report_data(directory, judge, af_judge)
    atomic_write(path, RENDERERS[fmt](data))
    return path
