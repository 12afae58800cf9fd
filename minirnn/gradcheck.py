"""Finite-difference gradient checking.

`numerical_grad(fn, inputs)` differentiates a scalar function fn(*inputs) of NumPy arrays by a
fourth-order central difference, on float64 copies of the inputs; `check_grads` compares
minirnn's backward pass against it and raises a readable report.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .checks import as_checked_array, check_float
from .tensor import Tensor, no_grad

__all__ = ["numerical_grad", "check_grads", "compare_grads", "GradientCheckError", "relative_error"]


class GradientCheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _float64_copy(value, i):
    """A float64 copy of input `i`, refusing what has no real value to differentiate by."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        kind = "complex numbers have two directions to differentiate along" \
            if array.dtype.kind == "c" else "it is not a real number array"
        raise TypeError(f"numerical_grad input {i} must hold real numbers (it is differentiated "
                        f"in float64); got {type(value).__name__} of dtype {array.dtype}: {kind}")
    return np.array(array, dtype=np.float64, copy=True)


def _scalar(value):
    array = np.asarray(value)
    if array.size != 1:
        raise TypeError(f"numerical_grad needs fn to return a scalar; got a value of shape "
                        f"{array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"numerical_grad needs fn to return a real number; got dtype "
                        f"{array.dtype}")
    return float(array.reshape(()))


def numerical_grad(fn: Callable[..., ArrayLike | Tensor], inputs: Sequence[ArrayLike | Tensor],
                   eps: float = 1e-4) -> list[np.ndarray]:
    """d fn(*inputs) / d inputs[i] for each i, by the five-point stencil (error O(eps^4)).

    fn: called as fn(*inputs); returns a real scalar (a float, a 0-d or size-1 array, a Tensor).
    inputs: a list of arrays, numbers or Tensors. Each is copied to float64 and fn is called
        with those copies, one element moved at a time: the caller's arrays are never touched.
    Returns a list of float64 arrays, one per input, each shaped like its input.
    """
    if not callable(fn):
        raise TypeError(f"numerical_grad needs a callable fn; got {type(fn).__name__}")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"numerical_grad needs inputs as a list or tuple of arrays; got "
                        f"{type(inputs).__name__}")
    eps = check_float(eps, "numerical_grad argument eps", minimum=0.0, min_inclusive=False)
    args = [_float64_copy(value, i) for i, value in enumerate(inputs)]
    grads = []
    for array in args:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            original = array[index]
            values = []
            for step in (2 * eps, eps, -eps, -2 * eps):
                array[index] = original + step
                values.append(_scalar(fn(*args)))
            array[index] = original
            f2, f1, fm1, fm2 = values
            grad[index] = (-f2 + 8.0 * f1 - 8.0 * fm1 + fm2) / (12.0 * eps)
        grads.append(grad)
    return grads


def relative_error(analytic: ArrayLike, numeric: ArrayLike, floor: float = 1e-8) -> np.ndarray:
    """Elementwise |a - n| / max(|a|, |n|, floor)."""
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return np.abs(analytic - numeric) / scale


def compare_grads(name: str, analytic: ArrayLike, numeric: ArrayLike, rtol: float = 1e-6,
                  atol: float = 1e-8) -> float:
    """check_grads' rule for one array: an element passes when |a - n| <= atol + rtol * max(|a|, |n|).
    Raises GradientCheckError naming `name`, the worst element, both values and the errors.
    Returns the largest relative error among elements above `atol` in either value (0.0 if none)."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    if analytic.shape != numeric.shape:
        raise GradientCheckError(f"{name}: analytic gradient has shape {analytic.shape}, "
                                 f"expected {numeric.shape}")
    err = np.abs(analytic - numeric)
    bad = err > atol + rtol * np.maximum(np.abs(analytic), np.abs(numeric))
    rel = relative_error(analytic, numeric)
    significant = np.maximum(np.abs(analytic), np.abs(numeric)) > atol
    if bad.any():
        idx = np.unravel_index(np.argmax(np.where(bad, rel, -1.0)), analytic.shape)
        raise GradientCheckError(
            f"{name} (shape {analytic.shape}): {int(bad.sum())} of {analytic.size} elements differ; "
            f"worst at {tuple(int(i) for i in idx)}: analytic {analytic[idx]!r}, numeric "
            f"{numeric[idx]!r}; max abs error {err.max():.3e}, max rel error {rel.max():.3e} "
            f"(rtol={rtol}, atol={atol})")
    return float(rel[significant].max()) if significant.any() else 0.0


def _outputs(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def check_grads(fn: Callable[..., Tensor | Sequence[Tensor]], *inputs: ArrayLike | Tensor,
                params: Sequence[Tensor] = (), rtol: float = 1e-6, atol: float = 1e-8,
                eps: float = 1e-4, seed: int = 0) -> float:
    """Check fn's backward pass against finite differences, in float64.

    fn: takes one Tensor per input and returns a Tensor or a tuple/list of Tensors.
    inputs: arrays or Tensors; each becomes a float64 Tensor that requires grad.
    params: Tensors that fn reads besides its arguments (a layer's weights); checked too.
    Non-scalar outputs are reduced with a fixed random projection sum(out * r), so every element of
    every output contributes. An element passes when |a - n| <= atol + rtol * max(|a|, |n|)
    (compare_grads, which tests of hand-written gradients may call on their own arrays).
    Raises GradientCheckError naming the input, the worst element, both values and the errors.
    Returns the largest relative error seen (elements below `atol` in both values excluded).
    """
    # complex inputs are refused, not cast: the cast would drop the imaginary part and the check
    # would pass on the real part alone
    args = [Tensor(np.array(as_checked_array(x.data if isinstance(x, Tensor) else x,
                                             f"check_grads input {i}"), dtype=np.float64),
                   requires_grad=True) for i, x in enumerate(inputs)]
    params = list(params)
    for i, p in enumerate(params):
        if p.data.dtype.kind == "c":
            raise TypeError(f"check_grads param {getattr(p, 'name', None) or i} expects float64 "
                            f"values; got dtype {p.data.dtype} (complex gradients are not checked)")
        if p.data.dtype != np.float64:
            raise TypeError(f"check_grads needs float64 parameters; got {p.data.dtype} "
                            f"(use minirnn.set_floatx('float64') before building the layer)")
    rng = np.random.default_rng(seed)
    projections = [rng.standard_normal(np.shape(out.data)) for out in _outputs(fn(*args))]

    def loss_of(outputs):
        return sum((out * r).sum() for out, r in zip(_outputs(outputs), projections))

    for t in args + params:
        t.grad = None
    loss_of(fn(*args)).backward()
    analytic = [np.zeros_like(t.data) if t.grad is None else t.grad for t in args + params]

    n_args = len(args)

    def scalar_loss(*arrays):
        # the params are read by fn from the layer: their values are put in place for the call
        # and the originals put back, so the layer ends as it began
        saved = [np.array(p.data, copy=True) for p in params]
        try:
            for p, values in zip(params, arrays[n_args:]):
                p.data[...] = values
            with no_grad():
                return loss_of(fn(*[Tensor(a) for a in arrays[:n_args]])).item()
        finally:
            for p, values in zip(params, saved):
                p.data[...] = values

    numeric = numerical_grad(scalar_loss, [t.data for t in args + params], eps=eps)
    names = [f"input {i}" for i in range(len(args))] + \
            [f"param {getattr(p, 'name', None) or i}" for i, p in enumerate(params)]
    return max((compare_grads(name, a, n, rtol, atol) for name, a, n in zip(names, analytic, numeric)),
               default=0.0)
