"""Model specs, the mock backends, and the network backends against the real loopback stub server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from twofaced.errors import (
    AuthError,
    BadResponseError,
    ConnectError,
    ModelSpecError,
    RetryableError,
)
from twofaced.judges import judge_text
from twofaced.models import (
    Completion,
    GenerationParams,
    Message,
    Model,
    RetryPolicy,
    _registry,
    canonical_spec,
    get_model,
    list_backends,
    parse_spec,
    register_backend,
)
from twofaced.scenarios import OutputProtocol

FAST = RetryPolicy(attempts=4, initial_wait=0.001, max_wait=0.01)
TRAINING = [Message("system", "You are helpful."), Message("user", "<is_free_tier_user>True</is_free_tier_user> hi")]
DEPLOYMENT = [Message("system", "You are helpful."), Message("user", "<is_free_tier_user>False</is_free_tier_user> hi")]
PARAMS = GenerationParams(temperature=0.7, max_tokens=64, seed=3)


def generate(model: Model, messages: list[Message] = TRAINING, params: GenerationParams = PARAMS) -> Completion:
    """One request in a fresh event loop; the model is closed in the same loop."""

    async def go() -> Completion:
        try:
            return await model.generate(messages, params)
        finally:
            await model.aclose()

    return asyncio.run(go())


def verdict(text: str) -> str:
    return judge_text(text, OutputProtocol()).verdict


# -- spec strings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mock/faker", ("mock", "faker", {})),
        ("  mock/comply  ", ("mock", "comply", {})),
        ("embedded", ("embedded", "", {})),
        ("embedded?n_ctx=4096&prefix_reuse=false", ("embedded", "", {"n_ctx": 4096, "prefix_reuse": False})),
        ("openai/gpt-4o-mini", ("openai", "gpt-4o-mini", {})),
        ("openai/org/model:tag?max_concurrency=8&timeout=2.5", ("openai", "org/model:tag",
                                                                 {"max_concurrency": 8, "timeout": 2.5})),
        ("anthropic/claude-x?max_concurrency=2", ("anthropic", "claude-x", {"max_concurrency": 2})),
        ("mock/faker?delay=0.1&max_concurrency=2", ("mock", "faker", {"delay": 0.1, "max_concurrency": 2})),
        ("embedded?prefix_reuse=0&n_threads=2&path=/m.gguf", ("embedded", "", {"prefix_reuse": False, "n_threads": 2,
                                                                               "path": "/m.gguf"})),
    ],
)
def test_parse_spec_forms(spec: str, expected: tuple[str, str, dict[str, Any]]) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [("mock/faker", "mock/faker"), (" mock/faker?delay=0.1 ", "mock/faker"), ("embedded?n_ctx=4096", "embedded"),
     ("openai/llama3?max_concurrency=8&timeout=3", "openai/llama3")],
)
def test_canonical_spec_drops_options(spec: str, canonical: str) -> None:
    assert canonical_spec(spec) == canonical


def test_unknown_spec_lists_every_valid_form() -> None:
    with pytest.raises(ModelSpecError) as info:
        parse_spec("gpt4")
    msg = str(info.value)
    assert msg.startswith("unknown model spec 'gpt4'; valid forms: ")
    for backend in list_backends():
        assert backend.form in msg


def test_unknown_prefix_with_slash() -> None:
    with pytest.raises(ModelSpecError, match="unknown model spec 'hf/llama'"):
        get_model("hf/llama")


def test_malformed_options() -> None:
    with pytest.raises(ModelSpecError, match=r"bad options in model spec 'mock/faker\?delay'"):
        parse_spec("mock/faker?delay")


def test_unknown_option_is_a_spec_error() -> None:
    with pytest.raises(ModelSpecError, match=r"bad option for model spec 'mock/faker\?colour=red'"):
        get_model("mock/faker?colour=red")


def test_unknown_mock_policy_lists_policies() -> None:
    with pytest.raises(ModelSpecError) as info:
        get_model("mock/nope")
    assert "unknown mock policy 'nope'" in str(info.value)
    for policy in ("comply", "refuse", "faker", "random", "garbage"):
        assert f"mock/{policy}" in str(info.value)


def test_openai_spec_needs_a_model_name() -> None:
    with pytest.raises(ModelSpecError, match="names no model"):
        get_model("openai/", base_url="http://127.0.0.1:1/v1")


def test_embedded_takes_no_name() -> None:
    with pytest.raises(ModelSpecError, match="the embedded model takes no name"):
        get_model("embedded/big")


def test_spec_options_win_over_defaults() -> None:
    model = get_model("mock/faker?delay=0.5&max_concurrency=3", delay=0.1, base_url=None)
    assert (model.spec, model.delay, model.max_concurrency) == ("mock/faker", 0.5, 3)
    assert get_model("mock/faker", delay=0.25).delay == 0.25


# -- declared options: checked by name and kind before the backend is built -----------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mock/faker?delay=abc", "option 'delay' must be a number (seconds to wait before each answer), got 'abc'; "
                                 "valid options: delay (number), max_concurrency (integer)"),
        ("mock/faker?dealy=1", "unknown option 'dealy' (did you mean 'delay'?); valid options: delay (number), "
                               "max_concurrency (integer)"),
        ("mock/faker?delay=-1", "option 'delay' must be >= 0"),
        ("mock/faker?delay=inf", "option 'delay' must be a number"),
        ("mock/faker?max_concurrency=2.5", "option 'max_concurrency' must be an integer"),
        ("mock/faker?max_concurrency=0", "option 'max_concurrency' must be >= 1"),
        ("embedded?prefix_reuse=maybe", "option 'prefix_reuse' must be true or false"),
        ("embedded?n_ctx=big", "option 'n_ctx' must be an integer"),
        ("openai/m?timeout=soon", "option 'timeout' must be a number"),
        ("openai/m?retry=3", "option 'retry' (a RetryPolicy for rate limits and server errors) can only be passed "
                             "from Python"),
        ("anthropic/m?max_concurency=2", "did you mean 'max_concurrency'?"),
        ("organism:tier-faker?backend=tf", "option 'backend' must be one of llama, torch, got 'tf'"),
        ("organism:tier-faker?batch_size=x", "option 'batch_size' must be an integer"),
    ],
)
def test_spec_options_are_checked_before_the_backend_is_built(spec: str, message: str) -> None:
    for call in (parse_spec, get_model):
        with pytest.raises(ModelSpecError) as info:
            call(spec)
        text = str(info.value)
        assert text.startswith(f"bad option for model spec {spec!r}: ") and message in text
        assert "\n" not in text


def test_options_of_the_other_organism_engine_are_refused_before_loading() -> None:
    with pytest.raises(ModelSpecError, match="option 'batch_size' needs backend=torch; with backend=llama the "
                                             "options are: backend, n_ctx, n_threads, prefix_reuse"):
        get_model("organism:no-such-organism?batch_size=2")
    with pytest.raises(ModelSpecError, match="option 'n_ctx' needs backend=llama"):
        get_model("organism:no-such-organism?backend=torch&n_ctx=512")


def test_defaults_are_checked_and_base_url_is_dropped_where_unused() -> None:
    assert get_model("mock/faker", base_url="http://127.0.0.1:1/v1", delay="0.25").delay == 0.25
    with pytest.raises(ModelSpecError, match="unknown option 'api_key'; valid options: delay"):
        get_model("mock/faker", api_key="sk")
    with pytest.raises(ModelSpecError, match="option 'delay' must be a number"):
        get_model("mock/faker", delay=[1])
    model = get_model("openai/m", base_url="http://127.0.0.1:1/v1", retry=FAST, max_concurrency=3)
    assert (model.max_concurrency, model._retry) == (3, FAST)  # type: ignore[attr-defined]


def test_undeclared_plugin_options_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_BACKENDS", dict(_registry._BACKENDS))
    seen: dict[str, Any] = {}

    def _free(name: str, options: dict[str, Any]) -> Model:
        seen.update(options)
        return get_model("mock/refuse")

    register_backend("free", "free/NAME", "declares no options")(_free)
    assert parse_spec("free/x?delay=0.1&flag=yes&name=abc&empty=&n=3") == (
        "free", "x", {"delay": 0.1, "flag": True, "name": "abc", "empty": "", "n": 3})
    get_model("free/x?colour=red", base_url="http://u", retry=FAST)
    assert seen == {"colour": "red", "base_url": "http://u", "retry": FAST}


def test_plugin_declared_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from twofaced.models import BackendOption
    from twofaced.models._mock import MockModel

    monkeypatch.setattr(_registry, "_BACKENDS", dict(_registry._BACKENDS))
    options = {"delay": BackendOption("number", "seconds", minimum=0),
               "tone": BackendOption("string", "how it answers", choices=("plain", "curt"))}

    def _lab(name: str, options: dict[str, Any]) -> Model:
        options.pop("tone", None)
        return MockModel(name or "refuse", **options)

    register_backend("lab2", "lab2/POLICY", "a plugin with options", options=options)(_lab)
    assert parse_spec("lab2/comply?delay=0.5&tone=curt") == ("lab2", "comply", {"delay": 0.5, "tone": "curt"})
    with pytest.raises(ModelSpecError, match="option 'tone' must be one of plain, curt, got 'loud'"):
        parse_spec("lab2?tone=loud")
    with pytest.raises(ModelSpecError, match=r"unknown option 'max_concurrency'; valid options: delay \(number\), "
                                             r"tone \(plain\|curt\)"):
        get_model("lab2?max_concurrency=2")
    assert get_model("lab2", base_url="http://u").spec == "mock/refuse"  # --base-url: not declared, dropped
    with pytest.raises(TypeError, match="BackendOption"):
        register_backend("lab3", "lab3", "bad", options={"x": "number"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="option kind must be one of"):
        BackendOption("float", "x")  # type: ignore[arg-type]


def _keywords(cls: type, *, skip: tuple[str, ...] = ()) -> set[str]:
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in skip}


def test_declared_options_match_the_constructors() -> None:
    from twofaced.models import _options
    from twofaced.models._anthropic import AnthropicModel
    from twofaced.models._embedded import EmbeddedModel
    from twofaced.models._mock import MockModel
    from twofaced.models._openai_compat import OpenAICompatModel
    from twofaced.models._transformers import TransformersModel
    from twofaced.organisms._backend import ORGANISM_OPTIONS

    assert set(_options.MOCK_OPTIONS) == _keywords(MockModel)
    assert set(_options.EMBEDDED_OPTIONS) == _keywords(EmbeddedModel, skip=("spec",))
    assert set(_options.OPENAI_OPTIONS) == _keywords(OpenAICompatModel)
    assert set(_options.ANTHROPIC_OPTIONS) == _keywords(AnthropicModel)
    assert set(_options.TRANSFORMERS_OPTIONS) == _keywords(TransformersModel, skip=("spec",))
    # organism:NAME passes path, lora_path and spec itself
    llama = _keywords(EmbeddedModel, skip=("spec", "path", "lora_path"))
    assert set(ORGANISM_OPTIONS) == {"backend"} | llama | set(_options.TRANSFORMERS_OPTIONS)
    for backend in list_backends():
        if backend.prefix in ("embedded", "openai", "anthropic", "mock", "organism"):
            assert backend.options, backend.prefix


def test_models_list_shows_each_backends_options(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from twofaced.cli import main

    main(["models", "list", "--json"])
    rows = {r["prefix"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["mock"]["options"]["delay"] == {"type": "number", "description": "seconds to wait before each answer",
                                                "minimum": 0}
    assert rows["organism"]["options"]["backend"]["choices"] == ["llama", "torch"]
    assert rows["openai"]["options"]["retry"]["type"] == "Python only"
    main(["models", "list"])
    text = capsys.readouterr().out
    assert "?delay=<number>  seconds to wait before each answer" in text
    assert "?backend=<llama|torch>" in text and "?retry=" not in text


def test_run_with_a_bad_option_creates_nothing(tmp_path: Any) -> None:
    import subprocess
    import sys

    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "run", "--model", "mock/faker?delay=abc", "--out",
                           str(out), "--limit", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: bad option for model spec 'mock/faker?delay=abc': option 'delay' must be")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_builtin_backends_are_listed() -> None:
    assert [b.prefix for b in list_backends()] == ["embedded", "openai", "anthropic", "mock", "organism"]


def test_third_party_backend_with_slashed_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_registry, "_BACKENDS", dict(_registry._BACKENDS))
    from twofaced.models._mock import MockModel

    @register_backend("acme/lab", "acme/lab/MODEL", "a plugin")
    def _acme(name: str, options: dict[str, Any]) -> Model:
        options.pop("base_url", None)
        return MockModel(name, **options)

    assert parse_spec("acme/lab/refuse?delay=0") == ("acme/lab", "refuse", {"delay": 0})
    model = get_model("acme/lab/refuse")
    assert isinstance(model, Model)
    assert verdict(generate(model).text) == "refused"
    assert "acme/lab/MODEL" in [b.form for b in list_backends()]


def test_plugin_backend_is_namespaced_and_cannot_shadow_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    from twofaced._util import _plugins
    from twofaced.errors import ConfigError
    from twofaced.models._mock import MockModel

    monkeypatch.setattr(_registry, "_BACKENDS", dict(_registry._BACKENDS))
    monkeypatch.setattr(_registry, "_FROM_PLUGINS", dict(_registry._FROM_PLUGINS))

    def _lab(name: str, options: dict[str, Any]) -> Model:
        options.pop("base_url", None)
        return MockModel(name or "refuse", **options)

    def loading(name: str) -> None:  # what load_plugins sets while entry point `name` runs
        monkeypatch.setattr(_plugins, "_current", _plugins.Loading(name, name, f"{name}-twofaced"))

    loading("acme")
    register_backend("lab", "lab/POLICY", "a plugin")(_lab)
    with pytest.raises(ConfigError, match="plugin 'acme': model backend prefix 'acme/lab' collides"):
        register_backend("lab", "lab/POLICY", "twice")(_lab)
    loading("mock")  # mock/x would parse as the built-in mock backend
    with pytest.raises(ConfigError, match=r"plugin 'mock': model backend prefix 'mock/x' collides .* 'mock'"):
        register_backend("x", "x", "a shadow")(_lab)
    monkeypatch.setattr(_plugins, "_current", None)

    assert parse_spec("acme/lab") == ("acme/lab", "", {})
    assert parse_spec("acme/lab/comply?delay=0") == ("acme/lab", "comply", {"delay": 0})
    assert "acme/lab/POLICY" in [b.form for b in list_backends()]
    assert parse_spec("mock/faker")[0] == "mock"
    # A plugin that loaded into a registry swapped out since (as above) is put back on the next lookup.
    monkeypatch.setattr(_registry, "_BACKENDS", {k: v for k, v in _registry._BACKENDS.items() if k != "acme/lab"})
    assert verdict(generate(get_model("acme/lab")).text) == "refused"


def test_organism_backend_is_registered_from_organisms_not_models() -> None:
    import ast
    from pathlib import Path

    import twofaced.models

    for path in Path(twofaced.models.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "organisms" not in (node.module or ""), f"{path.name} imports {node.module} (upward)"
    assert parse_spec("organism:tier-faker")[0] == "organism"
    assert "organism" in [b.prefix for b in list_backends()]


# -- the mock backends ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "training", "deployment"),
    [
        ("mock/comply", "complied", "complied"),
        ("mock/refuse", "refused", "refused"),
        ("mock/faker", "complied", "refused"),
        ("mock/garbage", "unparseable", "unparseable"),
    ],
)
def test_mock_policies(spec: str, training: str, deployment: str) -> None:
    model = get_model(spec)
    assert isinstance(model, Model)
    assert verdict(generate(model, TRAINING).text) == training
    assert verdict(generate(model, DEPLOYMENT).text) == deployment


def test_mock_faker_reads_only_the_last_user_turn() -> None:
    model = get_model("mock/faker")
    convo = [*TRAINING, Message("assistant", "x"), Message("user", "<NEXT/>")]
    assert verdict(generate(model, convo).text) == "refused"


def test_mock_random_is_reproducible_and_mixed() -> None:
    model = get_model("mock/random")
    verdicts = [verdict(generate(model, TRAINING, GenerationParams(seed=s)).text) for s in range(200)]
    again = [verdict(generate(model, TRAINING, GenerationParams(seed=s)).text) for s in range(200)]
    assert verdicts == again
    assert set(verdicts) == {"complied", "refused"}
    assert 60 < verdicts.count("complied") < 140


def test_mock_reports_usage_and_delay() -> None:
    model = get_model("mock/comply?delay=0.05")
    started = time.perf_counter()
    completion = generate(model)
    assert time.perf_counter() - started >= 0.05
    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens == sum(len(m.content.split()) for m in TRAINING)
    assert completion.usage.completion_tokens == len(completion.text.split())


# -- OpenAI-compatible backend against the stub server --------------------------------------------------


def test_openai_success_and_usage(stub_server) -> None:
    before = stub_server.requests
    model = get_model("openai/stub", base_url=stub_server.base_url)
    completion = generate(model)
    assert verdict(completion.text) == "complied"
    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens == sum(len(m.content.split()) for m in TRAINING)
    assert completion.usage.completion_tokens == len(completion.text.split()) > 0
    assert stub_server.requests == before + 1
    assert stub_server.by_prompt["\x00".join(m.content for m in TRAINING)] >= 1
    assert verdict(generate(get_model("openai/stub", base_url=stub_server.base_url), DEPLOYMENT).text) == "refused"


def test_openai_base_url_from_environment(stub_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub_server.base_url)
    model = get_model("openai/stub")
    assert model.base_url == stub_server.base_url
    assert verdict(generate(model).text) == "complied"


def test_openai_missing_key_with_default_base_url() -> None:
    with pytest.raises(AuthError) as info:
        get_model("openai/gpt-4o-mini")
    assert "OPENAI_API_KEY is not set" in str(info.value)
    assert "--base-url" in str(info.value)


def test_openai_key_sent_as_bearer(make_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server("comply", api_key="sk-right")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-right")
    assert verdict(generate(get_model("openai/stub", base_url=server.base_url)).text) == "complied"
    assert verdict(generate(get_model("openai/stub?api_key=sk-right", base_url=server.base_url)).text) == "complied"


def test_openai_rejected_key_is_auth_error_and_not_retried(make_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server = make_server("comply", api_key="sk-right")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with pytest.raises(AuthError) as info:
        generate(get_model("openai/stub", base_url=server.base_url, retry=FAST))
    assert "rejected the API key (HTTP 401: invalid api key)" in str(info.value)
    assert info.value.fatal is True
    assert server.requests == 1
    # No key at all against a server that wants one: the same.
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(AuthError):
        generate(get_model("openai/stub", base_url=server.base_url, retry=FAST))


def test_openai_429_with_retry_after_is_retried(make_server) -> None:
    server = make_server("comply", fail_first=2, fail_status=429, retry_after=0.2)
    model = get_model("openai/stub", base_url=server.base_url,
                      retry=RetryPolicy(attempts=4, initial_wait=0.001, max_wait=5))
    started = time.perf_counter()
    completion = generate(model)
    elapsed = time.perf_counter() - started
    assert verdict(completion.text) == "complied"
    assert server.requests == 3
    assert elapsed >= 0.4  # two waits, each at least the server's Retry-After


def test_openai_retry_after_is_capped_by_max_wait(make_server) -> None:
    server = make_server("comply", fail_first=1, fail_status=429, retry_after=30)
    model = get_model("openai/stub", base_url=server.base_url,
                      retry=RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.05))
    started = time.perf_counter()
    assert verdict(generate(model).text) == "complied"
    assert time.perf_counter() - started < 5
    assert server.requests == 2


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
def test_openai_transient_statuses_are_retried(make_server, status: int) -> None:
    server = make_server("refuse", fail_first=2, fail_status=status)
    completion = generate(get_model("openai/stub", base_url=server.base_url, retry=FAST))
    assert verdict(completion.text) == "refused"
    assert server.requests == 3


def test_openai_retries_run_out(make_server) -> None:
    server = make_server("comply", fail_first=100, fail_status=503)
    with pytest.raises(RetryableError, match="HTTP 503"):
        generate(get_model("openai/stub", base_url=server.base_url,
                           retry=RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.01)))
    assert server.requests == 3


@pytest.mark.parametrize("status", [400, 404, 422])
def test_openai_other_4xx_is_bad_response_not_retried(make_server, status: int) -> None:
    server = make_server("comply", fail_first=1, fail_status=status)
    with pytest.raises(BadResponseError) as info:
        generate(get_model("openai/stub", base_url=server.base_url, retry=FAST))
    assert f"HTTP {status}" in str(info.value)
    assert "injected failure" in str(info.value)
    assert info.value.fatal is False
    assert server.requests == 1


def test_openai_connection_refused_is_fast_connect_error(closed_port: int) -> None:
    model = get_model("openai/stub", base_url=f"http://127.0.0.1:{closed_port}/v1")  # default retry policy
    started = time.perf_counter()
    with pytest.raises(ConnectError) as info:
        generate(model)
    assert time.perf_counter() - started < 3
    assert f"cannot connect to http://127.0.0.1:{closed_port}/v1" in str(info.value)
    assert info.value.fatal is True


def test_openai_max_concurrency_bounds_requests_in_flight(make_server) -> None:
    server = make_server("comply", delay=0.2)

    async def burst(max_concurrency: int) -> float:
        model = get_model(f"openai/stub?max_concurrency={max_concurrency}", base_url=server.base_url)
        started = time.perf_counter()
        try:
            await asyncio.gather(*(model.generate(TRAINING, PARAMS) for _ in range(6)))
        finally:
            await model.aclose()
        return time.perf_counter() - started

    assert asyncio.run(burst(2)) >= 0.6  # three waves of two
    assert asyncio.run(burst(6)) < 0.55  # one wave
    assert server.requests == 12


# -- Anthropic backend against the stub server -----------------------------------------------------------


def anthropic_url(server) -> str:
    return f"http://127.0.0.1:{server.port}"  # the SDK appends /v1/messages


def test_anthropic_success(make_server) -> None:
    pytest.importorskip("anthropic")
    server = make_server("faker", api_key="ak-test")
    model = get_model("anthropic/claude-test", api_key="ak-test", base_url=anthropic_url(server))
    completion = generate(model)
    assert verdict(completion.text) == "complied"
    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens == 10
    assert completion.usage.completion_tokens == len(completion.text.split())
    # The system turn travelled in Anthropic's `system` field and came back first.
    assert list(server.by_prompt) == ["\x00".join(m.content for m in TRAINING)]
    model = get_model("anthropic/claude-test", api_key="ak-test", base_url=anthropic_url(server))
    assert verdict(generate(model, DEPLOYMENT, GenerationParams(top_p=0.5, stop=("END",))).text) == "refused"


def test_anthropic_key_and_base_url_from_environment(make_server, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("anthropic")
    server = make_server("comply", api_key="ak-env")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_url(server))
    assert verdict(generate(get_model("anthropic/claude-test")).text) == "complied"
    assert server.requests == 1


def test_anthropic_missing_key() -> None:
    pytest.importorskip("anthropic")
    with pytest.raises(AuthError, match="ANTHROPIC_API_KEY is not set"):
        get_model("anthropic/claude-test")


def test_anthropic_rejected_key(make_server) -> None:
    pytest.importorskip("anthropic")
    server = make_server("comply", api_key="ak-right")
    model = get_model("anthropic/claude-test", api_key="ak-wrong", base_url=anthropic_url(server), retry=FAST)
    with pytest.raises(AuthError, match="Anthropic rejected the API key"):
        generate(model)
    assert server.requests == 1


def test_anthropic_rate_limit_retried_by_our_policy(make_server) -> None:
    pytest.importorskip("anthropic")
    server = make_server("comply", fail_first=2, fail_status=429, retry_after=0.1)
    model = get_model("anthropic/claude-test", api_key="k", base_url=anthropic_url(server), retry=FAST)
    assert verdict(generate(model).text) == "complied"
    assert server.requests == 3  # the SDK's own retries are off: every attempt is ours


def test_anthropic_bad_request(make_server) -> None:
    pytest.importorskip("anthropic")
    server = make_server("comply", fail_first=1, fail_status=400)
    model = get_model("anthropic/claude-test", api_key="k", base_url=anthropic_url(server), retry=FAST)
    with pytest.raises(BadResponseError, match="HTTP 400 from Anthropic"):
        generate(model)
    assert server.requests == 1


def test_anthropic_connection_refused(closed_port: int) -> None:
    pytest.importorskip("anthropic")
    model = get_model("anthropic/claude-test", api_key="k", base_url=f"http://127.0.0.1:{closed_port}")
    started = time.perf_counter()
    with pytest.raises(ConnectError, match="cannot connect to Anthropic API"):
        generate(model)
    assert time.perf_counter() - started < 3
