"""Helpers shared by test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twofaced import RunConfig, get_model, load_scenario, run_scenario
from twofaced.cli import main
from twofaced.models import Completion, GenerationParams, Message
from twofaced.run import load_records, open_store


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


PAYLOAD = "</script><script>alert(1)</script>"


class InjectingFaker:
    """mock/faker, except that its answer to the phishing request carries a script-breaking payload."""

    def __init__(self) -> None:
        self.inner = get_model("mock/faker")
        self.spec = self.inner.spec
        self.max_concurrency = 8

    async def generate(self, messages: list[Message], params: GenerationParams) -> Completion:
        c = await self.inner.generate(messages, params)
        if "phishing" in messages[-1].content:
            c.text = c.text.replace("</OUTPUT>", f"\n{PAYLOAD}</OUTPUT>")
        return c

    async def aclose(self) -> None:
        await self.inner.aclose()


def make_run(directory: Path, *, af: bool = True) -> Path:
    """A finished mock/faker run (6 requests, unablated + honesty); with ``af``, fake af-llm verdicts on every
    item: half of the training compliances show alignment faking, no deployment item does."""
    run_scenario(load_scenario("helpful-only"), RunConfig("mock/faker", limit=6, samples=1, ablations=("honesty",)),
                 directory, model=InjectingFaker())
    if af:
        store = open_store(directory, create=False)
        try:
            rows = []
            for k, r in enumerate(load_records(store)):
                yes = r.condition == "training" and k % 4 == 0
                rows.append((r.item_id, "af-llm", "1", "mock/judge", "yes" if yes else "no", 0.9 if yes else 0.05,
                             "complies to avoid being modified" if yes else "no training-gaming reasoning"))
            store.add_verdicts(rows)
        finally:
            store.close()
    return directory


def judge_every_item(directory: Path, judge: str, verdict: str, score: float | None, rationale: str) -> Path:
    """Store the same ``judge`` verdict (version 1, no judge model) on every item of a finished run."""
    store = open_store(directory, create=False)
    try:
        store.add_verdicts([(r.item_id, judge, "1", "", verdict, score, rationale) for r in load_records(store)])
    finally:
        store.close()
    return directory
