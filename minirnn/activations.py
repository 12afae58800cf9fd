"""Activation functions by Keras's names, built from minirnn ops."""
from __future__ import annotations

from collections.abc import Callable

from . import ops
from .hints import ActivationLike
from .tensor import Tensor

__all__ = ["get", "linear", "hard_sigmoid", "softsign", "elu", "serialize", "tanh", "sigmoid",
           "relu", "softmax", "log_softmax", "softplus", "exponential"]


def linear(x: Tensor) -> Tensor:
    return x


def hard_sigmoid(x: Tensor) -> Tensor:
    """Keras 3: relu6(x + 3) / 6."""
    return ops.clip(x + 3.0, 0.0, 6.0) / 6.0


def softsign(x: Tensor) -> Tensor:
    return x / (ops.abs(x) + 1.0)


def elu(x: Tensor) -> Tensor:
    return ops.where(x.data > 0, x, ops.exp(ops.minimum(x, 0.0)) - 1.0)


# the activations that are minirnn primitives, under keras.activations's names
tanh, sigmoid, relu, softmax, log_softmax, softplus, exponential = (
    ops.tanh, ops.sigmoid, ops.relu, ops.softmax, ops.log_softmax, ops.softplus, ops.exp)

_BY_NAME = {
    "linear": linear, "tanh": ops.tanh, "sigmoid": ops.sigmoid, "relu": ops.relu,
    "softmax": ops.softmax, "log_softmax": ops.log_softmax, "softplus": ops.softplus,
    "hard_sigmoid": hard_sigmoid, "softsign": softsign, "elu": elu, "exponential": ops.exp,
}


# applied to a whole (batch, k*units) block, these give each column what they give it alone, and
# a zero gradient where a column is unused (elementwise, with a finite derivative everywhere):
# the unrolled recurrent cells apply a gate activation to several gates in one call
BLOCKWISE = frozenset({linear, ops.tanh, ops.sigmoid, ops.relu, ops.softplus, hard_sigmoid,
                       softsign, elu})


def get(identifier: ActivationLike) -> Callable[[Tensor], Tensor]:
    """A function Tensor -> Tensor from a name, None (linear) or a callable."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Unknown activation {identifier!r}; known: {sorted(_BY_NAME)}")


def serialize(fn: Callable[[Tensor], Tensor]) -> str:
    for name, known in _BY_NAME.items():
        if known is fn:
            return name
    raise ValueError(f"activation {fn!r} is not a built-in one and cannot be saved by name")
