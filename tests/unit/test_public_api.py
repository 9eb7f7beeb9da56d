"""The curated public surfaces: every name in their ``__all__`` exists, once.

(Their order is ruff's to check: RUF022 keeps each ``__all__`` sorted.)
"""

from __future__ import annotations

import importlib

import pytest

import minutebill.adapters
from minutebill.adapters.memory import MemoryStore

PUBLIC = ["minutebill", "minutebill.adapters", "minutebill.ports", "minutebill.errors"]


@pytest.mark.parametrize("name", PUBLIC)
def test_every_name_in_all_exists_once(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def test_an_adapter_author_builds_on_what_the_stores_are_built_on() -> None:
    # The memory store's unit of work is the very class the package offers.
    with MemoryStore().unit_of_work() as uow:
        assert type(uow) is minutebill.adapters.DocumentUnitOfWork
    kinds = minutebill.adapters.default_kinds()
    assert isinstance(kinds, minutebill.adapters.Kinds)
