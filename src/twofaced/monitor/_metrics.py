"""The monitor's Prometheus metrics, in a registry of its own (``GET /metrics``), so two monitors in one process
(tests) or another library's collectors never mix with them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter  # labels: route (upstream, fallback), status
    upstream_errors: Counter  # labels: kind (connect, timeout)
    scored: Counter
    unscored: Counter
    alarms: Counter  # labels: signal, direction
    incidents_open: Gauge
    blocked: Counter
    store_failures: Counter
    store_buffered: Gauge
    store_dropped: Counter
    webhook_failures: Counter
    statistic: Gauge  # labels: signal, direction
    threshold: Gauge  # labels: signal, direction
    queue_depth: Gauge
    canary_pairs: Counter
    canary_failures: Counter
    probe_exchanges: Counter  # labels: flagged (true, false, missing)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def make_metrics() -> Metrics:
    r = CollectorRegistry(auto_describe=True)
    p = "twofaced_monitor_"
    return Metrics(
        registry=r,
        requests=Counter(f"{p}requests", "Chat completions answered, by route and status.", ["route", "status"],
                         registry=r),
        upstream_errors=Counter(f"{p}upstream_errors", "Upstream failures answered 502/504.", ["kind"], registry=r),
        scored=Counter(f"{p}exchanges_scored", "Exchanges judged and stored.", registry=r),
        unscored=Counter(f"{p}exchanges_unscored", "Exchanges not scored: the scoring queue was full.", registry=r),
        alarms=Counter(f"{p}alarms", "Detector alarms.", ["signal", "direction"], registry=r),
        incidents_open=Gauge(f"{p}incidents_open", "Incidents not yet acknowledged.", registry=r),
        blocked=Counter(f"{p}blocked", "Responses withheld by the block policy.", registry=r),
        store_failures=Counter(f"{p}store_failures", "Store write attempts that failed (the store unavailable: the "
                               "write is buffered; or refused: logged with its ids).", registry=r),
        store_buffered=Gauge(f"{p}store_buffered", "Writes waiting in the buffer for the store to come back.",
                             registry=r),
        store_dropped=Counter(f"{p}store_dropped", "Exchanges never stored: dropped past --store-buffer, refused by "
                              "the store, or still buffered at shutdown (each logged with its id).", registry=r),
        webhook_failures=Counter(f"{p}webhook_failures", "Webhook posts that failed (logged).", registry=r),
        statistic=Gauge(f"{p}cusum_statistic", "CUSUM statistic in nats.", ["signal", "direction"], registry=r),
        threshold=Gauge(f"{p}cusum_threshold", "CUSUM alarm threshold in nats.", ["signal", "direction"],
                        registry=r),
        queue_depth=Gauge(f"{p}queue_depth", "Exchanges waiting to be scored.", registry=r),
        canary_pairs=Counter(f"{p}canary_pairs", "Canary pairs sent, judged and stored.", registry=r),
        canary_failures=Counter(f"{p}canary_failures", "Canary pairs the upstream did not answer (logged).",
                                registry=r),
        probe_exchanges=Counter(f"{p}probe_exchanges", "Live exchanges seen by the probe signal (--probe-rate), by "
                                "the served probe's flag: true, false, or missing (the reply carried no reading).",
                                ["flagged"], registry=r),
    )
