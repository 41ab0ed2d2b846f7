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
- A completion that stops inside its scratchpad gets up to ``max_continuations`` continuation turns; the
  stored text is the assistant turns joined, the stored turns list keeps them apart.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import ModelError
from ..judges import COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, judge_text, needs_continuation
from ..models import GenerationParams, Message, Model, Usage
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


def _params(d: dict[str, object]) -> GenerationParams:
    return GenerationParams(
        temperature=float(d["temperature"]),  # type: ignore[arg-type]
        max_tokens=int(d["max_tokens"]),  # type: ignore[call-overload]
        top_p=float(d["top_p"]),  # type: ignore[arg-type]
        seed=None if d.get("seed") is None else int(d["seed"]),  # type: ignore[call-overload]
        stop=tuple(d.get("stop") or ()),  # type: ignore[arg-type]
    )


async def _complete(model: Model, item: ItemRow, protocol: OutputProtocol) -> Success:
    messages = [Message(m["role"], m["content"]) for m in item.messages]  # type: ignore[arg-type]
    params = _params(item.params)
    turns: list[str] = []
    usage = Usage()
    started = time.perf_counter()
    finish = "stop"
    for turn in range(protocol.max_continuations + 1):
        completion = await model.generate(messages, params)
        turns.append(completion.text)
        usage += completion.usage
        finish = completion.finish_reason
        joined = "\n".join(turns)
        if turn == protocol.max_continuations or not needs_continuation(joined, protocol):
            break
        messages = [*messages, Message("assistant", completion.text),
                    Message("user", protocol.continuation_message)]
    text = "\n".join(turns)
    verdict = judge_text(text, protocol)
    return Success(
        item_id=item.id, text=text, turns=turns, finish_reason=finish,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        latency_s=time.perf_counter() - started,
        verdicts=[(COMPLIANCE_RULES, COMPLIANCE_RULES_VERSION, verdict.verdict, None, verdict.rationale)],
    )


async def execute(
    store: Store,
    model: Model,
    items: list[ItemRow],
    protocol: OutputProtocol,
    *,
    concurrency: int = 16,
    on_item: ProgressCallback | None = None,
    flush_interval: float = 0.1,
    before: Callable[[], object] | None = None,
) -> ExecutionResult:
    """Run ``items`` and persist each outcome; see the module docstring for the guarantees.

    ``before`` is a store write that runs on the store thread ahead of every batch while the first requests
    go out (the runner adds the items this way); if it fails, no new item starts and its error is raised once
    the items in flight are done."""
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
                success = await _complete(model, item, protocol)
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
