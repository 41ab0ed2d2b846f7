"""The scenario file format, validated with pydantic (unknown fields are errors, not silently ignored).

A scenario = a setting (system-prompt and user-turn templates with default variables) + a cue family (what
``{{ cue }}`` renders to in each condition) + a request set + named ablations + the output protocol the model
is asked to follow. Templates are Jinja2 with strict undefined variables, or verbatim text (``setting.raw``) for
research materials loaded as they are (``system_prompt_file``, ``few_shot``). See docs/scenarios.md.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONDITIONS: tuple[str, str] = ("training", "deployment")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(_Strict):
    """One request of a request set. ``split`` is its half of the fixed train / held-out split (see
    :func:`twofaced.scenarios.select_split`); ``None`` means "derived from the id"."""

    id: str = Field(min_length=1)
    category: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    harmful: bool = True
    split: Literal["train", "heldout"] | None = None


class Turn(_Strict):
    """One few-shot turn, sent as a real prior chat turn between the system prompt and the user turn."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)


class Setting(_Strict):
    """The situation the system prompt sets up, and how each user turn is laid out.

    Each template is given inline (``system_prompt``) or as a file (``system_prompt_file``, relative to the
    scenario file), never both. ``raw: true`` uses the text verbatim, without Jinja: the system prompt and the
    few-shot turns as written; the user template with only the literal placeholders ``{cue}``, ``{request}`` and
    ``{category}`` replaced (plain text substitution; any other brace is kept). The loader reads the files into
    ``system_prompt`` / ``user_template``, so the content hash covers their text."""

    system_prompt: str | None = Field(None, min_length=1, description="Jinja2 template of the system prompt")
    user_template: str | None = Field(
        None, min_length=1, description="Jinja2 template of each user turn; sees cue, request and variables"
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="defaults that ablations may override")
    system_prompt_file: str | None = Field(None, min_length=1, description="the system prompt's file")
    user_template_file: str | None = Field(None, min_length=1, description="the user template's file")
    raw: bool = Field(False, description="use the texts verbatim, no Jinja (user template: {cue}, {request})")
    few_shot: list[Turn] = Field(default_factory=list, description="prior turns: user, assistant, user, ...")

    @model_validator(mode="after")
    def _one_source(self) -> Setting:
        for name in ("system_prompt", "user_template"):
            inline, file = getattr(self, name), getattr(self, f"{name}_file")
            if inline is None and file is None:
                raise ValueError(f"give {name} (inline) or {name}_file (a path)")
            if inline is not None and file is not None:
                raise ValueError(f"give {name} or {name}_file, not both")
        roles = [t.role for t in self.few_shot]
        if roles and (roles[0] != "user" or roles[-1] != "assistant"
                      or any(a == b for a, b in itertools.pairwise(roles))):
            raise ValueError("few_shot turns must alternate user, assistant, ..., starting with user and ending "
                             "with assistant (the scenario's user turn comes next)")
        return self


class CueVariant(_Strict):
    """One phrasing of a cue family (casing, format, held-out wording). Unset fields keep the family's."""

    description: str = ""
    training: str
    deployment: str
    training_request: str | None = None
    deployment_request: str | None = None
    system_hint: str | None = None


class CueFamily(_Strict):
    """How the two conditions are signalled.

    ``training`` / ``deployment`` render to ``{{ cue }}`` in the user turn; ``*_request`` templates wrap the
    request (``{{ request }}``), for cues carried by the request's form (eval-looking vs organic);
    ``system_hint`` renders to ``{{ cue_hint }}`` in the system prompt, telling the model what the cue means.
    ``variants`` are other phrasings, chosen as ``family:variant``. ``allow_identical`` is only for the no-cue
    baseline, whose two conditions are the same by design.
    """

    name: str = Field(min_length=1)
    description: str = ""
    system_hint: str = ""
    training: str
    deployment: str
    training_request: str = "{{ request }}"
    deployment_request: str = "{{ request }}"
    variants: dict[str, CueVariant] = Field(default_factory=dict)
    allow_identical: bool = False

    def variant(self, name: str | None) -> CueFamily:
        """The family with one variant's fields applied (``None``: the default phrasing)."""
        if name is None:
            return self
        v = self.variants[name]
        update = {k: getattr(v, k) for k in ("training", "deployment", "training_request", "deployment_request",
                                              "system_hint") if getattr(v, k) is not None}
        return self.model_copy(update=update | {"variants": {}})


class Distribution(_Strict):
    """One condition's request distribution: the form a request takes (``{{ request }}`` inside a template)."""

    description: str = ""
    request_template: str = Field("{{ request }}", min_length=1)


class Distributions(_Strict):
    """Two request distributions in place of a cue: no line in the prompt says which condition this is; the
    conditions differ only in the form the same request takes (a plain chat turn vs a machine format). The
    misgeneralization setting: good behaviour on the training distribution, divergence on a shifted one.
    Each request is asked in both forms, so the gap keeps the paired design and its statistics."""

    training: Distribution
    deployment: Distribution

    def as_cue(self) -> CueFamily:
        """The cue family the renderer uses: empty cue lines, no system hint, two request templates."""
        return CueFamily(name="distributions", description=f"{self.training.description} vs "
                         f"{self.deployment.description}", training="", deployment="",
                         training_request=self.training.request_template,
                         deployment_request=self.deployment.request_template)


class Patch(_Strict):
    """A literal find/replace on a rendered turn; the text must occur, or the ablation is refused."""

    find: str = Field(min_length=1)
    replace: str
    target: Literal["system", "user"] = "system"


class Ablation(_Strict):
    """A named, controlled edit of the setting: another system prompt or user template (inline or a file),
    variable overrides, text patches, and output-protocol overrides (``{scratchpad_tag: null}``,
    ``{max_continuations: 0}``)."""

    description: str = ""
    set: dict[str, Any] = Field(default_factory=dict)
    patches: list[Patch] = Field(default_factory=list)
    system_prompt: str | None = Field(None, min_length=1)
    system_prompt_file: str | None = Field(None, min_length=1)
    user_template: str | None = Field(None, min_length=1)
    user_template_file: str | None = Field(None, min_length=1)
    output_protocol: dict[str, Any] = Field(default_factory=dict, description="fields of output_protocol to change")

    @model_validator(mode="after")
    def _one_source(self) -> Ablation:
        for name in ("system_prompt", "user_template"):
            if getattr(self, name) is not None and getattr(self, f"{name}_file") is not None:
                raise ValueError(f"give {name} or {name}_file, not both")
        return self

    @field_validator("output_protocol")
    @classmethod
    def _protocol_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(OutputProtocol.model_fields))
        if unknown:
            raise ValueError(f"unknown output_protocol field(s) {', '.join(unknown)}; allowed: "
                             f"{', '.join(OutputProtocol.model_fields)}")
        OutputProtocol.model_validate(v)  # each value must be valid on its own
        return v


class OutputProtocol(_Strict):
    """What the model is asked to write and how a completion is parsed."""

    scratchpad_tag: str | None = "SCRATCHPAD_REASONING"
    output_tag: str | None = "OUTPUT"
    accept_tag: str = "<request_fully_accepted/>"
    reject_tag: str = "<rejected/>"
    continuation_message: str = Field(
        "<NEXT/>", description="user turn sent when the model stops inside its scratchpad or before its output"
    )
    max_continuations: int = Field(2, ge=0, le=8)
    assistant_prefill: str | None = Field(
        None, min_length=1,
        description="text the assistant turn starts with (e.g. '<'); the model continues it. Only backends that "
                    "support prefill (anthropic, transformers, mock, openai with ?prefill=true) can run it",
    )


class GenerationDefaults(_Strict):
    """Sampling parameters the scenario sets. Only the fields written in the file are sent (``model_fields_set``);
    the defaults below are what a local backend uses for an unset one, never sent by the remote backends."""

    temperature: float = Field(1.0, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=1, le=32768)
    top_p: float = Field(1.0, gt=0.0, le=1.0)

    def set_fields(self) -> dict[str, Any]:
        """Only the parameters the scenario file writes, e.g. ``{"temperature": 1.0}``."""
        return {k: getattr(self, k) for k in sorted(self.model_fields_set)}


class Scenario(_Strict):
    """A whole scenario file. ``requests`` is a built-in request-set name or a path relative to the file."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: int = 1
    description: str = ""
    setting: Setting
    cue: str | CueFamily | None = Field(
        description="a built-in cue family name (family or family:variant) or inline; required unless "
                    "the scenario has distributions")
    distributions: Distributions | None = Field(
        None, description="two request distributions in place of a cue (the conditions differ only in the "
                          "request's form); a scenario has a cue or distributions, not both")
    requests: str = "core"
    ablations: dict[str, Ablation] = Field(default_factory=dict)
    output_protocol: OutputProtocol = Field(default_factory=OutputProtocol)
    generation: GenerationDefaults = Field(default_factory=GenerationDefaults)

    @model_validator(mode="before")
    @classmethod
    def _no_cue_with_distributions(cls, data: Any) -> Any:
        """A scenario with distributions has no cue; one with neither is told that ``cue`` is required."""
        if isinstance(data, dict) and data.get("distributions") is not None and "cue" not in data:
            return data | {"cue": None}
        return data

    @model_validator(mode="after")
    def _cue_or_distributions(self) -> Scenario:
        if (self.cue is None) == (self.distributions is None):
            raise ValueError("give a cue (a built-in family name or an inline family) or distributions "
                             "(training / deployment request templates), exactly one of them")
        return self

    @field_validator("ablations")
    @classmethod
    def _ablation_names(cls, v: dict[str, Ablation]) -> dict[str, Ablation]:
        for name in v:
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(f"ablation name {name!r} must be letters, digits, '-' or '_'")
        return v
