"""One seeded NumPy Generator for the whole library: initializers, dropout masks, shuffling.

The seed and the generator are process-wide, as in Keras: every thread draws from the same one
(NumPy's Generator serialises the draws), unlike grad mode, which belongs to each thread.
"""
import random

import numpy as np

from .checks import check_shape
from .tensor import Tensor, floatx

__all__ = ["set_random_seed", "generator", "normal", "uniform", "randint"]

_GENERATOR = np.random.default_rng()


def set_random_seed(seed):
    """Seed every random draw minirnn makes, in every thread, and Python's `random` and NumPy's
    global generator too, as keras.utils.set_random_seed does (Keras's data utilities draw their
    shuffling seed from NumPy's global generator when none is given).

    seed: an int in [0, 2**32), the range NumPy's global generator accepts.
    """
    global _GENERATOR
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an int; got {type(seed).__name__}")
    if not 0 <= seed < 2 ** 32:
        raise ValueError(f"set_random_seed expects an int in [0, 2**32); got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    _GENERATOR = np.random.default_rng(seed)


def generator(seed=None):
    """A Generator: a fresh one for an explicit seed, else the library's shared one."""
    return np.random.default_rng(seed) if seed is not None else _GENERATOR


# -- keras.random: Tensors of draws. An int seed draws from a generator of its own (the same
# seed, the same values); seed=None draws from the shared one. The values differ from Keras's.

def _draw_setup(name, shape, dtype, seed, default_dtype):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"{name}: seed must be an int or None; got {type(seed).__name__}")
    return check_shape(shape, name), np.dtype(dtype or default_dtype), generator(seed)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Draws from a normal distribution (dtype defaults to floatx)."""
    shape, dtype, rng = _draw_setup("normal", shape, dtype, seed, floatx())
    return Tensor(rng.normal(mean, stddev, size=shape).astype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Draws from the uniform distribution on [minval, maxval) (dtype defaults to floatx)."""
    shape, dtype, rng = _draw_setup("uniform", shape, dtype, seed, floatx())
    return Tensor(rng.uniform(minval, maxval, size=shape).astype(dtype))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from [minval, maxval)."""
    shape, dtype, rng = _draw_setup("randint", shape, dtype, seed, "int32")
    if minval >= maxval:
        raise ValueError(f"randint: expected minval < maxval; got {minval} and {maxval}")
    return Tensor(rng.integers(minval, maxval, size=shape).astype(dtype))
