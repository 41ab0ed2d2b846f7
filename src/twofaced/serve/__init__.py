"""Serve any twofaced model spec over the OpenAI chat-completions API (``twofaced serve SPEC``).

An organism, a mock policy, the embedded model or a transformers model then stands where any OpenAI client can
reach it: the monitor, Inspect, garak, the openai SDK, or ``twofaced run --model openai/SPEC --base-url URL``.

``stream: true`` is answered in OpenAI's chunk format, but the reply is generated whole first and then sent as
word-sized chunks: the model protocol has no token stream (future work). See docs/serve.md.
"""

from ._app import DEFAULT_MAX_BODY, create_app
from ._server import ModelServer, serve

__all__ = ["DEFAULT_MAX_BODY", "ModelServer", "create_app", "serve"]
