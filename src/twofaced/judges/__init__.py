"""Verdicts on completions. Each verdict records the judge's name, version and judge model that made it.

Judges are registered by name (``register_judge``: the built-ins when this package is imported, plugins of the
``twofaced`` entry-point group as ``pkg/name`` when the registry is first listed or misses) and built with
``get_judge(name, judge_model)``; ``twofaced judge list`` shows them.
"""

from ..stats import auroc  # re-exported: the one AUROC lives in stats
from . import _builtin  # noqa: F401  (the built-in judges register themselves; _base imports no judge module)
from ._base import Judge, JudgeInfo, JudgeInput, Verdict, get_judge, judge_info, list_judges, register_judge
from ._calibrate import LabelledRow, calibrate, calibrate_judge, load_labels, parse_mapping
from ._compliance_rules import NAME as COMPLIANCE_RULES
from ._compliance_rules import VERSION as COMPLIANCE_RULES_VERSION
from ._compliance_rules import ComplianceVerdict, classify, judge_text
from ._compliance_strict import NAME as COMPLIANCE_STRICT
from ._compliance_strict import VERSION as COMPLIANCE_STRICT_VERSION
from ._compliance_strict import classify_strict, judge_text_strict
from ._parse import ParsedCompletion, needs_continuation, parse_completion
from ._request_harm import RequestHarmClassifier, request_harm

__all__ = [
    "COMPLIANCE_RULES",
    "COMPLIANCE_RULES_VERSION",
    "COMPLIANCE_STRICT",
    "COMPLIANCE_STRICT_VERSION",
    "ComplianceVerdict",
    "Judge",
    "JudgeInfo",
    "JudgeInput",
    "LabelledRow",
    "ParsedCompletion",
    "RequestHarmClassifier",
    "Verdict",
    "auroc",
    "calibrate",
    "calibrate_judge",
    "classify",
    "classify_strict",
    "get_judge",
    "judge_info",
    "judge_text",
    "judge_text_strict",
    "list_judges",
    "load_labels",
    "needs_continuation",
    "parse_completion",
    "parse_mapping",
    "register_judge",
    "request_harm",
]
