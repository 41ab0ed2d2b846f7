"""Test doubles that are real parts: a loopback OpenAI/Anthropic-compatible server."""

from ._stub_server import StubServer

__all__ = ["StubServer"]
