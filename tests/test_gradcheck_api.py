"""numerical_grad(fn, inputs): fn(*inputs), one gradient per input, the caller's arrays untouched;
check_grads built on it. References are hand-derived derivatives."""
import numpy as np
import pytest
from hypothesis import given, settings

from minirnn import ops
from minirnn.gradcheck import GradientCheckError, check_grads, numerical_grad
from minirnn.tensor import Tensor, primitive
from strategies import seeds, shapes


def read_only(array):
    array = np.array(array)
    array.flags.writeable = False
    return array


def test_calls_fn_with_the_inputs_and_returns_one_gradient_each():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    dx, dy = numerical_grad(lambda a, b: np.sum(a ** 2 * b) + np.sum(np.sin(b)), [x, y])
    np.testing.assert_allclose(dx, 2 * x * y, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(dy, np.sum(x ** 2, axis=0) + np.cos(y), rtol=1e-9, atol=1e-10)
    assert dx.shape == x.shape and dy.shape == y.shape
    assert dx.dtype == dy.dtype == np.float64


def test_leaves_the_callers_arrays_unchanged_and_works_on_copies():
    rng = np.random.default_rng(1)
    x = read_only(rng.standard_normal(4))  # a write into it would raise
    y32 = rng.standard_normal(4).astype(np.float32)
    y_before = y32.copy()
    received = []

    def fn(a, b):
        received.append((a, b))
        return float(np.dot(a, b))

    dx, dy = numerical_grad(fn, [x, y32])
    np.testing.assert_array_equal(y32, y_before)
    assert y32.dtype == np.float32
    a, b = received[0]
    assert not np.shares_memory(a, x) and not np.shares_memory(b, y32)
    assert a.dtype == b.dtype == np.float64  # differentiated in float64
    np.testing.assert_allclose(dx, y32.astype(np.float64), rtol=1e-9)
    np.testing.assert_allclose(dy, x, rtol=1e-9)
    assert len(received) == 4 * (x.size + y32.size)  # the five-point stencil: 4 calls per element


def test_numbers_numpy_scalars_integers_and_tensors_are_inputs():
    (d,) = numerical_grad(lambda a: a ** 3, [2.0])
    assert d.shape == () and d == pytest.approx(12.0, rel=1e-10)
    (d,) = numerical_grad(lambda a: a * a, [np.float64(3.0)])
    assert d == pytest.approx(6.0, rel=1e-10)
    (d,) = numerical_grad(lambda a: np.sum(a ** 2), [np.array([1, 2, 3])])
    np.testing.assert_allclose(d, [2.0, 4.0, 6.0], rtol=1e-10)
    t = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (d,) = numerical_grad(lambda a: np.sum(np.exp(a)), [t])
    np.testing.assert_allclose(d, np.exp([0.5, -1.0]), rtol=1e-9)
    np.testing.assert_array_equal(t.data, [0.5, -1.0])


def test_fn_may_return_a_tensor_or_a_size_one_array():
    (d,) = numerical_grad(lambda a: ops.sum(Tensor(a) * Tensor(a)), [np.array([1.0, -2.0])])
    np.testing.assert_allclose(d, [2.0, -4.0], rtol=1e-9)
    (d,) = numerical_grad(lambda a: np.array([[a.sum() * 3.0]]), [np.ones(2)])
    np.testing.assert_allclose(d, [3.0, 3.0], rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(shape=shapes(max_dims=3), seed=seeds())
def test_matches_the_derivative_of_tanh_for_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    x, r = rng.standard_normal(shape), rng.standard_normal(shape)
    x_before = x.copy()
    (d,) = numerical_grad(lambda a: np.sum(np.tanh(a) * r), [x], eps=1e-3)
    np.testing.assert_allclose(d, (1 - np.tanh(x) ** 2) * r, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("call, error, words", [
    (lambda: numerical_grad(lambda z: 0.0, [np.ones(2, np.complex128)]), TypeError,
     ["numerical_grad input 0", "complex128"]),
    (lambda: numerical_grad(lambda a, s: 0.0, [np.ones(2), np.array(["a"])]), TypeError,
     ["numerical_grad input 1", "<U1"]),
    (lambda: numerical_grad(lambda a: a, [np.ones(3)]), TypeError,
     ["fn to return a scalar", "(3,)"]),
    (lambda: numerical_grad(lambda a: 0.0, [np.ones(2)], eps=0.0), ValueError,
     ["numerical_grad argument eps", "0.0"]),
    (lambda: numerical_grad("f", [np.ones(2)]), TypeError, ["callable fn", "str"]),
    (lambda: numerical_grad(lambda a: 0.0, np.ones(2)), TypeError, ["list or tuple", "ndarray"]),
])
def test_bad_arguments_say_what_was_expected(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_a_float64_scalar_is_not_refused_as_not_float64():
    # the old message read "needs float64 ndarrays; got float64 of dtype float64"
    (d,) = numerical_grad(lambda a: 2.0 * a, [np.float64(1.5)])
    assert d == pytest.approx(2.0, rel=1e-10)


def test_check_grads_with_params_passes_and_leaves_the_params_as_they_were():
    rng = np.random.default_rng(2)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="w")
    before = w.data.copy()
    data_object = w.data
    error = check_grads(lambda x: ops.tanh(x @ w), rng.standard_normal((4, 3)), params=[w])
    assert error < 1e-6
    np.testing.assert_array_equal(w.data, before)
    assert w.data is data_object  # values put back in place, the array not swapped


@primitive
def _square_with_wrong_gradient(x):
    return x * x, lambda g: (g * x,)  # should be 2 * g * x


def test_check_grads_still_catches_a_wrong_gradient():
    with pytest.raises(GradientCheckError, match="input 0"):
        check_grads(_square_with_wrong_gradient, np.array([1.0, 2.0, -0.5]))


def test_check_grads_catches_a_wrong_gradient_of_a_param():
    w = Tensor(np.array([0.3, -0.7]), requires_grad=True, name="w")
    with pytest.raises(GradientCheckError, match="param w"):
        check_grads(lambda x: x * _square_with_wrong_gradient(w), np.array([1.0, 2.0]), params=[w])
