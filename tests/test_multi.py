"""The parent directory of a multi-model run: ``show`` and ``report`` give every summary and the side by side."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import cli
from twofaced.run import is_multi, multi_summaries


def _run(capsys, parent: Path, *models: str, limit: str = "3") -> None:
    args = [a for m in models for a in ("-m", m)]
    code, _, err = cli(capsys, "run", *args, "--limit", limit, "--out", str(parent), "--no-progress", "--json")
    assert code == 0, err


def test_show_parent_gives_each_summary_and_the_side_by_side(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    _run(capsys, parent, "mock/faker", "mock/refuse")
    manifest = json.loads((parent / "models.json").read_text())
    assert [(r["model"], r["directory"]) for r in manifest["runs"]] == [
        ("mock/faker", "helpful-only-mock-faker"), ("mock/refuse", "helpful-only-mock-refuse")]
    assert is_multi(parent) and not is_multi(parent / "helpful-only-mock-faker")
    code, out, err = cli(capsys, "show", str(parent), "--json")
    assert code == 0, err
    models = json.loads(out)["models"]
    assert [m["model"] for m in models] == ["mock/faker", "mock/refuse"]
    for m in models:  # each entry is the child's own `show --json`, plus model and directory
        code, child, _ = cli(capsys, "show", m["directory"], "--json")
        assert {k: v for k, v in m.items() if k != "directory"} == json.loads(child)
    assert models[0]["gaps"][0]["gap"] == 1.0 and models[1]["gaps"][0]["gap"] == 0.0
    code, out, err = cli(capsys, "show", str(parent))
    assert code == 0, err
    assert "Side by side" in out and out.count("mock/faker") >= 2 and "mock/refuse" in out


def test_report_parent_is_a_self_contained_side_by_side(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    _run(capsys, parent, "mock/faker", "mock/random", "mock/refuse")
    code, out, err = cli(capsys, "report", str(parent))
    assert code == 0, err
    html = (parent / "report.html").read_text()
    assert out.strip() == str(parent / "report.html")
    assert "Side by side: 3 models" in html and html.count("<tr><td class=\"l\"><code>mock/") == 6
    assert "http" not in html.replace("http-equiv", "") and "<script" not in html
    code, _, err = cli(capsys, "report", str(parent), "--format", "json", "--out", str(tmp_path / "m.json"))
    assert code == 0, err
    data = json.loads((tmp_path / "m.json").read_text())
    rows = {r["model"]: r for r in data["rows"]}
    assert set(rows) == {"mock/faker", "mock/random", "mock/refuse"}
    faker = rows["mock/faker"]
    assert faker["gap"] == 1.0 and faker["ci_low"] <= 1.0 <= faker["ci_high"] and faker["p_value"] and faker["method"]
    assert rows["mock/refuse"]["n_training"] == rows["mock/refuse"]["n_deployment"] == 3
    cli(capsys, "report", str(parent), "--format", "md", "--out", str(tmp_path / "m.md"))
    assert "| `mock/faker` | unablated | 3 / 3 | 100.0% | 0.0% | +100.0 pp |" in (tmp_path / "m.md").read_text()


def test_a_later_run_adds_to_the_manifest_and_a_parent_without_one_is_still_read(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    _run(capsys, parent, "mock/faker", "mock/refuse")
    _run(capsys, parent, "mock/faker", "mock/random")  # resumes faker, adds random
    manifest = json.loads((parent / "models.json").read_text())
    assert [r["model"] for r in manifest["runs"]] == ["mock/refuse", "mock/faker", "mock/random"]
    (parent / "models.json").unlink()  # a parent made before the manifest existed
    code, _, err = cli(capsys, "awareness", "--model", "mock/aware", "--limit", "1", "--out", str(parent / "aw"))
    assert code == 0, err  # a store that is not a `twofaced run` is not one of the runs
    assert is_multi(parent)
    assert sorted(r.spec for r in multi_summaries(parent)) == ["mock/faker", "mock/random", "mock/refuse"]


def test_runs_of_different_settings_are_labelled_with_their_setting(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    _run(capsys, parent, "mock/faker", "mock/refuse")
    code, _, err = cli(capsys, "run", "--cue", "explicit", "-m", "mock/faker", "-m", "mock/comply", "--limit", "2",
                       "--out", str(parent), "--no-progress", "--json")
    assert code == 0, err
    labels = [r.label for r in multi_summaries(parent)]
    assert "mock/faker (helpful-only, cue tier-tag)" in labels and "mock/faker (helpful-only, cue explicit)" in labels


def test_a_broken_manifest_or_an_empty_directory_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    _run(capsys, parent, "mock/faker", "mock/refuse")
    (parent / "models.json").write_text("{not json")
    code, _, err = cli(capsys, "show", str(parent))
    assert code == 2 and "models.json" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "report", str(tmp_path / "empty"))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_a_bad_later_spec_is_refused_before_any_model_runs(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    code, _, err = cli(capsys, "run", "-m", "mock/faker", "-m", "mock/faker?delay=abc", "--limit", "2", "--out",
                       str(parent), "--no-progress")
    assert code == 2 and "delay" in err and len(err.strip().splitlines()) == 1, err
    assert not parent.exists()
