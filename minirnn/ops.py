"""Primitive operations: each forward beside its vector-Jacobian product.

Every function here takes Tensors, NumPy arrays or Python scalars and returns a Tensor. Binary ops
broadcast as NumPy does; their VJPs sum the gradient back over broadcast axes (`unbroadcast`).
"""
import importlib

import numpy as np

from .numeric import dot as _dot, sigmoid as _sigmoid
from .tensor import Tensor, as_tensor, deferrable, primitive, unbroadcast

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "addmm", "exp", "log", "sqrt", "abs", "tanh",
    "sigmoid", "relu", "softplus", "softmax", "log_softmax", "sum", "mean", "max", "min",
    "reshape", "transpose", "expand_dims", "squeeze", "getitem", "concat", "stack", "split",
    "where", "maximum", "minimum", "clip", "einsum", "square", "identity", "cast", "unstack",
]

_py_max = max  # the names sum/abs/max/min/pow are minirnn ops below


# -- elementwise arithmetic ----------------------------------------------------------------------

@primitive
def add(a, b):
    return a + b, lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape))


@primitive
def sub(a, b):
    return a - b, lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape))


@primitive
def mul(a, b):
    return a * b, lambda g: (unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape))


@primitive
def div(a, b):
    y = a / b
    return y, lambda g: (unbroadcast(g / b, a.shape), unbroadcast(-g * y / b, b.shape))


@primitive
def neg(x):
    return -x, lambda g: (-g,)


@primitive
def _pow(x, exponent):
    y = x ** exponent
    return y, lambda g: (g * exponent * x ** (exponent - 1),)


@deferrable
def pow(x, exponent):
    """x ** exponent for a scalar (Python number) exponent."""
    if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
        raise TypeError(f"pow supports a scalar exponent; got {type(exponent).__name__} "
                        f"of shape {np.shape(exponent)}")
    return _pow(x, exponent=float(exponent))


@primitive
def square(x):
    return x * x, lambda g: (2.0 * g * x,)


@primitive
def identity(x):
    return x.copy(), lambda g: (g,)


@deferrable
def cast(x, dtype):
    """x in another dtype. To a float dtype the gradient is cast back; to an integer or boolean
    one no gradient flows (as in Keras), so the result is a plain Tensor."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return Tensor(np.asarray(x.data if isinstance(x, Tensor) else x).astype(dtype))
    return _cast(x, dtype=dtype)


@primitive(cast=False)
def _cast(x, dtype):
    return x.astype(dtype), lambda g: (g.astype(x.dtype),)


# -- matrix product ------------------------------------------------------------------------------

def _check_matmul(a_shape, b_shape):
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul needs operands of rank >= 1; got shapes {a_shape} and {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a_shape} and {b_shape} are incompatible: "
                         f"expected a.shape[-1] == b.shape[-2], got {k_a} != {k_b}")
    try:
        if len(a_shape) > 2 and len(b_shape) > 2:
            np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {a_shape} and {b_shape} "
                         f"do not broadcast") from None


@primitive
def matmul(a, b):
    """np.matmul semantics: 1-D, 2-D and batched N-D with broadcast batch dimensions."""
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        # the common case, kept short; np.dot, as np.matmul is slow for a (n, 1) @ (1, m) product
        return _dot(a, b), lambda g: (_dot(g, b.T), _dot(a.T, g))
    _check_matmul(a.shape, b.shape)

    def vjp(g):
        a2 = a[None, :] if a.ndim == 1 else a       # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b       # (..., k, m)
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        gb = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb
    return a @ b, vjp


@primitive
def addmm(c, a, b):
    """c + a @ b for matrices a (n, k) and b (k, m), c broadcasting to (n, m), as one node
    (PyTorch's addmm): a recurrent step's pre-activation zx + h_prev @ W_h."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"addmm: expected matrices a (n, k) and b (k, m); got shapes {a.shape} "
                         f"and {b.shape}")
    shape = (a.shape[0], b.shape[1])
    if c.shape != shape and (c.ndim > 2 or any(n not in (1, s) for n, s in
                                               zip(c.shape[::-1], shape[::-1]))):
        raise ValueError(f"addmm: expected c broadcasting to a @ b's shape {shape}; got {c.shape}")
    out = _dot(a, b)
    out += c
    return out, lambda g: (unbroadcast(g, c.shape), _dot(g, b.T), _dot(a.T, g))


@primitive
def _einsum(*operands, subscripts):
    value = np.einsum(subscripts, *operands)

    def vjp(g):
        inputs, output = _parse_einsum(subscripts, len(operands))
        grads = []
        for i, spec in enumerate(inputs):
            others = [s for j, s in enumerate(inputs) if j != i]
            known = set(output).union(*others) if others else set(output)
            kept = "".join(c for c in spec if c in known)
            grad = np.einsum(f"{','.join([output] + others)}->{kept}", g,
                             *[op for j, op in enumerate(operands) if j != i])
            # letters summed away in this operand alone come back by broadcasting
            for axis, c in enumerate(spec):
                if c not in known:
                    grad = np.expand_dims(grad, axis)
            grads.append(np.broadcast_to(grad, operands[i].shape).copy())
        return tuple(grads)
    return value, vjp


def _parse_einsum(subscripts, n_operands):
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ValueError(f"einsum: ellipsis is not supported; got {subscripts!r}")
    lhs, _, output = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != n_operands:
        raise ValueError(f"einsum: {subscripts!r} names {len(inputs)} operands; got {n_operands}")
    if "->" not in spec:
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for s in inputs:
        if len(set(s)) != len(s):
            raise ValueError(f"einsum: repeated index within one operand is not supported; got {s!r}")
    return inputs, output


@deferrable
def einsum(subscripts, *operands):
    """np.einsum for explicit or implicit subscripts without ellipsis or repeated indices."""
    _parse_einsum(subscripts, len(operands))
    return _einsum(*operands, subscripts=subscripts)


# -- elementwise functions -----------------------------------------------------------------------

@primitive
def exp(x):
    y = np.exp(x)
    return y, lambda g: (g * y,)


@primitive
def log(x):
    return np.log(x), lambda g: (g / x,)


@primitive
def sqrt(x):
    y = np.sqrt(x)
    return y, lambda g: (g * 0.5 / y,)


@primitive
def abs(x):
    return np.abs(x), lambda g: (g * np.sign(x),)


@primitive
def tanh(x):
    y = np.tanh(x)
    return y, lambda g: (g * (1.0 - y * y),)


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow (numeric.sigmoid), in x's dtype (NumPy in, NumPy out)."""
    x = np.asarray(x)
    return _sigmoid(x if x.dtype.kind == "f" else x.astype(np.float64))


@primitive
def sigmoid(x):
    y = stable_sigmoid(x).astype(x.dtype, copy=False)
    return y, lambda g: (g * y * (1.0 - y),)


@primitive
def relu(x):
    return np.maximum(x, 0), lambda g: (g * (x > 0),)


@primitive
def softplus(x):
    y = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return y, lambda g: (g * stable_sigmoid(x).astype(x.dtype, copy=False),)


@primitive
def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    return y, lambda g: (y * (g - (g * y).sum(axis=axis, keepdims=True)),)


@primitive
def log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return y, lambda g: (g - np.exp(y) * g.sum(axis=axis, keepdims=True),)


@primitive
def maximum(a, b):
    # ties send the gradient to `a`, as TensorFlow does
    return np.maximum(a, b), lambda g: (unbroadcast(g * (a >= b), a.shape),
                                        unbroadcast(g * (a < b), b.shape))


@primitive
def minimum(a, b):
    return np.minimum(a, b), lambda g: (unbroadcast(g * (a <= b), a.shape),
                                        unbroadcast(g * (a > b), b.shape))


@primitive
def _clip(x, lo, hi):
    inside = (x >= lo) & (x <= hi)
    return np.clip(x, lo, hi), lambda g: (unbroadcast(g * inside, x.shape),)


@deferrable
def clip(x, x_min, x_max):
    """Elementwise clip to [x_min, x_max] (Keras's names); the gradient passes where
    x_min <= x <= x_max. The bounds are constants (scalars, or arrays no larger than x)."""
    return _clip(x, lo=_constant(x_min), hi=_constant(x_max))


def _constant(value):
    return value.data if isinstance(value, Tensor) else value


@primitive
def _where(x, y, condition):
    def vjp(g):
        return (unbroadcast(np.where(condition, g, 0), x.shape),
                unbroadcast(np.where(condition, 0, g), y.shape))
    return np.where(condition, x, y), vjp


@deferrable
def where(condition, x1=None, x2=None):
    """x1 where condition else x2, broadcasting all three; condition gets no gradient.
    With neither x1 nor x2, the indices where condition holds, one int Tensor per axis (Keras's
    and np.nonzero's)."""
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if x1 is None and x2 is None:
        return tuple(Tensor(i.astype(np.int32)) for i in np.nonzero(cond))
    if x1 is None or x2 is None:
        raise ValueError("where: expected both x1 and x2, or neither; got only "
                         f"{'x2' if x1 is None else 'x1'}")
    return _where(x1, x2, condition=cond)


# -- reductions ----------------------------------------------------------------------------------

def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    for a in axes:
        if not -ndim <= a < _py_max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor of rank {ndim}")
    return tuple(a % _py_max(ndim, 1) for a in axes)


def _restore(g, shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input again."""
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return g


@primitive
def sum(x, axis=None, keepdims=False):
    axes = _axes(axis, x.ndim)
    return (x.sum(axis=axes, keepdims=keepdims),
            lambda g: (np.broadcast_to(_restore(g, x.shape, axes, keepdims), x.shape).copy(),))


@primitive
def mean(x, axis=None, keepdims=False):
    axes = _axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    return (x.mean(axis=axes, keepdims=keepdims),
            lambda g: (np.broadcast_to(_restore(g, x.shape, axes, keepdims) / count, x.shape)
                       .astype(x.dtype),))


def _extremum(reduce):
    def op(x, axis=None, keepdims=False):
        axes = _axes(axis, x.ndim)
        y = reduce(x, axis=axes, keepdims=True)
        hits = x == y
        share = hits / hits.sum(axis=axes, keepdims=True)  # ties split the gradient, as in TF
        out = y if keepdims else np.squeeze(y, axis=axes)
        return out, lambda g: ((_restore(g, x.shape, axes, keepdims) * share).astype(x.dtype),)
    return op


_max = primitive(_extremum(np.max))
_max.__name__ = "max"
_min = primitive(_extremum(np.min))
_min.__name__ = "min"


@deferrable
def max(x, axis=None, keepdims=False, initial=None):
    """The largest elements along `axis` (all axes if None); no less than `initial` if given.
    Ties share the gradient."""
    y = _max(x, axis=axis, keepdims=keepdims)
    return y if initial is None else maximum(y, initial)


@deferrable
def min(x, axis=None, keepdims=False, initial=None):
    """The smallest elements along `axis` (all axes if None); no more than `initial` if given."""
    y = _min(x, axis=axis, keepdims=keepdims)
    return y if initial is None else minimum(y, initial)


# -- shape and indexing --------------------------------------------------------------------------

@primitive(cast=False)
def _reshape(x, shape):
    try:
        y = x.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into {shape}") from None
    return y, lambda g: (g.reshape(x.shape),)


@deferrable
def reshape(x, newshape=None, *, shape=None):
    """x with a new shape (one dimension may be -1), given as `newshape` (Keras's name) or `shape`
    (NumPy's). The shape is static, never a graph input."""
    if (newshape is None) == (shape is None):
        raise TypeError("reshape expects the new shape once: as newshape (Keras's name) or shape "
                        f"(NumPy's); got newshape={newshape!r}, shape={shape!r}")
    return _reshape(x, shape=newshape if shape is None else shape)


@primitive(cast=False)
def transpose(x, axes=None):
    inverse = None if axes is None else np.argsort([a % x.ndim for a in axes])
    return np.transpose(x, axes), lambda g: (np.transpose(g, inverse),)


@primitive(cast=False)
def _expand_dims(x, axis):
    return np.expand_dims(x, axis), lambda g: (g.reshape(x.shape),)


@deferrable
def expand_dims(x, axis):
    """x with a new size-1 axis at `axis` (static, never a graph input)."""
    return _expand_dims(x, axis=axis)


@primitive(cast=False)
def squeeze(x, axis=None):
    return np.squeeze(x, axis), lambda g: (g.reshape(x.shape),)


@primitive(cast=False)
def _getitem(x, index):
    def vjp(g):
        gx = np.zeros(x.shape, dtype=g.dtype)
        if _is_basic(index):
            gx[index] = g          # a view: every element of x at most once
        else:
            np.add.at(gx, index, g)  # repeated integer indices accumulate
        return (gx,)
    return x[index], vjp


def _is_basic(index):
    """Whether index is basic indexing (ints, slices, None, Ellipsis), which selects a view."""
    if isinstance(index, tuple):
        return all(_is_basic(i) for i in index)
    return index is None or index is Ellipsis or isinstance(index, slice) or (
        isinstance(index, (int, np.integer)) and not isinstance(index, bool))


def _plain_index(index):
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


@deferrable
def getitem(x, index):
    """x[index] for ints, slices, None, Ellipsis and integer/boolean arrays."""
    return _getitem(x, index=_plain_index(index))


@primitive
def _concat(*xs, axis):
    bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return np.concatenate(xs, axis=axis), lambda g: tuple(np.split(g, bounds, axis=axis))


def _shapes(name, xs):
    if not xs:
        raise ValueError(f"{name} needs at least one tensor; got none")
    return [np.shape(x.data if isinstance(x, Tensor) else x) for x in xs]


@deferrable
def concat(tensors, axis=-1):
    """Join tensors along an existing axis (np.concatenate)."""
    shapes = _shapes("concat", tensors)
    if any(len(s) == 0 for s in shapes):
        raise ValueError(f"concat needs tensors of rank >= 1; got shapes {shapes}")
    ref = list(shapes[0])
    for s in shapes[1:]:
        other = list(s)
        if len(other) != len(ref) or any(a != b for i, (a, b) in enumerate(zip(ref, other))
                                         if i != axis % len(ref)):
            raise ValueError(f"concat along axis {axis}: shapes must agree elsewhere; got {shapes}")
    return _concat(*tensors, axis=axis)


@primitive
def _stack(*xs, axis):
    return np.stack(xs, axis=axis), lambda g: tuple(np.moveaxis(g, axis, 0))


@deferrable
def stack(x, axis=0):
    """Join a sequence `x` of same-shaped tensors along a new axis (np.stack)."""
    shapes = _shapes("stack", x)
    if len(set(shapes)) != 1:
        raise ValueError(f"stack needs tensors of one shape; got {shapes}")
    return _stack(*x, axis=axis)


@primitive
def _unstack(x, axis):
    parts = tuple(np.moveaxis(x, axis, 0))
    return parts, lambda gs: (np.stack(gs, axis=axis),)


@deferrable
def unstack(x, num=None, axis=0):
    """The slices of x along `axis`, as a tuple (one node; its VJP stacks the gradients once,
    where indexing each slice would scatter into a full-size zero array per slice). `num`, if
    given, must be that axis's size (Keras's signature)."""
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("unstack needs a tensor of rank >= 1; got a scalar")
    if num is not None and num != x.shape[axis]:
        raise ValueError(f"unstack: num={num} does not match axis {axis} of shape {x.shape}")
    return _unstack(x, axis=axis)


@primitive
def _split(x, sections, axis):
    """np.split's parts as plain slices, without np.split's own overhead."""
    size = x.shape[axis]
    if isinstance(sections, int):
        bounds = range(0, size + 1, size // sections) if size else [0] * (sections + 1)
    else:
        bounds = [0, *sections, size]
    lead = (slice(None),) * (axis % x.ndim)
    parts = tuple(x[lead + (slice(bounds[i], bounds[i + 1]),)] for i in range(len(bounds) - 1))
    return parts, lambda gs: (np.concatenate(gs, axis=axis),)


@deferrable
def split(x, indices_or_sections, axis=0):
    """np.split: a tuple of tensors (one graph node with several outputs)."""
    x = as_tensor(x)
    if isinstance(indices_or_sections, (int, np.integer)) or np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections < 1:
            raise ValueError(f"split: expected a positive number of sections; got {sections}")
        if x.shape[axis] % sections:
            raise ValueError(f"split: axis {axis} of size {x.shape[axis]} does not divide into "
                             f"{indices_or_sections} equal sections")
    else:
        sections = list(indices_or_sections)
    return _split(x, sections=sections, axis=axis)


# -- Tensor's operators and methods --------------------------------------------------------------

def _reflect(op):
    return lambda self, other: op(other, self)


def _comparison(compare):
    return lambda self, other: Tensor(compare(self.data, other.data if isinstance(other, Tensor) else other))


Tensor.__add__, Tensor.__radd__ = add, _reflect(add)
Tensor.__sub__, Tensor.__rsub__ = sub, _reflect(sub)
Tensor.__mul__, Tensor.__rmul__ = mul, _reflect(mul)
Tensor.__truediv__, Tensor.__rtruediv__ = div, _reflect(div)
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, _reflect(matmul)
Tensor.__pow__ = pow
Tensor.__neg__ = neg
Tensor.__abs__ = abs
Tensor.__getitem__ = getitem.__wrapped__  # on a Tensor: nothing to defer, so no wrapper
Tensor.__lt__ = _comparison(np.less)
Tensor.__le__ = _comparison(np.less_equal)
Tensor.__gt__ = _comparison(np.greater)
Tensor.__ge__ = _comparison(np.greater_equal)
Tensor.__eq__ = _comparison(np.equal)
Tensor.__ne__ = _comparison(np.not_equal)
for _name in ("sum", "mean", "max", "min", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
              "softplus", "softmax", "log_softmax", "squeeze", "expand_dims", "clip", "square"):
    setattr(Tensor, _name, globals()[_name])
Tensor.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)
Tensor.transpose = lambda self, *axes: transpose(self, axes=(axes[0] if len(axes) == 1 else axes) or None)
Tensor.T = property(lambda self: transpose(self))
Tensor.astype = cast
from .conv_ops import conv1d, unfold1d, max_pool1d, avg_pool1d  # noqa: E402,F401  (conv_ops builds on the ops above)


# -- the rest of keras.ops -----------------------------------------------------------------------
# ops_numpy (with gradients) and ops_constant (without) hold Keras's other names, looked up on
# demand so that `all`, `any`, `slice` never shadow Python's builtins in the code above.
_KERAS_MODULES = ("ops_numpy", "ops_constant")


def __getattr__(name):
    for module_name in _KERAS_MODULES:
        module = importlib.import_module(f"{__package__}.{module_name}")
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()).union(*(importlib.import_module(f"{__package__}.{m}").__all__
                                         for m in _KERAS_MODULES)))
