"""How ``twofaced run --dry-run`` prints its plan (the plan itself is :func:`twofaced.run.plan_run`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape


def _n(x: int) -> str:
    return f"{x:,}"


def print_dry_run(console: Console, plan: dict[str, Any]) -> None:
    """A few lines: the grid, the items per model (done / to do) and the token estimates; nothing is sent."""
    ablations = ", ".join(a or "(none)" for a in plan["ablations"])
    about = [f"cue {plan['cue']}"] + ([f"{plan['split']} split"] if plan["split"] != "all" else [])
    console.print(f"[bold]dry run[/]: {escape(plan['scenario'])} ({escape(', '.join(about))}): "
                  f"{plan['requests']} requests x {len(plan['conditions'])} conditions x {len(plan['ablations'])} "
                  f"ablation setting(s) [{escape(ablations)}] x {plan['samples']} sample(s)", soft_wrap=True)
    for m in plan["models"]:
        where = escape(m["directory"]) + ("" if m["exists"] else " (new)")
        console.print(f"  {escape(m['model'])}: {_n(m['items'])} items, {_n(m['done'])} done, "
                      f"[bold]{_n(m['to_do'])} to do[/]  ->  {where}", soft_wrap=True)
    calls = plan["api_calls"]
    console.print(f"to send: {_n(plan['to_do'])} items ({_n(calls['min'])}-{_n(calls['max'])} model calls with up "
                  f"to {plan['max_continuations']} continuation turns each); about "
                  f"[bold]{_n(plan['estimated_prompt_tokens'])}[/] prompt tokens "
                  f"(estimate: {escape(plan['token_estimate'])}), up to {_n(plan['estimated_completion_tokens'])} "
                  f"completion tokens in first answers at max_tokens={plan['max_tokens']} "
                  f"({_n(plan['max_completion_tokens'])} with every continuation turn)", soft_wrap=True)
    console.print("[dim]nothing was created or sent; drop --dry-run to run[/]")
