"""What is asked: settings, cue families, request sets and ablations, declared in YAML + Jinja2."""

from ._loader import builtin_request_sets, builtin_scenarios
from ._render import LoadedScenario, load_scenario
from ._schema import CONDITIONS, Ablation, CueFamily, OutputProtocol, Request, Scenario, Setting

__all__ = [
    "CONDITIONS",
    "Ablation",
    "CueFamily",
    "LoadedScenario",
    "OutputProtocol",
    "Request",
    "Scenario",
    "Setting",
    "builtin_request_sets",
    "builtin_scenarios",
    "load_scenario",
]
