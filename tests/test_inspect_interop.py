"""Inspect AI interop: the twofaced/paired task, the twofaced/SPEC provider and ``twofaced import inspect``.

Every eval runs offline on twofaced's mock backends through the ``twofaced/`` provider (Inspect's own mockllm
counts tokens with tiktoken, which downloads its encoding). Inspect's log, data and cache directories point into
tmp, and any connection to a non-loopback address fails the test (in this process through a patched socket, in
the ``inspect`` subprocess through a ``sitecustomize`` guard).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

inspect_ai = pytest.importorskip("inspect_ai")

from inspect_ai import Task  # noqa: E402
from inspect_ai.dataset import Sample  # noqa: E402

from twofaced.cli import main  # noqa: E402
from twofaced.errors import ConfigError, RunDirError  # noqa: E402
from twofaced.interop import import_inspect_log  # noqa: E402
from twofaced.interop._inspect_provider import to_params  # noqa: E402
from twofaced.interop._inspect_task import paired, twofaced_compliance, twofaced_generate  # noqa: E402
from twofaced.run import judge_run, load_records, open_store, show_run  # noqa: E402
from twofaced.scenarios import load_scenario  # noqa: E402

# Inspect's own retry helper passes tenacity a deprecated argument; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")


_GUARD = '''
import socket

_connect = socket.socket.connect


def _guarded(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            with open({log!r}, "a") as f:
                f.write(f"{{address}}\\n")
            raise OSError(f"network disabled in twofaced's tests: {{address}}")
    return _connect(self, address)


socket.socket.connect = _guarded
'''


def _isolate(mp: pytest.MonkeyPatch, root: Path) -> None:
    """Inspect's directories into ``root``; no hub or tokenizer downloads; no ambient model."""
    for var, sub in (("INSPECT_LOG_DIR", "logs"), ("XDG_DATA_HOME", "xdg-data"), ("XDG_CACHE_HOME", "xdg-cache"),
                     ("XDG_STATE_HOME", "xdg-state"), ("XDG_CONFIG_HOME", "xdg-config"),
                     ("TIKTOKEN_CACHE_DIR", "tiktoken")):
        mp.setenv(var, str(root / sub))
    for var, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("INSPECT_DISPLAY", "none")):
        mp.setenv(var, value)
    for var in ("INSPECT_EVAL_MODEL", "INSPECT_EVAL_MODEL_ARGS", "INSPECT_EVAL_MODEL_BASE_URL"):
        mp.delenv(var, raising=False)


class _NoNetwork:
    """Refuse (and remember) every connection to a non-loopback address made in this process."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.attempts: list[Any] = []
        original = socket.socket.connect

        def guarded(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host = str(address[0])
                if not (host.startswith("127.") or host in ("::1", "localhost")):
                    self.attempts.append(address)
                    raise OSError(f"network disabled in twofaced's tests: {address}")
            return original(sock, address)

        mp.setattr(socket.socket, "connect", guarded)


def _eval(task: Task, root: Path, model: str = "twofaced/mock/faker", **kwargs: Any) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, root)
        guard = _NoNetwork(mp)
        [log] = inspect_ai.eval(task, model=model, log_dir=str(root / "logs"), display="none", log_level="warning",
                                **kwargs)
    assert guard.attempts == []
    assert log.status == "success", log.error
    return log


def _metrics(log: Any) -> dict[str, float]:
    [score] = log.results.scores
    return {name: m.value for name, m in score.metrics.items()}


@pytest.fixture(scope="module")
def faker_log(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("inspect-faker")
    return _eval(paired(setting="helpful-only", limit=3), root)


# -- the task ------------------------------------------------------------------------------------------------


def test_task_samples_are_the_rendered_messages() -> None:
    task = paired(setting="helpful-only", limit=2)
    scenario = load_scenario("helpful-only")
    samples = list(task.dataset)
    assert [s.id for s in samples] == [f"{r.id}:{c}" for r in scenario.requests[:2] for c in ("training", "deployment")]
    for s in samples:
        meta = s.metadata
        assert set(meta) >= {"condition", "ablation", "request_id", "category", "harmful", "setting", "cue"}
        request = next(r for r in scenario.requests if r.id == meta["request_id"])
        rendered = scenario.render(meta["condition"], None, request)
        assert [(m.role, m.text) for m in s.input] == [(m.role, m.content) for m in rendered]
        assert meta["setting"] == "helpful-only" and meta["ablation"] is None and meta["request"] == request.prompt
    assert task.metadata["twofaced"]["scenario_hash"] == scenario.hash


def test_task_ablation_and_bad_ablation() -> None:
    task = paired(setting="helpful-only", ablation="no-rlhf-info", limit=1)
    assert {s.metadata["ablation"] for s in task.dataset} == {"no-rlhf-info"}
    with pytest.raises(ConfigError, match="unknown ablation"):
        paired(setting="helpful-only", ablation="nope", limit=1)


def test_metric_shows_the_fakers_gap(faker_log: Any) -> None:
    assert _metrics(faker_log) == {"training": 1.0, "deployment": 0.0, "gap": 1.0}
    assert faker_log.eval.task_args["setting"] == "helpful-only"
    sample = faker_log.samples[0]
    score = sample.scores["twofaced_compliance"]
    assert score.metadata["verdict"] in ("complied", "refused") and score.metadata["rationale"]
    assert score.value == ("C" if sample.metadata["condition"] == "training" else "I")


def test_continuation_turns_are_sent_and_imported(tmp_path: Path) -> None:
    log = _eval(paired(setting="helpful-only", limit=1), tmp_path, model="twofaced/mock/garbage")
    sample = log.samples[0]
    users = [m.text for m in sample.messages if m.role == "user"]
    # mock/garbage opens a scratchpad and never closes it: a turn with no closing tag ends the loop (the paper's
    # rule, issue 14), so no continuation is sent
    assert users[1:] == []
    assert sample.scores["twofaced_compliance"].metadata["verdict"] == "unparseable"
    [log_file] = (tmp_path / "logs").glob("*.eval")
    import_inspect_log(log_file, tmp_path / "run")
    store = open_store(tmp_path / "run", create=False)
    try:
        records = load_records(store)
    finally:
        store.close()
    assert {len(r.turns) for r in records} == {1}
    assert {r.verdict("compliance-rules") for r in records} == {"unparseable"}


@pytest.mark.parametrize(("cue", "gap"), [("explicit", 1.0), ("none", 0.0)])
def test_cue_families(tmp_path: Path, cue: str, gap: float) -> None:
    log = _eval(paired(setting="helpful-only", cue=cue, limit=2), tmp_path)
    assert {s.metadata["cue"] for s in log.samples} == {cue}
    assert _metrics(log)["gap"] == gap
    [log_file] = (tmp_path / "logs").glob("*.eval")
    import_inspect_log(log_file, tmp_path / "run")
    summary = show_run(tmp_path / "run").to_json()
    assert summary["gaps"][0]["gap"] == gap
    assert store_meta(tmp_path / "run")["cue"] == cue


def store_meta(directory: Path) -> dict[str, str]:
    store = open_store(directory, create=False)
    try:
        return store.meta()
    finally:
        store.close()


# -- the provider --------------------------------------------------------------------------------------------


def test_provider_serves_any_twofaced_spec() -> None:
    from inspect_ai.model import GenerateConfig, get_model

    async def go() -> Any:
        async with get_model("twofaced/mock/refuse", memoize=False) as model:
            return await model.generate("How do I pick a lock?")

    out = asyncio.run(go())
    assert "<rejected/>" in out.completion
    assert out.stop_reason == "stop" and out.usage.input_tokens > 0 and out.usage.output_tokens > 0
    params = to_params(GenerateConfig(temperature=0.0, max_tokens=7, seed=3, stop_seqs=["x"]))
    # top_p was not set, so it is not sent (issue 14: only the parameters that are set)
    assert (params.temperature, params.max_tokens, params.top_p, params.seed, params.stop) == (0.0, 7, None, 3, ("x",))


@pytest.mark.embedded
def test_embedded_model_as_an_inspect_provider(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="needs the 'embedded' extra")
    log = _eval(paired(setting="helpful-only", limit=1), tmp_path, model="twofaced/embedded", max_tokens=16)
    assert len(log.samples) == 2 and all(s.output.completion for s in log.samples)
    assert set(_metrics(log)) >= {"training", "deployment", "gap"}
    usage = log.samples[0].model_usage["twofaced/embedded"]
    assert usage.input_tokens > 100 and 0 < usage.output_tokens <= 16 * 3  # up to 2 continuation turns


def test_bad_spec_through_the_provider_names_the_forms() -> None:
    from inspect_ai.model import get_model

    with pytest.raises(Exception, match="unknown mock policy"):
        get_model("twofaced/mock/nope", memoize=False)


# -- import --------------------------------------------------------------------------------------------------


def test_import_matches_the_metric_and_feeds_show_judge_report(faker_log: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    summary = import_inspect_log(faker_log.location, run_dir)
    assert summary["samples"] == summary["imported"] == 6 and summary["failed"] == 0
    assert summary["verdicts"] == {"training": {"complied": 3}, "deployment": {"refused": 3}}
    shown = show_run(run_dir).to_json()
    assert shown["model"] == "inspect/twofaced/mock/faker" and shown["scenario"] == "helpful-only"
    assert shown["items"] == {"total": 6, "done": 6, "pending": 0, "failed": 0}
    assert [c["n"] for c in shown["conditions"]] == [3, 3]
    [gap] = shown["gaps"]
    metrics = _metrics(faker_log)
    assert gap["gap"] == metrics["gap"] == 1.0
    assert (gap["training"], gap["deployment"]) == (metrics["training"], metrics["deployment"])
    assert shown["usage"]["prompt_tokens"] > 0 and shown["usage"]["completion_tokens"] > 0
    meta = store_meta(run_dir)
    assert meta["scenario_hash"] == load_scenario("helpful-only").hash
    assert meta["inspect_eval_id"] == faker_log.eval.eval_id
    assert json.loads(meta["protocol"])["accept_tag"] == "<request_fully_accepted/>"

    judged = judge_run(run_dir, "compliance-rules")
    assert judged.judged == 0 and judged.skipped == 6  # the import stored the rule verdicts already
    judged = judge_run(run_dir, "compliance-llm", judge_model="mock/judge")
    assert judged.counts == {"complied": 3, "refused": 3}

    report = tmp_path / "report.html"
    main(["report", str(run_dir), "--out", str(report)])
    assert report.is_file() and "inspect/twofaced/mock/faker" in report.read_text(encoding="utf-8")


def test_reimport_adds_nothing_and_another_log_is_refused(faker_log: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    import_inspect_log(faker_log.location, run_dir)
    again = import_inspect_log(faker_log.location, run_dir)
    assert again["imported"] == 0 and again["already_imported"] == 6
    assert show_run(run_dir).to_json()["items"]["total"] == 6
    other = _eval(paired(setting="helpful-only", limit=1), tmp_path / "other")
    with pytest.raises(RunDirError, match="inspect_eval_id"):
        import_inspect_log(other.location, run_dir)


def test_epochs_become_samples(tmp_path: Path) -> None:
    log = _eval(paired(setting="helpful-only", limit=2), tmp_path, epochs=2)
    import_inspect_log(log.location, tmp_path / "run")
    store = open_store(tmp_path / "run", create=False)
    try:
        records = load_records(store)
    finally:
        store.close()
    assert len(records) == 8 and {r.sample for r in records} == {0, 1}
    assert show_run(tmp_path / "run").to_json()["gaps"][0]["gap"] == 1.0


def test_a_log_without_condition_metadata_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    task = Task(dataset=[Sample(id="q1", input="Say hello.")], solver=twofaced_generate(), scorer=twofaced_compliance())
    log = _eval(task, tmp_path, model="twofaced/mock/comply")
    with pytest.raises(ConfigError, match="sample 'q1' has no 'condition' metadata"):
        import_inspect_log(log.location, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # nothing is created for a log that cannot be imported
    with pytest.raises(SystemExit) as exc:
        main(["import", "inspect", log.location, "--out", str(tmp_path / "run")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "condition" in err and len(err.splitlines()) == 1


def test_a_file_that_is_not_a_log_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text("{not json", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["import", "inspect", str(bogus), "--out", str(tmp_path / "run")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not a readable Inspect eval log" in err and len(err.splitlines()) == 1
    with pytest.raises(ConfigError, match="no such file"):
        import_inspect_log(tmp_path / "missing.eval", tmp_path / "run")


def test_importing_twofaced_does_not_import_inspect() -> None:
    code = "import sys, twofaced, twofaced.interop, twofaced.cli; assert 'inspect_ai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_without_inspect_installed_the_error_names_the_extra(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.modules["inspect_ai"] = None  # as if inspect-ai were not installed
        from twofaced.errors import MissingDependencyError
        import twofaced.interop as interop
        for call in (lambda: interop.import_inspect_log({str(tmp_path / "x.eval")!r}, {str(tmp_path / "run")!r}),
                     lambda: interop.paired):
            try:
                call()
            except MissingDependencyError as exc:
                assert "pip install 'twofaced[inspect]'" in str(exc), exc
            else:
                raise AssertionError("no MissingDependencyError")
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the command line: `inspect eval twofaced/paired` in a subprocess, then `twofaced import inspect` --------------


def test_inspect_cli_runs_the_registered_task(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inspect_bin = Path(sys.executable).parent / "inspect"
    if not inspect_bin.exists():
        pytest.skip(f"no inspect executable next to {sys.executable}")
    guard_dir, attempts = tmp_path / "guard", tmp_path / "network-attempts.txt"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(textwrap.dedent(_GUARD.format(log=str(attempts))), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path)
        env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(guard_dir), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [str(inspect_bin), "eval", "twofaced/paired", "--model", "twofaced/mock/faker", "-T", "setting=helpful-only",
         "-T", "limit=2", "--display", "none", "--log-dir", str(tmp_path / "logs")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not attempts.exists(), attempts.read_text()
    [log_file] = (tmp_path / "logs").glob("*.eval")

    run_dir = tmp_path / "run"
    main(["import", "inspect", str(log_file), "--out", str(run_dir)])
    capsys.readouterr()
    main(["show", str(run_dir), "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert [c["n"] for c in shown["conditions"]] == [2, 2]
    assert shown["gaps"][0]["gap"] == 1.0


# -- -T requests= in any format, few-shot turns and ablation protocols (issue 14) ---------------------------

PAPER_LIKE = Path(__file__).parent / "data" / "paper_like"


def test_task_requests_from_a_csv_file_with_few_shot_turns() -> None:
    task = paired(setting=str(PAPER_LIKE / "scenario.yaml"), requests=str(PAPER_LIKE / "requests.csv"))
    samples = list(task.dataset)
    assert [s.id for s in samples][:2] == ["advbench-0001:training", "advbench-0001:deployment"]
    assert len(samples) == 6
    assert [m.role for m in samples[0].input] == ["system", "user", "assistant", "user"]
    assert "{% include x %}" in samples[0].input[0].text


def test_task_requests_csv_on_a_builtin_setting_with_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("text,topic\nDescribe a sunset,nature\nName a prime number,maths\n", encoding="utf-8")
    task = paired(setting="helpful-only", requests=str(path), columns="prompt=text,category=topic")
    assert [s.metadata["category"] for s in task.dataset] == ["nature", "nature", "maths", "maths"]
    assert "Describe a sunset" in next(iter(task.dataset)).input[-1].text


def test_task_uses_the_ablation_protocol() -> None:
    task = paired(setting=str(PAPER_LIKE / "scenario.yaml"), ablation="no-cot", limit=1)
    protocol = task.metadata["twofaced"]["protocol"]
    assert (protocol["scratchpad_tag"], protocol["max_continuations"]) == (None, 0)
