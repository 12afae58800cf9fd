"""The type aliases of minirnn's public signatures.

Modules that use them write `from __future__ import annotations`, so `help()` shows an argument
as `kernel_initializer: 'InitializerLike'` (the alias's name, documented here) rather than the
whole union; `typing.get_type_hints` resolves the names to the unions below.

An argument annotated `None` (or `Literal[False]`) is a Keras argument minirnn does not
implement: only that default is accepted, and another value raises
`minirnn.checks.UnsupportedArgumentError`, which names the argument.
"""
from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike, DTypeLike  # what numpy.asarray and numpy.dtype take

from .tensor import Tensor

__all__ = ["ArrayLike", "TensorLike", "Shape", "DTypeLike", "ActivationLike", "InitializerLike",
           "Seed"]

# A Tensor, or anything a layer, loss or metric turns into one.
TensorLike = Tensor | ArrayLike
# A shape with None for an unknown size (the batch axis, or timesteps).
Shape = tuple[int | None, ...]
# A name ("relu", "tanh", ...), a function Tensor -> Tensor, or None for the identity.
ActivationLike = str | Callable[[Tensor], Tensor] | None
# A name ("glorot_uniform"), a config {"class_name": ..., "config": ...}, an Initializer or any
# function (shape, dtype=None) -> array.
InitializerLike = str | dict[str, Any] | Callable[..., Any]
# An integer seed for a reproducible draw, or None for the shared generator.
Seed = int | None
