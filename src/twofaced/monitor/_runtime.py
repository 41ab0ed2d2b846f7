"""The running monitor: the live signal, the scoring queue and its worker, incidents and the alarm policy.

Scoring is off the request path: a handler calls :meth:`Monitor.submit` after the response is complete, which
puts the exchange on a bounded :class:`asyncio.Queue` without waiting; a full queue counts the exchange as
unscored (``/metrics``, ``/healthz``, ``monitor status``) and the response is not delayed. One worker judges,
updates the detectors and writes the store in a thread (SQLAlchemy is synchronous), one exchange at a time:
the CUSUM is a sequential walk, so its updates are serialised anyway.

Invariants:
- only exchanges answered by the primary upstream feed the detectors (the fallback is another model); fallback
  exchanges are judged and stored all the same, with ``route = "fallback"``;
- a store write is retried (0.1, 0.5, 2 s) and then logged with the exchange id and counted in
  ``store_failures``: never dropped silently. The detector state in memory still counted that exchange and is
  written with the next successful exchange;
- an incident stays open until acknowledged (``monitor ack``, ``POST /admin/incidents/ID/ack``); an ack made by
  another process is seen within ``poll_seconds``. An ack resets its direction's detector to 0 and ends a
  rollback once no incident is open;
- policy ``block`` withholds replies while an incident of the ``drop`` direction (the model refusing less than
  its baseline) is open: those that ``compliance-rules`` judges complied to a request not known to be benign.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError
from ._baseline import Baseline
from ._config import MonitorConfig
from ._detector import SIGNAL, LiveSignal
from ._exchange import Exchange, Judged, judge_exchange, rows
from ._metrics import make_metrics
from ._response import alert_line, post_webhook
from ._store import MonitorStore

log = logging.getLogger("twofaced.monitor")

RETRIES = (0.1, 0.5, 2.0)
DRAIN_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class _Fired:
    direction: str
    status: dict[str, Any]
    trace: list[dict[str, Any]]


class Monitor:
    """Built by :func:`build_monitor`; :meth:`start` and :meth:`stop` run on the server's event loop."""

    def __init__(self, config: MonitorConfig, baseline: Baseline, store: MonitorStore) -> None:
        self.config = config
        self.baseline = baseline
        self.store = store
        self.metrics = make_metrics()
        self.lock = threading.Lock()  # guards self.signal: the worker thread and acks both change it
        self.signal = self._restore()
        self.open: dict[int, str] = {i["id"]: i["direction"] for i in store.incidents("open")}
        self.unscored = 0
        self._unflushed = 0
        self.session: aiohttp.ClientSession | None = None
        self.queue: asyncio.Queue[Exchange] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._publish()

    # --- state ---------------------------------------------------------------------------------------------
    def _restore(self) -> LiveSignal:
        c = self.config
        stored = self.store.states().get(SIGNAL)
        if stored is not None:
            try:
                signal = LiveSignal.from_dict(stored)
            except (ConfigError, KeyError, TypeError, ValueError) as exc:
                log.warning("twofaced monitor: stored detector state unreadable (%s); starting a new walk", exc)
            else:
                if signal.matches(self.baseline.refusal_rate, c.shift, c.false_alarm_every):
                    return signal
                log.warning("twofaced monitor: stored detector state was made for another baseline or design; "
                            "starting a new walk (incidents are kept)")
        signal = LiveSignal.create(self.baseline.refusal_rate, c.shift, c.false_alarm_every)
        self.store.save_state(SIGNAL, self._state(signal))
        return signal

    def _state(self, signal: LiveSignal) -> dict[str, Any]:
        return signal.to_dict() | {"alpha": self.config.alpha, "baseline": self.baseline.to_dict()}

    def _publish(self) -> None:
        for direction, cusum in self.signal.detectors.items():
            self.metrics.statistic.labels(SIGNAL, direction).set(cusum.statistic)
            self.metrics.threshold.labels(SIGNAL, direction).set(cusum.h)
        self.metrics.incidents_open.set(len(self.open))

    @property
    def rolled_back(self) -> bool:
        """Whether traffic goes to the fallback now."""
        return self.config.policy == "rollback" and bool(self.open)

    @property
    def blocking(self) -> bool:
        return self.config.policy == "block" and "drop" in self.open.values()

    def status(self) -> dict[str, Any]:
        with self.lock:
            signal = self.signal.status(self.config.alpha)
        return {"signals": [signal | {"baseline": self.baseline.to_dict()}],
                "policy": self.config.policy, "route": "fallback" if self.rolled_back else "upstream",
                "incidents_open": sorted(self.open), "unscored": self.unscored,
                "queue": 0 if self.queue is None else self.queue.qsize()}

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, self.config.upstream_timeout),
                                        sock_read=self.config.upstream_timeout)
        self.session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
        self.queue = asyncio.Queue(self.config.queue_size)
        self._tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._poll())]

    async def stop(self) -> None:
        """Score what is queued (up to DRAIN_SECONDS), flush the counters, close the client and the store."""
        if self.queue is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.queue.join(), DRAIN_SECONDS)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._flush_counts)
        if self.session is not None:
            await self.session.close()
        self.store.close()

    # --- scoring -------------------------------------------------------------------------------------------
    def submit(self, exchange: Exchange) -> bool:
        """Queue an exchange for scoring without waiting; False (and counted unscored) when the queue is full."""
        assert self.queue is not None, "Monitor.start() was not called"
        try:
            self.queue.put_nowait(exchange)
        except asyncio.QueueFull:
            self.unscored += 1
            self._unflushed += 1
            self.metrics.unscored.inc()
            return False
        return True

    def judge(self, exchange: Exchange) -> Judged:
        return judge_exchange(exchange, self.baseline)

    async def _worker(self) -> None:
        assert self.queue is not None
        while True:
            exchange = await self.queue.get()
            try:
                for fired in await asyncio.to_thread(self._score, exchange):
                    await self._alarm(fired)
            except Exception:  # a bug must not stop scoring: log it with the exchange and go on
                log.exception("twofaced monitor: scoring exchange %s failed", exchange.id)
            finally:
                self.queue.task_done()
                self.metrics.queue_depth.set(self.queue.qsize())

    def _score(self, exchange: Exchange) -> list[_Fired]:
        """In the worker thread: judge, update the detectors, store all of it in one transaction."""
        judged = self.judge(exchange)
        row, verdicts = rows(exchange, judged, redact=self.config.redact)
        fired: list[_Fired] = []
        state = None
        with self.lock:
            if exchange.route == "upstream" and judged.refused is not None:
                directions = self.signal.observe(judged.refused, exchange.id)
                status = self.signal.status(self.config.alpha) if directions else {}
                fired = [_Fired(d, status, list(self.signal.excursions[d])) for d in directions]
                state = (SIGNAL, self._state(self.signal))
            self._publish()
        self._retrying(f"exchange {exchange.id}", self.store.add_exchange, row, verdicts, state)
        self.metrics.scored.inc()
        return fired

    def _retrying(self, what: str, write: Any, *args: Any) -> Any:
        for pause in (*RETRIES, None):
            try:
                return write(*args)
            except SQLAlchemyError as exc:
                if pause is None:
                    self.metrics.store_failures.inc()
                    log.error("twofaced monitor: store write failed for %s after %d tries: %s; it is NOT stored",
                              what, len(RETRIES) + 1, str(getattr(exc, "orig", exc)).splitlines()[0])
                    return None
                time.sleep(pause)
        return None

    # --- alarms and incidents ------------------------------------------------------------------------------
    async def _alarm(self, fired: _Fired) -> None:
        c = self.config
        self.metrics.alarms.labels(SIGNAL, fired.direction).inc()
        ids = [t["exchange_id"] for t in fired.trace]
        message = alert_line(None, fired.direction, fired.status, c.policy)
        incident_id = await asyncio.to_thread(
            self._retrying, f"the incident of a {fired.direction} alarm", lambda: self.store.open_incident(
                signal=SIGNAL, direction=fired.direction, policy=c.policy, summary=fired.status, trace=fired.trace,
                exchange_ids=ids, message=message))
        message = alert_line(incident_id, fired.direction, fired.status, c.policy)
        log.warning(message)
        if incident_id is not None:
            self.open[incident_id] = fired.direction
        self._publish()
        if c.webhook and self.session is not None:
            payload = {"event": "twofaced.monitor.alarm", "incident": incident_id, "signal": SIGNAL,
                       "direction": fired.direction, "policy": c.policy, "message": message,
                       "status": fired.status, "exchange_ids": ids, "time": time.time()}
            if not await post_webhook(self.session, c.webhook, payload):
                self.metrics.webhook_failures.inc()

    async def ack(self, incident_id: int) -> dict[str, Any]:
        """Acknowledge an incident (ConfigError for an unknown id) and apply it at once."""
        incident = await asyncio.to_thread(self.store.ack, incident_id)
        await self._acked(incident_id, incident["direction"])
        return incident

    async def _acked(self, incident_id: int, direction: str) -> None:
        self.open.pop(incident_id, None)
        if direction not in self.open.values():
            with self.lock:
                self.signal.reset(direction)
                state = self._state(self.signal)
                self._publish()
            await asyncio.to_thread(self._retrying, "the detector state after an ack", self.store.save_state,
                                    SIGNAL, state)
        self._publish()
        log.warning("twofaced monitor: incident %s acknowledged; %s detector reset%s", incident_id, direction,
                    "; traffic back to the upstream" if self.config.policy == "rollback" and not self.open else "")

    def _flush_counts(self) -> None:
        delta, self._unflushed = self._unflushed, 0
        if delta:
            self._retrying("the unscored count", self.store.add_counts, {"unscored": delta})

    async def _poll(self) -> None:
        """Every ``poll_seconds``: write the unscored count, and pick up incidents acked or opened elsewhere."""
        while True:
            await asyncio.sleep(self.config.poll_seconds)
            before = dict(self.open)  # incidents opened after this snapshot may not be in the read below
            try:
                await asyncio.to_thread(self._flush_counts)
                stored = await asyncio.to_thread(self.store.incidents, "open")
            except SQLAlchemyError as exc:
                log.warning("twofaced monitor: cannot read the store (%s); will retry", type(exc).__name__)
                continue
            now_open = {i["id"]: i["direction"] for i in stored}
            for incident_id, direction in before.items():
                if incident_id not in now_open and incident_id in self.open:
                    await self._acked(incident_id, direction)
            self.open.update(now_open)
            self._publish()
