"""BatchNormalization and LayerNormalization with Keras 3's arguments, weights and numerics.

Both are built from the existing primitives (mean, square, where, sqrt, ...), so their gradients
are derived by the engine; the output is formed as TensorFlow's batch_normalization forms it,
x * inv + (beta - mean * inv) with inv = gamma / sqrt(variance + epsilon).

Both also take the Layer keywords (name, dtype, trainable, input_shape, ...) through **kwargs.
Keras's regularizers and constraints, and BatchNormalization's batch renormalization, are not
implemented: only their defaults are accepted, anything else raises UnsupportedArgumentError.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from .. import initializers, ops
from ..checks import check_bool, check_float, check_int, check_unimplemented
from ..hints import InitializerLike, Shape
from ..tensor import Tensor
from .base import InputSpec, Layer, is_tracing
from .core import refuse_unimplemented

__all__ = ["BatchNormalization", "LayerNormalization"]

MASK_EPSILON = 1e-7  # keras.backend.epsilon(): added to the count of unmasked positions


def _normalize(x, mean, variance, epsilon, gamma, beta):
    inv = 1.0 / ops.sqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    shift = -(mean * inv) if beta is None else beta - mean * inv
    return x * inv + shift


def _axis_in_range(layer, axis, rank):
    if not -rank <= axis < rank:
        raise ValueError(f"{type(layer).__name__} '{layer.name}' has axis={axis}, out of range for "
                         f"inputs of rank {rank}; expected an axis in [{-rank}, {rank - 1}]")
    return axis % rank


class BatchNormalization(Layer):
    """Normalizes each feature on `axis` by the batch's statistics while training, and by the
    moving averages of those statistics otherwise.

    Training (training=True and the layer trainable): the mean and biased variance over every
    axis but `axis` (over the unmasked positions only when a mask (B, T) comes, each divided by
    count + 1e-7), and moving_mean/moving_variance become moving * momentum + batch *
    (1 - momentum). Inference: moving_mean and moving_variance, nothing updated.
    Weights: [gamma, beta, moving_mean, moving_variance] (the last two non-trainable).
    synchronized: accepted either way; minirnn runs on one device, where synchronized batch
    statistics are the batch statistics.
    """
    supports_masking = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True,
                 beta_initializer: InitializerLike = "zeros",
                 gamma_initializer: InitializerLike = "ones",
                 moving_mean_initializer: InitializerLike = "zeros",
                 moving_variance_initializer: InitializerLike = "ones",
                 beta_regularizer: None = None, gamma_regularizer: None = None,
                 beta_constraint: None = None, gamma_constraint: None = None,
                 renorm: Literal[False] = False, renorm_clipping: None = None,
                 renorm_momentum: float = 0.99, synchronized: bool = False,
                 **kwargs: Any) -> None:
        refuse_unimplemented(self, "regularizers", beta_regularizer=beta_regularizer,
                             gamma_regularizer=gamma_regularizer)
        refuse_unimplemented(self, "constraints", beta_constraint=beta_constraint,
                             gamma_constraint=gamma_constraint)
        check_unimplemented(renorm, "BatchNormalization argument `renorm`", False,
                            "batch renormalization")
        refuse_unimplemented(self, "batch renormalization", renorm_clipping=renorm_clipping)
        check_unimplemented(renorm_momentum, "BatchNormalization argument `renorm_momentum`",
                            0.99, "batch renormalization")
        check_bool(synchronized, "BatchNormalization argument `synchronized`")
        self.axis = check_int(axis, "BatchNormalization argument `axis`")
        self.momentum = check_float(momentum, "BatchNormalization argument `momentum`")
        self.epsilon = check_float(epsilon, "BatchNormalization argument `epsilon`", minimum=0.0,
                                   min_inclusive=False)
        self.center = check_bool(center, "BatchNormalization argument `center`")
        self.scale = check_bool(scale, "BatchNormalization argument `scale`")
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        super().__init__(**kwargs)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Shape) -> None:
        axis = _axis_in_range(self, self.axis, len(input_shape))
        size = input_shape[axis]
        if size is None:
            raise ValueError(f"BatchNormalization '{self.name}' needs the size of axis "
                             f"{self.axis}; got input shape {tuple(input_shape)}")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta")
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False,
                                           name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: size})
        self._reduction_axes = tuple(a for a in range(len(input_shape)) if a != axis)
        self._stat_shape = tuple(size if a == axis else 1 for a in range(len(input_shape)))

    def call(self, inputs: Tensor, training: bool | None = None,
             mask: ArrayLike | None = None) -> Tensor:
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.ndim != inputs.ndim - 1:
                raise ValueError(f"BatchNormalization '{self.name}' expects a mask with one "
                                 f"dimension less than the inputs; got mask.shape={mask.shape} "
                                 f"and inputs.shape={inputs.shape}")
        gamma = None if self.gamma is None else ops.reshape(self.gamma, self._stat_shape)
        beta = None if self.beta is None else ops.reshape(self.beta, self._stat_shape)
        if training and self.trainable:
            mean, variance = self._moments(inputs, mask)
            if not is_tracing():
                self._update_moving(mean.data.reshape(-1), variance.data.reshape(-1))
        else:
            mean = ops.reshape(self.moving_mean, self._stat_shape)
            variance = ops.reshape(self.moving_variance, self._stat_shape)
        return _normalize(inputs, mean, variance, self.epsilon, gamma, beta)

    def _moments(self, x, mask):
        axes = self._reduction_axes
        if mask is None:
            mean = ops.mean(x, axis=axes, keepdims=True)
            return mean, ops.mean(ops.square(x - mean), axis=axes, keepdims=True)
        # Keras: the mask (one axis less than x) gains a last axis and is broadcast to x
        keep = np.broadcast_to(mask[..., None], x.shape)
        count = keep.astype(x.dtype).sum(axis=axes, keepdims=True) + x.dtype.type(MASK_EPSILON)
        mean = ops.sum(ops.where(keep, x, 0.0), axis=axes, keepdims=True) / count
        deviation = ops.where(keep, x - mean, 0.0)
        return mean, ops.sum(ops.square(deviation), axis=axes, keepdims=True) / count

    def _update_moving(self, mean, variance):
        dtype = self.moving_mean.data.dtype
        momentum, rest = dtype.type(self.momentum), dtype.type(1.0 - self.momentum)
        self.moving_mean.data[...] = self.moving_mean.data * momentum + mean.astype(dtype) * rest
        self.moving_variance.data[...] = (self.moving_variance.data * momentum
                                          + variance.astype(dtype) * rest)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer)}


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (an int or a list of ints) by its own mean and biased
    variance, then scales by gamma and shifts by beta (both shaped like the normalized axes).

    rms_scaling=True (deprecated in Keras, kept for its numerics): x / sqrt(variance + epsilon)
    * gamma, without centring and without beta. A mask passes through unchanged.
    """
    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, rms_scaling: bool = False,
                 beta_initializer: InitializerLike = "zeros",
                 gamma_initializer: InitializerLike = "ones", beta_regularizer: None = None,
                 gamma_regularizer: None = None, beta_constraint: None = None,
                 gamma_constraint: None = None, **kwargs: Any) -> None:
        refuse_unimplemented(self, "regularizers", beta_regularizer=beta_regularizer,
                             gamma_regularizer=gamma_regularizer)
        refuse_unimplemented(self, "constraints", beta_constraint=beta_constraint,
                             gamma_constraint=gamma_constraint)
        if isinstance(axis, (list, tuple)):
            axis = [check_int(a, "LayerNormalization argument `axis`") for a in axis]
            if not axis:
                raise ValueError("LayerNormalization argument `axis` must name at least one "
                                 "axis; got an empty list")
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = int(axis)
        else:
            raise TypeError(f"LayerNormalization argument `axis` must be an int or a list/tuple of "
                            f"ints; got {axis!r}")
        self.axis = axis
        self.epsilon = check_float(epsilon, "LayerNormalization argument `epsilon`", minimum=0.0,
                                   min_inclusive=False)
        self.center = check_bool(center, "LayerNormalization argument `center`")
        self.scale = check_bool(scale, "LayerNormalization argument `scale`")
        self.rms_scaling = check_bool(rms_scaling, "LayerNormalization argument `rms_scaling`")
        if self.rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which is deprecated (as in Keras): it "
                          "scales the input by the variance, not the root mean square.",
                          stacklevel=2)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        super().__init__(**kwargs)
        self.gamma = self.beta = None

    def build(self, input_shape: Shape) -> None:
        rank = len(input_shape)
        # Keras sorts the axes as given (negative before positive) and shapes gamma/beta that way
        given = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        axes = [_axis_in_range(self, a, rank) for a in given]
        if len(set(axes)) != len(axes):
            raise ValueError(f"LayerNormalization '{self.name}' has repeated axes in axis="
                             f"{self.axis} for inputs of rank {rank}")
        shape = tuple(input_shape[a] for a in given)
        if any(s is None for s in shape):
            raise ValueError(f"LayerNormalization '{self.name}' needs the sizes of axes "
                             f"{self.axis}; got input shape {tuple(input_shape)}")
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma")
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta")
        self._axes = tuple(axes)
        self._broadcast_shape = tuple(input_shape[a] if a in axes else 1 for a in range(rank))
        self.input_spec = InputSpec(ndim=rank, axes={a: input_shape[a] for a in given})

    def _broadcast(self, weight):
        if weight is None:
            return None
        return ops.reshape(weight, self._broadcast_shape)

    def call(self, inputs: Tensor) -> Tensor:
        mean = ops.mean(inputs, axis=self._axes, keepdims=True)
        variance = ops.mean(ops.square(inputs - mean), axis=self._axes, keepdims=True)
        gamma = self._broadcast(self.gamma)
        if self.rms_scaling:
            y = inputs * (1.0 / ops.sqrt(variance + self.epsilon))
            return y if gamma is None else y * gamma
        return _normalize(inputs, mean, variance, self.epsilon, gamma, self._broadcast(self.beta))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}
