"""`import minirnn as keras` serves a Keras 3 script: Keras's names at Keras's places, keras.ops's
functions with Keras's values, and a custom layer written against keras.ops that computes what
real Keras computes with the same weights.

Every name is looked up on real Keras too (so the table names no path Keras lacks); every op is
compared with keras.ops on the same float64 NumPy inputs; every differentiable op's gradient is
checked against finite differences on shapes hypothesis draws.
"""
import functools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import check_grads
from strategies import make_array, make_arrays, seeds, shapes, sides
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402  (after import_tf set TensorFlow's environment)


# -- names at Keras's places -----------------------------------------------------------------------

NAMES = """
layers models optimizers losses metrics callbacks initializers activations utils ops saving config
backend random preprocessing Sequential Model Input Layer InputSpec Initializer Loss Metric Optimizer
version
layers.Layer layers.Input layers.InputSpec layers.Dense layers.LSTM layers.GRU layers.SimpleRNN
layers.Embedding layers.Bidirectional
models.Model models.Sequential models.load_model
saving.load_model saving.save_model saving.save_weights saving.load_weights
saving.register_keras_serializable saving.get_custom_objects saving.custom_object_scope
saving.CustomObjectScope saving.get_registered_name saving.get_registered_object
config.floatx config.set_floatx config.epsilon config.backend config.image_data_format
config.enable_unsafe_deserialization
backend.clear_session backend.floatx backend.set_floatx backend.epsilon backend.backend
backend.image_data_format
utils.clear_session utils.set_random_seed utils.to_categorical utils.pad_sequences
random.normal random.uniform random.randint
activations.tanh activations.sigmoid activations.relu activations.softmax activations.log_softmax
activations.softplus activations.exponential activations.linear activations.elu
activations.softsign activations.hard_sigmoid activations.get activations.serialize
initializers.Initializer initializers.GlorotUniform initializers.Orthogonal initializers.Zeros
initializers.zeros initializers.ones initializers.constant initializers.random_normal
initializers.random_uniform initializers.glorot_uniform initializers.glorot_normal
initializers.he_uniform initializers.he_normal initializers.lecun_uniform initializers.orthogonal
initializers.identity initializers.get initializers.serialize
losses.Loss metrics.Metric optimizers.Optimizer optimizers.Adam
""".split()

# every op keras.ops has that minirnn.ops offers with Keras's meaning
OP_NAMES = """
matmul dot tanh sigmoid relu softmax log_softmax softplus exp log sqrt square abs concatenate stack
unstack split one_hot zeros ones zeros_like ones_like full full_like arange shape convert_to_tensor
convert_to_numpy is_tensor cast reshape transpose expand_dims squeeze sum mean max min argmax argmin
add subtract multiply divide true_divide negative power maximum minimum clip where tile repeat take
take_along_axis norm logical_and logical_or logical_not equal not_equal greater greater_equal less
less_equal all any cumsum flip einsum stop_gradient slice moments var std swapaxes moveaxis
broadcast_to
""".split()


def resolve(module, path):
    return functools.reduce(getattr, path.split("."), module)


@pytest.mark.parametrize("path", NAMES + [f"ops.{name}" for name in OP_NAMES])
def test_name_exists_where_keras_has_it(path):
    resolve(keras, path)          # the table names only Keras's own paths
    resolve(minirnn, path)        # AttributeError where minirnn lacks one


@pytest.mark.parametrize("same, as_", [
    ("Input", "layers.Input"), ("Layer", "layers.Layer"), ("InputSpec", "layers.InputSpec"),
    ("Sequential", "models.Sequential"), ("Model", "models.Model"),
    ("saving.load_model", "models.load_model"), ("Initializer", "initializers.Initializer"),
    ("Loss", "losses.Loss"), ("Metric", "metrics.Metric"), ("Optimizer", "optimizers.Optimizer"),
    ("initializers.glorot_uniform", "initializers.GlorotUniform"),
    ("backend.clear_session", "utils.clear_session"), ("config.floatx", "backend.floatx"),
])
def test_identities_hold_as_in_keras(same, as_):
    assert resolve(keras, same) is resolve(keras, as_)
    assert resolve(minirnn, same) is resolve(minirnn, as_)


def test_new_op_names_are_listed_by_dir_and_importable():
    listed = dir(minirnn.ops)
    assert set(OP_NAMES) <= set(listed)
    from minirnn.ops import concatenate, one_hot, slice  # noqa: F401  (from-import works too)
    with pytest.raises(AttributeError, match="no attribute 'not_an_op'"):
        minirnn.ops.not_an_op


def test_builtins_inside_ops_are_not_shadowed():
    # ops.py's own code uses all() and slice(); Keras's ops of those names must not replace them
    x = minirnn.tensor(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(x[(slice(0, 2), 1)].data, [1.0, 5.0])
    assert minirnn.ops.all is not all and minirnn.ops.slice is not slice


# -- config, backend, version ------------------------------------------------------------------------

def test_config_values_equal_keras():
    assert minirnn.config.floatx() == keras.config.floatx() == "float32"
    assert minirnn.config.epsilon() == keras.config.epsilon() == 1e-7
    assert minirnn.config.image_data_format() == keras.config.image_data_format()
    assert minirnn.config.backend() == "numpy"
    assert minirnn.backend.backend() == "numpy"
    assert minirnn.version() == minirnn.__version__ and isinstance(keras.version(), str)


def test_set_floatx_is_the_dtype_policy():
    minirnn.config.set_floatx("float64")
    assert minirnn.floatx() == minirnn.backend.floatx() == "float64"
    assert minirnn.ops.zeros((2,)).dtype == np.float64
    with pytest.raises(ValueError, match="floatx"):
        minirnn.config.set_floatx("float8")
    assert minirnn.config.floatx() == "float64"


def layer_names(lib):
    lib.backend.clear_session()
    first = [lib.layers.Dense(2).name for _ in range(3)]
    lib.backend.clear_session()
    return first + [lib.layers.Dense(2).name, lib.layers.LSTM(2).name]


def test_clear_session_restarts_layer_names_as_keras():
    assert layer_names(minirnn) == layer_names(keras) == ["dense", "dense_1", "dense_2", "dense",
                                                          "lstm"]


def halve(x):
    return x * 0.5


@pytest.fixture
def unsafe_flag_reset():
    yield
    minirnn.saving.registry.reset_unsafe_deserialization()


def test_enable_unsafe_deserialization_lets_a_module_path_load_until_clear_session(
        tmp_path, unsafe_flag_reset):
    model = minirnn.Sequential([minirnn.Input((3,)), minirnn.layers.Lambda(halve)])
    path = tmp_path / "halving.npz"
    model.save(path)
    x = np.arange(6.0, dtype="float32").reshape(2, 3)
    with pytest.raises(ValueError, match="safe_mode"):
        minirnn.models.load_model(path)
    minirnn.config.enable_unsafe_deserialization()
    np.testing.assert_array_equal(minirnn.models.load_model(path).predict(x, verbose=0), x * 0.5)
    minirnn.backend.clear_session()    # as in Keras, clearing the session makes loading safe again
    with pytest.raises(ValueError, match="safe_mode"):
        minirnn.models.load_model(path)


# -- keras.random -----------------------------------------------------------------------------------

@pytest.mark.parametrize("draw, kwargs, dtype", [
    (minirnn.random.normal, dict(mean=2.0, stddev=3.0), "float32"),
    (minirnn.random.uniform, dict(minval=-1.0, maxval=4.0), "float32"),
    (minirnn.random.randint, dict(minval=-3, maxval=5), "int32"),
])
def test_random_draws_are_seeded_shaped_and_distributed(draw, kwargs, dtype):
    a = draw((200, 50), seed=7, **kwargs)
    b = draw((200, 50), seed=7, **kwargs)
    assert a.shape == (200, 50) and a.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, draw((200, 50), seed=8, **kwargs).data)
    values = a.data.astype(np.float64)
    if draw is minirnn.random.normal:
        assert abs(values.mean() - 2.0) < 0.1 and abs(values.std() - 3.0) < 0.1
    elif draw is minirnn.random.uniform:
        assert values.min() >= -1.0 and values.max() < 4.0 and abs(values.mean() - 1.5) < 0.1
    else:
        assert set(np.unique(values)) == set(range(-3, 5))


def test_random_draws_follow_set_random_seed_and_floatx():
    minirnn.utils.set_random_seed(3)
    first = minirnn.random.normal((4,)).data
    minirnn.utils.set_random_seed(3)
    np.testing.assert_array_equal(minirnn.random.normal((4,)).data, first)
    minirnn.set_floatx("float64")
    assert minirnn.random.uniform((2,)).dtype == np.float64


@pytest.mark.parametrize("call, error, match", [
    (lambda: minirnn.random.normal((2,), seed="x"), TypeError, "seed must be an int"),
    (lambda: minirnn.random.uniform((2, -1)), ValueError, "shape must be non-negative"),
    (lambda: minirnn.random.randint((2,), 3, 3), ValueError, "minval < maxval"),
])
def test_random_draws_refuse_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- every op against keras.ops ----------------------------------------------------------------------

RNG = np.random.default_rng(20240613)
A = RNG.normal(size=(3, 4))
A2 = RNG.normal(size=(3, 4))
B = RNG.normal(size=(4, 5))
C3 = RNG.normal(size=(2, 3, 4))
D3 = RNG.normal(size=(5, 4, 6))
VEC = RNG.normal(size=(4,))
POS = RNG.uniform(0.5, 2.0, size=(3, 4))
TIES = RNG.integers(-1, 2, size=(3, 4)).astype(np.float64)
BOOLS = RNG.random((3, 4)) < 0.5
BOOLS2 = RNG.random((3, 4)) < 0.5
LABELS = np.array([[0, 2, 4], [1, -1, 7]])
COLUMNS = np.array([[0, 3], [3, 1], [2, 2]])
ALONG = np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])

# (id, op name, positional args, keyword args)
CASES = [
    ("matmul", "matmul", (A, B), {}),
    ("dot_2d", "dot", (A, B), {}),
    ("dot_nd", "dot", (C3, D3), {}),
    ("dot_vector", "dot", (C3, VEC), {}),
    ("dot_scalar", "dot", (np.float64(1.5), A), {}),
    ("tanh", "tanh", (A,), {}),
    ("sigmoid", "sigmoid", (A,), {}),
    ("relu", "relu", (A,), {}),
    ("softmax", "softmax", (A,), {"axis": 0}),
    ("log_softmax", "log_softmax", (A,), {}),
    ("softplus", "softplus", (A,), {}),
    ("exp", "exp", (A,), {}),
    ("log", "log", (POS,), {}),
    ("sqrt", "sqrt", (POS,), {}),
    ("square", "square", (A,), {}),
    ("abs", "abs", (A,), {}),
    ("concatenate_default_axis", "concatenate", ([A, A2, B.T],), {}),
    ("concatenate_axis1", "concatenate", ([A, A2],), {"axis": 1}),
    ("stack", "stack", ([A, A2],), {"axis": 1}),
    ("unstack", "unstack", (A,), {"axis": 1}),
    ("split_sections", "split", (A, 2), {"axis": 1}),
    ("split_indices", "split", (A, [1, 3]), {"axis": 1}),
    ("one_hot", "one_hot", (LABELS, 5), {}),
    ("one_hot_axis0", "one_hot", (LABELS, 5), {"axis": 0}),
    ("one_hot_axis1_float64", "one_hot", (LABELS, 3), {"axis": 1, "dtype": "float64"}),
    ("zeros", "zeros", ((2, 3),), {}),
    ("ones", "ones", ((2, 3),), {"dtype": "int32"}),
    ("zeros_like", "zeros_like", (A,), {}),
    ("ones_like", "ones_like", (A,), {}),
    ("full", "full", ((2, 3), 7.5), {}),
    ("full_like", "full_like", (A, 2.0), {}),
    ("arange", "arange", (5,), {}),
    ("arange_step", "arange", (1, 8, 2), {}),
    ("arange_float", "arange", (0.5, 3.0, 0.5), {}),
    ("convert_to_tensor", "convert_to_tensor", (A,), {}),
    ("convert_to_tensor_dtype", "convert_to_tensor", (A,), {"dtype": "float32"}),
    ("convert_to_tensor_list", "convert_to_tensor", ([[1, 2], [3, 4]],), {}),
    ("cast_float32", "cast", (A,), {"dtype": "float32"}),
    ("cast_int32", "cast", (A * 3,), {"dtype": "int32"}),
    ("reshape", "reshape", (A, (2, 6)), {}),
    ("reshape_minus_one", "reshape", (C3,), {"newshape": (-1, 2)}),
    ("transpose", "transpose", (C3, (2, 0, 1)), {}),
    ("transpose_default", "transpose", (A,), {}),
    ("expand_dims", "expand_dims", (A, 1), {}),
    ("squeeze", "squeeze", (A[:, None, :],), {"axis": 1}),
    ("sum", "sum", (A,), {"axis": 1, "keepdims": True}),
    ("mean", "mean", (C3,), {"axis": (0, 2)}),
    ("max", "max", (A,), {"axis": 1}),
    ("max_initial", "max", (A,), {"initial": 0.5}),
    ("min_initial", "min", (A,), {"axis": 0, "initial": -0.5}),
    ("argmax", "argmax", (A,), {"axis": 1}),
    ("argmin", "argmin", (A,), {}),
    ("argmax_keepdims", "argmax", (C3,), {"axis": 2, "keepdims": True}),
    ("add", "add", (A, VEC), {}),
    ("subtract", "subtract", (A, VEC), {}),
    ("multiply", "multiply", (A, A2), {}),
    ("divide", "divide", (A, POS), {}),
    ("true_divide", "true_divide", (A, POS), {}),
    ("negative", "negative", (A,), {}),
    ("power", "power", (POS, A), {}),
    ("power_scalar", "power", (A, 3), {}),
    ("maximum", "maximum", (A, A2), {}),
    ("minimum", "minimum", (A, VEC), {}),
    ("clip", "clip", (A, -0.5, 0.5), {}),
    ("clip_keywords", "clip", (A,), {"x_min": -1.0, "x_max": 0.2}),
    ("where", "where", (BOOLS, A, A2), {}),
    ("where_indices", "where", (BOOLS,), {}),
    ("tile", "tile", (A, (2, 1, 3)), {}),
    ("tile_int", "tile", (A, 2), {}),
    ("repeat_flat", "repeat", (A, 2), {}),
    ("repeat_axis", "repeat", (A, [1, 0, 2, 1]), {"axis": 1}),
    ("take_axis", "take", (A, COLUMNS), {"axis": 1}),
    ("take_flat", "take", (A, [[0, 11], [5, 5]]), {}),
    ("take_along_axis", "take_along_axis", (A, ALONG), {"axis": 1}),
    ("take_along_axis_flat", "take_along_axis", (A, np.array([11, 0, 4])), {}),
    ("norm", "norm", (A,), {}),
    ("norm_vector", "norm", (VEC,), {}),
    ("norm_axis", "norm", (A,), {"axis": 1}),
    ("norm_l1", "norm", (A,), {"ord": 1, "axis": 0, "keepdims": True}),
    ("norm_inf", "norm", (A,), {"ord": np.inf, "axis": 1}),
    ("norm_minus_inf", "norm", (A,), {"ord": -np.inf, "axis": 1}),
    ("norm_p3", "norm", (A,), {"ord": 3, "axis": 1}),
    ("norm_fro", "norm", (C3,), {"ord": "fro", "axis": (1, 2)}),
    ("norm_matrix_1", "norm", (A,), {"ord": 1}),
    ("norm_matrix_inf", "norm", (C3,), {"ord": np.inf, "axis": (2, 1)}),
    ("logical_and", "logical_and", (BOOLS, BOOLS2), {}),
    ("logical_or", "logical_or", (BOOLS, BOOLS2), {}),
    ("logical_not", "logical_not", (BOOLS,), {}),
    ("equal", "equal", (TIES, TIES.T[:3, :1]), {}),
    ("not_equal", "not_equal", (TIES, 0.0), {}),
    ("greater", "greater", (TIES, TIES[::-1]), {}),
    ("greater_equal", "greater_equal", (TIES, TIES[::-1]), {}),
    ("less", "less", (TIES, TIES[::-1]), {}),
    ("less_equal", "less_equal", (TIES, TIES[::-1]), {}),
    ("all", "all", (BOOLS,), {"axis": 0}),
    ("any", "any", (BOOLS,), {"axis": 1, "keepdims": True}),
    ("all_of_everything", "all", (BOOLS | True,), {}),
    ("cumsum", "cumsum", (A,), {"axis": 1}),
    ("cumsum_flat", "cumsum", (A,), {}),
    ("flip", "flip", (A,), {"axis": 0}),
    ("flip_all", "flip", (C3,), {}),
    ("einsum", "einsum", ("ij,jk->ik", A, B), {}),
    ("stop_gradient", "stop_gradient", (A,), {}),
    ("slice", "slice", (C3, (1, 0, 1), (1, 2, 3)), {}),
    ("moments", "moments", (C3,), {"axes": [0, 2]}),
    ("moments_keepdims", "moments", (C3,), {"axes": [1], "keepdims": True}),
    ("var", "var", (A,), {"axis": 1}),
    ("std", "std", (A,), {}),
    ("swapaxes", "swapaxes", (C3, 0, 2), {}),
    ("moveaxis", "moveaxis", (C3, [0, 1], [2, 0]), {}),
    ("broadcast_to", "broadcast_to", (VEC, (3, 4)), {}),
]


def as_minirnn_arg(value):
    """Float arrays become float64 Tensors (minirnn casts bare arrays to floatx); the rest pass."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return minirnn.tensor(value)
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return [as_minirnn_arg(v) for v in value]
    return value


def as_results(value):
    if isinstance(value, (tuple, list)):
        return [np.asarray(keras.ops.convert_to_numpy(v)) for v in value]
    return [np.asarray(keras.ops.convert_to_numpy(value))]


@pytest.mark.parametrize("name, args, kwargs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_op_matches_keras(name, args, kwargs):
    expected = as_results(getattr(keras.ops, name)(*args, **kwargs))
    actual = getattr(minirnn.ops, name)(*[as_minirnn_arg(a) for a in args], **kwargs)
    actual = [np.asarray(a) for a in (actual if isinstance(actual, (tuple, list)) else [actual])]
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        assert got.dtype.kind == want.dtype.kind, f"{name}: dtype {got.dtype} vs Keras's {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name, args, kwargs", [
    ("zeros", ((2, 3),), {}), ("ones", ((2,),), {}), ("full", ((2,), 3), {}),
    ("one_hot", (LABELS, 5), {}), ("arange", (5,), {}), ("arange", (0.5, 3.0), {}),
    ("argmax", (A,), {}), ("convert_to_tensor", ([1, 2],), {}),
    ("convert_to_tensor", (1.5,), {}), ("cumsum", (np.arange(4),), {}),
    ("zeros_like", (np.arange(3),), {}), ("greater", (A, A2), {}),
])
def test_created_dtypes_match_keras(name, args, kwargs):
    expected = keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args, **kwargs)).dtype
    assert np.asarray(getattr(minirnn.ops, name)(*args, **kwargs)).dtype == expected


def test_convert_to_tensor_and_back():
    t = minirnn.tensor(A)
    assert minirnn.ops.convert_to_tensor(t) is t
    array = minirnn.ops.convert_to_numpy(t)
    assert isinstance(array, np.ndarray) and array is not t.data
    np.testing.assert_array_equal(array, A)
    assert minirnn.ops.shape(t) == keras.ops.shape(A) == (3, 4)
    assert minirnn.ops.is_tensor(t) and not minirnn.ops.is_tensor(A)


def test_stop_gradient_cuts_the_graph():
    x = minirnn.tensor(A, requires_grad=True)
    y = minirnn.ops.sum(minirnn.ops.multiply(minirnn.ops.stop_gradient(x), x))
    y.backward()
    np.testing.assert_array_equal(x.grad, A)   # d/dx (c * x) with c = x held constant


def test_cast_to_an_integer_dtype_carries_no_gradient():
    x = minirnn.tensor(A, requires_grad=True)
    y = minirnn.ops.cast(x, "int32")
    assert y.dtype == np.int32 and not y.requires_grad


@pytest.mark.parametrize("call, error, match", [
    (lambda: minirnn.ops.take(A, [4], axis=1), ValueError, r"take: indices must lie in \[-4, 4\)"),
    (lambda: minirnn.ops.take(A, [0.5]), TypeError, "take: indices must be integers"),
    (lambda: minirnn.ops.take_along_axis(A, np.array([0]), axis=1), ValueError, "x's rank 2"),
    (lambda: minirnn.ops.one_hot(LABELS, 0), ValueError, "num_classes must be a positive int"),
    (lambda: minirnn.ops.one_hot(A, 3), TypeError, "integer class indices"),
    (lambda: minirnn.ops.one_hot(LABELS, 3, sparse=True), ValueError, "sparse=True"),
    (lambda: minirnn.ops.convert_to_tensor(A, sparse=True), ValueError, "sparse=True"),
    (lambda: minirnn.ops.reshape(A), TypeError, "newshape"),
    (lambda: minirnn.ops.reshape(A, (12,), shape=(12,)), TypeError, "newshape"),
    (lambda: minirnn.ops.where(BOOLS, A), ValueError, "both x1 and x2"),
    (lambda: minirnn.ops.tile(A, -1), ValueError, "tile: repeats"),
    (lambda: minirnn.ops.repeat(A, [1, 2], axis=1), ValueError, "repeat: repeats"),
    (lambda: minirnn.ops.slice(A, (2, 0), (2, 4)), ValueError, "does not fit"),
    (lambda: minirnn.ops.slice(A, (0,), (2,)), ValueError, "one entry per axis"),
    (lambda: minirnn.ops.dot(A, A), ValueError, "dot: shapes"),
    (lambda: minirnn.ops.norm(C3, ord=2, axis=(1, 2)), ValueError, "ord=2 is not supported"),
    (lambda: minirnn.ops.norm(C3, ord=1), ValueError, "rank 1 or 2"),
    (lambda: minirnn.ops.broadcast_to(A, (4, 4)), ValueError, "cannot broadcast"),
    (lambda: minirnn.ops.moveaxis(A, [0, 1], [1]), ValueError, "as many axes"),
    (lambda: minirnn.ops.moveaxis(A, [0, 0], [0, 1]), ValueError, "repeated axes"),
    (lambda: minirnn.ops.cumsum(A, axis=2), ValueError, "cumsum: axis 2 is out of range"),
    (lambda: minirnn.ops.unstack(A, num=3, axis=1), ValueError, "num=3"),
    (lambda: minirnn.ops.zeros((2, -1)), ValueError, "zeros: shape"),
    (lambda: minirnn.ops.ones((2,), dtype="floaty"), TypeError, "ones: dtype"),
])
def test_bad_arguments_are_refused_with_the_op_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- gradients of the differentiable new ops, against finite differences ----------------------------

def check(fn, *arrays):
    check_grads(fn, *arrays, rtol=1e-6, atol=1e-8)


@given(seed=seeds(), pair=st.sampled_from([((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 1)),
                                           ((), (2,)), ((2, 1, 3), (1, 2, 1))]))
def test_power_gradient(seed, pair):
    base, exponent = make_array(pair[0], seed, "positive"), make_array(pair[1], seed + 1)
    check(minirnn.ops.power, base, exponent)


def test_power_gradient_for_a_negative_base_with_integer_exponents():
    check(lambda x: minirnn.ops.power(x, 3), make_array((2, 3), 0))


@given(seed=seeds(), case=st.sampled_from([((2, 3), (3, 2)), ((3,), (3, 2)), ((2, 3), (3,)),
                                           ((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2)),
                                           ((2, 1, 3), (2, 2, 3, 1)), ((), (2, 3))]))
def test_dot_gradient(seed, case):
    check(minirnn.ops.dot, *make_arrays(case, seed))


@st.composite
def joins(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        part = list(shape)
        part[axis] = draw(sides())
        parts.append(tuple(part))
    return parts, axis


@given(seed=seeds(), case=joins())
def test_concatenate_gradient(seed, case):
    parts, axis = case
    check(lambda *xs: minirnn.ops.concatenate(xs, axis=axis), *make_arrays(parts, seed))


@given(seed=seeds(), shape=shapes(), reps=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_tile_gradient(seed, shape, reps):
    check(lambda x: minirnn.ops.tile(x, reps), make_array(shape, seed))


@st.composite
def repeats(draw):
    shape = draw(shapes(min_dims=0))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))) if shape else None
    slices = int(np.prod(shape)) if axis is None else shape[axis]
    count = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=slices,
                                                        max_size=slices)))
    return shape, count, axis


@given(seed=seeds(), case=repeats())
def test_repeat_gradient(seed, case):
    shape, count, axis = case
    check(lambda x: minirnn.ops.repeat(x, count, axis=axis), make_array(shape, seed))


@st.composite
def takes(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    size = int(np.prod(shape)) if axis is None else shape[axis]
    index_shape = draw(shapes(max_dims=2))
    rng = np.random.default_rng(draw(seeds()))
    return shape, rng.integers(-size, size, size=index_shape), axis   # repeats and negatives


@given(seed=seeds(), case=takes())
def test_take_gradient(seed, case):
    shape, indices, axis = case
    check(lambda x: minirnn.ops.take(x, indices, axis=axis), make_array(shape, seed))


@st.composite
def along_axis_takes(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = [draw(st.sampled_from([n, 1])) for n in shape]   # broadcasting outside axis
    index_shape[axis] = draw(sides())
    rng = np.random.default_rng(draw(seeds()))
    return shape, rng.integers(0, shape[axis], size=index_shape), axis


@given(seed=seeds(), case=along_axis_takes())
def test_take_along_axis_gradient(seed, case):
    shape, indices, axis = case
    check(lambda x: minirnn.ops.take_along_axis(x, indices, axis=axis), make_array(shape, seed))


@given(seed=seeds(), shape=shapes(min_dims=1, max_dims=3),
       ord_=st.sampled_from([None, 1, 2, 3, 0.5, np.inf, -np.inf]), keepdims=st.booleans())
def test_vector_norm_gradient(seed, shape, ord_, keepdims):
    x = make_array(shape, seed, "distinct" if ord_ in (np.inf, -np.inf) else "nonzero")
    check(lambda t: minirnn.ops.norm(t, ord=ord_, axis=-1, keepdims=keepdims), x)


@given(seed=seeds(), shape=shapes(min_dims=2, max_dims=3, min_side=2),
       ord_=st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf]))
def test_matrix_norm_gradient(seed, shape, ord_):
    # distinct and away from zero: column/row sums and their extremes have no ties or kinks
    x = make_array(shape, seed, "distinct") + 0.05
    x = np.where(np.abs(x) < 0.02, 0.07, x)
    check(lambda t: minirnn.ops.norm(t, ord=ord_, axis=(-2, -1)), x)


@given(seed=seeds(), shape=shapes(min_dims=1), data=st.data())
def test_cumsum_and_flip_gradients(seed, shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    x = make_array(shape, seed)
    check(lambda t: minirnn.ops.cumsum(t, axis=axis), x)
    check(lambda t: minirnn.ops.flip(t, axis=axis), x)


@given(seed=seeds(), shape=shapes(min_dims=1), data=st.data())
def test_slice_gradient(seed, shape, data):
    start = [data.draw(st.integers(0, n - 1)) for n in shape]
    size = [data.draw(st.integers(0, n - s)) for n, s in zip(shape, start)]
    check(lambda t: minirnn.ops.slice(t, start, size), make_array(shape, seed))


@given(seed=seeds(), shape=shapes(min_dims=1, min_side=2), data=st.data(), keepdims=st.booleans())
def test_moments_var_std_gradients(seed, shape, data, keepdims):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    x = make_array(shape, seed)
    check(lambda t: minirnn.ops.moments(t, axes, keepdims=keepdims), x)
    check(lambda t: minirnn.ops.var(t, axis=tuple(axes), keepdims=keepdims), x)
    check(lambda t: minirnn.ops.std(t, axis=tuple(axes), keepdims=keepdims), x)


@given(seed=seeds(), shape=shapes(min_dims=2), data=st.data())
def test_swapaxes_moveaxis_gradients(seed, shape, data):
    n = len(shape)
    a, b = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    x = make_array(shape, seed)
    check(lambda t: minirnn.ops.swapaxes(t, a, b), x)
    source = data.draw(st.permutations(range(n)))[:data.draw(st.integers(1, n))]
    destination = data.draw(st.permutations(range(n)))[:len(source)]
    check(lambda t: minirnn.ops.moveaxis(t, source, destination), x)
    np.testing.assert_array_equal(minirnn.ops.moveaxis(minirnn.tensor(x), source, destination).data,
                                  np.moveaxis(x, source, destination))


@given(seed=seeds(), shape=shapes(), data=st.data())
def test_broadcast_to_gradient(seed, shape, data):
    lead = data.draw(shapes(max_dims=2))
    target = lead + tuple(data.draw(st.sampled_from([n, 3])) if n == 1 else n for n in shape)
    check(lambda t: minirnn.ops.broadcast_to(t, target), make_array(shape, seed))


@given(seed=seeds(), shape=shapes(min_dims=1), above=st.booleans())
def test_max_min_with_initial_gradients(seed, shape, above):
    x = make_array(shape, seed, "distinct")
    # an initial value beyond every element wins (zero gradient to x); one inside loses
    bound = 10.0 if above else -10.0
    check(lambda t: minirnn.ops.max(t, axis=-1, initial=bound), x)
    check(lambda t: minirnn.ops.min(t, axis=-1, initial=-bound), x)


def test_clip_with_array_bounds_gradient():
    x = np.array([[-2.0, -0.3, 0.4], [1.5, 0.05, -0.8]])
    check(lambda t: minirnn.ops.clip(t, np.array([-1.0, -0.5, 0.0]), 0.5), x)


# -- a custom layer written in Keras's style ---------------------------------------------------------

def make_layer_class(lib):
    """The same source against either library: `lib` stands for `import ... as keras`."""
    ops = lib.ops

    class GatedProjection(lib.layers.Layer):
        """tanh([x, one_hot(argmax x)] @ w + b), halved where negative."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(2 * input_shape[-1], self.units),
                                     initializer="glorot_uniform", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, x):
            hot = ops.one_hot(ops.argmax(x, axis=-1), ops.shape(x)[-1])
            h = ops.concatenate([x, ops.cast(hot, x.dtype)], axis=-1)
            y = ops.tanh(ops.add(ops.matmul(h, self.w), self.b))
            return ops.where(ops.greater(y, 0.0), y, ops.multiply(0.5, y))

    return GatedProjection


def test_keras_style_custom_layer_matches_keras():
    x = np.random.default_rng(5).normal(size=(4, 6, 3)).astype("float32")
    models = []
    for lib in (keras, minirnn):
        layer = make_layer_class(lib)(5)
        models.append(lib.Sequential([lib.Input((6, 3)), layer]))
    reference, ours = models
    weights = [np.random.default_rng(i).normal(size=w.shape).astype("float32")
               for i, w in enumerate(reference.get_weights())]
    reference.set_weights(weights)
    ours.set_weights(weights)
    expected = reference.predict(x, verbose=0)
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.layers[-1](x).data, expected, rtol=1e-5, atol=1e-6)


def test_keras_style_custom_layer_gradients(float64):
    layer = make_layer_class(minirnn)(4)
    x = make_array((3, 5, 2), 11)
    layer(x)
    check_grads(layer, x, params=layer.weights)
