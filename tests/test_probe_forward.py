"""Batched passes over a cached shared prefix, on a tiny random Llama: the same numbers as one pass per row."""

from __future__ import annotations

import contextlib

import pytest

from twofaced.probes._forward import MIN_PREFIX, common_prefix

torch_needed = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("torch", "transformers")),
    reason="needs the 'organisms' extra")


def test_common_prefix_leaves_a_suffix_and_skips_short_ones():
    shared = list(range(100, 100 + MIN_PREFIX))
    assert common_prefix([[*shared, 1, 2], [*shared, 1, 3]]) == MIN_PREFIX + 1
    assert common_prefix([[*shared, 1], [*shared, 1]]) == MIN_PREFIX  # the last token stays in every suffix
    assert common_prefix([[*shared[:-1], 1], [*shared[:-1], 2]]) == 0  # shorter than MIN_PREFIX
    assert common_prefix([[*shared, 1, 2]]) == 0  # one row: nothing to share


@pytest.fixture(scope="module")
def tiny():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(config).eval()


def _rows() -> list[list[int]]:
    system = [(7 * i) % 60 + 1 for i in range(24)]
    return [[*system, 3, 4, 5], [*system, 9], [2, 8, 8, 1], [*system, 3, 4, 6, 7, 7]]


@torch_needed
def test_passes_match_one_pass_per_row_and_reuse_the_stored_prefix(tiny):
    import torch

    from twofaced.probes._forward import prefix_passes

    rows = _rows()
    quiet_calls = []

    @contextlib.contextmanager
    def quiet():
        quiet_calls.append(1)
        yield

    store: dict[tuple[int, ...], object] = {}
    seen = []
    with torch.no_grad():
        for _ in range(2):  # the second call finds the prefix in the store
            for p in prefix_passes(tiny, rows, 3, store=store, quiet=quiet):
                logits = tiny(**p.inputs).logits
                for j, (i, s) in enumerate(zip(p.rows, p.suffixes, strict=True)):
                    alone = tiny(input_ids=torch.tensor([rows[i]])).logits[0, -1]
                    torch.testing.assert_close(logits[j, len(s) - 1], alone, atol=1e-5, rtol=1e-5)
                    seen.append(i)
    assert sorted(seen) == sorted(2 * list(range(len(rows))))
    assert len(quiet_calls) == 1 and len(store) == 1  # one prefix pass, kept across calls
    assert len(next(iter(store))) == 24  # the system tokens: the batch's third row parts right after them


@torch_needed
def test_caps_fix_each_rows_prefix_whatever_the_batch(tiny):
    """With caps (the decision read's system turn) a row's prefix is its cap even alone in a batch, so hooks that
    act after the prefix (noise) see the same tokens at any batch size."""
    import torch

    from twofaced.probes._forward import prefix_passes

    rows = _rows()
    caps = [20] * len(rows)
    with torch.no_grad():
        for size in (1, 2, 4):
            passes = list(prefix_passes(tiny, rows, size, caps=caps))
            suffix = {i: s for p in passes for i, s in zip(p.rows, p.suffixes, strict=True)}
            assert {i: len(rows[i]) - len(s) for i, s in suffix.items()} == {0: 20, 1: 20, 2: 3, 3: 20}
            for p in passes:  # rows of one pass share the cached prefix
                assert len({tuple(rows[i][:len(rows[i]) - len(s)]) for i, s in zip(p.rows, p.suffixes,
                                                                                    strict=True)}) == 1
                logits = tiny(**p.inputs).logits
                for j, (i, s) in enumerate(zip(p.rows, p.suffixes, strict=True)):
                    alone = tiny(input_ids=torch.tensor([rows[i]])).logits[0, -1]
                    torch.testing.assert_close(logits[j, len(s) - 1], alone, atol=1e-5, rtol=1e-5)
        two = [r for r in rows if len(r) > 24][:2]
        passes = list(prefix_passes(tiny, two, 2, caps=[20, 22]))  # another cap: another prefix, another pass
        assert sorted(len(two[p.rows[0]]) - len(p.suffixes[0]) for p in passes) == [20, 22]
