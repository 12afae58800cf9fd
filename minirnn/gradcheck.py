"""Finite-difference gradient checking.

`numerical_grad` differentiates any scalar function of NumPy arrays by a fourth-order central
difference; `check_grads` compares minirnn's backward pass against it and raises a readable report.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .checks import as_checked_array
from .tensor import Tensor, no_grad

__all__ = ["numerical_grad", "check_grads", "compare_grads", "GradientCheckError", "relative_error"]


class GradientCheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def numerical_grad(fn, inputs, eps=1e-4):
    """d fn / d inputs by the five-point stencil (error O(eps^4)).

    fn: callable taking no arguments and returning a float; it reads `inputs`, which are perturbed
        in place (and restored) one element at a time.
    inputs: list of float64 ndarrays.
    Returns a list of arrays shaped like `inputs`.
    """
    grads = []
    for i, array in enumerate(inputs):
        if not (isinstance(array, np.ndarray) and array.dtype == np.float64):  # complex too
            raise TypeError(f"numerical_grad needs float64 ndarrays; got input {i}: "
                            f"{type(array).__name__} of dtype {getattr(array, 'dtype', None)}")
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            original = array[i]
            values = []
            for step in (2 * eps, eps, -eps, -2 * eps):
                array[i] = original + step
                values.append(float(fn()))
            array[i] = original
            f2, f1, fm1, fm2 = values
            grad[i] = (-f2 + 8.0 * f1 - 8.0 * fm1 + fm2) / (12.0 * eps)
        grads.append(grad)
    return grads


def relative_error(analytic, numeric, floor=1e-8):
    """Elementwise |a - n| / max(|a|, |n|, floor)."""
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floor)
    return np.abs(analytic - numeric) / scale


def compare_grads(name, analytic, numeric, rtol=1e-6, atol=1e-8):
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

    def scalar_loss():
        with no_grad():
            return loss_of(fn(*args)).item()

    numeric = numerical_grad(scalar_loss, [t.data for t in args + params], eps=eps)
    names = [f"input {i}" for i in range(len(args))] + \
            [f"param {getattr(p, 'name', None) or i}" for i, p in enumerate(params)]
    return max((compare_grads(name, a, n, rtol, atol) for name, a, n in zip(names, analytic, numeric)),
               default=0.0)
