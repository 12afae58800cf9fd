"""Losses by Keras 3's names and numerics, built from minirnn ops.

Functions (`mean_squared_error`, `binary_crossentropy`, ...) return one loss per sample: the mean
(or sum, for the categorical ones) over the last axis, as Keras does. Classes (`MeanSquaredError`,
...) wrap a function, weight it by `sample_weight` and reduce it to a scalar, as `keras.losses.Loss`
does.

Probabilities are clipped to [1e-7, 1 - 1e-7] exactly as Keras clips them. From logits, the
crossentropies are fused primitives (value and VJP together) written with log-sum-exp and
log-sigmoid, so logits of +-1000 give a finite loss and a finite, correct gradient.
y_true never receives a gradient that matters to training; y_pred is the Tensor differentiated.
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import ops
from .checks import check_bool, check_float, check_fraction, check_int
from .layers.masks import get_mask
from .naming import to_snake_case
from .hints import TensorLike
from .tensor import Tensor, primitive, unbroadcast, floatx

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Huber", "huber",
    "mean_squared_error", "mse", "mean_absolute_error", "mae", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy",
    "get", "serialize", "deserialize", "EPSILON", "REDUCTIONS",
]

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# -- helpers -------------------------------------------------------------------------------------

def _as_pred(y_pred, dtype=None):
    """y_pred as a float Tensor (gradients flow through any cast)."""
    if not isinstance(y_pred, Tensor):
        array = np.asarray(y_pred)
        return Tensor(array.astype(dtype or (array.dtype if array.dtype.kind == "f" else floatx())))
    if dtype is not None and y_pred.dtype != np.dtype(dtype):
        return ops.cast(y_pred, dtype)
    if y_pred.dtype.kind != "f":
        return Tensor(y_pred.data.astype(floatx()))
    return y_pred


def _as_array(x, dtype=None):
    """A NumPy array for y_true or sample_weight (Tensors are read, never differentiated)."""
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    return array if dtype is None else array.astype(dtype, copy=False)


def _squeeze(x, axis):
    return ops.squeeze(x, axis) if isinstance(x, Tensor) else np.squeeze(x, axis)


def _expand(x, axis):
    return ops.expand_dims(x, axis) if isinstance(x, Tensor) else np.expand_dims(x, axis)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rule: where ranks differ by one and the longer ends in 1, squeeze it (or, when the
    shorter is rank 1, expand that instead). Works on Tensors and arrays alike."""
    r1, r2 = np.ndim(_data(x1)), np.ndim(_data(x2))
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and np.shape(_data(x1))[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _expand(x2, -1)
        else:
            x1 = _squeeze(x1, -1)
    if r2 == r1 + 1 and np.shape(_data(x2))[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _expand(x1, -1)
        else:
            x2 = _squeeze(x2, -1)
    return x1, x2


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _check_broadcast(name, y_true, y_pred):
    try:
        np.broadcast_shapes(np.shape(y_true), y_pred.shape)
    except ValueError:
        raise ValueError(f"{name}: y_true and y_pred must have shapes that broadcast; got "
                         f"y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}") from None


def _check_same_shape(name, y_true, y_pred):
    if np.shape(y_true) != y_pred.shape:
        raise ValueError(f"{name}: y_true and y_pred must have the same shape; got "
                         f"y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}")


def _prepare(y_true, y_pred):
    y_pred = _as_pred(y_pred)
    y_true = _as_array(y_true, y_pred.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def _clip(x, dtype):
    eps = np.dtype(dtype).type(EPSILON)
    return ops.clip(x, eps, np.dtype(dtype).type(1.0) - eps)


# -- fused primitives (stable from logits) -------------------------------------------------------

def _log1p_exp_neg_abs(x):
    return np.log1p(np.exp(-np.abs(x)))


@primitive
def sigmoid_crossentropy_with_logits(logits, labels):
    """Elementwise max(x, 0) - x z + log(1 + exp(-|x|)): -z log s(x) - (1 - z) log(1 - s(x))."""
    value = np.maximum(logits, 0) - logits * labels + _log1p_exp_neg_abs(logits)

    def vjp(g):
        # sigmoid(x) - z, written so that no 1 - 1 cancellation happens for |x| large
        e = np.exp(-np.abs(logits))
        tail = e / (1 + e)                                   # = sigmoid(-|x|)
        d = np.where(logits >= 0, (1 - labels) - tail, tail - labels)
        return unbroadcast(g * d, logits.shape), unbroadcast(-g * logits, labels.shape)
    return value, vjp


@primitive
def softmax_crossentropy_with_logits(logits, labels, axis=-1):
    """sum(z * (logsumexp(x) - x)) over axis: the crossentropy of softmax(x) against z."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    neg_log_p = lse - shifted
    value = (labels * neg_log_p).sum(axis=axis)

    def vjp(g):
        g = np.expand_dims(g, axis)
        p = np.exp(-neg_log_p)
        d_logits = g * (p * labels.sum(axis=axis, keepdims=True) - labels)
        return d_logits, g * neg_log_p
    return value, vjp


@primitive
def sparse_softmax_crossentropy_with_logits(logits, labels):
    """logsumexp(x) - x[label] over the last axis; labels (static) are integers of shape x.shape[:-1]."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(shifted, labels[..., None], axis=-1)
    value = (lse - picked)[..., 0]

    def vjp(g):
        d = np.exp(shifted - lse)
        np.put_along_axis(d, labels[..., None], np.take_along_axis(d, labels[..., None], -1) - 1, -1)
        return (g[..., None] * d,)
    return value, vjp


# -- loss functions ------------------------------------------------------------------------------

def mean_squared_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(square(y_true - y_pred), axis=-1)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_broadcast("mean_squared_error", y_true, y_pred)
    return ops.mean(ops.square(ops.sub(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(abs(y_true - y_pred), axis=-1)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_broadcast("mean_absolute_error", y_true, y_pred)
    return ops.mean(ops.abs(ops.sub(y_true, y_pred)), axis=-1)


def huber(y_true: TensorLike, y_pred: TensorLike, delta: float = 1.0) -> Tensor:
    """mean(0.5 * e**2 where |e| <= delta, else delta * |e| - 0.5 * delta**2, axis=-1), with
    e = y_pred - y_true: quadratic near zero, linear beyond delta."""
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_broadcast("huber", y_true, y_pred)
    delta = y_pred.dtype.type(delta)
    error = ops.sub(y_pred, y_true)
    abs_error = ops.abs(error)
    half = y_pred.dtype.type(0.5)
    return ops.mean(ops.where(abs_error.data <= delta, half * ops.square(error),
                              delta * abs_error - half * delta * delta), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def binary_crossentropy(y_true: TensorLike, y_pred: TensorLike, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Elementwise binary crossentropy, averaged over `axis`.

    label_smoothing squeezes the targets towards 0.5: z * (1 - s) + 0.5 * s.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
        y_true = y_true.astype(y_pred.dtype, copy=False)
    if from_logits:
        elementwise = sigmoid_crossentropy_with_logits(y_pred, y_true)
    else:
        output = _clip(y_pred, y_pred.dtype)
        elementwise = -(ops.mul(y_true, ops.log(output))
                        + ops.mul(1 - y_true, ops.log(1.0 - output)))
    return ops.mean(elementwise, axis=axis)


def categorical_crossentropy(y_true: TensorLike, y_pred: TensorLike, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """-sum(y_true * log(y_pred)) over `axis`, y_pred first divided by its sum over `axis` and
    clipped (as Keras does); from_logits uses log-softmax.

    label_smoothing: z * (1 - s) + s / num_classes, num_classes = y_true.shape[-1] (as in Keras).
    """
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"categorical_crossentropy: axis must be an int; got {axis!r}")
    y_true, y_pred = _prepare(y_true, y_pred)
    if y_pred.ndim < 1:
        raise ValueError(f"categorical_crossentropy: y_true and y_pred must be at least rank 1; got "
                         f"y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}")
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(f"categorical_crossentropy: axis {axis} is out of range for y_pred of "
                         f"shape {y_pred.shape}")
    if y_pred.shape[-1] == 1:
        warnings.warn(f"In loss categorical_crossentropy, expected y_pred.shape to be "
                      f"(batch_size, num_classes) with num_classes > 1. Received: "
                      f"y_pred.shape={y_pred.shape}. Consider using 'binary_crossentropy' if you "
                      f"only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        num_classes = y_true.shape[-1]
        y_true = (y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
                  ).astype(y_pred.dtype, copy=False)
    if from_logits:
        return softmax_crossentropy_with_logits(y_pred, y_true, axis=axis)
    output = ops.div(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    output = _clip(output, y_pred.dtype)
    return -ops.sum(ops.mul(y_true, ops.log(output)), axis=axis)


def _sparse_labels(y_true, y_pred, axis, ignore_class):
    """Integer labels of shape y_pred.shape[:-1], checked; and the mask of labels not ignored."""
    y_true = _as_array(y_true)
    if y_pred.ndim < 1:
        raise ValueError(f"sparse_categorical_crossentropy: y_pred must be at least rank 1; got "
                         f"y_pred.shape={y_pred.shape}")
    if axis not in (-1, y_pred.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported; got axis={axis}")
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse_categorical_crossentropy: y_true must have the shape of y_pred "
                         f"without its last (class) axis, optionally with a trailing 1; got "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    if y_true.dtype.kind == "b" or y_true.dtype.kind not in "iuf":
        raise ValueError(f"sparse_categorical_crossentropy: y_true must hold integer class labels; "
                         f"got dtype {y_true.dtype}")
    if y_true.dtype.kind == "f":
        if not np.all(np.isfinite(y_true)) or np.any(y_true != np.trunc(y_true)):
            bad = y_true[~np.isfinite(y_true) | (y_true != np.trunc(y_true))].flat[0]
            raise ValueError(f"sparse_categorical_crossentropy: y_true must hold integer class "
                             f"labels; got the non-integer value {bad.item()!r}")
    valid = None if ignore_class is None else (y_true != ignore_class)
    labels = y_true.astype(np.int64)
    if valid is not None:
        labels = np.where(valid, labels, 0)
    classes = y_pred.shape[-1]
    out = (labels < 0) | (labels >= classes)
    if out.any():
        raise ValueError(f"sparse_categorical_crossentropy: labels must lie in [0, {classes}) for "
                         f"y_pred with {classes} classes; got label {labels[out].flat[0]} at index "
                         f"{tuple(int(i) for i in np.argwhere(out)[0])}")
    return labels, valid


def _sparse_ce_and_mask(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    y_pred = _as_pred(y_pred)
    labels, valid = _sparse_labels(y_true, y_pred, axis, ignore_class)
    logits = y_pred if from_logits else ops.log(_clip(y_pred, y_pred.dtype))
    result = sparse_softmax_crossentropy_with_logits(logits, labels=labels)
    if valid is not None:
        result = ops.where(valid, result, np.zeros((), result.dtype))
    return result, valid


def sparse_categorical_crossentropy(y_true: TensorLike, y_pred: TensorLike,
                                    from_logits: bool = False, ignore_class: int | None = None,
                                    axis: int = -1) -> Tensor:
    """Categorical crossentropy with integer labels: y_true of shape y_pred.shape[:-1] (or with a
    trailing 1), any int dtype or floats that hold integers. Probabilities are clipped and logged,
    then treated as logits (so they are in effect normalised), as in Keras.
    ignore_class: a label value whose positions get loss 0 (and are left out of the classes'
    "sum_over_batch_size" mean)."""
    return _sparse_ce_and_mask(y_true, y_pred, from_logits, ignore_class, axis)[0]


# -- reduction -----------------------------------------------------------------------------------

def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid reduction {reduction!r}; expected one of "
                         f"{[r for r in REDUCTIONS]}")
    return reduction


def _apply_mask(sample_weight, mask, dtype, reduction):
    """Merge a boolean mask into sample_weight, as Keras does (valid entries reweighted so that
    'sum_over_batch_size' averages over the valid ones)."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=bool)
    if reduction in ("mean", "sum_over_batch_size"):
        total, valid = mask.size, mask.sum()
        weight = total / valid if valid else 0.0
        float_mask = np.where(mask, weight, 0.0).astype(dtype)
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight.astype(dtype))
    try:
        return sample_weight * float_mask
    except ValueError:
        raise ValueError(f"sample_weight of shape {sample_weight.shape} does not broadcast against "
                         f"y_pred's mask of shape {float_mask.shape}") from None


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight per-sample losses and reduce them (Keras's reduce_weighted_values)."""
    reduction = standardize_reduction(reduction)
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = _as_array(sample_weight, dtype)
    sample_weight = _apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        sample_weight = sample_weight.astype(dtype, copy=False)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            np.broadcast_shapes(values.shape, sample_weight.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {sample_weight.shape} does not broadcast "
                             f"against the per-sample losses of shape {values.shape}") from None
        values = ops.mul(values, sample_weight)
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = ops.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = sample_weight.sum(dtype=dtype)
    else:
        divisor = values.size
    return ops.div(loss, dtype.type(divisor)) if divisor else ops.mul(loss, dtype.type(0))


# -- classes -------------------------------------------------------------------------------------

class Loss:
    """Base class: subclass and implement call(y_true, y_pred) -> per-sample losses (a Tensor).

    reduction: "sum_over_batch_size" (default; the weighted sum divided by the number of loss
    values), "sum", "mean" (same as sum_over_batch_size), "mean_with_sample_weight" (divided by the
    sum of the weights) or None / "none" (no reduction).
    dtype: compute in this float dtype; None keeps y_pred's float dtype.
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: DTypeLike | None = None) -> None:
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = None if dtype is None else np.dtype(dtype).name

    def __call__(self, y_true: TensorLike, y_pred: TensorLike,
                 sample_weight: ArrayLike | None = None) -> Tensor:
        in_mask = get_mask(y_pred)
        y_pred = _as_pred(y_pred, self.dtype)
        values, out_mask = self._values_and_mask(y_true, y_pred)
        if in_mask is not None and out_mask is not None:
            mask = np.logical_and(in_mask, out_mask)
        else:
            mask = in_mask if in_mask is not None else out_mask
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def _values_and_mask(self, y_true, y_pred):
        return self.call(y_true, y_pred), None

    def call(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class LossFunctionWrapper(Loss):
    """A Loss from a function fn(y_true, y_pred, **kwargs) returning per-sample losses; y_true
    and y_pred are first brought to the same rank by Keras's squeeze-or-expand rule."""

    def __init__(self, fn: Callable[..., Tensor], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: DTypeLike | None = None, **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: TensorLike, y_pred: Tensor) -> Tensor:
        y_true, y_pred = squeeze_or_expand_to_same_rank(_as_array(y_true), y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"fn": getattr(self.fn, "__name__", repr(self.fn))})
        config.update(self._fn_kwargs)
        return config


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_error", dtype: DTypeLike | None = None) -> None:
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_error", dtype: DTypeLike | None = None) -> None:
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


def check_crossentropy_args(owner, from_logits, label_smoothing=0.0, axis=-1, ignore_class=None):
    """The numeric and flag arguments of a crossentropy loss or metric named `owner`, checked."""
    arg = f"{owner} argument `{{}}`".format
    return (check_bool(from_logits, arg("from_logits")),
            check_fraction(label_smoothing, arg("label_smoothing"), max_inclusive=True),
            check_int(axis, arg("axis")),
            None if ignore_class is None else check_int(ignore_class, arg("ignore_class")))


class Huber(LossFunctionWrapper):
    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: DTypeLike | None = None) -> None:
        check_float(delta, "Huber argument `delta`", minimum=0.0, min_inclusive=False)
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self) -> dict[str, Any]:
        # Keras leaves delta out of its config, so a saved Huber(delta=2) comes back with delta=1;
        # it is kept here so that the round trip is faithful
        return {**Loss.get_config(self), "delta": self.delta}


class _SmoothedCrossentropy(LossFunctionWrapper):
    """Binary and categorical crossentropy: from_logits, label_smoothing and axis."""
    function = None  # set by each subclass

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        from_logits, label_smoothing, axis, _ = check_crossentropy_args(
            type(self).__name__, from_logits, label_smoothing, axis)
        function = type(self).function
        super().__init__(function, name=name or function.__name__, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing,
                         axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self) -> dict[str, Any]:
        config = Loss.get_config(self)
        config.update(from_logits=self.from_logits, label_smoothing=self.label_smoothing,
                      axis=self.axis)
        return config


class BinaryCrossentropy(_SmoothedCrossentropy):
    function = staticmethod(binary_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "binary_crossentropy", dtype: DTypeLike | None = None) -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    function = staticmethod(categorical_crossentropy)

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_crossentropy", dtype: DTypeLike | None = None) -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy", dtype: DTypeLike | None = None) -> None:
        from_logits, _, axis, ignore_class = check_crossentropy_args(
            type(self).__name__, from_logits, axis=axis, ignore_class=ignore_class)
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def _values_and_mask(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(_as_array(y_true), y_pred)
        return _sparse_ce_and_mask(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = Loss.get_config(self)
        config.update(from_logits=self.from_logits, ignore_class=self.ignore_class)
        return config


# -- lookup --------------------------------------------------------------------------------------

_CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
                                          CategoricalCrossentropy, SparseCategoricalCrossentropy,
                                          Huber)}
_FUNCTIONS = {fn.__name__: fn for fn in (mean_squared_error, mean_absolute_error, binary_crossentropy,
                                         categorical_crossentropy, sparse_categorical_crossentropy,
                                         huber)}
_ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error,
            "mae": mean_absolute_error, "MAE": mean_absolute_error,
            "bce": binary_crossentropy, "BCE": binary_crossentropy}
_BY_NAME = {**_CLASSES, **_FUNCTIONS, **_ALIASES}


def serialize(loss: Loss | Callable[..., Tensor]) -> dict[str, Any] | str:
    """A config dict for a Loss instance, or the name of a loss function."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    name = getattr(loss, "__name__", None)
    if name in _FUNCTIONS:
        return name
    raise ValueError(f"Cannot serialize loss {loss!r}; expected a Loss or one of {sorted(_FUNCTIONS)}")


def deserialize(config: dict[str, Any] | str) -> Loss | Callable[..., Tensor]:
    """A Loss (or loss function) from serialize()'s output."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret loss config {config!r}; expected a dict with "
                         f"'class_name' and 'config'")
    name = config["class_name"]
    if name not in _CLASSES:
        raise ValueError(f"Unknown loss class {name!r}; known: {sorted(_CLASSES)}")
    return _CLASSES[name].from_config(dict(config.get("config") or {}))


def get(identifier: Loss | Callable[..., Tensor] | str | dict[str, Any] | type | None
        ) -> Loss | Callable[..., Tensor] | None:
    """A loss from a callable (returned as is), a name or a config dict.

    Names follow Keras: function names ("mse", "mean_squared_error", "binary_crossentropy", ...)
    give the function; class names ("MeanSquaredError", ...) give a new instance. None gives None.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = _BY_NAME.get(identifier)
        if obj is None:
            raise ValueError(f"Unknown loss {identifier!r}; known names: {sorted(_BY_NAME)}")
        return obj() if inspect.isclass(obj) else obj
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier {identifier!r}; expected a callable, a "
                     f"config dict or one of {sorted(_BY_NAME)}")
