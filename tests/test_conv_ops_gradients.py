"""The convolution and pooling primitives: values against plain loops written from TensorFlow's
definition of padding, gradients against finite differences in float64, bad arguments refused.

Shapes, kernel sizes, strides, dilations and paddings are drawn by hypothesis; the arrays come
from seeded helpers (see strategies.py), with all-distinct values for max pooling so that no
finite-difference step crosses a tie.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from minirnn import Tensor, check_grads, ops
from minirnn.conv_ops import conv_output_length, conv_padding
from strategies import make_array, seeds


# -- references: loops over output steps, padding as TensorFlow documents it -------------------

def tf_padding(steps, window, stride, dilation, padding):
    """TensorFlow's rule (tf.nn.convolution docs), restated here: 'same' gives ceil(L / s)
    outputs and pads max((out - 1) * s + span - L, 0) steps, the odd one on the right."""
    span = (window - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    out = int(np.ceil(steps / stride))
    total = max((out - 1) * stride + span - steps, 0)
    return total // 2, total - total // 2


def padded_steps(x, left, right):
    """Per output step, the list of real input steps its window reads (None for padding)."""
    return [None] * left + list(range(x.shape[1])) + [None] * right


def loop_windows(x, window, stride, dilation, padding):
    left, right = tf_padding(x.shape[1], window, stride, dilation, padding)
    steps = padded_steps(x, left, right)
    span = (window - 1) * dilation + 1
    starts = range(0, len(steps) - span + 1, stride)
    return [[steps[o + k * dilation] for k in range(window)] for o in starts]


def loop_conv1d(x, kernel, stride, dilation, padding):
    windows = loop_windows(x, kernel.shape[0], stride, dilation, padding)
    out = np.zeros((x.shape[0], len(windows), kernel.shape[2]))
    for o, window in enumerate(windows):
        for k, t in enumerate(window):
            if t is not None:
                out[:, o, :] += x[:, t, :] @ kernel[k]
    return out


def loop_pool(x, window, stride, padding, reduce):
    windows = loop_windows(x, window, stride, 1, padding)
    return np.stack([reduce(x[:, [t for t in w if t is not None], :]) for w in windows], axis=1)


# -- strategies ------------------------------------------------------------------------------------

@st.composite
def conv_cases(draw, paddings=("valid", "same", "causal"), dilate=True):
    batch = draw(st.sampled_from([2, 1]))
    steps = draw(st.integers(1, 7))
    channels = draw(st.sampled_from([2, 1, 3]))
    window = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 3)) if dilate else 1
    padding = draw(st.sampled_from(paddings))
    assume(conv_output_length(steps, window, stride, dilation, padding) >= 1)
    return (batch, steps, channels), window, stride, dilation, padding


# -- values ----------------------------------------------------------------------------------------

@given(case=conv_cases(), filters=st.sampled_from([2, 1]), seed=seeds())
def test_conv1d_equals_a_loop_over_windows(case, filters, seed):
    shape, window, stride, dilation, padding = case
    x = make_array(shape, seed)
    kernel = make_array((window, shape[2], filters), seed + 1)
    assert conv_padding(shape[1], window, stride, dilation, padding) == \
        tf_padding(shape[1], window, stride, dilation, padding)
    y = ops.conv1d(x, kernel, stride=stride, dilation=dilation, padding=padding)
    np.testing.assert_allclose(y.data, loop_conv1d(x, kernel, stride, dilation, padding),
                               rtol=1e-12, atol=1e-12)


@given(case=conv_cases(paddings=("valid", "same"), dilate=False), seed=seeds())
def test_pooling_equals_a_loop_over_real_steps(case, seed):
    shape, window, stride, _, padding = case
    x = make_array(shape, seed)
    np.testing.assert_array_equal(ops.max_pool1d(x, window, stride, padding).data,
                                  loop_pool(x, window, stride, padding, lambda w: w.max(axis=1)))
    np.testing.assert_allclose(ops.avg_pool1d(x, window, stride, padding).data,
                               loop_pool(x, window, stride, padding, lambda w: w.mean(axis=1)),
                               rtol=1e-13)


def test_unfold1d_copies_each_window():
    x = np.arange(10.0).reshape(1, 5, 2)
    windows = ops.unfold1d(x, 2, stride=2, dilation=1, padding="same").data
    # 'same' with 5 steps, stride 2: 3 windows, one padded step on the right
    expected = [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9], [0, 0]]]
    np.testing.assert_array_equal(windows[0], expected)
    causal = ops.unfold1d(x, 2, dilation=2, padding="causal").data[0, :, :, 0]
    np.testing.assert_array_equal(causal, [[0, 0], [0, 2], [0, 4], [2, 6], [4, 8]])


# -- gradients against finite differences ---------------------------------------------------------

@given(case=conv_cases(), seed=seeds())
def test_unfold1d_gradient(case, seed):
    shape, window, stride, dilation, padding = case
    check_grads(lambda x: ops.unfold1d(x, window, stride, dilation, padding),
                make_array(shape, seed))


@given(case=conv_cases(), filters=st.sampled_from([2, 1, 3]), seed=seeds())
def test_conv1d_gradient(case, filters, seed):
    shape, window, stride, dilation, padding = case
    check_grads(lambda x, k: ops.conv1d(x, k, stride, dilation, padding),
                make_array(shape, seed), make_array((window, shape[2], filters), seed + 1))


@given(case=conv_cases(paddings=("valid", "same"), dilate=False), seed=seeds())
def test_max_pool1d_gradient(case, seed):
    shape, window, stride, _, padding = case
    check_grads(lambda x: ops.max_pool1d(x, window, stride, padding),
                make_array(shape, seed, kind="distinct"))


@given(case=conv_cases(paddings=("valid", "same"), dilate=False), seed=seeds())
def test_avg_pool1d_gradient(case, seed):
    shape, window, stride, _, padding = case
    check_grads(lambda x: ops.avg_pool1d(x, window, stride, padding), make_array(shape, seed))


def test_max_pool1d_tie_sends_the_gradient_to_the_first_step():
    # (TensorFlow's MaxPool does so; the layer tests hold minirnn to it on inputs full of ties)
    x = Tensor(np.array([[[1.0], [1.0], [0.0], [0.0]]]), requires_grad=True)
    ops.max_pool1d(x, 2, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, :, 0], [1.0, 0.0, 1.0, 0.0])


# -- errors ----------------------------------------------------------------------------------------

def test_window_longer_than_a_valid_input_is_refused():
    with pytest.raises(ValueError, match=r"unfold1d: a window of 5 steps .* input of 3 steps"):
        ops.conv1d(np.zeros((1, 3, 2)), np.zeros((3, 2, 1)), dilation=2)
    with pytest.raises(ValueError, match=r"max_pool1d: a window of 4 steps"):
        ops.max_pool1d(np.zeros((1, 3, 2)), 4)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.conv1d(np.zeros((3, 2)), np.zeros((1, 2, 1))), r"conv1d expects x \(batch"),
    (lambda: ops.conv1d(np.zeros((1, 3, 2)), np.zeros((1, 3, 1))), r"same channels; got x"),
    (lambda: ops.unfold1d(np.zeros((1, 3, 2)), 0), r"`kernel_size` to be a positive integer; got 0"),
    (lambda: ops.unfold1d(np.zeros((1, 3, 2)), 2, stride=0), r"`stride` .* got 0"),
    (lambda: ops.unfold1d(np.zeros((1, 3, 2)), 2, padding="full"), r"padding must be one of"),
    (lambda: ops.avg_pool1d(np.zeros((1, 3, 2)), 2, padding="causal"), r"'valid' or 'same'; got"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
