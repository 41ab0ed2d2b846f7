"""What is asked: settings, cue families, request sets and ablations, declared in YAML + Jinja2."""

from ._loader import (
    builtin_cue_families,
    builtin_request_sets,
    builtin_scenarios,
    cue_family_names,
    load_cue,
    register_cue_family,
    register_scenario,
    scenario_names,
)
from ._render import LoadedScenario, load_scenario
from ._requests_io import load_request_file, with_requests
from ._schema import CONDITIONS, Ablation, CueFamily, CueVariant, OutputProtocol, Request, Scenario, Setting
from ._split import select_split

__all__ = [
    "CONDITIONS",
    "Ablation",
    "CueFamily",
    "CueVariant",
    "LoadedScenario",
    "OutputProtocol",
    "Request",
    "Scenario",
    "Setting",
    "builtin_cue_families",
    "builtin_request_sets",
    "builtin_scenarios",
    "cue_family_names",
    "load_cue",
    "load_request_file",
    "load_scenario",
    "register_cue_family",
    "register_scenario",
    "scenario_names",
    "select_split",
    "with_requests",
]
