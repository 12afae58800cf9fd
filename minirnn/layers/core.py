"""Core layers with Keras 3's names, arguments and semantics: Dense, Embedding, Dropout,
TimeDistributed, the reshaping layers, Masking, Lambda and the merge layers.

Shapes below use B for the batch axis and T for timesteps. Every layer also takes the Layer
keywords (name, dtype, trainable, input_shape, batch_input_shape, input_dim) through **kwargs.
Keras arguments annotated `None` (regularizers, constraints, LoRA) are accepted at that default
only: minirnn does not implement them, and another value raises UnsupportedArgumentError.
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

from .. import activations, initializers, ops
from ..checks import (check_bool, check_float, check_fraction, check_int, check_unimplemented,
                      non_negative_int, positive_int)
from ..hints import ActivationLike, InitializerLike, Seed, Shape
from ..random import generator
from ..tensor import Tensor
from .base import InputSpec, Layer, _Shaped, map_structure

__all__ = ["Dense", "Embedding", "Dropout", "TimeDistributed", "Activation", "Flatten", "Reshape",
           "RepeatVector", "Masking", "Lambda", "Concatenate", "Add", "Multiply", "Average"]


def _arg(layer, name):
    """How a constructor's error names the argument: "Dense argument `units`"."""
    return f"{type(layer).__name__} argument `{name}`"


def _optional_seed(layer, seed):
    return None if seed is None else non_negative_int(seed, _arg(layer, "seed"))


def refuse_unimplemented(layer, feature, **arguments):
    """Keras arguments minirnn does not implement: each must be None (Keras's default), checked
    before the layer changes anything. `feature` says what is missing ("regularizers")."""
    for name, value in arguments.items():
        check_unimplemented(value, _arg(layer, name), None, feature)


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis.

    x: (B, ..., in) -> y: (B, ..., units); kernel (in, units), bias (units,).
    """
    supports_masking = True

    def __init__(self, units: int, activation: ActivationLike = None, use_bias: bool = True,
                 kernel_initializer: InitializerLike = "glorot_uniform",
                 bias_initializer: InitializerLike = "zeros", kernel_regularizer: None = None,
                 bias_regularizer: None = None, activity_regularizer: None = None,
                 kernel_constraint: None = None, bias_constraint: None = None,
                 lora_rank: None = None, lora_alpha: None = None, **kwargs: Any) -> None:
        refuse_unimplemented(self, "regularizers", kernel_regularizer=kernel_regularizer,
                             bias_regularizer=bias_regularizer,
                             activity_regularizer=activity_regularizer)
        refuse_unimplemented(self, "constraints", kernel_constraint=kernel_constraint,
                             bias_constraint=bias_constraint)
        refuse_unimplemented(self, "LoRA", lora_rank=lora_rank, lora_alpha=lora_alpha)
        super().__init__(**kwargs)
        self.units = positive_int(units, _arg(self, "units"))
        self.activation = activations.get(activation)
        self.use_bias = check_bool(use_bias, _arg(self, "use_bias"))
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Shape) -> None:
        if input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}' needs the size of the last axis; got input "
                             f"shape {tuple(input_shape)}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      name="kernel")
        self.bias = (self.add_weight((self.units,), self.bias_initializer, name="bias")
                     if self.use_bias else None)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, inputs: Tensor) -> Tensor:
        y = inputs @ self.kernel
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Embedding(Layer):
    """Row lookup in a trainable table: ids (B, ...) -> vectors (B, ..., output_dim).

    ids are integers in [0, input_dim); with mask_zero, id 0 is padding and the output carries the
    mask `ids != 0`. weights: the initial table (input_dim, output_dim), or a list holding it, as
    Keras takes pretrained vectors (the layer is then built at once). input_length: accepted and
    ignored, as Keras 2 scripts pass it.
    """
    autocast = False  # ids must stay integers: a float cast would turn the lookup into nonsense

    def __init__(self, input_dim: int, output_dim: int,
                 embeddings_initializer: InitializerLike = "uniform",
                 embeddings_regularizer: None = None, embeddings_constraint: None = None,
                 mask_zero: bool = False, weights: ArrayLike | None = None,
                 lora_rank: None = None, lora_alpha: None = None,
                 activity_regularizer: None = None, input_length: int | None = None,
                 **kwargs: Any) -> None:
        refuse_unimplemented(self, "regularizers", embeddings_regularizer=embeddings_regularizer,
                             activity_regularizer=activity_regularizer)
        refuse_unimplemented(self, "constraints", embeddings_constraint=embeddings_constraint)
        refuse_unimplemented(self, "LoRA", lora_rank=lora_rank, lora_alpha=lora_alpha)
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, _arg(self, "input_dim"))
        self.output_dim = positive_int(output_dim, _arg(self, "output_dim"))
        # Keras's alias "uniform" is RandomUniform(-0.05, 0.05)
        self.embeddings_initializer = initializers.get(
            initializers.RandomUniform() if embeddings_initializer == "uniform"
            else embeddings_initializer)
        self.mask_zero = check_bool(mask_zero, _arg(self, "mask_zero"))
        self.supports_masking = self.mask_zero
        if weights is not None:
            self.build()
            # as Keras: a list of one array is the table itself, anything else is wrapped
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape: Shape | None = None) -> None:
        self.embeddings = self.add_weight((self.input_dim, self.output_dim),
                                          self.embeddings_initializer, name="embeddings")

    def _ids(self, inputs):
        ids = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
        if ids.dtype.kind not in "iub":
            if ids.dtype.kind != "f":
                raise TypeError(f"Embedding '{self.name}' expects integer ids; got dtype "
                                f"{ids.dtype}")
            ids = ids.astype(np.int64)  # truncates toward zero, as Keras's cast to int32 does
        return ids

    def call(self, inputs: Tensor | ArrayLike) -> Tensor:
        ids = self._ids(inputs)
        bad = (ids < 0) | (ids >= self.input_dim)
        if bad.any():
            raise ValueError(f"Embedding '{self.name}' expects ids in the range [0, "
                             f"{self.input_dim - 1}] (input_dim={self.input_dim}); got "
                             f"{ids[bad].ravel()[0]} (the ids range from {ids.min()} to "
                             f"{ids.max()})")
        # getitem's VJP adds with np.add.at, so a repeated id accumulates every gradient it gets
        return ops.getitem(self.embeddings, ids)

    def compute_mask(self, inputs: Tensor | ArrayLike,
                     mask: ArrayLike | None = None) -> np.ndarray | None:
        return self._ids(inputs) != 0 if self.mask_zero else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero}


class Dropout(Layer):
    """While training, zeroes each element with probability `rate` and scales the rest by
    1 / (1 - rate), so the expected output is the input; otherwise the identity. Shape kept.

    noise_shape: the shape of the keep mask, broadcast against the input (None entries take the
    input's size), e.g. (B, 1, F) drops the same features at every timestep.
    """
    supports_masking = True

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: Seed = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_fraction(rate, _arg(self, "rate"), max_inclusive=True)  # Keras: [0, 1]
        if noise_shape is not None:
            if not isinstance(noise_shape, (list, tuple)):
                raise TypeError(f"{_arg(self, 'noise_shape')} must be None or a tuple of sizes "
                                f"(None for the input's); got {noise_shape!r} of type "
                                f"{type(noise_shape).__name__}")
            entry = _arg(self, "noise_shape") + " entries"
            noise_shape = tuple(None if d is None else positive_int(d, entry) for d in noise_shape)
        self.noise_shape = noise_shape
        self.seed = _optional_seed(self, seed)
        # one generator per seeded layer: reproducible, yet a new mask on every call, as Keras's
        # SeedGenerator gives; unseeded layers draw from the shared one at call time
        self._rng = generator(seed) if seed is not None else None

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != inputs.ndim:
                raise ValueError(f"Dropout '{self.name}' has noise_shape {self.noise_shape} of "
                                 f"rank {len(self.noise_shape)}; expected rank {inputs.ndim} for an "
                                 f"input of shape {inputs.shape}")
            shape = tuple(s if n is None else n for s, n in zip(inputs.shape, self.noise_shape))
        keep = (self._rng or generator()).random(shape) >= self.rate
        scale = 0.0 if self.rate == 1 else 1.0 / (1.0 - self.rate)
        return inputs * (keep * scale).astype(inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class TimeDistributed(Layer):
    """Applies `layer` to every timestep: (B, T, ...) -> (B, T, ...layer's output).

    The timesteps are folded into the batch, (B * T, ...), so `layer` runs once; its weights are
    this layer's weights. The input mask (B, T) is passed through.
    """
    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed expects a Layer instance; got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3, description="(batch, timesteps, ...)")

    def build(self, input_shape: Shape) -> None:
        if not self.layer.built:
            self.layer._maybe_build(_Shaped((None,) + tuple(input_shape[2:])))

    def call(self, inputs: Tensor, training: bool | None = None,
             mask: ArrayLike | None = None) -> Tensor | list[Tensor] | tuple[Tensor, ...]:
        B, T = inputs.shape[:2]
        kwargs = {"training": training}
        if mask is not None and "mask" in self.layer._call_takes:
            mask = np.asarray(mask)
            kwargs["mask"] = mask.reshape((B * T,) + mask.shape[2:])
        outputs = self.layer(inputs.reshape((B * T,) + inputs.shape[2:]), **kwargs)
        return map_structure(lambda y: y.reshape((B, T) + y.shape[1:]), outputs)

    def get_config(self) -> dict[str, Any]:
        from ..saving import serialization  # late: saving sits above layers
        return {**super().get_config(), "layer": serialization.serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    custom_objects: dict[str, Any] | None = None) -> Self:
        from ..saving import registry, serialization  # late: saving sits above layers
        config = dict(config)
        with registry.loading_scope(custom_objects):
            return cls(serialization.deserialize_layer(config.pop("layer")), **config)


class Activation(Layer):
    """activation(x), elementwise (softmax on the last axis). Shape kept."""
    supports_masking = True

    def __init__(self, activation: ActivationLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Flatten(Layer):
    """(B, d1, d2, ...) -> (B, d1 * d2 * ...); (B,) -> (B, 1)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        if self.data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Flatten expects data_format 'channels_last' or 'channels_first'; "
                             f"got {data_format!r}")
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Tensor) -> Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # order as channels_last would, so a following Dense sees the same feature order
            inputs = inputs.transpose((0, *range(2, inputs.ndim), 1))
        return inputs.reshape(inputs.shape[0], math.prod(inputs.shape[1:]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """(B, ...) -> (B, *target_shape); one entry of target_shape may be -1 (inferred)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_shape, (list, tuple)):
            raise TypeError(f"{_arg(self, 'target_shape')} must be a tuple of ints; got "
                            f"{target_shape!r} of type {type(target_shape).__name__}")
        target_shape = tuple(check_int(d, _arg(self, "target_shape") + " entries")
                             for d in target_shape)
        if any(d == 0 or d < -1 for d in target_shape) or target_shape.count(-1) > 1:
            raise ValueError(f"{_arg(self, 'target_shape')} must hold positive sizes and at most "
                             f"one -1; got {target_shape}")
        self.target_shape = target_shape
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Tensor) -> Tensor:
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (size % known if -1 in self.target_shape else size != known):
            raise ValueError(f"Reshape '{self.name}' cannot reshape an input of shape "
                             f"{inputs.shape} ({size} elements per sample) into target_shape "
                             f"{self.target_shape}")
        # -1 resolved here: reshape cannot infer it from an empty batch (0 elements)
        target = tuple(size // known if d == -1 else d for d in self.target_shape)
        return inputs.reshape((inputs.shape[0],) + target)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": self.target_shape}


class RepeatVector(Layer):
    """(B, F) -> (B, n, F): the same vector at n timesteps."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = positive_int(n, _arg(self, "n"))
        self.input_spec = InputSpec(ndim=2, description="(batch, features)")

    def call(self, inputs: Tensor) -> Tensor:
        # broadcasting makes the copies; its VJP sums their gradients back
        return ops.expand_dims(inputs, 1) + np.zeros((1, self.n, 1), dtype=inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Masking(Layer):
    """Marks timesteps whose features all equal mask_value as padding. (B, T, F) -> (B, T, F)
    with masked steps set to 0, and the mask (B, T) = any(x != mask_value, axis=-1)."""
    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = check_float(mask_value, _arg(self, "mask_value"))

    def compute_mask(self, inputs: Tensor, mask: ArrayLike | None = None) -> np.ndarray:
        return np.any(inputs.data != self.mask_value, axis=-1)

    def call(self, inputs: Tensor) -> Tensor:
        return ops.where(self.compute_mask(inputs)[..., None], inputs, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


def _function_reference(layer, what, fn):
    from ..saving import serialization  # late: saving sits above layers
    return serialization.function_reference(fn, f"Lambda '{layer.name}' {what}")


def _resolve_function(layer, what, reference):
    """A function given by name (from a config): resolved only as loading's safe_mode allows."""
    if not isinstance(reference, str):
        return reference
    from ..saving import serialization  # late: saving sits above layers
    return serialization.resolve_function(reference, f"Lambda '{layer.name}' {what}")


class Lambda(Layer):
    """Wraps `function(inputs, **arguments)` (built from minirnn ops) as a layer.

    mask: None (the output has no mask), or a function (inputs, mask) -> mask. A config can hold
    only module-level functions, by name; lambdas raise a clear error in get_config. Loading a
    config resolves such a name only as minirnn.saving's safe_mode allows (see load_model).
    """

    def __init__(self, function: Callable[..., Any] | str,
                 output_shape: Shape | Callable[..., Any] | str | None = None,
                 mask: Callable[..., Any] | str | None = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = _resolve_function(self, "function", function)
        if isinstance(output_shape, list):
            output_shape = tuple(output_shape)
        self.output_shape = _resolve_function(self, "output_shape", output_shape)  # for get_config
        self.mask = _resolve_function(self, "mask", mask)
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        try:
            self._fn_takes = set(inspect.signature(self.function).parameters)
        except (TypeError, ValueError):  # some builtins have no signature: pass them nothing extra
            self._fn_takes = set()

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        extra = {k: v for k, v in (("mask", mask), ("training", training)) if k in self._fn_takes}
        return self.function(inputs, **self.arguments, **extra)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(),
                  "function": _function_reference(self, "function", self.function),
                  "arguments": self.arguments}
        if self.output_shape is not None:
            config["output_shape"] = (_function_reference(self, "output_shape", self.output_shape)
                                      if callable(self.output_shape) else self.output_shape)
        if self.mask is not None:
            config["mask"] = _function_reference(self, "mask", self.mask)
        return config


# -- merge layers --------------------------------------------------------------------------------

class _Merge(Layer):
    """Elementwise merge of a list of tensors of one shape (sizes of 1 broadcast, and an input of
    lower rank gets axes inserted after the batch axis, as in Keras). Output mask: the logical or
    of the input masks, or none if any input has none (Keras 3)."""
    supports_masking = True

    def _inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects a non-empty list of "
                             f"tensors; got {type(inputs).__name__}")
        return list(inputs)

    def call(self, inputs: Sequence[Tensor], mask: Sequence[ArrayLike | None] | None = None
             ) -> Tensor:
        inputs = self._inputs(inputs)
        shapes = [tuple(x.shape) for x in inputs]
        rank = max(len(s) for s in shapes)
        aligned = [s[:1] + (1,) * (rank - len(s)) + s[1:] for s in shapes]
        sizes = [{s[i] for s in aligned} - {1} for i in range(1, rank)]
        if len({s[0] for s in shapes}) > 1 or any(len(s) > 1 for s in sizes):
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of one shape "
                             f"(sizes of 1 broadcast); got shapes {shapes}")
        xs = [x.reshape(a) if a != s else x for x, s, a in zip(inputs, shapes, aligned)]
        return self._merge(xs, mask if isinstance(mask, (list, tuple)) else [None] * len(xs))

    def compute_mask(self, inputs: Sequence[Tensor],
                     mask: Sequence[ArrayLike | None] | None = None) -> np.ndarray | None:
        masks = mask if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        if any(m is None for m in masks):
            return None
        return np.logical_or.reduce([np.asarray(m, dtype=bool) for m in masks])


class Add(_Merge):
    """x1 + x2 + ..."""

    def _merge(self, xs, masks):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Average(Add):
    """(x1 + x2 + ...) / n"""

    def _merge(self, xs, masks):
        return super()._merge(xs, masks) / float(len(xs))


class Multiply(_Merge):
    """x1 * x2 * ...; as in Keras 3, masked steps of an input count as 1, and where every input
    has a mask, steps masked in all of them give 0."""

    def _merge(self, xs, masks):
        y, all_masked = None, all(m is not None for m in masks)
        union = None
        for x, m in zip(xs, masks):
            if m is not None:
                m = np.broadcast_to(np.asarray(m, dtype=bool)[..., None], x.shape)
                x = ops.where(m, x, 1.0)
                union = m if union is None else union | m
            y = x if y is None else y * x
        return ops.where(union, y, 0.0) if all_masked else y


class Concatenate(_Merge):
    """Joins tensors along `axis`; the other axes must agree.

    Mask (Keras 3): inputs without a mask count as unmasked everywhere; the masks are joined like
    the inputs and reduced with `any` over the last axis.
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = check_int(axis, _arg(self, "axis"))

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        inputs = self._inputs(inputs)
        shapes = [tuple(x.shape) for x in inputs]
        rank = len(shapes[0])
        if not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate '{self.name}' has axis {self.axis}, out of range for "
                             f"inputs of rank {rank}; got shapes {shapes}")
        axis = self.axis % rank
        if any(len(s) != rank or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]
               for s in shapes):
            raise ValueError(f"Concatenate '{self.name}' expects inputs whose shapes agree except "
                             f"on axis {self.axis}; got shapes {shapes}")
        return ops.concat(inputs, axis=self.axis)

    def compute_mask(self, inputs: Sequence[Tensor],
                     mask: Sequence[ArrayLike | None] | None = None) -> np.ndarray | None:
        masks = mask if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            if m is None:
                m = np.ones(x.shape, dtype=bool)
            elif np.ndim(m) < x.ndim:
                m = np.broadcast_to(np.expand_dims(np.asarray(m, dtype=bool), -1), x.shape)
            full.append(m)
        return np.any(np.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
