"""Every primitive in minirnn.ops against TensorFlow: forward values and gradients.

One table: (name, minirnn fn, tf fn, input maker). Each row runs on the same seeded random inputs
in float64 (to rel 1e-10) and float32 (to rel 1e-5). Gradients are vector-Jacobian products with a
seeded random upstream gradient for every output: minirnn's backward() against tf.GradientTape.
"""
import os
import sys
import zlib
from typing import Callable, NamedTuple

import numpy as np
import pytest

import minirnn
from minirnn import ops
from strategies import away_from, distinct_pair, make_array, make_arrays
from tf_helpers import MISSING_TF, import_tf, tf

pytestmark = pytest.mark.tf

TOLERANCES = {  # (rtol, atol): atol only matters for elements that are ~0 through cancellation
    "float64": (1e-10, 1e-12),
    "float32": (1e-5, 1e-6),
}


class Row(NamedTuple):
    name: str
    mr: Callable       # minirnn: fn(*tensors, **static) -> Tensor or tuple of Tensors
    tf: Callable       # tensorflow: fn(*tf_tensors, **static), the same math
    make: Callable     # make(seed, dtype) -> (list of float arrays, static kwargs)


# -- input makers ----------------------------------------------------------------------------------

def arrays(*shapes, kind="normal", **static):
    """Inputs of these shapes (all of one kind), and static keyword arguments for both fns."""
    return lambda seed, dtype: (make_arrays(shapes, seed, kind, dtype), static)


def mixed(*specs, **static):
    """Inputs of different kinds: specs are (shape, kind) pairs."""
    def make(seed, dtype):
        return [make_array(shape, seed + i, kind, dtype) for i, (shape, kind) in enumerate(specs)], static
    return make


def distinct(a_shape, b_shape):
    """Two inputs with no ties between any of their elements (maximum, minimum)."""
    return lambda seed, dtype: (list(distinct_pair(a_shape, b_shape, seed, dtype)), {})


def clip_inputs(shape, lo, hi):
    def make(seed, dtype):
        x = away_from(make_array(shape, seed) * 1.5, (lo, hi)).astype(dtype)
        return [x], {"x_min": lo, "x_max": hi}
    return make


def where_inputs(cond_shape, x_shape, y_shape):
    def make(seed, dtype):
        condition = np.random.default_rng(seed).random(cond_shape) < 0.5
        return make_arrays([x_shape, y_shape], seed, "normal", dtype), {"condition": condition}
    return make


# -- TensorFlow versions of the ops whose arguments differ -------------------------------------

def tf_gather(x, index, axis):
    return tf.gather(x, index, axis=axis)


def mr_gather(x, index, axis):
    return ops.getitem(x, (slice(None),) * (axis % x.ndim) + (index,))


def tf_split(x, indices_or_sections, axis):
    """np.split's argument (a count, or the indices to cut at) as tf.split's (a count, or sizes)."""
    if np.ndim(indices_or_sections) == 0:
        return tf.split(x, indices_or_sections, axis=axis)
    bounds = [0, *indices_or_sections, x.shape[axis]]
    return tf.split(x, [b - a for a, b in zip(bounds[:-1], bounds[1:])], axis=axis)


def tf_transpose(x, axes):
    return tf.transpose(x, [a % len(x.shape) for a in axes])


# -- the table -------------------------------------------------------------------------------------

ROWS = [
    # elementwise arithmetic, each binary op also broadcasting (missing leading dims, size-1 dims)
    Row("add", ops.add, lambda a, b: a + b, arrays((3, 4), (3, 4))),
    Row("add_broadcast", ops.add, lambda a, b: a + b, arrays((2, 3, 4), (4,))),
    Row("add_broadcast_ones", ops.add, lambda a, b: a + b, arrays((3, 1), (2, 1, 4))),
    Row("sub", ops.sub, lambda a, b: a - b, arrays((3, 4), (3, 4))),
    Row("sub_broadcast", ops.sub, lambda a, b: a - b, arrays((1, 4), (3, 1))),
    Row("mul", ops.mul, lambda a, b: a * b, arrays((3, 4), (3, 4))),
    Row("mul_broadcast", ops.mul, lambda a, b: a * b, arrays((2, 3, 1), (3, 4))),
    Row("mul_scalar_shape", ops.mul, lambda a, b: a * b, arrays((), (2, 3))),
    Row("div", ops.div, lambda a, b: a / b, mixed(((3, 4), "normal"), ((3, 4), "nonzero"))),
    Row("div_broadcast", ops.div, lambda a, b: a / b, mixed(((4,), "normal"), ((2, 3, 1), "nonzero"))),
    Row("neg", ops.neg, lambda x: -x, arrays((3, 4))),
    Row("pow_int", ops.pow, lambda x, exponent: x ** exponent, arrays((3, 4), exponent=3)),
    Row("pow_fraction", ops.pow, lambda x, exponent: x ** exponent,
        arrays((3, 4), kind="positive", exponent=2.5)),
    Row("pow_negative", ops.pow, lambda x, exponent: x ** exponent,
        arrays((3, 4), kind="positive", exponent=-1.5)),
]

_tnp_matmul = lambda a, b: tf.experimental.numpy.matmul(a, b)  # noqa: E731 (numpy's matmul rules)

ROWS += [
    # matrix product, numpy semantics
    Row("matmul_1d_1d", ops.matmul, _tnp_matmul, arrays((4,), (4,))),
    Row("matmul_1d_2d", ops.matmul, _tnp_matmul, arrays((4,), (4, 3))),
    Row("matmul_2d_1d", ops.matmul, _tnp_matmul, arrays((3, 4), (4,))),
    Row("matmul_2d", ops.matmul, _tnp_matmul, arrays((3, 4), (4, 2))),
    Row("matmul_batched", ops.matmul, _tnp_matmul, arrays((2, 3, 4), (2, 4, 2))),
    Row("matmul_batch_broadcast", ops.matmul, _tnp_matmul, arrays((2, 1, 3, 4), (3, 4, 2))),
    Row("matmul_1d_batched", ops.matmul, _tnp_matmul, arrays((4,), (2, 4, 3))),
    Row("matmul_batched_1d", ops.matmul, _tnp_matmul, arrays((2, 3, 4), (4,))),
    Row("addmm", ops.addmm, lambda c, a, b: c + tf.matmul(a, b), arrays((3, 2), (3, 4), (4, 2))),
    Row("addmm_row_bias", ops.addmm, lambda c, a, b: c + tf.matmul(a, b),
        arrays((2,), (3, 4), (4, 2))),
    # elementwise functions (inputs kept inside the domain and away from kinks)
    Row("square", ops.square, lambda x: tf.square(x), arrays((3, 4))),
    Row("identity", ops.identity, lambda x: tf.identity(x), arrays((3, 4))),
    Row("exp", ops.exp, lambda x: tf.exp(x), arrays((3, 4))),
    Row("log", ops.log, lambda x: tf.math.log(x), arrays((3, 4), kind="positive")),
    Row("sqrt", ops.sqrt, lambda x: tf.sqrt(x), arrays((3, 4), kind="positive")),
    Row("abs", ops.abs, lambda x: tf.abs(x), arrays((3, 4), kind="nonzero")),
    Row("tanh", ops.tanh, lambda x: tf.tanh(x), arrays((3, 4))),
    Row("sigmoid", ops.sigmoid, lambda x: tf.sigmoid(x), arrays((3, 4))),
    Row("relu", ops.relu, lambda x: tf.nn.relu(x), arrays((3, 4), kind="nonzero")),
    Row("softplus", ops.softplus, lambda x: tf.nn.softplus(x), arrays((3, 4))),
    Row("softmax", ops.softmax, lambda x, axis: tf.nn.softmax(x, axis=axis), arrays((2, 3, 4), axis=-1)),
    Row("softmax_axis0", ops.softmax, lambda x, axis: tf.nn.softmax(x, axis=axis),
        arrays((2, 3, 4), axis=0)),
    Row("softmax_axis1", ops.softmax, lambda x, axis: tf.nn.softmax(x, axis=axis),
        arrays((2, 3, 4), axis=1)),
    Row("log_softmax", ops.log_softmax, lambda x, axis: tf.nn.log_softmax(x, axis=axis),
        arrays((2, 3, 4), axis=-1)),
    Row("log_softmax_axis0", ops.log_softmax, lambda x, axis: tf.nn.log_softmax(x, axis=axis),
        arrays((2, 3, 4), axis=0)),
    Row("log_softmax_axis-2", ops.log_softmax, lambda x, axis: tf.nn.log_softmax(x, axis=axis),
        arrays((2, 3, 4), axis=-2)),
    # numerical stability: entries at +-1000 must stay finite and still equal TensorFlow
    Row("sigmoid_large", ops.sigmoid, lambda x: tf.sigmoid(x), arrays((3, 4), kind="large")),
    Row("softplus_large", ops.softplus, lambda x: tf.nn.softplus(x), arrays((3, 4), kind="large")),
    Row("softmax_large", ops.softmax, lambda x, axis: tf.nn.softmax(x, axis=axis),
        arrays((3, 4), kind="large", axis=-1)),
    Row("log_softmax_large", ops.log_softmax, lambda x, axis: tf.nn.log_softmax(x, axis=axis),
        arrays((3, 4), kind="large", axis=-1)),
    # on the kinks: ties and zeros get TensorFlow's subgradient (relu'(0) = |.|'(0) = 0; a tie in
    # maximum/minimum goes to the first operand; reduce_max/min split it evenly among the tied)
    Row("relu_at_zero", ops.relu, lambda x: tf.nn.relu(x), arrays((4, 5), kind="ties")),
    Row("abs_at_zero", ops.abs, lambda x: tf.abs(x), arrays((4, 5), kind="ties")),
    Row("maximum_ties", ops.maximum, lambda a, b: tf.maximum(a, b), arrays((4, 5), (5,), kind="ties")),
    Row("minimum_ties", ops.minimum, lambda a, b: tf.minimum(a, b), arrays((4, 1), (4, 5), kind="ties")),
    Row("max_ties", ops.max, lambda x, axis: tf.reduce_max(x, axis), arrays((4, 5), kind="ties", axis=1)),
    Row("min_ties", ops.min, lambda x: tf.reduce_min(x), arrays((4, 5), kind="ties")),
    Row("clip_at_bounds", ops.clip, lambda x, x_min, x_max: tf.clip_by_value(x, x_min, x_max),
        arrays((4, 5), kind="ties", x_min=-0.5, x_max=0.5)),
    # reductions
    Row("sum", ops.sum, lambda x: tf.reduce_sum(x), arrays((3, 4))),
    Row("sum_axis", ops.sum, lambda x, axis, keepdims: tf.reduce_sum(x, axis, keepdims=keepdims),
        arrays((2, 3, 4), axis=1, keepdims=False)),
    Row("sum_axes_keepdims", ops.sum, lambda x, axis, keepdims: tf.reduce_sum(x, axis, keepdims=keepdims),
        arrays((2, 3, 4), axis=(0, -1), keepdims=True)),
    Row("mean", ops.mean, lambda x: tf.reduce_mean(x), arrays((3, 4))),
    Row("mean_axis", ops.mean, lambda x, axis, keepdims: tf.reduce_mean(x, axis, keepdims=keepdims),
        arrays((2, 3, 4), axis=-1, keepdims=True)),
    Row("mean_axes", ops.mean, lambda x, axis: tf.reduce_mean(x, axis), arrays((2, 3, 4), axis=(0, 2))),
    Row("max", ops.max, lambda x: tf.reduce_max(x), arrays((3, 4), kind="distinct")),
    Row("max_axis", ops.max, lambda x, axis, keepdims: tf.reduce_max(x, axis, keepdims=keepdims),
        arrays((2, 3, 4), kind="distinct", axis=1, keepdims=True)),
    Row("max_axes", ops.max, lambda x, axis: tf.reduce_max(x, axis),
        arrays((2, 3, 4), kind="distinct", axis=(0, -1))),
    Row("min", ops.min, lambda x: tf.reduce_min(x), arrays((3, 4), kind="distinct")),
    Row("min_axis", ops.min, lambda x, axis, keepdims: tf.reduce_min(x, axis, keepdims=keepdims),
        arrays((2, 3, 4), kind="distinct", axis=-1, keepdims=False)),
    # shape and indexing
    Row("reshape", ops.reshape, lambda x, shape: tf.reshape(x, shape), arrays((2, 3, 4), shape=(4, 6))),
    Row("reshape_infer", ops.reshape, lambda x, shape: tf.reshape(x, shape),
        arrays((2, 3, 4), shape=(-1, 2))),
    Row("transpose", ops.transpose, lambda x: tf.transpose(x), arrays((2, 3, 4))),
    Row("transpose_axes", ops.transpose, tf_transpose, arrays((2, 3, 4), axes=(1, 2, 0))),
    Row("transpose_negative_axes", ops.transpose, tf_transpose, arrays((2, 3, 4), axes=(-1, 0, -2))),
    Row("expand_dims", ops.expand_dims, lambda x, axis: tf.expand_dims(x, axis), arrays((3, 4), axis=1)),
    Row("expand_dims_last", ops.expand_dims, lambda x, axis: tf.expand_dims(x, axis),
        arrays((3, 4), axis=-1)),
    Row("squeeze", ops.squeeze, lambda x: tf.squeeze(x), arrays((3, 1, 4, 1))),
    Row("squeeze_axis", ops.squeeze, lambda x, axis: tf.squeeze(x, axis), arrays((3, 1, 4, 1), axis=-1)),
    Row("getitem_slices", ops.getitem, lambda x, index: x[index],
        arrays((4, 5), index=(slice(1, None), slice(None, None, -2)))),
    Row("getitem_ints", ops.getitem, lambda x, index: x[index],
        arrays((3, 4, 5), index=(1, slice(None), -1))),
    Row("getitem_int", ops.getitem, lambda x, index: x[index], arrays((3, 4), index=-2)),
    Row("getitem_repeated_indices", mr_gather, tf_gather,
        arrays((4, 3), index=np.array([0, 2, 2, 3, 0, 2]), axis=0)),
    Row("getitem_repeated_indices_axis1", mr_gather, tf_gather,
        arrays((2, 4, 3), index=np.array([[1, 1], [3, 1]]), axis=1)),
    Row("concat", lambda *xs, axis: ops.concat(xs, axis=axis),
        lambda *xs, axis: tf.concat(xs, axis=axis), arrays((2, 1, 3), (2, 4, 3), (2, 2, 3), axis=1)),
    Row("concat_last", lambda *xs, axis: ops.concat(xs, axis=axis),
        lambda *xs, axis: tf.concat(xs, axis=axis), arrays((2, 3), (2, 1), axis=-1)),
    Row("stack", lambda *xs, axis: ops.stack(xs, axis=axis),
        lambda *xs, axis: tf.stack(xs, axis=axis), arrays((2, 3), (2, 3), (2, 3), axis=0)),
    Row("stack_last", lambda *xs, axis: ops.stack(xs, axis=axis),
        lambda *xs, axis: tf.stack(xs, axis=axis), arrays((2, 3), (2, 3), axis=-1)),
    Row("split", ops.split, tf_split, arrays((6, 4), indices_or_sections=3, axis=0)),
    Row("split_indices", ops.split, tf_split, arrays((2, 5), indices_or_sections=[1, 3], axis=-1)),
    Row("unstack", ops.unstack, lambda x, axis: tf.unstack(x, axis=axis), arrays((2, 3, 4), axis=1)),
    Row("where", lambda x, y, condition: ops.where(condition, x, y),
        lambda x, y, condition: tf.where(condition, x, y), where_inputs((3, 4), (3, 4), (3, 4))),
    Row("where_broadcast", lambda x, y, condition: ops.where(condition, x, y),
        lambda x, y, condition: tf.where(condition, x, y), where_inputs((2, 3, 1), (4,), (3, 1))),
    Row("maximum", ops.maximum, lambda a, b: tf.maximum(a, b), distinct((3, 4), (3, 4))),
    Row("maximum_broadcast", ops.maximum, lambda a, b: tf.maximum(a, b), distinct((2, 1, 4), (3, 1))),
    Row("minimum", ops.minimum, lambda a, b: tf.minimum(a, b), distinct((3, 4), (3, 4))),
    Row("minimum_broadcast", ops.minimum, lambda a, b: tf.minimum(a, b), distinct((4,), (2, 3, 1))),
    Row("clip", ops.clip, lambda x, x_min, x_max: tf.clip_by_value(x, x_min, x_max),
        clip_inputs((4, 5), -0.5, 0.8)),
    Row("einsum_matmul", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((3, 4), (4, 2), eq="ij,jk->ik")),
    Row("einsum_batched", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((2, 3, 4), (2, 4, 5), eq="bij,bjk->bik")),
    Row("einsum_dot", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((4,), (4,), eq="i,i->")),
    Row("einsum_outer", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((3,), (4,), eq="i,j->ij")),
    Row("einsum_reduce_one_operand", lambda *xs, eq: ops.einsum(eq, *xs),
        lambda *xs, eq: tf.einsum(eq, *xs), arrays((2, 3), (3, 4), eq="ij,jk->k")),
    Row("einsum_transpose", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((2, 3, 4), eq="bij->jb")),
    Row("einsum_three", lambda *xs, eq: ops.einsum(eq, *xs), lambda *xs, eq: tf.einsum(eq, *xs),
        arrays((2, 3), (3, 4), (4,), eq="ij,jk,k->i")),
]

# every public primitive of minirnn.ops has a row (a new op must be added to the table)
COVERED = {"add", "sub", "mul", "div", "neg", "pow", "matmul", "addmm", "exp", "log", "sqrt",
           "abs", "tanh", "sigmoid", "relu", "softplus", "softmax", "log_softmax", "sum", "mean",
           "max", "min", "reshape", "transpose", "expand_dims", "squeeze", "getitem", "concat",
           "stack", "split", "unstack", "where", "maximum", "minimum", "clip", "einsum", "square",
           "identity"}


def test_table_covers_every_op():
    names = {row.name for row in ROWS}
    missing = {op for op in COVERED if not any(n == op or n.startswith(op + "_") for n in names)}
    assert not missing, f"ops without a TensorFlow parity row: {sorted(missing)}"
    assert COVERED <= set(ops.__all__)


# -- the one helper --------------------------------------------------------------------------------

def as_list(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def run_minirnn(row, arrays_, static, upstream):
    inputs = [minirnn.tensor(a, requires_grad=True) for a in arrays_]
    outputs = as_list(row.mr(*inputs, **static))
    if len(outputs) == 1:
        outputs[0].backward(upstream[0])
    else:  # several outputs of one node: the VJP of sum_i <out_i, upstream_i>
        loss = outputs[0].sum() * 0.0
        for out, g in zip(outputs, upstream):
            loss = loss + (out * g).sum()
        loss.backward()
    return [o.data for o in outputs], [t.grad for t in inputs]


def run_tf(row, arrays_, static, upstream):
    tf_ = import_tf()
    inputs = [tf_.constant(a) for a in arrays_]
    with tf_.GradientTape() as tape:
        tape.watch(inputs)
        outputs = as_list(row.tf(*inputs, **static))
    grads = tape.gradient(outputs, inputs, output_gradients=[tf_.constant(g) for g in upstream],
                          unconnected_gradients="zero")
    # gather gives IndexedSlices; converting sums the slices of repeated indices
    return [o.numpy() for o in outputs], [tf_.convert_to_tensor(g).numpy() for g in grads]


def forward_shapes(row, arrays_, static):
    with minirnn.no_grad():
        return [o.shape for o in as_list(row.mr(*[minirnn.tensor(a) for a in arrays_], **static))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_op_matches_tensorflow(row, dtype):
    import_tf()  # skip (or fail on CI) before doing any work
    rtol, atol = TOLERANCES[dtype]
    seed = zlib.crc32(row.name.encode())
    arrays_, static = row.make(seed, np.dtype(dtype))
    assert all(a.dtype == dtype for a in arrays_)
    rng = np.random.default_rng(seed + 1)
    upstream = [rng.standard_normal(s).astype(dtype) for s in forward_shapes(row, arrays_, static)]

    with np.errstate(over="raise", divide="raise", invalid="raise"):  # stable: no inf on the way
        values, grads = run_minirnn(row, arrays_, static, upstream)
    tf_values, tf_grads = run_tf(row, arrays_, static, upstream)

    assert len(values) == len(tf_values)
    for i, (v, t) in enumerate(zip(values, tf_values)):
        assert v.dtype == dtype, f"output {i} is {v.dtype}, expected {dtype} (no silent upcast)"
        assert v.shape == t.shape, f"output {i}: shape {v.shape}, TensorFlow {t.shape}"
        assert np.all(np.isfinite(v)), f"output {i} is not finite: {v}"
        np.testing.assert_allclose(v, t, rtol=rtol, atol=atol, err_msg=f"{row.name} forward, output {i}")
    for i, (g, t) in enumerate(zip(grads, tf_grads)):
        assert g is not None, f"input {i} got no gradient"
        assert g.dtype == dtype and g.shape == arrays_[i].shape
        assert np.all(np.isfinite(g)), f"gradient of input {i} is not finite: {g}"
        np.testing.assert_allclose(g, t, rtol=rtol, atol=atol, err_msg=f"{row.name} gradient, input {i}")


# -- tf_helpers: a missing TensorFlow skips locally but fails on CI ---------------------------------

@pytest.fixture
def no_tensorflow(monkeypatch):
    """Make `import tensorflow` raise ImportError, with CI flags cleared."""
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # None in sys.modules: import fails
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("MINIRNN_REQUIRE_TF", raising=False)
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    return monkeypatch


def test_import_tf_skips_when_missing(no_tensorflow):
    with pytest.raises(pytest.skip.Exception, match=r"TensorFlow is not installed: pip install -e"):
        import_tf()


@pytest.mark.parametrize("variable, value", [("CI", "true"), ("CI", "True"), ("MINIRNN_REQUIRE_TF", "1")])
def test_import_tf_fails_when_required(no_tensorflow, variable, value):
    no_tensorflow.setenv(variable, value)
    with pytest.raises(pytest.fail.Exception, match=r"TensorFlow is not installed.*required"):
        import_tf()


@pytest.mark.parametrize("variable, value", [("CI", "false"), ("CI", ""), ("MINIRNN_REQUIRE_TF", "0")])
def test_import_tf_still_skips_when_not_required(no_tensorflow, variable, value):
    no_tensorflow.setenv(variable, value)
    with pytest.raises(pytest.skip.Exception):
        import_tf()


def test_lazy_tf_goes_through_import_tf(no_tensorflow):
    no_tensorflow.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=MISSING_TF.split(":")[0]):
        tf.constant(1.0)


def test_import_tf_quiets_tensorflow_before_importing(no_tensorflow):
    seen = {}

    class Recorder:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow":
                seen.update({k: os.environ.get(k)
                             for k in ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL")})
            return None

    no_tensorflow.delitem(sys.modules, "tensorflow")
    no_tensorflow.setattr(sys, "meta_path", [Recorder()])  # nothing can be found: ImportError
    with pytest.raises(pytest.skip.Exception):
        import_tf()
    assert seen == {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
