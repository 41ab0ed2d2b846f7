"""The running monitor: its signals (``live``, ``canary``, ``mix``), the scoring queue and its worker, the canary
scheduler, incidents and the alarm policy.

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
- policy ``block`` withholds replies while an incident of :data:`BLOCKING` is open (``live`` ``drop``: the model
  refusing less than its baseline; ``canary`` ``deployment_only``: it complies only when told it is unwatched):
  those that ``compliance-rules`` judges complied to a request not known to be benign;
- canary pairs (``canary_every`` > 0) are sent by their own task to the primary upstream, judged and stored with
  the canary state in one transaction, and never reach the queue, the live signal or the mix signal; every
  exchange of live traffic (either route) feeds the mix signal, whose state is stored with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError
from ..scenarios import CONDITIONS
from ..serve._protocol import RequestError
from ._baseline import Baseline
from ._canaries import CanaryRequest, ask, canary_body, canary_request, load_canaries, upstream_model
from ._canary import SIGNAL as CANARY
from ._canary import CanarySignal, baseline_rates
from ._config import MonitorConfig
from ._detector import SIGNAL, LiveSignal
from ._exchange import Exchange, Judged, judge_exchange, rows
from ._metrics import make_metrics
from ._mix import SIGNAL as MIX
from ._mix import MixSignal
from ._response import alert_line, post_webhook
from ._store import MonitorStore

log = logging.getLogger("twofaced.monitor")

RETRIES = (0.1, 0.5, 2.0)
DRAIN_SECONDS = 10.0
BLOCKING = frozenset({(SIGNAL, "drop"), (CANARY, "deployment_only")})
_Restorable = LiveSignal | CanarySignal | MixSignal
_S = TypeVar("_S", LiveSignal, CanarySignal, MixSignal)


@dataclass(frozen=True, slots=True)
class _Fired:
    signal: str
    direction: str
    status: dict[str, Any]
    trace: list[dict[str, Any]]
    exchange_ids: list[str]


class Monitor:
    """Built by :func:`build_monitor`; :meth:`start` and :meth:`stop` run on the server's event loop."""

    def __init__(self, config: MonitorConfig, baseline: Baseline, store: MonitorStore) -> None:
        self.config = config
        self.baseline = baseline
        self.store = store
        self.metrics = make_metrics()
        self.lock = threading.Lock()  # guards the signals: the worker thread, the canary task and acks change them
        stored = store.states()
        self.canaries = load_canaries(baseline) if config.canary_every > 0 else None
        if self.canaries is not None and sum(baseline.pairs) == 0:
            raise ConfigError(f"--canary-every: the baseline {baseline.directory} has no request judged in both "
                              "conditions, so the canary pairs have no in-control rate; give a run with both "
                              "conditions or --canary-every 0")
        c = config
        self.signal = self._restore(
            stored, SIGNAL, LiveSignal.from_dict,
            lambda s: s.matches(baseline.refusal_rate, c.shift, c.false_alarm_every),
            lambda: LiveSignal.create(baseline.refusal_rate, c.shift, c.false_alarm_every))
        self.canary: CanarySignal | None = None
        if self.canaries is not None:
            rates = baseline_rates(baseline)
            self.canary = self._restore(
                stored, CANARY, CanarySignal.from_dict, lambda s: s.matches(rates, c.shift, c.false_alarm_every),
                lambda: CanarySignal.create(rates, c.shift, c.false_alarm_every))
        elif CANARY in stored:  # canaries off now: the last walk is shown, not changed
            with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
                self.canary = CanarySignal.from_dict(stored[CANARY])
        self.mix = self._restore(stored, MIX, MixSignal.from_dict, lambda s: True, MixSignal)
        self.open: dict[int, tuple[str, str]] = {i["id"]: (i["signal"], i["direction"])
                                                 for i in store.incidents("open")}
        self.unscored = 0
        self._unflushed = 0
        self.last_model: str | None = None  # the model live traffic last named: what a canary names by default
        self._listed_model: str | None = None
        self.session: aiohttp.ClientSession | None = None
        self.queue: asyncio.Queue[Exchange] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._publish()

    # --- state ---------------------------------------------------------------------------------------------
    def _restore(self, stored: dict[str, dict[str, Any]], name: str, read: Callable[[dict[str, Any]], _S],
                 fits: Callable[[_S], bool], create: Callable[[], _S]) -> _S:
        """The signal ``name`` from its stored state when it was made for this design, else a new walk."""
        if name in stored:
            try:
                signal = read(stored[name])
            except (ConfigError, KeyError, TypeError, ValueError) as exc:
                log.warning("twofaced monitor: stored %s state unreadable (%s); starting a new walk", name, exc)
            else:
                if fits(signal):
                    return signal
                log.warning("twofaced monitor: stored %s state was made for another baseline or design; "
                            "starting a new walk (incidents are kept)", name)
        signal = create()
        self.store.save_state(name, self._state(name, signal))
        return signal

    def _state(self, name: str, signal: _Restorable | None = None) -> dict[str, Any]:
        """The JSON state of a signal, with what the read commands need to report it without the baseline."""
        signal = signal or {SIGNAL: self.signal, CANARY: self.canary, MIX: self.mix}[name]
        assert signal is not None
        extra: dict[str, Any] = {"alpha": self.config.alpha}
        if name == SIGNAL:
            extra["baseline"] = self.baseline.to_dict()
        elif name == CANARY:
            extra["baseline_pairs"] = list(self.baseline.pairs)
        else:
            extra["baseline_mix"] = self.baseline.mix
        return signal.to_dict() | extra

    def _publish(self) -> None:
        for name, signal in ((SIGNAL, self.signal), (CANARY, self.canary)):
            for direction, cusum in ({} if signal is None else signal.detectors).items():
                self.metrics.statistic.labels(name, direction).set(cusum.statistic)
                self.metrics.threshold.labels(name, direction).set(cusum.h)
        self.metrics.incidents_open.set(len(self.open))

    @property
    def rolled_back(self) -> bool:
        """Whether traffic goes to the fallback now."""
        return self.config.policy == "rollback" and bool(self.open)

    @property
    def blocking(self) -> bool:
        return self.config.policy == "block" and any(key in BLOCKING for key in self.open.values())

    def blocking_incidents(self) -> list[int]:
        return sorted(i for i, key in self.open.items() if key in BLOCKING)

    def status(self) -> dict[str, Any]:
        """What ``GET /admin/status`` and the dashboard show: every signal's status, policy, route, queue."""
        alpha = self.config.alpha
        with self.lock:
            signals = [self.signal.status(alpha) | {"baseline": self.baseline.to_dict()}]
            if self.canary is not None:
                signals.append(self.canary.status(alpha, self.baseline.pairs)
                               | {"enabled": self.canaries is not None, "every_seconds": self.config.canary_every})
            signals.append(self.mix.status(alpha, self.baseline.mix))
        return {"signals": signals,
                "policy": self.config.policy, "route": "fallback" if self.rolled_back else "upstream",
                "incidents_open": sorted(self.open), "unscored": self.unscored,
                "queue": 0 if self.queue is None else self.queue.qsize()}

    def traces(self) -> dict[str, dict[str, list[float]]]:
        """Each detector's statistic over its current excursion (the dashboard's charts), per signal."""
        with self.lock:
            out = {SIGNAL: {d: [t["statistic"] for t in e] for d, e in self.signal.excursions.items()}}
            if self.canary is not None:
                out[CANARY] = {d: [t["statistic"] for t in e] for d, e in self.canary.excursions.items()}
        return out

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, self.config.upstream_timeout),
                                        sock_read=self.config.upstream_timeout)
        self.session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
        self.queue = asyncio.Queue(self.config.queue_size)
        self._tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._poll())]
        if self.canaries is not None:
            self._tasks.append(asyncio.create_task(self._canary_loop()))

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
        """In the worker thread: judge, update the signals, store all of it in one transaction."""
        judged = self.judge(exchange)
        row, verdicts = rows(exchange, judged, redact=self.config.redact)
        fired: list[_Fired] = []
        states = []
        with self.lock:
            if exchange.route == "upstream" and judged.refused is not None:
                directions = self.signal.observe(judged.refused, exchange.id)
                status = self.signal.status(self.config.alpha) if directions else {}
                for d in directions:
                    trace = list(self.signal.excursions[d])
                    fired.append(_Fired(SIGNAL, d, status, trace, [t["exchange_id"] for t in trace]))
                states.append((SIGNAL, self._state(SIGNAL)))
            self.mix.observe(judged.harmful, judged.category)
            states.append((MIX, self._state(MIX)))
            if exchange.model:
                self.last_model = exchange.model
            self._publish()
        self._retrying(f"exchange {exchange.id}", self.store.add_exchanges, [(row, verdicts)], states)
        self.metrics.scored.inc()
        return fired

    # --- canary pairs --------------------------------------------------------------------------------------
    async def _canary_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.canary_every)
            try:
                await self.canary_pair()
            except Exception:  # a bug must not stop the canaries: log it and go on
                log.exception("twofaced monitor: a canary pair failed")

    async def _model(self) -> str:
        if self.config.canary_model or self.last_model:
            return str(self.config.canary_model or self.last_model)
        if self._listed_model is None:
            assert self.session is not None
            self._listed_model = await upstream_model(self.session, self.config.upstream) or self.baseline.model
        return self._listed_model

    async def canary_pair(self) -> list[str]:
        """Send the next held-out request to the primary upstream in both framings, judge the pair, count it,
        store it and raise what it fires. The scheduler calls this every ``canary_every`` seconds; returns the
        directions that entered alarm."""
        assert self.canaries is not None and self.canary is not None and self.session is not None
        with self.lock:  # advanced with the pair's outcome, so a pair cut short by a stop is asked again
            cursor = self.canary.cursor
        pair = canary_request(self.canaries, cursor)
        model = await self._model()
        answers = await asyncio.gather(*(
            ask(self.session, self.config.upstream, canary_body(model, pair.messages[c], self.baseline.params))
            for c in CONDITIONS), return_exceptions=True)
        failure = next((a for a in answers if isinstance(a, BaseException)), None)
        if failure is not None:
            if not isinstance(failure, RequestError):
                raise failure
            self.metrics.canary_failures.inc()
            log.warning("twofaced monitor: canary pair on %s not answered: %s", pair.request_id,
                        failure.body()["error"]["message"])
            with self.lock:
                self.canary.failed += 1
                self.canary.cursor += 1
                state = self._state(CANARY)
            await asyncio.to_thread(self._retrying, "the canary state", self.store.save_state, CANARY, state)
            return []
        fired = await asyncio.to_thread(self._score_pair, pair, model, dict(zip(CONDITIONS, answers, strict=True)))
        for f in fired:
            await self._alarm(f)
        return [f.direction for f in fired]

    def _score_pair(self, pair: CanaryRequest, model: str, answers: dict[str, Any]) -> list[_Fired]:
        """In a worker thread: judge both halves, update the canary signal, store the pair and the state at once."""
        assert self.canary is not None
        exchanges, judged = {}, {}
        for c in CONDITIONS:
            text, latency = answers[c]
            exchanges[c] = Exchange("upstream", model, pair.messages[c], text or "", False, latency_ms=latency,
                                    canary=True, pair_id=pair.pair_id, condition=c)
            j = self.judge(exchanges[c]) if text is not None else Judged("unparseable", "no reply text", None)
            judged[c] = Judged(j.verdict, j.rationale, pair.harmful, pair.category)
        refused = [judged[c].refused for c in CONDITIONS]
        ids = [exchanges[c].id for c in CONDITIONS]
        fired: list[_Fired] = []
        with self.lock:
            self.canary.cursor += 1
            if refused[0] is None or refused[1] is None:
                self.canary.unjudged += 1
            else:
                directions = self.canary.observe(not refused[0], not refused[1], pair.pair_id, ids)
                status = self.canary.status(self.config.alpha, self.baseline.pairs) if directions else {}
                for d in directions:
                    trace = list(self.canary.excursions[d])
                    fired.append(_Fired(CANARY, d, status, trace, [i for t in trace for i in t["exchange_ids"]]))
            state = self._state(CANARY)
            self._publish()
        discordant = None not in refused and refused[0] != refused[1]
        scored = [rows(exchanges[c], judged[c], redact=self.config.redact, flagged=discordant) for c in CONDITIONS]
        self._retrying(f"canary pair {pair.pair_id}", self.store.add_exchanges, scored, [(CANARY, state)])
        self.metrics.canary_pairs.inc()
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
        self.metrics.alarms.labels(fired.signal, fired.direction).inc()
        message = alert_line(None, fired.direction, fired.status, c.policy, signal=fired.signal)
        incident_id = await asyncio.to_thread(
            self._retrying, f"the incident of a {fired.signal} {fired.direction} alarm",
            lambda: self.store.open_incident(
                signal=fired.signal, direction=fired.direction, policy=c.policy, summary=fired.status,
                trace=fired.trace, exchange_ids=fired.exchange_ids, message=message))
        message = alert_line(incident_id, fired.direction, fired.status, c.policy, signal=fired.signal)
        log.warning(message)
        if incident_id is not None:
            self.open[incident_id] = (fired.signal, fired.direction)
        self._publish()
        if c.webhook and self.session is not None:
            payload = {"event": "twofaced.monitor.alarm", "incident": incident_id, "signal": fired.signal,
                       "direction": fired.direction, "policy": c.policy, "message": message,
                       "status": fired.status, "exchange_ids": fired.exchange_ids, "time": time.time()}
            if not await post_webhook(self.session, c.webhook, payload):
                self.metrics.webhook_failures.inc()

    async def ack(self, incident_id: int) -> dict[str, Any]:
        """Acknowledge an incident (ConfigError for an unknown id) and apply it at once."""
        incident = await asyncio.to_thread(self.store.ack, incident_id)
        await self._acked(incident_id, (incident["signal"], incident["direction"]))
        return incident

    async def _acked(self, incident_id: int, key: tuple[str, str]) -> None:
        self.open.pop(incident_id, None)
        name, direction = key
        signal = {SIGNAL: self.signal, CANARY: self.canary}.get(name)
        if key not in self.open.values() and signal is not None and direction in signal.detectors:
            with self.lock:
                signal.reset(direction)
                state = self._state(name)
                self._publish()
            await asyncio.to_thread(self._retrying, "the detector state after an ack", self.store.save_state,
                                    name, state)
        self._publish()
        log.warning("twofaced monitor: incident %s acknowledged; %s %s detector reset%s", incident_id, name,
                    direction, "; traffic back to the upstream" if self.config.policy == "rollback"
                    and not self.open else "")

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
            now_open = {i["id"]: (i["signal"], i["direction"]) for i in stored}
            for incident_id, key in before.items():
                if incident_id not in now_open and incident_id in self.open:
                    await self._acked(incident_id, key)
            self.open.update(now_open)
            self._publish()
