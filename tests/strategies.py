"""Hypothesis strategies for the engine's tests.

Strategies draw SHAPES and a SEED, never array contents: the arrays themselves are made by the
seeded helpers below (`make_array`), so a failing example is reproduced from its printed shape and
seed alone, and the values can be kept away from the points where an op has a kink (|x| for abs and
relu, ties for max/min/maximum, the domain edge for log/sqrt) without hypothesis wasting examples.

Sizes are small on purpose: finite differences cost four forward passes per input element.
"""
import numpy as np
from hypothesis import strategies as st

MAX_SIDE = 3
MAX_DIMS = 3


# -- shapes and seeds ----------------------------------------------------------------------------

def seeds():
    return st.integers(min_value=0, max_value=2**32 - 1)


def sides(min_side=1, max_side=MAX_SIDE):
    """A dimension's size. Hypothesis favours the first choice, so 2 comes before 1: with a few
    dozen examples a run should not be all size-1 dimensions (that would hide transposition and
    broadcasting mistakes)."""
    preferred = [2, 3, 1] + list(range(4, max_side + 1))
    return st.sampled_from([n for n in preferred if min_side <= n <= max_side])


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """A shape tuple such as (), (3,), (2, 1, 3)."""
    return st.lists(sides(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcast_pairs(draw, min_dims=0, max_dims=MAX_DIMS, must_broadcast=True):
    """Two shapes that broadcast together: (a_shape, b_shape).

    Both come from one result shape: each operand may lose leading dimensions and may have any of
    its dimensions shrunk to 1. With must_broadcast, the two shapes are not equal, so broadcasting
    (a size-1 dimension stretched, or a missing leading one added) really happens.
    """
    result = draw(shapes(min_dims=max(min_dims, 1 if must_broadcast else 0), max_dims=max_dims,
                         min_side=2 if must_broadcast else 1))
    return tuple(draw(_broadcast_views(result, n=2, must_differ=must_broadcast)))


@st.composite
def broadcast_triples(draw, max_dims=MAX_DIMS):
    """Three mutually broadcastable shapes (for where(condition, x, y))."""
    result = draw(shapes(min_dims=1, max_dims=max_dims, min_side=2))
    return tuple(draw(_broadcast_views(result, n=3, must_differ=True)))


@st.composite
def _broadcast_views(draw, result, n, must_differ):
    out = []
    for _ in range(n):
        # sampled_from favours its first choice: keep most dimensions, so shapes stay informative
        drop = draw(st.sampled_from(range(len(result) + 1)))
        kept = result[drop:]
        out.append(tuple(draw(st.sampled_from([side, 1])) for side in kept))
    if must_differ and len(set(out)) == 1:
        # same shape drawn for all: make the first one miss its leading dimension instead
        out[0] = out[0][1:] if out[0] else out[0]
        if len(set(out)) == 1:
            out[0] = (1,) * len(result)
    return out


@st.composite
def shape_and_axis(draw, min_dims=1, max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """(shape, axis) with axis a valid int for the shape, negative half of the time."""
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side))
    axis = draw(st.integers(0, len(shape) - 1))
    if draw(st.booleans()):
        axis -= len(shape)
    return shape, axis


@st.composite
def reduction_axes(draw, ndim):
    """axis argument for sum/mean/max/min: None, an int (maybe negative) or a tuple of ints."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        axis = draw(st.integers(0, ndim - 1))
        return axis - ndim if draw(st.booleans()) else axis
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(chosen)


# -- seeded arrays -------------------------------------------------------------------------------

def make_array(shape, seed, kind="normal", dtype=np.float64, margin=0.05):
    """A seeded random array of `shape`.

    kind: "normal" (standard normal), "nonzero" (|x| > margin: abs, relu, a divisor),
          "positive" (in [0.5, 2): log, sqrt, a fractional power), "distinct" (all values at least
          0.1 apart: max, min, sort-like ops), "ties" (values in {-1, -0.5, 0, 0.5, 1}: ties
          and zeros, ON the kinks, for comparing subgradient conventions with TensorFlow),
          "large" (standard normal with some entries set to +-1000, to test numerical stability).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "nonzero":
        x = away_from(rng.standard_normal(shape), (0.0,), margin)
    elif kind == "positive":
        x = rng.uniform(0.5, 2.0, size=shape)
    elif kind == "distinct":
        x = distinct_values(int(np.prod(shape)), rng).reshape(shape)
    elif kind == "ties":
        x = rng.integers(-2, 3, size=shape) / 2.0   # many exact ties and exact zeros: the kinks
    elif kind == "large":
        x = rng.standard_normal(shape)
        flat = x.reshape(-1)
        flat[rng.random(flat.size) < 0.5] = 1000.0
        flat[0] = -1000.0 if flat.size > 1 else 1000.0
        flat[-1] = 1000.0
    else:
        raise ValueError(f"make_array: unknown kind {kind!r}; expected one of 'normal', "
                         f"'nonzero', 'positive', 'distinct', 'ties', 'large'")
    return np.array(x, dtype=dtype)  # C-contiguous, and 0-d stays 0-d (unlike ascontiguousarray)


def make_arrays(shapes_, seed, kind="normal", dtype=np.float64):
    """One array per shape, from one seed (each from its own child stream)."""
    children = np.random.SeedSequence(seed).spawn(len(shapes_))
    return [make_array(s, int(c.generate_state(1)[0]), kind, dtype) for s, c in zip(shapes_, children)]


def distinct_values(n, rng, gap=0.1):
    """n values in random order, every two of them more than `gap` apart."""
    jitter = rng.uniform(-0.25, 0.25, size=n)
    return (rng.permutation(n) - n / 2 + jitter) * (2 * gap)


def away_from(x, kinks, margin=0.05):
    """x with every element pushed more than `margin` away from each point in `kinks`."""
    x = np.array(x, dtype=np.float64)
    for k in kinks:
        d = x - k
        near = np.abs(d) <= margin
        x[near] = k + np.where(d[near] >= 0, 1.0, -1.0) * (2 * margin + np.abs(d[near]))
    return x


def distinct_pair(a_shape, b_shape, seed, dtype=np.float64):
    """Two arrays whose elements are all distinct from each other (maximum/minimum, no ties)."""
    rng = np.random.default_rng(seed)
    na, nb = int(np.prod(a_shape)), int(np.prod(b_shape))
    pool = distinct_values(na + nb, rng)
    return (np.array(pool[:na].reshape(a_shape), dtype=dtype),
            np.array(pool[na:].reshape(b_shape), dtype=dtype))
