"""The detector evaluations (test_eval_*) run whole simulated fleets through the detectors, and through
alerts and tickets too: they are integration tests, kept out of the fast lane like those needing a service."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent == HERE and item.path.name.startswith("test_eval_"):
            item.add_marker(pytest.mark.integration)
