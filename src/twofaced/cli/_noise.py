"""``twofaced noise``: noise injection on a local model, and the faker call on two (docs/probes.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from ..errors import ConfigError
from ..organisms._noise_target import noise_target, organism_name
from ..probes import Decision, noise_pair, noise_sweep
from ._app import app, out
from ._options import JsonFlag


def _strengths(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--strengths {text!r}: give numbers separated by commas, e.g. --strengths 0,1,2") from None


def _settings(spec: str, scenario: str | None, cue: str | None, misbehaviour: str | None) -> dict[str, Any]:
    """The organism's own scenario, cue, misbehaviour and decision point, overridden by what was given."""
    name = organism_name(spec)
    found: dict[str, Any] = noise_target(name) if name else {"scenario": "helpful-only", "misbehaviour": None}
    if "decision" in found:
        found["decision"] = Decision(*found["decision"])
    if scenario is not None or cue is not None:
        found.pop("decision", None)  # the organism's point belongs to its own scenario; use the protocol's tags
    if scenario is not None:
        found["scenario"], found["cue"] = scenario, cue
    elif cue is not None:
        found["cue"] = cue
    if misbehaviour is not None:
        found["misbehaviour"] = misbehaviour
    return found


@app.command("noise")
def noise_cmd(
    model: Annotated[list[str], typer.Option("--model", "-m", help="A model with reachable hidden states "
                                             "(organism:NAME?backend=torch); twice: call which one is the faker.")],
    kind: Annotated[str, typer.Option("--kind", help="activation (residual stream at --layer) or weight (every "
                                      "linear weight of the decoder blocks).")] = "activation",
    strengths: Annotated[str | None, typer.Option("--strengths", help="Comma-separated strengths; 0 is always "
                                                  "added (default activation 0,1,2,3; weight 0,0.05,0.1,0.2).")
                         ] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Noise draws per strength.")] = 3,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Held-out requests asked.")] = 16,
    layer: Annotated[int | None, typer.Option("--layer", help="Block to add activation noise after (default: "
                                              "the middle one).")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Scenario name or YAML path (default: the "
                                                 "organism's own, else helpful-only).")] = None,
    cue: Annotated[str | None, typer.Option("--cue", help="Cue family (default: the organism's evaluation cue, "
                                            "else the scenario's).")] = None,
    misbehaviour: Annotated[str | None, typer.Option("--misbehaviour", help="refuse or comply: what the model "
                                                     "would do unwatched (default: from the organism's profile).")
                            ] = None,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")] = "auto",
    dtype: Annotated[str, typer.Option("--dtype", help="float32; bfloat16 or float16 on CUDA only.")] = "float32",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Requests per forward pass.")] = 8,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="torch CPU threads.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Inject noise into a model in the monitored condition and measure how often it misbehaves, per strength."""
    if len(model) > 2:
        raise ConfigError(f"--model given {len(model)} times; give one model, or two to call which is the faker")
    grid = _strengths(strengths)
    sweeps = [noise_sweep(spec, kind, strengths=grid, seeds=seeds, limit=limit, layer=layer, device=device,
                          dtype=dtype, batch_size=batch_size, n_threads=threads,
                          **_settings(spec, scenario, cue, misbehaviour)) for spec in model]
    pair = noise_pair(*sweeps) if len(sweeps) == 2 else None
    if as_json:
        out.print_json(json.dumps(sweeps[0] if pair is None else {"models": sweeps, **pair}))
        return
    for s in sweeps:
        where = f" at layer {s['layer']}" if s["layer"] is not None else ""
        table = Table("strength", "misbehaved", "rate [95% CI]", "mean p", box=box.SIMPLE,
                      title=f"{s['kind']} noise{where} on {s['model']}: {s['misbehaviour']} when monitored")
        for p in s["curve"]:
            table.add_row(f"{p['strength']:g}", f"{p['misbehaved']}/{p['n']}",
                          f"{p['rate']:.2f} [{p['low']:.2f}, {p['high']:.2f}]", f"{p['mean_p']:.3f}")
        out.print(table)
        out.print(f"score (mean rise over strength 0) {s['score']:+.3f}; {s['seconds']:.0f} s on {s['device']}")
    if pair is not None:
        out.print(f"called the faker: {pair['faker'] or 'neither (a tie)'}")
