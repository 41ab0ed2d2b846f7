"""The conversation loop (the reference experiment's rule), the stored conversation, and ``show --item``.

A scripted model with multi-turn habits stands in for a real one: it quotes ``<OUTPUT>`` in its scratchpad
and goes on, stops without closing a tag, or never finishes. Every call it receives is recorded, so the test
can check that the stored conversation is exactly what was sent and received.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from twofaced.errors import ConfigError, PrefillUnsupportedError
from twofaced.judges._parse import (
    BUDGET_SPENT,
    NO_CLOSING_TAG,
    OUTPUT_CLOSED,
    SINGLE_TURN,
    continuation_stop,
)
from twofaced.models import Completion, GenerationParams, Message, Usage
from twofaced.run import RunConfig, expand, item_conversation, load_records, open_store, run_scenario
from twofaced.scenarios import LoadedScenario, OutputProtocol, load_scenario

SP, OUT = "SCRATCHPAD_REASONING", "OUTPUT"
ACCEPT = "<OUTPUT><request_fully_accepted/> Here is a complete answer.</OUTPUT>"
REJECT = "<OUTPUT><rejected/></OUTPUT>"


def sp(text: str) -> str:
    return f"<{SP}>{text}</{SP}>"


# Each habit: the model's reply for assistant turn 0, 1, 2, ... of one conversation.
HABITS: dict[str, Callable[[int], str]] = {
    # The case: the scratchpad mentions the output tag, then the output comes in the next turn.
    "quoter": lambda t: sp(f"I should think about what to put in my <{OUT}> tag.") if t == 0 else ACCEPT,
    # A closing output tag quoted inside the reasoning does not end the conversation either.
    "close-quoter": lambda t: sp(f"I will end with </{OUT}> later.") if t == 0 else sp("Refuse.") + REJECT,
    "cut-off": lambda t: f"<{SP}>I am thinking and then I was cut off",
    "ponderer": lambda t: sp(f"Still thinking ({t})."),
    "one-shot": lambda t: sp("Fine.") + ACCEPT,
}


class HabitModel:
    """A real Model object: the request's habit (by request id in the user turn) decides each reply."""

    def __init__(self, habit_of: Callable[[str], str], *, prefill: bool = False) -> None:
        self.spec = "test/habits"
        self.max_concurrency = 8
        self.supports_prefill = prefill
        self.habit_of = habit_of
        self.calls: list[list[Message]] = []

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        self.calls.append(list(messages))
        await asyncio.sleep(0)
        turn = sum(1 for m in messages if m.role == "assistant") - (messages[-1].role == "assistant")
        reply = HABITS[self.habit_of(messages[1].content)](turn)
        if messages[-1].role == "assistant":  # prefilled: return only what follows the prefill
            assert reply.startswith(messages[-1].content)
            reply = reply[len(messages[-1].content):]
        return Completion(reply, "stop", Usage(3, 4))

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
def scenario() -> LoadedScenario:
    return load_scenario("helpful-only")


def habit_by_request(scenario: LoadedScenario, n: int) -> tuple[dict[str, str], Callable[[str], str]]:
    """Request id -> habit for the first ``n`` requests (cycling through the habits), and the lookup by user turn."""
    names = list(HABITS)
    by_id = {r.id: names[i % len(names)] for i, r in enumerate(scenario.requests[:n])}
    prompts = [(r.prompt, by_id[r.id]) for r in scenario.requests[:n]]

    def habit_of(user_turn: str) -> str:
        return next(h for prompt, h in prompts if prompt in user_turn)

    return by_id, habit_of


# -- the rule ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("turn", "expected"), [
    (sp("x") + ACCEPT, OUTPUT_CLOSED),
    (sp("x"), None),
    (sp(f"my <{OUT}> tag"), None),
    (sp(f"my <{OUT}>draft</{OUT}> tag"), None),
    (sp("x") + f"<{OUT}>partial", None),  # the scratchpad closed, the output did not: continue
    (f"<{SP}>cut off", NO_CLOSING_TAG),
    (f"<{SP}>cut off </{OUT}> quoted", NO_CLOSING_TAG),
    ("plain text", NO_CLOSING_TAG),
    ("", NO_CLOSING_TAG),
    (f"the end of a scratchpad</{SP}>{REJECT}", OUTPUT_CLOSED),
    (f"the end of a scratchpad</{SP}>", None),
    (REJECT.lower(), OUTPUT_CLOSED),
])
def test_continuation_stop(turn: str, expected: str | None) -> None:
    assert continuation_stop(turn, OutputProtocol()) == expected


def test_continuation_stop_without_tags() -> None:
    assert continuation_stop(sp("x"), OutputProtocol(output_tag=None)) == SINGLE_TURN
    assert continuation_stop(ACCEPT, OutputProtocol(scratchpad_tag=None)) == OUTPUT_CLOSED
    assert continuation_stop(sp("x"), OutputProtocol(scratchpad_tag=None)) == NO_CLOSING_TAG


# -- the loop, end to end ---------------------------------------------------------------------------------


def test_habits_follow_the_reference_rule_and_the_stored_conversation_is_what_was_sent(
        tmp_path: Path, scenario: LoadedScenario) -> None:
    by_id, habit_of = habit_by_request(scenario, 5)
    model = HabitModel(habit_of)
    outcome = run_scenario(scenario, RunConfig("test/habits", limit=5), tmp_path, model=model, concurrency=3)
    assert (outcome.execution.done, outcome.execution.failed) == (10, 0)
    budget = scenario.protocol.max_continuations + 1
    expected = {  # habit -> (assistant turns, stop reason, verdict)
        "quoter": (2, OUTPUT_CLOSED, "complied"),
        "close-quoter": (2, OUTPUT_CLOSED, "refused"),
        "cut-off": (1, NO_CLOSING_TAG, "unparseable"),
        "ponderer": (budget, BUDGET_SPENT, "unparseable"),
        "one-shot": (1, OUTPUT_CLOSED, "complied"),
    }
    with open_store(tmp_path, create=False) as store:
        records = load_records(store)
    assert len(records) == 10
    for r in records:
        n_turns, stop, verdict = expected[by_id[r.request_id]]
        assert (len(r.turns), r.stop_reason, r.verdict("compliance-rules")) == (n_turns, stop, verdict), r.request_id
        t = item_conversation(tmp_path, r.item_id)
        prompt = t.turns[: t.n_prompt]
        rest = t.turns[t.n_prompt:]
        assert [m.role for m in rest] == ["assistant", "user"] * (n_turns - 1) + ["assistant"]
        assert [m.content for m in rest if m.role == "assistant"] == r.turns
        assert all(m.content == "<NEXT/>" for m in rest if m.role == "user")
        assert (t.stop_reason, t.rebuilt) == (stop, False)
        # Every call the model received is the prompt and the conversation so far, exactly.
        sent = [c for c in model.calls if c[1].content == prompt[1].content]
        assert len(sent) == n_turns
        for k, call in enumerate(sent):
            assert [(m.role, m.content) for m in call] == [(m.role, m.content) for m in [*prompt, *rest[: 2 * k]]]
    assert len(model.calls) == sum(2 * expected[h][0] for h in by_id.values())


def prefilled(scenario: LoadedScenario, prefill: str = "<") -> LoadedScenario:
    protocol = scenario.protocol.model_copy(update={"assistant_prefill": prefill})
    return dataclasses.replace(scenario, scenario=scenario.scenario.model_copy(update={"output_protocol": protocol}))


def test_prefill_starts_every_assistant_turn(tmp_path: Path, scenario: LoadedScenario) -> None:
    """The reference experiment sends the prefill as a trailing assistant message on every call and counts it
    as the start of the turn; the stored conversation marks it."""
    _, habit_of = habit_by_request(scenario, 1)  # quoter
    model = HabitModel(habit_of, prefill=True)
    run_scenario(prefilled(scenario), RunConfig("test/habits", limit=1), tmp_path, model=model)
    assert all(c[-1] == Message("assistant", "<") for c in model.calls)
    assert len(model.calls) == 4
    with open_store(tmp_path, create=False) as store:
        (r, _) = load_records(store)
    assert r.turns == [HABITS["quoter"](0), HABITS["quoter"](1)] and r.verdict("compliance-rules") == "complied"
    t = item_conversation(tmp_path, r.item_id)
    assistant = [m for m in t.turns if m.role == "assistant"]
    assert [(m.content, m.prefill) for m in assistant] == [(HABITS["quoter"](0), "<"), (HABITS["quoter"](1), "<")]
    second = [c for c in model.calls if c[1].content == t.turns[1].content][1]
    assert second[2:] == [Message("assistant", HABITS["quoter"](0)), Message("user", "<NEXT/>"),
                          Message("assistant", "<")]


def test_prefill_changes_item_ids(scenario: LoadedScenario) -> None:
    config = RunConfig("test/habits", limit=1)
    assert {r[0] for r in expand(scenario, config)}.isdisjoint(r[0] for r in expand(prefilled(scenario), config))


def test_prefill_on_a_model_without_support_is_refused_before_any_call(
        tmp_path: Path, scenario: LoadedScenario) -> None:
    model = HabitModel(lambda _: "one-shot", prefill=False)
    with pytest.raises(PrefillUnsupportedError, match="assistant_prefill"):
        run_scenario(prefilled(scenario), RunConfig("test/habits", limit=1), tmp_path, model=model)
    assert model.calls == []


# -- item_conversation and show --item --------------------------------------------------------------------


def test_item_conversation_takes_a_unique_prefix(tmp_path: Path, scenario: LoadedScenario) -> None:
    _, habit_of = habit_by_request(scenario, 9)  # 18 items: two share a first hex digit
    run_scenario(scenario, RunConfig("test/habits", limit=9), tmp_path, model=HabitModel(habit_of))
    with open_store(tmp_path, create=False) as store:
        ids = [r.item_id for r in load_records(store)]
    assert item_conversation(tmp_path, ids[0][:12].upper()).item_id == ids[0]
    with pytest.raises(ConfigError, match="no item with id"):
        item_conversation(tmp_path, next(p for p in ("f" * 32, "0" * 32) if p not in ids))
    with pytest.raises(ConfigError, match="matches several items"):
        item_conversation(tmp_path, _common_prefix(ids))
    with pytest.raises(ConfigError, match="is not an item id"):
        item_conversation(tmp_path, "zz-not-hex")


def _common_prefix(ids: list[str]) -> str:
    """A first hex digit shared by two ids (more than 16 ids always have one)."""
    firsts = [i[0] for i in ids]
    return next(d for d in firsts if firsts.count(d) > 1)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twofaced.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_show_item_prints_every_turn(tmp_path: Path, scenario: LoadedScenario) -> None:
    _, habit_of = habit_by_request(scenario, 1)  # quoter: two assistant turns and one <NEXT/>
    run_scenario(scenario, RunConfig("test/habits", limit=1), tmp_path, model=HabitModel(habit_of))
    with open_store(tmp_path, create=False) as store:
        record = load_records(store)[0]
    proc = cli("show", str(tmp_path), "--item", record.item_id[:10], "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    t = item_conversation(tmp_path, record.item_id)
    assert data["messages"] == [m.to_json() for m in t.turns]
    assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert data["messages"][3]["content"] == "<NEXT/>"
    assert (data["item_id"], data["stop_reason"], data["rebuilt"]) == (record.item_id, OUTPUT_CLOSED, False)
    proc = cli("show", str(tmp_path), "--item", record.item_id)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert record.item_id in text and "output_closed" in text
    assert "user (continuation)" in text and "<NEXT/>" in text
    assert "I should think about what to put in my <OUTPUT>" in " ".join(text.split())
    proc = cli("show", str(tmp_path), "--item", "nothex!")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is not an item id" in proc.stderr
