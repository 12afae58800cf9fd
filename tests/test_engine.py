"""The engine itself: graph traversal, accumulation, memory, grad modes, dtype policy and errors.

Every gradient here is compared with a hand-written formula (or finite differences), never with
numbers minirnn produced.
"""
import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

import minirnn
from minirnn import check_grads, ops
from minirnn.layers.collector import gc_paused
from minirnn.tensor import FreedGraphError


def leaf(array, dtype=np.float64):
    return minirnn.tensor(np.array(array, dtype=dtype), requires_grad=True)


@pytest.fixture
def no_gc():
    """Collector off: whatever dies here dies by reference counting alone."""
    gc.collect()
    with gc_paused():
        yield


# -- deep graphs -------------------------------------------------------------------------------

def test_chain_of_100000_ops_backpropagates_without_recursion():
    a = 1.0 + 1e-6
    x = leaf(0.5)
    y = x
    for _ in range(100_000):
        y = y * a
    y.backward(retain_graph=True)
    # d(x a^n)/dx = a^n
    np.testing.assert_allclose(x.grad, a ** 100_000, rtol=1e-9)
    np.testing.assert_allclose(y.data, 0.5 * a ** 100_000, rtol=1e-9)
    # the retained chain is 100,000 nested objects: dropping it must not overflow the C stack
    ref = weakref.ref(y)
    del y
    assert ref() is None


# -- graph release -------------------------------------------------------------------------------

def test_graph_is_released_after_backward(no_gc):
    x = leaf([0.1, -0.2, 0.3])
    hidden = ops.tanh(x * 2.0)
    loss = (hidden * hidden).sum()
    hidden_ref, node_ref = weakref.ref(hidden), weakref.ref(hidden._node)
    loss.backward()
    del hidden, loss
    assert hidden_ref() is None, "an intermediate Tensor outlived backward() and its names"
    assert node_ref() is None
    t = np.tanh(2 * np.array([0.1, -0.2, 0.3]))
    np.testing.assert_allclose(x.grad, 2 * t * (1 - t ** 2) * 2, rtol=1e-12)


def test_retained_hidden_state_is_released_too(no_gc):
    x = leaf([0.1, -0.2])
    hidden = ops.tanh(x)
    hidden.retain_grad()
    loss = (hidden * 3.0).sum()
    hidden_ref = weakref.ref(hidden)
    loss.backward()
    np.testing.assert_allclose(hidden.grad, [3.0, 3.0])
    del hidden, loss
    assert hidden_ref() is None


def test_retain_graph_keeps_it_and_a_second_backward_doubles_grads(no_gc):
    values = np.array([0.5, -1.5, 2.0])
    x = leaf(values)
    hidden = ops.exp(x) * x
    loss = hidden.sum()
    hidden_ref = weakref.ref(hidden)
    loss.backward(retain_graph=True)
    del hidden
    assert hidden_ref() is not None, "retain_graph=True must keep the graph alive"
    expected = np.exp(values) * (1 + values)      # d/dx x e^x
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * expected, rtol=1e-12)
    del loss
    assert hidden_ref() is None


def test_second_backward_through_freed_graph_is_an_error():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(FreedGraphError, match=r"already released.*expected a live graph.*retain_graph=True"):
        loss.backward()
    with pytest.raises(ValueError):  # FreedGraphError is a ValueError (and a RuntimeError)
        loss.backward()


def test_backward_into_a_freed_branch_is_an_error():
    x = leaf([1.0, 2.0])
    shared = ops.exp(x)
    shared.sum().backward()
    with pytest.raises(FreedGraphError, match="already released"):
        (shared * 2.0).sum().backward()


# -- accumulation ------------------------------------------------------------------------------

def test_tensor_used_in_many_places_gets_the_sum_of_its_gradients():
    values = np.array([[0.3, -0.7, 1.1], [0.2, 0.5, -0.4]])
    a = np.array([1.5, -2.0, 0.5])
    x = leaf(values)
    y = (x * a + x * x + ops.exp(x) + x[0] + ops.matmul(x, x.T).sum() + ops.tanh(x) * x).sum()
    y.backward()
    # by hand: a + 2x + e^x + tanh(x) + x (1 - tanh^2 x)
    #   + x[0] is broadcast over the 2 rows: row 0 gets 2
    #   + S = sum(x x^T) = sum_k (column sum k)^2 is broadcast over all 6 elements: 6 * dS/dx,
    #     dS/dx_ik = 2 * (column sum k)
    t = np.tanh(values)
    expected = a + 2 * values + np.exp(values) + t + values * (1 - t ** 2)
    expected[0] += 2.0
    expected += values.size * 2 * values.sum(axis=0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_grads_never_alias_each_other_or_the_upstream_array():
    """An in-place update of one .grad (an optimizer's clipping) must not change another."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    upstream = np.array([1.0, -1.0])
    (a + b).backward(upstream)
    a.backward(upstream)
    assert not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(a.grad, upstream) and not np.shares_memory(b.grad, upstream)
    b.grad *= 10.0
    np.testing.assert_array_equal(a.grad, 2 * upstream)
    np.testing.assert_array_equal(upstream, [1.0, -1.0])


def test_a_leaf_used_many_times_sums_without_touching_the_upstream_array():
    """The pass sums a leaf's gradients in a buffer of its own: never in an array a VJP returned."""
    x = leaf([1.0, 2.0])
    upstream = np.array([1.0, -1.0])
    (x + x + x + x).backward(upstream)   # add's VJP hands the upstream array itself to both inputs
    np.testing.assert_array_equal(upstream, [1.0, -1.0])
    np.testing.assert_array_equal(x.grad, 4 * upstream)
    assert not np.shares_memory(x.grad, upstream)


def test_a_later_backward_leaves_the_previous_grad_array_alone():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    first = x.grad
    (x * x + x + x).sum().backward()
    np.testing.assert_array_equal(first, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0 + 2.0, 3.0 + 4.0 + 2.0])


def test_gradient_waits_for_every_consumer_whatever_the_order_of_use():
    """A tensor whose consumers were recorded far apart, one of them through a long chain:
    its VJP runs once, with the sum of everything that reaches it."""
    x = leaf([0.5, -1.0])
    h = ops.tanh(x)
    late = h
    for _ in range(50):
        late = late * 1.01
    y = (h * 2.0 + late + h).sum()
    y.backward()
    t = np.tanh([0.5, -1.0])
    np.testing.assert_allclose(x.grad, (2.0 + 1.01 ** 50 + 1.0) * (1 - t ** 2), rtol=1e-12)


def test_tensor_subclass_with_its_own_equality_gets_its_gradient():
    class Param(minirnn.Tensor):  # defining __eq__ sets __hash__ to None
        __slots__ = ()

        def __eq__(self, other):
            return NotImplemented

    w = Param(np.array([1.0, 2.0]), requires_grad=True)
    (w * w + w).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 5.0])


def test_gradients_accumulate_across_backward_calls_until_zero_grad():
    x = leaf([1.0, -2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0 + 2.0, 3.0 - 4.0])
    x.zero_grad()
    assert x.grad is None
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_shared_weight_in_python_loop_gets_bptt_sum_over_steps():
    """h_t = tanh(x_t * w + h_{t-1} * u), loss = sum_t <h_t, r_t>: against a hand-written BPTT."""
    rng = np.random.default_rng(7)
    T, B, H = 6, 2, 3
    xs, r = rng.standard_normal((T, B, H)), rng.standard_normal((T, B, H))
    w0, u0, h0 = rng.standard_normal(H), rng.standard_normal(H) * 0.8, rng.standard_normal((B, H))

    w, u, h_init = leaf(w0), leaf(u0), leaf(h0)
    x = leaf(xs)
    h, hidden = h_init, []
    loss = 0.0
    for t in range(T):
        h = ops.tanh(x[t] * w + h * u)
        h.retain_grad()
        hidden.append(h)
        loss = loss + (h * r[t]).sum()
    loss.backward()

    # NumPy forward, then BPTT from t = T-1 down to 0
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(xs[t] * w0 + hs[-1] * u0))
    dw, du, dx = np.zeros(H), np.zeros(H), np.zeros_like(xs)
    dh_next = np.zeros((B, H))
    dh_total = [None] * T
    for t in reversed(range(T)):
        dh = r[t] + dh_next                    # from the loss at t, and from step t+1
        dh_total[t] = dh
        da = dh * (1 - hs[t + 1] ** 2)
        dw += (da * xs[t]).sum(axis=0)         # w is shared by every step: sum over steps
        du += (da * hs[t]).sum(axis=0)
        dx[t] = da * w0
        dh_next = da * u0
    np.testing.assert_allclose(w.grad, dw, rtol=1e-12)
    np.testing.assert_allclose(u.grad, du, rtol=1e-12)
    np.testing.assert_allclose(x.grad, dx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h_init.grad, dh_next, rtol=1e-12)
    for t in range(T):  # retain_grad on a hidden state: its total derivative dL/dh_t
        np.testing.assert_allclose(hidden[t].grad, dh_total[t], rtol=1e-12, err_msg=f"h_{t}")


def test_python_loop_rnn_matches_finite_differences(float64):
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((4, 2, 3))

    def run(x, w, u):
        h = ops.tanh(x[0] * w)
        for t in range(1, 4):
            h = ops.tanh(x[t] * w + ops.matmul(h, u))
        return h

    check_grads(run, xs, rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5, rtol=1e-6)


def test_split_outputs_that_are_not_used_get_zero_gradient():
    values = np.arange(12.0).reshape(6, 2) / 10
    x = leaf(values)
    a, b, c = ops.split(x, 3, axis=0)
    r = np.array([[1.0, -2.0], [0.5, 3.0]])
    (b * r).sum().backward()
    expected = np.zeros((6, 2))
    expected[2:4] = r
    np.testing.assert_array_equal(x.grad, expected)


def test_split_single_section_is_still_a_tuple():
    x = leaf([1.0, 2.0, 3.0])
    (part,) = ops.split(x, 1)
    (part * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_retain_grad_on_intermediate_and_leaf_grads():
    x = leaf([0.2, -0.4])
    h = ops.sigmoid(x)
    h.retain_grad()
    y = (h * h).sum()
    y.backward()
    s = 1 / (1 + np.exp(-np.array([0.2, -0.4])))
    np.testing.assert_allclose(h.grad, 2 * s, rtol=1e-12)
    np.testing.assert_allclose(x.grad, 2 * s * s * (1 - s), rtol=1e-12)


def test_retain_grad_needs_requires_grad():
    with pytest.raises(ValueError, match="does not require grad"):
        minirnn.tensor([1.0]).retain_grad()


# -- grad modes --------------------------------------------------------------------------------

def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with minirnn.no_grad():
        assert not minirnn.is_grad_enabled()
        y = ops.tanh(x * 2.0).sum()
    assert minirnn.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(ValueError, match="does not require grad"):
        y.backward()
    assert x.grad is None


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minirnn.no_grad():
            1 / 0
    assert minirnn.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf([1.0, 3.0])
    y = x * x
    z = (y.detach() * 5.0 + y).sum()
    assert not y.detach().requires_grad
    np.testing.assert_array_equal(y.detach().data, y.data)
    z.backward()
    np.testing.assert_allclose(x.grad, 2 * np.array([1.0, 3.0]))  # only through y, not the copy


def test_backward_with_explicit_grad_on_non_scalar():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    g = np.array([[1.0, 0.5], [-1.0, 2.0]])
    y.backward(g)
    np.testing.assert_allclose(x.grad, 2 * x.data * g)


def test_backward_on_a_leaf():
    x = leaf(2.0)
    x.backward()
    assert x.grad == 1.0


# -- dtype policy --------------------------------------------------------------------------------

def test_floatx_defaults_to_float32_in_a_fresh_process():
    out = subprocess.run([sys.executable, "-c", "import minirnn; print(minirnn.floatx(), "
                          "minirnn.tensor(1.0).dtype, minirnn.tensor([0.5, 2.0]).dtype)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float32", "float32", "float32"]


def test_set_floatx_switches_and_python_floats_follow():
    assert minirnn.floatx() == "float32"
    assert minirnn.tensor(1.5).dtype == np.float32
    minirnn.set_floatx("float64")
    assert minirnn.floatx() == "float64"
    assert minirnn.tensor(1.5).dtype == np.float64
    assert minirnn.tensor([[0.5, 1.0]]).dtype == np.float64
    assert ops.add(1.0, 2.0).dtype == np.float64
    assert ops.exp([0.0, 1.0]).dtype == np.float64
    minirnn.set_floatx("float32")
    assert ops.exp([0.0, 1.0]).dtype == np.float32
    assert ops.exp(np.array([1, 2])).dtype == np.float32     # integer inputs are cast to floatx


def test_float64_fixture_sets_float64(float64):
    assert minirnn.floatx() == "float64"
    assert minirnn.tensor(0.1).dtype == np.float64


def test_numpy_arrays_keep_their_dtype():
    assert minirnn.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert minirnn.tensor(np.float64(0.1)).dtype == np.float64
    assert minirnn.tensor(np.zeros(2, np.float32), dtype="float64").dtype == np.float64


def test_float64_reductions_stay_float64_under_float32_policy():
    x = leaf([1.0 + 1e-12, 2.0])
    for value in (ops.sum(x), ops.mean(x), ops.matmul(x, x), ops.max(x), ops.einsum("i,i->", x, x)):
        assert value.dtype == np.float64, value
    assert ops.sum(x).item() == 3.0 + 1e-12


def test_float32_tensor_is_not_upcast_by_float64_numpy_or_python_floats():
    x = minirnn.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    f64 = np.array([0.1, 0.2])
    results = [x * f64, f64 * x, x + 0.1, 0.1 + x, x / f64, f64 - x, x ** 2.0, ops.maximum(x, f64),
               ops.matmul(x, f64), ops.where([True, False], x, f64), ops.concat([x, f64]),
               ops.stack([f64, x]), x * np.float64(3.0)]
    for r in results:
        assert r.dtype == np.float32, r
    loss = results[0].sum()
    for r in results[1:]:
        loss = loss + r.sum()
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32


def test_python_numbers_take_the_tensor_dtype_on_either_side():
    for dtype in (np.float32, np.float64):
        x = leaf([1.0, -2.0], dtype)
        results = [x * 3, 3 - x, x / 2.5, 0.5 + x, x - True, ops.maximum(x, 0)]
        assert [r.dtype for r in results] == [dtype] * len(results)
        np.testing.assert_array_equal(results[1].data, [2.0, 5.0])
        np.testing.assert_array_equal(results[4].data, [0.0, -3.0])
        loss = results[0].sum()
        for r in results[1:]:
            loss = loss + r.sum()
        loss.backward()
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, [3 - 1 + 0.4 + 1 + 1 + 1, 3 - 1 + 0.4 + 1 + 1 + 0], rtol=1e-6)


def test_three_input_primitive_casts_what_is_not_a_float_tensor():
    """addmm with three float Tensors, and with an integer Tensor, an array and a list beside one:
    the same values and gradients (the latter are cast to the float Tensor's dtype)."""
    w = leaf([[1.0, 2.0], [3.0, 4.0]], np.float32)
    plain = ops.addmm(leaf([0.5, 1.0], np.float32), leaf([[1.0, -1.0]], np.float32), w)
    mixed = [ops.addmm(leaf([0.5, 1.0], np.float32), minirnn.tensor([[1, -1]]), w),
             ops.addmm([0.5, 1.0], np.array([[1.0, -1.0]]), w)]
    for y in [plain] + mixed:
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y.data, [[-1.5, -1.0]])
    for y in [plain] + mixed:
        w.grad = None
        y.sum().backward()
        np.testing.assert_array_equal(w.grad, [[1.0, 1.0], [-1.0, -1.0]])


def test_float64_meets_float32_computes_in_float64():
    a = leaf([1.0, 2.0], np.float64)
    b = leaf([3.0, 4.0], np.float32)
    c = a * b
    assert c.dtype == np.float64
    c.sum().backward()
    assert a.grad.dtype == np.float64 and b.grad.dtype == np.float32  # each grad in its own dtype
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_cast_gradient_comes_back_in_the_input_dtype():
    x = leaf([0.5, 1.5], np.float64)
    y = ops.cast(x, "float32")
    assert y.dtype == np.float32
    (y * np.array([2.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match=r"floating-point.*got dtype int64"):
        minirnn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point.*got dtype bool"):
        minirnn.tensor([True], requires_grad=True)
    assert minirnn.tensor([1, 2]).dtype.kind == "i"  # without requires_grad it stays an integer


# -- errors: clear, naming what was expected and what came ----------------------------------------

def test_matmul_incompatible_shapes_names_both():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*expected.*got 3 != 4"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        ops.matmul(leaf(np.ones(3)), leaf(np.ones(2)))
    with pytest.raises(ValueError, match=r"batch dimensions.*\(2, 3, 4\) and \(3, 4, 5\)"):
        leaf(np.ones((2, 3, 4))) @ np.ones((3, 4, 5))
    with pytest.raises(ValueError, match=r"rank >= 1.*\(\) and \(3,\)"):
        ops.matmul(leaf(1.0), leaf(np.ones(3)))


def test_addmm_bad_shapes_name_what_was_expected():
    with pytest.raises(ValueError, match=r"matrices a \(n, k\) and b \(k, m\); got shapes \(2, 3\) and \(4, 5\)"):
        ops.addmm(np.ones((2, 5)), np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"got shapes \(3,\) and \(3, 2\)"):
        ops.addmm(np.ones(2), leaf(np.ones(3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"c broadcasting to a @ b's shape \(2, 5\); got \(3, 5\)"):
        ops.addmm(leaf(np.ones((3, 5))), np.ones((2, 4)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"got \(1, 2, 5\)"):
        ops.addmm(np.ones((1, 2, 5)), np.ones((2, 4)), np.ones((4, 5)))


def test_backward_on_non_scalar_without_grad():
    y = leaf(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"single-element tensor; got shape \(2, 3\)"):
        y.backward()


def test_backward_with_grad_of_wrong_shape_changes_nothing():
    x = leaf(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError, match=r"expects grad of shape \(2, 3\); got \(3, 2\)"):
        y.backward(np.ones((3, 2)))
    assert x.grad is None
    y.backward(np.ones((2, 3)))  # the graph survived the rejected call
    np.testing.assert_array_equal(x.grad, 2 * np.ones((2, 3)))


def test_set_floatx_unknown_name():
    with pytest.raises(ValueError, match=r"one of 'float16', 'float32', 'float64'; got 'float128'"):
        minirnn.set_floatx("float128")
    with pytest.raises(ValueError, match=r"got 'int32'"):
        minirnn.set_floatx("int32")
    assert minirnn.floatx() == "float32"


def test_shape_errors_name_expected_and_got():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) into \(4, 2\)"):
        ops.reshape(x, (4, 2))
    with pytest.raises(ValueError, match=r"must agree elsewhere; got \[\(2, 3\), \(3, 3\)\]"):
        ops.concat([x, np.ones((3, 3))], axis=1)
    with pytest.raises(ValueError, match=r"rank >= 1; got shapes \[\(\), \(\)\]"):
        ops.concat([1.0, 2.0])
    with pytest.raises(ValueError, match=r"one shape; got \[\(2, 3\), \(3, 2\)\]"):
        ops.stack([x, np.ones((3, 2))])
    with pytest.raises(ValueError, match=r"axis 0 of size 2 does not divide into 3"):
        ops.split(x, 3)
    with pytest.raises(ValueError, match=r"positive number of sections; got 0"):
        ops.split(x, 0)
    with pytest.raises(ValueError, match=r"axis 2 is out of range for a tensor of rank 2"):
        ops.sum(x, axis=2)
    with pytest.raises(TypeError, match=r"scalar exponent; got ndarray of shape \(2,\)"):
        ops.pow(x, np.array([1.0, 2.0]))


def test_gc_paused_restores_the_collector_state():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        with gc_paused():
            1 / 0
    assert gc.isenabled()
