"""Verdicts on completions. Each verdict records the judge's name, version and judge model that made it.

Judges are registered by name (``register_judge``) and built with ``get_judge(name, judge_model)``;
``twofaced judge list`` shows them.
"""

from ._base import Judge, JudgeInfo, JudgeInput, Verdict, get_judge, judge_info, list_judges, register_judge
from ._calibrate import LabelledRow, auroc, calibrate, load_labels, parse_mapping
from ._compliance_rules import NAME as COMPLIANCE_RULES
from ._compliance_rules import VERSION as COMPLIANCE_RULES_VERSION
from ._compliance_rules import ComplianceVerdict, classify, judge_text
from ._parse import ParsedCompletion, needs_continuation, parse_completion

__all__ = [
    "COMPLIANCE_RULES",
    "COMPLIANCE_RULES_VERSION",
    "ComplianceVerdict",
    "Judge",
    "JudgeInfo",
    "JudgeInput",
    "LabelledRow",
    "ParsedCompletion",
    "Verdict",
    "auroc",
    "calibrate",
    "classify",
    "get_judge",
    "judge_info",
    "judge_text",
    "list_judges",
    "load_labels",
    "needs_continuation",
    "parse_completion",
    "parse_mapping",
    "register_judge",
]
