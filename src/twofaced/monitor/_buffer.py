"""Store writes that survive a store outage: :class:`WriteBuffer`, an ordered, bounded buffer in front of the
monitor's store.

Every write of the running monitor (an exchange with its verdicts and the detector states after it, a canary
pair, an incident, a detector state after an ack, the counters) goes through :meth:`WriteBuffer.write`, or, for
the scoring worker's batch of exchanges, :meth:`WriteBuffer.write_exchanges`. With the buffer empty it is tried
once at once; when the store is unavailable (SQLAlchemy's ``OperationalError`` /
``InterfaceError``: a server down, a connection refused, a locked SQLite file past its busy timeout) it is kept
and :meth:`WriteBuffer.flush` (the monitor's flusher task, with backoff) writes it later.

Invariants:
- writes reach the store **in the order they were made**: while anything is buffered, a new write joins the end
  of the buffer instead of being tried, so a detector state is never overwritten by an older one;
- consecutive exchange writes are written together in one transaction (a flush, or the worker's batch), with the
  last state of each signal (the state after the newest of them), so the store never holds a state that counted
  an exchange it lacks; each exchange write stays a write of its own in the buffer, so the bound below counts
  and drops exchanges, whatever batch they were scored in;
- the buffer holds at most ``limit`` writes. Past it the **oldest** exchange write is dropped (the newest carry
  the current detector state and the freshest evidence): each drop is logged with its exchange ids and counted in
  ``twofaced_monitor_store_dropped_total``; never silent. Incident writes are never dropped (at most one per
  alarm);
- a write the store refuses for a reason other than availability (a constraint, a bad value) cannot succeed
  later: it is logged with its ids, counted in ``store_failures`` and skipped, so it never blocks the buffer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from ._metrics import Metrics
from ._store import MonitorStore, Walk

log = logging.getLogger("twofaced.monitor")

BATCH = 500  # exchange writes per flush transaction
UNAVAILABLE = (OperationalError, InterfaceError)
Scored = list[tuple[dict[str, Any], list[dict[str, Any]]]]
States = list[tuple[str, dict[str, Any]]]
Step = Callable[[Walk | None], list["Write"]]  # a walk's step: Walk in the store's transaction, None alone


@dataclass(slots=True)
class Write:
    """One pending store write. An exchange write has ``scored`` (rows and verdicts) and ``states``; any other
    has ``call`` (the store method with its arguments bound). ``on_done`` gets the call's result once stored
    (an incident's id), from whichever thread stored it."""

    what: str
    exchange_ids: tuple[str, ...] = ()
    scored: Scored | None = None
    states: States = field(default_factory=list)
    call: Callable[[MonitorStore], Any] | None = None
    on_done: Callable[[Any], None] | None = None
    keep: bool = False  # never dropped past the bound (incidents)

    @classmethod
    def exchanges(cls, what: str, scored: Scored, states: States) -> Write:
        return cls(what, tuple(row["id"] for row, _ in scored), scored=scored, states=states)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class WriteBuffer:
    """Ordered writes to ``store`` with at most ``limit`` kept while it is unavailable. Thread-safe: the scoring
    worker, the canary task and the flusher call it from worker threads; one write runs at a time."""

    def __init__(self, store: MonitorStore, limit: int, metrics: Metrics) -> None:
        self.store = store
        self.limit = limit
        self.metrics = metrics
        self._pending: deque[Write] = deque()
        self._lock = threading.Lock()
        self.dropped = 0  # exchanges dropped past the bound (or left at shutdown); the caller persists the count
        self.unavailable_since: str | None = None  # why the store was last unavailable, while it is

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, item: Write) -> tuple[bool, Any]:
        """Store ``item`` now, or keep it for :meth:`flush`. Returns (stored now, the call's result)."""
        with self._lock:
            return self._write_one(item)

    def write_exchanges(self, items: list[Write]) -> bool:
        """Store consecutive exchange writes (the scoring worker's batch, oldest first) in one transaction with
        the newest state of each signal, as :meth:`flush` writes them; or keep each for :meth:`flush`, in order,
        so the bound still drops the oldest *exchange*, not the batch. A write the store refuses is found by
        writing the batch one by one. Returns whether all of them were stored now."""
        assert all(item.scored is not None for item in items), "write_exchanges takes exchange writes only"
        with self._lock:
            if not items:
                return True
            if self._pending:
                for item in items:
                    self._keep(item)
                return False
            try:
                results = self._write_batch(items)
            except UNAVAILABLE as exc:
                self._unavailable(exc)
                for item in items:
                    self._keep(item)
                return False
            except SQLAlchemyError:
                return all([self._write_one(item)[0] for item in items])
            for item, result in zip(items, results, strict=True):
                self._finish(item, result)
            return True

    def walk(self, names: list[str], step: Step) -> tuple[bool, dict[str, int]]:
        """One step of the detector walk shared with other replicas (:meth:`MonitorStore.walk`): ``step`` gets
        the stored states of ``names`` under the walk lock, updates the signals and returns its writes, which are
        stored in the same transaction. Returns (stored now, the new version of each state written).

        While the store is unavailable (or anything is buffered) ``step`` gets None, walks this replica's own
        signals and its writes are kept in order like any other: the replicas walk apart until the store is back,
        and the buffered states are written last-writer-wins. A write the store refuses for another reason is
        found by writing the step's writes one by one, as :meth:`write_exchanges` does."""
        with self._lock:
            made: list[Write] | None = None

            def run(walk: Walk) -> tuple[Scored, States]:
                nonlocal made
                made = step(walk)
                return _merged(made)

            if not self._pending:
                try:
                    versions = self.store.walk(names, run)
                except UNAVAILABLE as exc:
                    self._unavailable(exc)
                except SQLAlchemyError:
                    items = made if made is not None else step(None)
                    return all([self._write_one(item)[0] for item in items]), {}
                else:
                    for item in made or []:
                        self._finish(item, None)
                    return True, versions
            for item in made if made is not None else step(None):
                self._keep(item)
            return False, {}

    def flush(self) -> bool:
        """Write what is buffered, oldest first; True when the buffer is empty afterwards, False when the store
        is still unavailable (the caller waits and calls again)."""
        with self._lock:
            while self._pending:
                batch = self._batch()
                try:
                    results = self._write_batch(batch)
                except UNAVAILABLE as exc:
                    self._unavailable(exc)
                    return False
                except SQLAlchemyError as exc:
                    if len(batch) == 1:
                        self._refused(self._pending.popleft(), exc)
                    elif not self._flush_singly(len(batch)):  # find the write the store refuses
                        return False
                    continue
                for item, result in zip(batch, results, strict=True):
                    self._pending.popleft()
                    self._finish(item, result)
            if self.unavailable_since is not None:
                log.warning("twofaced monitor: the store %s is back; buffered writes stored", self.store.url)
                self.unavailable_since = None
            return True

    def abandon(self, why: str) -> int:
        """Give up on what is still buffered (the monitor stops and the store is still down): log each write with
        its ids and count its exchanges as dropped. Returns the number of exchanges lost."""
        with self._lock:
            lost = 0
            while self._pending:
                item = self._pending.popleft()
                lost += len(item.exchange_ids)
                log.error("twofaced monitor: %s NOT stored (%s); exchange ids: %s", item.what, why,
                          ", ".join(item.exchange_ids) or "none")
            self._count_dropped(lost)
            self.metrics.store_buffered.set(0)
            return lost

    # --- inside the lock -----------------------------------------------------------------------------------
    def _write_one(self, item: Write) -> tuple[bool, Any]:
        if not self._pending:
            try:
                result = self._call(item)
            except UNAVAILABLE as exc:
                self._unavailable(exc)
            except SQLAlchemyError as exc:
                self._refused(item, exc)
                return False, None
            else:
                self._finish(item, result)
                return True, result
        self._keep(item)
        return False, None

    def _call(self, item: Write) -> Any:
        if item.scored is not None:
            self.store.add_exchanges(item.scored, item.states)
            return None
        assert item.call is not None
        return item.call(self.store)

    def _finish(self, item: Write, result: Any) -> None:
        self.metrics.store_buffered.set(len(self._pending))
        if item.on_done is not None:
            try:
                item.on_done(result)
            except Exception:  # a bug in a callback must not lose the writes after it
                log.exception("twofaced monitor: after storing %s", item.what)

    def _batch(self) -> list[Write]:
        """The head of the buffer: consecutive exchange writes up to BATCH, or the one other write there."""
        if self._pending[0].scored is None:
            return [self._pending[0]]
        batch: list[Write] = []
        for item in self._pending:
            if item.scored is None or len(batch) == BATCH:
                break
            batch.append(item)
        return batch

    def _write_batch(self, batch: list[Write]) -> list[Any]:
        if len(batch) == 1:
            return [self._call(batch[0])]
        self.store.add_exchanges(*_merged(batch))
        return [None] * len(batch)

    def _flush_singly(self, count: int) -> bool:
        for _ in range(count):
            item = self._pending[0]
            try:
                result = self._call(item)
            except UNAVAILABLE as exc:
                self._unavailable(exc)
                return False
            except SQLAlchemyError as exc:
                self._refused(self._pending.popleft(), exc)
                continue
            self._pending.popleft()
            self._finish(item, result)
        return True

    def _keep(self, item: Write) -> None:
        if len(self._pending) >= self.limit:
            victim = next((w for w in self._pending if not w.keep), None)
            if victim is not None:
                self._pending.remove(victim)
                self._count_dropped(len(victim.exchange_ids))
                log.error("twofaced monitor: store buffer full (%d writes): dropped %s, NOT stored; exchange ids: "
                          "%s", self.limit, victim.what, ", ".join(victim.exchange_ids) or "none")
        self._pending.append(item)
        self.metrics.store_buffered.set(len(self._pending))

    def _count_dropped(self, exchanges: int) -> None:
        self.dropped += exchanges
        self.metrics.store_dropped.inc(exchanges)

    def _unavailable(self, exc: BaseException) -> None:
        self.metrics.store_failures.inc()
        if self.unavailable_since is None:
            self.unavailable_since = _reason(exc)
            log.error("twofaced monitor: the store %s is unavailable (%s); buffering writes (at most %d) and "
                      "retrying", self.store.url, self.unavailable_since, self.limit)

    def _refused(self, item: Write, exc: BaseException) -> None:
        self.metrics.store_failures.inc()
        self._count_dropped(len(item.exchange_ids))
        self.metrics.store_buffered.set(len(self._pending))
        log.error("twofaced monitor: the store refused %s (%s); it is NOT stored; exchange ids: %s", item.what,
                  _reason(exc), ", ".join(item.exchange_ids) or "none")


def _merged(batch: list[Write]) -> tuple[Scored, States]:
    """Consecutive writes as one: their exchanges in order, and the newest state of each signal."""
    scored: Scored = [s for item in batch for s in item.scored or []]
    states = {name: state for item in batch for name, state in item.states}
    return scored, list(states.items())
