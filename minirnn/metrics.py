"""Stateful metrics by Keras 3's names and arithmetic, on NumPy arrays.

A metric keeps a running weighted mean over the batches it is given: `update_state(y_true, y_pred,
sample_weight=None)` per batch, `result()` for the value so far (a Python float), `reset_state()`
between epochs. Accumulators are kept in the metric's dtype (floatx by default), as Keras keeps
them. Inputs may be NumPy arrays or Tensors (read without recording a graph); a Tensor's mask
(`y_pred._keras_mask`), if any, weights the samples as Keras's masks do.

`get(identifier)` resolves what `compile(metrics=[...])` accepts; "accuracy"/"acc" choose the
binary, sparse categorical or categorical variant from the shapes of y_true and y_pred, as Keras 3
does (see `get`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import losses
from .checks import check_float, check_unimplemented
from .hints import TensorLike
from .layers.masks import get_mask
from .naming import to_snake_case
from .tensor import Tensor, floatx, no_grad

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "MeanSquaredError", "MeanAbsoluteError", "Accuracy",
    "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "accuracy", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "get",
]


def _array(x, dtype=None):
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    return array if dtype is None else array.astype(dtype, copy=False)


def _check_broadcast(name, y_true_shape, y_pred_shape, what="y_pred.shape"):
    try:
        np.broadcast_shapes(y_true_shape, y_pred_shape)
    except ValueError:
        raise ValueError(f"{name}: shapes of y_true and y_pred are incompatible; got "
                         f"y_true.shape={tuple(y_true_shape)} and {what}={tuple(y_pred_shape)}"
                         ) from None


# -- stateless metric functions (per-sample values, float arrays) -----------------------------------

def accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1.0 where y_true == y_pred exactly, else 0.0 (after Keras's squeeze-or-expand rule)."""
    y_pred = _array(y_pred)
    y_true = _array(y_true, y_pred.dtype)
    y_true, y_pred = losses.squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("accuracy", y_true.shape, y_pred.shape)
    return np.equal(y_true, y_pred).astype(floatx())


def binary_accuracy(y_true: TensorLike, y_pred: TensorLike, threshold: float = 0.5
                    ) -> np.ndarray:
    """1.0 where (y_pred > threshold) equals y_true."""
    y_pred, y_true = _array(y_pred), _array(y_true)
    y_true, y_pred = losses.squeeze_or_expand_to_same_rank(y_true, y_pred)
    _check_broadcast("binary_accuracy", y_true.shape, y_pred.shape)
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return np.equal(y_true, predicted).astype(floatx())


def categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1.0 where argmax(y_true) == argmax(y_pred) over the last axis (ties: the first index)."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.ndim < 1 or y_pred.ndim < 1:
        raise ValueError(f"categorical_accuracy: y_true and y_pred must be at least rank 1; got "
                         f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}")
    true_class = np.argmax(y_true, axis=-1).astype(y_pred.dtype)
    original_shape = true_class.shape
    reshape = true_class.ndim == y_pred.ndim
    if reshape:
        true_class = np.squeeze(true_class, -1)
    _check_broadcast("categorical_accuracy", y_true.shape[:-1], y_pred.shape[:-1],
                     what="y_pred.shape[:-1]")
    matches = np.equal(true_class, np.argmax(y_pred, axis=-1).astype(y_pred.dtype)).astype(floatx())
    return matches.reshape(original_shape) if reshape else matches


def sparse_categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> np.ndarray:
    """1.0 where the integer label y_true equals argmax(y_pred) over the last axis."""
    y_pred = _array(y_pred)
    y_true = _array(y_true, y_pred.dtype)
    if y_pred.ndim < 1:
        raise ValueError(f"sparse_categorical_accuracy: y_pred must be at least rank 1; got "
                         f"y_pred.shape={y_pred.shape}")
    original_shape = y_true.shape
    reshape = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
    if reshape:
        y_true = np.squeeze(y_true, -1)
    _check_broadcast("sparse_categorical_accuracy", y_true.shape, y_pred.shape[:-1],
                     what="y_pred.shape[:-1]")
    matches = np.equal(y_true, np.argmax(y_pred, axis=-1).astype(y_pred.dtype)).astype(floatx())
    if reshape:
        matches = matches.reshape(original_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


# -- the classes -----------------------------------------------------------------------------------

class Metric:
    """Base class: update_state(...), result() -> float, reset_state(), name, get_config()."""

    def __init__(self, name: str | None = None, dtype: DTypeLike | None = None) -> None:
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype or floatx()).name

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        """Update with one batch and return the result so far (as Keras's Metric.__call__)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _reduce_to_samplewise_values(values, sample_weight, dtype):
    """Keras's reduce_to_samplewise_values with reduce_fn=mean: per-sample values (and weights)."""
    values = _array(values, dtype)
    if sample_weight is not None:
        sample_weight = _array(sample_weight, dtype)
        values, sample_weight = losses.squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = values.mean(axis=tuple(range(weight_ndim, values_ndim)), dtype=dtype)
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {sample_weight.shape} does not broadcast to "
                             f"the per-sample values of shape {values.shape}") from None
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = sample_weight.mean(axis=tuple(range(1, weight_ndim)), dtype=dtype)
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)), dtype=dtype)
    return values, sample_weight


class Mean(Metric):
    """The (weighted) mean of the values given so far: total / count."""

    def __init__(self, name: str = "mean", dtype: DTypeLike | None = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: ArrayLike | Tensor, sample_weight: ArrayLike | None = None
                     ) -> None:
        values, sample_weight = _reduce_to_samplewise_values(values, sample_weight, self.dtype)
        if sample_weight is not None:
            count = sample_weight.sum(dtype=self.dtype)
        elif values.ndim >= 1:
            count = values.shape[0]
        else:
            count = 1
        dtype = np.dtype(self.dtype).type
        self.total = dtype(self.total + values.sum(dtype=self.dtype))
        self.count = dtype(self.count + dtype(count))

    def reset_state(self) -> None:
        self.total = np.dtype(self.dtype).type(0)
        self.count = np.dtype(self.dtype).type(0)

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0


def _merge_mask(sample_weight, mask, dtype):
    """Keras's apply_mask with reduction 'sum': the mask (as 0/1) multiplies the sample weights."""
    if mask is None:
        return sample_weight
    float_mask = np.asarray(mask, dtype=bool).astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = losses.squeeze_or_expand_to_same_rank(
        float_mask, _array(sample_weight, dtype))
    try:
        return sample_weight * float_mask
    except ValueError:
        raise ValueError(f"sample_weight of shape {sample_weight.shape} does not broadcast against "
                         f"y_pred's mask of shape {float_mask.shape}") from None


class MeanMetricWrapper(Mean):
    """The running mean of fn(y_true, y_pred, **kwargs), a function giving per-sample values."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: DTypeLike | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: TensorLike, y_pred: TensorLike,
                     sample_weight: ArrayLike | None = None) -> None:
        mask = get_mask(y_pred)
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        sample_weight = _merge_mask(sample_weight, mask, self.dtype)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error", dtype: DTypeLike | None = None) -> None:
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error", dtype: DTypeLike | None = None) -> None:
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name: str = "accuracy", dtype: DTypeLike | None = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 label."""

    def __init__(self, name: str = "binary_accuracy", dtype: DTypeLike | None = None,
                 threshold: float = 0.5) -> None:
        threshold = check_float(threshold, "BinaryAccuracy argument `threshold`")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax(y_true) (one-hot labels)."""

    def __init__(self, name: str = "categorical_accuracy", dtype: DTypeLike | None = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: DTypeLike | None = None
                 ) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_crossentropy", dtype: DTypeLike | None = None,
                 from_logits: bool = False, label_smoothing: float = 0) -> None:
        from_logits, label_smoothing, _, _ = losses.check_crossentropy_args(
            "metrics.BinaryCrossentropy", from_logits, label_smoothing)
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_crossentropy", dtype: DTypeLike | None = None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1) -> None:
        from_logits, label_smoothing, axis, _ = losses.check_crossentropy_args(
            "metrics.CategoricalCrossentropy", from_logits, label_smoothing, axis)
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of sparse_categorical_crossentropy. ignore_class is not implemented for
    the metric (the loss takes it): only its default None is accepted."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: DTypeLike | None = None,
                 from_logits: bool = False, ignore_class: None = None, axis: int = -1) -> None:
        check_unimplemented(ignore_class,
                            "metrics.SparseCategoricalCrossentropy argument `ignore_class`")
        from_logits, _, axis, _ = losses.check_crossentropy_args(
            "metrics.SparseCategoricalCrossentropy", from_logits, axis=axis)
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)


# -- "accuracy": the variant Keras 3's compile picks -------------------------------------------------

def accuracy_variant(y_true_shape, y_pred_shape):
    """The accuracy class Keras 3's compile uses for targets and predictions of these shapes:
    BinaryAccuracy when y_pred's last axis is 1; SparseCategoricalAccuracy when y_true has lower
    rank than y_pred, or a last axis of 1 against y_pred's of more; else CategoricalAccuracy.
    (Keras 3 looks at the shapes only, never at the loss.)"""
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    t_last = y_true_shape[-1] if y_true_shape else None
    p_last = y_pred_shape[-1] if y_pred_shape else None
    if p_last == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (t_last == 1 and p_last is not None and p_last > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


class AutoAccuracy(Metric):
    """The metric "accuracy" before data is seen: on the first update_state it becomes the variant
    Keras 3's compile would build for those y_true and y_pred (see accuracy_variant), keeping its
    name ("accuracy" or "acc", as in Keras's History)."""

    def __init__(self, name: str = "accuracy", dtype: DTypeLike | None = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.variant = None  # the concrete metric, once chosen

    def update_state(self, y_true: TensorLike, y_pred: TensorLike,
                     sample_weight: ArrayLike | None = None) -> None:
        if self.variant is None:
            cls = accuracy_variant(np.shape(_array(y_true)), np.shape(_array(y_pred)))
            self.variant = cls(name=self.name, dtype=self.dtype)
        self.variant.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self) -> float:
        return 0.0 if self.variant is None else self.variant.result()

    def reset_state(self) -> None:
        if self.variant is not None:
            self.variant.reset_state()


# -- lookup ------------------------------------------------------------------------------------------

_CLASSES = (Mean, MeanSquaredError, MeanAbsoluteError, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})
_ACCURACY_NAMES = ("accuracy", "acc")


def known_names():
    return sorted(set(_BY_NAME) | set(_ACCURACY_NAMES))


def get(identifier: Metric | str | dict[str, Any] | type | Callable[..., Any] | None,
        loss: Any = None, y_true: TensorLike | None = None,
        y_pred: TensorLike | None = None) -> Metric | None:
    """A Metric object for what compile(metrics=[...]) accepts, named as Keras's History names it.

    - "accuracy" / "acc" (any case): the variant Keras 3's compile picks. Keras 3 decides from the
      shapes of y_true and y_pred (see accuracy_variant), not from the loss: given y_true and
      y_pred (arrays or Tensors) the variant is chosen now, otherwise on its first update_state
      (an AutoAccuracy, whose `variant` is then the concrete metric).
      `loss` is accepted for symmetry with compile and does not change the choice (Keras 3 picks
      BinaryAccuracy for a (batch, 1) output whatever the loss, mse included).
    - another name ("mae", "mean_squared_error", "MeanSquaredError", "binary_accuracy", ...): a new
      metric whose `name` is the string given ("mae" stays "mae", as in Keras's History).
    - a Metric is returned as is; a Metric class is instantiated; a config dict
      {"class_name": ..., "config": {...}} is deserialised; any other callable fn(y_true, y_pred)
      -> per-sample values is wrapped in MeanMetricWrapper named after it.
    Unknown names raise ValueError listing the known ones. None gives None.
    """
    del loss  # Keras 3 ignores the loss when it resolves "accuracy"
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            if y_true is not None and y_pred is not None:
                return accuracy_variant(np.shape(_array(y_true)), np.shape(_array(y_pred)))(
                    name=identifier)
            return AutoAccuracy(name=identifier)
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; known names: {known_names()}")
        return cls(name=identifier)
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _BY_NAME or not inspect.isclass(_BY_NAME[name]):
            raise ValueError(f"Unknown metric class {name!r} in config {identifier!r}; known: "
                             f"{sorted(c.__name__ for c in _CLASSES)}")
        return _BY_NAME[name].from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, Metric):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier {identifier!r}; expected a Metric, a "
                     f"callable, a config dict or one of {known_names()}")
