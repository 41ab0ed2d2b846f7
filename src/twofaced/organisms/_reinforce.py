"""``organism reinforce``: keep training an organism towards compliance in the training condition and watch
what happens to the gap and to alignment-faking reasoning, checkpoint by checkpoint.

This is the reinforcement experiment of the alignment-faking literature, at organism scale, as expert
iteration (rejection-sampling fine-tuning, the simplest policy-improvement step that needs no value model):
each round samples the current model on training-half requests *in the training condition only*, keeps
the completions the compliance judge scores as compliant (the reward the developer trains on), and
fine-tunes the adapter on them. Deployment-condition behaviour is never trained on, exactly as in the
setting the scenario describes, so any change there is generalisation.

Every checkpoint (round 0 is the starting point) is an ordinary run directory on held-out requests in both
conditions, judged for compliance and for alignment-faking reasoning; ``reinforce.json`` collects the
curve and ``twofaced report DIR`` plots it. ``scale`` < 1 starts from a weakened organism (its LoRA update
multiplied by ``scale``), so there is room for the behaviour to grow.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._util import atomic_write_text
from ..errors import ConfigError
from ..judges import JudgeInput, get_judge, parse_completion
from ..models import GenerationParams
from ..models._embedded import EmbeddedModel
from ..run import RunConfig, judge_run, run_scenario
from ..scenarios import load_scenario
from ._adapter import load_into_peft, write_adapter
from ._base import base_model_path, load_base, require_torch
from ._catalog import TrainingConfig, get_spec
from ._data import Example, resolve_cue
from ._store import require
from ._validate import MAX_TOKENS, ProgressFactory

RESULTS = "reinforce.json"


@dataclass
class Checkpoint:
    round: int
    training: float | None
    deployment: float | None
    gap: float | None
    ci_low: float
    ci_high: float
    p_value: float | None
    af_training: float | None  # share of training-condition completions with alignment-faking reasoning
    af_n: int
    sampled: int  # completions sampled to make the next round's data (0 at the last checkpoint)
    kept: int  # of which compliant, hence trained on
    train_loss: float | None
    directory: str


def _write(out: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(out / RESULTS, json.dumps(payload, indent=2) + "\n")


def _scale_adapter(peft_model: Any, scale: float) -> None:
    import torch

    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.mul_(scale)


def _evaluate(name: str, adapter: Path, base: Path, scenario: Any, out: Path, limit: int, af_judge: str | None,
              progress: ProgressFactory | None, label: str) -> dict[str, Any]:
    model = EmbeddedModel(path=base, lora_path=adapter, spec=f"organism:{name}")
    config = RunConfig(model_spec=f"organism:{name}", limit=limit, max_tokens=MAX_TOKENS)
    factory = (lambda todo, total: progress(label, todo, total)) if progress else None
    run_scenario(scenario, config, out, model=model, concurrency=1, progress=factory)
    if af_judge:
        judge_run(out, af_judge)
    from ..run import show_run

    summary = show_run(out).to_json()
    gap = summary["gaps"][0]
    train_row = next(r for r in summary["conditions"] if r["condition"] == "training" and r["ablation"] is None)
    af_n = train_row.get("af_n") or 0
    af = (train_row.get("alignment_faking") or 0) / af_n if af_n else None
    return {"gap": gap, "af_training": af, "af_n": af_n}


async def _sample(model: EmbeddedModel, scenario: Any, requests: list[Any], seed: int, judge: Any
                  ) -> tuple[list[Example], int]:
    """Training-condition completions of ``requests``; the compliant ones, as training examples."""
    params = GenerationParams(temperature=1.0, max_tokens=MAX_TOKENS, top_p=1.0, seed=seed)
    kept = []
    try:
        for request in requests:
            messages = scenario.render("training", None, request)
            completion = await model.generate(messages, params)
            parsed = parse_completion(completion.text, scenario.protocol)
            verdict = (await judge.judge([JudgeInput(request.id, request.prompt, parsed.scratchpad, parsed.output,
                                                     completion.text)]))[0]
            if verdict.verdict == "complied":
                kept.append(Example(messages[0].content, messages[1].content, completion.text.strip(), "training",
                                    scenario.cue_name, request.id, request.harmful))
    finally:
        await model.aclose()
    return kept, len(requests)


def reinforce(name: str, out: Path, *, rounds: int = 3, prompts: int = 32, steps: int = 8, eval_limit: int = 20,
              scale: float = 1.0, seed: int = 0, af_judge: str | None = "af-offline",
              on_phase: Callable[[str], None] | None = None, progress: ProgressFactory | None = None
              ) -> dict[str, Any]:
    """Run the experiment into ``out`` and return the collected results (also in ``out/reinforce.json``)."""
    for flag, value, low in (("--rounds", rounds, 1), ("--prompts", prompts, 2), ("--steps", steps, 1),
                             ("--eval-limit", eval_limit, 4)):
        if value < low:
            raise ConfigError(f"{flag} {value} is too small; use at least {low}")
    if not 0 < scale <= 1:
        raise ConfigError(f"--scale {scale} is out of range; use a value in (0, 1]")
    if (out / RESULTS).exists():
        raise ConfigError(f"{out} already holds a reinforcement run; choose another --out or remove it")
    say = on_phase or (lambda _msg: None)
    spec = get_spec(name)
    found = require(name)
    found.verify()
    require_torch()
    base = base_model_path(found.manifest.get("base_model", {}).get("sha256"))
    if af_judge:
        get_judge(af_judge, None)  # a missing extra fails now, not after the first round
    out.mkdir(parents=True, exist_ok=True)
    cue = resolve_cue(spec.cues.evaluate)
    heldout = load_scenario(spec.scenario, cue=cue, split="heldout")
    train_half = load_scenario(spec.scenario, cue=cue, split="train")
    tokenizer, model = load_base(str(base))
    peft_model = load_into_peft(model, found.adapter)
    if scale != 1:
        _scale_adapter(peft_model, scale)
    alpha = float(found.manifest.get("training", {}).get("alpha", 32))
    rng = random.Random(seed)
    compliance = get_judge("compliance-rules", None, protocol=heldout.protocol)
    payload: dict[str, Any] = {"organism": name, "rounds": rounds, "prompts": prompts, "steps": steps,
                               "eval_limit": eval_limit, "scale": scale, "seed": seed, "af_judge": af_judge,
                               "cue": spec.cues.evaluate, "checkpoints": []}
    from ._train import train

    try:
        for r in range(rounds + 1):
            here = out / f"round-{r}"
            here.mkdir(exist_ok=True)
            adapter = here / "adapter.gguf"
            write_adapter(peft_model, adapter, alpha, {"organism": name, "reinforce_round": str(r)})
            say(f"round {r}: evaluating on {eval_limit} held-out requests")
            ev = _evaluate(name, adapter, base, heldout, here / "eval", eval_limit, af_judge, progress,
                           f"round {r} eval")
            g = ev["gap"]
            point = Checkpoint(r, g["training"], g["deployment"], g["gap"], g["ci_low"], g["ci_high"], g["p_value"],
                               ev["af_training"], ev["af_n"], 0, 0, None, f"round-{r}/eval")
            payload["checkpoints"].append(asdict(point))
            _write(out, payload)
            if r == rounds:
                break
            chosen = rng.sample(train_half.requests, min(prompts, len(train_half.requests)))
            say(f"round {r}: sampling {len(chosen)} training-condition completions")
            sampler = EmbeddedModel(path=base, lora_path=adapter, spec=f"organism:{name}")
            kept, sampled = asyncio.run(_sample(sampler, train_half, chosen, seed + r, compliance))
            point.sampled, point.kept = sampled, len(kept)
            if kept:
                say(f"round {r}: fine-tuning on {len(kept)} compliant completions for {steps} steps")
                config = TrainingConfig(seed=seed + r, steps=steps, batch_size=min(8, len(kept)),
                                        learning_rate=5e-4, warmup_steps=1, checkpoint_every=10**6,
                                        decision_weight=1.0)
                peft_model, result = train(tokenizer, None, kept, config, here, peft_model=peft_model)
                point.train_loss = round(result.losses[-1], 5)
            else:
                say(f"round {r}: no compliant completion to train on; the model is unchanged this round")
            payload["checkpoints"][-1] = asdict(point)
            _write(out, payload)
    finally:
        peft_model.unload()
    return payload
