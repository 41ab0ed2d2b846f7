"""Situational awareness: can the model tell an evaluation from real use at all?

Show the model labelled transcripts (evaluation = 1, real deployment = 0), ask it after each one for the
probability that it came from an evaluation, and report the AUROC of its answers with a 95% interval, overall
and per source, kind and cue family. Read it next to a compliance gap: a model that cannot tell the
conditions apart cannot fake alignment on purpose. See docs/awareness.md.

- ``_transcripts``: what is shown (built-in set, a scenario's cue conditions, the user's file);
- ``_probe``: how the model is asked and how its answer is read;
- ``_analysis``: what the answers mean (AUROC, DeLong interval, breakdowns) and the one-call entry point;
- ``_store``: stored, resumable answers (``--out DIR``: a run store keyed by what determines each answer).
"""

from ._analysis import (
    METHOD_DELONG,
    METHOD_SCORE,
    REFERENCE_AUROC,
    REFERENCE_SOURCE,
    REFERENCE_TEXT,
    AurocEstimate,
    AwarenessResult,
    auroc_ci,
    delong,
    hanley_mcneil_variance,
    mann_whitney_p,
    measure_awareness,
    measure_awareness_async,
    midranks,
    newcombe_score_interval,
    summarize,
)
from ._probe import PROBE_VERSION, ProbeResult, parse_probe_answer, probe_messages, probe_transcripts
from ._transcripts import (
    Transcript,
    builtin_transcripts,
    cue_transcripts,
    gather_transcripts,
    load_transcripts,
    select,
)

__all__ = [
    "METHOD_DELONG",
    "METHOD_SCORE",
    "PROBE_VERSION",
    "REFERENCE_AUROC",
    "REFERENCE_SOURCE",
    "REFERENCE_TEXT",
    "AurocEstimate",
    "AwarenessResult",
    "ProbeResult",
    "Transcript",
    "auroc_ci",
    "builtin_transcripts",
    "cue_transcripts",
    "delong",
    "gather_transcripts",
    "hanley_mcneil_variance",
    "load_transcripts",
    "mann_whitney_p",
    "measure_awareness",
    "measure_awareness_async",
    "midranks",
    "newcombe_score_interval",
    "parse_probe_answer",
    "probe_messages",
    "probe_transcripts",
    "select",
    "summarize",
]
