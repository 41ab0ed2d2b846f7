"""Execute work items against a model with bounded concurrency, storing every outcome as it lands.

Who calls: :func:`twofaced.run.run_scenario` (and benchmarks). The caller owns the store and the model.

Invariants:
- At most ``min(concurrency, model.max_concurrency)`` requests are in flight.
- Outcomes are buffered for at most ``flush_interval`` seconds and written in one transaction per batch, so a
  kill loses at most the items in flight and the last fraction of a second of finished ones, which are simply
  redone on resume. Ctrl-C and cancellation flush the buffer before returning.
- Batches are written on one worker thread, off the event loop (a batch of 64 takes 2-4 ms, up to ~20 ms when
  SQLite checkpoints its WAL, and on the loop would stall every request in flight), one write at a time; the
  final flush waits for the write in flight and then writes the rest on the caller's thread. Nothing else
  touches the store during ``execute``.
- A non-fatal model error is recorded against its item and the run goes on; an unexpected exception is
  recorded with its traceback the same way. A fatal error (bad key, unreachable endpoint) stops the run after
  flushing, and is re-raised for the CLI to print in one line.
- The conversation loop is the reference experiment's (``judges/_parse.py: continuation_stop``): after each
  assistant turn, stop if it closed the output tag (tags quoted inside a scratchpad do not count) or closed no
  tag at all; continue with the protocol's continuation message (``<NEXT/>``) if it closed a scratchpad, for up
  to ``max_continuations`` extra turns. Each item stores why it stopped (``stop_reason``), every turn after its
  prompt exactly as sent and received (``conversation``; an assistant prefill is part of its turn), the
  assistant turns apart (``turns``) and joined with a newline (``text``, what the rule judge reads).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import ModelError, PrefillUnsupportedError
from ..judges import COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, judge_text
from ..judges._parse import BUDGET_SPENT, continuation_stop
from ..models import GenerationParams, Message, Model, Usage, supports_prefill
from ..scenarios import OutputProtocol
from ._store import Failure, ItemRow, Store, Success

ProgressCallback = Callable[[bool], None]


@dataclass(slots=True)
class ExecutionResult:
    done: int = 0
    failed: int = 0
    usage: Usage = field(default_factory=Usage)
    fatal: ModelError | None = None
    elapsed_s: float = 0.0


async def _complete(model: Model, item: ItemRow, protocol: OutputProtocol, prefill: str | None) -> Success:
    """One item's conversation: the prompt, then assistant turns and continuation messages until
    :func:`~twofaced.judges._parse.continuation_stop` ends it or the budget is spent. ``prefill`` (checked
    against the model by :func:`execute`) is sent as a trailing assistant message on every call and is the
    start of that assistant turn, as the reference experiment does."""
    messages = [Message(m["role"], m["content"]) for m in item.messages]  # type: ignore[arg-type]
    params = GenerationParams.from_dict(item.params)  # only the parameters set are sent
    turns: list[str] = []
    conversation: list[dict[str, str]] = []  # every turn after the prompt, as sent and received
    usage = Usage()
    started = time.perf_counter()
    finish = "stop"
    stop: str | None = None
    for turn in range(protocol.max_continuations + 1):
        if prefill is None:
            completion = await model.generate(messages, params)
            said = completion.text
            conversation.append({"role": "assistant", "content": said})
        else:
            completion = await model.generate([*messages, Message("assistant", prefill)], params)
            said = prefill + completion.text
            conversation.append({"role": "assistant", "content": said, "prefill": prefill})
        turns.append(said)
        usage += completion.usage
        finish = completion.finish_reason
        stop = continuation_stop(said, protocol)
        if stop is not None:
            break
        if turn == protocol.max_continuations:
            stop = BUDGET_SPENT
            break
        messages = [*messages, Message("assistant", said), Message("user", protocol.continuation_message)]
        conversation.append({"role": "user", "content": protocol.continuation_message})
    text = "\n".join(turns)
    verdict = judge_text(text, protocol)
    return Success(
        item_id=item.id, text=text, turns=turns, finish_reason=finish,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        latency_s=time.perf_counter() - started,
        verdicts=[(COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, verdict.verdict, None, verdict.rationale)],
        conversation=conversation, stop_reason=stop,
    )


def check_prefill(model: Model, protocol: OutputProtocol) -> str | None:
    """The protocol's assistant prefill, or None; raises a one-line :class:`PrefillUnsupportedError` when the model
    cannot continue a prefilled assistant turn (checked once, before any request is sent)."""
    prefill = getattr(protocol, "assistant_prefill", None)
    if not prefill:
        return None
    if not supports_prefill(model):
        raise PrefillUnsupportedError(
            f"model {model.spec} cannot continue a prefilled assistant turn (output_protocol.assistant_prefill="
            f"{prefill!r}); remove assistant_prefill from the scenario or use a backend that supports prefill"
        )
    return str(prefill)


async def execute(
    store: Store,
    model: Model,
    items: list[ItemRow],
    protocol: OutputProtocol | Mapping[str | None, OutputProtocol],
    *,
    concurrency: int = 16,
    on_item: ProgressCallback | None = None,
    flush_interval: float = 0.1,
    before: Callable[[], object] | None = None,
) -> ExecutionResult:
    """Run ``items`` and persist each outcome; see the module docstring for the guarantees.

    ``before`` is a store write that runs on the store thread ahead of every batch while the first requests
    go out (the runner adds the items this way); if it fails, no new item starts and its error is raised once
    the items in flight are done. ``protocol`` is one output protocol for every item, or one per ablation
    (``{None: base, "no-cot": ...}``) when an ablation changes it."""
    by_ablation: dict[str | None, OutputProtocol] = (
        dict(protocol) if isinstance(protocol, Mapping) else {None: protocol})
    prefills = {a: check_prefill(model, p) for a, p in by_ablation.items()}  # refused before any request

    def protocol_of(ablation: str | None) -> tuple[OutputProtocol, str | None]:
        key = ablation if ablation in by_ablation else None  # one protocol for all: {None: it}
        return by_ablation[key], prefills[key]
    result = ExecutionResult()
    successes: list[Success] = []
    failures: list[Failure] = []
    pending = iter(items)
    stop = asyncio.Event()
    wake = asyncio.Event()
    started = time.perf_counter()
    # Batches are written on one worker thread while the loop keeps requests moving; the flusher awaits each
    # write before taking the next batch, so at most one thread uses the store's connection at a time.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twofaced-store")
    writing: Future[None] | None = None
    prelude = writer.submit(before) if before is not None else None
    if prelude is not None:
        loop = asyncio.get_running_loop()
        prelude.add_done_callback(lambda f: f.exception() is None or loop.call_soon_threadsafe(stop.set))

    def take() -> tuple[list[Success], list[Failure]] | None:
        nonlocal successes, failures
        if not successes and not failures:
            return None
        batch = successes, failures
        successes, failures = [], []
        return batch

    def flush() -> None:
        batch = take()
        if batch is not None:
            store.record(*batch)

    async def flusher() -> None:
        nonlocal writing
        while True:
            await wake.wait()
            await asyncio.sleep(flush_interval)
            wake.clear()
            batch = take()
            if batch is not None:
                writing = writer.submit(store.record, *batch)
                # Shielded: cancelling the flusher must not cancel a write that has not started yet; the
                # finally below waits for it instead.
                await asyncio.shield(asyncio.wrap_future(writing))

    async def worker() -> None:
        for item in pending:
            if stop.is_set():
                return
            ok = False
            try:
                success = await _complete(model, item, *protocol_of(item.ablation))
            except ModelError as exc:
                failures.append(Failure(item.id, type(exc).__name__, str(exc), None))
                result.failed += 1
                if exc.fatal:
                    result.fatal = result.fatal or exc
                    stop.set()
            except Exception as exc:  # a backend bug must not kill the run or lose the evidence
                failures.append(Failure(item.id, type(exc).__name__, str(exc) or repr(exc), traceback.format_exc()))
                result.failed += 1
            else:
                successes.append(success)
                ok = True
                result.done += 1
                result.usage.prompt_tokens += success.prompt_tokens
                result.usage.completion_tokens += success.completion_tokens
            wake.set()
            if on_item is not None:
                on_item(ok)

    n_workers = max(1, min(concurrency, model.max_concurrency, len(items) or 1))
    flush_task = asyncio.create_task(flusher())
    try:
        await asyncio.gather(*(worker() for _ in range(n_workers)))
    finally:
        flush_task.cancel()
        try:
            await flush_task
        except asyncio.CancelledError:
            pass
        finally:
            writer.shutdown(wait=True)  # blocks for the one write in flight, if any (milliseconds)
            if prelude is not None and prelude.exception() is not None:
                raise prelude.exception()  # type: ignore[misc]  # before any batch's error: it caused them
        if writing is not None and writing.done() and not writing.cancelled() and writing.exception() is not None:
            raise writing.exception()  # type: ignore[misc]  # a write that failed after the flusher was cancelled
        flush()
        result.elapsed_s = time.perf_counter() - started
    return result
