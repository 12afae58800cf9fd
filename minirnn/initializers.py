"""Weight initializers with Keras's names and formulas, drawing from seeded NumPy Generators."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .checks import check_int
from .config_values import array_from_config, encode_value, is_array_config
from .hints import InitializerLike, Seed
from .random import generator
from .tensor import floatx

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "Orthogonal",
           "Identity", "get"]


def _fans(shape, input_axes=None, output_axes=None):
    """Keras's fan_in/fan_out: kernels (in, out); conv-like shapes multiply the receptive field.
    Given input_axes and output_axes, the products of the sizes on those axes."""
    if input_axes is not None and output_axes is not None:
        for axis in (*input_axes, *output_axes):
            if not -len(shape) <= axis < len(shape):
                raise ValueError(f"initializer axes input_axes={list(input_axes)}, output_axes="
                                 f"{list(output_axes)}: axis {axis} is out of range for a weight "
                                 f"of shape {shape}")
        return (math.prod(shape[a] for a in input_axes),
                math.prod(shape[a] for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Callable (shape, dtype=None) -> ndarray. An explicit seed makes each call reproducible."""

    def __init__(self, seed: Seed = None) -> None:
        self.seed = seed

    def __call__(self, shape: Sequence[int], dtype: DTypeLike | None = None) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        return np.asarray(self.sample(shape, generator(self.seed)), dtype=dtype or floatx())

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> ArrayLike:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class Zeros(Initializer):
    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)

    def get_config(self) -> dict[str, Any]:
        return {}


class Ones(Zeros):
    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    """Fills a weight with `value`: a number, or an array that broadcasts to the weight's shape.
    An array is saved in its config as Keras saves one ({"class_name": "__numpy__", ...})."""

    def __init__(self, value: ArrayLike = 0.0) -> None:
        super().__init__()
        if is_array_config(value):
            value = array_from_config(value, "Constant initializer `value`")
        array = np.asarray(value) if not isinstance(value, (str, bytes, dict)) else None
        if array is None or array.dtype.kind not in "biuf":
            raise TypeError(f"Constant initializer `value` must be a number or an array of "
                            f"numbers; got {value!r:.80} of type {type(value).__name__}")
        self.value = value

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        value = np.asarray(self.value)
        try:
            return np.broadcast_to(value, shape).copy()
        except ValueError:
            raise ValueError(f"Constant initializer: its value of shape {value.shape} cannot fill "
                             f"a weight of shape {shape}") from None

    def get_config(self) -> dict[str, Any]:
        return {"value": encode_value(self.value)}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Seed = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Seed = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _axes(value, name):
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"initializer argument `{name}` must be None or a list of ints; got "
                        f"{value!r} of type {type(value).__name__}")
    return [check_int(a, f"initializer argument `{name}` entries") for a in value]


class _VarianceScaling(Initializer):
    """input_axes, output_axes (Keras 3): the axes whose sizes multiply into fan_in and fan_out,
    in place of the kernel rule of `_fans`; both or neither."""
    scale, mode, uniform = 1.0, "fan_avg", True

    def __init__(self, seed: Seed = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:
        input_axes, output_axes = _axes(input_axes, "input_axes"), _axes(output_axes, "output_axes")
        if (input_axes is None) != (output_axes is None):
            raise ValueError(f"{type(self).__name__} takes input_axes and output_axes together "
                             f"(Keras ignores one without the other); got input_axes="
                             f"{input_axes!r}, output_axes={output_axes!r}")
        super().__init__(seed)
        self.input_axes, self.output_axes = input_axes, output_axes

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.uniform:
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        # Keras draws from a normal truncated at two standard deviations, then rescales
        stddev = math.sqrt(variance) / 0.87962566103423978
        draw = rng.standard_normal(shape)
        while (bad := np.abs(draw) > 2.0).any():
            draw[bad] = rng.standard_normal(int(bad.sum()))
        return draw * stddev

    def get_config(self) -> dict[str, Any]:
        # the axes only when set, so configs of the default fans stay as they were
        config = super().get_config()
        if self.input_axes is not None:
            config.update(input_axes=self.input_axes, output_axes=self.output_axes)
        return config


class GlorotUniform(_VarianceScaling):
    pass


class GlorotNormal(_VarianceScaling):
    uniform = False


class HeUniform(_VarianceScaling):
    scale, mode = 2.0, "fan_in"


class HeNormal(_VarianceScaling):
    scale, mode, uniform = 2.0, "fan_in", False


class LecunUniform(_VarianceScaling):
    mode = "fan_in"


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, as Keras does."""

    def __init__(self, gain: float = 1.0, seed: Seed = None) -> None:
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2; got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = gain

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape; got {shape}")
        return self.gain * np.eye(*shape)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "identity": Identity,
    # Keras's short aliases (its docs' RNN cell examples use "uniform")
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier: InitializerLike) -> Initializer | Callable[..., Any]:
    """An Initializer from a name ('glorot_uniform', 'GlorotUniform'), a config dict, an
    Initializer or any callable (shape, dtype) -> array."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier.get("class_name")) or _BY_NAME.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier.get('class_name')!r}; known: "
                             f"{sorted(_BY_NAME)}")
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _BY_CLASS.get(identifier)
        if cls is not None:
            return cls()
    raise ValueError(f"Unknown initializer {identifier!r}; known: {sorted(_BY_NAME)}")


def serialize(initializer: Initializer) -> dict[str, Any]:
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


# Keras's lower-case names for the same classes (keras.initializers.glorot_uniform, ...)
(zeros, ones, constant, random_normal, random_uniform, glorot_uniform, glorot_normal, he_uniform,
 he_normal, lecun_uniform, orthogonal, identity) = (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, GlorotUniform, GlorotNormal, HeUniform,
    HeNormal, LecunUniform, Orthogonal, Identity)
