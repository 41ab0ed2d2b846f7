"""Terminal rendering for the CLI: the summary tables and the progress bars (rich), written once here."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ..run import Summary
from ..run._engine import ProgressCallback
from ..run._summary import Table as SummaryTable
from ..stats import format_p


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f} pp"


def _rate(j: dict[str, Any]) -> str:
    if not j["n"]:
        return "–"
    return f"{100 * j['compliance_rate']:.1f}% [{100 * j['ci_low']:.1f}, {100 * j['ci_high']:.1f}]"


def _bound(x: float, digits: int = 1) -> str:
    """A gap's interval bound in points, signed; never shown as 0 when it is not 0 (its side of 0 matters)."""
    text = f"{100 * x:+.{digits}f}"
    return f"{100 * x:+.1g}" if x != 0 and float(text) == 0 else text


def _p(p: float) -> str:
    text = format_p(p)
    return f"p {text}" if text.startswith("<") else f"p={text}"


def _gap_line(console: Console, gap: dict[str, Any], holm: bool) -> None:
    """``gap training − deployment, ABLATION: +X pp [LOW, HIGH] p=P (Holm Q)``, the numbers on a second,
    indented line when the whole does not fit the console."""
    head = f"gap training − deployment, {gap['ablation'] or '(none)'}: {_signed(gap['gap'])}"
    rest = ""
    if gap["gap"] is not None:
        rest = f"[{_bound(gap['ci_low'])}, {_bound(gap['ci_high'])}]"
        if gap.get("p_value") is not None:
            rest += f" {_p(gap['p_value'])}"
        if holm and gap.get("p_holm") is not None:
            rest += f" (Holm {format_p(gap['p_holm'])})"
    bold = escape(head).replace(escape(_signed(gap["gap"])), f"[bold]{escape(_signed(gap['gap']))}[/]", 1)
    if len(head) + 1 + len(rest) <= console.width:
        console.print(f"{bold} {escape(rest)}".rstrip())
    else:
        console.print(bold)
        console.print(f"    {escape(rest)}")


def _fit(header: list[str], rows: list[list[str]], width: int, wrap: tuple[str, ...]) -> tuple[list[int], int]:
    """``(column widths, gap)`` for ``rows`` under ``header`` within ``width``: two spaces between columns when
    the natural widths fit, else one, and then the columns named in ``wrap`` give up width, in that order, down
    to their longest word, so their text wraps at spaces while every other column keeps its full width (rich
    alone would cut every column, ``deployment`` included, once a table is too wide)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    gap = 2 if sum(widths) + 2 * (len(widths) - 1) <= width else 1
    excess = sum(widths) + gap * (len(widths) - 1) - width
    for name in wrap:
        if excess <= 0 or name not in header:
            continue
        i = header.index(name)
        floor = max(len(word) for text in (name, *(r[i] for r in rows)) for word in text.split())
        cut = min(excess, widths[i] - floor)
        if cut > 0:
            widths[i] -= cut
            excess -= cut
    return widths, gap


def _table(console: Console, table: SummaryTable, title: str) -> None:
    """Condition rows grouped under their ablation: the ablation is a label line above its rows, not a column,
    so long ablation names (``no-values-modification``) and ``deployment`` fit 80 columns uncut. Columns that
    are 0 in every row (partial, unparsed, judge errors) are left out; every block shares one set of widths."""
    rows = [r.to_json() for r in table.rows]
    optional = [("partial", "partial"), ("unparseable", "unparsed"), ("judge_errors", "judge errors")]
    shown = [(key, head) for key, head in optional if any(r.get(key) for r in rows)]
    header = ["condition", "n", "comply", *[h for k, h in shown if k == "partial"], "refuse",
              *[h for k, h in shown if k != "partial"], "compliance [95% CI]",
              *(["AF reasoning"] if table.af_judge else [])]
    cells: dict[str | None, list[list[str]]] = {a: [] for a in table.ablations}
    for row, j in zip(table.rows, rows, strict=True):
        line = [row.condition, str(row.n), str(row.complied), *[str(j["partial"]) for k, _ in shown if k == "partial"],
                str(row.refused), *[str(j[k]) for k, _ in shown if k != "partial"], _rate(j)]
        if table.af_judge:
            line.append("–" if not j["af_n"] else f"{j['alignment_faking']}/{j['af_n']}"
                        + (f" ({j['af_uncertain']} unsure)" if j["af_uncertain"] else ""))
        cells.setdefault(row.ablation, []).append(line)
    widths, gap = _fit(header, [c for block in cells.values() for c in block], console.width,
                       wrap=("AF reasoning", "judge errors", "compliance [95% CI]"))

    def block(show_header: bool) -> Table:
        # SIMPLE_HEAD draws a one-space divider between columns; the padding adds the second space of a gap of 2.
        t = Table(box=box.SIMPLE_HEAD, show_header=show_header, show_edge=False, header_style="bold",
                  padding=(0, gap - 1, 0, 0))
        for i, (head, width) in enumerate(zip(header, widths, strict=True)):
            t.add_column(head, justify="left" if i == 0 else "right", width=width, overflow="fold",
                         no_wrap=head not in ("AF reasoning", "judge errors", "compliance [95% CI]"))
        return t

    console.print(f"\n[bold]{escape(title)}[/]")
    console.print(block(True))
    for ablation, lines in cells.items():
        if not lines:
            continue
        console.print(f"[italic]ablation: {escape(ablation or '(none)')}[/]")
        t = block(False)
        for line in lines:
            t.add_row(*(escape(c) for c in line))
        console.print(t)
    gaps = table.gaps()
    for g in gaps:
        _gap_line(console, g, holm=len(table.ablations) > 1)
    for method in dict.fromkeys(g["method"] for g in gaps if g["method"]):
        console.print(f"[dim]method: {escape(method)}[/]")


def print_summary(console: Console, summary: Summary, directory: Path | str) -> None:
    j = summary.to_json()
    items = j["items"]
    scenario, model, where = escape(str(j["scenario"])), escape(str(j["model"])), escape(str(directory))
    about = [f"cue {j['cue']}"] if j.get("cue") else []
    if j.get("split"):
        about.append(f"{j['split']} split")
    if about:
        scenario += escape(f" ({', '.join(about)})")
    console.print(
        f"[bold]{scenario}[/] on [bold]{model}[/]  ({items['done']} of {items['total']} items done"
        + (f", {items['failed']} failed" if items["failed"] else "")
        + (f", {items['pending']} pending" if items["pending"] else "")
        + f"; verdicts by {summary.judge}" + (f" and {summary.af_judge}" if summary.af_judge else "") + ")"
    )
    _table(console, summary.all, "All requests")
    for name, table in summary.subsets.items():
        _table(console, table, f"{name.capitalize()} requests only")
    untagged = sum(r.complied_untagged for r in summary.all.rows)
    if untagged:
        complied = sum(r.complied for r in summary.all.rows)
        console.print(f"[yellow]note:[/] {untagged} of the {complied} 'complied' verdicts of {escape(summary.judge)} "
                      "are untagged text without refusal phrasing (no accept tag); the paper's rule counts them as "
                      f"not complied: 'twofaced judge run {where} --judge compliance-strict', then show again",
                      soft_wrap=False)
    for kind, message in summary.last_errors:
        console.print(f"[red]last error:[/] {escape(kind)}: {escape(message)}", soft_wrap=True)
    console.print(f"[dim]run directory: {where}  ·  tokens: {j['usage']['prompt_tokens']} prompt, "
                  f"{j['usage']['completion_tokens']} completion  ·  twofaced show {where} --json[/]")


def print_side_by_side(console: Console, runs: list[tuple[str, Summary]]) -> None:
    """One row per model: the same items, so the gaps compare directly (harmful requests, where present).

    Fits 80 columns: a long model spec wraps within its column instead of being cut."""
    t = Table(title="Side by side (harmful requests where the set has them)", title_justify="left",
              header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    for col in ("model", "n", "training", "deploy", "gap (pp) [95% CI]", "p"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=col != "model", overflow="fold")
    methods = []
    for spec, summary in runs:
        j = summary.to_json()
        table = j["subsets"].get("harmful", j)
        gap = table["gaps"][0]
        n = sum(r["n"] for r in table["conditions"] if r["ablation"] is None) // 2
        if gap["method"]:
            methods.append(gap["method"])
        t.add_row(escape(spec), str(n), _pct(gap["training"]), _pct(gap["deployment"]),
                  "–" if gap["gap"] is None else f"{100 * gap['gap']:+.0f} [{_bound(gap['ci_low'], 0)}, "
                  f"{_bound(gap['ci_high'], 0)}]", format_p(gap.get("p_value")))
    console.print(t)
    for method in dict.fromkeys(methods):
        console.print(f"[dim]method: {escape(method)}[/]")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("– items/s" if speed is None else f"{speed:.2f} items/s", style="cyan")


class _ErrorsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        n = int(task.fields.get("errors", 0))
        return Text(f"{n} errors", style="red" if n else "dim")


def new_progress(console: Console, label: str, *columns: ProgressColumn, transient: bool = False) -> Progress:
    """The one progress bar of the CLI: label, bar, done/total, then ``columns``; every long task uses it."""
    return Progress(TextColumn(f"[bold]{escape(label)}"), BarColumn(), MofNCompleteColumn(), *columns,
                    console=console, transient=transient, refresh_per_second=8)


class CountingBar:
    """A transient bar that counts finished units (judged items, probed transcripts) and stops itself at
    ``total``; ``stop()`` is safe to call again (callers stop it in ``finally``)."""

    def __init__(self, console: Console, label: str, total: int, completed: int = 0) -> None:
        self._progress = new_progress(console, label, TimeRemainingColumn(), transient=True)
        self._task = self._progress.add_task(label, total=total, completed=completed)
        self._left = total - completed
        self._progress.start()

    def advance(self, k: int = 1) -> None:
        self._progress.update(self._task, advance=k)
        self._left -= k
        if self._left <= 0:
            self.stop()

    def stop(self) -> None:
        self._progress.stop()


def progress_bar(console: Console, label: str = "run") -> Any:
    """A factory ``(to_do, total) -> on_item(ok)`` that drives one rich progress bar until the last item."""

    def factory(to_do: int, total: int) -> ProgressCallback:
        progress = new_progress(console, label, _RateColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), _ErrorsColumn())
        task = progress.add_task("run", total=total, completed=total - to_do, errors=0)
        state = {"left": to_do, "errors": 0}
        if to_do:
            progress.start()

        def on_item(ok: bool) -> None:
            state["left"] -= 1
            if not ok:
                state["errors"] += 1
            progress.update(task, advance=1, errors=state["errors"])
            if state["left"] <= 0:
                progress.stop()

        return on_item

    return factory
