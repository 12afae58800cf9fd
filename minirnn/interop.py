"""PyTorch state_dicts to and from minirnn's recurrent layers, with NumPy alone.

`from_torch(layer, state_dict)` loads the weights of a PyTorch ``nn.RNN`` / ``nn.LSTM`` /
``nn.GRU`` into a minirnn `SimpleRNN` / `LSTM` / `GRU` (or a `Bidirectional` over one, or a list
of them for a module with ``num_layers > 1``); `to_torch(layer)` gives the state_dict back, as
NumPy arrays in PyTorch's shapes (``torch.from_numpy`` or ``load_state_dict`` takes them). torch
is never imported here: its tensors are read through their own ``.detach().cpu().numpy()``.

Which layer takes which module
    ``nn.RNN(nonlinearity="tanh")``  ->  ``SimpleRNN(units, activation="tanh")``
    ``nn.RNN(nonlinearity="relu")``  ->  ``SimpleRNN(units, activation="relu")``
    ``nn.LSTM``                      ->  ``LSTM(units)`` (activation tanh, recurrent_activation sigmoid)
    ``nn.GRU``                       ->  ``GRU(units, reset_after=True)`` (the same activations)
    ``bidirectional=True``           ->  ``Bidirectional(layer)`` (merge_mode "concat" gives
                                         PyTorch's output)
    ``num_layers=n``                 ->  a list of n such layers, ``[layer_0, ..., layer_{n-1}]``
    ``bias=False``                   ->  ``use_bias=False``
A state_dict does not record an nn.RNN's nonlinearity: pass ``nonlinearity="relu"`` (or the
module itself, whose ``mode`` says) to have it checked against the layer's activation.
``batch_first`` does not touch the weights: minirnn's layers take (batch, timesteps, features),
as PyTorch's with ``batch_first=True``. Options such as ``go_backwards`` or ``return_sequences``
are the layer's own; only weights move.

Keys (layer k, ``_reverse`` for the backward direction of a bidirectional module)
    ``weight_ih_l{k}``  (gates * units, input)    the input weights
    ``weight_hh_l{k}``  (gates * units, units)    the recurrent weights
    ``bias_ih_l{k}``    (gates * units,)          the input bias        (absent with bias=False)
    ``bias_hh_l{k}``    (gates * units,)          the recurrent bias    (absent with bias=False)

Layout, PyTorch -> Keras (= minirnn's get_weights)
    kernel           = weight_ih.T       (input, gates * units): PyTorch computes x @ W.T
    recurrent_kernel = weight_hh.T       (units, gates * units)
    SimpleRNN, LSTM: bias = bias_ih + bias_hh. The two biases are only ever added, so Keras keeps
        one. LSTM gates come in the same order on both sides: i, f, g (Keras's c), o.
    GRU: PyTorch orders the gates r, z, n, Keras z, r, h: the first two blocks of units swap, in
        the weights and in the biases. PyTorch's candidate is n = tanh(W_in x + b_in + r * (W_hn h
        + b_hn)), the recurrent bias inside the reset product: that is Keras's
        ``reset_after=True``, whose bias has shape (2, 3 * units), row 0 the input bias and row 1
        the recurrent one. So bias[0] = bias_ih and bias[1] = bias_hh, each reordered.
        ``GRU(reset_after=False)`` (reset before the recurrent matmul) computes another function
        and cannot take a PyTorch GRU.

Keras -> PyTorch (`to_torch`) undoes the same steps. Its one choice: a SimpleRNN's or LSTM's single
bias goes to bias_ih, and bias_hh is zeros (any split with the same sum computes the same).

Bad input (missing or unexpected keys, wrong shapes, another kind of cell, a nonlinearity or a bias
setting that does not match) raises ValueError naming the key, what was expected and what came,
before any weight changes or any unbuilt layer is built.
"""
from collections.abc import Mapping

import numpy as np

from . import activations
from .checks import as_checked_array
from .layers.base import _Shaped
from .layers import GRU, LSTM, RNN, Bidirectional, SimpleRNN

__all__ = ["from_torch", "to_torch"]

_TANH, _RELU, _SIGMOID = (activations.get(name) for name in ("tanh", "relu", "sigmoid"))
_MODES = {"RNN_TANH": (SimpleRNN, "tanh"), "RNN_RELU": (SimpleRNN, "relu"),
          "LSTM": (LSTM, None), "GRU": (GRU, None)}
_KIND_BY_GATES = {1: "an RNN (1 gate)", 3: "a GRU (3 gates)", 4: "an LSTM (4 gates)"}
_WITH_ARTICLE = {SimpleRNN: "a SimpleRNN", LSTM: "an LSTM", GRU: "a GRU"}


# -- what a torch module's layer is, in minirnn's terms --------------------------------------

def _describe(layer):
    return f"{type(layer).__name__} '{layer.name}'"


def _a(cell):
    """ "an LSTM", "a GRU", "a SimpleRNN" (the cell's minirnn class)."""
    return next(text for kind, text in _WITH_ARTICLE.items() if isinstance(cell, kind))


def _nonlinearity(layer):
    """"tanh" or "relu" for a SimpleRNN PyTorch can express, else None."""
    return {_TANH: "tanh", _RELU: "relu"}.get(layer.activation)


def _check_torch_cell(layer, what):
    """Refuse a recurrent layer that no PyTorch module computes."""
    if not isinstance(layer, (SimpleRNN, LSTM, GRU)):
        raise TypeError(f"{what} must be a SimpleRNN, LSTM, GRU or Bidirectional over one; got "
                        f"{layer!r} of type {type(layer).__name__}")
    name = _describe(layer)
    if isinstance(layer, SimpleRNN):
        if _nonlinearity(layer) is None:
            raise ValueError(f"{name} has activation {layer.cell._activation_names[0]!r}; PyTorch's "
                             f"nn.RNN has nonlinearity 'tanh' or 'relu' only")
        return
    if layer.activation is not _TANH or layer.recurrent_activation is not _SIGMOID:
        raise ValueError(f"{name} has activation {layer.cell._activation_names[0]!r} and "
                         f"recurrent_activation {layer.cell._activation_names[1]!r}; PyTorch's "
                         f"nn.{type(layer).__name__} uses 'tanh' and 'sigmoid' only")
    if isinstance(layer, GRU) and not layer.reset_after:
        raise ValueError(f"{name} has reset_after=False; PyTorch's nn.GRU applies the reset gate "
                         f"after the recurrent matmul (b_hn inside the reset product), which is "
                         f"GRU(reset_after=True): build the layer with reset_after=True")


def _cell_signature(layer):
    """What must agree between layers (and directions) that one PyTorch module holds."""
    return type(layer), layer.units, layer.use_bias, _nonlinearity(layer)


def _directions(layer, what):
    """[(recurrent layer, key suffix)] of one PyTorch layer: one direction, or two."""
    if isinstance(layer, Bidirectional):
        pairs = [(layer.forward_layer, ""), (layer.backward_layer, "_reverse")]
    elif isinstance(layer, RNN):
        pairs = [(layer, "")]
    else:
        raise TypeError(f"{what} must be a SimpleRNN, LSTM, GRU or Bidirectional over one (or a "
                        f"list of them); got {layer!r} of type {type(layer).__name__}")
    for direction, _ in pairs:
        _check_torch_cell(direction, what)
    if len(pairs) == 2:
        fw, bw = layer.forward_layer, layer.backward_layer
        if _cell_signature(fw) != _cell_signature(bw):
            raise ValueError(f"{_describe(layer)}: a bidirectional PyTorch module has one cell "
                             f"for both directions; got forward {_describe(fw)} (units="
                             f"{fw.units}, use_bias={fw.use_bias}) and backward {_describe(bw)} "
                             f"(units={bw.units}, use_bias={bw.use_bias})")
    return pairs


def _stack(layer_or_list, what):
    """(layers, [[(recurrent layer, key suffix)] for each PyTorch layer l0, l1, ...]), checked to
    be one PyTorch module: one kind of cell, one number of units, one bias setting, one direction
    count, both directions concatenated between layers. (Input widths: `_input_widths`.)"""
    layers = list(layer_or_list) if isinstance(layer_or_list, (list, tuple)) else [layer_or_list]
    if not layers:
        raise ValueError(f"{what} must be a recurrent layer or a non-empty list of them; got an "
                         f"empty {type(layer_or_list).__name__}")
    stack = [_directions(layer, what) for layer in layers]
    signature = (_cell_signature(stack[0][0][0]), len(stack[0]))
    for k, (layer, directions) in enumerate(zip(layers, stack)):
        if (_cell_signature(directions[0][0]), len(directions)) != signature:
            raise ValueError(
                f"{what}: the layers of one PyTorch module share their cell, units, bias and "
                f"directions; layer 0 is {_summary(layers[0], stack[0])}, layer {k} is "
                f"{_summary(layer, directions)}")
        if k and isinstance(layers[k - 1], Bidirectional) and layers[k - 1].merge_mode != "concat":
            raise ValueError(f"{what}: layer {k - 1} {_describe(layers[k - 1])} has merge_mode "
                             f"{layers[k - 1].merge_mode!r}; between stacked layers PyTorch "
                             f"concatenates both directions (merge_mode='concat')")
    return layers, stack


def _summary(layer, directions):
    cell = directions[0][0]
    return (f"{_describe(layer)} ({type(cell).__name__}, units={cell.units}, use_bias="
            f"{cell.use_bias}{', ' + _nonlinearity(cell) if _nonlinearity(cell) else ''}, "
            f"{len(directions)} direction{'s' if len(directions) == 2 else ''})")


# -- gate order --------------------------------------------------------------------------------

def _swap_gru_gates(array, units):
    """PyTorch r, z, n <-> Keras z, r, h along axis 0 (the same swap both ways)."""
    return np.concatenate([array[units:2 * units], array[:units], array[2 * units:]], axis=0)


def _reorder(cell, array):
    return _swap_gru_gates(array, cell.units) if isinstance(cell, GRU) else array


# -- from PyTorch ----------------------------------------------------------------------------

def _as_numpy(value, key):
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, duck-typed
        value = value.detach().cpu().numpy()
    return as_checked_array(value, f"state_dict[{key!r}]")


def _unwrap_module(source, nonlinearity):
    """(the state_dict Mapping, the cell type and nonlinearity the source claims (None, None when
    it claims nothing), a phrase naming who claims it, for messages).

    `source` is a state_dict, or a module with .state_dict() whose .mode names its cell."""
    mode = None
    if not isinstance(source, Mapping) and callable(getattr(source, "state_dict", None)):
        mode = getattr(source, "mode", None)  # an nn.RNN / nn.LSTM / nn.GRU, duck-typed
        if mode is not None and mode not in _MODES:
            raise ValueError(f"from_torch takes an nn.RNN, nn.LSTM or nn.GRU; got a module of "
                             f"mode {mode!r} (known: {sorted(_MODES)})")
        source = source.state_dict()
    if not isinstance(source, Mapping):
        raise TypeError(f"from_torch argument `state_dict` must be a mapping of names to arrays "
                        f"(a PyTorch state_dict) or an nn.RNN / nn.LSTM / nn.GRU; got "
                        f"{type(source).__name__}")
    cell_type, mode_nonlinearity = _MODES[mode] if mode is not None else (None, None)
    if nonlinearity is not None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"from_torch argument `nonlinearity` must be None, 'tanh' or 'relu' "
                             f"(an nn.RNN's); got {nonlinearity!r}")
        if cell_type not in (None, SimpleRNN) or mode_nonlinearity not in (None, nonlinearity):
            raise ValueError(f"from_torch argument `nonlinearity` is {nonlinearity!r} but the "
                             f"module's mode is {mode!r}")
        cell_type, mode_nonlinearity = SimpleRNN, nonlinearity
    claim = (f"from_torch argument `nonlinearity`={nonlinearity!r} says" if nonlinearity else
             f"the module's mode {mode!r} says")
    return source, cell_type, mode_nonlinearity, claim


def _expected_keys(stack):
    """{key: (recurrent layer, k, suffix, part)} in PyTorch's state_dict order."""
    keys = {}
    for k, directions in enumerate(stack):
        for cell, suffix in directions:
            parts = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if cell.use_bias else ())
            for part in parts:
                keys[f"{part}_l{k}{suffix}"] = (cell, k, suffix, part)
    return keys


def _check_keys(state_dict, expected, what):
    got = list(state_dict)
    missing = [key for key in expected if key not in state_dict]
    extra = [key for key in got if key not in expected]
    if not missing and not extra:
        return
    hint = ""
    biases = [key for key in missing + extra if str(key).startswith("bias_")]
    if biases and len(biases) == len(missing + extra):
        hint = (" The layer has use_bias=False but the state_dict has biases (a module with "
                "bias=True)" if extra else " The state_dict has no biases (a module with "
                "bias=False): build the layer with use_bias=False") + "."
    elif any(str(key).startswith("weight_hr") for key in extra):
        hint = " An nn.LSTM with proj_size > 0 has no Keras counterpart."
    elif any("_reverse" in str(key) for key in extra):
        hint = " A bidirectional module loads into a Bidirectional layer."
    elif any("_reverse" in str(key) for key in missing):
        hint = " A Bidirectional layer takes a module with bidirectional=True."
    elif any(str(key).startswith("weight_ih_l") for key in extra):
        hint = " A module with num_layers > 1 loads into a list of layers, one per layer."
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if extra:
        problems.append(f"unexpected keys {extra}")
    raise ValueError(f"state_dict for {what} has {' and '.join(problems)}: expected the keys "
                     f"{list(expected)}; got {got}.{hint}")


def _input_widths(layers, stack, state_dict):
    """The input width of each PyTorch layer: a built layer's own; for an unbuilt one, the last
    layer's output width, or for layer 0 the state_dict's weight_ih_l0 (None if not 2-D, which
    its shape check then reports). A built layer must take what the layer before it gives."""
    widths = []
    for k, (layer, directions) in enumerate(zip(layers, stack)):
        previous = sum(cell.units for cell, _ in stack[k - 1]) if k else None
        built = [cell.kernel.shape[0] for cell, _ in directions if cell.built]
        if built:
            width = built[0]
            if k and width != previous:
                raise ValueError(f"layer {k} {_describe(layer)} takes inputs of width {width}; "
                                 f"the layer before it gives {previous}")
        elif k:
            width = previous
        else:
            shape = np.shape(state_dict["weight_ih_l0"])
            width = shape[1] if len(shape) == 2 else None
        widths.append(width)
    return widths


def _gate_hint(cell, shape):
    """What a state_dict of another cell looks like: its rows are another multiple of units."""
    if len(shape) and shape[0] % cell.units == 0 and shape[0] // cell.units != cell.gates:
        other = _KIND_BY_GATES.get(shape[0] // cell.units)
        if other:
            return (f" ({shape[0]} rows = {shape[0] // cell.units} x {cell.units} units: the "
                    f"state_dict of {other}, not of {_a(cell)} ({cell.gates} "
                    f"gate{'s' if cell.gates > 1 else ''}))")
    return ""


def _torch_shapes(cell, width):
    """{part: (shape, what its axes are)} of one direction in PyTorch's layout."""
    rows, gates = cell.gates * cell.units, f"{cell.gates} gate{'s' if cell.gates > 1 else ''}"
    rows_of = f"{gates} x {cell.units} units"
    return {"weight_ih": ((rows, width), f"({rows_of}, input width {width})"),
            "weight_hh": ((rows, cell.units), f"({rows_of}, {cell.units} units)"),
            "bias_ih": ((rows,), f"({rows_of},)"), "bias_hh": ((rows,), f"({rows_of},)")}


def _keras_weights(cell, arrays):
    """[kernel, recurrent_kernel(, bias)] of one direction from its PyTorch arrays."""
    weights = [_reorder(cell, arrays["weight_ih"]).T, _reorder(cell, arrays["weight_hh"]).T]
    if cell.use_bias:
        b_ih, b_hh = _reorder(cell, arrays["bias_ih"]), _reorder(cell, arrays["bias_hh"])
        weights.append(np.stack([b_ih, b_hh]) if isinstance(cell, GRU) else b_ih + b_hh)
    return weights


def from_torch(layer, state_dict, *, nonlinearity=None):
    """Load a PyTorch nn.RNN / nn.LSTM / nn.GRU state_dict into `layer`; returns `layer`.

    layer: a SimpleRNN, LSTM, GRU(reset_after=True) or Bidirectional over one; a list of them for
        a module with num_layers > 1 (keys ``*_l0``, ``*_l1``, ...). An unbuilt layer is built
        from the state_dict's shapes.
    state_dict: a mapping of PyTorch's keys to NumPy arrays or torch tensors, or the module
        itself (then its ``mode`` is checked against the layer).
    nonlinearity: None, "tanh" or "relu": an nn.RNN's, checked against the SimpleRNN's
        activation (a state_dict alone does not record it).

    Everything is checked before any weight is set or any layer built; see the module docstring
    for the layout conventions.
    """
    what = "from_torch argument `layer`"
    state_dict, cell_type, mode_nonlinearity, claim = _unwrap_module(state_dict, nonlinearity)
    layers, stack = _stack(layer, what)
    target = " and ".join(_describe(l) for l in layers)
    first = stack[0][0][0]
    if cell_type is not None and (not isinstance(first, cell_type) or
                                  mode_nonlinearity not in (None, _nonlinearity(first))):
        torch_name = {SimpleRNN: f"nn.RNN(nonlinearity={mode_nonlinearity!r})",
                      LSTM: "nn.LSTM", GRU: "nn.GRU"}[cell_type]
        layer_is = _a(first) + (f" with activation {_nonlinearity(first)!r}"
                                if isinstance(first, SimpleRNN) else "")
        raise ValueError(f"{claim} the weights are those of an {torch_name}; {target} is "
                         f"{layer_is}")

    expected = _expected_keys(stack)
    _check_keys(state_dict, expected, target)
    arrays = {key: _as_numpy(state_dict[key], key) for key in expected}
    widths = _input_widths(layers, stack, arrays)
    per_cell = {}
    for key, (cell, k, suffix, part) in expected.items():
        shape, meaning = _torch_shapes(cell, widths[k])[part]
        got = arrays[key].shape
        if widths[k] is None:  # an unbuilt layer 0 and a weight_ih_l0 that is not 2-D
            shape, meaning = f"({cell.gates * cell.units}, input width)", "a 2-D array"
        if got != shape:
            raise ValueError(f"state_dict[{key!r}] for {_describe(cell)} (layer {k}"
                             f"{', backward' if suffix else ''}) expects shape {shape} = "
                             f"{meaning}; got {got}{_gate_hint(cell, got)}")
        per_cell.setdefault(id(cell), (cell, {}))[1][part] = arrays[key]

    new_weights = [(cell, _keras_weights(cell, parts)) for cell, parts in per_cell.values()]
    for layer_k, directions, width in zip(layers, stack, widths):  # all checked: build, assign
        for cell, _ in directions:
            cell._maybe_build(_Shaped((None, None, width)))
        layer_k._maybe_build(_Shaped((None, None, width)))
    for cell, weights in new_weights:
        cell.set_weights(weights)
    return layer


# -- to PyTorch --------------------------------------------------------------------------------

def to_torch(layer_or_list):
    """The PyTorch state_dict of a built SimpleRNN / LSTM / GRU(reset_after=True) /
    Bidirectional, or of a list of them (one module with num_layers = len(list)).

    Returns a dict of C-contiguous NumPy arrays of the layer's dtype, in PyTorch's key order and
    shapes, that ``module.load_state_dict({k: torch.from_numpy(v) ...})`` accepts for the module
    of the same kind, hidden_size, num_layers, bidirectional and bias (= use_bias). A SimpleRNN's
    or LSTM's bias goes to bias_ih, and bias_hh is zeros: only their sum is computed with.
    """
    what = "to_torch argument `layer_or_list`"
    layers, stack = _stack(layer_or_list, what)
    for layer in layers:
        unbuilt = [cell for cell, _ in _directions(layer, what) if not cell.built]
        if unbuilt:
            raise ValueError(f"to_torch: {_describe(layer)} is not built yet, so it has no "
                             f"weights: call it on an input or build() it first")
    _input_widths(layers, stack, None)
    state = {}
    for k, directions in enumerate(stack):
        for cell, suffix in directions:
            kernel, recurrent = cell.kernel.data, cell.recurrent_kernel.data
            arrays = {"weight_ih": _reorder(cell, kernel.T), "weight_hh": _reorder(cell, recurrent.T)}
            if cell.use_bias:
                bias = cell.bias.data
                if isinstance(cell, GRU):
                    arrays["bias_ih"], arrays["bias_hh"] = (_reorder(cell, row) for row in bias)
                else:
                    arrays["bias_ih"], arrays["bias_hh"] = bias, np.zeros_like(bias)
            for part, array in arrays.items():
                state[f"{part}_l{k}{suffix}"] = np.array(array, order="C", copy=True)
    return state
