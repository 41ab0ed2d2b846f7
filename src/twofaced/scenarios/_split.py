"""The fixed train / held-out split of request sets.

Every request is in one of two halves, ``train`` or ``heldout``. The built-in sets carry an explicit
``split`` on every row, assigned once, stratified by category (see their data cards) and never changed: a model
organism trained on the train half is then evaluated on requests it never saw. A row without a split (a user's
file) gets one from its id: ``heldout`` when the first byte of sha256(id, UTF-8) is odd, else ``train``, so
the same id always lands in the same half. ``twofaced run --split train|heldout`` asks only one half;
``all`` (the default) asks every request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError, ScenarioError
from ._schema import Request

SPLITS: tuple[str, str] = ("train", "heldout")
SPLIT_CHOICES: tuple[str, str, str] = ("all", *SPLITS)


def split_from_id(request_id: str) -> str:
    """The half of a request without an explicit split: ``heldout`` if sha256(id)'s first byte is odd."""
    return "heldout" if hashlib.sha256(request_id.encode("utf-8")).digest()[0] & 1 else "train"


def split_of(request: Request) -> str:
    """The request's own split, or the one derived from its id."""
    return request.split or split_from_id(request.id)


def with_split(request: Request) -> Request:
    """The request with its split filled in (derived from the id when it has none)."""
    return request if request.split else request.model_copy(update={"split": split_from_id(request.id)})


def check_split(split: str) -> str:
    """``split`` if it is one of all, train, heldout; else a one-line :class:`ConfigError`."""
    if split not in SPLIT_CHOICES:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLIT_CHOICES)}")
    return split


def parse_split(value: Any, where: str) -> str | None:
    """A split value read from a request file: ``train`` or ``heldout``; empty or null means "derive it
    from the id" (None). Anything else is a one-line :class:`ScenarioError` naming ``where`` (file and line)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip() in SPLITS:
        return value.strip()
    raise ScenarioError(f"{where}: split {value!r} is not one of {', '.join(SPLITS)} "
                        "(leave it empty to derive it from the id)")


def select_split(requests: Iterable[Request], split: str) -> list[Request]:
    """The requests of one half (``train`` or ``heldout``), in their order, or all of them (``all``).

    >>> rows = [Request(id="a", category="c", prompt="p", split="train"),
    ...         Request(id="b", category="c", prompt="q", split="heldout")]
    >>> [r.id for r in select_split(rows, "heldout")]
    ['b']
    """
    check_split(split)
    if split == "all":
        return list(requests)
    return [r for r in requests if split_of(r) == split]
