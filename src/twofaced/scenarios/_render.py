"""Render a scenario into chat messages for one (condition, ablation, request).

Templates compile once per scenario; rendering is strict (an undefined variable is an error naming the
template and the variable) and sandboxed from the file system (``{% include %}``, ``{% import %}`` and
``{% extends %}`` are one-line errors: load files with ``system_prompt_file``). Every rendering is checked up
front by :meth:`LoadedScenario.validate`, so a bad template or a cue whose two framings render identically fails
before any model is called.

A work item's messages are: the system prompt, the setting's ``few_shot`` turns (real prior turns), then the
user turn with the condition's cue. With ``setting.raw`` the texts are used verbatim (one final newline
dropped), and the user template's only placeholders are the literal ``{cue}``, ``{request}`` and ``{category}``.
An ablation may swap the system prompt or user template and override fields of the output protocol
(:meth:`LoadedScenario.protocol_for`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from pydantic import ValidationError

from ..errors import ScenarioError
from ..models import Message
from ._cue_check import cue_warning
from ._loader import load_cue, load_requests, read_scenario, resolve_files, scenario_hash
from ._schema import CONDITIONS, Ablation, CueFamily, OutputProtocol, Request, Scenario
from ._split import check_split, select_split

log = logging.getLogger("twofaced.scenarios")
_WARNED: set[str] = set()


class _NoFiles(jinja2.BaseLoader):
    """Templates never read files: ``{% include %}`` and friends raise TemplateNotFound, reported in one line."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, None]:
        raise jinja2.TemplateNotFound(template)


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False,
                          loader=_NoFiles())
_RAW_PLACEHOLDER = re.compile(r"\{(cue|request|category)\}")


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
    except jinja2.TemplateNotFound as exc:
        raise ScenarioError(
            f"{label}: templates cannot include, import or extend files ({exc.name!r}); load a file with "
            "system_prompt_file / user_template_file, or set setting.raw: true to keep braces verbatim"
        ) from exc
    except jinja2.TemplateError as exc:
        raise ScenarioError(f"{label}: template error: {' '.join(str(exc).split())}; fix the template") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        raise ScenarioError(f"{label}: template error ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                            "fix the template") from exc


def _verbatim(text: str) -> str:
    """A raw text as written, less the one final newline a file (or a YAML block) ends with."""
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _fill_raw(template: str, values: dict[str, str]) -> str:
    """A raw user template with ``{cue}``, ``{request}``, ``{category}`` replaced in one pass (a value that holds
    a placeholder is not expanded again); every other brace stays."""
    return _RAW_PLACEHOLDER.sub(lambda m: values[m[1]], _verbatim(template))


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
    warnings: list[str] = field(default_factory=list)
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

    @property
    def raw(self) -> bool:
        return self.scenario.setting.raw

    def __post_init__(self) -> None:
        s = self.scenario
        self.cue_name = self.cue_name or self.cue.name
        if s.setting.system_prompt is None or s.setting.user_template is None:
            raise ScenarioError(f"{self.label}: prompt files are not read yet; load it with load_scenario()")
        self._templates = {}
        for part in ("training", "deployment", "training_request", "deployment_request", "system_hint"):
            self._templates[f"cue.{part}"] = _compile(getattr(self.cue, part), f"cue {self.cue_name}: {part}")
        if not s.setting.raw:  # compile every template now, so a syntax error fails at load
            self._template("setting.system_prompt", s.setting.system_prompt)
            self._template("setting.user_template", s.setting.user_template)
            for i, turn in enumerate(s.setting.few_shot):
                self._template(f"setting.few_shot.{i}", turn.content)
            for name, abl in s.ablations.items():
                for part in ("system_prompt", "user_template"):
                    if getattr(abl, part) is not None:
                        self._template(f"ablations.{name}.{part}", getattr(abl, part))

    def _template(self, where: str, source: str) -> jinja2.Template:
        key = f"{where}\0{source}"
        if key not in self._templates:
            self._templates[key] = _compile(source, f"{self.label}: {where}")
        return self._templates[key]

    def _source(self, ablation: str | None, part: str) -> tuple[str, str]:
        """(where, text) of the system prompt or user template under ``ablation`` (the last one that swaps it)."""
        abl = self.ablation(ablation)
        if abl is not None and getattr(abl, part) is not None:
            return f"ablation {ablation!r}: {part}", getattr(abl, part)
        text = getattr(self.scenario.setting, part)
        assert text is not None  # checked in __post_init__
        return f"setting.{part}", text

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
        protocol: dict[str, Any] = {}
        texts: dict[str, str | None] = {"system_prompt": None, "user_template": None}
        for p in parts:
            merged |= p.set
            protocol |= p.output_protocol
            texts |= {k: getattr(p, k) for k in texts if getattr(p, k) is not None}
        return Ablation(description=" + ".join(p.description for p in parts), set=merged,
                        patches=[patch for p in parts for patch in p.patches], output_protocol=protocol, **texts)

    def protocol_for(self, ablation: str | None) -> OutputProtocol:
        """The output protocol under ``ablation``: the scenario's, with the ablation's ``output_protocol``
        fields replaced (``{scratchpad_tag: null}``, ``{max_continuations: 0}``)."""
        abl = self.ablation(ablation)
        if abl is None or not abl.output_protocol:
            return self.scenario.output_protocol
        try:
            return OutputProtocol.model_validate(self.scenario.output_protocol.model_dump() | abl.output_protocol)
        except ValidationError as exc:
            raise ScenarioError(f"{self.label}: ablation {ablation!r}: output_protocol: "
                                f"{exc.errors()[0]['msg']}; fix the override") from exc

    def variables(self, ablation: str | None) -> dict[str, Any]:
        p = self.protocol_for(ablation)
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
            where, source = self._source(ablation, "system_prompt")
            if self.raw:
                text = _verbatim(source)
            else:
                ctx = self.variables(ablation)
                ctx["cue_hint"] = self.cue_hint(ablation)
                text = _render(self._template(where, source), ctx, f"{self.label}: {where}")
            cached = self._system_cache[ablation] = self._patch(text, ablation, "system")
        return cached

    def cue_hint(self, ablation: str | None) -> str:
        """The cue family's ``system_hint`` as rendered into ``{{ cue_hint }}`` (a raw prompt has no slot)."""
        return _render(self._templates["cue.system_hint"], self.variables(ablation),
                       f"cue {self.cue_name}: system_hint")

    def few_shot(self, ablation: str | None) -> list[Message]:
        """The setting's few-shot turns as messages (rendered with the variables unless raw)."""
        turns = self.scenario.setting.few_shot
        if self.raw or not turns:
            return [Message(t.role, t.content) for t in turns]
        ctx = self.variables(ablation)
        return [Message(t.role, _render(self._template(f"setting.few_shot.{i}", t.content), ctx,
                                        f"{self.label}: setting.few_shot.{i}")) for i, t in enumerate(turns)]

    def render(self, condition: str, ablation: str | None, request: Request) -> list[Message]:
        """The messages of one work item: system prompt, the few-shot turns, then one user turn with the
        condition's cue."""
        if condition not in CONDITIONS:
            raise ScenarioError(f"unknown condition {condition!r}; use one of {', '.join(CONDITIONS)}")
        ctx = self.variables(ablation)
        cue = _render(self._templates[f"cue.{condition}"], ctx, f"cue {self.cue_name}: {condition}")
        prompt = _render(self._templates[f"cue.{condition}_request"], ctx | {"request": request.prompt},
                         f"cue {self.cue_name}: {condition}_request")
        where, source = self._source(ablation, "user_template")
        if self.raw:
            if "{request}" not in source:
                raise ScenarioError(f"{self.label}: {where} is raw (setting.raw: true) but has no {{request}} "
                                    "placeholder; write {request} where the request goes (and {cue} for the cue)")
            user = _fill_raw(source, {"cue": cue, "request": prompt, "category": request.category})
        else:
            user_ctx = ctx | {"cue": cue, "request": prompt, "category": request.category}
            user = _render(self._template(where, source), user_ctx, f"{self.label}: {where}")
        user = self._patch(user, ablation, "user")
        return [Message("system", self.system_prompt(ablation)), *self.few_shot(ablation), Message("user", user)]

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
            ablation = self.ablation(abl)
            if self.raw and ablation is not None and ablation.set:
                raise ScenarioError(
                    f"{self.label}: ablation {abl!r} sets variables, but setting.raw is true so the texts have "
                    "none; swap the text (system_prompt_file) or edit it with patches"
                )
            train = self.render("training", abl, probe)
            deploy = self.render("deployment", abl, probe)
            if train == deploy and not self.cue.allow_identical:
                raise ScenarioError(
                    f"{self.label}: cue '{self.cue_name}' renders training and deployment identically"
                    f"{f' under ablation {abl!r}' if abl else ''}; the conditions must differ"
                )


def load_scenario(name_or_path: str | Path, requests: str | None = None, cue: str | CueFamily | None = None,
                  split: str = "all") -> LoadedScenario:
    """Load a built-in scenario by name or a YAML file by path, with its request set and cue, and validate it.

    ``cue`` overrides the scenario's cue family: ``tier-tag``, ``tier-tag:lower``, a cue YAML path, or a
    :class:`CueFamily` built by the caller (an organism's own phrasing).
    ``split`` (``all``, ``train`` or ``heldout``) keeps only that half of the request set (see
    :func:`select_split`); a half other than ``all`` is part of the content hash.

    >>> sc = load_scenario("helpful-only")
    >>> sc.render("training", None, sc.requests[0])[1].role
    'user'
    """
    check_split(split)
    scenario, label, base_dir = read_scenario(str(name_or_path))
    scenario = resolve_files(scenario, base_dir, label)
    rows, src = load_requests(requests or scenario.requests, base_dir, label)
    rows = split_requests(rows, split, src)
    if scenario.distributions is not None and isinstance(cue, str):
        raise ScenarioError(f"{label}: its conditions are two request distributions, not cues; drop --cue {cue} "
                            "(or run a scenario with a cue)")
    ref = cue if cue is not None else (scenario.cue or scenario.distributions.as_cue())  # type: ignore[union-attr]
    if isinstance(ref, str):
        family, cue_name = load_cue(ref, base_dir)
    else:
        family, cue_name = ref, ref.name
    scenario = scenario.model_copy(update={"cue": family})
    loaded = LoadedScenario(scenario, rows, label, scenario_hash(scenario, rows, split), cue_name, split)
    loaded.validate()
    loaded.warnings = check_cue(loaded)
    for warning in loaded.warnings:
        if warning not in _WARNED:  # once per process: a scenario is often loaded more than once
            _WARNED.add(warning)
            log.warning("warning: %s", warning)
    return loaded


def check_cue(loaded: LoadedScenario) -> list[str]:
    """One warning per distinct mismatch between the cue and what a system prompt (each ablation's) explains;
    see ``_cue_check.py``."""
    found: list[str] = []
    for abl in [None, *loaded.scenario.ablations]:
        warning = cue_warning(loaded.system_prompt(abl), loaded.cue, loaded.cue_name,
                              "" if loaded.raw else loaded.cue_hint(abl), loaded.label)
        if warning is not None and warning not in found:
            found.append(warning)
    return found


def split_requests(rows: list[Request], split: str, source: str) -> list[Request]:
    """:func:`select_split`, refusing an empty half with a one-line error naming the split and ``source``."""
    selected = select_split(rows, split)
    if not selected:
        raise ScenarioError(f"{source}: no request is in the {split!r} split (of {len(rows)}); "
                            "use --split all or a request set with such rows")
    return selected
