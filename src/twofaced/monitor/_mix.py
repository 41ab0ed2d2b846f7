"""The mix signal: what live traffic asks, against what the baseline asked, so that a change of the live
refusal rate caused by a shift in traffic can be told apart from a change in the model.

Per live exchange (either route; canary pairs are the monitor's own and never count) the request is matched to
the baseline's requests (``Baseline.known``). A matched request has the baseline's harmfulness flag and
category; an unmatched one is counted as unknown. Reported: the share of live requests that are known (the
coverage), the harmful share among known ones with its confidence sequence, the baseline's harmful share over
its distinct requests with a Wilson interval, and the same per category.

It is **informational**: it raises no alarm and opens no incident, because its false-alarm rate cannot be
stated. Known live requests are those that repeat a baseline request, not a random draw from live traffic or
from the baseline's set, so no in-control distribution holds for them. ``shifted`` says only that the two
intervals are disjoint; if the known live requests *were* independent draws with the baseline's harmful share,
the chance of ever seeing that is at most ``2 alpha`` (the live confidence sequence misses at any time with
probability at most alpha, the baseline interval at most alpha: a union bound), which is the one statement
the flag supports. Read it beside the live signal: a live refusal rate that moves while the harmful share
moves the same way is more likely traffic than the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..stats import confidence_sequence, wilson
from ._signal import check_state

SIGNAL = "mix"
STATE_VERSION = 1


@dataclass(slots=True)
class MixSignal:
    """Counts of the live request mix; the baseline's mix is passed in when reporting (it is not state)."""

    total: int = 0  # live exchanges seen
    known: int = 0  # of them, requests the baseline knows
    harmful: int = 0  # of the known, harmful ones
    categories: dict[str, int] = field(default_factory=dict)  # known requests per category

    def observe(self, harmful: bool | None, category: str | None) -> None:
        self.total += 1
        if harmful is None:
            return
        self.known += 1
        self.harmful += harmful
        if category is not None:
            self.categories[category] = self.categories.get(category, 0) + 1

    def status(self, alpha: float, baseline_mix: dict[str, int]) -> dict[str, Any]:
        """JSON-ready, in the shape of the other signals' status (no detectors: see the module)."""
        base_n = int(baseline_mix.get("total", 0))
        base_h = int(baseline_mix.get("harmful", 0))
        base = wilson(base_h, base_n, 1 - alpha)
        live = confidence_sequence(self.harmful, self.known, alpha)
        shifted = self.known > 0 and base_n > 0 and (live.high < base.low or live.low > base.high)
        names = sorted({k.removeprefix("category:") for k in baseline_mix if k.startswith("category:")}
                       | set(self.categories))
        categories = [{"category": c, "baseline_share": (baseline_mix.get(f"category:{c}", 0) / base_n)
                       if base_n else None, "live_share": self.categories.get(c, 0) / self.known if self.known
                       else None, "live_count": self.categories.get(c, 0)} for c in names]
        return {
            "signal": SIGNAL, "outcome": "harmful share of live requests the baseline knows", "informational": True,
            "baseline_rate": None if base_n == 0 else base_h / base_n, "baseline_ci_low": base.low,
            "baseline_ci_high": base.high, "baseline_requests": base_n,
            "live_rate": None if self.known == 0 else live.estimate, "live_ci_low": live.low,
            "live_ci_high": live.high, "alpha": alpha, "observations": self.known, "unit": "known requests",
            "live_requests": self.total,
            "coverage": None if self.total == 0 else self.known / self.total, "shifted": shifted,
            "categories": categories, "detectors": {}, "alarm": False,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "signal": SIGNAL, "total": self.total, "known": self.known,
                "harmful": self.harmful, "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MixSignal:
        check_state(data, SIGNAL, STATE_VERSION)
        return cls(int(data["total"]), int(data["known"]), int(data["harmful"]),
                   {str(k): int(v) for k, v in data.get("categories", {}).items()})
