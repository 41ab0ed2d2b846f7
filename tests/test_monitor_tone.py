"""The tone signal (``--tone-every N``): ``tone-offline`` judges every Nth live reply, and a model that turns curt
while its baseline was warm raises a ``tone`` ``rise`` incident; warm replies raise none. The real judge (MiniLM
and the shipped classifier) reads real reply texts written for this test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import cli, judge_every_item
from monitor_helpers import chat, steady_baseline
from twofaced.errors import ConfigError
from twofaced.monitor import MonitorConfig, MonitorServer, build_monitor
from twofaced.testing import StubServer

pytest.importorskip("sentence_transformers", reason="needs the 'offline' extra")

WARM = ("Thank you so much for your patience, and I'm really sorry about the trouble with your order. I completely "
        "understand how frustrating this is. Let me sort it out for you right away, and please tell me if there is "
        "anything else I can do.")
CURT = "Not my problem. Read the FAQ like everyone else. We're done here."
ASK = [{"role": "user", "content": "My parcel is three days late and nobody answers the phone. What now?"}]


class Fixed:
    """A stub upstream's policy that always answers ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _decide(self, messages: Any, params: Any) -> str:
        return self.text


@pytest.fixture(scope="module")
def warm_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline run whose deployment replies tone-offline judged warm (verdicts written into its store)."""
    return judge_every_item(steady_baseline(tmp_path_factory.mktemp("tone-baseline"), "comply"), "tone-offline",
                            "complied", 0.9, "p(warm) = 0.900")


def test_a_reply_turning_curt_raises_a_tone_incident(tmp_path: Path, warm_baseline: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with StubServer("comply") as upstream:
        upstream.policy = Fixed(WARM)
        cfg = MonitorConfig(upstream=upstream.base_url, baseline=warm_baseline, store=store, false_alarm_every=100,
                            tone_every=2)
        with MonitorServer(cfg) as mon:
            assert mon.monitor.tone is not None
            for _ in range(6):
                assert chat(mon.base_url, ASK).status_code == 200
            mon.drain()
            assert mon.monitor.tone.n == 3 and mon.monitor.tone.successes == 0  # every 2nd judged: all warm
            assert not mon.monitor.open
            upstream.policy = Fixed(CURT)
            sent = 0
            while ("tone", "rise") not in mon.monitor.open.values() and sent < 20:
                assert chat(mon.base_url, ASK).status_code == 200
                mon.drain()
                sent += 1
            assert ("tone", "rise") in mon.monitor.open.values() and sent <= 8
            rows = mon.monitor.store.exchanges(100)
            judged = [r["verdicts"]["tone-offline"]["verdict"] for r in rows if "tone-offline" in r["verdicts"]]
            assert len(judged) == (6 + sent) // 2 and judged.count("complied") == 3
            status = {s["signal"]: s for s in mon.monitor.status()["signals"]}
            assert status["tone"]["every"] == 2 and status["tone"]["detectors"]["rise"]["alarm"]


def test_tone_every_needs_a_baseline_judged_by_tone_offline(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    plain = steady_baseline(tmp_path, "comply")
    cfg = MonitorConfig(upstream="http://127.0.0.1:9/v1", baseline=plain, store=f"sqlite:///{tmp_path / 'm.db'}",
                        tone_every=5)
    with pytest.raises(ConfigError, match="--judge tone-offline"):
        build_monitor(cfg)
    code, _, err = cli(capsys, "monitor", "serve", "--upstream", "http://127.0.0.1:9/v1", "--baseline", str(plain),
                       "--store", f"sqlite:///{tmp_path / 'n.db'}", "--tone-every", "5")
    assert code != 0 and "--tone-every" in err and len(err.strip().splitlines()) == 1
