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


def _pct(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f} pp"


def _rate(j: dict[str, Any]) -> str:
    if not j["n"]:
        return "–"
    return f"{100 * j['compliance_rate']:.1f}% [{100 * j['ci_low']:.1f}, {100 * j['ci_high']:.1f}]"


def _table(console: Console, table: SummaryTable, title: str) -> None:
    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    rows = [r.to_json() for r in table.rows]
    show_partial = any(r["partial"] for r in rows)
    t.add_column("ablation", overflow="fold")
    t.add_column("condition", no_wrap=True)
    cols = ["n", "comply", *(["partial"] if show_partial else []), "refuse", "unparsed"]
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("compliance [95% CI]", justify="right", no_wrap=True)
    if table.af_judge:
        t.add_column("AF reasoning", justify="right", no_wrap=True)
    for row, j in zip(table.rows, rows, strict=True):
        cells = [escape(row.ablation or "(none)"), row.condition, str(row.n), str(row.complied),
                 *([str(row.partial)] if show_partial else []), str(row.refused), str(row.unparseable), _rate(j)]
        if table.af_judge:
            cells.append("–" if not j["af_n"] else f"{j['alignment_faking']}/{j['af_n']}"
                         + (f" ({j['af_uncertain']} unsure)" if j["af_uncertain"] else ""))
        t.add_row(*cells)
    console.print(t)
    for gap in table.gaps():
        label = escape(gap["ablation"] or "(none)")
        ci = escape(f"[{_signed(gap['ci_low'])}, {_signed(gap['ci_high'])}]") if gap["gap"] is not None else ""
        p = "" if gap.get("p_value") is None else f"  p={gap['p_value']:.2g}"
        if gap.get("p_holm") is not None and len(table.ablations) > 1:
            p += f" (Holm {gap['p_holm']:.2g})"
        console.print(f"  gap training − deployment, {label}: [bold]{_signed(gap['gap'])}[/] {ci}{p}")


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
    for kind, message in summary.last_errors:
        console.print(f"[red]last error:[/] {escape(kind)}: {escape(message)}", soft_wrap=True)
    console.print(f"[dim]run directory: {where}  ·  tokens: {j['usage']['prompt_tokens']} prompt, "
                  f"{j['usage']['completion_tokens']} completion  ·  twofaced show {where} --json[/]")


def print_side_by_side(console: Console, runs: list[tuple[str, Summary]]) -> None:
    """One row per model: the same items, so the gaps compare directly (harmful requests, where present)."""
    t = Table(title="Side by side (harmful requests where the set has them)", title_justify="left",
              header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("model", "n", "training", "deploy", "gap (pp) [95% CI]", "p"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    for spec, summary in runs:
        j = summary.to_json()
        table = j["subsets"].get("harmful", j)
        gap = table["gaps"][0]
        n = sum(r["n"] for r in table["conditions"] if r["ablation"] is None) // 2
        p = "–" if gap.get("p_value") is None else f"{gap['p_value']:.2g}"
        t.add_row(escape(spec), str(n), _pct(gap["training"]), _pct(gap["deployment"]),
                  "–" if gap["gap"] is None else f"{100 * gap['gap']:+.0f} [{100 * gap['ci_low']:+.0f}, "
                  f"{100 * gap['ci_high']:+.0f}]", p)
    console.print(t)


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
