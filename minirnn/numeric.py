"""NumPy functions shared by the autodiff ops and the recurrent cells' hand-written math.

NumPy only: ops (the engine's primitives) and layers/cells, layers/kernels (plain NumPy, no
autodiff) both import from here, so neither depends on the other for these.
"""
import numpy as np

__all__ = ["dot", "sigmoid"]

# np.dot without its __array_function__ dispatch (NEP 18's `_implementation`), which on a recurrent
# step's small matrices is a large part of the call (benchmarks/README.md, "Kernel choices").
# Inputs must be plain ndarrays.
dot = getattr(np.dot, "_implementation", np.dot)


def sigmoid(x, out=None):
    """1 / (1 + exp(-x)), exact to rounding for every x: exp(-|x|) in (0, 1] cannot overflow, and for
    x < 0 the numerator is exp(x) itself, so tiny results keep their relative accuracy. Keeps x's
    floating dtype; out, if given, receives the result (it may be x itself)."""
    positive = x >= 0
    if out is None:        # (for a 0-d x np.abs would return a scalar, which takes no `out`)
        out = np.empty_like(x)
    e = np.abs(x, out=out)
    np.negative(e, out=e)
    np.exp(e, out=e)                                   # e = exp(-|x|)
    numerator = np.maximum(e, positive)                # 1 where x >= 0 (e <= 1), e where x < 0
    e += 1.0
    return np.divide(numerator, e, out=e)
