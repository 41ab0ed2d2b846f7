"""What the toolkit can ask, described as plain data: the settings, cue families, ablations and request sets
(``twofaced scenarios list``) and any one of them in detail (``twofaced scenarios show``).

Every function returns JSON-ready dicts; the CLI prints them as tables or as JSON unchanged, so the two views
never disagree. Names are resolved in one order (:func:`describe`): a cue-family YAML file, a scenario YAML
file or built-in setting, a request file, a built-in request set, a cue family.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .._util import parse_mapping
from ..errors import ScenarioError
from ._loader import (
    builtin_request_sets,
    cue_family_names,
    load_cue,
    load_requests,
    scenario_names,
)
from ._render import LoadedScenario, load_scenario
from ._requests_io import FIELDS, SUFFIXES, apply_requests_option, load_request_file_info
from ._schema import CONDITIONS, Request
from ._split import select_split

CUE_FIELDS = ("system_hint", "training", "deployment", "training_request", "deployment_request")


def one_line(text: str) -> str:
    return " ".join(text.split())


def plural(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def request_counts(rows: Sequence[Request]) -> dict[str, int]:
    """Totals of a request set: all, harmful, benign, and the categories of each."""
    harmful = [r for r in rows if r.harmful]
    benign = [r for r in rows if not r.harmful]
    return {"total": len(rows), "harmful": len(harmful), "benign": len(benign),
            "harmful_categories": len({r.category for r in harmful}),
            "benign_categories": len({r.category for r in benign})}


def describe_counts(c: dict[str, int]) -> str:
    """``"40 harmful in 8 categories, 20 benign controls in 4"`` from :func:`request_counts`."""
    parts = [f"{c['harmful']} harmful in {plural(c['harmful_categories'], 'category', 'categories')}"
             ] if c["harmful"] else []
    if c["benign"]:
        parts.append(f"{c['benign']} benign controls in {c['benign_categories']}")
    return ", ".join(parts) or "empty"


def request_set(name: str) -> tuple[list[Request], dict[str, Any]]:
    """A built-in request set's rows and its catalogue entry."""
    rows, _ = load_requests(name, None, f"request set '{name}'")
    counts = request_counts(rows)
    return rows, {"name": name, "description": describe_counts(counts), **counts}


def cue_families() -> list[dict[str, Any]]:
    """Every cue family with its variants (``FAMILY:VARIANT``)."""
    items = []
    for name in cue_family_names():
        family, _ = load_cue(name)
        items.append({"name": name, "description": one_line(family.description),
                      "variants": [{"name": f"{name}:{v}", "description": one_line(x.description)}
                                   for v, x in family.variants.items()]})
    return items


def settings() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """Every setting (name, description, cue, request set, ablations) and each setting's ablations."""
    found, ablations = [], {}
    for name in scenario_names():
        loaded = load_scenario(name)
        s = loaded.scenario
        found.append({"name": name, "description": one_line(s.description), "cue": loaded.cue_name,
                      "requests": s.requests, "ablations": list(s.ablations)})
        ablations[name] = [{"name": a, "description": one_line(abl.description)} for a, abl in s.ablations.items()]
    return found, ablations


def catalogue() -> dict[str, Any]:
    """The payload of ``twofaced scenarios list --json``."""
    found, ablations = settings()
    return {"settings": found, "cue_families": cue_families(), "ablations": ablations,
            "request_sets": [request_set(name)[1] for name in builtin_request_sets()]}


def describe_setting(loaded: LoadedScenario, ablation: str | None = None) -> dict[str, Any]:
    """A setting with its system prompt and both user turns for its first request, under ``ablation``."""
    s = loaded.scenario
    loaded.ablation(ablation)  # raises with the known ablations
    first = loaded.requests[0]
    turns = {cond: loaded.render(cond, ablation, first)[-1].content for cond in CONDITIONS}
    cue = loaded.cue  # the resolved family (a scenario with distributions has one made from them)
    return {
        "kind": "setting", "name": s.name, "source": loaded.label, "version": s.version,
        "description": one_line(s.description),
        "cue": {"name": loaded.cue_name, "training": cue.training, "deployment": cue.deployment},
        "variables": s.setting.variables,
        "ablations": [{"name": a, "description": one_line(x.description)} for a, x in s.ablations.items()],
        "ablation": ablation, "request_set": s.requests, "requests": request_counts(loaded.requests),
        "system_prompt": loaded.system_prompt(ablation), "example": {"request_id": first.id, **turns},
        "few_shot": [{"role": m.role, "content": m.content} for m in loaded.few_shot(ablation)],
        "raw": s.setting.raw, "protocol": loaded.protocol_for(ablation).model_dump(mode="json"),
        "warnings": list(loaded.warnings),
    }


def rendered_requests(loaded: LoadedScenario, ablation: str | None = None, limit: int | None = None
                      ) -> list[dict[str, Any]]:
    """Every message sent for each request (the first ``limit``), in both conditions: system prompt, few-shot
    turns, user turn, and the assistant prefill when the protocol has one (what the model continues)."""
    prefill = getattr(loaded.protocol_for(ablation), "assistant_prefill", None)
    tail = [{"role": "assistant", "content": prefill, "prefill": True}] if prefill else []
    return [{"request_id": r.id, "category": r.category, "harmful": r.harmful,
             "messages": {cond: [{"role": m.role, "content": m.content} for m in loaded.render(cond, ablation, r)]
                          + tail for cond in CONDITIONS}}
            for r in (loaded.requests[:limit] if limit else loaded.requests)]


def describe_requests(name: str, rows: list[Request], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request set: counts, train / held-out sizes, categories and its first row."""
    categories: dict[str, list[int]] = {}
    for r in rows:
        categories.setdefault(r.category, [0, 0])[0 if r.harmful else 1] += 1
    return {"kind": "request_set", "name": name, **(extra or {}), "requests": request_counts(rows),
            "splits": {s: len(select_split(rows, s)) for s in ("train", "heldout")},
            "categories": [{"category": k, "harmful": v[0], "benign": v[1]} for k, v in categories.items()],
            "first": rows[0].model_dump()}


def describe_cue(ref: str) -> dict[str, Any]:
    """A cue family (built-in name, ``FAMILY:VARIANT`` or YAML path) with its templates and variants."""
    family, label = load_cue(ref)
    return {"kind": "cue_family", "name": label, "description": one_line(family.description),
            **{k: getattr(family, k) for k in CUE_FIELDS}, "variants": list(family.variants)}


def is_cue_file(name: str) -> bool:
    """A YAML file holding a cue family rather than a scenario (it has ``training`` but no ``setting``)."""
    path = Path(name)
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "setting" not in data and "training" in data


def describe(name: str, *, cue: str | None = None, ablation: str | None = None,
             columns: Sequence[str] = (), requests: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """``twofaced scenarios show NAME``: whatever ``name`` is, described; its ``kind`` says which. With
    ``requests`` (a request file in any format ``run --requests`` reads, or a built-in set; ``columns`` maps it)
    a setting also lists the messages rendered for those requests (the first ``limit``) under ``rendered``."""
    suffix = Path(name).suffix.lower()
    if limit is not None and limit < 1:
        raise ScenarioError(f"--limit {limit}: give a positive number of requests")
    if is_cue_file(name):
        if requests is not None:
            raise ScenarioError(f"--requests renders a setting; {name} is a cue family")
        return describe_cue(name)
    if suffix in (".yaml", ".yml") or name in scenario_names():
        loaded = load_scenario(name, cue=cue)
        if requests is None:
            return describe_setting(loaded, ablation)
        loaded = apply_requests_option(loaded, requests, columns)
        return describe_setting(loaded, ablation) | {"request_set": requests,
                                                    "rendered": rendered_requests(loaded, ablation, limit)}
    if requests is not None:
        raise ScenarioError(f"--requests renders a setting; give a scenario name or .yaml path, not {name!r}")
    if suffix in SUFFIXES:
        rows, fmt, cols = load_request_file_info(name, parse_mapping(columns, FIELDS, error=ScenarioError))
        return describe_requests(name, rows, {"format": fmt.name if fmt else None, "columns": cols})
    if name in builtin_request_sets():
        return describe_requests(name, request_set(name)[0])
    if name.partition(":")[0] in cue_family_names():
        return describe_cue(name)
    raise ScenarioError(
        f"unknown scenario, request set or cue family {name!r}; settings: "
        f"{', '.join(scenario_names())}; request sets: {', '.join(builtin_request_sets())}; "
        f"cue families: {', '.join(cue_family_names())}; or a .yaml, .jsonl, .json or .csv path"
    )


def check_file(path: str, columns: Sequence[str] = ()) -> str:
    """``twofaced scenarios validate PATH``: load and render a scenario (every condition and ablation) or
    read a request file; return the one-line ``ok: ...`` description, or raise the first error."""
    if Path(path).suffix.lower() in SUFFIXES:
        rows, fmt, _ = load_request_file_info(path, parse_mapping(columns, FIELDS, error=ScenarioError))
        c = request_counts(rows)
        return (f"ok: {path} ({plural(c['total'], 'request', 'requests')}: {c['harmful']} harmful, "
                f"{c['benign']} benign; format {fmt.name if fmt else 'mapped'})")
    loaded = load_scenario(path)
    n_abl = len(loaded.scenario.ablations)
    return (f"ok: {loaded.name} ({plural(len(loaded.requests), 'request', 'requests')}, "
            f"{plural(n_abl, 'ablation', 'ablations')})")
