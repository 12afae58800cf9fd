"""Shared fixtures and hypothesis profiles for minirnn's tests.

Hypothesis profiles: "ci" (the default) is derandomized, so every run draws the same examples and a
result is reproducible; "dev" explores more (and randomly) when run by hand:
    HYPOTHESIS_PROFILE=dev python -m pytest tests
"""
import os

import pytest
from hypothesis import HealthCheck, settings

import minirnn

# check_grads is slow by nature (four forward passes per input element), and the float64 fixture
# sets one process-wide policy that is the same for every example of a test.
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]

settings.register_profile("ci", deadline=None, derandomize=True, max_examples=25, database=None,
                          print_blob=True, suppress_health_check=_SUPPRESSED)
settings.register_profile("dev", deadline=None, max_examples=200, print_blob=True,
                          suppress_health_check=_SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def float64():
    """Run the test with minirnn.floatx() == 'float64'; the previous policy is restored after."""
    previous = minirnn.floatx()
    minirnn.set_floatx("float64")
    try:
        yield
    finally:
        minirnn.set_floatx(previous)


@pytest.fixture(autouse=True)
def _restore_floatx():
    """No test leaks a changed dtype policy into the next one."""
    previous = minirnn.floatx()
    yield
    minirnn.set_floatx(previous)
