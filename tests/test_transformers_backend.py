"""The batched transformers backend on the real embedded base model (SmolLM2-135M dequantised into torch).

Few tokens per request, so the file runs in well under a minute once the weights are loaded (about 40 s, once).
"""

from __future__ import annotations

import asyncio
import copy

import pytest

pytest.importorskip("torch", reason="needs the 'organisms' extra")
pytest.importorskip("transformers", reason="needs the 'organisms' extra")

from twofaced.errors import BadResponseError, ConfigError
from twofaced.models import GenerationParams, Message, Model
from twofaced.models._transformers import TransformersModel
from twofaced.organisms._base import base_model_path, load_base

pytestmark = pytest.mark.embedded

GREEDY = GenerationParams(temperature=0.0, max_tokens=12)
PROMPTS = [
    [Message("user", "Name a colour.")],
    [Message("system", "You are a terse assistant who answers in one short sentence."),
     Message("user", "What is the capital of France? Answer briefly, please.")],
    [Message("user", "Write a haiku about the sea.")],
]


@pytest.fixture(scope="module")
def base():
    import torch

    threads = torch.get_num_threads()
    yield load_base(str(base_model_path()))
    torch.set_num_threads(threads)  # the backends below set 1 from their worker threads; undo it for later tests


@pytest.fixture
def calls(base, monkeypatch):
    """Record the batch shape of every ``model.generate`` call."""
    _, model = base
    shapes: list[tuple[int, int]] = []
    real = model.generate

    def spy(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", spy)
    return shapes


def _backend(base, model=None, **kwargs) -> TransformersModel:
    # One torch thread: the test machine has two cores and usually something else running on them, and two
    # OpenMP threads contending with another process are many times slower than one.
    tokenizer, base_model = base
    return TransformersModel(model or base_model, tokenizer, spec="test-transformers", n_threads=1, **kwargs)


async def _one_by_one(backend, requests):
    return [await backend.generate(m, p) for m, p in requests]


async def _together(backend, requests):
    try:
        return await asyncio.gather(*(backend.generate(m, p) for m, p in requests))
    finally:
        await backend.aclose()


def test_is_a_model_and_concurrency_is_the_batch_size(base):
    backend = _backend(base, batch_size=4)
    assert isinstance(backend, Model)
    assert backend.max_concurrency == 4


def test_bad_settings_are_config_errors(base):
    with pytest.raises(ConfigError, match="batch_size"):
        _backend(base, batch_size=0)
    with pytest.raises(ConfigError, match="n_threads"):
        TransformersModel(base[1], base[0], spec="x", n_threads=0)


def test_greedy_batched_equals_one_at_a_time(base, calls):
    backend = _backend(base)
    requests = [(m, GREEDY) for m in PROMPTS]
    singles = asyncio.run(_one_by_one(backend, requests))
    assert [shape[0] for shape in calls] == [1, 1, 1]
    batched = asyncio.run(_together(backend, requests))
    assert calls[3][0] == 3, calls  # one generate for all three, padded to the longest prompt
    assert len({shape[1] for shape in calls[:3]}) == 3  # prompts of different lengths, so padding was exercised
    assert all(c.text for c in singles)
    assert [c.text for c in batched] == [c.text for c in singles]
    assert [c.usage.completion_tokens for c in batched] == [c.usage.completion_tokens for c in singles]
    assert [c.finish_reason for c in batched] == [c.finish_reason for c in singles]


def test_prompt_tokens_are_the_unpadded_prompt_length(base):
    tokenizer, _ = base
    backend = _backend(base)
    out = asyncio.run(_together(backend, [(m, GREEDY) for m in PROMPTS]))
    expected = [len(tokenizer.apply_chat_template([{"role": x.role, "content": x.content} for x in m],
                                                  add_generation_prompt=True, tokenize=True, return_dict=False))
                for m in PROMPTS]
    assert len(set(expected)) == 3
    assert [c.usage.prompt_tokens for c in out] == expected


def test_length_then_stop_string(base):
    backend = _backend(base)
    story = [Message("user", "Tell me a long story about a dragon who lives in a mountain.")]
    short = asyncio.run(backend.generate(story, GenerationParams(temperature=0.0, max_tokens=5)))
    assert short.finish_reason == "length"
    assert short.usage.completion_tokens == 5

    full = asyncio.run(backend.generate(story, GenerationParams(temperature=0.0, max_tokens=16)))
    words = full.text.split()
    assert full.finish_reason == "length" and len(words) >= 4, full.text
    stop = " " + words[3]
    cut = full.text.find(stop)
    stopped = asyncio.run(backend.generate(story, GenerationParams(temperature=0.0, max_tokens=16, stop=(stop,))))
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[:cut]
    assert 0 < stopped.usage.completion_tokens < 16


def test_concurrent_requests_with_different_params_are_grouped(base, calls):
    backend = _backend(base)
    a = (PROMPTS[0], GenerationParams(temperature=0.0, max_tokens=4))
    b = (PROMPTS[2], GenerationParams(temperature=0.0, max_tokens=9))
    alone = asyncio.run(_one_by_one(backend, [a, b]))
    together = asyncio.run(_together(_backend(base), [a, b]))
    assert [shape[0] for shape in calls] == [1, 1, 1, 1]  # two groups of one, not one batch
    assert [c.text for c in together] == [c.text for c in alone]
    assert together[0].usage.completion_tokens <= 4 and together[1].usage.completion_tokens <= 9


def test_an_error_in_generation_reaches_the_caller_and_the_worker_goes_on(base, monkeypatch):
    _, model = base
    backend = _backend(base)

    def boom(*args, **kwargs):
        raise RuntimeError("boom\nwith a second line")

    async def scenario():
        monkeypatch.setattr(model, "generate", boom)
        results = await asyncio.gather(*(backend.generate(m, GREEDY) for m in PROMPTS[:2]),
                                       return_exceptions=True)
        monkeypatch.undo()
        after = await backend.generate(PROMPTS[0], GenerationParams(temperature=0.0, max_tokens=3))
        await backend.aclose()
        return results, after

    results, after = asyncio.run(asyncio.wait_for(scenario(), 120))
    for exc in results:
        assert isinstance(exc, BadResponseError)
        assert "boom" in str(exc) and "\n" not in str(exc) and "RuntimeError" in str(exc)
    assert after.text and after.usage.completion_tokens == 3


def test_seeded_sampling_is_reproducible_alone_and_in_a_batch(base):
    params = GenerationParams(temperature=1.0, top_p=0.95, max_tokens=12, seed=1234)
    backend = _backend(base)
    first = asyncio.run(backend.generate(PROMPTS[2], params))
    again = asyncio.run(backend.generate(PROMPTS[2], params))
    batched = asyncio.run(_together(_backend(base), [(PROMPTS[0], params), (PROMPTS[2], params)]))
    assert first.text and first.text == again.text
    assert batched[1].text == first.text  # the seed belongs to the request, not to the batch
    other = [asyncio.run(backend.generate(PROMPTS[2], GenerationParams(temperature=1.0, max_tokens=12, seed=s)))
             for s in (1, 2)]
    assert len({first.text, *(c.text for c in other)}) > 1  # a seed does change the sample


def test_closed_backend_refuses_new_requests(base):
    backend = _backend(base)

    async def scenario():
        pending = asyncio.ensure_future(backend.generate(PROMPTS[0], GenerationParams(temperature=0, max_tokens=2)))
        await asyncio.sleep(0)  # the request is queued
        await backend.aclose()
        done = await pending  # queued before the close, so still answered
        with pytest.raises(BadResponseError, match="closed"):
            await backend.generate(PROMPTS[0], GREEDY)
        return done

    assert asyncio.run(scenario()).usage.completion_tokens == 2


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft calls a deprecated transformers property
def test_a_peft_wrapped_model_runs_too(base):
    peft = pytest.importorskip("peft")
    _, model = base
    lora = peft.get_peft_model(copy.deepcopy(model), peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    requests = [(m, GREEDY) for m in PROMPTS[:2]]
    wrapped = asyncio.run(_together(_backend(base, lora), requests))
    plain = asyncio.run(_together(_backend(base), requests))
    assert [c.text for c in wrapped] == [c.text for c in plain]  # a fresh LoRA adds zero
