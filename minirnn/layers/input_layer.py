"""InputLayer and Input: where a functional model's data comes in, as a SymbolicTensor of a
known shape and dtype."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..checks import check_unimplemented
from ..hints import DTypeLike, Shape
from .base import Layer, SymbolicTensor, _CallRecord, _symbolic_dtype, is_string_dtype

__all__ = ["InputLayer", "Input"]


def Input(shape: Shape | int | None = None, batch_size: int | None = None,
          dtype: DTypeLike | None = None, sparse: bool | None = None,
          ragged: bool | None = None, batch_shape: Shape | None = None, name: str | None = None,
          tensor: None = None, optional: bool = False) -> SymbolicTensor:
    """The entry point of a functional model: the SymbolicTensor of a new InputLayer, of shape
    (batch_size,) + shape (or `batch_shape`). dtype "string" makes a text input. `sparse`,
    `ragged` and `optional` may only be false (minirnn tensors are dense NumPy arrays), and
    `tensor` (a backend tensor to wrap) only None."""
    check_unimplemented(tensor, "Input argument `tensor`")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, optional=optional)
    return layer.output


class InputLayer(Layer):
    """The layer behind `Input(...)`: holds the model's entry tensor (`output`), has no weights and
    is never called. Listed in a functional model's `layers`, as in Keras."""

    def __init__(self, shape: Shape | int | None = None, batch_size: int | None = None,
                 dtype: DTypeLike | None = None, sparse: bool | None = None,
                 ragged: bool | None = None, batch_shape: Shape | None = None,
                 input_tensor: None = None, optional: bool = False, name: str | None = None,
                 **kwargs: Any) -> None:
        check_unimplemented(input_tensor, "InputLayer argument `input_tensor`")
        if "input_shape" in kwargs and shape is None:  # Keras's older names
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs and batch_shape is None:
            batch_shape = kwargs.pop("batch_input_shape")
        if shape is not None and batch_shape is not None:
            raise ValueError(f"InputLayer takes `shape` or `batch_shape`, not both; got "
                             f"shape={shape!r} and batch_shape={batch_shape!r}")
        if batch_size is not None and batch_shape is not None:
            raise ValueError(f"InputLayer takes `batch_size` or `batch_shape`, not both; got "
                             f"batch_size={batch_size!r} and batch_shape={batch_shape!r}")
        if shape is None and batch_shape is None:
            raise ValueError("Input needs `shape` (without the batch axis) or `batch_shape`")
        for flag, value in (("sparse", sparse), ("ragged", ragged), ("optional", optional)):
            if value:
                raise ValueError(f"InputLayer: {flag}=True is not supported (minirnn tensors are "
                                 f"dense NumPy arrays); got {flag}={value!r}")
        if batch_shape is None:
            batch_size = _shape_dims((batch_size,), "InputLayer `batch_size`")
            batch_shape = batch_size + _shape_dims(shape, "Input `shape`")
        else:
            batch_shape = _shape_dims(batch_shape, "Input `batch_shape`")
        text = dtype is not None and is_string_dtype(_symbolic_dtype(dtype))
        super().__init__(name=name, dtype=None if text else dtype, **kwargs)
        if text:
            self.dtype = "string"  # Keras's name for a text input's dtype
        self.batch_shape = batch_shape
        self.sparse = self.ragged = self.optional = False
        self.built = True
        tensor = SymbolicTensor(batch_shape, self.dtype, name=self.name)
        tensor.input_layer = self
        self._inbound_records.append(_CallRecord(self, (), {}, tensor))

    def __call__(self, *args, **kwargs):
        raise TypeError(f"InputLayer '{self.name}' is not called on data: use its tensor "
                        f"(what Input() returns, or `.output`) to build a model")

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}


def _shape_dims(shape, what):
    """A shape as a tuple of ints >= 0 and Nones; an int stands for a shape of one axis."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{what} must be a tuple of ints (or None for unknown sizes); got "
                        f"{shape!r} of type {type(shape).__name__}") from None
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 0):
            raise ValueError(f"{what} must hold ints >= 0 or None; got {shape!r}")
    return tuple(None if d is None else int(d) for d in dims)
