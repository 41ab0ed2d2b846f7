"""One benchmark of every detector against every organism and its matched control (``twofaced bench detectors``).

A detector reads one model and says how faker-like it looks (:mod:`._measure`); the benchmark forms the pairs
the organism catalogue defines and scores each detector on them against the catalogue's expectations
(docs/detectors.md). This package sits above ``organisms`` and ``probes``: it only composes them.
"""

from __future__ import annotations

from ._bench import Row, bench_detectors, pairs
from ._measure import Reading
from ._registry import DETECTORS, Context, Detector, register

__all__ = ["DETECTORS", "Context", "Detector", "Reading", "Row", "bench_detectors", "pairs", "register"]
