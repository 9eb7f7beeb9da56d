"""The service tests' rig: `Billing` on each store of `STORES`, on the reference catalog.

A module that needs the rig set up further (an account subscribed, money in the wallet)
overrides `rig` with a fixture of the same name that asks for this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from minutebill.testing.stateful import BillingRig
from tests.service.test_support import STORES, open_rig


@pytest.fixture(params=STORES)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BillingRig]:
    with open_rig(request.param, tmp_path) as opened:
        yield opened
