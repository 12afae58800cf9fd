"""TensorFlow, for the tests that compare against it.

TensorFlow is a test-only dependency. `import_tf()` returns the module, or skips the calling test
when it is missing; on CI (env CI=true) or with MINIRNN_REQUIRE_TF=1 a missing TensorFlow is a
failure instead, so parity tests can never be skipped there without anyone noticing.
"""
import os
import zlib

import numpy as np
import pytest

MISSING_TF = "TensorFlow is not installed: pip install -e '.[test]'"


def tf_required():
    """Whether a missing TensorFlow must fail the run instead of skipping (CI, or asked for)."""
    return (os.environ.get("CI", "").strip().lower() == "true"
            or os.environ.get("MINIRNN_REQUIRE_TF", "").strip() == "1")


def import_tf():
    """Import and return tensorflow, quietly and deterministically (no oneDNN re-association).

    Missing: pytest.skip (the whole module when called at import time), or pytest.fail where
    tf_required().
    """
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"   # oneDNN reorders float sums: results vary by CPU
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"    # no C++ banners in the test output
    try:
        import tensorflow as tf
    except ImportError as error:
        if tf_required():
            pytest.fail(f"{MISSING_TF} (TensorFlow is required here because CI=true or "
                        f"MINIRNN_REQUIRE_TF=1; the import failed with: {error})", pytrace=False)
        pytest.skip(MISSING_TF, allow_module_level=True)
    return tf


class LazyTF:
    """Stands for the tensorflow module and imports it (via import_tf) on first attribute use.

    A test table can then name `tf.tanh` inside lambdas at import time, while a missing TensorFlow
    only skips (or, on CI, fails) the tests that call them.
    """

    def __getattr__(self, name):
        return getattr(import_tf(), name)


tf = LazyTF()


# Parity tolerance: relative to the largest magnitude compared, so elements near zero through
# cancellation are held to the array's scale rather than their own
TOLERANCES = {"float32": 1e-5, "float64": 1e-9}


def assert_close(actual, expected, dtype, what=""):
    expected = np.asarray(expected)
    rel = TOLERANCES[str(dtype)]
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rel, atol=rel * scale,
                               err_msg=what)


def seed_of(name):
    """A stable seed per test case name (hash() varies between runs)."""
    return zlib.crc32(name.encode())
