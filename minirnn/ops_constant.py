"""Keras's operations whose results carry no gradient: making tensors (zeros, arange, one_hot,
convert_to_tensor), comparisons and logic (boolean results), and index-valued results (argmax).

Reached as `minirnn.ops.<name>` (see the end of ops.py). Each returns a plain Tensor (or, for
shape and convert_to_numpy, Python/NumPy values), with keras.ops's names, arguments and defaults.
"""

import numpy as np

from . import ops
from .checks import check_shape
from .tensor import Tensor, deferrable, floatx

__all__ = [
    "zeros", "ones", "zeros_like", "ones_like", "full", "full_like", "arange", "one_hot",
    "shape", "convert_to_tensor", "convert_to_numpy", "is_tensor", "argmax", "argmin",
    "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "logical_and", "logical_or", "logical_not", "all", "any",
]


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _dtype(name, dtype, default):
    if dtype is None:
        return np.dtype(default)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype must name a NumPy dtype such as 'float32' or 'int32'; "
                        f"got {dtype!r}") from None


# -- making tensors ------------------------------------------------------------------------------

def zeros(shape, dtype=None):
    return Tensor(np.zeros(check_shape(shape, "zeros"), _dtype("zeros", dtype, floatx())))


def ones(shape, dtype=None):
    return Tensor(np.ones(check_shape(shape, "ones"), _dtype("ones", dtype, floatx())))


def full(shape, fill_value, dtype=None):
    return Tensor(np.full(check_shape(shape, "full"), _data(fill_value),
                          _dtype("full", dtype, floatx())))


@deferrable
def zeros_like(x, dtype=None):
    x = _data(x)
    return Tensor(np.zeros(x.shape, _dtype("zeros_like", dtype, x.dtype)))


@deferrable
def ones_like(x, dtype=None):
    x = _data(x)
    return Tensor(np.ones(x.shape, _dtype("ones_like", dtype, x.dtype)))


@deferrable
def full_like(x, fill_value, dtype=None):
    x = _data(x)
    return Tensor(np.full(x.shape, _data(fill_value), _dtype("full_like", dtype, x.dtype)))


def _keras_dtype(value):
    """The dtype Keras gives a value: Python floats floatx, Python ints int32, arrays their own."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return _data(value).dtype
    if isinstance(value, bool):
        return np.dtype(bool)
    return np.dtype("int32") if isinstance(value, int) else np.dtype(floatx())


def arange(start, stop=None, step=None, dtype=None):
    """np.arange; without dtype, int32 for ints and floatx for floats, as Keras."""
    values = [v for v in (start, stop, step) if v is not None]
    if dtype is None:
        dtype = np.result_type(*[_keras_dtype(v) for v in values])
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(_data(start), _data(stop), 1 if step is None else _data(step),
                            dtype=_dtype("arange", dtype, None)))


@deferrable
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """A new axis (at `axis`) of length num_classes, 1 at each index of x and 0 elsewhere; an
    index outside [0, num_classes) gives all zeros, as Keras's."""
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported; minirnn's tensors are dense")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int; got {num_classes!r}")
    indices = _data(x)
    if indices.dtype.kind not in "iu" and not (indices.dtype.kind == "f" and
                                               np.all(indices == np.round(indices))):
        raise TypeError(f"one_hot: x must hold integer class indices; got dtype {indices.dtype}")
    rank = indices.ndim + 1
    if not -rank <= axis < rank:
        raise ValueError(f"one_hot: axis {axis} is out of range for a result of rank {rank}")
    out = indices.astype(np.int64)[..., None] == np.arange(num_classes)
    return Tensor(np.moveaxis(out, -1, axis).astype(_dtype("one_hot", dtype, floatx())))


@deferrable
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """x as a Tensor (a Tensor of the requested dtype is returned as is; another is cast, with
    its gradient). Python ints become int32 and Python floats floatx, as in Keras."""
    if sparse or ragged:
        raise ValueError(f"convert_to_tensor: {'sparse' if sparse else 'ragged'}=True is not "
                         f"supported; minirnn's tensors are dense")
    if isinstance(x, Tensor):
        if dtype is None or np.dtype(dtype) == x.dtype:
            return x
        return ops.cast(x, dtype)
    if dtype is not None:
        return Tensor(np.asarray(x, dtype=_dtype("convert_to_tensor", dtype, None)))
    result = Tensor(x)
    if not isinstance(x, (np.ndarray, np.generic)) and result.dtype == np.int64 and (
            result.size == 0 or np.abs(result.data).max() < 2 ** 31):
        result = Tensor(result.data.astype(np.int32))
    return result


def convert_to_numpy(x):
    """A NumPy copy of x's values."""
    return np.array(_data(x))


def is_tensor(x):
    return isinstance(x, Tensor)


def shape(x):
    """x's shape as a tuple of ints."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


@deferrable
def argmax(x, axis=None, keepdims=False):
    """Index of the largest element along `axis` (of the flattened x if None), as int32."""
    return Tensor(np.argmax(_data(x), axis=axis, keepdims=keepdims).astype(np.int32))


@deferrable
def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element along `axis` (of the flattened x if None), as int32."""
    return Tensor(np.argmin(_data(x), axis=axis, keepdims=keepdims).astype(np.int32))


# -- comparisons and logic: boolean tensors ------------------------------------------------------

def _elementwise(numpy_fn, name):
    def op(x1, x2):
        return Tensor(numpy_fn(_data(x1), _data(x2)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {numpy_fn.__name__}, broadcasting, as a boolean Tensor."
    return deferrable(op)


equal = _elementwise(np.equal, "equal")
not_equal = _elementwise(np.not_equal, "not_equal")
greater = _elementwise(np.greater, "greater")
greater_equal = _elementwise(np.greater_equal, "greater_equal")
less = _elementwise(np.less, "less")
less_equal = _elementwise(np.less_equal, "less_equal")
logical_and = _elementwise(np.logical_and, "logical_and")
logical_or = _elementwise(np.logical_or, "logical_or")


@deferrable
def logical_not(x):
    return Tensor(np.logical_not(_data(x)))


@deferrable
def all(x, axis=None, keepdims=False):
    """Whether every element along `axis` (every axis if None) is true."""
    return Tensor(np.all(_data(x), axis=axis, keepdims=keepdims))


@deferrable
def any(x, axis=None, keepdims=False):
    """Whether some element along `axis` (any axis if None) is true."""
    return Tensor(np.any(_data(x), axis=axis, keepdims=keepdims))
