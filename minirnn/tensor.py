"""The autodiff engine: Tensor, graph nodes, backward(), no_grad() and the dtype policy.

The engine knows no particular operation. A primitive (see `primitive`) computes its value with
NumPy and returns a vector-Jacobian product; `backward()` walks the recorded nodes in reverse
topological order and calls each node's VJP. Operators such as `+` and `@` are attached to Tensor
by `minirnn.ops`, which defines the primitives.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = ["Tensor", "tensor", "primitive", "no_grad", "is_grad_enabled", "floatx", "set_floatx",
           "unbroadcast", "FreedGraphError", "deferrable", "register_deferred_handler",
           "unregister_deferred_handler"]

_FLOATX = "float32"
# Grad mode belongs to each thread, as in PyTorch. A context variable rather than threading.local:
# it also keeps asyncio tasks apart, a new threading.Thread starts from an empty context (so with
# grad enabled), and reading it is the cheaper of the two on the per-primitive path.
_GRAD_ENABLED = contextvars.ContextVar("minirnn_grad_enabled", default=True)
_grad_enabled = _GRAD_ENABLED.get  # bound once: every recorded primitive asks


def floatx() -> str:
    """The default float dtype name ('float32' unless changed with set_floatx)."""
    return _FLOATX


def set_floatx(name: str) -> None:
    """Set the default float dtype: 'float32' (the default, as in Keras), 'float64' or 'float16'.

    The setting is process-wide, as in Keras: every thread sees it (unlike grad mode).
    """
    global _FLOATX
    if name not in ("float16", "float32", "float64"):
        raise ValueError(f"floatx must be one of 'float16', 'float32', 'float64'; got {name!r}")
    _FLOATX = name


def is_grad_enabled() -> bool:
    """Whether primitives called from this thread (or asyncio task) record a graph."""
    return _grad_enabled()


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this context no graph is recorded: results do not require grad.

    Only the thread (or asyncio task) that enters it is affected; other threads keep recording.
    """
    previous = _GRAD_ENABLED.get()
    _GRAD_ENABLED.set(False)
    try:
        yield
    finally:
        _GRAD_ENABLED.set(previous)


class FreedGraphError(ValueError, RuntimeError):
    """backward() reached a node whose graph was already released."""


_recorded = itertools.count()  # next() on it is one atomic step: threads never share a number


class Node:
    """One recorded primitive call: its VJP, its inputs, and bookkeeping for its outputs.

    outs is None for a primitive with one output; for several, it holds each output's
    (shape, dtype), so that outputs which received no gradient can be given zeros.
    """
    __slots__ = ("vjp", "inputs", "outs", "retained", "name", "seq", "__weakref__")

    def __init__(self, vjp, inputs, name, outs=None):
        self.seq = next(_recorded)  # a node's inputs were made by nodes recorded before it
        self.vjp = vjp
        self.inputs = inputs
        self.outs = outs
        self.retained = None  # {output index: Tensor} for outputs that asked to keep their grad
        self.name = name


class Tensor:
    """A NumPy array that remembers how it was computed.

    data: the ndarray. grad: ndarray of the same shape after backward(), or None.
    requires_grad: whether gradients flow to (and are stored on) this tensor.
    """
    __slots__ = ("data", "grad", "requires_grad", "_node", "_index", "name", "__weakref__")
    __array_ufunc__ = None  # make `ndarray op Tensor` defer to Tensor's reflected operators

    def __init__(self, data: ArrayLike | Tensor, requires_grad: bool = False,
                 dtype: DTypeLike | None = None, name: str | None = None) -> None:
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

    # -- plain properties -------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._node is None)

    if TYPE_CHECKING:
        # Declared for type checkers only: minirnn.ops attaches these at import time (see the end
        # of ops.py), so each must match what ops gives Tensor there.
        T: Tensor
        def __add__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __radd__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __sub__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __rsub__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __mul__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __rmul__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __truediv__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __rtruediv__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __matmul__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __rmatmul__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __pow__(self, exponent: float) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __lt__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __le__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __gt__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __ge__(self, other: ArrayLike | Tensor) -> Tensor: ...
        def __eq__(self, other: object) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: object) -> Tensor: ...  # type: ignore[override]
        def sum(self, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False) -> Tensor: ...
        def mean(self, axis: int | tuple[int, ...] | None = None,
                 keepdims: bool = False) -> Tensor: ...
        def max(self, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False) -> Tensor: ...
        def min(self, axis: int | tuple[int, ...] | None = None,
                keepdims: bool = False) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def square(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def softplus(self) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor: ...
        def expand_dims(self, axis: int) -> Tensor: ...
        def clip(self, lo: float, hi: float) -> Tensor: ...
        def reshape(self, *shape: int | tuple[int, ...]) -> Tensor: ...
        def transpose(self, *axes: int | tuple[int, ...]) -> Tensor: ...
        def astype(self, dtype: DTypeLike) -> Tensor: ...

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        # the rows, as Tensors on the graph; a 0-d tensor is not iterable, as a 0-d ndarray is
        # not: matplotlib and np.ma test iter() to tell a number from a sequence
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float | int | bool:
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        """The data, for np.asarray, np.ma and matplotlib (NumPy's protocol: copy=True a copy,
        copy=False the data itself or ValueError, copy=None a copy only where a cast needs it)."""
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self.data.copy() if copy else self.data
        if copy is False:
            raise ValueError(f"Tensor of dtype {self.data.dtype} cannot be read as dtype "
                             f"{np.dtype(dtype)} without a copy, and copy=False was asked")
        return self.data.astype(dtype)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    __hash__ = object.__hash__

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor(self.data)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in `.grad` after backward() (e.g. a hidden state)."""
        if not self.requires_grad:
            raise ValueError("retain_grad() on a tensor that does not require grad")
        if self._node is not None:
            if self._node.retained is None:
                self._node.retained = {}
            self._node.retained[self._index] = self
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad: ArrayLike | Tensor | None = None,
                 retain_graph: bool = False) -> None:
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


def _backpropagate(root, index, grad, retain_graph):
    """Call the VJP of every node that a gradient reaches, each after all of its consumers.

    Nodes are numbered as they are recorded, and a node's inputs are recorded before it, so taking
    the highest-numbered waiting node first (a heap, no recursion) is a topological order. The
    gradients for a node wait in `grads` (an array, or one slot per output for a node with several
    outputs). A leaf's gradients are summed over the pass in a buffer of its own, then added to
    `.grad` once.
    """
    if root.outs is None:
        grads = {root: grad}
    else:
        grads = {root: [None] * len(root.outs)}
        grads[root][index] = grad
    leaves = {}  # id(leaf) -> [leaf, summed gradient, whether that array is ours to add into]
    heap = [(-root.seq, root)]
    while heap:
        node = heappop(heap)[1]
        out = grads.pop(node)
        if node.vjp is None:
            raise FreedGraphError(
                f"backward() through a graph that was already released (node '{node.name}'); "
                f"expected a live graph: pass retain_graph=True to the first backward() call")
        if node.outs is None:
            if node.retained:
                _accumulate(node.retained[0], out)
            in_grads = node.vjp(out)
        else:
            if node.retained:
                for i, kept in node.retained.items():
                    if out[i] is not None:
                        _accumulate(kept, out[i])
            # an output nobody used contributes a zero gradient
            in_grads = node.vjp(tuple(np.zeros(s, d) if g is None else g
                                      for g, (s, d) in zip(out, node.outs)))
        for tensor, g in zip(node.inputs, in_grads):
            if g is None or not tensor.requires_grad:
                continue
            parent = tensor._node
            if parent is None:
                _gather_leaf(leaves, tensor, g)
            elif parent.outs is None:
                held = grads.get(parent)
                if held is None:
                    grads[parent] = g
                    heappush(heap, (-parent.seq, parent))
                else:
                    grads[parent] = held + g
            else:
                slots = grads.get(parent)
                if slots is None:
                    slots = grads[parent] = [None] * len(parent.outs)
                    heappush(heap, (-parent.seq, parent))
                i = tensor._index
                slots[i] = g if slots[i] is None else slots[i] + g
        if not retain_graph:
            node.vjp = None
            node.inputs = None
            node.retained = None  # break the node <-> retained-tensor cycle so no gc is needed
    for leaf, total, owned in leaves.values():
        if leaf.grad is None:
            leaf.grad = total if owned else total.copy()  # never alias an array a VJP returned
        else:
            leaf.grad = leaf.grad + total


def _gather_leaf(leaves, leaf, g):
    """Add g to leaf's gradient of this pass, in the leaf's dtype."""
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    entry = leaves.get(id(leaf))  # by identity: a Tensor subclass may define == and no hash
    if entry is None:
        leaves[id(leaf)] = [leaf, g, False]
    elif entry[2]:
        entry[1] += g
    else:
        entry[1], entry[2] = entry[1] + g, True


_new = object.__new__
_NUMBERS = (float, int)  # Python numbers; bool, an int subclass, takes the general path


def _wrap(array):
    """A Tensor around a fresh ndarray result, skipping the checks of Tensor()."""
    t = _new(Tensor)
    t.data = array if isinstance(array, np.ndarray) else np.asarray(array)
    t.grad, t.requires_grad, t._node, t._index, t.name = None, False, None, 0, None
    return t


def as_tensor(value, dtype=None):
    """A Tensor for value (returned as is if it already is one)."""
    if isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value, dtype=dtype) if dtype is not None else value)


def _float_dtype(values):
    """The floating dtype an op computes in: that of its float Tensor inputs, else floatx."""
    dtype = None
    for v in values:
        if isinstance(v, Tensor) and v.data.dtype.kind == "f":
            d = v.data.dtype
            dtype = d if dtype is None or d == dtype else np.result_type(dtype, d)
    return np.dtype(_FLOATX) if dtype is None else dtype


def _cast_inputs(args):
    """Tensors for a primitive's inputs: float (and boolean) Tensors as they are, anything else
    (arrays, scalars, integer Tensors) cast to the op's float dtype."""
    dtype = _float_dtype(args)
    return [a if isinstance(a, Tensor) and a.data.dtype.kind in "fb"
            else _wrap(np.asarray(a.data if isinstance(a, Tensor) else a, dtype=dtype))
            for a in args]


def _outputs(value, vjp, inputs, needs_grad, name):
    """Tensors for a primitive's result (an array, or a tuple of them), with a node recording the
    call when a gradient is needed."""
    if not isinstance(value, tuple):
        out = _wrap(value)
        if needs_grad and _grad_enabled():
            out.requires_grad, out._node = True, Node(vjp, inputs, name)
        return out
    outputs = tuple(map(_wrap, value))
    if needs_grad and _grad_enabled():
        node = Node(vjp, inputs, name, tuple((o.data.shape, o.data.dtype) for o in outputs))
        for i, out in enumerate(outputs):
            out.requires_grad, out._node, out._index = True, node, i
    return outputs


# -- deferred calls ------------------------------------------------------------------------------
# An op called with an argument the engine does not compute with (a placeholder of a graph being
# built, say) may be taken over by a handler that a package above registers: handler(op, args,
# kwargs) returns the result, or NotImplemented to let the op run as usual. The engine never
# learns what the handlers stand for. Arguments are looked at only when a handler is registered,
# and for a primitive only off its fast path (where every input is a Tensor).
_DEFERRED_HANDLERS: list[Callable[[Callable, tuple, dict], Any]] = []
_PLAIN_TYPES = frozenset([Tensor, np.ndarray, int, float, bool, complex, str, bytes, type(None),
                          slice, type(Ellipsis), np.dtype, type])


def register_deferred_handler(handler: Callable[[Callable, tuple, dict], Any]) -> None:
    """Let handler(op, args, kwargs) take over op calls that have an argument other than a Tensor,
    an array, a number, a string, None or a slice (nested in lists, tuples or dicts)."""
    if not callable(handler):
        raise TypeError(f"register_deferred_handler expects a callable; got {handler!r}")
    if all(h is not handler for h in _DEFERRED_HANDLERS):
        _DEFERRED_HANDLERS.append(handler)


def unregister_deferred_handler(handler: Callable[[Callable, tuple, dict], Any]) -> None:
    """Undo register_deferred_handler (a handler not registered is ignored)."""
    _DEFERRED_HANDLERS[:] = [h for h in _DEFERRED_HANDLERS if h is not handler]


def _all_plain(values) -> bool:
    """Whether every leaf of values (nested lists, tuples, dicts) is something ops compute with."""
    for v in values:
        kind = type(v)
        if kind in _PLAIN_TYPES:
            continue
        if kind is list or kind is tuple:
            if not _all_plain(v):
                return False
        elif kind is dict:
            if not _all_plain(v.values()):
                return False
        elif not isinstance(v, (Tensor, np.ndarray, np.generic, np.dtype)):
            return False
    return True


def _deferred(op, args, kwargs):
    """A handler's result for this call, or NotImplemented when every argument is plain or no
    handler takes it."""
    if _all_plain(args) and (not kwargs or _all_plain(kwargs.values())):
        return NotImplemented
    for handler in tuple(_DEFERRED_HANDLERS):
        result = handler(op, args, kwargs)
        if result is not NotImplemented:
            return result
    return NotImplemented


def deferrable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Offer calls of fn (a public op that is not itself a primitive) to the deferred-call
    handlers before it runs. Primitives do this by themselves, off their fast path."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _DEFERRED_HANDLERS:
            result = _deferred(op, args, kwargs)
            if result is not NotImplemented:
                return result
        return fn(*args, **kwargs)
    return op


def primitive(fn: Callable[..., tuple] | None = None, *,
              cast: bool = True) -> Callable[..., Any]:
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
    name = fn.__name__

    def general(*args, **static):
        if _DEFERRED_HANDLERS:
            result = _deferred(op, args, static)
            if result is not NotImplemented:
                return result
        if n_inputs is not None and len(args) > n_inputs:
            if len(args) > n_inputs + len(static_names):
                raise TypeError(f"{name} takes {n_inputs + len(static_names)} positional "
                                f"arguments; got {len(args)}")
            static.update(zip(static_names, args[n_inputs:]))
            args = args[:n_inputs]
        if cast:
            inputs = _cast_inputs(args)
        else:
            inputs = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        value, vjp = fn(*[t.data for t in inputs], **static)
        return _outputs(value, vjp, inputs, any(t.requires_grad for t in inputs), name)

    # The common cases, kept short: one to three inputs, each a float Tensor (or, without cast, any
    # Tensor; a Python number beside one other Tensor), static arguments by keyword. Anything else
    # goes through `general`.
    n_fast = 2 if n_inputs is None else min(n_inputs, 3)

    def op(*args, **static):
        n = len(args)
        if n == 2 and n_fast == 2:
            a, b = args
            if type(a) is Tensor and type(b) is Tensor:
                if cast and (a.data.dtype.kind != "f" or b.data.dtype.kind != "f"):
                    return general(*args, **static)
            elif cast and type(a) is Tensor and type(b) in _NUMBERS and a.data.dtype.kind == "f":
                args = a, b = a, _wrap(np.asarray(b, a.data.dtype))   # x * 2.0: in x's dtype
            elif cast and type(b) is Tensor and type(a) in _NUMBERS and b.data.dtype.kind == "f":
                args = a, b = _wrap(np.asarray(a, b.data.dtype)), b
            else:
                return general(*args, **static)
            value, vjp = fn(a.data, b.data, **static) if static else fn(a.data, b.data)
            needs_grad = a.requires_grad or b.requires_grad
        elif n == 1 and n_fast:
            x = args[0]
            if type(x) is not Tensor or (cast and x.data.dtype.kind != "f"):
                return general(*args, **static)
            value, vjp = fn(x.data, **static) if static else fn(x.data)
            needs_grad = x.requires_grad
        elif n == 3 and n_fast == 3:
            a, b, c = args
            if not (type(a) is Tensor and type(b) is Tensor and type(c) is Tensor) or cast and (
                    a.data.dtype.kind != "f" or b.data.dtype.kind != "f" or c.data.dtype.kind != "f"):
                return general(*args, **static)
            value, vjp = fn(a.data, b.data, c.data, **static)
            needs_grad = a.requires_grad or b.requires_grad or c.requires_grad
        else:
            return general(*args, **static)
        if type(value) is not np.ndarray:
            return _outputs(value, vjp, args, needs_grad, name)
        # _outputs for one array, written out: the call to it was 5% of a small op's recording
        out = _new(Tensor)
        out.data, out.grad, out._index, out.name = value, None, 0, None
        if needs_grad and _grad_enabled():
            out.requires_grad, out._node = True, Node(vjp, args, name)
        else:
            out.requires_grad, out._node = False, None
        return out

    op = functools.wraps(fn)(op)
    op.raw = fn
    return op


def tensor(data: ArrayLike | Tensor, requires_grad: bool = False,
           dtype: DTypeLike | None = None) -> Tensor:
    """Make a Tensor. Python floats become floatx(); NumPy arrays keep their dtype unless dtype is given."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum grad over the axes that broadcasting added or stretched, so it has `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape)
                                       if n == 1 and grad.shape[extra + i] != 1)
    return grad.sum(axis=axes).reshape(shape) if axes else grad.reshape(shape)
