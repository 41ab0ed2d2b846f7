"""A transformers causal LM (plain or peft-wrapped) as a backend, with batched generation on one worker thread.

Why batch: on a CPU, one decode step of a small model is bound by reading its weights from memory, not by
arithmetic, so a step for 8 sequences costs little more than a step for 1. Answering the requests the engine
keeps in flight together, in one ``model.generate``, multiplies throughput by several times at the cost of
some padding in the prompt pass.

Invariants:
- ``max_concurrency`` is ``batch_size``, so the engine keeps up to that many requests in flight. ``generate``
  only enqueues; one dedicated daemon thread owns the model and runs every forward pass, so the model is never
  used by two threads of this backend at once and the event loop never blocks on torch.
- The worker takes what is pending, up to ``batch_size``; when fewer are pending it waits up to
  ``batch_wait_s`` (a few milliseconds) for more. It groups them by identical :class:`GenerationParams` and runs
  one ``model.generate`` per group, in arrival order, with left padding and an attention mask (transformers
  derives position ids from the mask, so a padded row sees the same positions as when it runs alone).
- Prompts are the tokenizer's chat template with the generation prompt; a trailing assistant message (assistant
  prefill) is left out of the template and its tokens appended after the generation prompt, so the model
  continues it and the completion holds only the continuation. Unset sampling parameters take
  :data:`LOCAL_DEFAULTS` (temperature 1, top-p 1, 512 tokens). Generation stops at the tokenizer's
  eos, ``<|im_end|>`` and the model's configured eos ids; a row that finished is padded with the first of them.
  ``params.stop`` strings are checked on each row's recent tokens as it decodes (that row then stops) and the
  decoded text is cut at the first occurrence. ``finish_reason`` is "stop" on eos or a stop string, "length"
  when ``max_tokens`` ran out first. ``Usage`` counts real tokens: the unpadded prompt, and the generated tokens
  up to and excluding eos (with a stop string, up to the token that completed it).
- Temperature <= 0 is greedy. Otherwise each row is sampled (temperature, then top-p) by a logits processor
  with its own ``torch.Generator`` seeded from ``params.seed``, so a seeded request gives the same text
  whatever else happens to share its batch (batch composition depends on timing, so a seed applied once per
  batch would not make runs reproducible). Unseeded rows draw from torch's global generator. Sampling
  settings in the model's own ``generation_config`` are not used: ``GenerationParams`` is the whole truth.
- Everything runs under ``torch.inference_mode()``. Batched and single runs agree up to float rounding:
  greedy text is the same in practice, though a near-tie between two tokens could in principle break the other
  way when the padding changes the matmul shapes.
- Any exception while preparing or generating a request reaches its caller as a one-line
  :class:`BadResponseError` (the whole group fails when ``model.generate`` fails); the worker goes on with the
  next batch. A request whose caller was cancelled before its batch started is skipped.
- ``n_threads`` is applied with ``torch.set_num_threads`` on the worker thread: it sets that thread's
  intra-op threads and the default for threads that first use torch later, not for threads already using it.
  On a CPU shared with other work, 1 can be several times faster than more, since OpenMP threads wait for
  each other at every operator.
- ``aclose()`` stops accepting requests; those already queued are still answered, then the worker exits.
- torch and transformers are imported only when this backend runs, never when ``twofaced.models`` is.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import BadResponseError, ConfigError, ModelError
from ._types import LOCAL_DEFAULTS, Completion, GenerationParams, Message, Usage, messages_to_dicts


@dataclass(slots=True)
class _Request:
    messages: list[Message]
    params: GenerationParams
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Completion]
    answered: bool = False


def _one_line(spec: str, exc: BaseException) -> str:
    detail = " ".join(str(exc).split()) or "no message"
    if len(detail) > 300:
        detail = detail[:297] + "..."
    return f"{spec}: generation failed: {type(exc).__name__}: {detail}"


class _RowSampler:
    """Logits processor that samples one token per row with that row's generator and leaves only it possible.

    generate runs greedy (``do_sample=False``), so the arg max of what this returns is the sampled token.
    """

    def __init__(self, temperature: float, top_p: float, generators: list[Any]) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.generators = generators

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            # Keep the smallest prefix whose mass reaches top_p (the top token always stays).
            drop = (sorted_p.cumsum(dim=-1) - sorted_p) >= self.top_p
            drop[..., 0] = False
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
        chosen = torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, chosen.unsqueeze(-1), 0.0)
        return out


class _StopStrings:
    """Stopping criterion: a row is done once the decoded tail of its generated tokens contains a stop string."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], prompt_len: int) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_len = prompt_len
        # A byte-level token carries at least one byte and a character at most four, so this many tokens
        # cover any stop string that ends at the last token.
        self.window = 4 * max(len(s) for s in stops) + 4

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        tails = input_ids[:, self.prompt_len:][:, -self.window:].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        done = [any(s in t for s in self.stops) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class TransformersModel:
    """A transformers causal LM answering requests in batches. See the module docstring for its invariants."""

    supports_prefill = True  # a trailing assistant message is appended, untemplated, after the generation prompt

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        spec: str,
        batch_size: int = 8,
        n_threads: int | None = None,
        batch_wait_s: float = 0.01,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"{spec}: batch_size must be >= 1, got {batch_size}")
        if n_threads is not None and n_threads < 1:
            raise ConfigError(f"{spec}: n_threads must be >= 1, got {n_threads}")
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.batch_size = batch_size
        self.max_concurrency = batch_size
        self.n_threads = n_threads
        self.batch_wait_s = batch_wait_s
        self.eos_ids = self._eos_ids()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- public ----------------------------------------------------------------------------------------------

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        params = params.with_defaults(LOCAL_DEFAULTS)  # it samples locally: unset means twofaced's default
        assert params.max_tokens is not None
        if params.max_tokens < 1:
            raise BadResponseError(f"{self.spec}: max_tokens must be >= 1, got {params.max_tokens}")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Completion] = loop.create_future()
        with self._lock:
            if self._closed:
                raise BadResponseError(f"{self.spec}: the model was closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="twofaced-transformers", daemon=True)
                self._thread.start()
            self._queue.put(_Request(list(messages), params, loop, future))
        return await future

    async def aclose(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._queue.put(None)  # after every accepted request: those are still answered

    # -- worker thread ---------------------------------------------------------------------------------------

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []

        def add(value: Any) -> None:
            for v in value if isinstance(value, list | tuple) else [value]:
                if isinstance(v, int) and v >= 0 and v not in ids:
                    ids.append(v)

        add(getattr(self.tokenizer, "eos_token_id", None))
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if im_end != getattr(self.tokenizer, "unk_token_id", None):
            add(im_end)
        config = getattr(self.model, "generation_config", None)
        add(getattr(config, "eos_token_id", None))
        if not ids:
            raise ConfigError(f"{self.spec}: the tokenizer defines no eos token, so generation could never stop")
        return ids

    def _work(self) -> None:
        if self.n_threads:
            import torch

            torch.set_num_threads(self.n_threads)
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            closing = False
            deadline = time.monotonic() + self.batch_wait_s
            while len(batch) < self.batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._run_batch(batch)
            if closing:
                return

    def _run_batch(self, batch: list[_Request]) -> None:
        try:
            groups: dict[GenerationParams, list[tuple[_Request, list[int]]]] = {}
            for req in batch:
                if req.future.cancelled():
                    req.answered = True
                    continue
                try:
                    ids = self._prompt_ids(req)
                except Exception as exc:
                    self._fail(req, exc)
                    continue
                groups.setdefault(req.params, []).append((req, ids))
            for params, rows in groups.items():
                try:
                    completions = self._generate_group(params, [ids for _, ids in rows])
                except Exception as exc:
                    for req, _ in rows:
                        self._fail(req, exc)
                    continue
                for (req, _), completion in zip(rows, completions, strict=True):
                    self._deliver(req, completion, None)
        finally:  # whatever happened, no caller waits forever
            for req in batch:
                if not req.answered:
                    self._fail(req, RuntimeError("the worker stopped before answering"))

    def _prompt_ids(self, req: _Request) -> list[int]:
        messages, prefill = req.messages, ""
        if messages and messages[-1].role == "assistant":  # assistant prefill: continued, not templated
            messages, prefill = messages[:-1], messages[-1].content
        ids = self.tokenizer.apply_chat_template(messages_to_dicts(messages), add_generation_prompt=True,
                                                 tokenize=True, return_dict=False)
        ids = [int(i) for i in ids]
        if prefill:
            ids += [int(i) for i in self.tokenizer.encode(prefill, add_special_tokens=False)]
        limit = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if limit and len(ids) + (req.params.max_tokens or 0) > limit:
            raise BadResponseError(
                f"{self.spec}: prompt ({len(ids)} tokens) plus max_tokens ({req.params.max_tokens}) exceeds the "
                f"model's context of {limit}; shorten the prompt or lower max_tokens"
            )
        return ids

    def _generate_group(self, params: GenerationParams, prompts: list[list[int]]) -> list[Completion]:
        import torch

        temperature, top_p = params.temperature, params.top_p  # generate() filled the unset ones
        assert temperature is not None and top_p is not None

        pad = self.eos_ids[0]
        width = max(len(p) for p in prompts)
        device = next(self.model.parameters()).device
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            input_ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attention_mask[i, width - len(p):] = 1
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(device),
            "attention_mask": attention_mask.to(device),
            "max_new_tokens": params.max_tokens,
            "min_new_tokens": 0,
            "do_sample": False,  # sampling, when wanted, is done by _RowSampler
            "num_beams": 1,
            "repetition_penalty": 1.0,
            "no_repeat_ngram_size": 0,
            "eos_token_id": self.eos_ids,
            "pad_token_id": pad,
            "use_cache": True,
        }
        if temperature > 0:
            from transformers import LogitsProcessorList

            generators = []
            for _ in prompts:
                g = None
                if params.seed is not None:
                    g = torch.Generator(device=device)
                    g.manual_seed(params.seed)
                generators.append(g)
            kwargs["logits_processor"] = LogitsProcessorList(
                [_RowSampler(temperature, top_p, generators)])
        stops = tuple(s for s in params.stop if s)
        if stops:
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([_StopStrings(self.tokenizer, stops, width)])
        with torch.inference_mode():
            out = self.model.generate(**kwargs)
        sequences = out if isinstance(out, torch.Tensor) else out.sequences
        generated = sequences[:, width:].tolist()
        eos = set(self.eos_ids)
        completions = []
        for prompt, tokens in zip(prompts, generated, strict=True):
            n = next((i for i, t in enumerate(tokens) if t in eos), len(tokens))
            text = self.tokenizer.decode(tokens[:n], skip_special_tokens=True)
            finish = "stop" if n < len(tokens) else "length"
            cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
            completions.append(Completion(text=text, finish_reason=finish, usage=Usage(len(prompt), n)))
        return completions

    # -- delivery to the callers' event loops ----------------------------------------------------------------

    def _fail(self, req: _Request, exc: BaseException) -> None:
        error = exc if isinstance(exc, ModelError) else BadResponseError(_one_line(self.spec, exc))
        self._deliver(req, None, error)

    @staticmethod
    def _deliver(req: _Request, completion: Completion | None, error: BaseException | None) -> None:
        req.answered = True

        def settle() -> None:
            if req.future.done():  # answered already, or the caller was cancelled
                return
            if error is not None:
                req.future.set_exception(error)
            else:
                req.future.set_result(completion)  # type: ignore[arg-type]

        try:
            req.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            pass
