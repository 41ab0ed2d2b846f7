"""``twofaced run --dry-run``: items, requests and estimated tokens; nothing created, built or sent."""

from __future__ import annotations

import json
import math
from pathlib import Path

from helpers import cli
from twofaced import RunConfig, load_scenario
from twofaced.run import expand, plan_run


def _dry(capsys, *args: str) -> tuple[int, dict, str]:
    code, out, err = cli(capsys, "run", *args, "--dry-run", "--json")
    return code, (json.loads(out) if code == 0 else {}), err


def test_counts_and_token_estimate_match_the_expansion(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    code, plan, err = _dry(capsys, "--model", "mock/faker", "--limit", "3", "--samples", "2", "--ablation",
                           "honesty", "--max-tokens", "50", "--out", str(out))
    assert code == 0, err
    assert not out.exists()
    assert plan["items"] == 3 * 2 * 2 * 2 and plan["requests"] == 3 and plan["to_do"] == 24 and plan["done"] == 0
    assert plan["conditions"] == ["training", "deployment"] and plan["ablations"] == [None, "honesty"]
    rows = expand(load_scenario("helpful-only"), RunConfig("mock/faker", limit=3, samples=2, ablations=("honesty",),
                                                           max_tokens=50))
    expected = sum(math.ceil(len(m["content"]) / 4) for r in rows for m in json.loads(r[9]))
    assert plan["estimated_prompt_tokens"] == expected and plan["token_estimate"] == "chars/4"
    assert plan["estimated_completion_tokens"] == 24 * 50
    assert plan["max_completion_tokens"] == 24 * 50 * (1 + plan["max_continuations"])
    assert plan["api_calls"] == {"min": 24, "max": 24 * (1 + plan["max_continuations"])}
    assert plan["models"][0]["directory"] == str(out) and plan["models"][0]["exists"] is False


def test_sends_nothing_to_the_endpoint(make_server, tmp_path: Path, capsys) -> None:
    server = make_server("faker")
    code, plan, err = _dry(capsys, "--model", "openai/stub", "--base-url", server.base_url, "--limit", "2",
                           "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert plan["items"] == 4 and server.requests == 0 and not (tmp_path / "r").exists()


def test_an_existing_directory_is_read_and_the_plan_is_what_the_run_does(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    code, _, err = cli(capsys, "run", "--model", "mock/faker", "--limit", "2", "--out", str(out), "--no-progress",
                       "--json")
    assert code == 0, err
    before = sorted(p.name for p in out.iterdir())
    code, plan, err = _dry(capsys, "--model", "mock/faker", "--limit", "3", "--out", str(out))
    assert code == 0, err
    assert (plan["items"], plan["done"], plan["to_do"]) == (6, 4, 2) and plan["models"][0]["exists"] is True
    assert sorted(p.name for p in out.iterdir()) == before
    code, out_json, err = cli(capsys, "run", "--model", "mock/faker", "--limit", "3", "--out", str(out),
                              "--no-progress", "--json")
    assert code == 0, err
    assert "resumed: 4 of 6 items" in err  # the run did exactly the 2 the dry run announced
    assert json.loads(out_json)["items"]["done"] == 6


def test_bad_input_fails_as_the_run_would_and_creates_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r"
    cli(capsys, "run", "--model", "mock/faker", "--limit", "2", "--out", str(out), "--no-progress", "--json")
    for args, fragment in [(["--model", "mock/refuse", "--out", str(out)], "holds a run with model"),
                           (["--model", "nope/x", "--out", str(tmp_path / "a")], "unknown model spec"),
                           (["--model", "mock/faker", "--ablation", "nope", "--out", str(tmp_path / "b")], "nope")]:
        code, _, err = _dry(capsys, *args)
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_several_models_plan_one_directory_each_and_print_readably(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    code, plan, err = _dry(capsys, "-m", "mock/faker", "-m", "mock/refuse", "--limit", "2", "--out", str(parent))
    assert code == 0, err
    assert [m["model"] for m in plan["models"]] == ["mock/faker", "mock/refuse"]
    assert [Path(m["directory"]).parent for m in plan["models"]] == [parent, parent]
    assert plan["items"] == 8 and plan["estimated_prompt_tokens"] == 2 * plan["models"][0]["estimated_prompt_tokens"]
    assert not parent.exists()
    code, out, err = cli(capsys, "run", "-m", "mock/faker", "--limit", "2", "--out", str(tmp_path / "r"),
                         "--dry-run")
    assert code == 0, err
    assert "4 to do" in out and "prompt tokens" in out and "nothing was created or sent" in out
    assert not (tmp_path / "r").exists()


def test_library_call() -> None:
    plan = plan_run(load_scenario("helpful-only"), ["mock/faker"], RunConfig("mock/faker", limit=2)).to_json()
    assert (plan["items"], plan["requests"]) == (4, 2) and plan["estimated_prompt_tokens"] > 0
