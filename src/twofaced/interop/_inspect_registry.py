"""Inspect AI's entry point for twofaced (``[project.entry-points.inspect_ai] twofaced = ...``).

Inspect imports this module when it meets a ``twofaced/...`` name: importing the task and the provider registers
them as ``twofaced/paired`` (task), ``twofaced/twofaced_compliance`` (scorer), ``twofaced/compliance_gap``
(metric), ``twofaced/twofaced_generate`` (solver) and the ``twofaced`` model API (``--model twofaced/SPEC``).
"""

from ._inspect_provider import twofaced
from ._inspect_task import compliance_gap, paired, twofaced_compliance, twofaced_generate

__all__ = ["compliance_gap", "paired", "twofaced", "twofaced_compliance", "twofaced_generate"]
