"""Test-suite configuration: Hypothesis profiles ``dev`` (default) and ``ci`` (under CI=true)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# `pytester` runs the gateway contract against deliberately faulty adapters in a session of
# its own (tests/contract/test_contract_catches_faulty_gateways.py).
pytest_plugins = ("pytester",)

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
