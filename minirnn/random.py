"""One seeded NumPy Generator for the whole library: initializers, dropout masks, shuffling.

The seed and the generator are process-wide, as in Keras: every thread draws from the same one
(NumPy's Generator serialises the draws), unlike grad mode, which belongs to each thread.
"""
import random

import numpy as np

__all__ = ["set_random_seed", "generator"]

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
