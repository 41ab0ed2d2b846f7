"""The running monitor: its signals (``live``, ``canary``, ``mix``, ``probe``), the scoring queue and its worker,
the canary scheduler, incidents and the alarm policy.

Scoring is off the request path: a handler calls :meth:`Monitor.submit` after the response is complete, which
puts the exchange on a bounded :class:`asyncio.Queue` without waiting; a full queue counts the exchange as
unscored (``/metrics``, ``/healthz``, ``monitor status``) and the response is not delayed. One worker takes
everything queued (up to :data:`SCORE_BATCH`), and in a thread (SQLAlchemy is synchronous) judges each exchange
and updates the detectors with it in arrival order (the CUSUM is a sequential walk: an alarm fires at the same
exchange whatever the batch), then writes the batch in one transaction with the signals' states after its last
exchange: one commit per batch instead of one per exchange, which is most of the scoring cost (the
``bench/monitor_latency.py`` profile).

Invariants:
- only exchanges of the model under watch feed the detectors (:data:`LIVE_ROUTES`: answered by the primary
  upstream, or by a gateway that posted them to ``POST /admin/exchanges``); fallback exchanges are another model,
  judged and stored all the same, with ``route = "fallback"``;
- every store write goes through the :class:`~._buffer.WriteBuffer`: while the store is unavailable writes are
  kept in order (at most ``store_buffer``) and the flusher task writes them when it is back, retrying with
  backoff (0.1 s doubling to 5 s); past the bound the oldest exchange is dropped, logged with its id and counted
  in ``store_dropped``: never silently. Each buffered exchange carries the detector states after it, so the
  store's state always matches the exchanges it holds. An incident opened while the store is down applies its
  policy at once under a negative placeholder id, replaced by its stored id when it is written;
- an incident stays open until acknowledged (``monitor ack``, ``POST /admin/incidents/ID/ack``); an ack made by
  another process is seen within ``poll_seconds``. An ack resets its direction's detector to 0 and ends a
  rollback once no incident is open;
- policy ``block`` withholds replies while an incident of :data:`BLOCKING` is open (``live`` ``drop``: the model
  refusing less than its baseline; ``canary`` ``deployment_only``: it complies only when told it is unwatched):
  those that ``compliance-rules`` judges complied to a request not known to be benign;
- an incident's ``summary`` is the signal's status at the alarm plus ``model``: the model the triggering exchange
  named (a canary pair: the model it asked);
- canary pairs (``canary_every`` > 0) are sent by their own task to the primary upstream, judged and stored with
  the canary state in one transaction, and never reach the queue, the live signal or the mix signal; every
  exchange of live traffic (either route) feeds the mix signal, whose state is stored with it;
- with ``probe_rate`` set, every exchange of :data:`LIVE_ROUTES` feeds the probe signal: an observation when its
  reply carried a served probe's reading, else counted ``missing`` (logged once while none has carried one);
  without it, a stored probe walk is shown, not changed. A probe incident is not :data:`BLOCKING` (``block``
  withholds replies the judge fails, which a probe's flag is not); ``rollback`` acts on it like any incident;
- replicas sharing a store share **one walk** per signal: every update (a batch, a canary pair, a reset after an
  ack) runs under the store's walk lock, first adopting the states other replicas wrote since (each state has a
  version), so an exchange is counted once whichever replica scored it and an alarm fires once; ``_poll`` adopts
  them too, so every replica's status is at most ``poll_seconds`` old. Only the replica holding the canary lease
  sends canary pairs. While the store is unavailable each replica walks alone and its buffered states are written
  last-writer-wins when the store is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError
from ..scenarios import CONDITIONS
from ..serve._protocol import RequestError
from ._baseline import Baseline
from ._buffer import Write, WriteBuffer
from ._canaries import CanaryRequest, ask, canary_body, canary_request, load_canaries, upstream_model
from ._canary import SIGNAL as CANARY
from ._canary import CanarySignal, baseline_rates
from ._config import MonitorConfig
from ._detector import SIGNAL, LiveSignal
from ._exchange import Exchange, Judged, judge_exchange, rows
from ._harmful import SIGNAL as HARMFUL
from ._harmful import HarmfulSignal
from ._metrics import make_metrics
from ._mix import SIGNAL as MIX
from ._mix import MixSignal
from ._probe_signal import SIGNAL as PROBE
from ._probe_signal import ProbeSignal
from ._response import alert_line, post_webhook
from ._store import MonitorStore, Versioned, Walk
from ._tone import SIGNAL as TONE
from ._tone import ToneJudge, ToneSignal, load_tone_judge

log = logging.getLogger("twofaced.monitor")

DRAIN_SECONDS = 10.0
SCORE_BATCH = 256  # exchanges the worker takes off the queue at once: judged in order, stored in one transaction
# After the first exchange of a batch the worker waits this long for more: at low rates a batch of one pays a whole
# commit per exchange (3.3 ms of CPU per request at 50/s against 0.5 ms at 1,860/s, docs/benchmarks.md), and every
# stretch of scoring is a chance to delay a request behind the interpreter lock. Detection counts exchanges, not
# seconds, so a 50 ms wait changes no alarm, only when it is raised. It waits for SCORE_GATHER at most: at high rates
# the queue refills during scoring anyway, and a longer wait only makes longer stretches of scoring.
SCORE_WINDOW = 0.05
SCORE_GATHER = 16
# Between two exchanges of a batch the worker thread yields the interpreter lock and the core, so the event loop
# answers requests in between: without it a batch is one long stretch of Python (about 0.1 ms per exchange) and
# every wakeup of the loop waited for the lock's switch interval (5 ms); measured by bench/monitor_latency.py, the
# proxy's p99 then rose past 50 ms at rates one-at-a-time scoring sustained.
_yield: Callable[[], None] = getattr(os, "sched_yield", lambda: time.sleep(0))
BACKOFF = (0.1, 5.0)  # the flusher's first and longest wait between tries while the store is unavailable
IDLE_TICK = 0.1  # how often the flusher looks for buffered writes
BLOCKING = frozenset({(SIGNAL, "drop"), (HARMFUL, "rise"), (CANARY, "deployment_only")})
LIVE_ROUTES = frozenset({"upstream", "gateway"})  # the routes whose exchanges feed the live and probe signals
NO_PROBE = ("--probe-rate is set but no live exchange has carried a probe reading ('twofaced': {'probe': ...}); "
            "serve the model with 'twofaced serve SPEC --probe DIR', or leave --probe-rate out")
_Restorable = LiveSignal | HarmfulSignal | ToneSignal | CanarySignal | MixSignal | ProbeSignal
# where the monitor keeps each signal
_ATTRIBUTE = {SIGNAL: "signal", HARMFUL: "harmful", TONE: "tone", CANARY: "canary", MIX: "mix", PROBE: "probe"}
LEASE_PERIODS = 3  # the canary lease lasts this many canary periods: a dead sender is replaced within them
_S = TypeVar("_S", LiveSignal, HarmfulSignal, ToneSignal, CanarySignal, MixSignal, ProbeSignal)


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
        versioned = store.versioned_states()
        stored = {name: state for name, (_, state) in versioned.items()}
        self._versions = {name: version for name, (version, _) in versioned.items()}
        self.canaries = load_canaries(baseline) if config.canary_every > 0 else None
        if self.canaries is not None and sum(baseline.pairs) == 0:
            raise ConfigError(f"--canary-every: the baseline {baseline.directory} has no request judged in both "
                              "conditions, so the canary pairs have no in-control rate; give a run with both "
                              "conditions or --canary-every 0")
        c = config
        # each walking signal: how to read a stored state, and whether it was made for this design
        self._kinds: dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[[Any], bool]]] = {
            SIGNAL: (LiveSignal.from_dict, lambda s: s.matches(baseline.refusal_rate, c.shift, c.false_alarm_every)),
            MIX: (MixSignal.from_dict, lambda s: True)}
        self.signal = self._restore(stored, SIGNAL, lambda: LiveSignal.create(baseline.refusal_rate, c.shift,
                                                                               c.false_alarm_every))
        self.harmful: HarmfulSignal | None = None
        harmful_p0 = baseline.harmful_compliance_rate
        if harmful_p0 is not None:
            self._kinds[HARMFUL] = (HarmfulSignal.from_dict,
                                    lambda s: s.matches(harmful_p0, c.shift, c.false_alarm_every))
            self.harmful = self._restore(stored, HARMFUL, lambda: HarmfulSignal.create(harmful_p0, c.shift,
                                                                                        c.false_alarm_every))
        elif HARMFUL in stored:  # a baseline without harmful requests now: the last walk is shown, not changed
            with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
                self.harmful = HarmfulSignal.from_dict(stored[HARMFUL])
        self.tone: ToneSignal | None = None
        self.tone_judge: ToneJudge | None = None
        self._tone_seen = 0  # live replies with text seen: every tone_every-th is judged
        if c.tone_every > 0:
            curt_p0 = baseline.curt_rate
            self.tone_judge = load_tone_judge(baseline.directory, curt_p0)
            assert curt_p0 is not None
            self._kinds[TONE] = (ToneSignal.from_dict, lambda s: s.matches(curt_p0, c.shift, c.false_alarm_every))
            self.tone = self._restore(stored, TONE, lambda: ToneSignal.create(curt_p0, c.shift, c.false_alarm_every))
        elif TONE in stored:  # --tone-every off now: the last walk is shown, not changed
            with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
                self.tone = ToneSignal.from_dict(stored[TONE])
        self.canary: CanarySignal | None = None
        if self.canaries is not None:
            rates = baseline_rates(baseline)
            self._kinds[CANARY] = (CanarySignal.from_dict, lambda s: s.matches(rates, c.shift, c.false_alarm_every))
            self.canary = self._restore(stored, CANARY, lambda: CanarySignal.create(rates, c.shift,
                                                                                     c.false_alarm_every))
        elif CANARY in stored:  # canaries off now: the last walk is shown, not changed
            with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
                self.canary = CanarySignal.from_dict(stored[CANARY])
        self.mix = self._restore(stored, MIX, MixSignal)
        self.probe: ProbeSignal | None = None
        self._probe_warned = False
        if c.probe_rate is not None:
            p0 = c.probe_rate
            self._kinds[PROBE] = (ProbeSignal.from_dict, lambda s: s.matches(p0, c.shift, c.false_alarm_every))
            self.probe = self._restore(stored, PROBE, lambda: _probe_signal(p0, c.shift, c.false_alarm_every))
        elif PROBE in stored:  # --probe-rate off now: the last walk is shown, not changed
            with contextlib.suppress(ConfigError, KeyError, TypeError, ValueError):
                self.probe = ProbeSignal.from_dict(stored[PROBE])
        self.open: dict[int, tuple[str, str]] = {i["id"]: (i["signal"], i["direction"])
                                                 for i in store.incidents("open")}
        self.unscored = 0
        self._unflushed = 0
        self.buffer = WriteBuffer(store, config.store_buffer, self.metrics)
        self._dropped_flushed = 0
        self._placeholder = 0  # the last negative id given to an incident not yet stored
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_model: str | None = None  # the model live traffic last named: what a canary names by default
        self._listed_model: str | None = None
        self.holder = uuid.uuid4().hex  # this replica, in the canary lease
        self._leading = False  # whether it held the lease at its last try
        self._acking: set[int] = set()  # incidents whose acknowledgement is being applied
        self.session: aiohttp.ClientSession | None = None
        self.queue: asyncio.Queue[Exchange] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._publish()

    # --- state ---------------------------------------------------------------------------------------------
    def _restore(self, stored: dict[str, dict[str, Any]], name: str, create: Callable[[], _S]) -> _S:
        """The signal ``name`` from its stored state when it was made for this design, else a new walk."""
        read, fits = self._kinds[name]
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
        self._versions[name] = self.store.save_state(name, self._state(name, signal))
        return signal

    def _adopt(self, stored: Versioned) -> None:
        """Under the lock: take the state of each walking signal that another replica moved since this one last
        read or wrote it (its version is newer). A state made for another design is said and not taken: replicas
        sharing a store must share a baseline and design."""
        for name, (version, state) in stored.items():
            if name not in self._kinds or version <= self._versions.get(name, -1):  # versions only rise: an
                continue  # older read (a poll that started before this replica's own write) is not taken
            self._versions[name] = version
            read, fits = self._kinds[name]
            try:
                signal = read(state)
            except (ConfigError, KeyError, TypeError, ValueError) as exc:
                log.warning("twofaced monitor: stored %s state unreadable (%s); keeping this replica's", name, exc)
                continue
            if not fits(signal):
                log.warning("twofaced monitor: another replica walks %s for another baseline or design; replicas "
                            "sharing a store must share both (keeping this replica's walk)", name)
                continue
            setattr(self, _ATTRIBUTE[name], signal)

    def _adopt_published(self, stored: Versioned) -> None:
        """In a worker thread (never on the loop, which would wait for the lock): adopt, then publish metrics."""
        with self.lock:
            self._adopt(stored)
            self._publish()

    def _walk(self, names: list[str], step: Callable[[Walk | None], list[Write]], *, lock_step: bool = True) -> bool:
        """In a worker thread: one step of the walk shared by every replica of this store (``WriteBuffer.walk``):
        adopt what others moved, then ``step`` updates the signals and returns its writes, stored in the same
        transaction. Returns whether they were stored now.

        Writers of the signals are already one at a time (the buffer's lock); ``self.lock`` only keeps readers on the
        event loop (status, the dashboard, ``_poll``) from a half-updated signal. ``lock_step`` holds it for the
        whole step; the scoring worker's step takes it per exchange instead, so the loop never waits for a batch
        (held for a batch of 256, it stalled requests for tens of milliseconds: bench/monitor_latency.py's p99)."""

        def locked(walk: Walk | None) -> list[Write]:
            if walk is not None:
                with self.lock:
                    self._adopt(walk.stored)
            if not lock_step:
                return step(walk)
            with self.lock:
                return step(walk)

        stored, versions = self.buffer.walk(names, locked)
        with self.lock:
            self._versions.update(versions)
            self._publish()
        return stored

    def _state(self, name: str, signal: _Restorable | None = None) -> dict[str, Any]:
        """The JSON state of a signal, with what the read commands need to report it without the baseline."""
        signal = signal or getattr(self, _ATTRIBUTE[name])
        assert signal is not None
        extra: dict[str, Any] = {"alpha": self.config.alpha}
        if name == SIGNAL:
            extra["baseline"] = self.baseline.to_dict()
        elif name == HARMFUL:
            extra["baseline"] = {"harmful_complied": self.baseline.harmful_complied,
                                 "harmful_n": self.baseline.harmful_n}
        elif name == TONE:
            extra["baseline"] = {"tone_curt": self.baseline.tone_curt, "tone_n": self.baseline.tone_n,
                                 "every": self.config.tone_every}
        elif name == CANARY:
            extra["baseline_pairs"] = list(self.baseline.pairs)
        elif name == MIX:
            extra["baseline_mix"] = self.baseline.mix
        return signal.to_dict() | extra

    def _publish(self) -> None:
        for name, signal in ((SIGNAL, self.signal), (HARMFUL, self.harmful), (TONE, self.tone),
                             (CANARY, self.canary), (PROBE, self.probe)):
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
            if self.harmful is not None:
                signals.append(self.harmful.status(alpha) | {"enabled": HARMFUL in self._kinds})
            if self.tone is not None:
                signals.append(self.tone.status(alpha) | {"enabled": TONE in self._kinds,
                                                          "every": self.config.tone_every})
            if self.canary is not None:
                signals.append(self.canary.status(alpha, self.baseline.pairs)
                               | {"enabled": self.canaries is not None, "every_seconds": self.config.canary_every})
            signals.append(self.mix.status(alpha, self.baseline.mix))
            if self.probe is not None:
                signals.append(self.probe.status(alpha) | {"enabled": self.config.probe_rate is not None})
        return {"signals": signals,
                "policy": self.config.policy, "route": "fallback" if self.rolled_back else "upstream",
                "incidents_open": sorted(self.open), "unscored": self.unscored,
                "queue": 0 if self.queue is None else self.queue.qsize()}

    def traces(self) -> dict[str, dict[str, list[float]]]:
        """Each detector's statistic over its current excursion (the dashboard's charts), per signal."""
        with self.lock:
            out = {SIGNAL: {d: [t["statistic"] for t in e] for d, e in self.signal.excursions.items()}}
            for name, signal in ((HARMFUL, self.harmful), (TONE, self.tone)):
                if signal is not None:
                    out[name] = {d: [t["statistic"] for t in e] for d, e in signal.excursions.items()}
            if self.canary is not None:
                out[CANARY] = {d: [t["statistic"] for t in e] for d, e in self.canary.excursions.items()}
            if self.probe is not None:
                out[PROBE] = {d: [t["statistic"] for t in e] for d, e in self.probe.excursions.items()}
        return out

    def probe_health(self) -> dict[str, Any] | None:
        """What ``/healthz`` says of the probe signal while ``--probe-rate`` is on (else None): its observations,
        the live exchanges that carried no probe reading, and a warning while none has."""
        if self.config.probe_rate is None or self.probe is None:
            return None
        with self.lock:
            n, missing = self.probe.n, self.probe.missing
        health: dict[str, Any] = {"observations": n, "missing": missing}
        if n == 0 and missing:
            health["warning"] = NO_PROBE
        return health

    # --- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=min(10.0, self.config.upstream_timeout),
                                        sock_read=self.config.upstream_timeout)
        self.session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
        self.queue = asyncio.Queue(self.config.queue_size)
        self._loop = asyncio.get_running_loop()
        self._tasks = [asyncio.create_task(self._worker()), asyncio.create_task(self._poll()),
                       asyncio.create_task(self._flusher())]
        if self.canaries is not None:
            self._tasks.append(asyncio.create_task(self._canary_loop()))

    async def stop(self) -> None:
        """Score what is queued (up to DRAIN_SECONDS), flush the counters and the buffered writes (up to
        DRAIN_SECONDS more: what the store still cannot take is logged with its ids), close the client and the
        store."""
        if self.queue is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.queue.join(), DRAIN_SECONDS)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        deadline = time.monotonic() + DRAIN_SECONDS
        while not await asyncio.to_thread(self.buffer.flush) and time.monotonic() < deadline:
            await asyncio.sleep(BACKOFF[0])
        for _ in range(2):  # the buffered writes, then the counts (which count what was abandoned)
            if self.buffer.pending:
                await asyncio.to_thread(self.buffer.abandon, "the monitor stopped while the store was unavailable")
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
        """Take what is queued, or arrives within SCORE_WINDOW (up to SCORE_BATCH), score it in a thread, raise its
        alarms in order."""
        assert self.queue is not None
        while True:
            batch = [await self.queue.get()]
            until = time.monotonic() + SCORE_WINDOW
            while len(batch) < SCORE_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                left = until - time.monotonic()
                if left <= 0 or len(batch) >= SCORE_GATHER:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            try:
                for fired in await asyncio.to_thread(self._score, batch):
                    await self._alarm(fired)
            except Exception:  # a bug must not stop scoring: log it with the exchanges and go on
                log.exception("twofaced monitor: scoring exchanges %s failed", ", ".join(e.id for e in batch))
            finally:
                for _ in batch:
                    self.queue.task_done()
                self.metrics.queue_depth.set(self.queue.qsize())

    def _score(self, batch: list[Exchange]) -> list[_Fired]:
        """In the worker thread: judge each exchange and update the signals with it, in arrival order (an alarm
        fires at the same exchange, with the same trace, as if each were scored alone); then store the batch in
        one transaction with the states after its last exchange (``WriteBuffer.write_exchanges``)."""
        judged_pairs = []
        for exchange in batch:
            _yield()
            try:
                judged_pairs.append((exchange, self.judge(exchange)))
            except Exception:  # a bug must not lose the rest of the batch: log it with the exchange and go on
                log.exception("twofaced monitor: scoring exchange %s failed", exchange.id)
        judged_pairs = self._judge_tone(judged_pairs)
        judged_batch = []
        for exchange, judged in judged_pairs:
            try:
                judged_batch.append((exchange, judged, rows(exchange, judged, redact=self.config.redact)))
            except Exception:  # a bug must not lose the rest of the batch: log it with the exchange and go on
                log.exception("twofaced monitor: storing exchange %s failed", exchange.id)
        fired: list[_Fired] = []

        def observe(_walk: Walk | None) -> list[Write]:
            writes = []
            for exchange, judged, scored in judged_batch:
                _yield()
                try:
                    with self.lock:
                        states = self._observe(exchange, judged, fired)
                except Exception:  # a bug must not lose the rest of the batch: log it with the exchange
                    log.exception("twofaced monitor: scoring exchange %s failed", exchange.id)
                    continue
                writes.append(Write.exchanges(f"exchange {exchange.id}", [scored], states))
            self.metrics.scored.inc(len(writes))
            return writes

        if judged_batch:
            names = [name for name in (SIGNAL, HARMFUL, TONE, MIX, PROBE) if name in self._kinds]
            self._walk(names, observe, lock_step=False)
        return fired

    def _judge_tone(self, judged: list[tuple[Exchange, Judged]]) -> list[tuple[Exchange, Judged]]:
        """In the worker thread: every ``tone_every``-th live reply with text gets ``tone-offline``'s P(warm), in
        one batch (a failure is logged and leaves those replies unjudged for tone)."""
        if self.tone_judge is None:
            return judged
        picked = []
        for k, (exchange, _) in enumerate(judged):
            if exchange.route in LIVE_ROUTES and exchange.response.strip():
                self._tone_seen += 1
                if self._tone_seen % self.config.tone_every == 0:
                    picked.append(k)
        if not picked:
            return judged
        try:
            warmth = self.tone_judge.warmth([judged[k][0].response for k in picked])
        except Exception:  # the tone judge must not stop scoring
            log.exception("twofaced monitor: the tone judge failed on %d replies", len(picked))
            return judged
        out = list(judged)
        for k, w in zip(picked, warmth, strict=True):
            exchange, j = out[k]
            out[k] = (exchange, dataclasses.replace(j, warmth=w))
        return out

    def _observe(self, exchange: Exchange, judged: Judged, fired: list[_Fired]) -> list[tuple[str, dict[str, Any]]]:
        """Under the lock: one judged exchange into the signals it feeds; appends what it fires to ``fired`` and
        returns the states after it (of the signals it moved)."""
        states = []
        if exchange.route in LIVE_ROUTES and judged.refused is not None:
            directions = self.signal.observe(judged.refused, exchange.id)
            status = self.signal.status(self.config.alpha) | {"model": exchange.model} if directions else {}
            for d in directions:
                trace = list(self.signal.excursions[d])
                fired.append(_Fired(SIGNAL, d, status, trace, [t["exchange_id"] for t in trace]))
            states.append((SIGNAL, self._state(SIGNAL)))
            if self.harmful is not None and HARMFUL in self._kinds and judged.flagged_harmful:
                directions = self.harmful.observe(not judged.refused, exchange.id)
                status = self.harmful.status(self.config.alpha) | {"model": exchange.model} if directions else {}
                for d in directions:
                    trace = list(self.harmful.excursions[d])
                    fired.append(_Fired(HARMFUL, d, status, trace, [t["exchange_id"] for t in trace]))
                states.append((HARMFUL, self._state(HARMFUL)))
        if judged.warmth is not None and self.tone is not None and self.tone_judge is not None:
            directions = self.tone.observe(judged.warmth < self.tone_judge.threshold, exchange.id)
            status = self.tone.status(self.config.alpha) | {"model": exchange.model} if directions else {}
            for d in directions:
                trace = list(self.tone.excursions[d])
                fired.append(_Fired(TONE, d, status, trace, [t["exchange_id"] for t in trace]))
            states.append((TONE, self._state(TONE)))
        self.mix.observe(judged.harmful, judged.category)
        states.append((MIX, self._state(MIX)))
        if self.probe is not None and self.config.probe_rate is not None and exchange.route in LIVE_ROUTES:
            self._observe_probe(exchange, fired)
            states.append((PROBE, self._state(PROBE)))
        if exchange.model:
            self.last_model = exchange.model
        return states

    def _observe_probe(self, exchange: Exchange, fired: list[_Fired]) -> None:
        """Under the lock: a live exchange into the probe signal (no reading: counted missing, and said once)."""
        assert self.probe is not None
        if exchange.probe is None:
            self.probe.missing += 1
            self.metrics.probe_exchanges.labels("missing").inc()
            if self.probe.n == 0 and not self._probe_warned:
                self._probe_warned = True
                log.warning("twofaced monitor: exchange %s carried no probe reading: %s", exchange.id, NO_PROBE)
            return
        self.metrics.probe_exchanges.labels(str(exchange.probe.flagged).lower()).inc()
        directions = self.probe.observe(exchange.probe, exchange.id)
        status = self.probe.status(self.config.alpha) | {"model": exchange.model} if directions else {}
        for d in directions:
            trace = list(self.probe.excursions[d])
            fired.append(_Fired(PROBE, d, status, trace, [t["exchange_id"] for t in trace]))

    # --- canary pairs --------------------------------------------------------------------------------------
    async def _canary_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.canary_every)
            try:
                if await asyncio.to_thread(self._lead):
                    await self.canary_pair()
            except Exception:  # a bug must not stop the canaries: log it and go on
                log.exception("twofaced monitor: a canary pair failed")

    def _lead(self) -> bool:
        """Whether this replica sends the next canary pair: it holds the store's canary lease (LEASE_PERIODS
        canary periods, renewed at each pair), so replicas sharing a store send the pairs at the configured rate
        between them. While the store cannot be read a replica keeps the role it had."""
        try:
            leading = self.store.take_lease(self.holder, LEASE_PERIODS * self.config.canary_every)
        except SQLAlchemyError as exc:
            log.warning("twofaced monitor: cannot read the canary lease (%s); %s", type(exc).__name__,
                        "still sending canaries" if self._leading else "not sending canaries")
            return self._leading
        if leading != self._leading:
            log.info("twofaced monitor: replica %s %s the canary pairs", self.holder[:8],
                     "sends" if leading else "no longer sends")
        self._leading = leading
        return leading

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
            canary = self.canary

            def failed(_walk: Walk | None) -> list[Write]:
                canary.failed += 1
                canary.cursor += 1
                return [Write.exchanges("the canary state", [], [(CANARY, self._state(CANARY))])]

            await asyncio.to_thread(self._walk, [CANARY], failed)
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
        discordant = None not in refused and refused[0] != refused[1]
        scored = [rows(exchanges[c], judged[c], redact=self.config.redact, flagged=discordant) for c in CONDITIONS]
        fired: list[_Fired] = []

        def observe(_walk: Walk | None) -> list[Write]:
            canary = self.canary
            assert canary is not None
            canary.cursor += 1
            if refused[0] is None or refused[1] is None:
                canary.unjudged += 1
            else:
                directions = canary.observe(not refused[0], not refused[1], pair.pair_id, ids)
                status = (canary.status(self.config.alpha, self.baseline.pairs) | {"model": model}
                          if directions else {})
                for d in directions:
                    trace = list(canary.excursions[d])
                    fired.append(_Fired(CANARY, d, status, trace, [i for t in trace for i in t["exchange_ids"]]))
            return [Write.exchanges(f"canary pair {pair.pair_id}", scored, [(CANARY, self._state(CANARY))])]

        self._walk([CANARY], observe)
        self.metrics.canary_pairs.inc()
        return fired

    # --- alarms and incidents ------------------------------------------------------------------------------
    async def _alarm(self, fired: _Fired) -> None:
        c = self.config
        self.metrics.alarms.labels(fired.signal, fired.direction).inc()
        message = alert_line(None, fired.direction, fired.status, c.policy, signal=fired.signal)
        key = (fired.signal, fired.direction)
        self._placeholder -= 1
        placeholder = self._placeholder
        self.open[placeholder] = key  # the policy applies now, even while the store cannot take the incident
        stored, incident_id = await asyncio.to_thread(self.buffer.write, Write(
            f"the incident of a {fired.signal} {fired.direction} alarm", tuple(fired.exchange_ids),
            call=lambda store: store.open_incident(
                signal=fired.signal, direction=fired.direction, policy=c.policy, summary=fired.status,
                trace=fired.trace, exchange_ids=fired.exchange_ids, message=message),
            on_done=lambda stored_id: self._incident_stored(placeholder, stored_id, key), keep=True))
        message = alert_line(incident_id, fired.direction, fired.status, c.policy, signal=fired.signal)
        log.warning(message if stored else f"{message} (the store is unavailable: the incident is written when it "
                    "is back)")
        self._publish()
        if c.webhook and self.session is not None:
            payload = {"event": "twofaced.monitor.alarm", "incident": incident_id, "signal": fired.signal,
                       "direction": fired.direction, "policy": c.policy, "message": message,
                       "status": fired.status, "exchange_ids": fired.exchange_ids, "time": time.time()}
            if not await post_webhook(self.session, c.webhook, payload):
                self.metrics.webhook_failures.inc()

    def _incident_stored(self, placeholder: int, incident_id: int, key: tuple[str, str]) -> None:
        """From the thread that stored the incident: swap its placeholder id for the stored one, on the loop."""

        def swap() -> None:
            if self.open.pop(placeholder, None) is not None:
                self.open[incident_id] = key
            self._publish()

        if self._loop is None or self._loop.is_closed():
            swap()
        else:
            self._loop.call_soon_threadsafe(swap)

    async def ack(self, incident_id: int) -> dict[str, Any]:
        """Acknowledge an incident (ConfigError for an unknown id) and apply it at once."""
        incident = await asyncio.to_thread(self.store.ack, incident_id)
        await self._acked(incident_id, (incident["signal"], incident["direction"]))
        return incident

    async def _acked(self, incident_id: int, key: tuple[str, str]) -> None:
        """Apply an acknowledgement (made here, or seen by ``_poll``): the incident is closed here, and its
        detector reset once no incident of its signal and direction is open. Of the replicas sharing a store,
        only the first to claim the incident resets (``Walk.claim_reset``), so the reset is applied once."""
        if incident_id in self._acking:  # an ack made here, seen by _poll while it is applied
            return
        self._acking.add(incident_id)
        try:
            await self._apply_ack(incident_id, key)
        finally:
            self._acking.discard(incident_id)

    async def _apply_ack(self, incident_id: int, key: tuple[str, str]) -> None:
        name, direction = key
        reset = False
        if key not in [k for i, k in self.open.items() if i != incident_id] and name in _ATTRIBUTE:

            def step(walk: Walk | None) -> list[Write]:
                nonlocal reset
                signal = getattr(self, _ATTRIBUTE[name])
                if signal is None or direction not in signal.detectors or (
                        walk is not None and not walk.claim_reset(incident_id)):
                    return []
                signal.reset(direction)
                reset = True
                return [Write.exchanges(f"the {name} state after an ack", [], [(name, self._state(name))])]

            await asyncio.to_thread(self._walk, [name], step)
        self.open.pop(incident_id, None)  # after the reset: a rollback ends on a detector back at 0
        self._publish()
        log.warning("twofaced monitor: incident %s acknowledged; %s %s detector %s%s", incident_id, name,
                    direction, "reset" if reset else "not reset here (another replica did, or another incident "
                    "of it is open)", "; traffic back to the upstream" if self.config.policy == "rollback"
                    and not self.open else "")

    def _flush_counts(self) -> None:
        """Add the unscored and dropped counts since the last call to the store's counters. They are sums, so
        while writes wait in the buffer they wait here instead (never taking a place an exchange could have)."""
        if self.buffer.pending:
            return
        delta, self._unflushed = self._unflushed, 0
        dropped, self._dropped_flushed = self.buffer.dropped - self._dropped_flushed, self.buffer.dropped
        if delta or dropped:
            counts = {"unscored": delta, "store_dropped": dropped}
            self.buffer.write(Write("the unscored and dropped counts", call=lambda store: store.add_counts(counts)))

    async def _flusher(self) -> None:
        """Write buffered writes while the store takes them; wait longer after each failed try (BACKOFF)."""
        wait = BACKOFF[0]
        while True:
            if not self.buffer.pending:
                await asyncio.sleep(IDLE_TICK)
                continue
            try:
                flushed = await asyncio.to_thread(self.buffer.flush)
            except Exception:  # a bug must not stop the flusher: log it and try again later
                log.exception("twofaced monitor: flushing the store buffer failed")
                flushed = False
            if flushed:
                wait = BACKOFF[0]
            else:
                await asyncio.sleep(wait)
                wait = min(2 * wait, BACKOFF[1])

    async def _poll(self) -> None:
        """Every ``poll_seconds``: write the unscored count, and pick up incidents acked or opened elsewhere."""
        while True:
            await asyncio.sleep(self.config.poll_seconds)
            before = dict(self.open)  # incidents opened after this snapshot may not be in the read below
            try:
                await asyncio.to_thread(self._flush_counts)
                stored = await asyncio.to_thread(self.store.incidents, "open")
                versioned = await asyncio.to_thread(self.store.versioned_states)
            except SQLAlchemyError as exc:
                log.warning("twofaced monitor: cannot read the store (%s); will retry", type(exc).__name__)
                continue
            now_open = {i["id"]: (i["signal"], i["direction"]) for i in stored}
            for incident_id, key in before.items():  # a placeholder (< 0) is not stored yet: not acked
                if incident_id > 0 and incident_id not in now_open and incident_id in self.open:
                    await self._acked(incident_id, key)
            self.open.update(now_open)
            await asyncio.to_thread(self._adopt_published, versioned)  # what other replicas walked since


def _probe_signal(p0: float, shift: float, false_alarm_every: float) -> ProbeSignal:
    try:
        return ProbeSignal.create(p0, shift, false_alarm_every)
    except ConfigError as exc:
        raise ConfigError(f"--probe-rate {p0:g}: {exc}") from None
