"""A LiteLLM proxy that feeds the monitor: :func:`write_litellm_config` writes its ``config.yaml`` and copies the
callback and guardrail (``gateway/twofaced_litellm.py``) beside it (``twofaced monitor litellm-config``).

LiteLLM runs in its own environment (``tools/litellm_env.py``): ``litellm[proxy]`` pins ``openai<3`` and
``rich==13.9.4``, which twofaced's test extra cannot share, so it is no twofaced extra and the callback imports
only LiteLLM, httpx and the standard library; it reaches the monitor over HTTP (``POST /admin/exchanges``).

Invariants: the written files hold no secret (the master key, the upstream key and the admin token are
``os.environ/NAME`` references or read from the environment at run time); the callback is copied byte for byte;
the pinned LiteLLM is :data:`LITELLM_VERSION`, and :data:`LITELLM_EXCLUDED` (published compromised) must never
be installed.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from .._util._files import atomic_write, atomic_write_text
from ..errors import ConfigError
from ._config import _base_url

LITELLM_VERSION = "1.106.2"
LITELLM_EXCLUDED = ("1.82.7", "1.82.8")
CALLBACK_FILE = "twofaced_litellm.py"
CALLBACK = "twofaced_litellm.handler"
GUARDRAIL = "twofaced_litellm.TwofacedGuardrail"
GUARDRAIL_NAME = "twofaced-block"
UPSTREAM_KEY_ENV = "TWOFACED_UPSTREAM_API_KEY"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
# What LiteLLM would otherwise fetch from the internet (the cost map at import, the rest on demand).
OFFLINE_ENV = {name: "True" for name in (
    "LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "LITELLM_LOCAL_BLOG_POSTS",
    "LITELLM_LOCAL_POLICY_TEMPLATES", "LITELLM_LOCAL_AUTOROUTER_PRESETS")}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def callback_source() -> bytes:
    """The callback file as shipped in the package."""
    return (files("twofaced.monitor") / "gateway" / CALLBACK_FILE).read_bytes()


def litellm_start_command(config: Path) -> str:
    """The shell command that starts LiteLLM's proxy on ``config`` offline, without a database."""
    offline = " ".join(f"{k}={v}" for k, v in OFFLINE_ENV.items())
    return f"{offline} litellm --config {config} --host 127.0.0.1 --port 4000"


def _q(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML scalar, whatever it holds


def _guardrail_text() -> str:
    return f"""\
# Before a plain reply is sent, the guardrail asks the monitor whether its block policy withholds it (a 403 then);
# a monitor that does not answer within TWOFACED_GUARDRAIL_TIMEOUT (0.5 s) lets it through. Streams pass.
guardrails:
  - guardrail_name: {_q(GUARDRAIL_NAME)}
    litellm_params:
      guardrail: {_q(GUARDRAIL)}
      mode: "post_call"
      default_on: true
"""


def _config_text(monitor: str, upstream: str, model: str | None, key_env: str, guardrail: bool) -> str:
    name, routed = (model, f"openai/{model}") if model else ("*", "openai/*")
    return f"""\
# LiteLLM {LITELLM_VERSION} proxy config, written by `twofaced monitor litellm-config` (docs/monitor.md).
# Never install LiteLLM {' or '.join(LITELLM_EXCLUDED)} (published compromised).
# Every completed chat exchange is posted to the twofaced monitor by {CALLBACK_FILE} (beside this file).
# Start it offline, without a database, with {MASTER_KEY_ENV}, {UPSTREAM_KEY_ENV} and TWOFACED_ADMIN_TOKEN set:
#   {litellm_start_command(Path('config.yaml'))}
model_list:
  - model_name: {_q(name)}
    litellm_params:
      model: {_q(routed)}
      api_base: {_q(upstream)}
      api_key: {_q(f"os.environ/{key_env}")}
litellm_settings:
  callbacks: [{_q(CALLBACK)}]
{_guardrail_text() if guardrail else ""}general_settings:
  master_key: {_q(f"os.environ/{MASTER_KEY_ENV}")}
environment_variables:
  TWOFACED_MONITOR_URL: {_q(monitor)}
"""


def write_litellm_config(directory: Path, *, monitor: str, upstream: str, model: str | None = None,
                         upstream_key_env: str = UPSTREAM_KEY_ENV, guardrail: bool = True) -> Path:
    """Write ``directory/config.yaml`` (one model entry routed to ``upstream``, the callback, the guardrail, the
    master key from ``$LITELLM_MASTER_KEY``) and copy the file that holds the callback and the guardrail beside
    it; returns the config's path.

    ``model`` is the name clients ask for and the upstream serves; without it every name passes through
    (``*``). ``monitor`` is the monitor's URL (``http://HOST:PORT``). ``guardrail``: False leaves the guardrail
    out (no round trip to the monitor before each plain reply; the ``block`` policy then cannot act on gateway
    traffic). The upstream key is read by LiteLLM from
    ``$upstream_key_env`` (set it to any value for an upstream that takes no key). Bad input is a one-line
    :class:`ConfigError`.

        write_litellm_config(Path("gateway"), monitor="http://127.0.0.1:8100", upstream="http://127.0.0.1:8000/v1")
    """
    parts = urlsplit(monitor)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--monitor must be the monitor's http(s) URL such as http://127.0.0.1:8100, got {monitor!r}")
    monitor = monitor.rstrip("/")
    upstream = _base_url("--upstream", upstream)
    if model is not None and (not model.strip() or any(c in model for c in "\r\n*")):
        raise ConfigError(f"--model must be a model name the upstream serves, e.g. llama3, got {model!r}")
    if not _ENV_NAME.fullmatch(upstream_key_env):
        raise ConfigError(f"--upstream-key-env must be an environment variable name, got {upstream_key_env!r}")
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--out {directory} is a file; give a directory for config.yaml and {CALLBACK_FILE}")
    config = directory / "config.yaml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config, _config_text(monitor, upstream, model, upstream_key_env, guardrail))
        atomic_write(directory / CALLBACK_FILE, [callback_source()], binary=True)
    except OSError as exc:
        raise ConfigError(f"--out {directory}: cannot write there ({exc.strerror or exc}); give a writable "
                          "directory") from None
    return config
