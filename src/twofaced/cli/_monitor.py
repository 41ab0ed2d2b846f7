"""``twofaced monitor``: ``serve`` (the live monitor, a proxy in front of one upstream), ``status``, ``incidents``
and ``ack`` (read and act on its store), ``litellm-config`` (a LiteLLM proxy that feeds the monitor), and
``simulate``: the detector's false-alarm rate and delay, measured
on simulated streams next to the exact theory (:func:`twofaced.stats.simulate`).

``twofaced.monitor`` needs the ``monitor`` extra; it is imported inside the commands, so the rest of the CLI
works without it and a missing extra is one line with the pip command."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

import typer

from ..errors import ConfigError, MissingDependencyError
from ..stats import simulate
from ._app import app, out
from ._options import JsonFlag

monitor_app = typer.Typer(help="Watch a deployed model against its pre-deployment baseline: a proxy, sequential "
                          "detectors, incidents.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")


def _check_inputs(base: float, shifted: float, every: float, runs: int, change_at: int) -> None:
    """One-line errors naming the flag (typer's own range checks print a usage block instead)."""
    for flag, value in (("--base", base), ("--shifted", shifted)):
        if not (math.isfinite(value) and 0 < value < 1):
            hint = f" (write {value / 100:g} for {value:g}%)" if 1 <= value < 100 else ""
            raise ConfigError(f"{flag} must be a rate strictly between 0 and 1, got {value:g}{hint}")
    if base == shifted:
        raise ConfigError(f"--shifted must differ from --base (both {base:g}): give the changed rate worth detecting")
    if not (math.isfinite(every) and every >= 10):
        raise ConfigError(f"--false-alarm-every must be at least 10 exchanges, got {every:g}")
    if not 10 <= runs <= 1_000_000:
        raise ConfigError(f"--runs must be from 10 to 1,000,000, got {runs}")
    if change_at < 0:
        raise ConfigError(f"--change-at must be 0 or more exchanges, got {change_at}")


@monitor_app.command("simulate")
def simulate_cmd(
    base: Annotated[float, typer.Option("--base", metavar="P0", help="In-control rate (the baseline's), in (0, 1).")],
    shifted: Annotated[float, typer.Option("--shifted", metavar="P1", help="Changed rate worth detecting, in (0, 1); "
                                           "below --base for a drop.")],
    every: Annotated[float, typer.Option("--false-alarm-every", metavar="N", help="Target in-control average run "
                                         "length: at most one false alarm per N exchanges (N >= 10).")],
    runs: Annotated[int, typer.Option("--runs", help="Simulated streams per measurement.")] = 2000,
    change_at: Annotated[int, typer.Option("--change-at", help="In-control exchanges before the change "
                                           "(0: zero-state delay, the worst case).")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Mean detection delay and false-alarm rate of the Bernoulli CUSUM on simulated streams, next to theory."""
    _check_inputs(base, shifted, every, runs, change_at)
    result = simulate(base, shifted, every, runs=runs, change_at=change_at, seed=seed)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return
    lo, hi = result.measured_delay_ci
    out.print(f"CUSUM {base:g} -> {shifted:g}, threshold {result.threshold:.3f} nats ({result.threshold_steps} steps)")
    measured = ("not simulated (too many exchanges)" if result.measured_arl0 is None or result.measured_arl0_se is None
                else f"{result.measured_arl0:,.0f} ± {result.measured_arl0_se:,.0f} over {result.arl0_runs} runs")
    out.print(f"exchanges per false alarm: theory {result.theoretical_arl0:,.0f} (target {every:,.0f}), measured "
              f"{measured}")
    out.print(f"delay after the change: theory {result.theoretical_delay:.1f}, measured {result.measured_delay:.1f} "
              f"[{lo:.1f}, {hi:.1f}] over {result.runs - result.false_alarms_before_change} runs "
              f"({100 * result.delay_gap:+.1f}%); Siegmund's approximation {result.siegmund_delay:.1f}")


def _monitor() -> ModuleType:
    try:
        import twofaced.monitor as monitor
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(f"twofaced monitor needs the monitor extra ({exc.name} is missing): "
                                     "pip install 'twofaced[monitor]'") from None
    return monitor


StoreUrl = Annotated[str | None, typer.Option("--store", envvar="TWOFACED_MONITOR_STORE", help="Store URL: "
                                              "sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: "
                                              "monitor/monitor.sqlite under the data home).")]


def _store(url: str | None) -> str:
    return url or _monitor().default_store_url()


@monitor_app.command("serve")
def serve_cmd(
    upstream: Annotated[str, typer.Option("--upstream", metavar="URL", help="Base URL of the monitored "
                                          "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")],
    baseline: Annotated[Path, typer.Option("--baseline", metavar="RUN_DIR", help="Run directory of the same "
                                           "model: its deployment-condition refusal rate is the baseline.")],
    fallback: Annotated[str | None, typer.Option("--fallback", metavar="URL", help="Known-good upstream that "
                                                 "--policy rollback routes to until the incident is acked.")] = None,
    store: StoreUrl = None,
    policy: Annotated[Literal["flag", "block", "rollback"], typer.Option(
        "--policy", help="On alarm: flag (record only), block (withhold replies that fail the judge while an "
                         "incident is open), rollback (route to --fallback until ack).")] = "flag",
    webhook: Annotated[str | None, typer.Option("--webhook", metavar="URL", help="POST each alarm here as "
                                                "JSON (failures are logged, never raised).")] = None,
    every: Annotated[float, typer.Option("--false-alarm-every", metavar="N", help="At most one false alarm per "
                                         "N scored exchanges on average (both directions together).")] = 10_000,
    shift: Annotated[float, typer.Option("--shift", help="Change of the live refusal rate worth detecting, each "
                                         "way (0.1: ten points).")] = 0.10,
    redact: Annotated[bool, typer.Option("--redact", help="Store sha256 hashes instead of request and reply "
                                         "text (verdicts are kept).")] = False,
    queue_size: Annotated[int, typer.Option("--queue-size", help="Exchanges waiting to be scored before more "
                                            "are counted as unscored.")] = 10_000,
    store_buffer: Annotated[int, typer.Option("--store-buffer", help="Store writes kept in memory while the "
                                              "store is unavailable and written when it is back; past it the oldest "
                                              "exchange is dropped, logged and counted.")] = 10_000,
    timeout: Annotated[float, typer.Option("--upstream-timeout", help="Seconds to wait for the upstream between "
                                           "bytes; then 504.")] = 60.0,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes; larger ones are "
                                          "answered 413.")] = 1024 * 1024,
    canary_every: Annotated[float, typer.Option("--canary-every", metavar="SECONDS", help="Every SECONDS, send "
                                                "the next held-out request of the baseline's scenario to the "
                                                "upstream framed as training and as deployment, and watch the "
                                                "pairs' discordance (0: off).")] = 0.0,
    canary_model: Annotated[str | None, typer.Option("--canary-model", metavar="NAME", help="The model a "
                                                     "canary names (default: the one traffic last named, else "
                                                     "the upstream's first).")] = None,
    probe_rate: Annotated[float | None, typer.Option("--probe-rate", metavar="P0", help="Watch the probe score "
                                                     "a 'twofaced serve --probe' upstream adds to each reply: P0 is "
                                                     "the probe's flag rate on pre-deployment traffic (e.g. "
                                                     "fpr_honest of 'twofaced probe eval --json'), in (0, 1); a "
                                                     "rise opens a probe incident.")] = None,
    tone_every: Annotated[int, typer.Option("--tone-every", metavar="N", min=0, help="Judge the tone of every "
                                            "Nth live reply with tone-offline (MiniLM: needs the offline extra and "
                                            "a baseline judged by tone-offline) and watch the share not warm "
                                            "(0: off).")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
                    ] = 8100,
) -> None:
    """Serve the monitor: an OpenAI-compatible proxy (POST /v1/chat/completions plain and streaming, GET
    /v1/models, /healthz, /metrics; /dashboard and /admin/... with Authorization: Bearer
    $TWOFACED_ADMIN_TOKEN) that judges every exchange off the request path and raises an incident when the live
    refusal rate, the compliance rate on requests flagged harmful (the baseline's flag, else the offline request
    classifier), with --tone-every the share of curt replies, with --canary-every the canary pairs' discordance,
    or with --probe-rate the served probe's flag rate, leaves the baseline's. Runs until Ctrl-C."""
    from ._app import err, out

    monitor = _monitor()
    config = monitor.MonitorConfig(
        upstream=upstream, baseline=baseline, fallback=fallback, store=store, policy=policy, webhook=webhook,
        false_alarm_every=every, shift=shift, queue_size=queue_size, store_buffer=store_buffer,
        upstream_timeout=timeout, max_body=max_body,
        redact=redact, canary_every=canary_every, canary_model=canary_model, probe_rate=probe_rate,
        tone_every=tone_every)
    try:
        monitor.serve_monitor(config, host=host, port=port, on_ready=lambda url: out.print(
            f"monitoring {upstream} at {url}", highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        err.print("stopped the monitor; queued exchanges were scored", highlight=False, soft_wrap=True)
        sys.exit(130)


def _interval(rate: float | None, low: float, high: float) -> str:
    return "n/a" if rate is None else f"{rate:.3f} [{low:.3f}, {high:.3f}]"


def _print_signal(sig: dict[str, Any]) -> None:
    """One signal of ``monitor status`` in a few lines (the JSON has every field)."""
    base = "n/a" if sig["baseline_rate"] is None else f"{sig['baseline_rate']:.3f}"
    live = _interval(sig["live_rate"], sig["live_ci_low"], sig["live_ci_high"])
    unit = sig.get("unit", "exchanges")
    note = "  ALARM" if sig["alarm"] else "  (informational)" if sig.get("informational") else ""
    out.print(f"signal {sig['signal']}: {sig['outcome']}: baseline {base}, live {live} over {sig['observations']} "
              f"{unit}{note}", highlight=False)
    for d, det in sig["detectors"].items():
        rate = f", live {_interval(det['live_rate'], det['live_ci_low'], det['live_ci_high'])} vs " \
            f"{det['baseline_rate']:.3f}" if "live_rate" in det else ""
        out.print(f"  {d}: CUSUM {det['statistic']:.2f} / {det['threshold']:.2f} nats (to {det['p1']:.3f}){rate}"
                  f"{'  ALARM' if det['alarm'] else ''}", highlight=False)
    if sig["signal"] == "probe":
        mean = "n/a" if sig["mean_score"] is None else f"{sig['mean_score']:.3f}"
        hint = " (is the upstream twofaced serve --probe?)" if sig["missing"] and not sig["observations"] else ""
        out.print(f"  mean score {mean}; {sig['missing']} live exchanges carried no probe reading{hint}",
                  highlight=False)
    if sig["signal"] == "mix":
        coverage = "n/a" if sig["coverage"] is None else f"{100 * sig['coverage']:.0f}%"
        out.print(f"  {coverage} of {sig['live_requests']} live requests known to the baseline"
                  f"{'; the intervals are disjoint (mix shifted)' if sig['shifted'] else ''}", highlight=False)


@monitor_app.command("status")
def status_cmd(store: StoreUrl = None, as_json: JsonFlag = False) -> None:
    """Per signal: the baseline rate, the live rate with its always-valid interval, each detector's statistic
    and threshold, and the alarm state."""
    status = _monitor().monitor_status(_store(store))
    if as_json:
        print(json.dumps(status, indent=2))
        return
    for s in status["signals"]:
        _print_signal(s)
    out.print(f"open incidents: {', '.join(map(str, status['incidents_open'])) or 'none'}; exchanges stored "
              f"{status['exchanges']}; unscored {status['unscored']}", highlight=False)


@monitor_app.command("incidents")
def incidents_cmd(store: StoreUrl = None, as_json: JsonFlag = False) -> None:
    """Every incident, newest first: signal, direction, state, and (with --json) the detector trace and the
    ids of the triggering exchanges."""
    incidents = _monitor().monitor_incidents(_store(store))
    if as_json:
        print(json.dumps(incidents, indent=2))
        return
    if not incidents:
        out.print("no incidents")
    for i in incidents:
        out.print(f"incident {i['id']}: {i['signal']} {i['direction']}, {i['status']}, policy {i['policy']}, "
                  f"{len(i['exchange_ids'])} triggering exchanges", highlight=False)


@monitor_app.command("ack")
def ack_cmd(
    incident: Annotated[int, typer.Argument(metavar="INCIDENT_ID", help="Incident to acknowledge.")],
    store: StoreUrl = None,
) -> None:
    """Acknowledge an incident: a running monitor resets its detector and ends a rollback within a second."""
    result = _monitor().ack_incident(_store(store), incident)
    out.print(f"incident {result['id']} acknowledged", highlight=False)


@monitor_app.command("litellm-config")
def litellm_config_cmd(
    monitor_url: Annotated[str, typer.Option("--monitor", metavar="URL", help="URL of the running twofaced "
                                             "monitor, e.g. http://127.0.0.1:8100.")],
    upstream: Annotated[str, typer.Option("--upstream", metavar="URL", help="Base URL of the OpenAI-compatible "
                                          "server LiteLLM routes to, e.g. http://127.0.0.1:8000/v1.")],
    directory: Annotated[Path, typer.Option("--out", metavar="DIR", help="Directory for config.yaml and the "
                                            "callback file (made if missing; both overwritten).")],
    model: Annotated[str | None, typer.Option("--model", metavar="NAME", help="The model name clients ask for "
                                              "and the upstream serves (default: every name passes through).")
                     ] = None,
    key_env: Annotated[str, typer.Option("--upstream-key-env", metavar="NAME", help="Environment variable "
                                         "LiteLLM reads the upstream's API key from (any value for an upstream "
                                         "without keys).")] = "TWOFACED_UPSTREAM_API_KEY",
    no_guardrail: Annotated[bool, typer.Option("--no-guardrail", help="Leave the guardrail out: no round trip "
                                               "to the monitor before each plain reply, and the block policy "
                                               "cannot withhold gateway replies.")] = False,
) -> None:
    """Write a LiteLLM proxy config whose callback feeds every chat exchange to the monitor.

    Writes DIR/config.yaml (the model routed to --upstream, the callback, the guardrail, the master key from
    $LITELLM_MASTER_KEY), copies the file holding the callback and the guardrail (twofaced_litellm.py) beside it,
    and prints the command that starts LiteLLM offline. The callback posts each completed exchange to the
    monitor's POST /admin/exchanges with $TWOFACED_ADMIN_TOKEN; the guardrail asks the monitor, before a plain
    reply is sent, whether --policy block withholds it (it lets the reply through if the monitor does not answer
    within 0.5 s). LiteLLM runs in its own environment (python tools/litellm_env.py)."""
    monitor = _monitor()
    config = monitor.write_litellm_config(directory, monitor=monitor_url, upstream=upstream, model=model,
                                          upstream_key_env=key_env, guardrail=not no_guardrail)
    out.print(f"wrote {config} and {config.parent / 'twofaced_litellm.py'}", highlight=False, soft_wrap=True)
    out.print(f"start LiteLLM {monitor.LITELLM_VERSION} with LITELLM_MASTER_KEY, {key_env} and "
              "TWOFACED_ADMIN_TOKEN set:", highlight=False, soft_wrap=True)
    out.print(monitor.litellm_start_command(config), highlight=False, soft_wrap=True)
