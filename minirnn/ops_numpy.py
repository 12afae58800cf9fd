"""Keras's differentiable array operations beyond ops.py's primitives, with keras.ops's names,
arguments and defaults: each forward beside its vector-Jacobian product, or built from primitives.

Reached as `minirnn.ops.<name>` (see the end of ops.py). Shape operations (tile, repeat, take,
flip, ...) keep an integer input's dtype, as Keras does; arithmetic computes in a float dtype.
"""
import builtins

import numpy as np

from . import ops
from .tensor import Tensor, as_tensor, deferrable, floatx, primitive, unbroadcast

__all__ = [
    "subtract", "multiply", "divide", "true_divide", "negative", "power", "dot", "concatenate",
    "tile", "repeat", "take", "take_along_axis", "norm", "cumsum", "flip", "stop_gradient",
    "slice", "moments", "var", "std", "swapaxes", "moveaxis", "broadcast_to",
]

# Keras's names for minirnn's arithmetic primitives
subtract, multiply, divide, true_divide, negative = ops.sub, ops.mul, ops.div, ops.div, ops.neg


def _axis(name, axis, ndim):
    """axis as a non-negative int, or ValueError naming the op."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int; got {axis!r}")
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % builtins.max(ndim, 1)


def _indices(name, indices):
    """An integer index array (whole-number floats accepted, as Keras casts them)."""
    array = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if array.dtype.kind == "f" and np.all(array == np.round(array)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers; got dtype {array.dtype}")
    return array


@primitive
def power(x1, x2):
    """x1 ** x2 elementwise, both differentiable and broadcasting."""
    y = np.power(x1, x2)

    def vjp(g):
        # d/dx2 x1**x2 = x1**x2 log x1, taken as zero where x1 <= 0 (as TensorFlow's pow does)
        log_x1 = np.log(np.where(x1 > 0, x1, 1))
        return (unbroadcast(g * x2 * np.power(x1, x2 - 1), x1.shape),
                unbroadcast(g * y * log_x1, x2.shape))
    return y, vjp


@deferrable
def dot(x1, x2):
    """np.dot: a product with a scalar, matmul for a 1-D or 2-D x2, else a sum over x1's last
    axis and x2's second-to-last."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim == 0 or x2.ndim == 0:
        return ops.mul(x1, x2)
    k2 = x2.shape[0] if x2.ndim == 1 else x2.shape[-2]
    if x1.shape[-1] != k2:
        raise ValueError(f"dot: shapes {x1.shape} and {x2.shape} are incompatible: expected "
                         f"x1.shape[-1] == x2.shape[{0 if x2.ndim == 1 else -2}], got "
                         f"{x1.shape[-1]} != {k2}")
    if x2.ndim <= 2:
        return ops.matmul(x1, x2)   # np.matmul broadcasting a matrix x2 is np.dot
    # move x2's contracted axis first and flatten the rest: one matmul, then unflatten
    rest = x2.shape[:-2] + x2.shape[-1:]
    flat = ops.reshape(moveaxis(x2, -2, 0), (k2, -1))
    return ops.reshape(ops.matmul(x1, flat), x1.shape[:-1] + rest)


@deferrable
def concatenate(xs, axis=0):
    """Join tensors along an existing axis (Keras's name and default axis for ops.concat)."""
    return ops.concat(xs, axis=axis)


@primitive(cast=False)
def _tile(x, *, reps):
    y = np.tile(x, reps)

    def vjp(g):
        # each of y's axes holds r copies of x's axis of size n: view it as (r, n), sum the copies
        shape = (1,) * (g.ndim - x.ndim) + x.shape
        full_reps = (1,) * (g.ndim - len(reps)) + reps
        pairs = [d for r, n in zip(full_reps, shape) for d in (r, n)]
        return (g.reshape(pairs).sum(axis=tuple(range(0, 2 * g.ndim, 2))).reshape(x.shape),)
    return y, vjp


@deferrable
def tile(x, repeats):
    """np.tile: x repeated `repeats` times along each axis (an int or a sequence of ints)."""
    reps = (repeats,) if np.ndim(repeats) == 0 else tuple(repeats)
    if not reps or builtins.any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0
                                for r in reps):
        raise ValueError(f"tile: repeats must be non-negative ints; got {repeats!r}")
    return _tile(x, reps=tuple(int(r) for r in reps))


@primitive(cast=False)
def _repeat(x, *, repeats, axis):
    def vjp(g):
        source = np.repeat(np.arange(x.shape[axis]), repeats)   # the x slice each y slice copies
        gx = np.zeros(x.shape, g.dtype)
        np.add.at(np.moveaxis(gx, axis, 0), source, np.moveaxis(g, axis, 0))
        return (gx,)
    return np.repeat(x, repeats, axis=axis), vjp


@deferrable
def repeat(x, repeats, axis=None):
    """np.repeat: each element (axis=None: of the flattened x) or each slice along `axis`
    repeated `repeats` times (an int, or one count per slice)."""
    x = as_tensor(x)
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    axis = _axis("repeat", axis, x.ndim)
    counts = np.asarray(repeats.data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or np.any(counts < 0) or (
            counts.ndim == 1 and counts.size not in (1, x.shape[axis])):
        raise ValueError(f"repeat: repeats must be a non-negative int or one per slice along axis "
                         f"{axis} ({x.shape[axis]}); got {repeats!r}")
    return _repeat(x, repeats=counts, axis=axis)


@primitive(cast=False)
def _take(x, *, indices, axis):
    def vjp(g):
        gx = np.zeros(x.shape, g.dtype)
        k = indices.ndim   # g's axes: x's before `axis`, then indices' axes, then x's after
        np.add.at(np.moveaxis(gx, axis, 0), indices,
                  np.moveaxis(g, list(range(axis, axis + k)), list(range(k))))
        return (gx,)
    return np.take(x, indices, axis=axis), vjp


@deferrable
def take(x, indices, axis=None):
    """np.take: the elements (axis=None: of the flattened x) or slices along `axis` at `indices`.
    Repeated indices accumulate their gradients."""
    x = as_tensor(x)
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    axis = _axis("take", axis, x.ndim)
    indices = _indices("take", indices)
    size = x.shape[axis]
    if indices.size and (indices.min() < -size or indices.max() >= size):
        raise ValueError(f"take: indices must lie in [{-size}, {size}) for axis {axis} of shape "
                         f"{x.shape}; got values from {indices.min()} to {indices.max()}")
    return _take(x, indices=indices, axis=axis)


def _along_axis(shape, indices, axis):
    """The fancy index selecting `indices` along `axis` and every position along the others."""
    return tuple(indices if i == axis else
                 np.arange(n).reshape((1,) * i + (n,) + (1,) * (len(shape) - i - 1))
                 for i, n in enumerate(shape))


@primitive(cast=False)
def _take_along_axis(x, *, indices, axis):
    index = _along_axis(x.shape, indices, axis)

    def vjp(g):
        gx = np.zeros(x.shape, g.dtype)
        np.add.at(gx, index, g)
        return (gx,)
    return x[index], vjp


@deferrable
def take_along_axis(x, indices, axis=None):
    """np.take_along_axis: x's elements at `indices` along `axis` (same rank as x; the other axes
    broadcast). axis=None takes from the flattened x with 1-D indices."""
    x = as_tensor(x)
    indices = _indices("take_along_axis", indices)
    if axis is None:
        x, indices, axis = ops.reshape(x, (-1,)), indices.reshape(-1), 0
    axis = _axis("take_along_axis", axis, x.ndim)
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices must have x's rank {x.ndim}; got shape "
                         f"{indices.shape} for x of shape {x.shape}")
    size = x.shape[axis]
    if indices.size and (indices.min() < -size or indices.max() >= size):
        raise ValueError(f"take_along_axis: indices must lie in [{-size}, {size}) for axis {axis} "
                         f"of shape {x.shape}; got values from {indices.min()} to {indices.max()}")
    try:
        np.broadcast_shapes(*[s[:axis] + s[axis + 1:] for s in (x.shape, indices.shape)])
    except ValueError:
        raise ValueError(f"take_along_axis: shapes {x.shape} and {indices.shape} do not broadcast "
                         f"outside axis {axis}") from None
    return _take_along_axis(x, indices=indices, axis=axis)


def _reduction_axes(name, axis, ndim):
    axes = tuple(range(ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(_axis(name, a, ndim) for a in axes)


@deferrable
def norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm for vector norms (any ord) and the matrix norms ord in None, 'fro', 1, -1,
    inf, -inf. With axis=None, x is taken as a vector, or as a matrix when it has rank 2 and ord
    is given (NumPy's rule)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        x = ops.cast(x, floatx())
    if axis is None and ord is not None and x.ndim > 2:
        raise ValueError(f"norm: with ord={ord!r} and axis=None, x must have rank 1 or 2; got "
                         f"shape {x.shape}")
    axes = _reduction_axes("norm", axis, x.ndim)
    vector = len(axes) == 1 or (axis is None and ord is None)
    if ord is None or (ord == 2 and vector) or (isinstance(ord, str) and ord == "fro"
                                                and len(axes) == 2):
        out = ops.sqrt(ops.sum(ops.square(x), axis=axes, keepdims=True))
    elif vector and not isinstance(ord, str):
        size = ops.abs(x)
        if ord == np.inf:
            out = ops.max(size, axis=axes, keepdims=True)
        elif ord == -np.inf:
            out = ops.min(size, axis=axes, keepdims=True)
        elif ord == 0:
            out = Tensor(np.sum(x.data != 0, axis=axes, keepdims=True).astype(x.dtype))
        else:
            out = ops.pow(ops.sum(ops.pow(size, ord), axis=axes, keepdims=True), 1.0 / ord)
    elif len(axes) == 2 and not isinstance(ord, str) and ord in (1, -1, np.inf, -np.inf):
        rows, cols = axes
        # ord +-1: the largest/smallest column sum of |x|; ord +-inf: the same over rows
        summed, over = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = ops.sum(ops.abs(x), axis=summed, keepdims=True)
        out = (ops.max if ord > 0 else ops.min)(sums, axis=over, keepdims=True)
    else:
        raise ValueError(f"norm: ord={ord!r} is not supported over {len(axes)} axes; expected a "
                         f"number for a vector norm, or None, 'fro', 1, -1, inf, -inf for a matrix")
    return out if keepdims else ops.squeeze(out, axis=axes)


@primitive(cast=False)
def _cumsum(x, *, axis):
    return (np.cumsum(x, axis=axis),
            lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),))


@deferrable
def cumsum(x, axis=None, dtype=None):
    """Running sums along `axis` (axis=None: over the flattened x), optionally cast to dtype."""
    x = as_tensor(x)
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    y = _cumsum(x, axis=_axis("cumsum", axis, x.ndim))
    return y if dtype is None else ops.cast(y, dtype)


@primitive(cast=False)
def _flip(x, *, axis):
    return np.flip(x, axis), lambda g: (np.flip(g, axis),)


@deferrable
def flip(x, axis=None):
    """x reversed along `axis` (an int, a tuple, or None for every axis)."""
    x = as_tensor(x)
    axes = _reduction_axes("flip", axis, x.ndim)
    return _flip(x, axis=axes if axis is not None else None)


@deferrable
def stop_gradient(variable):
    """The same values, cut from the graph: no gradient flows back through them."""
    return as_tensor(variable).detach()


@deferrable
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) of x over `axes` (one device here, so `synchronized` changes nothing)."""
    if axes is not None and np.ndim(axes) != 0:
        axes = tuple(axes)
    mean = ops.mean(x, axis=axes, keepdims=True)
    variance = ops.mean(ops.square(ops.sub(x, mean)), axis=axes, keepdims=True)
    if keepdims:
        return mean, variance
    return ops.squeeze(mean, axis=axes), ops.squeeze(variance, axis=axes)


@deferrable
def var(x, axis=None, keepdims=False):
    """The (biased) variance over `axis`, as np.var."""
    variance = moments(x, axes=axis, keepdims=True)[1]
    return variance if keepdims else ops.squeeze(variance, axis=axis)


@deferrable
def std(x, axis=None, keepdims=False):
    """The (biased) standard deviation over `axis`, as np.std."""
    return ops.sqrt(var(x, axis=axis, keepdims=keepdims))


@deferrable
def swapaxes(x, axis1, axis2):
    x = as_tensor(x)
    order = list(range(x.ndim))
    a, b = _axis("swapaxes", axis1, x.ndim), _axis("swapaxes", axis2, x.ndim)
    order[a], order[b] = order[b], order[a]
    return ops.transpose(x, axes=tuple(order))


@deferrable
def moveaxis(x, source, destination):
    """x with the axes at `source` moved to `destination` (ints or sequences), as np.moveaxis."""
    x = as_tensor(x)
    source = [source] if np.ndim(source) == 0 else list(source)
    destination = [destination] if np.ndim(destination) == 0 else list(destination)
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: source and destination must have as many axes; got "
                         f"{source} and {destination}")
    source = [_axis("moveaxis", a, x.ndim) for a in source]
    destination = [_axis("moveaxis", a, x.ndim) for a in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ValueError(f"moveaxis: repeated axes in {source} or {destination}")
    order = [a for a in range(x.ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):   # np.moveaxis's construction
        order.insert(dest, src)
    return ops.transpose(x, axes=tuple(order))


@primitive(cast=False)
def _broadcast_to(x, *, shape):
    return np.array(np.broadcast_to(x, shape)), lambda g: (unbroadcast(g, x.shape),)


@deferrable
def broadcast_to(x, shape):
    """x broadcast to `shape` (a copy); the gradient sums over the broadcast axes."""
    x = as_tensor(x)
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return _broadcast_to(x, shape=shape)


@deferrable
def slice(inputs, start_indices, shape):
    """The block of `inputs` starting at `start_indices` with size `shape` along each axis."""
    x = as_tensor(inputs)
    start, size = tuple(start_indices), tuple(shape)
    if not len(start) == len(size) == x.ndim:
        raise ValueError(f"slice: start_indices and shape must each have one entry per axis of "
                         f"inputs (rank {x.ndim}); got {start} and {size}")
    for a, b, n in zip(start, size, x.shape):
        if a < 0 or b < 0 or a + b > n:
            raise ValueError(f"slice: the block at {start} of size {size} does not fit in inputs "
                             f"of shape {x.shape}")
    return ops.getitem(x, tuple(builtins.slice(int(a), int(a) + int(b))
                                for a, b in zip(start, size)))
