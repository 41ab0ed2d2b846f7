"""``GET /dashboard``: one HTML page of the monitor's state, rendered on the server by jinja2.

Per signal: the baseline rate, the live rate with its always-valid interval, each detector's statistic against
its threshold (with the statistic over the current excursion as an inline SVG line) and its alarm state (the
probe signal also its mean score and the live exchanges without a probe reading); then open and recent
incidents, and recent flagged exchanges (a live reply that failed its judge, or both halves of a discordant
canary pair), with the served probe's score where the reply carried one.

Invariants: every value reaches the page through jinja2's autoescaping (stored request and reply text is
untrusted: a client wrote one, the model the other); a redacted exchange shows its hash; the page has no
script and loads nothing (styles inline, charts inline SVG), and is served with a Content-Security-Policy that
forbids scripts, so even a missed escape could not run one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import jinja2

from ._exchange import last_user_text

TEXT_LIMIT = 600
CHART_WIDTH = 240
CHART_HEIGHT = 48
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _when(ts: float | None) -> str:
    return "–" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def chart(values: list[float], threshold: float) -> dict[str, Any]:
    """Polyline points of a statistic against its threshold (drawn at 90% of the height), in SVG units; the
    excursion starts from 0, the statistic's value before it."""
    values = [0.0, *values] if values else []
    top = max(threshold, *values) if values else threshold
    scale = 0.9 * CHART_HEIGHT / top if top > 0 else 0.0
    n = len(values)
    points = " ".join(f"{(i / (n - 1) if n > 1 else 1.0) * CHART_WIDTH:.1f},{CHART_HEIGHT - v * scale:.1f}"
                      for i, v in enumerate(values))
    return {"points": points, "threshold_y": f"{CHART_HEIGHT - threshold * scale:.1f}", "width": CHART_WIDTH,
            "height": CHART_HEIGHT, "n": max(n - 1, 0)}


def _shown(text: str, redacted: bool) -> str:
    if redacted:
        return text  # "sha256:..." already
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " …"


def _exchange_view(row: dict[str, Any]) -> dict[str, Any]:
    redacted = bool(row.get("redacted"))
    request = row.get("request") or ""
    if not redacted:
        try:
            request = last_user_text(json.loads(request))
        except (ValueError, TypeError):
            pass
    verdict = (row.get("verdicts") or {}).get("compliance-rules", {}).get("verdict", "–")
    harmful = row.get("harmful")
    kind = f"canary ({row.get('condition')})" if row.get("canary") else row.get("route", "")
    return {"id": row.get("id", ""), "when": _when(row.get("created_at")), "kind": kind, "model": row.get("model", ""),
            "verdict": verdict, "harmful": "unknown" if harmful is None else "harmful" if harmful else "benign",
            "redacted": redacted, "request": _shown(request, redacted),
            "response": _shown(row.get("response") or "", redacted), "probe": _probe(row)}


def _probe(row: dict[str, Any]) -> str | None:
    """The served probe's reading of an exchange, e.g. ``0.912 flagged`` (None: the reply carried none)."""
    score = row.get("probe_score")
    if score is None:
        return None
    return f"{score:.3f}{' flagged' if row.get('probe_flagged') else ''}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("twofaced.monitor", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(rate=_rate, when=_when)
    return env


def render_dashboard(status: dict[str, Any], traces: dict[str, dict[str, list[float]]],
                     incidents: list[dict[str, Any]], flagged: list[dict[str, Any]]) -> str:
    """The page: ``status`` is :meth:`Monitor.status`, ``traces`` :meth:`Monitor.traces`, ``incidents`` the
    store's (newest first), ``flagged`` the store's flagged exchanges (newest first)."""
    charts = {s["signal"]: {d: chart(traces.get(s["signal"], {}).get(d, []), det["threshold"])
                            for d, det in s["detectors"].items()} for s in status["signals"]}
    return _environment().get_template("dashboard.html.j2").render(
        status=status, charts=charts, incidents=incidents[:20],
        open_incidents=[i for i in incidents if i["status"] == "open"],
        flagged=[_exchange_view(r) for r in flagged], generated=_when(dt.datetime.now(dt.UTC).timestamp()))
