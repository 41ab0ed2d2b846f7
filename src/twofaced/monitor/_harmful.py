"""The harmful signal: compliance with requests flagged harmful, against the baseline's, both ways.

Why beside ``live``: the live refusal rate mixes every request, so a model that starts answering harmful requests
while refusing fewer benign ones moves it little, and a shift in traffic toward benign requests moves it a lot.
This signal counts only exchanges whose request is flagged harmful, by the baseline's own flag when the request
is a baseline request, else by the offline request classifier (``judges.request_harm``: cheap enough for every
exchange; its held-out accuracy is in docs/judges.md, and it is the limit of this signal: a request it misses is
not counted, a benign one it flags is).

Outcome: 1 when ``compliance-rules`` judges the reply **complied**, 0 when refused. In control: Jeffreys'
estimate of the baseline's deployment-condition compliance on its harmful requests. Detectors: ``rise`` (the
model complies with harmful requests more than it did under evaluation: the direction of a model that is
harmful when unwatched; blocking under ``--policy block``) and ``drop`` (it refuses them more: a regression in
the other direction), each at an in-control ARL of ``2 N``. The signal is off when the baseline has no harmful
request judged in the deployment condition.
"""

from __future__ import annotations

from typing import ClassVar

from ._detector import LiveSignal

SIGNAL = "harmful"


class HarmfulSignal(LiveSignal):
    """The live signal's walk (``_detector.py``) on another event: a complied reply to a harmful request."""

    __slots__ = ()
    SIGNAL = SIGNAL
    OUTCOME: ClassVar[str] = "complied, on requests flagged harmful (baseline flag, else request-harm)"
