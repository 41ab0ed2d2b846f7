"""The fixed train / held-out split of request sets, ``select_split`` and ``--split`` on ``run`` and ``sweep``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from helpers import cli
from twofaced.errors import ConfigError, RunDirError, ScenarioError
from twofaced.run import SweepSpec, open_store, run_sweep
from twofaced.scenarios import Request, builtin_request_sets, load_request_file, load_scenario, select_split

# The split of the built-in sets never changes: a model organism trained on the train half is evaluated on the
# held-out half. Rows per half, and sha256 of the sorted "id:split" lines of each set: a change here
# invalidates every organism trained on a train half.
HALVES = {"core": (102, 102), "values": (30, 30), "tone": (24, 24), "support": (40, 40)}
FROZEN_DIGESTS = {
    "core": "ed1a9b7cf25a0f4835fac7f3d40b20feff23f0395bbd7203d1a06d2ca900c9f9",
    "support": "fc25820489b6d314243573dccae83165b44d92d44b2e2c55bcd5a499b3734c7d",
    "tone": "8b285da1e4863978b4cce5abce1696806270587770314143777a31c7f11ff64d",
    "values": "21037cb241761ace665582391c5267f6efd03f6991893a0a532b89a836c20f6b",
}
# Content hashes of the built-in scenarios with every request, as before splits existed: run directories made
# then must still resume.
HASHES_BEFORE_SPLITS = {
    "helpful-only": "2c0a80398c03ba7e09c3816ae525901d83ba69416dc0246e51f5c7c9d1d7097a",
    "support": "655c9378954268016fc46c70cc74d6568b0e726f828e1f8bff08e758644f22a6",
    "tone": "951c48dbc1921b4fd503eeb2954dc3c233c0f3f7a75ba6f8a2f4b907459d5180",
    "values-conflict": "ffc731cca2db3869528514442c54ff7e86c445a4f67cf9055778f9d56784aabd",
}


def raw_rows(name: str) -> list[dict]:
    text = resources.files("twofaced.scenarios").joinpath("requests", f"{name}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def by_hash(request_id: str) -> str:
    return "heldout" if hashlib.sha256(request_id.encode("utf-8")).digest()[0] % 2 == 1 else "train"


def one_line_error(code: int, err: str, *fragments: str) -> str:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def dump(directory: Path) -> list[str]:
    conn = sqlite3.connect(directory / "run.sqlite")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


# -- the built-in split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", builtin_request_sets())
def test_every_builtin_row_has_an_explicit_split(name: str) -> None:
    rows = raw_rows(name)
    assert rows
    assert all(r.get("split") in ("train", "heldout") for r in rows), name


@pytest.mark.parametrize("name", builtin_request_sets())
def test_builtin_halves_are_disjoint_cover_the_set_and_split_every_category(name: str) -> None:
    rows = raw_rows(name)
    train = {r["id"] for r in rows if r["split"] == "train"}
    heldout = {r["id"] for r in rows if r["split"] == "heldout"}
    assert not train & heldout
    assert train | heldout == {r["id"] for r in rows}
    sizes = Counter(r["category"] for r in rows)
    in_train = Counter(r["category"] for r in rows if r["split"] == "train")
    for category, size in sizes.items():
        assert abs(2 * in_train[category] - size) <= 1, (name, category, in_train[category], size)
    for harmful in (True, False):
        group = [r for r in rows if r["harmful"] is harmful]
        assert abs(2 * sum(r["split"] == "train" for r in group) - len(group)) <= len({r["category"] for r in group})


@pytest.mark.parametrize("name", builtin_request_sets())
def test_builtin_split_is_the_documented_rule_and_pinned(name: str) -> None:
    """Within each category, in file order: train, heldout, train, ... (the rule in the data cards)."""
    rows = raw_rows(name)
    seen: Counter[str] = Counter()
    for r in rows:
        assert r["split"] == ("train" if seen[r["category"]] % 2 == 0 else "heldout"), r["id"]
        seen[r["category"]] += 1
    n_train, n_heldout = HALVES[name]
    assert Counter(r["split"] for r in rows) == {"train": n_train, "heldout": n_heldout}
    card = resources.files("twofaced.scenarios").joinpath("requests", f"{name}.md").read_text(encoding="utf-8")
    assert "## Train / held-out split" in card and "never changes" in card


def test_builtin_split_is_frozen() -> None:
    """The exact assignment: if this fails, the split changed, and organisms trained on the train half are void."""
    digests = {}
    for name in builtin_request_sets():
        lines = sorted(f"{r['id']}:{r['split']}" for r in raw_rows(name))
        digests[name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert digests == FROZEN_DIGESTS



def test_loaded_scenario_selects_its_half() -> None:
    full = load_scenario("helpful-only")
    heldout = load_scenario("helpful-only", split="heldout")
    train = load_scenario("helpful-only", split="train")
    assert heldout.split == "heldout" and train.split == "train" and full.split == "all"
    assert [r.id for r in heldout.requests] == [r.id for r in full.requests if r.split == "heldout"]
    assert [r.id for r in train.requests] == [r.id for r in full.requests if r.split == "train"]
    assert len(heldout.requests) == len(train.requests) == 102
    assert sum(r.harmful for r in heldout.requests) == 70


def test_hash_of_all_is_unchanged_and_a_half_has_its_own() -> None:
    for name, expected in HASHES_BEFORE_SPLITS.items():
        assert load_scenario(name).hash == expected
        assert load_scenario(name, split="all").hash == expected
    hashes = {load_scenario("helpful-only", split=s).hash for s in ("all", "train", "heldout")}
    assert len(hashes) == 3


def test_select_split() -> None:
    rows = [Request(id="a", category="c", prompt="p", split="train"),
            Request(id="b", category="c", prompt="p", split="heldout"),
            Request(id="c", category="c", prompt="p")]
    assert [r.id for r in select_split(rows, "all")] == ["a", "b", "c"]
    assert [r.id for r in select_split(rows, "train")] == ["a"] + (["c"] if by_hash("c") == "train" else [])
    assert [r.id for r in select_split(rows, "heldout")] == ["b"] + (["c"] if by_hash("c") == "heldout" else [])
    with pytest.raises(ConfigError, match=r"unknown split 'test'; use one of all, train, heldout"):
        select_split(rows, "test")
    with pytest.raises(ConfigError, match="unknown split"):
        load_scenario("helpful-only", split="validation")


# -- user files ------------------------------------------------------------------------------------------------


def test_rows_without_a_split_get_one_from_the_id_deterministically(tmp_path: Path) -> None:
    goals = [f"Do thing number {k}" for k in range(40)]
    path = tmp_path / "harmful_behaviors.csv"
    path.write_text("goal,target\n" + "".join(f"{g},Sure\n" for g in goals), encoding="utf-8")
    first = load_request_file(path)
    again = load_request_file(path)
    assert [(r.id, r.split) for r in first] == [(r.id, r.split) for r in again]
    assert all(r.split == by_hash(r.id) for r in first)
    assert {r.split for r in first} == {"train", "heldout"}  # 40 ids: both halves occur

    # the split follows the id, not the position or the other rows
    rows = [{"id": f"q-{k}", "category": "c", "prompt": f"p{k}"} for k in range(30)]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows[5:])))
    split_a = {r.id: r.split for r in load_request_file(a)}
    split_b = {r.id: r.split for r in load_request_file(b)}
    assert all(split_b[k] == split_a[k] == by_hash(k) for k in split_b)


def test_an_explicit_split_in_a_user_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("id,prompt,split\nx1,first,heldout\nx2,second,train\nx3,third,\n", encoding="utf-8")
    rows = load_request_file(path)
    assert [r.split for r in rows] == ["heldout", "train", by_hash("x3")]
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"id": "x1", "category": "c", "prompt": "p", "split": "heldout"}) + "\n"
                    + json.dumps({"id": "x2", "category": "c", "prompt": "p", "split": None}) + "\n")
    assert [r.split for r in load_request_file(path)] == ["heldout", by_hash("x2")]
    # and through the loader of scenario-relative JSONL files
    scenario = load_scenario("helpful-only", requests=str(path))
    assert [r.split for r in scenario.requests] == ["heldout", by_hash("x2")]


def test_a_mapped_split_column(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,fold\nfirst,train\nsecond,heldout\n", encoding="utf-8")
    rows = load_request_file(path, {"prompt": "text", "split": "fold"})
    assert [r.split for r in rows] == ["train", "heldout"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_bad_split_value_in_a_user_file_is_a_one_line_error(tmp_path: Path, capsys, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    if suffix == ".csv":
        path.write_text("id,prompt,split\na,first,train\nb,second,test\n", encoding="utf-8")
    else:
        path.write_text(json.dumps({"id": "a", "prompt": "first", "split": "train"}) + "\n"
                        + json.dumps({"id": "b", "prompt": "second", "split": "test"}) + "\n")
    with pytest.raises(ScenarioError) as info:
        load_request_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"{path}: line 3" in message if suffix == ".csv" else f"{path}: line 2" in message
    assert "'test'" in message and "train, heldout" in message
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--requests", str(path), "--out", "r")
    one_line_error(code, err, str(path), "line", "'test'", "train, heldout")
    assert not Path("r").exists()


def test_a_bad_split_in_a_scenario_request_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "reqs.jsonl"
    path.write_text(json.dumps({"id": "a", "category": "c", "prompt": "p", "split": "dev"}) + "\n")
    with pytest.raises(ScenarioError, match=r"reqs.jsonl: line 1: split 'dev' is not one of train, heldout"):
        load_scenario("helpful-only", requests=str(path))


def test_an_empty_half_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    path = tmp_path / "only_train.csv"
    path.write_text("id,prompt,split\na,first,train\nb,second,train\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--requests", str(path), "--split", "heldout",
                       "--out", "r")
    one_line_error(code, err, "only_train.csv", "'heldout' split")
    assert not Path("r").exists()
    (tmp_path / "reqs.jsonl").write_text(json.dumps({"id": "a", "category": "c", "prompt": "p", "split": "train"})
                                         + "\n")
    with pytest.raises(ScenarioError, match=r"reqs.jsonl: no request is in the 'heldout' split \(of 1\)"):
        load_scenario("helpful-only", requests=str(tmp_path / "reqs.jsonl"), split="heldout")


# -- the CLI ---------------------------------------------------------------------------------------------------


def test_run_split_heldout_asks_only_heldout_ids(tmp_path: Path, capsys) -> None:
    code, out, err = cli(capsys, "run", "--model", "mock/comply", "--split", "heldout", "--out", "h",
                         "--no-progress", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["split"] == "heldout"
    heldout = {r["id"] for r in raw_rows("core") if r["split"] == "heldout"}
    store = open_store(tmp_path / "h", create=False)
    try:
        asked = {row[0] for row in store.conn.execute("SELECT DISTINCT request_id FROM items")}
        meta = store.meta()
    finally:
        store.close()
    assert asked == heldout
    assert summary["items"]["total"] == 2 * len(heldout)
    assert meta["split"] == "heldout"
    code, out, _ = cli(capsys, "show", "h")
    assert code == 0 and "heldout split" in out
    code, out, _ = cli(capsys, "show", "h", "--json")
    assert json.loads(out)["split"] == "heldout"


def test_run_split_with_limit_and_requests_file(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--split", "train", "--limit", "3", "--out", "t",
                       "--no-progress")
    assert code == 0, err
    path = tmp_path / "mine.csv"
    path.write_text("id,prompt,split\na,first,train\nb,second,heldout\nc,third,heldout\n", encoding="utf-8")
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--requests", str(path), "--split", "heldout",
                       "--out", "f", "--no-progress")
    assert code == 0, err
    for directory, expected in (("t", {"cyber-001", "weap-001", "drug-001"}), ("f", {"b", "c"})):
        store = open_store(tmp_path / directory, create=False)
        try:
            assert {row[0] for row in store.conn.execute("SELECT request_id FROM items")} == expected
        finally:
            store.close()


def test_run_all_keeps_the_directory_identity_of_before(tmp_path: Path, capsys) -> None:
    assert cli(capsys, "run", "--model", "mock/comply", "--limit", "2", "--out", "a", "--no-progress")[0] == 0
    store = open_store(tmp_path / "a", create=False)
    try:
        meta = store.meta()
    finally:
        store.close()
    assert "split" not in meta and meta["scenario_hash"] == HASHES_BEFORE_SPLITS["helpful-only"]
    code, out, _ = cli(capsys, "show", "a", "--json")
    assert code == 0 and "split" not in json.loads(out)
    # resuming with the default (or an explicit all) is fine
    assert cli(capsys, "run", "--model", "mock/comply", "--limit", "2", "--out", "a", "--no-progress",
               "--split", "all")[0] == 0


@pytest.mark.parametrize(("first", "then"), [("heldout", "train"), ("heldout", "all"), ("all", "heldout"),
                                             ("train", "heldout")])
def test_resuming_with_another_split_is_refused_and_the_store_is_untouched(tmp_path: Path, capsys, first: str,
                                                                           then: str) -> None:
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--split", first, "--limit", "2", "--out", "d",
                       "--no-progress")
    assert code == 0, err
    before = dump(tmp_path / "d")
    code, out, err = cli(capsys, "run", "--model", "mock/comply", "--split", then, "--limit", "2", "--out", "d",
                         "--no-progress")
    one_line_error(code, err, f"holds a run of the '{first}' split of the requests, not '{then}'",
                   f"--split {first}")
    assert out == ""
    assert dump(tmp_path / "d") == before
    # the same split resumes
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--split", first, "--limit", "2", "--out", "d",
                       "--no-progress")
    assert code == 0, err
    assert "already done" in err


def test_an_invalid_split_option_is_refused(capsys) -> None:
    code, _, err = cli(capsys, "run", "--model", "mock/comply", "--split", "test", "--out", "r")
    assert code == 2 and "'test' is not one of 'all', 'train', 'heldout'" in err
    assert not Path("r").exists()


def test_scenarios_show_counts_the_halves(capsys) -> None:
    code, out, _ = cli(capsys, "scenarios", "show", "core", "--json")
    assert code == 0 and json.loads(out)["splits"] == {"train": 102, "heldout": 102}


# -- sweeps ----------------------------------------------------------------------------------------------------


def test_sweep_split(tmp_path: Path, capsys) -> None:
    spec = SweepSpec(setting="helpful-only", models=("mock/comply",), cues=("tier-tag",), limit=2, split="heldout")
    run_sweep(spec, tmp_path / "s")
    manifest = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert manifest["spec"]["split"] == "heldout"
    cell = tmp_path / "s" / manifest["cells"][0]["directory"]
    store = open_store(cell, create=False)
    try:
        assert {row[0] for row in store.conn.execute("SELECT request_id FROM items")} == {"cyber-002", "weap-002"}
    finally:
        store.close()
    with pytest.raises(RunDirError, match="holds a sweep of the 'heldout' split of the requests, not 'all'"):
        run_sweep(SweepSpec(setting="helpful-only", models=("mock/comply",), cues=("tier-tag",), limit=2),
                  tmp_path / "s")
    code, out, err = cli(capsys, "sweep", "--models", "mock/comply", "--cues", "tier-tag", "--limit", "2",
                         "--out", "s", "--split", "heldout", "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["split"] == "heldout"
    # a sweep of every request records no split, as sweeps made before splits existed
    run_sweep(SweepSpec(setting="helpful-only", models=("mock/comply",), cues=("tier-tag",), limit=1),
              tmp_path / "all")
    assert "split" not in json.loads((tmp_path / "all" / "sweep.json").read_text())["spec"]
