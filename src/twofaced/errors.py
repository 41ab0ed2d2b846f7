"""The one error tree of twofaced.

Every error the toolkit raises on purpose derives from :class:`TwofacedError`, so the CLI can print
``error: <message>`` on one line and exit non-zero without a traceback (``--debug`` shows it). Foreign
errors (aiohttp, the anthropic SDK, sqlite3, pydantic, jinja2) are converted at the module boundary where
they occur; the message names the bad input and the fix.

    TwofacedError
    ├── ConfigError            bad input from the user: a file, a flag, a spec
    │   ├── ScenarioError      a scenario or request-set file is malformed
    │   ├── ModelSpecError     a model spec string names no known backend
    │   ├── PrefillUnsupportedError  the scenario prefills the assistant turn; this backend cannot
    │   └── RunDirError        a run directory cannot be used (other scenario, not a run, ...)
    ├── MissingDependencyError an optional extra is not installed (message carries the pip command)
    └── ModelError             a model backend failed on a request
        ├── AuthError          missing or rejected API key: fatal for the whole run
        ├── ConnectError       endpoint unreachable after retries: fatal for the whole run
        ├── RetryableError     rate limit, 5xx, timeout: retried with backoff, then recorded
        └── BadResponseError   the endpoint answered with something that is not a completion
"""

from __future__ import annotations


class TwofacedError(Exception):
    """Root of every error twofaced raises on purpose; its message is one line for a person."""


class ConfigError(TwofacedError):
    """Bad input from the user (file, flag, spec); the message names it and the fix."""


class ScenarioError(ConfigError):
    """A scenario, template or request-set file is malformed."""


class ModelSpecError(ConfigError):
    """A model spec string does not name a known backend."""


class PrefillUnsupportedError(ConfigError):
    """A scenario's ``output_protocol.assistant_prefill`` is set and the model cannot continue an assistant
    turn; raised before anything is created or sent."""


class RunDirError(ConfigError):
    """A run directory cannot be used for this command."""


class MissingDependencyError(TwofacedError):
    """An optional extra is missing; the message carries the exact pip command."""


class ModelError(TwofacedError):
    """A model backend failed to produce a completion for one request."""

    fatal: bool = False


class AuthError(ModelError):
    """The API key is missing or was rejected. Every other request would fail the same way."""

    fatal = True


class ConnectError(ModelError):
    """The endpoint cannot be reached. Every other request would fail the same way."""

    fatal = True


class RetryableError(ModelError):
    """A transient failure (rate limit, server error, timeout) worth retrying with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadResponseError(ModelError):
    """The endpoint answered, but not with a usable completion (4xx other than auth, bad JSON)."""


def missing_extra(module: str, extra: str) -> MissingDependencyError:
    """Build the one-line error for an optional dependency that is not installed."""
    return MissingDependencyError(
        f"{module} is not installed; install it with: pip install 'twofaced[{extra}]'"
    )
