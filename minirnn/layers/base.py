"""Layer: Keras's layer API over minirnn Tensors, and the symbolic tensors of the functional API.

A layer creates its weights in `build(input_shape)` with `add_weight`, computes in `call`, and is
called like a function. Calling a layer on a `SymbolicTensor` (from `Input`) records the call
instead, which is how functional models are built.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import initializers, ops
from ..checks import (as_checked_array, as_checked_text_array, check_array, check_bool,
                      check_choice, check_unimplemented, is_text)
from ..hints import ArrayLike, DTypeLike, InitializerLike, Shape
from ..naming import to_snake_case
from ..tensor import Tensor, floatx, no_grad
from .collector import gc_paused
from .masks import get_mask, set_mask

__all__ = ["Layer", "InputSpec", "SymbolicTensor", "LayerNotCalledError",
           "map_structure", "flatten", "is_string_dtype"]

_NAME_COUNTS = {}
_NAME_LOCK = threading.Lock()  # layers made in several threads at once still get distinct names
# The flags of the layer call in progress belong to each thread (and asyncio task), as grad mode
# does (see tensor.py); a new thread starts with neither set.
_TRAINING = contextvars.ContextVar("minirnn_training", default=None)
_TRACING = contextvars.ContextVar("minirnn_tracing", default=False)


def _unique_name(base):
    with _NAME_LOCK:
        count = _NAME_COUNTS.get(base, 0)
        _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def map_structure(fn, obj):
    """Apply fn to every leaf of nested lists/tuples/dicts, keeping the structure."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_structure(fn, o) for o in obj)
    if isinstance(obj, dict):
        return {k: map_structure(fn, v) for k, v in obj.items()}
    return fn(obj)


def flatten(obj):
    """The leaves of nested lists/tuples/dicts, in order."""
    if isinstance(obj, (list, tuple)):
        return [leaf for o in obj for leaf in flatten(o)]
    if isinstance(obj, dict):
        return [leaf for v in obj.values() for leaf in flatten(v)]
    return [obj]


def _flatten_sorted(obj):
    if isinstance(obj, (list, tuple)):
        return [leaf for o in obj for leaf in _flatten_sorted(o)]
    if isinstance(obj, dict):
        return [leaf for key in sorted(obj) for leaf in _flatten_sorted(obj[key])]
    return [obj]


def _is_tensor_argument(value):
    """Whether Keras counts a call argument as a tensor one: an array (or Tensor), or a non-empty
    nest whose leaves are all arrays or None (an `initial_state=[h, c]` list)."""
    if isinstance(value, (list, tuple, dict)):
        leaves = flatten(value)
        return bool(leaves) and all(v is None or _is_tensor_argument(v) for v in leaves)
    return isinstance(value, (Tensor, SymbolicTensor)) or hasattr(value, "__array__")


def _single_tensor_argument(inputs, args, kwargs):
    """Whether a call has one tensor argument, the only case where Keras hands the inputs' mask to
    `call`: beside a second tensor (`initial_state`, a second input) the layer runs unmasked, though
    its output still carries the mask computed from the first input's."""
    given = [inputs, *args, *(v for k, v in kwargs.items() if k not in ("mask", "training"))]
    return sum(_is_tensor_argument(v) for v in given) == 1


def is_training():
    """The training flag of this thread's layer call in progress (False outside any)."""
    return bool(_TRAINING.get())


def is_tracing():
    """True while this thread builds a functional model and infers shapes with a dummy batch:
    layers must not keep state."""
    return _TRACING.get()


class InputSpec:
    """What a layer accepts: rank (`ndim` or `min_ndim`) and fixed sizes of some axes."""

    def __init__(self, ndim=None, min_ndim=None, axes=None, description=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})
        self.description = description

    def check(self, layer, shape):
        expected = self.description or (f"rank {self.ndim}" if self.ndim is not None else
                                         f"rank >= {self.min_ndim}")
        if self.ndim is not None and len(shape) != self.ndim or \
                self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(f"{type(layer).__name__} '{layer.name}' expects input of shape "
                             f"{expected}; got shape {tuple(shape)}")
        for axis, size in self.axes.items():
            got = shape[axis] if -len(shape) <= axis < len(shape) else None
            if size is not None and got is not None and got != size:
                raise ValueError(f"{type(layer).__name__} '{layer.name}' expects input of shape "
                                 f"{expected} with size {size} on axis {axis} (as when it was "
                                 f"built); got shape {tuple(shape)}")


class SymbolicTensor:
    """A placeholder in a functional model: a shape with None for unknown sizes, and the layer
    call that produced it (None for an Input, whose InputLayer is `input_layer`)."""

    def __init__(self, shape, dtype, producer=None, index=0, has_mask=False, name=None):
        self.shape, self.dtype = tuple(shape), _symbolic_dtype(dtype)
        self.producer, self.index, self.has_mask, self.name = producer, index, has_mask, name
        self.input_layer = None

    ndim = property(lambda self: len(self.shape))

    @property
    def node(self):
        """The call that made this tensor: a layer call, an InputLayer's own record, or None for a
        tensor made by hand."""
        if self.producer is not None:
            return self.producer
        return self.input_layer._inbound_records[0] if self.input_layer is not None else None

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} name={self.name}>"


def _symbolic_dtype(dtype):
    """NumPy's dtype for a symbolic tensor; text of any kind ("string", as Keras names it, str,
    bytes, object) is NumPy's object dtype, which holds str and bytes of any length."""
    if dtype is str or dtype is bytes or isinstance(dtype, str) and dtype in ("string", "str", "bytes"):
        return np.dtype(object)
    dtype = np.dtype(dtype)
    return np.dtype(object) if dtype.kind in "USO" else dtype


def is_string_dtype(dtype):
    """Whether a symbolic tensor of this dtype holds text (see _symbolic_dtype)."""
    return np.dtype(dtype).kind == "O"


class _CallRecord:
    """One layer call in a functional graph: the arguments (holding SymbolicTensors) and outputs.
    An InputLayer has one record with no arguments, whose output is its tensor."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs

    @property
    def inputs(self):
        return [x for x in flatten((self.args, self.kwargs)) if isinstance(x, SymbolicTensor)]

    @property
    def input_tensors(self):
        """The SymbolicTensors among the arguments in Keras's order: keyword arguments by sorted
        name, as Keras's tree.flatten walks a dict (this order decides a model's `layers`)."""
        return [x for x in _flatten_sorted((self.args, self.kwargs)) if isinstance(x, SymbolicTensor)]

    @property
    def is_input(self):
        return not self.input_tensors


class LayerNotCalledError(AttributeError, ValueError):
    """`layer.input` / `layer.output` of a layer never called on symbolic tensors. An
    AttributeError as in Keras (so hasattr() answers False), and a ValueError for bad use."""


class Layer:
    """Base class of every layer. Subclasses override `build(input_shape)` and `call(inputs, ...)`.

    Weights created with `add_weight` and sublayers assigned as attributes are tracked
    automatically; `weights` lists own trainable, own non-trainable, then sublayers' weights.

    Arguments every layer takes (a subclass passes them on through **kwargs):
    trainable: whether the layer's weights are updated by training (`trainable_weights`).
    name: the layer's name; None makes a unique one from the class name (`dense`, `dense_1`).
    dtype: the dtype of the layer's weights and computations; None means `floatx()`.
    input_shape: the shape of one sample (no batch axis), Keras 2's way to give a Sequential
        model's first layer its input; `input_dim=n` means `input_shape=(n,)`, and
        `batch_input_shape` is the shape with the batch axis first (which is dropped).
    autocast: True (as Keras): integer and floating inputs are cast to the layer's dtype on the
        way in; False leaves them as they came.
    activity_regularizer: Keras's penalty on the layer's output; minirnn does not implement
        regularizers, so only the default None is accepted (UnsupportedArgumentError otherwise).
    """
    supports_masking = False
    autocast = True  # float inputs are cast to the layer's dtype, as Keras does
    activity_regularizer = None  # Keras's attribute; minirnn takes no regularizer
    accepts_strings = False  # text inputs are refused unless a layer declares it reads them

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:  # build() called directly marks the layer built, as in Keras
            user_build = cls.__dict__["build"]

            # wraps: the user's name, docstring and annotations (get_type_hints reads them
            # through __wrapped__, in the user's module)
            @functools.wraps(user_build)
            def build(self, input_shape=None, _build=user_build):
                _build(self, input_shape)
                self.built = True
            cls.build = build

    def __init__(self, trainable: bool = True, name: str | None = None,
                 dtype: DTypeLike | None = None, input_shape: Shape | None = None,
                 input_dim: int | None = None, batch_input_shape: Shape | None = None, *,
                 activity_regularizer: None = None, autocast: bool = True,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments "
                            f"{sorted(kwargs)}")
        check_unimplemented(activity_regularizer,
                            f"{type(self).__name__} argument `activity_regularizer`",
                            feature="regularizers")
        if not check_bool(autocast, f"{type(self).__name__} argument `autocast`"):
            self.autocast = False  # a class's own default (Embedding's False) stays otherwise
        object.__setattr__(self, "_layers", [])
        self._own_weights = []
        self._inbound_records = []  # every symbolic call of this layer, first call first
        self._trainable = check_bool(trainable, f"{type(self).__name__} `trainable`")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__} `name` must be a string or None; got {name!r} "
                            f"of type {type(name).__name__}")
        self.name = name or _unique_name(to_snake_case(type(self).__name__))
        self.dtype = str(np.dtype(dtype or floatx()))
        self.built = False
        self.input_spec = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        signature = inspect.signature(self.call).parameters
        self._call_takes = {k for k in ("mask", "training") if k in signature}

    # -- tracking ---------------------------------------------------------------------------
    def __setattr__(self, name, value):
        layers = self.__dict__.get("_layers")
        if layers is not None:
            candidates = value if isinstance(value, (list, tuple)) else [value]
            for item in candidates:
                if isinstance(item, Layer) and item is not self and all(item is not l for l in layers):
                    layers.append(item)
        object.__setattr__(self, name, value)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def trainable_weights(self):
        if not self._trainable:  # frozen: its sublayers too, even those added since (as Keras)
            return []
        own = [w for w, t in self._own_weights if t]
        return unique_by_identity(own + [w for l in self._layers for w in l.trainable_weights])

    @property
    def non_trainable_weights(self):
        own = [w for w, t in self._own_weights if not (t and self._trainable)]
        sub = [w for l in self._layers for w in (l.non_trainable_weights
                                                 if self._trainable or not l._trainable
                                                 else l.weights)]
        return unique_by_identity(own + sub)

    @property
    def weights(self):
        own = [w for w, t in self._own_weights if t] + [w for w, t in self._own_weights if not t]
        return unique_by_identity(own + [w for l in self._layers for w in l.weights])

    trainable_variables = trainable_weights
    variables = weights

    def add_weight(self, shape: Shape | None = None, initializer: InitializerLike | None = None,
                   trainable: bool = True, name: str | None = None,
                   dtype: DTypeLike | None = None, *, autocast: bool = True,
                   regularizer: None = None, constraint: None = None, aggregation: str = "none",
                   overwrite_with_gradient: bool = False) -> Tensor:
        """Create a weight Tensor of `shape`, filled by `initializer` (name, object or callable;
        None: glorot_uniform), in `dtype` (None: the layer's).

        Keras's other arguments: `autocast` and `aggregation` (one of Keras's "none", "mean",
        "sum", "only_first_replica", or None) concern mixed precision and replicas, which
        minirnn has not: any of their values is accepted and changes nothing. `regularizer`,
        `constraint` and `overwrite_with_gradient` are not implemented: only their defaults are
        accepted (UnsupportedArgumentError otherwise)."""
        what = f"{self._describe()}.add_weight() argument `{{}}`".format
        check_unimplemented(regularizer, what("regularizer"), feature="regularizers")
        check_unimplemented(constraint, what("constraint"), feature="constraints")
        check_unimplemented(overwrite_with_gradient, what("overwrite_with_gradient"), False)
        check_bool(autocast, what("autocast"))
        if aggregation is not None:
            check_choice(aggregation, what("aggregation"),
                         ["none", "mean", "sum", "only_first_replica"])
        shape = () if shape is None else tuple(int(s) for s in shape)
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        dtype = np.dtype(dtype or self.dtype)
        value = np.array(init(shape, dtype=dtype), dtype=dtype, order="C")  # own, C-ordered copy
        if value.shape != shape:
            raise ValueError(f"initializer for weight '{name}' of {self.name} returned shape "
                             f"{value.shape}; expected {shape}")
        weight = Tensor(value, requires_grad=dtype.kind == "f", name=f"{self.name}/{name or 'weight'}")
        self._own_weights.append((weight, bool(trainable)))
        return weight

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays, in `weights` order."""
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Assign NumPy arrays to the weights; all are checked before any is changed."""
        current = self.weights
        weights = list(weights)
        expected = [w.shape for w in current]
        if len(weights) != len(current):
            raise ValueError(f"{self.name}.set_weights expects {len(current)} arrays of shapes "
                             f"{expected}; got {len(weights)} arrays of shapes "
                             f"{[np.shape(w) for w in weights]}")
        # every value checked (dtype kind, then shape) before the first is assigned
        weights = [as_checked_array(value, f"{self.name}.set_weights: weight {i} ('{w.name}')")
                   for i, (w, value) in enumerate(zip(current, weights))]
        for i, (w, value) in enumerate(zip(current, weights)):
            if np.shape(value) != w.shape:
                raise ValueError(f"{self.name}.set_weights: weight {i} ('{w.name}') expects shape "
                                 f"{w.shape}; got {np.shape(value)}. Expected shapes: {expected}")
        for w, value in zip(current, weights):
            w.data[...] = np.asarray(value, dtype=w.data.dtype)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"{self.name} is not built yet: call it on an input or build() it first")
        return int(sum(w.size for w in self.weights))

    # -- building and calling ---------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def _maybe_build(self, inputs):
        if self.built:
            return
        self._check_inputs(inputs)
        self.build(map_structure(lambda t: tuple(t.shape), inputs))
        self.built = True

    def _check_inputs(self, inputs):
        if self.input_spec is not None:
            for t in flatten(inputs):
                self.input_spec.check(self, t.shape)

    def _describe(self):
        return f"{type(self).__name__} '{self.name}'"

    def _convert(self, x):
        """An input as a Tensor of the layer's dtype. The one dtype check of every entry point:
        complex (whose imaginary part a cast would drop), string and object arrays are refused,
        except by a layer that `accepts_strings`, which gets text as an object array."""
        if self.accepts_strings and is_text(x.data if isinstance(x, Tensor) else x):
            return x if isinstance(x, Tensor) else Tensor(as_checked_text_array(x, self._describe()))
        if isinstance(x, Tensor):
            check_array(x.data, self._describe())
            if self.autocast and x.dtype.kind in "iuf" and x.dtype != self.dtype:
                cast = ops.cast(x, self.dtype)
                set_mask(cast, get_mask(x))  # a cast must not drop the mask
                return cast
            return x
        if x is None or isinstance(x, bool):
            return x
        array = as_checked_array(x, self._describe())
        if self.autocast and array.dtype.kind in "iuf":
            array = array.astype(self.dtype, copy=False)
        return Tensor(array)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Run the layer on `inputs` (Tensors, arrays, or a structure of them), building it on the
        first call; on SymbolicTensors (from `Input`), record the call in a functional graph.
        `training` and `mask` reach `call` when it takes them."""
        if any(isinstance(x, SymbolicTensor) for x in flatten((inputs, args, kwargs))):
            return self._call_symbolic(inputs, args, kwargs)
        inputs = map_structure(self._convert, inputs)
        self._maybe_build(inputs)  # checks the input spec before building
        self._check_inputs(inputs)
        mask = kwargs.get("mask")
        if mask is None:  # the masks the inputs carry, as Keras passes them on
            carried = map_structure(get_mask, inputs)
            if any(m is not None for m in flatten(carried)):
                mask = carried
                if "mask" in self._call_takes and _single_tensor_argument(inputs, args, kwargs):
                    kwargs["mask"] = mask
        previous = _TRAINING.get()
        training = kwargs.get("training")
        if "training" in self._call_takes:
            if training is None:
                training = bool(previous)
            kwargs["training"] = training
        elif "training" in kwargs:
            training = kwargs.pop("training")
        if training is not None:
            _TRAINING.set(training)
        try:
            with gc_paused():  # a Python loop over timesteps records many nodes
                outputs = self.call(inputs, *args, **kwargs)
        finally:
            _TRAINING.set(previous)
        out_mask = self.compute_mask(inputs, mask)
        if out_mask is not None:
            for t, m in zip(flatten(outputs), flatten(out_mask)):
                if isinstance(t, Tensor):
                    set_mask(t, m)
        return outputs

    def _call_symbolic(self, inputs, args, kwargs):
        """Record this call in a functional graph; infer output shapes from a dummy batch."""
        symbols = [x for x in flatten((inputs, args, kwargs)) if isinstance(x, SymbolicTensor)]
        if not self.built:
            probe = map_structure(lambda s: _Shaped(s.shape), inputs)
            self._maybe_build(probe)
        # unknown sizes are filled with 2, and again with 3 to see which output sizes follow them;
        # text is unknown too: how many tokens a string holds depends on its content
        unknown = any(d is None for s in symbols for d in s.shape[1:]) or \
            any(is_string_dtype(s.dtype) for s in symbols)
        runs = [self._dummy_call(inputs, args, kwargs, fill) for fill in ((2, 3) if unknown else (2,))]
        leaves = [flatten(r) for r in runs]
        record = _CallRecord(self, args=(inputs,) + tuple(args), kwargs=kwargs, outputs=None)
        outputs = []
        for i, out in enumerate(leaves[0]):
            shapes = [leaf[i].shape for leaf in leaves]
            shape = (None,) + tuple(d if all(s[j + 1] == d for s in shapes) else None
                                    for j, d in enumerate(out.shape[1:]))
            outputs.append(SymbolicTensor(shape, out.dtype, record, i, get_mask(out) is not None,
                                          name=f"{self.name}/output_{i}"))
        it = iter(outputs)
        record.outputs = map_structure(lambda _: next(it), runs[0])
        self._inbound_records.append(record)
        return record.outputs

    def _dummy_call(self, inputs, args, kwargs, fill):
        def dummy(x):
            if not isinstance(x, SymbolicTensor):
                return x
            shape = (2,) + tuple(fill if d is None else d for d in x.shape[1:])
            if is_string_dtype(x.dtype):  # `fill` words, so a text layer's token axis varies too
                t = Tensor(np.full(shape, " ".join(["a"] * fill), dtype=object))
            else:
                t = Tensor(np.zeros(shape, dtype=x.dtype) if x.dtype.kind not in "f"
                           else np.full(shape, 0.5, dtype=x.dtype))
            if x.has_mask:
                set_mask(t, np.ones(shape[:2], dtype=bool))
            return t
        previous = _TRACING.get()
        _TRACING.set(True)
        try:
            with no_grad():
                return self(map_structure(dummy, inputs), *map_structure(dummy, list(args)),
                            **{**map_structure(dummy, kwargs), **({"training": False}
                               if "training" in self._call_takes else {})})
        finally:
            _TRACING.set(previous)

    # -- the symbolic calls -----------------------------------------------------------------
    @property
    def input(self):
        """The input tensor(s) of this layer's first symbolic call: one SymbolicTensor, or the list
        of all of them (keyword arguments such as initial_state included), as Keras gives."""
        return self._node_attribute(0, "input")

    @property
    def output(self):
        """The output tensor(s) of this layer's first symbolic call: one SymbolicTensor, or the
        list of them (an RNN with return_state=True gives [output, *states])."""
        return self._node_attribute(0, "output")

    def get_input_at(self, node_index):
        """The input tensor(s) of this layer's symbolic call number `node_index` (0 = first)."""
        return self._node_attribute(node_index, "input")

    def get_output_at(self, node_index):
        """The output tensor(s) of this layer's symbolic call number `node_index` (0 = first)."""
        return self._node_attribute(node_index, "output")

    def _node_attribute(self, node_index, what):
        records = self._inbound_records
        if not records:
            raise LayerNotCalledError(
                f"{self._describe()} has never been called on symbolic tensors (an Input or a "
                f"layer's output) and thus has no defined {what}")
        if isinstance(node_index, bool) or not isinstance(node_index, (int, np.integer)):
            raise TypeError(f"{self._describe()}: node_index must be an int; got "
                            f"{node_index!r} of type {type(node_index).__name__}")
        if not 0 <= node_index < len(records):
            raise ValueError(f"{self._describe()}: asked for the {what} of call {node_index}, but "
                             f"the layer was called {len(records)} time(s) on symbolic tensors")
        record = records[node_index]
        values = record.input_tensors if what == "input" else flatten(record.outputs)
        return values[0] if len(values) == 1 else values

    # -- configuration ----------------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._input_shape_arg is not None:
            config["input_shape"] = list(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _Shaped:
    """Stands in for a tensor when only its shape is needed (building from symbolic shapes)."""

    def __init__(self, shape):
        self.shape = tuple(shape)


def unique_by_identity(items):
    """items without repeats, in first-seen order (compared by identity: Tensors compare by value)."""
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out

