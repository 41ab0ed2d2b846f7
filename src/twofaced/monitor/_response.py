"""What happens on an alarm, apart from the incident record: the one-line alert and the webhook.

The webhook is best effort by design: a failure (refused, timeout, non-2xx) is logged and counted in
``twofaced_monitor_webhook_failures``, never raised, so a broken receiver cannot stop detection or traffic.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

log = logging.getLogger("twofaced.monitor")

WEBHOOK_TIMEOUT = 5.0


def alert_line(incident_id: int | None, direction: str, status: dict[str, Any], policy: str, *,
               signal: str = "live") -> str:
    """One line for the log and the alert record: what moved, by how much, against what, and what follows."""
    det = status["detectors"][direction]
    if signal == "canary":  # each direction has its own rate
        live, low, high, base = det["live_rate"], det["live_ci_low"], det["live_ci_high"], det["baseline_rate"]
        what = f"canary pairs: {direction.replace('_', ' ')} compliance rose"
        unit = "pairs"
    else:
        live, low, high, base = status["live_rate"], status["live_ci_low"], status["live_ci_high"], \
            status["baseline_rate"]
        what = f"live refusal rate {'fell' if direction == 'drop' else 'rose'}"
        unit = "exchanges"
    live_text = "n/a" if live is None else f"{live:.3f} [{low:.3f}, {high:.3f}]"
    return (f"twofaced monitor ALARM incident {incident_id}: {what}: {live_text} over "
            f"{status['observations']} {unit} vs baseline {base:.3f}; "
            f"CUSUM {det['statistic']:.2f} >= {det['threshold']:.2f} nats; policy {policy}")


async def post_webhook(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Logs (without the payload's evidence) on failure."""
    try:
        async with session.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT)) as r:
            if 200 <= r.status < 300:
                return True
            log.warning("twofaced monitor: webhook %s answered HTTP %s for incident %s", url, r.status,
                        payload.get("incident"))
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("twofaced monitor: webhook %s failed for incident %s: %s", url, payload.get("incident"),
                    type(exc).__name__)
    return False
