"""Small helpers every layer shares, each written once: atomic writes, JSON Lines, labels and column mappings.

This is the bottom layer beside ``stats`` and ``errors``: it imports nothing else from twofaced except
``errors``, so any package may use it.
"""

from ._files import atomic_write, atomic_write_jsonl, atomic_write_text, data_home, iter_jsonl, replacing, slug
from ._labels import parse_flag, parse_mapping

__all__ = [
    "atomic_write",
    "atomic_write_jsonl",
    "atomic_write_text",
    "data_home",
    "iter_jsonl",
    "parse_flag",
    "parse_mapping",
    "replacing",
    "slug",
]
