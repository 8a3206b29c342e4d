"""Hypothesis profiles: "ci" (the default: few examples, no deadline) and "thorough" for local runs.

    HYPOTHESIS_PROFILE=thorough python -m pytest
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=8, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU through CuPy (skipped without one)")
    config.addinivalue_line("markers", "slow: trains a model for a while")


def pytest_collection_modifyitems(config, items):
    import minigen as mg

    if mg.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU available (mg.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
