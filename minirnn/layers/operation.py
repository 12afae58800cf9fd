"""minirnn.ops called on symbolic tensors: the call becomes a node of the functional graph.

`ops.one_hot(inputs, 20)` or `x * 2` on a SymbolicTensor cannot compute anything yet, so the call
is recorded instead, as Keras 3 records an operation: an `OpLayer` holds the op and its
arguments, with a slot for each symbolic tensor, and running the model calls the op on the
concrete tensors in those slots, so gradients flow through it like through any primitive. The
engine hands such calls over through its deferred-call hook (tensor.register_deferred_handler);
it never learns about layers.

Like Keras, a functional model lists these nodes among its `operations`, not its `layers`.
"""
import builtins

import numpy as np

from .. import ops
from ..naming import to_snake_case
from ..tensor import Tensor, no_grad, register_deferred_handler
from .base import Layer, SymbolicTensor, _CallRecord, _unique_name, flatten

__all__ = ["OpLayer", "TensorSlot", "public_op_name", "keras_class_name", "encode_arguments",
           "decode_arguments"]

# Keras's class names for the ops minirnn names differently (the rest are the CamelCase of the
# op's name: one_hot -> OneHot); a node's name is the snake_case of its class, as in Keras.
_KERAS_CLASS_NAMES = {
    "add": "Add", "sub": "Subtract", "mul": "Multiply", "div": "Divide", "neg": "Negative",
    "pow": "Power", "abs": "Absolute", "getitem": "GetItem", "concat": "Concatenate",
}


def keras_class_name(op_name):
    """The class Keras gives the operation of this minirnn.ops name (shown by summary())."""
    return _KERAS_CLASS_NAMES.get(op_name) or "".join(p.capitalize() for p in op_name.split("_"))


_public_names = None


def public_op_name(fn):
    """The name under which `fn` is a public function of minirnn.ops (Keras's name preferred
    where two names hold one function, as `multiply` for `mul`), or None."""
    global _public_names
    if _public_names is None:
        from .. import conv_ops, ops_constant, ops_numpy  # the modules minirnn.ops serves
        names = {}
        for name in [*ops_numpy.__all__, *ops_constant.__all__, *ops.__all__, *conv_ops.__all__]:
            value = getattr(ops, name, None)
            if callable(value) and not isinstance(value, type):
                names.setdefault(id(value), name)
        _public_names = names
    return _public_names.get(id(fn))


class TensorSlot:
    """Where the k-th symbolic tensor of a recorded call goes."""
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"<tensor {self.index}>"


def _template(value, symbols, op_name):
    """value with each SymbolicTensor replaced by a TensorSlot (the tensor appended to symbols)."""
    if isinstance(value, SymbolicTensor):
        symbols.append(value)
        return TensorSlot(len(symbols) - 1)
    if isinstance(value, (list, tuple)):
        return type(value)(_template(v, symbols, op_name) for v in value)
    if isinstance(value, dict):
        return {k: _template(v, symbols, op_name) for k, v in value.items()}
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"minirnn.ops.{op_name} on symbolic tensors got a Tensor that requires "
                            f"grad (a weight?) as another argument; the graph could only keep its "
                            f"current value as a constant. Create the weight in a Layer instead")
        return value.data
    return value


def _fill(value, tensors):
    if isinstance(value, TensorSlot):
        return tensors[value.index]
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, tensors) for k, v in value.items()}
    return value


# -- the arguments in a config: JSON values, and tagged objects for the rest -----------------------

def encode_arguments(value, where):
    """Call arguments as JSON values: a TensorSlot, slice, Ellipsis, tuple or array as a tagged
    object."""
    if isinstance(value, TensorSlot):
        return {"__tensor__": value.index}
    if isinstance(value, builtins.slice):
        return {"__slice__": [encode_arguments(part, where)
                              for part in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_arguments(v, where) for v in value]}
    if isinstance(value, list):
        return [encode_arguments(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) and not k.startswith("__") for k in value):
            raise ValueError(f"{where}: a dict argument needs string keys not starting with '__'; "
                             f"got keys {list(value)}")
        return {k: encode_arguments(v, where) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{where}: an array argument of dtype {value.dtype} cannot be saved")
        return {"__array__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.dtype):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"{where}: an argument of type {type(value).__name__} ({value!r}) cannot be "
                     f"saved in a config")


def decode_arguments(value, where):
    """The arguments encode_arguments wrote."""
    if isinstance(value, list):
        return [decode_arguments(v, where) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        index = value["__tensor__"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"{where}: a tensor slot must be an int >= 0; got {index!r}")
        return TensorSlot(index)
    if "__slice__" in value:
        parts = value["__slice__"]
        if not (isinstance(parts, list) and len(parts) == 3):
            raise ValueError(f"{where}: a slice must be [start, stop, step]; got {parts!r}")
        return builtins.slice(*(decode_arguments(p, where) for p in parts))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__tuple__" in value:
        return tuple(decode_arguments(v, where) for v in value["__tuple__"])
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=np.dtype(value.get("dtype")))
    return {k: decode_arguments(v, where) for k, v in value.items()}


def _slots(value):
    if isinstance(value, TensorSlot):
        return [value.index]
    if isinstance(value, (list, tuple)):
        return [i for v in value for i in _slots(v)]
    if isinstance(value, dict):
        return [i for v in value.values() for i in _slots(v)]
    return []


class OpLayer(Layer):
    """One call of a minirnn.ops function in a functional graph (Keras's operation node).

    op: the function, or its public name in minirnn.ops. args, kwargs: the call's arguments, each
    symbolic tensor replaced by a slot; the layer is called with the list of tensors for the
    slots, and calls `op` with them in place. No weights; masks are not carried through.
    """
    autocast = False

    def __init__(self, op, args=(), kwargs=None, name=None, trainable=True, dtype=None,
                 op_name=None):
        if isinstance(op, str):
            op_name, function = op, _resolve_op(op, name)
        elif callable(op):
            op_name, function = op_name or public_op_name(op), op
        else:
            raise TypeError(f"OpLayer `op` must be a minirnn.ops function or its name; got {op!r}")
        label = op_name or getattr(function, "__name__", "op")
        self.op_name, self.function = op_name, function
        self.keras_class_name = keras_class_name(label)
        super().__init__(trainable=trainable, dtype=dtype,
                         name=name or _unique_name(to_snake_case(self.keras_class_name)))
        self.call_args, self.call_kwargs = tuple(args), dict(kwargs or {})
        found = sorted(_slots((self.call_args, self.call_kwargs)))
        if found != list(range(len(found))):
            raise ValueError(f"OpLayer '{self.name}': tensor slots must be numbered 0, 1, ... once "
                             f"each; got {found}")
        self.n_tensors = len(found)
        self.built = True

    @classmethod
    def from_call(cls, op, args, kwargs, op_name=None):
        """(layer, symbolic tensors) for the call op(*args, **kwargs); op_name: the name of op in
        minirnn.ops to record, where it has several."""
        symbols = []
        label = op_name or public_op_name(op) or getattr(op, "__name__", "op")
        args = _template(tuple(args), symbols, label)
        kwargs = _template(dict(kwargs), symbols, label)
        return cls(op, args, kwargs, op_name=op_name), symbols

    def _convert(self, x):
        return x  # the op checks and casts its own arguments

    def call(self, inputs):
        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(tensors) != self.n_tensors:
            raise ValueError(f"{self._describe()} takes {self.n_tensors} tensor(s); got "
                             f"{len(tensors)}")
        return self.function(*_fill(self.call_args, tensors), **_fill(self.call_kwargs, tensors))

    def _describe(self):
        return f"operation '{self.name}' (minirnn.ops.{self.op_name or self.function.__name__})"

    def _call_symbolic(self, inputs, args, kwargs):
        """Record the call; output shapes from two runs on small dummy tensors, every unknown
        size (the batch's included) 2 in one and 3 in the other."""
        if args or kwargs:
            raise TypeError(f"{self._describe()} is called with one list of tensors; got further "
                            f"arguments")
        symbols = flatten(inputs)
        runs = [self._dummy_run(symbols, fill) for fill in (2, 3)]
        leaves = [flatten(run) for run in runs]
        record = _CallRecord(self, args=(inputs,), kwargs={}, outputs=None)
        outputs = []
        for i, out in enumerate(leaves[0]):
            if not isinstance(out, Tensor):
                raise TypeError(f"{self._describe()} returned {type(out).__name__}, not a tensor: "
                                f"it cannot be a node of a functional model")
            other = leaves[1][i].shape
            shape = tuple(d if len(other) == len(out.shape) and other[j] == d else None
                          for j, d in enumerate(out.shape))
            outputs.append(SymbolicTensor(shape, out.dtype, record, i, False,
                                          name=f"{self.name}/output_{i}"))
        it = iter(outputs)
        record.outputs = _restructure(runs[0], it)
        self._inbound_records.append(record)
        return record.outputs

    def _dummy_run(self, symbols, fill):
        concrete = []
        for s in symbols:
            shape = tuple(fill if d is None else d for d in s.shape)
            concrete.append(Tensor(np.full(shape, 0.5, dtype=s.dtype) if s.dtype.kind == "f"
                                   else np.zeros(shape, dtype=s.dtype)))
        try:
            with no_grad(), np.errstate(all="ignore"):
                return self.call(concrete)
        except (ValueError, TypeError, IndexError) as error:
            described = ", ".join(f"{s.name} {s.shape} {s.dtype}" for s in symbols)
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"minirnn.ops.{self.op_name or self.function.__name__} cannot take these "
                       f"symbolic tensors ({described}) with the other arguments "
                       f"{self._arguments_text()}: {error}") from error

    def _arguments_text(self):
        return f"args={self.call_args!r}, kwargs={self.call_kwargs!r}"

    def get_config(self):
        if self.op_name is None:
            raise ValueError(f"{self._describe()} cannot be saved: its function is not a public "
                             f"function of minirnn.ops, so no file could name it")
        where = f"operation '{self.name}' (minirnn.ops.{self.op_name})"
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "op": self.op_name, "args": encode_arguments(list(self.call_args), where),
                "kwargs": encode_arguments(self.call_kwargs, where)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        where = f"operation '{config.get('name')}'"
        args, kwargs = config.pop("args", []), config.pop("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError(f"{where}: 'args' must be a list and 'kwargs' an object; got "
                             f"{args!r} and {kwargs!r}")
        return cls(args=decode_arguments(args, where), kwargs=decode_arguments(kwargs, where),
                   **config)


def _restructure(template, leaves):
    if isinstance(template, (list, tuple)):
        return type(template)(_restructure(t, leaves) for t in template)
    return next(leaves)


def _resolve_op(op_name, layer_name):
    """The minirnn.ops function a config names: minirnn's own only, by the loader's rules."""
    from ..saving import serialization  # late: saving sits above layers
    if not op_name.isidentifier() or op_name.startswith("_"):
        raise ValueError(f"operation '{layer_name}': {op_name!r} is not a public minirnn.ops name")
    function = serialization.resolve_function(f"minirnn.ops:{op_name}",
                                              f"operation '{layer_name}' op")
    if public_op_name(function) is None:
        raise ValueError(f"operation '{layer_name}': op {op_name!r} resolves to {function!r}, "
                         f"which is not a minirnn.ops function")
    return function


# -- the hook: an op call with a symbolic argument is recorded -----------------------------------

def _has_symbolic(value):
    if isinstance(value, SymbolicTensor):
        return True
    if isinstance(value, (list, tuple)):
        return builtins.any(_has_symbolic(v) for v in value)
    if isinstance(value, dict):
        return builtins.any(_has_symbolic(v) for v in value.values())
    return False


def record_operation(op, args, kwargs, op_name=None):
    """The deferred-call handler: op(*args, **kwargs) as a graph node when an argument is a
    SymbolicTensor (anywhere in lists, tuples, dicts), else NotImplemented."""
    if not (_has_symbolic(args) or _has_symbolic(kwargs)):
        return NotImplemented
    layer, symbols = OpLayer.from_call(op, args, kwargs, op_name)
    return layer(symbols)


register_deferred_handler(record_operation)


# -- SymbolicTensor's operators, as KerasTensor's: each records the op Keras records ---------------

def _binary(name):
    op = getattr(ops, name)
    return lambda self, other: record_operation(op, (self, other), {}, name)


def _reflected(name):
    op = getattr(ops, name)
    return lambda self, other: record_operation(op, (other, self), {}, name)


def _unary(name):
    op = getattr(ops, name)
    return lambda self: record_operation(op, (self,), {}, name)


SymbolicTensor.__array_ufunc__ = None  # `ndarray + symbolic` defers to the reflected operator
for _method, _name in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                       ("truediv", "true_divide"), ("matmul", "matmul"), ("pow", "power")):
    setattr(SymbolicTensor, f"__{_method}__", _binary(_name))
    setattr(SymbolicTensor, f"__r{_method}__", _reflected(_name))
for _method, _name in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                       ("ge", "greater_equal"), ("ne", "not_equal")):  # no __eq__, as in Keras:
    setattr(SymbolicTensor, f"__{_method}__", _binary(_name))     # == stays identity
SymbolicTensor.__neg__ = _unary("negative")
SymbolicTensor.__abs__ = _unary("abs")
SymbolicTensor.__getitem__ = lambda self, index: record_operation(ops.getitem, (self, index), {},
                                                                  "getitem")


def _no_value(what):
    def refuse(self, *args):
        raise TypeError(f"{self!r} is symbolic, a placeholder for a shape and a dtype with no "
                        f"values yet: it cannot be used as {what}")
    return refuse


SymbolicTensor.__bool__ = _no_value("a boolean")
SymbolicTensor.__iter__ = _no_value("an iterable")
SymbolicTensor.__array__ = _no_value("a NumPy array")
