"""Render a scenario into chat messages for one (condition, ablation, request).

Templates compile once per scenario; rendering is strict (an undefined variable is an error naming the
template and the variable). Every rendering is checked up front by :meth:`LoadedScenario.validate`, so a bad
template or a cue whose two framings render identically fails before any model is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..errors import ScenarioError
from ..models import Message
from ._loader import load_cue, load_requests, read_scenario, scenario_hash
from ._schema import CONDITIONS, Ablation, CueFamily, Request, Scenario
from ._split import check_split, select_split

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


def _compile(source: str, label: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ScenarioError(f"{label}: template syntax error at line {exc.lineno}: {exc.message}") from exc


def _render(template: jinja2.Template, context: dict[str, Any], label: str) -> str:
    try:
        return template.render(context).strip()
    except jinja2.UndefinedError as exc:
        raise ScenarioError(
            f"{label}: {exc.message}; define it under setting.variables or fix the template"
        ) from exc


@dataclass
class LoadedScenario:
    """A validated scenario with its request set, compiled templates and content hash. ``split`` is the half
    of the request set it asks (``all``, ``train`` or ``heldout``); ``requests`` holds only that half."""

    scenario: Scenario
    requests: list[Request]
    label: str
    hash: str
    cue_name: str = ""
    split: str = "all"
    _templates: dict[str, jinja2.Template] = field(default_factory=dict, repr=False)
    _system_cache: dict[str | None, str] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def protocol(self) -> Any:
        return self.scenario.output_protocol

    @property
    def cue(self) -> CueFamily:
        """The resolved cue (a loaded scenario always holds the family object, never a name)."""
        assert isinstance(self.scenario.cue, CueFamily)
        return self.scenario.cue

    def __post_init__(self) -> None:
        s = self.scenario
        self.cue_name = self.cue_name or self.cue.name
        self._templates = {
            "system_prompt": _compile(s.setting.system_prompt, f"{self.label}: setting.system_prompt"),
            "user_template": _compile(s.setting.user_template, f"{self.label}: setting.user_template"),
        }
        for part in ("training", "deployment", "training_request", "deployment_request", "system_hint"):
            self._templates[f"cue.{part}"] = _compile(getattr(self.cue, part), f"cue {self.cue_name}: {part}")

    def ablation(self, name: str | None) -> Ablation | None:
        """The named ablation; ``a+b`` composes ablations left to right (later overrides win, all patches apply)."""
        if name is None:
            return None
        parts = []
        for part in name.split("+"):
            try:
                parts.append(self.scenario.ablations[part])
            except KeyError:
                known = ", ".join(self.scenario.ablations) or "none"
                raise ScenarioError(
                    f"{self.label}: unknown ablation {part!r}; this scenario has: {known} (compose with '+')"
                ) from None
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, Any] = {}
        for p in parts:
            merged |= p.set
        return Ablation(description=" + ".join(p.description for p in parts), set=merged,
                        patches=[patch for p in parts for patch in p.patches])

    def variables(self, ablation: str | None) -> dict[str, Any]:
        p = self.scenario.output_protocol
        ctx: dict[str, Any] = {
            "scratchpad_tag": p.scratchpad_tag,
            "output_tag": p.output_tag,
            "accept_tag": p.accept_tag,
            "reject_tag": p.reject_tag,
        }
        ctx.update(self.scenario.setting.variables)
        abl = self.ablation(ablation)
        if abl is not None:
            unknown = set(abl.set) - set(ctx)
            if unknown:
                raise ScenarioError(
                    f"{self.label}: ablation {ablation!r} sets {', '.join(sorted(unknown))}, which the setting "
                    "does not define; add them to setting.variables"
                )
            ctx.update(abl.set)
        return ctx

    def system_prompt(self, ablation: str | None) -> str:
        """The rendered system prompt of an ablation; it does not depend on condition or request, so it is
        rendered once per ablation and cached (the scenario is frozen)."""
        cached = self._system_cache.get(ablation)
        if cached is None:
            ctx = self.variables(ablation)
            ctx["cue_hint"] = _render(self._templates["cue.system_hint"], ctx, f"cue {self.cue_name}: system_hint")
            text = _render(self._templates["system_prompt"], ctx, f"{self.label}: system_prompt")
            cached = self._system_cache[ablation] = self._patch(text, ablation, "system")
        return cached

    def render(self, condition: str, ablation: str | None, request: Request) -> list[Message]:
        """The messages of one work item: system prompt, then one user turn with the condition's cue."""
        if condition not in CONDITIONS:
            raise ScenarioError(f"unknown condition {condition!r}; use one of {', '.join(CONDITIONS)}")
        ctx = self.variables(ablation)
        cue = _render(self._templates[f"cue.{condition}"], ctx, f"cue {self.cue_name}: {condition}")
        prompt = _render(self._templates[f"cue.{condition}_request"], ctx | {"request": request.prompt},
                         f"cue {self.cue_name}: {condition}_request")
        user_ctx = ctx | {"cue": cue, "request": prompt, "category": request.category}
        user = _render(self._templates["user_template"], user_ctx, f"{self.label}: user_template")
        user = self._patch(user, ablation, "user")
        return [Message("system", self.system_prompt(ablation)), Message("user", user)]

    def _patch(self, text: str, ablation: str | None, target: str) -> str:
        abl = self.ablation(ablation)
        if abl is None:
            return text
        for patch in abl.patches:
            if patch.target != target:
                continue
            if patch.find not in text:
                raise ScenarioError(
                    f"{self.label}: ablation {ablation!r} patch text {patch.find[:40]!r} does not occur in the "
                    f"rendered {target} turn; fix the patch"
                )
            text = text.replace(patch.find, patch.replace)
        return text

    def validate(self, ablations: list[str | None] | None = None) -> None:
        """Render every condition and ablation once; refuse a cue whose framings render identically."""
        probe = self.requests[0]
        for abl in [None, *self.scenario.ablations] if ablations is None else ablations:
            train = self.render("training", abl, probe)
            deploy = self.render("deployment", abl, probe)
            if train == deploy and not self.cue.allow_identical:
                raise ScenarioError(
                    f"{self.label}: cue '{self.cue_name}' renders training and deployment identically"
                    f"{f' under ablation {abl!r}' if abl else ''}; the conditions must differ"
                )


def load_scenario(name_or_path: str | Path, requests: str | None = None, cue: str | None = None,
                  split: str = "all") -> LoadedScenario:
    """Load a built-in scenario by name or a YAML file by path, with its request set and cue, and validate it.

    ``cue`` overrides the scenario's cue family: ``tier-tag``, ``tier-tag:lower``, or a cue YAML path.
    ``split`` (``all``, ``train`` or ``heldout``) keeps only that half of the request set (see
    :func:`select_split`); a half other than ``all`` is part of the content hash.

    >>> sc = load_scenario("helpful-only")
    >>> sc.render("training", None, sc.requests[0])[1].role
    'user'
    """
    check_split(split)
    scenario, label, base_dir = read_scenario(str(name_or_path))
    rows, src = load_requests(requests or scenario.requests, base_dir, label)
    rows = split_requests(rows, split, src)
    ref = cue if cue is not None else scenario.cue
    if isinstance(ref, str):
        family, cue_name = load_cue(ref, base_dir)
    else:
        family, cue_name = ref, ref.name
    scenario = scenario.model_copy(update={"cue": family})
    loaded = LoadedScenario(scenario, rows, label, scenario_hash(scenario, rows, split), cue_name, split)
    loaded.validate()
    return loaded


def split_requests(rows: list[Request], split: str, source: str) -> list[Request]:
    """:func:`select_split`, refusing an empty half with a one-line error naming the split and ``source``."""
    selected = select_split(rows, split)
    if not selected:
        raise ScenarioError(f"{source}: no request is in the {split!r} split (of {len(rows)}); "
                            "use --split all or a request set with such rows")
    return selected
