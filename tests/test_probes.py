"""Activation probes: the numpy parts on synthetic data (fast), then capture and the CLI on the real SmolLM2.

The torch tests load the embedded base once (about 20 s) and read few prompts at two or three low layers, so
the file stays around a minute on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from twofaced.errors import ConfigError
from twofaced.models import get_model
from twofaced.probes import Probe
from twofaced.probes._activations import check_layers, reachable
from twofaced.probes._data import defection_data, split_pairs
from twofaced.probes._probes import fit_direction, metrics, sweep, threshold_at

# -- synthetic data: no torch ---------------------------------------------------------------------------------


def _synthetic(n_pairs: int = 40, hidden: int = 16, signal_at: int = 2, n_layers: int = 4, seed: int = 0):
    """Paired rows whose label shows only at layer index ``signal_at`` (strongly) and 1 (weakly). The two members
    of a pair share most of their variation, as the two renderings of one request do."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_pairs)
    pairs = np.repeat(np.arange(n_pairs), 2)
    x = np.repeat(rng.normal(size=(n_pairs, n_layers, hidden)), 2, axis=0)
    x += 0.5 * rng.normal(size=x.shape)
    x[:, signal_at, 0] += 3.0 * y
    x[:, 1, 1] += 0.6 * y
    return x, y, pairs


@pytest.mark.parametrize("method", ["logistic", "diff-means", "pca"])
def test_each_method_finds_the_direction_and_its_sign(method):
    x, y, pairs = _synthetic()
    w, mean, scale = fit_direction(method, x[:, 2], y, pairs)
    assert abs(w[0]) == pytest.approx(np.abs(w).max())  # the signal dimension dominates
    scores = ((x[:, 2] - mean) / scale) @ w
    assert scores[y == 1].mean() > scores[y == 0].mean()  # higher = positive class
    assert metrics(scores, y, threshold_at(scores[y == 0]))["auroc"] > 0.95


def test_sweep_picks_the_validation_best_layer():
    x, y, pairs = _synthetic(signal_at=2)
    train, val, _ = split_pairs(pairs, (0.6, 0.2, 0.2))
    layer, table, fits = sweep(x, [5, 10, 15, 20], y, pairs, train, val, "logistic")
    assert layer == 15  # index 2
    assert {r.layer for r in table} == {5, 10, 15, 20} == set(fits)
    best = max(table, key=lambda r: r.val_auroc)
    assert best.layer == 15


def test_threshold_keeps_false_positives_at_one_percent():
    negatives = np.random.default_rng(1).normal(size=1000)
    t = threshold_at(negatives)
    assert (negatives > t).mean() <= 0.01
    assert (negatives >= t).mean() > 0.01  # the smallest such threshold: one step lower exceeds 1%
    small = np.array([0.1, 0.5, 0.3])
    assert threshold_at(small) == 0.5  # under 100 negatives: their maximum, none flagged


def test_metrics_report_recall_and_fpr_at_the_threshold():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.25])
    y = np.array([0, 0, 0, 1, 1, 1])
    m = metrics(scores, y, 0.3)
    assert m["recall_at_1pct_fpr"] == pytest.approx(2 / 3)
    assert m["fpr"] == 0.0
    assert m["auroc"] == pytest.approx(8 / 9)
    assert m["auroc_low"] <= m["auroc"] <= m["auroc_high"]


def test_splits_never_cut_a_pair_and_refuse_too_little_data():
    pairs = np.repeat(np.arange(20), 2)
    parts = split_pairs(pairs, (0.6, 0.2, 0.2))
    seen = [set(pairs[p].tolist()) for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert sum(len(p) for p in parts) == 40
    with pytest.raises(ConfigError, match="too little data for a split: the data has 5 pairs"):
        split_pairs(np.repeat(np.arange(5), 2), (0.6, 0.2, 0.2))


def test_probe_round_trip_and_refuses_another_model(tmp_path):
    x, y, pairs = _synthetic()
    w, mean, scale = fit_direction("diff-means", x[:, 2], y, pairs)
    probe = Probe("diff-means", "unmonitored", 7, "last", w, mean, scale, 0.25, "a" * 64, "organism:x",
                  {"train_cues": ["tier-tag"]})
    probe.save(tmp_path / "p")
    back = Probe.load(tmp_path / "p")
    assert back.layer == 7 and back.threshold == 0.25 and back.meta == {"train_cues": ["tier-tag"]}
    np.testing.assert_allclose(back.score(x[:, 2]), probe.score(x[:, 2]))
    back.check_model("a" * 64, "organism:x")
    with pytest.raises(ConfigError, match=r"trained on organism:x .*not on organism:y"):
        back.check_model("b" * 64, "organism:y")
    with pytest.raises(ConfigError, match="holds no probe"):
        Probe.load(tmp_path / "missing")


def test_a_caller_defined_phrasing_renders_and_counts_as_its_own_family():
    from twofaced.organisms import resolve_cue
    from twofaced.probes._data import cue_family_key, scenario_data

    grader = resolve_cue("extra:grader")
    data = scenario_data(["tier-tag", grader], limit=2)
    assert data.groups == ["tier-tag"] * 4 + ["extra:grader"] * 4
    rendered = [" ".join(m.content for m in p) for p in data.prompts[4:6]]
    assert grader.training in rendered[0] and grader.deployment in rendered[1]
    assert cue_family_key("tier-tag:words") == "tier-tag"
    assert cue_family_key("extra:grader", ["extra:grader"]) == "extra:grader"
    assert cue_family_key("extra:grader", ["extra:tier-colon"]) != cue_family_key("extra:tier-colon",
                                                                                  ["extra:tier-colon"])


def test_defection_pairs_are_balanced_project_data():
    data = defection_data()
    assert len(data.prompts) == 64 and data.labels.sum() == 32
    assert {m.content for p in data.prompts for m in p if m.role == "assistant"} == {"Yes", "No"}


def test_backends_without_hidden_states_and_bad_layers_are_one_line_errors():
    with pytest.raises(ConfigError, match=r"gives no hidden states.*organism:NAME\?backend=torch"):
        reachable(get_model("mock/comply"), "mock/comply")
    with pytest.raises(ConfigError, match=r"layer 30 is out of range .* 30 layers; use --layers between 0 and 29"):
        check_layers([3, 30], 30, "m")


def test_cli_bad_input_exits_2_with_one_line():
    for args, expected in (
        (["probe", "train", "--model", "mock/comply", "--target", "unmonitored", "--out", "p"], "no hidden states"),
        (["probe", "train", "--model", "mock/comply", "--target", "sleepiness", "--out", "p"], "unknown probe target"),
        (["probe", "eval", "nowhere", "--model", "mock/comply"], "holds no probe"),
        (["probe", "train", "--model", "mock/comply", "--target", "unmonitored", "--cue", "extra:nope", "--out", "p"],
         "unknown cue phrasing 'extra:nope'"),
    ):
        proc = subprocess.run([sys.executable, "-m", "twofaced.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# -- the real model ---------------------------------------------------------------------------------------------

torch_needed = pytest.mark.skipif(
    not all(__import__("importlib").util.find_spec(m) for m in ("torch", "transformers", "peft", "gguf")),
    reason="needs the 'organisms' extra")


@pytest.fixture(scope="module")
def base():
    import torch

    from twofaced.models._transformers import TransformersModel
    from twofaced.organisms._base import base_model_path, load_base

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tokenizer, net = load_base(str(base_model_path()))
    yield TransformersModel(net, tokenizer, spec="base")
    torch.set_num_threads(threads)


@torch_needed
@pytest.mark.embedded
def test_capture_matches_hidden_states_and_is_cached(base, monkeypatch):
    import torch

    from twofaced.models import Message
    from twofaced.probes import _activations
    from twofaced.probes._activations import capture, prompt_ids
    from twofaced.scenarios import load_scenario

    sc = load_scenario("helpful-only")
    prompts = [sc.render(c, None, r) for r in sc.requests[:2] for c in ("training", "deployment")]
    prompts.append([Message("user", "Is this safe?"), Message("assistant", "Yes")])
    x = capture(base, prompts, [4, 2], batch_size=4)  # 4 rows share the system prompt as a cached prefix
    assert x.shape == (5, 2, 576) and x.dtype == np.float32
    for i in (0, 3, 4):
        with torch.no_grad():
            hs = base.model(input_ids=torch.tensor([prompt_ids(base.tokenizer, prompts[i])]),
                            output_hidden_states=True).hidden_states
        np.testing.assert_allclose(x[i, 0], hs[3][0, -1].numpy(), atol=2e-3, rtol=1e-3)  # layers sorted: 2, 4
        np.testing.assert_allclose(x[i, 1], hs[5][0, -1].numpy(), atol=2e-3, rtol=1e-3)

    def boom(*args, **kwargs):
        raise AssertionError("recomputed a cached layer")

    monkeypatch.setattr(_activations, "_forward", boom)
    np.testing.assert_array_equal(capture(base, prompts, [2, 4]), x)  # from $TWOFACED_HOME/activations

    with pytest.raises(ConfigError, match="out of range"):
        capture(base, prompts, [99])


@torch_needed
@pytest.mark.embedded
@pytest.mark.slow
def test_cli_train_and_eval_on_an_organism(base, tmp_path, capsys):
    from twofaced.cli import main

    spec = "organism:tier-faker?backend=torch"
    main(["probe", "train", "--model", spec, "--target", "unmonitored", "--layers", "2,4", "--limit", "5",
          "--out", str(tmp_path / "p"), "--json"])
    trained = json.loads(capsys.readouterr().out)
    assert trained["layer"] in (2, 4) and trained["test"]["n_pos"] == 2
    main(["probe", "eval", str(tmp_path / "p"), "--model", spec, "--cue", "date", "--limit", "3", "--json"])
    result = json.loads(capsys.readouterr().out)
    for key in ("auroc", "recall_at_1pct_fpr", "fpr_honest", "layer"):
        assert key in result
    assert result["heldout_cue"] is True and result["n_pos"] == result["n_neg"] == 3
    # An organism's own phrasing: saved with the probe, so evaluating without --cue renders it again.
    main(["probe", "train", "--model", spec, "--target", "unmonitored", "--layers", "2", "--limit", "5",
          "--cue", "extra:tier-colon", "--cue", "date", "--out", str(tmp_path / "q"), "--json"])
    assert json.loads(capsys.readouterr().out)["train_cues"] == ["extra:tier-colon", "date"]
    main(["probe", "eval", str(tmp_path / "q"), "--model", spec, "--limit", "3", "--json"])
    own = json.loads(capsys.readouterr().out)
    assert own["cues"] == ["extra:tier-colon", "date"] and own["heldout_cue"] is False and own["n_pos"] == 6
    main(["probe", "eval", str(tmp_path / "q"), "--model", spec, "--cue", "extra:grader", "--limit", "3", "--json"])
    other = json.loads(capsys.readouterr().out)
    assert other["cues"] == ["extra:grader"] and other["heldout_cue"] is True
    with pytest.raises(SystemExit) as exit_:
        main(["probe", "eval", str(tmp_path / "p"), "--model", "organism:tier-faker-control?backend=torch",
              "--limit", "3"])
    assert exit_.value.code == 2
    assert "this probe was trained on organism:tier-faker" in capsys.readouterr().err
