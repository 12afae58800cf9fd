"""Conv1D with Keras 3's arguments, defaults, weight shapes and padding rules.

x: (B, steps, channels) -> (B, out_steps, filters) for data_format="channels_last" (the default);
kernel (kernel_size, channels, filters), bias (filters,), so weights move to and from Keras as
they are. The convolution is `ops.conv1d`: one matmul over the unfolded windows.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations, initializers
from ..checks import check_choice, check_int
from ..conv_ops import conv_output_length, conv1d
from ..hints import ActivationLike, InitializerLike, Shape
from ..tensor import Tensor
from .base import InputSpec, Layer, is_tracing
from .core import refuse_unimplemented

__all__ = ["Conv1D", "Convolution1D"]

DATA_FORMATS = ("channels_last", "channels_first")


def one_int(layer, name, value):
    """A positive int given as an int or a tuple/list of one int (Keras's standardize_tuple)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{layer} argument `{name}` must be an int or a tuple of 1 int; got "
                             f"{value!r}")
        value = value[0]
    return check_int(value, f"{layer} argument `{name}`", minimum=1)


def data_format_of(layer, value):
    return "channels_last" if value is None else check_choice(
        value, f"{layer} argument `data_format`", DATA_FORMATS)


def padding_of(layer, value, choices):
    """A padding name, case-insensitive as in Keras."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"{layer} argument `padding` must be one of {list(choices)}; got "
                         f"{value!r}")
    return value.lower()


def stretch_traced_steps(inputs, steps_axis, span, stride):
    """While a functional model is traced, steps of unknown length arrive as a dummy batch of 2
    or 3 steps, which a long window does not fit. Stretched to span + (steps - 1) * stride steps,
    a 'valid' window gives `steps` outputs: different for 2 and 3, so the output length is still
    seen to be unknown."""
    steps = inputs.shape[steps_axis]
    if not is_tracing() or steps >= span:
        return inputs
    pad = [(0, 0)] * inputs.ndim
    pad[steps_axis] = (0, span + (steps - 1) * stride - steps)
    return Tensor(np.pad(inputs.data, pad))


class Conv1D(Layer):
    """1-D convolution (a cross-correlation, as in Keras) of `filters` kernels over the steps.

    padding: "valid" (no padding), "same" (ceil(steps / strides) outputs) or "causal" (the output
    at step t sees only steps <= t). strides > 1 together with dilation_rate > 1 is refused, as in
    Keras. Only groups=1 is supported, and no regularizers or constraints (only their default
    None is accepted). **kwargs: the Layer keywords (name, dtype, trainable, input_shape, ...).
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int], strides: int | tuple[int] = 1,
                 padding: str = "valid", data_format: str | None = None,
                 dilation_rate: int | tuple[int] = 1, groups: int = 1,
                 activation: ActivationLike = None, use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 bias_regularizer: None = None, activity_regularizer: None = None,
                 kernel_constraint: None = None, bias_constraint: None = None,
                 **kwargs: Any) -> None:
        refuse_unimplemented(self, "regularizers", kernel_regularizer=kernel_regularizer,
                             bias_regularizer=bias_regularizer,
                             activity_regularizer=activity_regularizer)
        refuse_unimplemented(self, "constraints", kernel_constraint=kernel_constraint,
                             bias_constraint=bias_constraint)
        self.filters = check_int(filters, "Conv1D argument `filters`", minimum=1)
        self.kernel_size = (one_int("Conv1D", "kernel_size", kernel_size),)
        self.strides = (one_int("Conv1D", "strides", strides),)
        self.dilation_rate = (one_int("Conv1D", "dilation_rate", dilation_rate),)
        self.padding = padding_of("Conv1D", padding, ("valid", "same", "causal"))
        self.data_format = data_format_of("Conv1D", data_format)
        if check_int(groups, "Conv1D argument `groups`", minimum=1) != 1:
            raise ValueError(f"Conv1D supports only groups=1 (grouped convolution is not "
                             f"implemented); got groups={groups}")
        self.groups = 1
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(f"Conv1D does not support strides > 1 together with dilation_rate > "
                             f"1 (as Keras); got strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=3, description=self._layout())

    def _layout(self):
        return ("(batch, steps, channels)" if self.data_format == "channels_last"
                else "(batch, channels, steps)")

    def _steps_and_channels(self, shape):
        return (shape[1], shape[2]) if self.data_format == "channels_last" else (shape[2], shape[1])

    def _check_fits(self, shape):
        steps, _ = self._steps_and_channels(shape)
        if steps is None:
            return
        if conv_output_length(steps, self.kernel_size[0], self.strides[0], self.dilation_rate[0],
                              self.padding) < 1:
            span = self.dilation_rate[0] * (self.kernel_size[0] - 1) + 1
            raise ValueError(f"Conv1D '{self.name}' with padding='valid' expects inputs of at "
                             f"least {span} steps (kernel_size={self.kernel_size[0]}, "
                             f"dilation_rate={self.dilation_rate[0]}); got input shape "
                             f"{tuple(shape)} with {steps} steps")

    def build(self, input_shape: Shape) -> None:
        steps, channels = self._steps_and_channels(input_shape)
        if channels is None:
            raise ValueError(f"Conv1D '{self.name}' needs the number of channels; got input shape "
                             f"{tuple(input_shape)}")
        self._check_fits(input_shape)
        self.kernel = self.add_weight(self.kernel_size + (channels, self.filters),
                                      self.kernel_initializer, name="kernel")
        self.bias = (self.add_weight((self.filters,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        channel_axis = -1 if self.data_format == "channels_last" else 1
        self.input_spec = InputSpec(ndim=3, axes={channel_axis: channels},
                                    description=self._layout())

    def call(self, inputs: Tensor) -> Tensor:
        if self.padding == "valid":
            inputs = stretch_traced_steps(inputs, 1 if self.data_format == "channels_last" else 2,
                                          self.dilation_rate[0] * (self.kernel_size[0] - 1) + 1,
                                          self.strides[0])
        self._check_fits(inputs.shape)
        x = inputs if self.data_format == "channels_last" else inputs.transpose((0, 2, 1))
        y = conv1d(x, self.kernel, stride=self.strides[0], dilation=self.dilation_rate[0],
                   padding=self.padding)
        if self.bias is not None:
            y = y + self.bias
        y = self.activation(y)
        return y if self.data_format == "channels_last" else y.transpose((0, 2, 1))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "groups": self.groups, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


Convolution1D = Conv1D  # Keras's longer name for the same class
