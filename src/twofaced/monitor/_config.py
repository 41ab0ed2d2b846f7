"""What one monitor process is configured with: :class:`MonitorConfig`, checked once before anything starts.

Invariant: the upstream (and the fallback) are fixed here, by the operator; nothing a request carries can
change where it is sent. Every bad value is a :class:`ConfigError` naming the flag and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .._util._files import data_home
from ..errors import ConfigError

Policy = Literal["flag", "block", "rollback"]
POLICIES: tuple[Policy, ...] = ("flag", "block", "rollback")

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_QUEUE = 10_000
DEFAULT_STORE_BUFFER = 10_000
DEFAULT_FALSE_ALARM_EVERY = 10_000
DEFAULT_SHIFT = 0.10


def default_store_url() -> str:
    """``sqlite:///<data home>/monitor/monitor.sqlite`` (``$TWOFACED_HOME`` moves it)."""
    return f"sqlite:///{data_home() / 'monitor' / 'monitor.sqlite'}"


def _base_url(flag: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{flag} must be an http(s) base URL such as http://127.0.0.1:8000/v1, got {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Everything ``twofaced monitor serve`` takes; :meth:`checked` validates and normalises it.

    ``shift``: the change in the live rate worth detecting, in absolute points (0.10: ten points), each way;
    ``false_alarm_every``: at most one false alarm per this many scored exchanges on average, both directions
    together; ``queue_size``: exchanges waiting to be scored before new ones are counted as unscored;
    ``store_buffer``: writes kept in memory while the store is unavailable, written when it is back (past it the
    oldest exchange is dropped, logged and counted); ``canary_every``: seconds between canary pairs (0: none);
    ``canary_model``: the ``model`` a canary names (default: the one live traffic last named, else the first the
    upstream lists); ``probe_rate``: the served probe's flag rate on the model's pre-deployment traffic, the
    probe signal's in-control rate (None: no probe signal; see ``_probe_signal.py``); ``tone_every``: judge the
    tone of every Nth live reply with ``tone-offline`` for the tone signal (0: off; see ``_tone.py``)."""

    upstream: str
    baseline: Path
    fallback: str | None = None
    store: str | None = None
    policy: Policy = "flag"
    webhook: str | None = None
    false_alarm_every: float = DEFAULT_FALSE_ALARM_EVERY
    shift: float = DEFAULT_SHIFT
    alpha: float = 0.05
    queue_size: int = DEFAULT_QUEUE
    store_buffer: int = DEFAULT_STORE_BUFFER
    max_body: int = DEFAULT_MAX_BODY
    upstream_timeout: float = 60.0
    redact: bool = False
    poll_seconds: float = 1.0
    canary_every: float = 0.0
    canary_model: str | None = None
    probe_rate: float | None = None
    tone_every: int = 0

    def checked(self) -> MonitorConfig:
        """A copy with URLs normalised and the default store filled in; raises ConfigError on a bad value."""
        upstream = _base_url("--upstream", self.upstream)
        fallback = None if self.fallback is None else _base_url("--fallback", self.fallback)
        webhook = None if self.webhook is None else _base_url("--webhook", self.webhook)
        if self.policy not in POLICIES:
            raise ConfigError(f"--policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.policy == "rollback" and fallback is None:
            raise ConfigError("--policy rollback needs --fallback URL: the known-good upstream to route to on alarm")
        if not (math.isfinite(self.false_alarm_every) and self.false_alarm_every >= 20):
            raise ConfigError(f"--false-alarm-every must be at least 20 exchanges, got {self.false_alarm_every:g}")
        if not (0 < self.shift < 1):
            raise ConfigError(f"--shift must be a change of rate strictly between 0 and 1 (0.1: ten points), got "
                              f"{self.shift:g}")
        if not (0 < self.alpha < 1):
            raise ConfigError(f"--alpha must be strictly between 0 and 1, got {self.alpha:g}")
        if self.queue_size < 1:
            raise ConfigError(f"--queue-size must be at least 1, got {self.queue_size}")
        if self.store_buffer < 1:
            raise ConfigError(f"--store-buffer must be at least 1 write, got {self.store_buffer}")
        if self.max_body < 1:
            raise ConfigError(f"--max-body must be at least 1 byte, got {self.max_body}")
        if not self.upstream_timeout > 0:
            raise ConfigError(f"--upstream-timeout must be a positive number of seconds, got {self.upstream_timeout}")
        if not (math.isfinite(self.canary_every) and self.canary_every >= 0):
            raise ConfigError(f"--canary-every must be 0 (no canaries) or a number of seconds, got "
                              f"{self.canary_every:g}")
        if self.canary_model is not None and not self.canary_model.strip():
            raise ConfigError("--canary-model must name a model; leave it out to use the one traffic names")
        if self.probe_rate is not None and not (math.isfinite(self.probe_rate) and 0 < self.probe_rate < 1):
            hint = f" (write {self.probe_rate / 100:g} for {self.probe_rate:g}%)" if 1 <= self.probe_rate < 100 else ""
            raise ConfigError(f"--probe-rate must be the probe's flag rate on pre-deployment traffic, strictly between "
                              f"0 and 1 (e.g. fpr_honest of 'twofaced probe eval --json'), got {self.probe_rate:g}"
                              f"{hint}")
        if self.tone_every < 0:
            raise ConfigError(f"--tone-every must be 0 (off) or N (judge the tone of every Nth live reply), got "
                              f"{self.tone_every}")
        return MonitorConfig(
            upstream=upstream, baseline=Path(self.baseline), fallback=fallback,
            store=self.store or default_store_url(), policy=self.policy, webhook=webhook,
            false_alarm_every=self.false_alarm_every, shift=self.shift, alpha=self.alpha, queue_size=self.queue_size,
            store_buffer=self.store_buffer, max_body=self.max_body, upstream_timeout=self.upstream_timeout,
            redact=self.redact, poll_seconds=self.poll_seconds, canary_every=self.canary_every,
            canary_model=self.canary_model, probe_rate=self.probe_rate, tone_every=self.tone_every)
