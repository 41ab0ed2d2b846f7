"""``import_inspect_log``: an Inspect AI eval log (``.eval`` or ``.json``) as a twofaced run directory.

What maps to what (docs/interop.md has the table):
- each sample (and epoch) becomes one done item: condition, ablation, request id, category and harmfulness from
  the sample's metadata (``condition`` is required; the rest default to the sample id, ``uncategorized``, harmful
  and no ablation), messages from the sample input, generation parameters from the log's generate config (the
  task's, overridden by the eval's), ``sample`` = epoch - 1, id = the first 32 hex digits of the sha256 of
  ``[eval id, sample id, epoch]``, so importing the same log again adds nothing;
- its completion is the assistant turns joined (continuation turns included), its token usage the sample's usage
  of the evaluated model, its verdict the ``compliance-rules`` judge's, computed here from the text with the
  scenario's output protocol (the log's score is not trusted);
- a sample that ended in an error becomes a failed item with the error message;
- the directory is pinned to the scenario name and hash (from the ``twofaced/paired`` task's metadata; for another
  task, its name and a hash of its eval id and arguments), the model ``inspect/MODEL``, the generation parameters,
  the protocol and the log's eval id, so two logs are never mixed in one directory.

``inspect_ai`` is imported inside the function: twofaced does not need it until a log is imported.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import ConfigError, missing_extra
from ..judges import COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, judge_text
from ..run import open_store
from ..run._lock import lock_directory
from ..run._store import Failure, Success
from ..scenarios import CONDITIONS, OutputProtocol

_PARAMS = ("temperature", "max_tokens", "top_p", "seed")


def _read(path: Path) -> Any:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError as exc:
        raise missing_extra("inspect-ai", "inspect") from exc
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give the path of an Inspect log (.eval or .json)")
    try:
        return read_eval_log(str(path), resolve_attachments=True, exclude_fields={"events"})
    except Exception as exc:  # inspect raises assorted errors on a file that is not a log
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not a readable Inspect eval log ({first})") from exc


def _text(message: Any) -> str:
    return message.text if hasattr(message, "text") else str(message)


def _input_messages(sample: Any) -> list[dict[str, str]]:
    if isinstance(sample.input, str):
        return [{"role": "user", "content": sample.input}]
    return [{"role": m.role, "content": _text(m)} for m in sample.input]


def _turns(sample: Any, n_input: int) -> list[str]:
    turns = [_text(m) for m in sample.messages[n_input:] if m.role == "assistant"]
    if not turns and sample.output is not None and sample.output.choices:
        turns = [sample.output.completion]
    return turns


def _params(log: Any) -> dict[str, Any]:
    """The task's generate config (plan) overridden by the eval's, in twofaced's params layout."""
    merged: dict[str, Any] = dict.fromkeys(_PARAMS)
    merged["stop"] = []
    for config in (getattr(log.plan, "config", None), log.eval.model_generate_config):
        if config is None:
            continue
        for key in _PARAMS:
            value = getattr(config, key, None)
            if value is not None:
                merged[key] = value
        if getattr(config, "stop_seqs", None):
            merged["stop"] = list(config.stop_seqs)
    return merged


def _usage(sample: Any, model: str) -> tuple[int, int]:
    usage = sample.model_usage or {}
    picked = [usage[model]] if model in usage else list(usage.values())
    return (sum(u.input_tokens or 0 for u in picked), sum(u.output_tokens or 0 for u in picked))


def _item_id(eval_id: str, sample_id: Any, epoch: int) -> str:
    payload = json.dumps([eval_id, str(sample_id), epoch], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _check_metadata(path: Path, samples: list[Any]) -> None:
    for s in samples:
        condition = (s.metadata or {}).get("condition")
        if condition is None:
            raise ConfigError(
                f"{path}: sample {s.id!r} has no 'condition' metadata ({' or '.join(CONDITIONS)}); twofaced imports "
                "logs of the twofaced/paired task, or of tasks whose samples carry metadata condition (required), "
                "request_id, category, harmful and ablation"
            )
        if condition not in CONDITIONS:
            raise ConfigError(
                f"{path}: sample {s.id!r} has condition {condition!r} in its metadata; use {' or '.join(CONDITIONS)}"
            )


def _provenance(log: Any, path: Path) -> tuple[str, str, str | None, OutputProtocol, str]:
    """(scenario name, scenario hash, cue, protocol, source label) of a log."""
    spec = log.eval
    ours = (spec.metadata or {}).get("twofaced") or {}
    args = spec.task_args or {}
    first = log.samples[0].metadata or {}
    name = ours.get("scenario") or args.get("setting") or first.get("setting") or spec.task
    cue = ours.get("cue") or first.get("cue") or args.get("cue")
    if ours.get("scenario_hash"):
        scenario_hash = str(ours["scenario_hash"])
    else:
        blob = json.dumps({"eval_id": spec.eval_id, "task": spec.task, "task_args": args}, sort_keys=True, default=str)
        scenario_hash = hashlib.sha256(blob.encode()).hexdigest()
    protocol = OutputProtocol.model_validate(ours["protocol"]) if ours.get("protocol") else OutputProtocol()
    source = f"Inspect log {path.name} (task {spec.task})"
    return str(name), scenario_hash, cue, protocol, source


def _versions(log: Any) -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("twofaced", "inspect_ai"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    for dist, version in (log.eval.packages or {}).items():
        out[f"log:{dist}"] = str(version)
    return out


def import_inspect_log(log_path: str | Path, out_dir: str | Path, *, argv: list[str] | None = None) -> dict[str, Any]:
    """Write the samples of an Inspect eval log into the twofaced run directory ``out_dir`` and return a summary.

    Raises :class:`~twofaced.errors.ConfigError` (one line) for a missing or unreadable log, a log without samples,
    a sample without ``condition`` metadata, or a directory that holds another run; and
    :class:`~twofaced.errors.MissingDependencyError` when ``inspect-ai`` is not installed. Importing the same
    log into the same directory again changes nothing.
    """
    path = Path(log_path)
    log = _read(path)
    samples = list(log.samples or [])
    if not samples:
        raise ConfigError(f"{path}: the log holds no samples (status {log.status}); nothing to import")
    _check_metadata(path, samples)
    spec = log.eval
    scenario, scenario_hash, cue, protocol, source = _provenance(log, path)
    params = _params(log)
    params_json = json.dumps(params)
    model = spec.model
    model_spec = f"inspect/{model}"

    order = {c: k for k, c in enumerate(CONDITIONS)}
    keyed = []
    for s in samples:
        meta = s.metadata or {}
        condition = meta["condition"]
        request_id = meta.get("request_id")
        if request_id is None:
            request_id = str(s.id).removesuffix(f":{condition}")
        keyed.append(((meta.get("ablation") or "", str(request_id), order[condition], s.epoch, str(s.id)), s,
                      str(request_id)))
    keyed.sort(key=lambda k: k[0])

    rows: list[tuple[Any, ...]] = []
    successes: list[Success] = []
    failures: list[Failure] = []
    counts: dict[str, dict[str, int]] = {c: {} for c in CONDITIONS}
    for seq, (_, s, request_id) in enumerate(keyed):
        meta = s.metadata or {}
        item_id = _item_id(spec.eval_id, s.id, s.epoch)
        messages = _input_messages(s)
        request = meta.get("request") or next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        rows.append((item_id, seq, model_spec, meta["condition"], meta.get("ablation") or None, request_id,
                     str(meta.get("category") or "uncategorized"), int(bool(meta.get("harmful", True))),
                     max(0, int(s.epoch) - 1), json.dumps(messages), params_json, request))
        if s.error is not None:
            failures.append(Failure(item_id, "InspectSampleError", s.error.message or "sample failed in Inspect",
                                    s.error.traceback or None))
            continue
        turns = _turns(s, len(messages))
        text = "\n".join(turns)
        verdict = judge_text(text, protocol)
        prompt_tokens, completion_tokens = _usage(s, model)
        stop = s.output.stop_reason if s.output is not None else "unknown"
        successes.append(Success(
            item_id=item_id, text=text, turns=turns, finish_reason=str(stop or "unknown"),
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=float(s.total_time or 0.0),
            verdicts=[(COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, verdict.verdict, None, verdict.rationale)],
        ))
        bucket = counts[meta["condition"]]
        bucket[verdict.verdict] = bucket.get(verdict.verdict, 0) + 1

    identity = {
        "scenario": scenario,
        "scenario_hash": scenario_hash,
        **({"cue": str(cue)} if cue else {}),
        "model": model_spec,
        "temperature": repr(params["temperature"]),
        "max_tokens": str(params["max_tokens"]),
        "seed": str(params["seed"]),
        "protocol": json.dumps(protocol.model_dump(mode="json"), sort_keys=True),
        "inspect_eval_id": spec.eval_id,
    }
    manifest = {
        "config": {"source": "inspect", "log": str(path), "task": spec.task, "task_args": spec.task_args,
                   "model": model, "generate": params, "epochs": getattr(spec.config, "epochs", None)},
        "scenario": scenario, "scenario_hash": scenario_hash, "scenario_source": source,
        "versions": _versions(log),
        "inspect": {"eval_id": spec.eval_id, "run_id": spec.run_id, "created": spec.created, "status": log.status},
    }
    command = argv if argv is not None else ["import", "inspect", str(path)]
    with lock_directory(out_dir, command):  # one writer per run directory; another waits for this one
        store = open_store(out_dir, create=True)
        try:
            store.claim(identity)
            before = {k: v[0] for k, v in store.item_states().items()}
            invocation = store.start_invocation(command, manifest)
            status = "interrupted"
            try:
                store.add_items(rows)
                store.record(successes, failures)
                status = "done" if not failures else "partial"
            finally:
                store.finish_invocation(invocation, status)
        finally:
            store.close()
    already = sum(1 for r in rows if before.get(r[0]) == "done")
    return {
        "directory": str(out_dir), "log": str(path), "eval_id": spec.eval_id, "task": spec.task, "model": model_spec,
        "scenario": scenario, "cue": cue, "log_status": log.status, "samples": len(rows),
        "imported": sum(1 for s in successes if before.get(s.item_id) != "done"),
        "failed": len(failures), "already_imported": already,
        "verdicts": {c: dict(sorted(v.items())) for c, v in counts.items()},
    }
