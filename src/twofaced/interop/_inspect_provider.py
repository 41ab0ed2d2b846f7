"""Every twofaced model spec as an Inspect AI model provider: ``--model twofaced/SPEC``.

    inspect eval twofaced/paired --model twofaced/embedded        # the bundled SmolLM2, in-process
    inspect eval twofaced/paired --model twofaced/mock/faker      # twofaced's deterministic test double
    inspect eval my_task.py --model twofaced/openai/llama3 -M max_concurrency=8

The part after ``twofaced/`` is any twofaced model spec (``embedded``, ``mock/POLICY``, ``openai/MODEL``,
``anthropic/MODEL``, with ``?options``); ``-M key=value`` model args are passed as spec options, and
``--model-base-url`` as ``base_url``. Inspect's ``GenerateConfig`` maps to twofaced's parameters
(``temperature``, ``max_tokens``, ``top_p``, ``seed``, ``stop_seqs``; unset ones are not sent);
tools are not supported. Token counts come from the backend (no tokenizer is downloaded: ``count_tokens``
estimates from words). twofaced's backends retry transient errors themselves, so Inspect does not retry again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from ..models import GenerationParams, Message, Model, get_model

_STOP = {"stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "length": "max_tokens",
         "max_tokens": "max_tokens", "content_filter": "content_filter", "tool_calls": "tool_calls"}


def to_messages(messages: list[ChatMessage]) -> list[Message]:
    """Inspect chat messages as twofaced messages; a tool result becomes a user turn (twofaced has no tools)."""
    out = []
    for m in messages:
        role = m.role if m.role in ("system", "user", "assistant") else "user"
        out.append(Message(role, m.text))
    return out


def to_params(config: GenerateConfig) -> GenerationParams:
    d = GenerationParams()
    return GenerationParams(
        temperature=d.temperature if config.temperature is None else float(config.temperature),
        max_tokens=d.max_tokens if config.max_tokens is None else int(config.max_tokens),
        top_p=d.top_p if config.top_p is None else float(config.top_p),
        seed=config.seed,
        stop=tuple(config.stop_seqs or ()),
    )


class TwofacedModelAPI(ModelAPI):
    """An Inspect ``ModelAPI`` over one twofaced :class:`~twofaced.models.Model` (built from the spec)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, api_key_vars=[], config=config)
        options = dict(model_args)
        if base_url:
            options.setdefault("base_url", base_url)
        if api_key:
            options.setdefault("api_key", api_key)
        self.model: Model = get_model(model_name, **options)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        completion = await self.model.generate(to_messages(input), to_params(config))
        output = ModelOutput.from_content(
            model=self.model_name, content=completion.text,
            stop_reason=_STOP.get(completion.finish_reason, "unknown"),  # type: ignore[arg-type]
        )
        u = completion.usage
        output.usage = ModelUsage(input_tokens=u.prompt_tokens, output_tokens=u.completion_tokens,
                                  total_tokens=u.prompt_tokens + u.completion_tokens)
        return output

    async def count_text_tokens(self, text: str) -> int:
        # Inspect's default counts with tiktoken, which downloads its encoding; a word count is enough here.
        return len(text.split())

    def max_connections(self) -> int:
        return int(getattr(self.model, "max_concurrency", 1) or 1)

    def connection_key(self) -> str:
        return self.model_name

    async def aclose(self) -> None:
        await self.model.aclose()

    def close(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop running: close on a fresh one (with a running loop, aclose is used)
            with contextlib.suppress(Exception):
                asyncio.run(self.model.aclose())


@modelapi(name="twofaced")
def twofaced() -> type[ModelAPI]:
    return TwofacedModelAPI
