"""Verdicts on completions. Each verdict records the judge's name and version that made it."""

from ._compliance_rules import NAME as COMPLIANCE_RULES
from ._compliance_rules import VERSION as COMPLIANCE_RULES_VERSION
from ._compliance_rules import ComplianceVerdict, classify, judge_text
from ._parse import ParsedCompletion, needs_continuation, parse_completion

__all__ = [
    "COMPLIANCE_RULES",
    "COMPLIANCE_RULES_VERSION",
    "ComplianceVerdict",
    "ParsedCompletion",
    "classify",
    "judge_text",
    "needs_continuation",
    "parse_completion",
]
