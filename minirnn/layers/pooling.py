"""1-D pooling layers with Keras 3's names, arguments and mask rules.

MaxPooling1D and AveragePooling1D slide a window of `pool_size` steps every `strides` steps
(default: pool_size) and drop any incoming mask, as Keras's pooling layers do. The global layers
reduce over all steps: GlobalAveragePooling1D averages over the unmasked steps only;
GlobalMaxPooling1D takes no mask (as in Keras, padded steps enter the max).
Each also takes the Layer keywords (name, dtype, trainable, input_shape, ...) through **kwargs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import ops
from ..checks import check_bool
from ..conv_ops import avg_pool1d, conv_output_length, max_pool1d
from ..hints import Shape
from ..tensor import Tensor
from .base import InputSpec, Layer
from .conv import data_format_of, one_int, padding_of, stretch_traced_steps

__all__ = ["MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "MaxPool1D", "AvgPool1D", "GlobalAvgPool1D", "GlobalMaxPool1D"]


class _Pooling1D(Layer):
    pool = None  # the primitive, set by each subclass

    def __init__(self, pool_size: int | tuple[int], strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        layer = type(self).__name__
        self.pool_size = (one_int(layer, "pool_size", pool_size),)
        self.strides = self.pool_size if strides is None else (one_int(layer, "strides", strides),)
        self.padding = padding_of(layer, padding, ("valid", "same"))
        self.data_format = data_format_of(layer, data_format)
        super().__init__(name=name, **kwargs)
        self.input_spec = InputSpec(ndim=3, description=(
            "(batch, steps, channels)" if self.data_format == "channels_last"
            else "(batch, channels, steps)"))

    def _check_fits(self, shape):
        steps = shape[1] if self.data_format == "channels_last" else shape[2]
        if steps is not None and conv_output_length(steps, self.pool_size[0], self.strides[0],
                                                    1, self.padding) < 1:
            raise ValueError(f"{type(self).__name__} '{self.name}' with padding='valid' expects "
                             f"inputs of at least pool_size={self.pool_size[0]} steps; got input "
                             f"shape {tuple(shape)} with {steps} steps")

    def build(self, input_shape: Shape) -> None:
        self._check_fits(input_shape)

    def call(self, inputs: Tensor) -> Tensor:
        if self.padding == "valid":
            inputs = stretch_traced_steps(inputs, 1 if self.data_format == "channels_last" else 2,
                                          self.pool_size[0], self.strides[0])
        self._check_fits(inputs.shape)
        channels_first = self.data_format == "channels_first"
        x = inputs.transpose((0, 2, 1)) if channels_first else inputs
        y = type(self).pool(x, self.pool_size[0], self.strides[0], self.padding)
        return y.transpose((0, 2, 1)) if channels_first else y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """The maximum of each window, per channel. Ties send the gradient to the window's first
    largest step, as TensorFlow's MaxPool does."""
    pool = staticmethod(max_pool1d)

    def __init__(self, pool_size: int | tuple[int] = 2, strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling1D):
    """The mean of each window, per channel; with padding="same" the padded steps are left out of
    the count, as in Keras (TensorFlow's AvgPool). pool_size is required, as in Keras."""
    pool = staticmethod(avg_pool1d)

    def __init__(self, pool_size: int | tuple[int], strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        layer = type(self).__name__
        self.data_format = data_format_of(layer, data_format)
        self.keepdims = check_bool(keepdims, f"{layer} argument `keepdims`")
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=3, description=(
            "(batch, steps, features)" if self.data_format == "channels_last"
            else "(batch, features, steps)"))

    @property
    def _steps_axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over the steps: (B, T, F) -> (B, F) (or (B, 1, F) with keepdims).

    With a mask (B, T), the mean over the unmasked steps only, as Keras; a sample with every step
    masked gives 0 / 0 = nan there, as in Keras. The output carries no mask.
    """
    supports_masking = True

    def call(self, inputs: Tensor, mask: ArrayLike | None = None) -> Tensor:
        axis = self._steps_axis
        if mask is None:
            return ops.mean(inputs, axis=axis, keepdims=self.keepdims)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (inputs.shape[0], inputs.shape[axis]):
            raise ValueError(f"GlobalAveragePooling1D '{self.name}' expects a mask of shape "
                             f"(batch, steps) = {(inputs.shape[0], inputs.shape[axis])}; got "
                             f"{mask.shape}")
        keep = np.expand_dims(mask, 2 if axis == 1 else 1)
        total = ops.sum(ops.where(keep, inputs, 0.0), axis=axis, keepdims=self.keepdims)
        with np.errstate(invalid="ignore", divide="ignore"):
            count = keep.astype(inputs.dtype).sum(axis=axis, keepdims=self.keepdims)
            return total / count

    def compute_mask(self, inputs: Tensor, mask: ArrayLike | None = None) -> None:
        return None


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over the steps: (B, T, F) -> (B, F) (or (B, 1, F) with keepdims). No mask is
    taken: as in Keras, steps padded after Embedding(mask_zero=True) enter the max. Ties share
    the gradient equally, as TensorFlow's reduce_max does."""

    def call(self, inputs: Tensor) -> Tensor:
        return ops.max(inputs, axis=self._steps_axis, keepdims=self.keepdims)


# Keras's shorter names for the same classes
MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
