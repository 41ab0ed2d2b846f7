"""What the read commands show from a monitor's store, without a running monitor: ``monitor status``,
``monitor incidents`` and ``monitor ack`` (which a running monitor picks up within its poll interval)."""

from __future__ import annotations

from typing import Any

from ._canary import SIGNAL as CANARY
from ._canary import CanarySignal
from ._detector import SIGNAL as LIVE
from ._detector import LiveSignal
from ._harmful import SIGNAL as HARMFUL
from ._harmful import HarmfulSignal
from ._mix import SIGNAL as MIX
from ._mix import MixSignal
from ._probe_signal import SIGNAL as PROBE
from ._probe_signal import ProbeSignal
from ._store import open_monitor_store
from ._tone import SIGNAL as TONE
from ._tone import ToneSignal

ORDER = (LIVE, HARMFUL, TONE, CANARY, MIX, PROBE)


def signal_status(state: dict[str, Any]) -> dict[str, Any]:
    """One stored signal state as the status the running monitor reports for it."""
    alpha = float(state.get("alpha", 0.05))
    name = state.get("signal")
    if name == CANARY:
        pairs = tuple(int(x) for x in state.get("baseline_pairs", (0, 0, 0, 0)))
        return CanarySignal.from_dict(state).status(alpha, (pairs[0], pairs[1], pairs[2], pairs[3]))
    if name == MIX:
        return MixSignal.from_dict(state).status(alpha, state.get("baseline_mix", {}))
    if name == PROBE:
        return ProbeSignal.from_dict(state).status(alpha)
    if name in (HARMFUL, TONE):
        cls = HarmfulSignal if name == HARMFUL else ToneSignal
        return cls.from_dict(state).status(alpha) | {"baseline": state.get("baseline")}
    return LiveSignal.from_dict(state).status(alpha) | {"baseline": state.get("baseline")}


def monitor_status(store_url: str) -> dict[str, Any]:
    """Per signal: baseline rate, live rate with its confidence sequence, each detector's statistic, threshold
    and alarm state; plus open incidents, stored exchanges and the unscored count."""
    store = open_monitor_store(store_url, create=False)
    try:
        states = store.states()
        signals = [signal_status(states[name]) for name in ORDER if name in states]
        open_ids = [i["id"] for i in store.incidents("open")]
        counts = store.counts()
        return {"store": store.url, "signals": signals, "incidents_open": open_ids,
                "exchanges": store.exchange_count(), "unscored": counts.get("unscored", 0)}
    finally:
        store.close()


def monitor_incidents(store_url: str) -> list[dict[str, Any]]:
    """Every incident, newest first, with its summary, detector trace and triggering exchange ids."""
    store = open_monitor_store(store_url, create=False)
    try:
        return store.incidents()
    finally:
        store.close()


def ack_incident(store_url: str, incident_id: int) -> dict[str, Any]:
    """Acknowledge an incident in the store: a running monitor resets the detector and ends a rollback."""
    store = open_monitor_store(store_url, create=False)
    try:
        return store.ack(incident_id)
    finally:
        store.close()
