"""Bounded memos: parsed values remembered by key, started afresh when full."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

__all__ = ["remember"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> V:
    """Keep `value` under `key`, emptying `cache` first once it holds `limit` values.

    Starting afresh bounds the memory of a cache that documents fill, at the cost of parsing
    again the few values still in use; returns `value`.
    """
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
