"""Primitives for 1-D convolution and pooling over (batch, steps, channels) arrays.

A convolution is one matrix product over unfolded windows (im2col): `unfold1d` copies each
window of `kernel_size` steps (spaced `dilation` apart, started every `stride` steps) into a row,
and the existing `matmul` multiplies all rows by the kernel at once. Its VJP scatters each
window's gradient back to the steps it was copied from.

Padding follows TensorFlow (and so Keras): "valid" adds none; "same" gives ceil(steps / stride)
outputs and pads the shortfall evenly, the extra step on the right; "causal" pads
dilation * (kernel_size - 1) steps on the left only.
"""
import numpy as np

from .ops import matmul, reshape
from .tensor import as_tensor, deferrable, primitive

__all__ = ["conv_padding", "conv_output_length", "unfold1d", "conv1d", "max_pool1d",
           "avg_pool1d"]

PADDINGS = ("valid", "same", "causal")


def conv_padding(steps, kernel_size, stride=1, dilation=1, padding="valid"):
    """(left, right): the steps of padding that `padding` adds to an input of `steps` steps."""
    span = dilation * (kernel_size - 1) + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        out = -(-steps // stride)
        total = max((out - 1) * stride + span - steps, 0)
        return total // 2, total - total // 2
    raise ValueError(f"padding must be one of {list(PADDINGS)}; got {padding!r}")


def conv_output_length(steps, kernel_size, stride=1, dilation=1, padding="valid"):
    """The number of windows (output steps); 0 or less when a 'valid' window does not fit."""
    left, right = conv_padding(steps, kernel_size, stride, dilation, padding)
    span = dilation * (kernel_size - 1) + 1
    return (steps + left + right - span) // stride + 1


def _window_slices(kernel_size, stride, dilation, out_steps):
    """For each position k in the window, the steps of the padded input it reads in every window:
    window o reads step o * stride + k * dilation."""
    stop = (out_steps - 1) * stride + 1
    return [slice(k * dilation, k * dilation + stop, stride) for k in range(kernel_size)]


def _padded(x, left, right, value):
    if not (left or right):
        return x
    return np.pad(x, ((0, 0), (left, right), (0, 0)), constant_values=value)


def _check_windows(name, x, kernel_size, stride, dilation, pad):
    if x.ndim != 3:
        raise ValueError(f"{name} expects an input of shape (batch, steps, channels); got shape "
                         f"{x.shape}")
    for what, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} expects `{what}` to be a positive integer; got {value!r}")
    left, right = pad
    span = dilation * (kernel_size - 1) + 1
    out = (x.shape[1] + left + right - span) // stride + 1
    if out < 1:
        raise ValueError(f"{name}: a window of {span} steps (kernel_size={kernel_size}, "
                         f"dilation={dilation}) does not fit an input of {x.shape[1]} steps "
                         f"padded by {pad}; expected at least {span} steps")
    return out


@primitive
def _unfold1d(x, kernel_size, stride, dilation, pad):
    """x (B, L, C) -> windows (B, L_out, kernel_size, C)."""
    out_steps = _check_windows("unfold1d", x, kernel_size, stride, dilation, pad)
    xp = _padded(x, *pad, 0)
    slices = _window_slices(kernel_size, stride, dilation, out_steps)
    windows = np.empty((x.shape[0], out_steps, kernel_size, x.shape[2]), dtype=x.dtype)
    for k, steps in enumerate(slices):
        windows[:, :, k, :] = xp[:, steps, :]

    def vjp(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for k, steps in enumerate(slices):
            # within one k the windows read distinct steps, so += on the strided view is exact
            gxp[:, steps, :] += g[:, :, k, :]
        return (gxp[:, pad[0]:pad[0] + x.shape[1], :],)
    return windows, vjp


@deferrable
def unfold1d(x, kernel_size, stride=1, dilation=1, padding="valid"):
    """The windows a 1-D convolution reads (im2col): x (B, L, C) -> (B, L_out, kernel_size, C).

    padding: "valid", "same", "causal", or explicit (left, right) steps of zeros.
    """
    x = as_tensor(x)
    pad = (tuple(int(p) for p in padding) if isinstance(padding, (tuple, list)) else
           conv_padding(x.shape[1] if x.ndim == 3 else 0, kernel_size, stride, dilation, padding))
    return _unfold1d(x, kernel_size=kernel_size, stride=stride, dilation=dilation, pad=pad)


@deferrable
def conv1d(x, kernel, stride=1, dilation=1, padding="valid"):
    """Cross-correlation as Keras's Conv1D computes it: x (B, L, C), kernel (K, C, F) ->
    (B, L_out, F), one matmul of every window (B * L_out, K * C) by the kernel (K * C, F)."""
    x, kernel = as_tensor(x), as_tensor(kernel)
    if kernel.ndim != 3 or x.ndim != 3 or kernel.shape[1] != x.shape[2]:
        raise ValueError(f"conv1d expects x (batch, steps, channels) and kernel (kernel_size, "
                         f"channels, filters) with the same channels; got x {x.shape} and kernel "
                         f"{kernel.shape}")
    size, channels, filters = kernel.shape
    windows = unfold1d(x, size, stride, dilation, padding)
    batch, out_steps = windows.shape[:2]
    rows = reshape(windows, (batch * out_steps, size * channels))
    y = matmul(rows, reshape(kernel, (size * channels, filters)))
    return reshape(y, (batch, out_steps, filters))


@primitive
def _max_pool1d(x, pool_size, stride, pad):
    out_steps = _check_windows("max_pool1d", x, pool_size, stride, 1, pad)
    xp = _padded(x, *pad, -np.inf)  # padding never wins a window that holds a real step
    slices = _window_slices(pool_size, stride, 1, out_steps)
    windows = np.stack([xp[:, steps, :] for steps in slices], axis=2)
    winner = windows.argmax(axis=2)  # ties: the first step of the window, as TensorFlow's MaxPool
    y = np.take_along_axis(windows, winner[:, :, None, :], axis=2)[:, :, 0, :]

    def vjp(g):
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for k, steps in enumerate(slices):
            gxp[:, steps, :] += np.where(winner == k, g, 0)
        return (gxp[:, pad[0]:pad[0] + x.shape[1], :],)
    return y, vjp


@deferrable
def max_pool1d(x, pool_size, stride=None, padding="valid"):
    """The largest value of each window, per channel: (B, L, C) -> (B, L_out, C).

    stride defaults to pool_size; padding "valid" or "same" (padded steps never count).
    """
    x = as_tensor(x)
    stride = pool_size if stride is None else stride
    pad = conv_padding(x.shape[1] if x.ndim == 3 else 0, pool_size, stride, 1,
                       _pool_padding(padding))
    return _max_pool1d(x, pool_size=pool_size, stride=stride, pad=pad)


@primitive
def _avg_pool1d(x, pool_size, stride, pad):
    out_steps = _check_windows("avg_pool1d", x, pool_size, stride, 1, pad)
    xp = _padded(x, *pad, 0)
    slices = _window_slices(pool_size, stride, 1, out_steps)
    real = _padded(np.ones((1, x.shape[1], 1), dtype=x.dtype), *pad, 0)
    # each window's mean is over its real steps only: padding is left out of the count, as
    # TensorFlow's AvgPool does for "same"
    count = np.sum([real[:, steps, :] for steps in slices], axis=0)
    total = np.sum([xp[:, steps, :] for steps in slices], axis=0)

    def vjp(g):
        share = g / count
        gxp = np.zeros(xp.shape, dtype=g.dtype)
        for steps in slices:
            gxp[:, steps, :] += share
        return (gxp[:, pad[0]:pad[0] + x.shape[1], :],)
    return total / count, vjp


@deferrable
def avg_pool1d(x, pool_size, stride=None, padding="valid"):
    """The mean of each window over its real (unpadded) steps: (B, L, C) -> (B, L_out, C)."""
    x = as_tensor(x)
    stride = pool_size if stride is None else stride
    pad = conv_padding(x.shape[1] if x.ndim == 3 else 0, pool_size, stride, 1,
                       _pool_padding(padding))
    return _avg_pool1d(x, pool_size=pool_size, stride=stride, pad=pad)


def _pool_padding(padding):
    if padding not in ("valid", "same"):
        raise ValueError(f"pooling padding must be 'valid' or 'same'; got {padding!r}")
    return padding

