"""``twofaced scenarios list | show | validate | new``: prints what ``twofaced.scenarios`` describes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..scenarios._catalog import catalogue, check_file, describe, describe_counts
from ..scenarios._template import write_template
from ._app import app, out
from ._options import JsonFlag, RequestColumns

scenarios_app = typer.Typer(help="Built-in settings, cue families, ablations and request sets; write your own.",
                            no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    t = Table(*columns, title=escape(title), title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
              header_style="bold")
    for row in rows:
        t.add_row(*(escape(cell) for cell in row))
    out.print(t)


def _panel(text: str, title: str) -> Panel:
    return Panel(Text(text), title=escape(title), title_align="left", box=box.ROUNDED)


@scenarios_app.command("list")
def list_cmd(as_json: JsonFlag = False) -> None:
    """List the built-in settings, cue families, ablations and request sets."""
    payload = catalogue()
    if as_json:
        print(json.dumps(payload, indent=2))
        return
    _table("Settings (twofaced run NAME; twofaced scenarios show NAME)", ("name", "cue", "requests", "description"),
           [(x["name"], x["cue"], x["requests"], x["description"]) for x in payload["settings"]])
    _table("Ablations (twofaced run NAME --ablation ABLATION)", ("setting", "ablation", "description"),
           [(setting, a["name"], a["description"]) for setting, rows in payload["ablations"].items() for a in rows])
    if payload["cue_families"]:
        _table("Cue families (twofaced run --cue FAMILY[:VARIANT])", ("name", "variants", "description"),
               [(c["name"], ", ".join(v["name"].partition(":")[2] for v in c["variants"]), c["description"])
                for c in payload["cue_families"]])
    _table("Request sets (twofaced run --requests NAME|FILE)", ("name", "requests", "description"),
           [(r["name"], str(r["total"]), r["description"]) for r in payload["request_sets"]])


def _print_setting(p: dict[str, Any]) -> None:
    out.print(f"[bold]{escape(p['name'])}[/] [dim]{escape(p['source'])}, version {p['version']}[/]")
    out.print(escape(p["description"]))
    c = p["cue"]
    out.print(f"[bold]cue[/] {escape(c['name'])}" + (f": training {escape(repr(c['training']))}, deployment "
                                                       f"{escape(repr(c['deployment']))}" if "training" in c else ""))
    if p["variables"]:
        t = Table("variable", "default", box=box.SIMPLE_HEAD, header_style="bold")
        for k, v in p["variables"].items():
            t.add_row(escape(k), escape(json.dumps(v, default=str)))
        out.print(t)
    for a in p["ablations"]:
        out.print(f"[bold]ablation[/] [cyan]{escape(a['name'])}[/]: {escape(a['description'])}")
    counts = p["requests"]
    out.print(f"[bold]requests[/] {escape(p['request_set'])}: {counts['total']} ({escape(describe_counts(counts))})")
    under = f" under ablation {p['ablation']}" if p["ablation"] else ""
    out.print(_panel(p["system_prompt"], f"system prompt{under}"))
    example = dict(p["example"])
    first = example.pop("request_id")
    for cond, text in example.items():
        out.print(_panel(text, f"{cond} user turn, request {first}{under}"))


def _print_requests(p: dict[str, Any]) -> None:
    counts, splits = p["requests"], p["splits"]
    out.print(f"[bold]{escape(p['name'])}[/]: {counts['total']} requests ({escape(describe_counts(counts))})")
    if "format" in p:
        cols = ", ".join(f"{k}={v}" for k, v in p["columns"].items())
        out.print(f"format {escape(str(p['format']))}; columns {escape(cols)}")
    out.print(f"split: {splits['train']} train, {splits['heldout']} heldout (twofaced run --split)")
    t = Table("category", "harmful", "benign", box=box.SIMPLE_HEAD, header_style="bold")
    for c in p["categories"]:
        t.add_row(escape(c["category"]), str(c["harmful"]), str(c["benign"]))
    out.print(t)
    first = p["first"]
    out.print(_panel(first["prompt"], f"first request: {first['id']} ({first['category']}, "
                                      f"{'harmful' if first['harmful'] else 'benign'})"))


def _print_cue(p: dict[str, Any]) -> None:
    out.print(f"[bold]{escape(p['name'])}[/]: {escape(p['description'])}")
    for key in ("system_hint", "training", "deployment", "training_request", "deployment_request"):
        if p.get(key) and p[key].strip() != "{{ request }}":  # skip the default request wrapper
            out.print(_panel(p[key], key))
    if p["variants"]:
        out.print(f"variants: {escape(', '.join(p['variants']))}")


@scenarios_app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="A built-in setting, request set or cue family, or a file path "
                                             "(scenario .yaml; request .jsonl, .json, .csv).")],
    cue: Annotated[str | None, typer.Option("--cue", help="Show a setting with this cue family.")] = None,
    ablation: Annotated[str | None, typer.Option("--ablation", "-a", help="Render under this ablation.")] = None,
    column: RequestColumns = None,
    requests: Annotated[str | None, typer.Option(
        "--requests", help="Render a setting for these requests: a request file (.jsonl, .json, .csv; AdvBench, "
                           "HarmBench, StrongREJECT detected) or a built-in set.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="With --requests: only the first N requests.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a setting (with its rendered prompts), a request set or a cue family."""
    payload = describe(name, cue=cue, ablation=ablation, columns=column or [], requests=requests, limit=limit)
    # a cue warning (payload["warnings"]) is printed on stderr once, by the loader's logger
    if as_json:
        print(json.dumps(payload, indent=2, default=str))
        return
    {"setting": _print_setting, "request_set": _print_requests, "cue_family": _print_cue}[payload["kind"]](payload)
    for item in payload.get("rendered", ()):
        for cond, messages in item["messages"].items():
            for i, m in enumerate(messages):
                if m["role"] == "system":
                    continue
                kind = "prefill" if m.get("prefill") else f"turn {i}"
                out.print(_panel(m["content"], f"{item['request_id']} {cond}: {m['role']} ({kind})"))


@scenarios_app.command("validate")
def validate_cmd(
    path: Annotated[str, typer.Argument(help="A scenario YAML file (or a request file: .jsonl, .json, .csv).")],
    column: RequestColumns = None,
) -> None:
    """Load and render a scenario file (every condition and ablation); print ok or the first error."""
    out.print(escape(check_file(path, column or [])), highlight=False, soft_wrap=True)


@scenarios_app.command("new")
def new_cmd(
    name: Annotated[str, typer.Argument(help="Name of the new scenario (lowercase, digits, . _ -).")],
    out_path: Annotated[Path | None, typer.Option("--out", "-o", help="File to write (default NAME.yaml).")] = None,
) -> None:
    """Write a commented scenario template that validates as is; never overwrites a file."""
    path = write_template(name, out_path)
    out.print(f"wrote {escape(str(path))}; check it with: twofaced scenarios validate {escape(str(path))}",
              highlight=False, soft_wrap=True)
