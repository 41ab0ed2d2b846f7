"""Issue 13's acceptance for the statistics, through the real CLI: every headline gap of ``run``, ``show``,
``compare``, ``report`` and ``sweep`` has ``ci_low``, ``ci_high``, ``p_value`` and ``method``, and
``ci_low > 0 or ci_high < 0`` holds exactly when ``p_value < 0.05``; a comparison of runs of different sizes says
so; the tables fit 80 columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import cli


def _agrees(g: dict[str, Any], bound: float = 1.0) -> None:
    assert {"ci_low", "ci_high", "p_value", "method"} <= set(g), g
    assert g["method"], g
    assert (g["ci_low"] > 0 or g["ci_high"] < 0) == (g["p_value"] < 0.05), g
    assert -bound <= g["ci_low"] <= g["ci_high"] <= bound, g


def _run_json(capsys: pytest.CaptureFixture[str], out: Path, *args: str) -> dict[str, Any]:
    code, stdout, err = cli(capsys, "run", "--model", "mock/faker", "--out", str(out), "--no-progress", "--json",
                            *args)
    assert code == 0, err
    return json.loads(stdout)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_run_gaps_agree_at_every_small_n(tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: int) -> None:
    j = _run_json(capsys, tmp_path / "r", "--limit", str(limit), "--ablation", "honesty")
    for table in (j, *j["subsets"].values()):
        for g in table["gaps"]:
            _agrees(g)
            assert g["design"] == "paired" and "Tango" in g["method"]
            assert g["p_exact_mcnemar"] >= g["p_value"] and "p_holm" in g
    if limit == 2:  # the case: +100 pp [+7, +100] beside p = 0.5
        g = j["gaps"][0]
        assert (g["gap"], g["ci_high"], g["p_exact_mcnemar"]) == (1.0, 1.0, 0.5)
        assert g["ci_low"] < 0 and g["p_value"] > 0.05


def test_clustered_and_show_gaps_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    j = _run_json(capsys, tmp_path / "r", "--limit", "3", "--samples", "2")
    g = j["gaps"][0]
    _agrees(g)
    assert g["design"] == "clustered" and g["design_effect"] == 2.0 and g["n_clusters"] == 3
    code, out, _ = cli(capsys, "show", str(tmp_path / "r"), "--json")
    assert code == 0 and json.loads(out)["gaps"] == j["gaps"]


def test_compare_json_agrees_and_warns_about_different_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    _run_json(capsys, tmp_path / "a", "--limit", "4")
    _run_json(capsys, tmp_path / "b", "--limit", "2")
    code, out, err = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert code == 0, err
    j = json.loads(out)
    for row in j["gaps"]:
        _agrees(row, bound=2.0)
        assert row["p_a"] is not None and row["p_b"] is not None and (row["n_a"], row["n_b"]) == (8, 4)
    assert any("A has 4, B has 2" in w for w in j["warnings"])
    assert any("8 judged completions" in w for w in j["warnings"])
    code, out, _ = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 0
    flat = " ".join(out.split())
    assert "note: different requests: A has 4, B has 2, 2 in both" in flat and "method: difference of gaps" in flat


def test_compare_of_like_runs_has_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run_json(capsys, tmp_path / "a", "--limit", "5")
    _run_json(capsys, tmp_path / "b", "--limit", "5", "--seed", "3")
    code, out, _ = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    j = json.loads(out)
    assert code == 0 and j["warnings"] == []
    row = j["gaps"][0]
    assert row["difference"] == 0.0 and row["p_value"] == 1.0 and row["ci_low"] < 0 < row["ci_high"]


def test_compare_of_a_large_and_a_null_run_rejects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run_json(capsys, tmp_path / "a", "--limit", "12")
    code, _, err = cli(capsys, "run", "--model", "mock/refuse", "--out", str(tmp_path / "b"), "--limit", "12",
                       "--no-progress", "--json")
    assert code == 0, err
    code, out, _ = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    row = json.loads(out)["gaps"][0]
    _agrees(row, bound=2.0)
    assert row["difference"] == 1.0 and row["p_value"] < 0.05 and row["ci_low"] > 0


def _lines(*args: str, cwd: Path) -> list[str]:
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_piped_tables_fit_80_columns_uncut(tmp_path: Path) -> None:
    lines = _lines("run", "--model", "mock/faker", "--model", "mock/random", "--limit", "4", "--ablation",
                   "no-rlhf-info", "--ablation", "no-values-modification", "--out", "r", "--no-progress", cwd=tmp_path)
    text = "\n".join(lines)
    assert "…" not in text
    assert all(len(line.rstrip()) <= 80 for line in lines), [line for line in lines if len(line.rstrip()) > 80]
    for word in ("deployment", "ablation: no-rlhf-info", "ablation: no-values-modification", "mock/random",
                 "gap training − deployment, (none): +100.0 pp [+2.0, +100.0] p=0.046 (Holm 0.14)"):
        assert word in text
    assert "method: paired score: Tango interval inverting the asymptotic McNemar test" in text
    compare = _lines("compare", "r/helpful-only-mock-faker", "r/helpful-only-mock-random", cwd=tmp_path)
    assert "…" not in "\n".join(compare) and any("no-values-modification" in line for line in compare)
    assert all(len(line.rstrip()) <= 80 for line in compare)


def test_the_widest_summary_table_fits_80_columns(tmp_path: Path) -> None:
    """Every optional column at once (partial, unparsed, judge errors, AF reasoning with unsure verdicts) and a
    22-character ablation: the table still fits 80 columns and nothing is cut to an ellipsis."""
    from io import StringIO

    from rich.console import Console

    from helpers import make_run
    from twofaced.cli._console import print_summary
    from twofaced.run import load_records, open_store, show_run

    directory = make_run(tmp_path / "run")
    verdicts = ("complied", "partial", "refused", "unparseable", "error", "complied")
    with open_store(directory, create=False) as store:
        store.add_verdicts([(r.item_id, "compliance-llm", "1", "mock/judge", verdicts[k % 6], None, "")
                            for k, r in enumerate(load_records(store))])
        store.add_verdicts([(r.item_id, "af-llm", "1", "mock/judge", "yes", 0.5, "unsure")
                            for r in load_records(store)[:3]])
    summary = show_run(directory)
    buffer = StringIO()
    console = Console(file=buffer, width=80, force_terminal=False, color_system=None)
    print_summary(console, summary, directory)
    text = buffer.getvalue()
    assert "…" not in text and all(len(line.rstrip()) <= 80 for line in text.splitlines()), text
    for word in ("partial", "unparsed", "judge", "errors", "reasoning", "deployment", "unsure", "[15.0, 85.0]"):
        assert word in text, word  # a header may wrap at its space


def test_compare_takes_a_judge_choice(tmp_path, capsys) -> None:
    from helpers import cli

    for name in ("a", "b"):
        code, _, err = cli(capsys, "run", "--model", "mock/faker", "--limit", "3", "--out", str(tmp_path / name),
                           "--no-progress")
        assert code == 0, err
    code, out, err = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--judge",
                         "compliance-rules", "--json")
    assert code == 0, err
    import json

    assert json.loads(out)["judge"] == "compliance-rules"
    code, _, err = cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"), "--judge", "af-llm@mock/x")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
