"""``twofaced run ... --dry-run``: what a run would do, before anything is created, built or sent.

:func:`plan_run` checks what the real run checks first (ablations, the scenario's templates, each model spec's
form) and expands the plan exactly as :func:`~twofaced.run.run_scenario` does, so the item ids, and the items an
existing directory has finished already, are the ones the run would find. It never builds a model, never
creates a directory, and only reads an existing one (a directory holding another run is refused with the same
message the run would give).

Token estimate: ``ceil(characters / 4)`` per message of the items still to do, summed (``token_estimate:
"chars/4"``), a rule of thumb for English text with common BPE tokenizers (tiktoken is not used: its encodings
are downloaded on first use, and a dry run sends nothing). On the 408 distinct prompts of ``helpful-only`` it
gives 238,502 tokens where the SmolLM2 (embedded model) tokenizer counts 226,538: 5% high. It counts each
item's first request; a continuation turn (only when a completion stops inside its scratchpad) sends the
prompt again and is not counted.
``estimated_completion_tokens`` is ``max_tokens`` x items to do, the budget of every first answer;
``max_completion_tokens`` adds the continuation turns the protocol allows, a hard upper bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import RunDirError
from ..models import LOCAL_DEFAULTS, parse_spec
from ..scenarios import CONDITIONS, LoadedScenario
from ._multi import run_directory
from ._plan import RunConfig, expand
from ._runner import identity, refuse_another_split
from ._store import DB_NAME, Store, _short, open_store

TOKEN_ESTIMATE = "chars/4"


def estimate_tokens(text: str) -> int:
    """``ceil(len(text) / 4)``: the dry run's token estimate of one message."""
    return -(-len(text) // 4)


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """One model's part of a dry run: where it would run and how much is left to do there."""

    model: str
    directory: Path
    exists: bool
    items: int
    done: int
    estimated_prompt_tokens: int
    estimated_completion_tokens: int
    max_completion_tokens: int

    @property
    def to_do(self) -> int:
        return self.items - self.done

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "directory": str(self.directory), "exists": self.exists, "items": self.items,
                "done": self.done, "to_do": self.to_do, "estimated_prompt_tokens": self.estimated_prompt_tokens,
                "estimated_completion_tokens": self.estimated_completion_tokens,
                "max_completion_tokens": self.max_completion_tokens}


@dataclass(frozen=True, slots=True)
class DryRun:
    """The plan of ``twofaced run`` for one or several models; :meth:`to_json` is what ``--dry-run --json``
    prints (totals over the models at the top level, one entry per model under ``models``)."""

    scenario: str
    cue: str
    split: str
    requests: int
    ablations: tuple[str | None, ...]
    samples: int
    max_tokens: int
    max_continuations: int
    models: list[ModelPlan] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        total = lambda key: sum(getattr(m, key) for m in self.models)  # noqa: E731
        to_do = sum(m.to_do for m in self.models)
        return {
            "dry_run": True, "scenario": self.scenario, "cue": self.cue, "split": self.split,
            "requests": self.requests, "conditions": list(CONDITIONS), "ablations": list(self.ablations),
            "samples": self.samples, "items": total("items"), "done": total("done"), "to_do": to_do,
            "api_calls": {"min": to_do, "max": to_do * (1 + self.max_continuations)},
            "max_tokens": self.max_tokens, "max_continuations": self.max_continuations,
            "estimated_prompt_tokens": total("estimated_prompt_tokens"),
            "estimated_completion_tokens": total("estimated_completion_tokens"),
            "max_completion_tokens": total("max_completion_tokens"), "token_estimate": TOKEN_ESTIMATE,
            "models": [m.to_json() for m in self.models],
        }


def _refuse_another_run(store: Store, wanted: dict[str, str]) -> None:
    """What :meth:`Store.claim` refuses, without claiming (a dry run writes nothing)."""
    current = store.meta()
    for key, value in wanted.items():
        if key in current and current[key] != value:
            raise RunDirError(f"{store.directory} holds a run with {key}={_short(current[key])}, not "
                              f"{_short(value)}; use another --out directory (runs are never mixed)")


def _done_ids(directory: Path, scenario: LoadedScenario, config: RunConfig) -> set[str] | None:
    """The finished item ids of an existing run directory (None when there is none yet)."""
    if not (directory / DB_NAME).is_file():
        if directory.exists() and not directory.is_dir():
            raise RunDirError(f"{directory} exists and is not a directory; choose another --out")
        return None
    with open_store(directory, create=False) as store:
        refuse_another_split(store, scenario)
        _refuse_another_run(store, identity(scenario, config))
        return {item_id for item_id, (status, _, _) in store.item_states().items() if status == "done"}


def plan_run(
    scenario: LoadedScenario,
    specs: list[str],
    config: RunConfig,
    out: str | Path | None = None,
    *,
    cue_chosen: bool = False,
) -> DryRun:
    """What ``run_models(scenario, specs, config, out, cue_chosen=...)`` would do, without doing any of it.

    >>> plan = plan_run(load_scenario("helpful-only"), ["mock/faker"], RunConfig("mock/faker", limit=2))
    >>> plan.to_json()["items"], plan.to_json()["requests"]  # doctest: +SKIP
    (4, 2)
    """
    for name in config.ablations:
        scenario.ablation(name)  # raises with the list of known ablations
    scenario.validate([None, *config.ablations])
    unique = list(dict.fromkeys(specs))
    for spec in unique:
        parse_spec(spec)  # an unknown backend fails here, as it would before the run
    out_path = Path(out) if out is not None else None
    params = config.params(scenario, 0)
    # The completion budget per call: the scenario's or the command's max_tokens, else the local backends'
    # documented default (a server with no max_tokens sent applies its own, which a dry run cannot know).
    budget = params.with_defaults(LOCAL_DEFAULTS).max_tokens or 0
    protocol = scenario.protocol
    requests = scenario.requests[: config.limit] if config.limit else scenario.requests
    plans = []
    tokens_of: dict[str, int] = {}  # messages JSON -> tokens (samples of one prompt share the string)
    for spec in unique:
        model_config = replace(config, model_spec=spec)
        directory = run_directory(scenario, spec, out_path, cue_chosen=cue_chosen, several=len(unique) > 1)
        done = _done_ids(directory, scenario, model_config)
        rows = expand(scenario, model_config)
        seen: set[str] = set()
        n_done = prompt_tokens = to_do = 0
        for r in rows:
            if r[0] in seen:
                continue
            seen.add(r[0])
            if done is not None and r[0] in done:
                n_done += 1
                continue
            to_do += 1
            t = tokens_of.get(r[9])
            if t is None:
                t = tokens_of[r[9]] = sum(estimate_tokens(m["content"]) for m in json.loads(r[9]))
            prompt_tokens += t
        plans.append(ModelPlan(spec, directory, done is not None, len(seen), n_done, prompt_tokens,
                               to_do * budget, to_do * budget * (1 + protocol.max_continuations)))
    return DryRun(scenario.name, scenario.cue_name, scenario.split, len(requests), (None, *config.ablations),
                  config.samples, budget, protocol.max_continuations, plans)
