"""Stored, resumable awareness results: ``twofaced awareness --out DIR`` keeps every probe answer in a run store.

The directory is an ordinary twofaced run store (``DIR/run.sqlite``, the ``probe_answers`` table of migration
``0003_awareness_probes``), pinned in ``meta`` to ``kind=awareness`` and one model; a directory holding a
``twofaced run`` or another model's answers is refused, never mixed. It is written under the run directory's
write lock, like every other writer.

An answer's key is the content hash of what determines it: the model spec (options dropped), the probe
version, temperature, max_tokens, the sample's seed (``seed + k``) and index, and the transcript's messages.
The per-call nonce is not part of it (it only guards the quoting), nor is the label (it does not change what
the model is asked; the current label is the one scored). A re-run with the same settings therefore asks
nothing that was answered; more samples, another seed or new transcripts ask only what is new. Each answer is
stored as it arrives, so a kill or a fatal model error loses only the calls in flight; a sample that failed with
a model error is not stored and is asked again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import RunDirError
from ..models import canonical_spec
from ..run import ProbeAnswer, Store, open_store
from ._probe import PROBE_VERSION
from ._transcripts import Transcript

KIND = "awareness"


def probe_key(model: str, transcript: Transcript, sample: int, *, seed: int, temperature: float,
              max_tokens: int) -> str:
    """The stored answer's id: a hash of everything that determines it (see the module docstring)."""
    payload = {"model": canonical_spec(model), "probe": PROBE_VERSION, "temperature": repr(float(temperature)),
               "max_tokens": max_tokens, "seed": seed + sample, "sample": sample,
               "messages": [[m.role, m.content] for m in transcript.messages]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def open_awareness_store(directory: str | Path, model: str) -> Store:
    """Open (creating) the awareness store of ``directory`` and pin it to ``model``; the caller holds the
    directory's write lock and closes the store."""
    store = open_store(directory, create=True)
    try:
        meta = store.meta()
        if "scenario_hash" in meta:
            raise RunDirError(f"{directory} holds a 'twofaced run' of {meta.get('scenario')}; give awareness "
                              "results their own --out directory")
        store.claim({"kind": KIND, "model": canonical_spec(model)})
    except BaseException:
        store.close()
        raise
    return store


def known_answers(store: Store, keys: Sequence[Sequence[str]]) -> dict[tuple[int, int], tuple[float | None, str, str]]:
    """``{(transcript index, sample): (score, read_as, reply)}`` for every key (``keys[i][k]``) stored already."""
    stored = store.probe_answers()
    out = {}
    for i, row in enumerate(keys):
        for k, key in enumerate(row):
            a = stored.get(key)
            if a is not None:
                out[(i, k)] = (a.score, a.read_as, a.reply)
    return out


def answer_row(key: str, transcript: Transcript, sample: int, score: float | None, read_as: str,
               reply: str) -> ProbeAnswer:
    return ProbeAnswer(key, transcript.id, transcript.source, transcript.label, sample, score, read_as, reply)
