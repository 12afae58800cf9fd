"""The autodiff engine: Tensor, graph nodes, backward(), no_grad() and the dtype policy.

The engine knows no particular operation. A primitive (see `primitive`) computes its value with
NumPy and returns a vector-Jacobian product; `backward()` walks the recorded nodes in reverse
topological order and calls each node's VJP. Operators such as `+` and `@` are attached to Tensor
by `minirnn.ops`, which defines the primitives.
"""
import contextlib
import functools
import gc
import inspect

import numpy as np

__all__ = ["Tensor", "tensor", "primitive", "no_grad", "is_grad_enabled", "floatx", "set_floatx",
           "unbroadcast", "FreedGraphError", "gc_paused"]

_FLOATX = "float32"
_GRAD_ENABLED = True


def floatx():
    """The default float dtype name ('float32' unless changed with set_floatx)."""
    return _FLOATX


def set_floatx(name):
    """Set the default float dtype: 'float32' (the default, as in Keras), 'float64' or 'float16'."""
    global _FLOATX
    if name not in ("float16", "float32", "float64"):
        raise ValueError(f"floatx must be one of 'float16', 'float32', 'float64'; got {name!r}")
    _FLOATX = name


def is_grad_enabled():
    return _GRAD_ENABLED


@contextlib.contextmanager
def no_grad():
    """Inside this context no graph is recorded: results do not require grad."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a large graph is recorded.

    Each primitive allocates a few tracked objects; with a long Python loop (an unrolled RNN) the
    collector's passes over the growing graph cost as much as the ops themselves. The graph holds
    no reference cycles, so nothing is lost by collecting afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class FreedGraphError(ValueError, RuntimeError):
    """backward() reached a node whose graph was already released."""


class Node:
    """One recorded primitive call: its VJP, its inputs, and bookkeeping for its outputs."""
    __slots__ = ("vjp", "inputs", "out_shapes", "out_dtypes", "retained", "name", "multi",
                 "__weakref__")

    def __init__(self, vjp, inputs, outputs, name, multi=False):
        self.vjp = vjp
        self.multi = multi  # the VJP takes a tuple of output gradients
        self.inputs = inputs
        self.out_shapes = [o.shape for o in outputs]
        self.out_dtypes = [o.dtype for o in outputs]
        self.retained = None  # {output index: Tensor} for outputs that asked to keep their grad
        self.name = name


class Tensor:
    """A NumPy array that remembers how it was computed.

    data: the ndarray. grad: ndarray of the same shape after backward(), or None.
    requires_grad: whether gradients flow to (and are stored on) this tensor.
    """
    __slots__ = ("data", "grad", "requires_grad", "_node", "_index", "name", "_mask", "__weakref__")
    __array_ufunc__ = None  # make `ndarray op Tensor` defer to Tensor's reflected operators

    def __init__(self, data, requires_grad=False, dtype=None, name=None):
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=dtype)
        if dtype is None and not isinstance(data, (np.ndarray, np.generic)) and array.dtype.kind == "f":
            array = array.astype(_FLOATX)  # Python floats follow the dtype policy, like Keras
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"requires_grad needs a floating-point tensor; got dtype {array.dtype} "
                            f"(cast it first, e.g. tensor(x, dtype='{_FLOATX}'))")
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None
        self._index = 0
        self.name = name
        self._mask = None  # a boolean (batch, timesteps) mask that layers propagate, as in Keras

    # -- plain properties -------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._node is None)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    __hash__ = object.__hash__

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in `.grad` after backward() (e.g. a hidden state)."""
        if not self.requires_grad:
            raise ValueError("retain_grad() on a tensor that does not require grad")
        if self._node is not None:
            if self._node.retained is None:
                self._node.retained = {}
            self._node.retained[self._index] = self
        return self

    def zero_grad(self):
        self.grad = None

    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        grad: the gradient of some scalar w.r.t. self, shaped like self; may be omitted for a
        single-element tensor (taken as 1). The graph is released afterwards unless retain_graph.
        """
        if not self.requires_grad:
            raise ValueError("backward() on a tensor that does not require grad (no leaf of its "
                             "graph has requires_grad=True, or it was computed under no_grad())")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without `grad` needs a single-element tensor; got shape "
                                 f"{self.shape}. Pass grad= of that shape, or reduce with .sum()")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad=...) expects grad of shape {self.shape}; got {grad.shape}")
        if self._node is None:
            _accumulate(self, grad)
            return
        _backpropagate(self._node, self._index, grad, retain_graph)


def _accumulate(tensor, grad):
    if grad.dtype != tensor.data.dtype:
        grad = grad.astype(tensor.data.dtype)
    if tensor.grad is None:
        tensor.grad = grad.copy()  # never alias an array the VJP may hand to another input
    else:
        tensor.grad = tensor.grad + grad


def _topological_order(root):
    """Nodes reachable from root, each after every node that consumes it (iterative DFS)."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root.inputs or ()))]
    while stack:
        node, children = stack[-1]
        for child in children:
            parent = child._node
            if parent is not None and child.requires_grad and id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent.inputs or ())))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def _backpropagate(root, index, grad, retain_graph):
    pending = {id(root): [None] * len(root.out_shapes)}
    pending[id(root)][index] = grad
    for node in _topological_order(root):
        out_grads = pending.pop(id(node), None)
        if out_grads is None:
            continue
        if node.vjp is None:
            raise FreedGraphError(
                f"backward() through a graph that was already released (node '{node.name}'); "
                f"expected a live graph: pass retain_graph=True to the first backward() call")
        if node.retained:
            for i, kept in node.retained.items():
                if out_grads[i] is not None:
                    _accumulate(kept, out_grads[i])
        if not node.multi:
            in_grads = node.vjp(out_grads[0])
        else:
            # an output nobody used contributes a zero gradient
            in_grads = node.vjp(tuple(np.zeros(s, d) if g is None else g for g, s, d in
                                      zip(out_grads, node.out_shapes, node.out_dtypes)))
        for tensor, g in zip(node.inputs, in_grads):
            if g is None or not tensor.requires_grad:
                continue
            if tensor._node is None:
                _accumulate(tensor, g)
            else:
                slots = pending.setdefault(id(tensor._node), [None] * len(tensor._node.out_shapes))
                slots[tensor._index] = g if slots[tensor._index] is None else slots[tensor._index] + g
        if not retain_graph:
            node.vjp = None
            node.inputs = None
            node.retained = None  # break the node <-> retained-tensor cycle so no gc is needed


def _wrap(array):
    """A Tensor around a fresh ndarray result, skipping the checks of Tensor()."""
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t._node, t._index, t.name, t._mask = \
        array if isinstance(array, np.ndarray) else np.asarray(array), None, False, None, 0, None, None
    return t


def as_tensor(value, dtype=None):
    """A Tensor for value (returned as is if it already is one)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value, dtype=dtype) if dtype is not None else value)


def _float_dtype(values):
    """The floating dtype an op computes in: that of its float Tensor inputs, else floatx."""
    dtypes = [v.data.dtype for v in values if isinstance(v, Tensor) and v.data.dtype.kind == "f"]
    return np.result_type(*dtypes) if dtypes else np.dtype(_FLOATX)


def primitive(fn=None, *, cast=True):
    """Register fn as a differentiable primitive.

    fn(*arrays, **static) returns (value, vjp): value is an ndarray, or a tuple of ndarrays for an
    op with several outputs; vjp(g) takes the output gradient (a tuple of them for several outputs)
    and returns a tuple with one gradient per positional input (None where there is none).
    fn's parameters without defaults (or its *args) are the differentiable inputs: Tensors, arrays
    or scalars. Parameters with defaults, or keyword-only ones, are static (axis, shape, ...) and may
    be passed by position after the inputs.
    With cast=True, non-Tensor and integer inputs are cast to the op's float dtype.
    """
    if fn is None:
        return functools.partial(primitive, cast=cast)
    params = list(inspect.signature(fn).parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        n_inputs, static_names = None, []
    else:
        n_inputs = sum(1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
        static_names = [p.name for p in params[n_inputs:] if p.kind is p.POSITIONAL_OR_KEYWORD]

    @functools.wraps(fn)
    def op(*args, **static):
        if n_inputs is not None and len(args) > n_inputs:
            if len(args) > n_inputs + len(static_names):
                raise TypeError(f"{fn.__name__} takes {n_inputs + len(static_names)} positional "
                                f"arguments; got {len(args)}")
            static.update(zip(static_names, args[n_inputs:]))
            args = args[:n_inputs]
        if cast and all(type(a) is Tensor and a.data.dtype.kind == "f" for a in args):
            inputs = args                                        # the common case, kept fast
        elif cast:
            dtype = _float_dtype(args)
            inputs = [a if isinstance(a, Tensor) and a.data.dtype.kind in "fb"
                      else Tensor(np.asarray(a.data if isinstance(a, Tensor) else a, dtype=dtype))
                      for a in args]
        else:
            inputs = [as_tensor(a) for a in args]
        value, vjp = fn(*(t.data for t in inputs), **static)
        needs_grad = _GRAD_ENABLED and any(t.requires_grad for t in inputs)
        multi = isinstance(value, tuple)
        outputs = tuple(map(_wrap, value)) if multi else (_wrap(value),)
        if needs_grad:
            node = Node(vjp, inputs, [o.data for o in outputs], fn.__name__, multi)
            for i, out in enumerate(outputs):
                out.requires_grad, out._node, out._index = True, node, i
        return outputs if isinstance(value, tuple) else outputs[0]

    op.raw = fn
    return op


def tensor(data, requires_grad=False, dtype=None):
    """Make a Tensor. Python floats become floatx(); NumPy arrays keep their dtype unless dtype is given."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def unbroadcast(grad, shape):
    """Sum grad over the axes that broadcasting added or stretched, so it has `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape)
                                       if n == 1 and grad.shape[extra + i] != 1)
    return grad.sum(axis=axes).reshape(shape) if axes else grad.reshape(shape)
