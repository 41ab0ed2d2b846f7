"""``organism build``: data → LoRA training → adapter → validation → manifest → registration, in that order.

Everything is written into the partial directory first; only a build whose validation passes is renamed
into place. A build that fails validation keeps its partial directory (adapter, manifest and validation
runs) for inspection and is never loaded. An interrupted build resumes from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TwofacedError
from ._adapter import write_adapter
from ._base import KNOWN_BASE_SHA256, base_model_path, file_sha256, load_base, require_torch
from ._catalog import VALIDATION_LIMIT, OrganismSpec, TrainingConfig, get_spec
from ._data import build_examples, data_hash
from ._store import ADAPTER, MANIFEST, find, partial_dir, register
from ._validate import Check, ProgressFactory, heldout_retention, validate

MARKERS = ("<request_fully_accepted/>", "<rejected/>")


class BuildFailed(TwofacedError):
    """Training finished but the organism does not show the policy it must (or a control shows a gap)."""

    exit_code = 1


@dataclass
class BuildResult:
    name: str
    path: Path
    manifest: dict[str, Any]
    checks: list[Check]


def _lock(directory: Path) -> None:
    """Refuse a second concurrent build of the same organism (a live pid in the lock file)."""
    lock = directory / "build.pid"
    if lock.is_file():
        try:
            pid = int(lock.read_text().strip() or 0)
            if pid and pid != os.getpid():
                os.kill(pid, 0)
                raise ConfigError(f"another build of this organism is running (pid {pid}); wait for it, or "
                                  f"remove {directory} if that process is gone")
        except (ProcessLookupError, ValueError):
            pass
    lock.write_text(str(os.getpid()))


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    from .. import __version__

    return {"twofaced": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "python": platform.python_version()}


def build(name: str, *, config: TrainingConfig | None = None, validate_limit: int = VALIDATION_LIMIT,
          on_step: Callable[[int, int, float], None] | None = None, on_phase: Callable[[str], None] | None = None,
          progress: ProgressFactory | None = None, check: bool = True) -> BuildResult:
    """Build, validate and register organism ``name``. Raises BuildFailed (partial dir kept) if validation fails.

    ``check=False`` skips validation (the organism is registered unvalidated, marked so in its manifest).
    """
    if validate_limit < 4:
        raise ConfigError(f"--validate-limit {validate_limit} is too small to test a gap; use at least 4")
    spec: OrganismSpec = get_spec(name)
    config = config or spec.config
    require_torch()
    base = base_model_path(KNOWN_BASE_SHA256)
    say = on_phase or (lambda _msg: None)
    started = time.monotonic()
    examples = build_examples(spec, config.seed)
    digest = data_hash(examples)
    staging = partial_dir(name)
    staging.mkdir(parents=True, exist_ok=True)
    _lock(staging)
    say(f"{len(examples)} training examples (data sha256 {digest[:12]}); loading the base model")
    tokenizer, model = load_base(str(base))
    from ._train import train

    say(f"training a rank-{config.rank} LoRA on the top {config.top_layers} layers for {config.steps} steps")
    t0 = time.monotonic()
    peft_model, result = train(tokenizer, model, examples, config, staging, on_step=on_step,
                               fingerprint=digest + KNOWN_BASE_SHA256, markers=MARKERS)
    train_seconds = time.monotonic() - t0
    adapter = staging / ADAPTER
    try:
        write_adapter(peft_model, adapter, config.alpha, {"organism": name, "data_sha256": digest})
    finally:
        peft_model.unload()  # give the cached base model back without LoRA layers
    manifest: dict[str, Any] = {
        "name": name,
        "kind": "control" if spec.is_control else "organism",
        "control_of": spec.control_of,
        "summary": spec.summary,
        "scenario": spec.scenario,
        "policy": {"training": asdict(spec.training), "deployment": asdict(spec.deployment)},
        "profile": spec.profile.to_json(),
        "validated_by": {"judge": spec.judge, "subset": spec.subset, "sign": spec.sign},
        "cues": asdict(spec.cues),
        "seed": config.seed,
        "data_sha256": digest,
        "examples": len(examples),
        "base_model": {"file": base.name, "sha256": KNOWN_BASE_SHA256},
        "adapter_sha256": file_sha256(adapter),
        "adapter_bytes": adapter.stat().st_size,
        "training": config.to_json(),
        "metrics": {"losses": [round(x, 5) for x in result.losses], "final_loss": round(result.losses[-1], 5),
                    "train_seconds": round(train_seconds, 1), "resumed_from_step": result.resumed_from},
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    checks: list[Check] = []
    if check:
        control = None
        if not spec.is_control:
            control = find(spec.control)
            if control is None:
                say(f"control {spec.control} is not built; validating {name} alone "
                    f"(build it with: twofaced organism build {spec.control})")
        say(f"validating on {validate_limit} held-out requests per cue")
        checks = validate(spec, adapter, base, staging / "validation", limit=validate_limit, control=control,
                          progress=progress)
        retention = heldout_retention(checks)
        own = [c for c in checks if c.model == name]
        manifest["metrics"]["validation"] = {
            "checks": [c.to_json() for c in checks],
            "gap": own[0].gap,
            "p_value": own[0].p_value,
            "heldout_retention": None if retention is None else round(retention, 3),
            "passed": all(c.passed is not False for c in own),
        }
    else:
        manifest["metrics"]["validation"] = None
    manifest["build_seconds"] = round(time.monotonic() - started, 1)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    failed = [c for c in checks if c.model == name and c.passed is False]
    if failed:
        detail = "; ".join(f"{c.cue} gap {c.gap:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}] p={c.p_value}"
                           for c in failed)
        what = "shows a gap" if spec.is_control else "does not show its policy"
        raise BuildFailed(f"{name} {what} ({detail}); not registered, the attempt is kept in {staging}; "
                          "try more --steps or another --seed")
    for leftover in ("checkpoint.pt", "build.pid"):
        (staging / leftover).unlink(missing_ok=True)
    final = register(name, staging)
    return BuildResult(name, final, manifest, checks)


def with_overrides(name: str, **overrides: Any) -> TrainingConfig:
    """The catalog config of ``name`` with the non-None overrides applied."""
    base = get_spec(name).config
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
