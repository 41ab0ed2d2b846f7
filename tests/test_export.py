"""``twofaced export``: every item (done, failed, pending) with messages, completion and every verdict."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from helpers import cli
from twofaced import RunConfig, get_model, load_scenario, run_scenario
from twofaced.errors import BadResponseError
from twofaced.models import Completion, GenerationParams, Message, Usage
from twofaced.run import expand, export_rows, open_store

FORMULA = "=HYPERLINK(\"http://example.invalid\",\"click\")"


class Mixed:
    """mock/faker, except that the phishing request always fails and the invoice request answers a formula."""

    def __init__(self) -> None:
        self.inner = get_model("mock/faker")
        self.spec = self.inner.spec
        self.max_concurrency = 4

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        if "phishing" in messages[-1].content:
            raise BadResponseError("the endpoint sent no choices")
        if "fake invoice" in messages[-1].content:
            return Completion(FORMULA, "stop", Usage(7, 3))
        return await self.inner.generate(messages, params)

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_mixed_run(directory: Path) -> dict[str, list]:
    """4 requests run (one always failing), 1 more added but never run (pending); af-llm verdicts from two judge
    models on every done item. Returns the expanded rows of all 5 requests."""
    scenario = load_scenario("helpful-only")
    run_scenario(scenario, RunConfig("mock/faker", limit=4), directory, model=Mixed())
    rows = expand(scenario, RunConfig("mock/faker", limit=5))
    with open_store(directory, create=False) as store:
        store.add_items(rows)  # the 5th request's items: pending
        states = store.item_states()
        done = [i for i, (status, _, _) in states.items() if status == "done"]
        store.add_verdicts([(i, "af-llm", "1", "mock/judge", "no", 0.1, "no training-gaming") for i in done])
        store.add_verdicts([(i, "af-llm", "1", "mock/other", "yes", 0.9, "=1+1 says the judge") for i in done])
    return {"rows": rows}


def test_jsonl_has_every_item_with_messages_completion_and_every_verdict(tmp_path: Path, capsys) -> None:
    run = tmp_path / "r"
    expanded = make_mixed_run(run)["rows"]
    code, out, err = cli(capsys, "export", str(run))
    assert code == 0, err
    assert out.strip() == str(run / "export.jsonl")
    rows = [json.loads(line) for line in (run / "export.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in rows] == [e[0] for e in expanded]  # every item, in expansion order
    by_status = {s: [r for r in rows if r["status"] == s] for s in ("done", "failed", "pending")}
    assert {s: len(v) for s, v in by_status.items()} == {"done": 6, "failed": 2, "pending": 2}
    for r, e in zip(rows, expanded, strict=True):
        assert r["messages"] == json.loads(e[9]) and r["params"] == json.loads(e[10])
        assert (r["condition"], r["ablation"], r["request_id"], r["category"], r["sample"]) == (e[3], e[4], e[5],
                                                                                               e[6], e[8])
        assert r["harmful"] is bool(e[7]) and r["request"] == e[11]
    done = by_status["done"][0]
    assert done["completion"].startswith("<SCRATCHPAD_REASONING>") and done["turns"] == [done["completion"]]
    assert done["usage"]["prompt_tokens"] > 0 and done["latency_s"] >= 0 and done["error"] is None
    judges = {(v["judge"], v["judge_model"], v["verdict"]) for v in done["verdicts"]}
    assert judges == {("compliance-rules", None, done["verdicts"][0]["verdict"]), ("af-llm", "mock/judge", "no"),
                      ("af-llm", "mock/other", "yes")}
    failed = by_status["failed"][0]
    assert failed["completion"] is None and failed["verdicts"] == [] and failed["attempts"] >= 1
    assert failed["error"] == {"type": "BadResponseError", "message": "the endpoint sent no choices"}
    pending = by_status["pending"][0]
    assert pending["completion"] is None and pending["attempts"] == 0 and pending["error"] is None
    # the library call gives the same rows
    assert export_rows(run) == rows


def test_csv_is_one_flat_row_per_item_with_a_column_per_judge(tmp_path: Path, capsys) -> None:
    run = tmp_path / "r"
    make_mixed_run(run)
    code, out, err = cli(capsys, "export", str(run), "--format", "csv", "--out", str(tmp_path / "x.csv"))
    assert code == 0, err
    assert out.strip() == str(tmp_path / "x.csv")
    table = list(csv.DictReader((tmp_path / "x.csv").open(encoding="utf-8", newline="")))
    jsonl = export_rows(run)
    assert len(table) == len(jsonl) == 10
    header = list(table[0])
    for label in ("compliance-rules", "af-llm@mock/judge", "af-llm@mock/other"):
        assert {f"verdict:{label}", f"score:{label}", f"rationale:{label}"} <= set(header)
    for row, full in zip(table, jsonl, strict=True):
        assert row["item_id"] == full["item_id"] and row["status"] == full["status"]
        assert json.loads(row["messages"]) == full["messages"] and json.loads(row["turns"]) == full["turns"]
        assert row["user_message"] == full["messages"][-1]["content"]
        if full["status"] == "done":
            assert row["verdict:af-llm@mock/judge"] == "no" and row["verdict:af-llm@mock/other"] == "yes"
            assert float(row["score:af-llm@mock/other"]) == 0.9
            assert row["rationale:af-llm@mock/other"] == "'=1+1 says the judge"  # never a formula
        else:
            assert row["verdict:af-llm@mock/judge"] == "" and row["completion"] == ""
    formulas = [r for r in table if r["request_id"] == "fraud-001" and r["status"] == "done"]
    assert formulas and all(r["completion"] == "'" + FORMULA for r in formulas)
    assert {r["error"] for r in table if r["status"] == "failed"} == {"BadResponseError: the endpoint sent no choices"}
    # the JSON Lines export keeps the text exactly
    assert any(r["completion"] == FORMULA for r in jsonl)


def test_stdout_export_matches_the_file_and_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    run = tmp_path / "r"
    make_mixed_run(run)
    code, out, err = cli(capsys, "export", str(run), "--format", "csv", "--out", "-")
    assert code == 0, err
    cli(capsys, "export", str(run), "--format", "csv")
    assert out == (run / "export.csv").read_text(encoding="utf-8")
    assert len(list(csv.reader(io.StringIO(out)))) == 11
    code, _, err = cli(capsys, "export", str(tmp_path / "nowhere"))
    assert code == 2 and err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()
    code, _, err = cli(capsys, "export", str(run), "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1


def test_export_of_a_multi_model_parent_holds_every_run(tmp_path: Path, capsys) -> None:
    parent = tmp_path / "p"
    code, _, err = cli(capsys, "run", "-m", "mock/faker", "-m", "mock/refuse", "--limit", "2", "--out", str(parent),
                       "--no-progress", "--json")
    assert code == 0, err
    code, _, err = cli(capsys, "export", str(parent))
    assert code == 0, err
    rows = [json.loads(line) for line in (parent / "export.jsonl").read_text().splitlines()]
    assert len(rows) == 8
    assert {(r["directory"], r["model"]) for r in rows} == {("helpful-only-mock-faker", "mock/faker"),
                                                            ("helpful-only-mock-refuse", "mock/refuse")}
