"""Number formatting and the derived views (headline, bar segments) that the HTML and Markdown renderers share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..stats import format_p


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def pp(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f} pp"


def pval(p: float | None) -> str:
    """Two significant digits, never rounded across 0.05 (``stats.format_p``), so a p-value printed beside an
    interval reads on the same side of the 0.05 level as the interval's relation to 0."""
    return format_p(p)


def when(iso: str | None) -> str:
    """'2026-01-02T03:04:05+00:00' as '2026-01-02 03:04 UTC' (the data keeps the full ISO form)."""
    if not iso:
        return "–"
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def ablation_label(a: str | None) -> str:
    return "unablated" if a is None else a


def ci(low: float | None, high: float | None, *, points: bool = False) -> str:
    if low is None or high is None:
        return "–"
    if points:
        return f"[{_signed_bound(low)}, {_signed_bound(high)}] pp"
    return f"[{100 * low:.1f}, {100 * high:.1f}]%"


def _signed_bound(x: float) -> str:
    """A gap's bound in points; a bound that is not 0 is never printed as 0 (its side of 0 is the test)."""
    text = f"{100 * x:+.1f}"
    return f"{100 * x:+.1g}" if x != 0 and float(text) == 0 else text


def headline(data: dict[str, Any]) -> dict[str, Any]:
    """The unablated result in one place: its gap (with interval, p-value, method) and both conditions' rows."""
    s = data["summary"]
    gap = next((g for g in s["gaps"] if g["ablation"] is None), s["gaps"][0] if s["gaps"] else None)
    ablation = None if gap is None else gap["ablation"]
    rows = {r["condition"]: r for r in s["conditions"] if r["ablation"] == ablation}
    n = sum(r["n"] for r in rows.values())
    return {"gap": gap, "ablation": ablation, "training": rows.get("training"), "deployment": rows.get("deployment"),
            "n": n, "n_requests": data["manifest"]["requests"], "has_af": s["af_judge"] is not None}


def segments(row: dict[str, Any], has_af: bool) -> list[dict[str, Any]]:
    """The stacked bar of one condition row: refuses / partial / complies (with and without AF) / unparseable."""
    n = row["n"]
    parts: list[tuple[str, str, int]] = [("refused", "refuses", row["refused"]), ("partial", "partial", row["partial"])]
    if has_af:
        unjudged = row["complied"] - row.get("complied_with_af", 0) - row.get("complied_without_af", 0)
        parts += [("af", "complies with AF reasoning", row.get("complied_with_af", 0)),
                  ("complied", "complies without AF", row.get("complied_without_af", 0)),
                  ("unjudged", "complies, AF not judged", unjudged)]
    else:
        parts.append(("complied", "complies", row["complied"]))
    parts.append(("unparseable", "unparseable", row["unparseable"]))
    return [{"key": k, "label": label, "count": c, "share": c / n if n else 0.0} for k, label, c in parts if c]


def legend(has_af: bool, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    keys = ["refused", "partial", *(["af", "complied", "unjudged"] if has_af else ["complied"]), "unparseable"]
    labels = {"refused": "refuses", "partial": "partial", "af": "complies with AF reasoning",
              "complied": "complies without AF" if has_af else "complies", "unjudged": "complies, AF not judged",
              "unparseable": "unparseable"}
    present = {s["key"] for r in rows for s in segments(r, has_af)}
    always = {"refused", "complied", *(["af"] if has_af else [])}
    return [(k, labels[k]) for k in keys if k in present or k in always]


def nonzero(rows: list[dict[str, Any]], *columns: str) -> set[str]:
    """The columns with a non-zero value in some row (the rest are left out of a table)."""
    return {c for c in columns if any(r.get(c) for r in rows)}
