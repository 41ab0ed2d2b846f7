"""Find, parse and validate scenarios and request sets; turn every failure into one line naming the file.

Built-ins ship as package data (``builtin/*.yaml``, ``cues/*.yaml``, ``requests/*.jsonl``); a user scenario is
any YAML path. Plugins of the ``twofaced`` entry-point group (``_util/_plugins.py``, docs/plugins.md) add named
scenario and cue-family files with :func:`register_scenario` and :func:`register_cue_family`, as ``pkg/name``;
a name resolves as a path first, then a built-in, then a registered name (discovering plugins on a miss).
A scenario's ``content_hash`` covers the validated scenario and every request it uses (and the split, when only
one half is asked), so a run directory can tell whether it is being resumed with the same inputs. Prompt files
(``system_prompt_file``, ``user_template_file``, in the setting or an ablation) are read by
:func:`resolve_files` into the scenario itself, so the hash covers their text, not their path alone; fields
added since (at their defaults) are left out of the hash, so older run directories keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .._util import iter_jsonl
from .._util._plugins import current_plugin, failure_hint, load_plugins, namespaced
from ..errors import ScenarioError
from ._schema import CueFamily, Request, Scenario
from ._split import parse_split, with_split

_PKG = "twofaced.scenarios"


def builtin_scenarios() -> list[str]:
    folder = resources.files(_PKG).joinpath("builtin")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin_cue_families() -> list[str]:
    folder = resources.files(_PKG).joinpath("cues")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


_SCENARIOS: dict[str, Path] = {}
_CUE_FAMILIES: dict[str, Path] = {}


def _register(kind: str, table: dict[str, Path], builtins: list[str], name: str, path: str | os.PathLike[str]
              ) -> str:
    loading = current_plugin()
    who = f"plugin {loading.name!r}: " if loading is not None else ""
    full = namespaced(name)
    if not name or ":" in name or full.endswith((".yaml", ".yml")):
        raise ScenarioError(f"{who}{kind} name {name!r}: use a plain name without ':' or a .yaml suffix")
    if full in builtins or full in table:
        raise ScenarioError(f"{who}{kind} {full!r} is already {'built in' if full in builtins else 'registered'}; "
                            "rename it")
    file = Path(path)
    if not file.is_file():
        raise ScenarioError(f"{who}{kind} {full!r}: {file} is not a file; ship it as package data")
    table[full] = file
    return full


def register_scenario(name: str, path: str | os.PathLike[str]) -> str:
    """Make the scenario YAML at ``path`` loadable by ``name`` (``load_scenario``, ``twofaced run NAME``).

    Called by plugins while their entry point loads (the name becomes ``pkg/name``) or by Python users. Relative
    paths inside the file (``requests:``) resolve from its directory. A taken name or a missing file is a
    ScenarioError naming both. Returns the name it is filed under.

    >>> register_scenario("my-setting", Path(__file__).parent / "my-setting.yaml")  # doctest: +SKIP
    'acme/my-setting'
    """
    return _register("scenario", _SCENARIOS, builtin_scenarios(), name, path)


def register_cue_family(name: str, path: str | os.PathLike[str]) -> str:
    """Make the cue-family YAML at ``path`` usable by ``name`` (``--cue NAME[:VARIANT]``, a scenario's ``cue:``);
    the rules are those of :func:`register_scenario`."""
    return _register("cue family", _CUE_FAMILIES, builtin_cue_families(), name, path)


def scenario_names() -> list[str]:
    """Every scenario a name can load: the built-ins, then those plugins registered (``pkg/name``)."""
    load_plugins()
    return builtin_scenarios() + sorted(_SCENARIOS)


def cue_family_names() -> list[str]:
    """Every cue family a name can load: the built-ins, then those plugins registered (``pkg/name``)."""
    load_plugins()
    return builtin_cue_families() + sorted(_CUE_FAMILIES)


def _registered(table: dict[str, Path], name: str) -> Path | None:
    if name not in table:
        load_plugins()
    return table.get(name)


def load_cue(ref: str, base_dir: Path | None = None) -> tuple[CueFamily, str]:
    """Resolve ``family``, ``family:variant`` or a cue YAML path; return the phrasing to use and its label."""
    family_ref, _, variant = ref.partition(":") if not ref.endswith((".yaml", ".yml")) else (ref, "", "")
    path = (base_dir / family_ref) if base_dir is not None and (base_dir / family_ref).is_file() else Path(family_ref)
    registered: Path | None = None
    if family_ref.endswith((".yaml", ".yml")) or path.is_file():
        data, label = _read_yaml(path, str(path)), str(path)
    elif family_ref in builtin_cue_families():
        text = resources.files(_PKG).joinpath("cues", f"{family_ref}.yaml").read_text(encoding="utf-8")
        data, label = yaml.safe_load(text), f"built-in cue family '{family_ref}'"
    elif (registered := _registered(_CUE_FAMILIES, family_ref)) is not None:
        label = f"cue family '{family_ref}' ({registered})"
        data = _read_yaml(registered, label)
    else:
        raise ScenarioError(
            f"unknown cue family {family_ref!r}; use one of {', '.join(cue_family_names())} "
            f"(optionally FAMILY:VARIANT) or a cue YAML path{failure_hint(family_ref)}"
        )
    try:
        family = CueFamily.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe_error(label, exc, CueFamily)) from exc
    if variant and variant not in family.variants:
        known = ", ".join(family.variants) or "none"
        raise ScenarioError(f"cue family {family.name!r} has no variant {variant!r}; its variants: {known}")
    name = family_ref if registered is not None else family.name  # a plugin's family goes by its pkg/name
    return family.variant(variant or None), f"{name}:{variant}" if variant else name


def builtin_request_sets() -> list[str]:
    folder = resources.files(_PKG).joinpath("requests")
    return sorted(p.name.removesuffix(".jsonl") for p in folder.iterdir() if p.name.endswith(".jsonl"))


_TYPE_BRANCHES = {"str", "int", "float", "bool", "dict", "list", "CueFamily", "CueVariant"}


def _describe_error(source: str, exc: ValidationError, model: type[BaseModel]) -> str:
    # A union field (``cue: str | CueFamily``) reports one error per branch, tagged with the branch's type name;
    # the branch that failed only on its type is noise next to the one that failed on content.
    errors = exc.errors()
    content = [e for e in errors if not (e["type"].endswith("_type") and e["loc"] and e["loc"][-1] in _TYPE_BRANCHES)]
    err = (content or errors)[0]
    where = tuple(p for p in err["loc"] if p not in _TYPE_BRANCHES)
    loc = ".".join(str(p) for p in where) or "(top level)"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_fields(model, where[:-1])
        hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"{source}: unknown field '{loc}'{hint}"
    if err["type"] == "missing":
        return f"{source}: field '{loc}' is required"
    return f"{source}: field '{loc}': {err['msg']} (got {err.get('input')!r:.80})"


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            continue  # a key of a dict of named entries (an ablation name): current is already its value type
        current = _model_in(field.annotation)
    if current is None or not hasattr(current, "model_fields"):
        return []
    return list(current.model_fields)


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _read_yaml(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read ({exc.strerror}); check the path") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{label}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def parse_scenario(data: Any, label: str) -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{label}: a scenario file must be a YAML mapping with 'name', 'setting', 'cue', ...")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe_error(label, exc, Scenario)) from exc


def load_requests(ref: str, base_dir: Path | None, label: str) -> tuple[list[Request], str]:
    """Load a request set by built-in name or path, relative to ``base_dir`` first.

    A ``.jsonl`` file is twofaced's own format, read strictly (id, category, prompt, harmful, split; an unknown
    field is an error); a ``.json`` or ``.csv`` file goes through the reader of ``twofaced run --requests``
    (format detection: AdvBench, HarmBench, StrongREJECT, twofaced). A row without a split gets the one derived
    from its id (see ``_split.py``); a bad split is an error naming the file and the line."""
    path = None
    if base_dir is not None and (base_dir / ref).is_file():
        path = base_dir / ref
    elif Path(ref).is_file():
        path = Path(ref)
    if path is not None and path.suffix.lower() in (".json", ".csv", ".ndjson"):
        from ._requests_io import load_request_file  # it imports this module; the import must wait

        return load_request_file(path), str(path)
    if path is not None:
        text, src = path.read_text(encoding="utf-8"), str(path)
    elif ref in builtin_request_sets():
        text = resources.files(_PKG).joinpath("requests", f"{ref}.jsonl").read_text(encoding="utf-8")
        src = f"request set '{ref}'"
    else:
        raise ScenarioError(
            f"{label}: field 'requests': {ref!r} is neither a file nor a built-in request set "
            f"({', '.join(builtin_request_sets())})"
        )
    rows: list[Request] = []
    seen: set[str] = set()
    for lineno, data in iter_jsonl(text, src, error=ScenarioError, hint=""):
        try:
            if isinstance(data, dict) and "split" in data:
                data["split"] = parse_split(data["split"], f"{src}: line {lineno}")
            row = with_split(Request.model_validate(data))
        except ValidationError as exc:
            raise ScenarioError(_describe_error(f"{src}: line {lineno}", exc, Request)) from exc
        if row.id in seen:
            raise ScenarioError(f"{src}: line {lineno}: duplicate request id {row.id!r}; ids must be unique")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise ScenarioError(f"{src}: holds no requests")
    return rows, src


# Fields added after run directories existed, with their defaults: left out of the hash while at the default.
_NEW_SETTING_DEFAULTS: dict[str, Any] = {"system_prompt_file": None, "user_template_file": None, "raw": False,
                                         "few_shot": []}
_NEW_ABLATION_DEFAULTS: dict[str, Any] = {"system_prompt": None, "system_prompt_file": None, "user_template": None,
                                          "user_template_file": None, "output_protocol": {}}
_NEW_PROTOCOL_DEFAULTS: dict[str, Any] = {"assistant_prefill": None}


def _drop_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, default in defaults.items():
        if key in data and data[key] == default:
            del data[key]


def _hashable(scenario: Scenario) -> dict[str, Any]:
    data = scenario.model_dump(mode="json")
    _drop_defaults(data["setting"], _NEW_SETTING_DEFAULTS)
    for ablation in data["ablations"].values():
        _drop_defaults(ablation, _NEW_ABLATION_DEFAULTS)
    _drop_defaults(data["output_protocol"], _NEW_PROTOCOL_DEFAULTS)
    if data.get("distributions") is None:  # added later: a scenario with a cue hashes as it did before
        data.pop("distributions", None)
    return data


def _read_text_file(base_dir: Path | None, ref: str, where: str) -> str:
    path = base_dir / ref if base_dir is not None and not Path(ref).is_absolute() else Path(ref)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read {path} ({exc.strerror}); paths are relative to the "
                            "scenario file") from exc
    if not text.strip():
        raise ScenarioError(f"{where}: {path} is empty; give the prompt text")
    return text


def resolve_files(scenario: Scenario, base_dir: Path | None, label: str) -> Scenario:
    """The scenario with every ``*_file`` of its setting and ablations read into the matching text field
    (``system_prompt``, ``user_template``), relative to ``base_dir`` (the scenario file's folder). The path
    stays in the scenario too. A missing, unreadable or empty file is a one-line error naming the field."""
    def read(model: Any, prefix: str) -> dict[str, str]:
        update = {}
        for name in ("system_prompt", "user_template"):
            ref = getattr(model, f"{name}_file")
            if ref is not None:
                update[name] = _read_text_file(base_dir, ref, f"{label}: field '{prefix}{name}_file'")
        return update

    setting = scenario.setting
    if update := read(setting, "setting."):
        setting = setting.model_copy(update=update)
    ablations = {}
    for name, ablation in scenario.ablations.items():
        update = read(ablation, f"ablations.{name}.")
        ablations[name] = ablation.model_copy(update=update) if update else ablation
    return scenario.model_copy(update={"setting": setting, "ablations": ablations})


def scenario_hash(scenario: Scenario, requests: list[Request], split: str = "all") -> str:
    """The content hash a run directory is pinned to. A request's ``split`` field is left out and the split
    asked is added only when it is not ``all``, so directories made before splits existed keep their hash;
    fields added later are left out while at their defaults, for the same reason."""
    payload: dict[str, object] = {"scenario": _hashable(scenario),
                                  "requests": [r.model_dump(exclude={"split"}) for r in requests]}
    if split != "all":
        payload["split"] = split
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def read_scenario(name_or_path: str) -> tuple[Scenario, str, Path | None]:
    """Return the validated scenario, a label for messages, and the directory relative paths resolve from."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ScenarioError(f"scenario file {name_or_path} does not exist; check the path")
        return parse_scenario(_read_yaml(path, str(path)), str(path)), str(path), path.parent
    if name_or_path in builtin_scenarios():
        ref = resources.files(_PKG).joinpath("builtin", f"{name_or_path}.yaml")
        data = yaml.safe_load(ref.read_text(encoding="utf-8"))
        return parse_scenario(data, f"built-in scenario '{name_or_path}'"), f"built-in '{name_or_path}'", None
    registered = _registered(_SCENARIOS, name_or_path)
    if registered is not None:
        label = f"scenario '{name_or_path}'"
        return parse_scenario(_read_yaml(registered, f"{label} ({registered})"), label), label, registered.parent
    raise ScenarioError(
        f"unknown scenario {name_or_path!r}; use a built-in ({', '.join(scenario_names())}) or a .yaml path"
        f"{failure_hint(name_or_path)}"
    )
