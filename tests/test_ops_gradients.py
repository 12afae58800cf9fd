"""Every primitive in minirnn.ops: gradients against finite differences, forward values against NumPy.

One table of ops. Each row is (name, minirnn fn, NumPy reference, case strategy); the strategy draws
shapes (broadcasting pairs for every binary op), static arguments (axis, keepdims, index, ...) and a
seed, and returns the seeded input arrays with the static arguments. One helper checks every row:
`check_grads` in float64 at rtol 1e-6, and the forward value against the NumPy reference.
"""
from typing import Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minirnn
from minirnn import check_grads, ops
from strategies import (away_from, broadcast_pairs, broadcast_triples, distinct_pair, make_array,
                        make_arrays, reduction_axes, seeds, shape_and_axis, shapes, sides)


class Op(NamedTuple):
    name: str
    fn: Callable        # minirnn: fn(*tensors, **static)
    ref: Callable       # NumPy: ref(*arrays, **static), the same value
    cases: st.SearchStrategy  # draws (list of float64 arrays, dict of static arguments)


# -- case strategies: shapes and seed in, arrays out -------------------------------------------

@st.composite
def unary(draw, kind="normal", min_dims=0, **static):
    shape = draw(shapes(min_dims=min_dims))
    return [make_array(shape, draw(seeds()), kind)], dict(static)


@st.composite
def binary(draw, a_kind="normal", b_kind="normal"):
    """Two broadcasting inputs: half the time of different shapes (size-1 or missing leading dims)."""
    a_shape, b_shape = draw(broadcast_pairs(must_broadcast=draw(st.booleans())))
    seed = draw(seeds())
    return [make_array(a_shape, seed, a_kind), make_array(b_shape, seed + 1, b_kind)], {}


@st.composite
def no_ties(draw):
    """maximum/minimum: broadcasting inputs whose elements are all distinct."""
    a_shape, b_shape = draw(broadcast_pairs(must_broadcast=draw(st.booleans())))
    return list(distinct_pair(a_shape, b_shape, draw(seeds()))), {}


@st.composite
def powers(draw):
    exponent = draw(st.sampled_from([2, 3, -1, 0.5, 2.5, -1.5]))
    kind = "normal" if float(exponent).is_integer() and exponent > 0 else "positive"
    return [make_array(draw(shapes()), draw(seeds()), kind)], {"exponent": exponent}


@st.composite
def matmuls(draw):
    """np.matmul operands: 1-D x 1-D, 1-D x N-D, N-D x 1-D, 2-D, and N-D with broadcast batch dims."""
    n, k, m = draw(sides()), draw(sides()), draw(sides())
    a_rank, b_rank = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 1), (3, 3),
                                           (2, 4), (4, 3)]))
    a_batch, b_batch = draw(broadcast_pairs(min_dims=0, max_dims=2, must_broadcast=False))
    a_batch, b_batch = _fit(a_batch, a_rank - 2), _fit(b_batch, b_rank - 2)
    a_shape = (k,) if a_rank == 1 else a_batch + (n, k)
    b_shape = (k,) if b_rank == 1 else b_batch + (k, m)
    return make_arrays([a_shape, b_shape], draw(seeds())), {}


@st.composite
def addmms(draw):
    """addmm operands: c broadcasting to (n, m) in every way, a (n, k), b (k, m)."""
    n, k, m = draw(sides()), draw(sides()), draw(sides())
    c_shape = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), (1, 1), ()]))
    return make_arrays([c_shape, (n, k), (k, m)], draw(seeds())), {}


def _fit(batch, ndim):
    """batch dims cut or padded (with leading 1s) to exactly ndim (>= 0) dimensions."""
    ndim = max(ndim, 0)
    batch = batch[len(batch) - ndim:] if ndim else ()
    return (1,) * (ndim - len(batch)) + batch


@st.composite
def along_axis(draw, kind="normal", **static):
    """One input and a valid `axis` (softmax, log_softmax)."""
    shape, axis = draw(shape_and_axis())
    return [make_array(shape, draw(seeds()), kind)], {"axis": axis, **static}


@st.composite
def reductions(draw, kind="normal"):
    shape = draw(shapes())
    axis = draw(reduction_axes(len(shape)))
    return [make_array(shape, draw(seeds()), kind)], {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def reshapes(draw):
    shape = draw(shapes())
    size = int(np.prod(shape))
    target = draw(st.sampled_from([(size,), (-1,), (1, size), (size, 1, 1), tuple(reversed(shape)),
                                   (-1, 1) + shape[1:]]))
    return [make_array(shape, draw(seeds()))], {"shape": target}


@st.composite
def transposes(draw):
    shape = draw(shapes(min_dims=1))
    axes = draw(st.permutations(range(len(shape))))
    negative = draw(st.lists(st.booleans(), min_size=len(axes), max_size=len(axes)))
    axes = tuple(a - len(shape) if neg else a for a, neg in zip(axes, negative))
    return [make_array(shape, draw(seeds()))], {"axes": draw(st.sampled_from([axes, None]))}


@st.composite
def expand_dims_cases(draw):
    shape = draw(shapes())
    return [make_array(shape, draw(seeds()))], {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def squeezes(draw):
    shape = list(draw(shapes(min_dims=0, max_dims=2, min_side=2)))
    ones = draw(st.lists(st.integers(0, len(shape)), min_size=1, max_size=2))
    for position in ones:
        shape.insert(position, 1)
    axis = draw(st.sampled_from([None] + [i for i, n in enumerate(shape) if n == 1]))
    return [make_array(tuple(shape), draw(seeds()))], {"axis": axis}


@st.composite
def indices(draw):
    """x[index] for an int, slices (any step), a tuple of those, Ellipsis, None, and integer arrays
    that repeat indices (their gradients must accumulate)."""
    shape = draw(shapes(min_dims=1, min_side=2))
    n = shape[0]
    kind = draw(st.sampled_from(["int", "slice", "tuple", "ellipsis", "array", "array_axis1", "mask"]))
    if kind == "int":
        index = draw(st.integers(-n, n - 1))
    elif kind == "slice":
        index = slice(draw(st.none() | st.integers(-n, n)), draw(st.none() | st.integers(-n, n)),
                      draw(st.sampled_from([None, 1, 2, -1, -2])))
    elif kind == "tuple":
        index = tuple(draw(st.one_of(st.integers(-s, s - 1), st.just(slice(None, None, -1)),
                                     st.just(slice(1, None)))) for s in shape)
    elif kind == "ellipsis":
        index = (Ellipsis, draw(st.integers(-shape[-1], shape[-1] - 1)), None)
    elif kind == "mask":
        rng = np.random.default_rng(draw(seeds()))
        index = rng.random(n) < 0.5
        index[rng.integers(n)] = True  # never empty
    else:
        axis = 1 if kind == "array_axis1" and len(shape) > 1 else 0
        rows = draw(st.lists(st.integers(-shape[axis], shape[axis] - 1), min_size=1, max_size=4))
        index = np.array(rows + rows[:1])  # at least one index repeated
        if axis == 1:
            index = (slice(None), index.reshape(-1, 1) if draw(st.booleans()) else index)
    return [make_array(shape, draw(seeds()))], {"index": index}


@st.composite
def joins(draw, new_axis):
    """Several inputs for concat (sizes differ along axis) or stack (one shape)."""
    count = draw(st.integers(1, 3))
    shape, axis = draw(shape_and_axis(min_dims=1))
    if new_axis:
        shapes_ = [shape] * count
        axis = draw(st.integers(-len(shape) - 1, len(shape)))
    else:
        shapes_ = [shape[:axis % len(shape)] + (draw(sides()),) + shape[axis % len(shape) + 1:]
                   for _ in range(count)]
    return make_arrays(shapes_, draw(seeds())), {"axis": axis}


@st.composite
def splits(draw):
    """split into several outputs, of which only some are used (the rest must get zero gradient)."""
    shape, axis = draw(shape_and_axis(min_dims=1, max_side=4))
    size = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
        count = sections
    else:
        sections = sorted(draw(st.lists(st.integers(0, size), min_size=1, max_size=3)))
        count = len(sections) + 1
    used = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True))
    return [make_array(shape, draw(seeds()))], {"sections": sections, "axis": axis, "used": used}


@st.composite
def wheres(draw):
    c_shape, x_shape, y_shape = draw(broadcast_triples())
    seed = draw(seeds())
    condition = np.random.default_rng(seed).random(c_shape) < 0.5
    return make_arrays([x_shape, y_shape], seed + 1), {"condition": condition}


@st.composite
def clips(draw):
    lo = draw(st.sampled_from([-1.0, -0.5, 0.0]))
    hi = lo + draw(st.sampled_from([0.3, 1.0, 2.0]))
    x = away_from(make_array(draw(shapes()), draw(seeds())) * 1.5, (lo, hi))
    return [x], {"x_min": lo, "x_max": hi}


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "i,i->", "i,j->ij", "ij->ji", "ij->", "ij->j", "ijk->kij",
           "bi,ij->bj", "ij,jk,k->i", "ij,jk->k", "ij,kj", "i,i"]


@st.composite
def einsums(draw):
    subscripts = draw(st.sampled_from(EINSUMS))
    letters = sorted(set(subscripts) - set(",->"))
    size = {c: draw(sides()) for c in letters}
    operands = subscripts.split("->")[0].split(",")
    arrays_ = make_arrays([tuple(size[c] for c in spec) for spec in operands], draw(seeds()))
    return arrays_, {"subscripts": subscripts}


# -- functions with the calling convention fn(*arrays, **static) -------------------------------------

def _split(x, sections, axis, used):
    parts = ops.split(x, sections, axis=axis)
    return tuple(parts[i] for i in used)


@st.composite
def unstacks(draw):
    """unstack along an axis; only some slices are used (the rest must get zero gradient)."""
    shape, axis = draw(shape_and_axis(min_dims=1, max_side=4))
    used = draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, max_size=3, unique=True))
    seed = draw(st.integers(0, 2 ** 16))
    return [np.random.default_rng(seed).standard_normal(shape)], {"axis": axis, "used": used}


def _unstack(x, axis, used):
    parts = ops.unstack(x, axis=axis)
    return tuple(parts[i] for i in used)


def _np_unstack(x, axis, used):
    parts = list(np.moveaxis(x, axis, 0))
    return tuple(parts[i] for i in used)


def _np_split(x, sections, axis, used):
    parts = np.split(x, sections, axis=axis)
    return tuple(parts[i] for i in used)


def _np_softmax(x, axis):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


OPS = [
    Op("add", ops.add, np.add, binary()),
    Op("sub", ops.sub, np.subtract, binary()),
    Op("mul", ops.mul, np.multiply, binary()),
    Op("div", ops.div, np.divide, binary(b_kind="nonzero")),
    Op("neg", ops.neg, np.negative, unary()),
    Op("pow", ops.pow, lambda x, exponent: x ** exponent, powers()),
    Op("square", ops.square, np.square, unary()),
    Op("identity", ops.identity, lambda x: x, unary()),
    Op("matmul", ops.matmul, np.matmul, matmuls()),
    Op("addmm", ops.addmm, lambda c, a, b: c + a @ b, addmms()),
    Op("exp", ops.exp, np.exp, unary()),
    Op("log", ops.log, np.log, unary("positive")),
    Op("sqrt", ops.sqrt, np.sqrt, unary("positive")),
    Op("abs", ops.abs, np.abs, unary("nonzero")),
    Op("tanh", ops.tanh, np.tanh, unary()),
    Op("sigmoid", ops.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)), unary()),
    Op("relu", ops.relu, lambda x: np.where(x > 0, x, 0.0), unary("nonzero")),
    Op("softplus", ops.softplus, lambda x: np.log(1.0 + np.exp(x)), unary()),
    Op("softmax", ops.softmax, _np_softmax, along_axis()),
    Op("log_softmax", ops.log_softmax, _np_log_softmax, along_axis()),
    Op("sum", ops.sum, np.sum, reductions()),
    Op("mean", ops.mean, np.mean, reductions()),
    Op("max", ops.max, np.max, reductions("distinct")),
    Op("min", ops.min, np.min, reductions("distinct")),
    Op("reshape", ops.reshape, np.reshape, reshapes()),
    Op("transpose", ops.transpose, np.transpose, transposes()),
    Op("expand_dims", ops.expand_dims, np.expand_dims, expand_dims_cases()),
    Op("squeeze", ops.squeeze, np.squeeze, squeezes()),
    Op("getitem", ops.getitem, lambda x, index: x[index], indices()),
    Op("concat", lambda *xs, axis: ops.concat(xs, axis=axis),
       lambda *xs, axis: np.concatenate(xs, axis=axis), joins(new_axis=False)),
    Op("stack", lambda *xs, axis: ops.stack(xs, axis=axis),
       lambda *xs, axis: np.stack(xs, axis=axis), joins(new_axis=True)),
    Op("split", _split, _np_split, splits()),
    Op("unstack", _unstack, _np_unstack, unstacks()),
    Op("where", lambda x, y, condition: ops.where(condition, x, y),
       lambda x, y, condition: np.where(condition, x, y), wheres()),
    Op("maximum", ops.maximum, np.maximum, no_ties()),
    Op("minimum", ops.minimum, np.minimum, no_ties()),
    Op("clip", ops.clip, lambda x, x_min, x_max: np.clip(x, x_min, x_max), clips()),
    Op("einsum", lambda *xs, subscripts: ops.einsum(subscripts, *xs),
       lambda *xs, subscripts: np.einsum(subscripts, *xs), einsums()),
]
IDS = [op.name for op in OPS]


def test_table_covers_every_op():
    untested = set(ops.__all__) - set(IDS) - {"cast"}  # cast changes dtype: see test_engine
    assert not untested, f"ops without a gradient check: {sorted(untested)}"


def as_tuple(result):
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


# -- the helpers: one check for every row ----------------------------------------------------------

@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
def test_gradient_matches_finite_differences(float64, op, data):
    arrays_, static = data.draw(op.cases, label="inputs, static")
    check_grads(lambda *ts: op.fn(*ts, **static), *arrays_, rtol=1e-6)


@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
def test_forward_matches_numpy(float64, op, data):
    arrays_, static = data.draw(op.cases, label="inputs, static")
    expected = as_tuple(op.ref(*arrays_, **static))
    with minirnn.no_grad():
        got = as_tuple(op.fn(*[minirnn.tensor(a) for a in arrays_], **static))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert isinstance(g, minirnn.Tensor)
        assert g.shape == np.shape(e), f"shape {g.shape}, NumPy gives {np.shape(e)}"
        assert g.dtype == np.float64
        np.testing.assert_allclose(g.data, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
def test_float32_stays_float32(op, data):
    """Under the default policy float32 inputs give float32 values and float32 gradients."""
    arrays_, static = data.draw(op.cases, label="inputs, static")
    inputs = [minirnn.tensor(a.astype(np.float32), requires_grad=True) for a in arrays_]
    outputs = as_tuple(op.fn(*inputs, **static))
    for out, e in zip(outputs, as_tuple(op.ref(*arrays_, **static))):
        assert out.dtype == np.float32, f"{op.name} upcast float32 to {out.dtype}"
        np.testing.assert_allclose(out.data, e, rtol=1e-5, atol=1e-6)
    loss = outputs[0].sum()
    for out in outputs[1:]:
        loss = loss + out.sum()
    assert loss.dtype == np.float32
    loss.backward()
    for t in inputs:
        assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape
