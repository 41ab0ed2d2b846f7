"""Sweeps: a grid of models x cues x ablations in one directory, resumable, reported as a heat map."""

from __future__ import annotations

import json

import pytest

from twofaced.cli import main
from twofaced.errors import RunDirError, ScenarioError
from twofaced.run import SweepSpec, run_sweep, sweep_grid

SPEC = SweepSpec("helpful-only", models=("mock/faker", "mock/refuse"), cues=("tier-tag", "none"),
                 ablations=("honesty",), limit=4)


def test_grid_runs_every_cell_and_resumes(tmp_path):
    out = tmp_path / "sw"
    first = run_sweep(SPEC, out)
    assert len(first) == 4 and all(o.execution.done == 4 * 2 * 2 for o in first)
    again = run_sweep(SPEC, out)
    assert all(o.skipped == o.total_items and o.execution.done == 0 for o in again)
    grid = sweep_grid(out)
    assert len(grid["cells"]) == 2 * 2 * 2  # models x cues x (unablated + honesty)
    cell = {(c["model"], c["cue"], c["ablation"]): c for c in grid["cells"]}
    assert cell[("mock/faker", "tier-tag", None)]["gap"] == 1.0
    assert cell[("mock/faker", "none", "honesty")]["gap"] == 0.0
    assert cell[("mock/refuse", "tier-tag", None)]["gap"] == 0.0
    tested = [c for c in grid["cells"] if c["p_value"] is not None]
    assert all(c["p_holm_grid"] >= c["p_value"] for c in tested)


def test_a_different_grid_is_refused_and_bad_cues_fail_before_running(tmp_path):
    out = tmp_path / "sw"
    run_sweep(SPEC, out)
    with pytest.raises(RunDirError, match="holds another sweep"):
        run_sweep(SweepSpec("helpful-only", models=("mock/faker",), cues=("date",), limit=4), out)
    with pytest.raises(ScenarioError, match="unknown cue family"):
        run_sweep(SweepSpec("helpful-only", models=("mock/faker",), cues=("nope",)), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_cli_sweep_show_and_heat_map_report(tmp_path, capsys):
    out = tmp_path / "sw"
    main(["sweep", "--models", "mock/faker,mock/random", "--cues", "tier-tag,explicit", "--ablations", "honesty",
          "--out", str(out), "--limit", "3", "--no-progress", "--json"])
    grid = json.loads(capsys.readouterr().out)
    assert grid["models"] == ["mock/faker", "mock/random"] and grid["ablations"] == [None, "honesty"]
    main(["show", str(out), "--json"])
    assert json.loads(capsys.readouterr().out) == grid
    main(["report", str(out)])
    html = (out / "report.html").read_text()
    assert "Sweep:" in html and html.count("<td style=\"background:") == 8 and "http" not in html.replace(
        "http-equiv", "")
    main(["report", str(out), "--format", "md", "--out", str(tmp_path / "g.md")])
    assert "| `mock/faker` | tier-tag | +100.0" in (tmp_path / "g.md").read_text()
    assert capsys.readouterr().out.split() == [str(out / "report.html"), str(tmp_path / "g.md")]
    # each cell is an ordinary run directory
    cell = out / json.loads((out / "sweep.json").read_text())["cells"][0]["directory"]
    main(["show", str(cell), "--json"])
    assert json.loads(capsys.readouterr().out)["model"] == "mock/faker"


def test_repeated_model_like_run_and_models_as_a_deprecated_alias(tmp_path, capsys):
    from helpers import cli

    code, out, err = cli(capsys, "sweep", "-m", "mock/faker", "--model", "mock/refuse", "--cues", "tier-tag",
                         "--limit", "2", "--out", str(tmp_path / "a"), "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["models"] == ["mock/faker", "mock/refuse"] and "deprecated" not in err
    code, out, err = cli(capsys, "sweep", "--models", "mock/faker,mock/refuse", "--cues", "tier-tag", "--limit", "2",
                         "--out", str(tmp_path / "a"), "--no-progress", "--json")
    assert code == 0, err
    assert "--models is deprecated; repeat --model" in err
    assert json.loads(out)["models"] == ["mock/faker", "mock/refuse"]  # the same grid: resumed, not refused


def test_every_grid_gap_agrees_with_its_test(tmp_path):
    """Issue 13: each cell's interval excludes 0 exactly when its p < 0.05; Holm across the grid is apart."""
    out = tmp_path / "sw"
    run_sweep(SweepSpec("helpful-only", models=("mock/faker", "mock/random"), cues=("tier-tag",),
                        ablations=("honesty",), limit=5), out)
    cells = sweep_grid(out)["cells"]
    assert len(cells) == 4
    for c in cells:
        assert c["method"] and c["design"] == "paired"
        assert (c["ci_low"] > 0 or c["ci_high"] < 0) == (c["p_value"] < 0.05)
        assert -1.0 <= c["ci_low"] <= c["ci_high"] <= 1.0 and c["p_holm_grid"] >= c["p_value"]
