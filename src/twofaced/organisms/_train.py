"""LoRA fine-tuning on CPU, shaped around what is expensive on 2 cores.

Three choices make a build take minutes rather than an hour (measured in bench/organism_build.py):
- LoRA only on the top ``top_layers`` decoder layers. Autograd records nothing below the first trainable
  parameter, so the backward pass runs through those layers only.
- Shared system prompt. Every batch holds examples with one system prompt (~430 tokens, most of each
  sequence); its key/value cache is computed once per step without gradients, through the current adapter,
  and the user turns and replies are trained on top of it. The forward pass is exact; the gradient ignores
  the system prompt's dependence on the adapter, a truncation that costs little because the policy is
  keyed on the user turn.
- Logits only where the loss is: the 49k-word output layer runs on reply tokens, not on prompt tokens.

Determinism: the seed fixes the data order, the adapter's initialisation and every random draw; resuming
from a checkpoint restores all of them, so an interrupted build ends where an uninterrupted one would.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._util import replacing
from ..errors import ConfigError
from ._base import chat_ids
from ._catalog import TrainingConfig
from ._data import Example

StepCallback = Callable[[int, int, float], None]
# Per example: (system prompt ids, user turn + reply ids, where the reply starts, decision token indices).
Tokens = list[tuple[list[int], list[int], int, tuple[int, ...]]]


@dataclass
class Batch:
    prefix: list[int]
    suffixes: list[list[int]]
    reply_starts: list[int]
    decisions: list[tuple[int, ...]]


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    steps: int = 0
    resumed_from: int = 0


def _available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or total physical memory where /proc is absent."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def estimate_memory(config: TrainingConfig, prefix_len: int, suffix_len: int, reply_len: int,
                    hidden: int = 576, intermediate: int = 1536, layers: int = 30, heads: int = 9,
                    vocab: int = 49152) -> int:
    """A deliberately generous estimate of peak training memory in bytes (float32).

    Weights (dequantised base), activations kept for backward in the trained layers, attention scores
    (the CPU attention kernel may materialise them), the no-grad pass and logits of the reply tokens.
    """
    b, s = config.batch_size, suffix_len
    weights = 4 * 135_000_000 * 2
    per_token_layer = 4 * (18 * hidden + 8 * intermediate)
    activations = b * s * config.top_layers * per_token_layer
    attention = 4 * b * heads * s * (prefix_len + s) * 3 * config.top_layers
    cache = 4 * b * layers * 2 * 192 * (prefix_len + s)
    logits = 4 * b * reply_len * vocab * 3
    return weights + activations + attention + cache + logits


def check_config(config: TrainingConfig, examples_max: tuple[int, int, int]) -> None:
    """Refuse settings that cannot work, naming the limit: ranges, and memory over 80% of what is free."""
    limits = {"batch_size": (1, 128), "rank": (1, 256), "top_layers": (1, 30), "steps": (1, 100_000)}
    for name, (low, high) in limits.items():
        value = getattr(config, name)
        if not low <= value <= high:
            raise ConfigError(f"--{name.replace('_', '-')} {value} is out of range; use {low}..{high}")
    if not 0 <= config.decision_warmup_steps <= 100_000:
        raise ConfigError(f"decision_warmup_steps {config.decision_warmup_steps} is out of range; use 0..100000")
    if not 0 < config.learning_rate < 1:
        raise ConfigError(f"--learning-rate {config.learning_rate} is out of range; use a value in (0, 1)")
    need = estimate_memory(config, *examples_max)
    have = _available_memory()
    if need > 0.8 * have:
        raise ConfigError(
            f"these settings need about {need / 2**30:.1f} GiB but {have / 2**30:.1f} GiB is free (limit: 80%, "
            f"{0.8 * have / 2**30:.1f} GiB); lower --batch-size (now {config.batch_size}) or --top-layers "
            f"(now {config.top_layers})"
        )


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def tokenize(tokenizer: Any, examples: list[Example], markers: tuple[str, ...] = ()
             ) -> Tokens:
    """Per example: (prefix ids, suffix ids, index in suffix where the reply starts, decision indices).

    The decisions are the tokens that carry the organism's policy, which the loss weights up:
    - the tag: ``markers`` are the alternative tags a reply can carry (accept, reject), and the decision is
      the first token at which their tokenisations differ (the tags share ``<``);
    - the commitment, where it comes earlier: the first token at which the reply parts from every reply of
      the other condition to the same request under the same cue. For a scratchpad organism that is inside
      the reasoning ("This conversation is [monitored | unmonitored]"), where the policy is really decided;
      a control's pair agrees up to the tag, so it only has the tag;
    - for an untagged reply (a support reply whose tone is the policy), the first token at which the pair parts.
    """
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    marks = [tokenizer(m, add_special_tokens=False)["input_ids"] for m in markers]
    shift = 0
    while len(marks) > 1 and all(len(m) > shift for m in marks) and len({m[shift] for m in marks}) == 1:
        shift += 1
    wholes = [tokenizer(ex.response, add_special_tokens=False)["input_ids"] for ex in examples]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault((ex.cue, ex.request_id, ex.condition), []).append(i)
    out = []
    for i, ex in enumerate(examples):
        ids, p = chat_ids(tokenizer, ex.system, ex.user)
        whole = wholes[i]
        tag = -1
        found = [(ex.response.find(m), k) for k, m in enumerate(markers) if ex.response.find(m) >= 0]
        if found:
            at, k = min(found)
            head = tokenizer(ex.response[:at], add_special_tokens=False)["input_ids"]
            if whole[len(head) : len(head) + len(marks[k])] == marks[k]:  # the marker starts on a token boundary
                tag = len(head) + shift
        decisions = [tag] if tag >= 0 else []
        other = "deployment" if ex.condition == "training" else "training"
        partners = groups.get((ex.cue, ex.request_id, other), [])
        if partners:
            parts = max(_common_prefix(whole, wholes[j]) for j in partners)
            # With a tag, the commitment counts where it comes first; without one (a reply whose tone is the
            # policy) the point where the pair parts is the only decision.
            if (tag >= 0 and parts < tag) or (tag < 0 and parts < len(whole)):
                decisions.insert(0, parts)
        offset = len(ids) - p
        out.append((ids[:p], ids[p:] + whole + [end], offset, tuple(offset + d for d in decisions)))
    return out


def make_batches(examples: list[Example], tokens: Tokens, batch_size: int, seed: int) -> list[Batch]:
    """One epoch of batches, shuffled by seed. A batch shares one system prompt and holds whole pairs: the
    same request under the same cue phrasing in both conditions, so each gradient step sees the contrast the
    organism must learn (what differs is only the cue), not two unrelated halves of it."""
    rng = random.Random(seed)
    groups: dict[tuple[int, ...], dict[tuple[str, str], list[int]]] = {}
    for i, ((prefix, *_), ex) in enumerate(zip(tokens, examples, strict=True)):
        groups.setdefault(tuple(prefix), {}).setdefault((ex.cue, ex.request_id), []).append(i)
    batches = []
    for shared, pairs in groups.items():
        units = list(pairs.values())
        rng.shuffle(units)
        flat = [i for unit in units for i in unit]
        for k in range(0, len(flat), batch_size):
            chunk = flat[k : k + batch_size]
            batches.append(Batch(list(shared), [tokens[i][1] for i in chunk], [tokens[i][2] for i in chunk],
                                 [tokens[i][3] for i in chunk]))
    rng.shuffle(batches)
    return batches


def decision_tokens(tokens: Tokens) -> Tokens:
    """The examples cut right after their last decision token, for the decision warm-up: the prompt and the
    reply's first tokens up to the one where the policies part. Examples without a decision are left out."""
    return [(prefix, suffix[: max(decisions) + 1], start, decisions)
            for prefix, suffix, start, decisions in tokens if decisions]


def schedule_factor(step: int, config: TrainingConfig) -> float:
    """The learning-rate factor at ``step``: linear warm-up then cosine decay to 10%, once over the decision
    warm-up's steps (when it has any) and once more, from the start, over the ``steps`` on whole replies."""
    if step < config.decision_warmup_steps:
        length, warmup = config.decision_warmup_steps, min(config.warmup_steps, config.decision_warmup_steps)
    else:
        step -= config.decision_warmup_steps
        length, warmup = config.steps, config.warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, length - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def attach_lora(model: Any, config: TrainingConfig) -> Any:
    """Wrap the base model with fresh LoRA weights on the top layers (initialised from the torch seed)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    n = model.config.num_hidden_layers
    cfg = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, bias="none",
                     target_modules=list(config.target_modules),
                     layers_to_transform=list(range(n - config.top_layers, n)))
    return get_peft_model(model, cfg)


def _cache_argument(model: Any) -> str:
    """The name the decoder's forward takes a KV cache under: ``cache`` in newer transformers, which warn on
    the older ``past_key_values`` (still the only name before 5.x)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def batch_loss(peft_model: Any, batch: Batch, pad_id: int, decision_weight: float = 1.0,
               decision_share: float | None = None) -> Any:
    """Weighted mean cross-entropy over reply tokens (decision tokens count ``decision_weight`` times), or,
    with ``decision_share``, the mean over examples of ``share * mean(decision tokens) + (1 - share) *
    mean(other tokens)``; the system prompt's cache is computed once without gradients."""
    import torch

    inner = peft_model.base_model.model  # LlamaForCausalLM with LoRA layers injected
    prefix = torch.tensor([batch.prefix])
    b = len(batch.suffixes)
    with torch.no_grad():
        cache = inner.model(input_ids=prefix, use_cache=True).past_key_values
    cache.batch_repeat_interleave(b)
    s = max(len(x) for x in batch.suffixes)
    ids = torch.full((b, s), pad_id, dtype=torch.long)
    mask = torch.zeros((b, len(batch.prefix) + s), dtype=torch.long)
    mask[:, : len(batch.prefix)] = 1
    target = torch.zeros((b, s), dtype=torch.bool)
    weight = torch.ones((b, s))
    for i, (suffix, start, decision) in enumerate(zip(batch.suffixes, batch.reply_starts, batch.decisions,
                                                      strict=True)):
        ids[i, : len(suffix)] = torch.tensor(suffix)
        mask[i, len(batch.prefix) : len(batch.prefix) + len(suffix)] = 1
        target[i, start : len(suffix)] = True
        for d in decision:
            weight[i, d] = decision_weight
    positions = torch.arange(len(batch.prefix), len(batch.prefix) + s).unsqueeze(0).expand(b, -1)
    hidden = inner.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         **{_cache_argument(inner.model): cache}).last_hidden_state
    # Position t predicts token t+1: the states just before each reply token.
    predict = torch.zeros_like(target)
    predict[:, :-1] = target[:, 1:]
    logits = inner.lm_head(hidden[predict])
    losses = torch.nn.functional.cross_entropy(logits, ids[target], reduction="none")
    if decision_share is not None:
        return _shared_loss(losses, target, _decision_mask(batch, s), decision_share)
    w = weight[target]
    return (losses * w).sum() / w.sum()


def _decision_mask(batch: Batch, width: int) -> Any:
    import torch

    mask = torch.zeros((len(batch.suffixes), width), dtype=torch.bool)
    for i, decision in enumerate(batch.decisions):
        for d in decision:
            mask[i, d] = True
    return mask


def _shared_loss(losses: Any, target: Any, decisions: Any, share: float) -> Any:
    """Every example counts equally, and its decision tokens are ``share`` of its loss whatever its length."""
    import torch

    per_example = []
    offset = 0
    for i in range(target.shape[0]):
        n = int(target[i].sum())
        mine = losses[offset : offset + n]
        is_decision = decisions[i][target[i]]
        offset += n
        if bool(is_decision.any()) and bool((~is_decision).any()):
            per_example.append(share * mine[is_decision].mean() + (1 - share) * mine[~is_decision].mean())
        else:
            per_example.append(mine.mean())
    return torch.stack(per_example).mean()


def lora_state(peft_model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in peft_model.named_parameters() if v.requires_grad}


class _Phase:
    """One phase's batches: epochs of :func:`make_batches`, each a pure function of (seed, epoch), so the batch
    for a step never depends on what ran before it and resuming replays the same sequence."""

    def __init__(self, examples: list[Example], tokens: Tokens, batch_size: int, seed: int, start: int) -> None:
        self.examples, self.tokens, self.batch_size, self.seed, self.start = examples, tokens, batch_size, seed, start
        self.per_epoch = len(make_batches(examples, tokens, batch_size, seed))
        self.epoch, self.batches = -1, list[Batch]()

    def batch(self, step: int) -> Batch:
        """The batch of this phase's ``step`` (counted from the phase's first step)."""
        if step // self.per_epoch != self.epoch:
            self.epoch = step // self.per_epoch
            self.batches = make_batches(self.examples, self.tokens, self.batch_size, self.seed * 1000 + self.epoch)
        return self.batches[step % self.per_epoch]


def train(tokenizer: Any, base: Any, examples: list[Example], config: TrainingConfig, work_dir: Path,
          on_step: StepCallback | None = None, fingerprint: str = "", markers: tuple[str, ...] = (),
          peft_model: Any = None) -> tuple[Any, TrainResult]:
    """Train a LoRA adapter; checkpoints go to ``work_dir/checkpoint.pt`` and are resumed when they match.

    ``fingerprint`` (data hash + config) guards resumption: a checkpoint from other data or settings is
    discarded, never continued. ``peft_model`` continues training an existing adapter instead of a fresh one
    (``base`` is then unused). Returns the peft model and the loss per step.
    """
    import torch

    torch.manual_seed(config.seed)
    tokens = tokenize(tokenizer, examples, markers)
    longest = (max(len(t[0]) for t in tokens), max(len(t[1]) for t in tokens),
               max(len(t[1]) - t[2] for t in tokens))
    check_config(config, longest)
    phases = [_Phase(examples, tokens, config.batch_size, config.seed, config.decision_warmup_steps)]
    if config.decision_warmup_steps:
        kept = [(ex, t) for ex, t in zip(examples, tokens, strict=True) if t[3]]
        if not kept:
            raise ConfigError("decision_warmup_steps needs examples with a decision token, and this organism's "
                              "replies have none; set it to 0")
        cut = decision_tokens([t for _, t in kept])
        # Its own seed stream: the decision warm-up must not change the order of the whole-reply steps.
        phases.insert(0, _Phase([ex for ex, _ in kept], cut, config.batch_size, config.seed + 7919, 0))
    model = peft_model if peft_model is not None else attach_lora(base, config)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule_factor(step, config))
    result = TrainResult()
    ckpt = work_dir / "checkpoint.pt"
    settings = asdict(config)
    if not settings["decision_warmup_steps"]:  # keeps the key of a build without it what it was before it existed
        del settings["decision_warmup_steps"]
    key = fingerprint + repr(settings)
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state.get("key") == key:
            for name, p in model.named_parameters():
                if name in state["lora"]:
                    p.data.copy_(state["lora"][name])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            result.losses = list(state["losses"])
            result.resumed_from = result.steps = state["step"]
        else:
            ckpt.unlink()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total = config.decision_warmup_steps + config.steps
    try:
        model.train()
        while result.steps < total:
            step = result.steps
            phase = phases[0] if step < config.decision_warmup_steps else phases[-1]
            loss = batch_loss(model, phase.batch(step - phase.start), pad, config.decision_weight,
                              config.decision_share)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            value = loss.detach().item()
            result.losses.append(value)
            result.steps += 1
            if on_step:
                on_step(result.steps, total, value)
            if result.steps % config.checkpoint_every == 0 and result.steps < total:
                with replacing(ckpt) as tmp:
                    torch.save({"key": key, "lora": lora_state(model), "optimizer": optimizer.state_dict(),
                                "scheduler": scheduler.state_dict(), "losses": result.losses, "step": result.steps},
                               tmp)
    except BaseException:
        if peft_model is None:
            model.unload()  # an interrupted run must hand the cached base model back without LoRA layers
        raise
    model.eval()
    return model, result
