"""Reading a yes/no label and an ``ours=theirs`` column mapping the same way everywhere.

Label files, request files and transcript files each accept the plain true/false spellings plus words of
their own domain ("af", "harmful", "eval"); the plain spellings live here once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from ..errors import ConfigError, TwofacedError

TRUE = frozenset({"1", "true", "yes", "y", "t"})
FALSE = frozenset({"0", "false", "no", "n", "f"})


def parse_flag(value: object, *, true: Iterable[str] = (), false: Iterable[str] = ()) -> bool | None:
    """True / False for a recognised spelling (case and spaces ignored), None for anything else.

    ``true`` and ``false`` add domain words: ``parse_flag("harmful", true={"harmful"})`` is True. The caller
    turns None into its own one-line error, naming the file and row.
    """
    s = str(value).strip().lower()
    if s in TRUE or s in set(true):
        return True
    if s in FALSE or s in set(false):
        return False
    return None


def parse_mapping(pairs: Sequence[str], allowed: Collection[str], *,
                  error: type[TwofacedError] = ConfigError) -> dict[str, str]:
    """``["prompt=text", "id=uid"]`` -> ``{"prompt": "text", "id": "uid"}`` for ``--column`` options.

    ``ours`` must be one of ``allowed``; a bad pair raises ``error`` with the fix in one line.
    """
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or ours not in allowed or not theirs:
            raise error(f"--column {pair!r}: use ours=theirs with ours one of {', '.join(allowed)}")
        mapping[ours] = theirs
    return mapping
