"""The graph of a functional model, walked as Keras walks it (keras.ops.function.map_graph): the
layer calls to run, each after the calls it reads, and the model's layers in Keras's order.

Keras lists a model's layers (InputLayers included) by depth from the outputs, deepest first;
layers of equal depth in the order a depth-first walk from the outputs first meets them. Scripts
index `model.layers[i]`, and Keras numbers the groups of a weights file in this order, so the
order is part of the API, not a detail.

Masks take part in it. Keras computes a symbolic tensor's mask with its own operations, each a
node of the graph: NotEqual after Embedding(mask_zero=True), NotEqual and Any after Masking, a
chain of LogicalOr after a merge of masked inputs, ... A layer whose `call` takes `mask`
reads the mask tensor as one more input. These nodes lengthen paths, so they change depths, and
the order: they are walked here as Keras records them, though minirnn computes masks inside its
layers and never runs them.
"""
from ..layers.base import SymbolicTensor, _flatten_sorted, _single_tensor_argument, flatten

__all__ = ["map_graph"]


def map_graph(inputs, outputs):
    """(records, layers): the non-input layer calls between `inputs` and `outputs` in an order
    that runs them (each after those it reads), and the layers in Keras's order.

    ValueError if an output needs a tensor that neither the inputs nor the graph provide.
    """
    declared = {id(t) for t in inputs}
    calls = _Walk(declared)  # the layer calls alone: what runs, in an order that runs it
    for output in outputs:
        calls.visit(output)
    records = [n for n in calls.finished_in_order if not n.is_input]
    _check_computable(inputs, outputs, records, calls)

    walk = _Walk(declared, _keras_node_inputs(records, calls))  # Keras's graph, masks included
    for output in outputs:
        walk.visit(output)
    nodes = walk.finished_in_order

    layer_depth, node_depth, layer_of = {}, {}, {}
    in_graph = {id(n) for n in nodes}
    for node in reversed(nodes):  # from the outputs back: a node sits one deeper than its readers
        layer = node.layer
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(layer), 0))
        layer_depth[id(layer)], node_depth[id(node)], layer_of[id(layer)] = depth, depth, layer
        for tensor in walk.input_tensors(node):
            parent = tensor.node
            if parent is not None and id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for tensor in inputs:  # an input no output reads still belongs to the model (Keras: depth 0)
        node = tensor.node
        if node is not None and node.is_input and id(node.layer) not in layer_depth:
            layer_depth[id(node.layer)], layer_of[id(node.layer)] = 0, node.layer
            walk.first_seen[id(node.layer)] = -1

    by_depth = {}
    for key, depth in layer_depth.items():
        by_depth.setdefault(depth, []).append(key)
    layers = []
    for depth in sorted(by_depth, reverse=True):
        keys = sorted(by_depth[depth], key=lambda k: walk.first_seen[k])  # stable, as Keras's sort
        layers.extend(layer_of[k] for k in keys if not isinstance(layer_of[k], _MaskOperation))
    return records, layers


class _Walk:
    """Keras's _build_map: a depth-first walk from an output through the calls that made it,
    stopping at the declared inputs; iterative, so a long chain of calls cannot exhaust Python's
    recursion limit. `node_inputs` ({id(record): tensors}) replaces what a record reads."""

    def __init__(self, declared, node_inputs=None):
        self.declared = declared
        self.finished, self.in_progress = set(), set()
        self.finished_in_order = []  # each call after every call it reads
        self.first_seen = {}  # id(layer or operation) -> when the walk first met it
        self._inputs_of = dict(node_inputs or {})

    def input_tensors(self, node):
        found = self._inputs_of.get(id(node))
        if found is None:
            found = self._inputs_of[id(node)] = node.input_tensors
        return found

    def _enter(self, tensor):
        """The call to walk into from `tensor`, or None where the walk stops."""
        if not isinstance(tensor, (SymbolicTensor, _MaskTensor)):
            return None
        node = tensor.node
        if node is None or id(node) in self.finished:
            return None
        if not node.is_input and id(tensor) in self.declared:  # made outside the model
            self.finished.add(id(node))
            return None
        if id(node) in self.in_progress:
            raise ValueError(f"tensor {tensor.name} from layer '{node.layer.name}' is part of a "
                             f"cycle")
        self.first_seen.setdefault(id(node.layer), len(self.first_seen))
        self.in_progress.add(id(node))
        return node

    def visit(self, tensor):
        node = self._enter(tensor)
        if node is None:
            return
        stack = [(node, iter(self.input_tensors(node)))]
        while stack:
            node, pending = stack[-1]
            for parent_tensor in pending:
                parent = self._enter(parent_tensor)
                if parent is not None:
                    stack.append((parent, iter(self.input_tensors(parent))))
                    break
            else:
                stack.pop()
                self.in_progress.discard(id(node))
                self.finished.add(id(node))
                self.finished_in_order.append(node)


# -- the masks as Keras computes them on symbolic tensors ------------------------------------------

class _MaskOperation:
    """One operation Keras records while computing a mask (keras.ops' NotEqual, Any, ...): its
    own node in the graph, and an operation of its own (Keras makes a new one per call)."""
    is_input = False

    def __init__(self, name, inputs):
        self.name, self.input_tensors = name, list(inputs)
        self.layer = self  # the node's operation, as a layer call's is its layer


class _MaskTensor:
    """The tensor a _MaskOperation makes: a mask, of `ndim` axes."""

    def __init__(self, name, inputs, ndim):
        self.node, self.ndim = _MaskOperation(name, inputs), ndim
        self.name = name


def _ndim(mask):
    return mask.ndim if isinstance(mask, _MaskTensor) else len(mask.shape)


# Keras's merge layers whose `call` reads the inputs' masks itself, without a `mask` argument
# (minirnn's takes one, to say the same thing explicitly): their nodes read no mask tensor.
_CALL_WITHOUT_MASK = frozenset({"Add", "Average", "Multiply"})
_OR_MERGES = frozenset({"Add", "Average", "Multiply", "Subtract", "Maximum", "Minimum"})


def _computed_mask(layer, first, previous):
    """The mask tensor Keras's compute_mask makes for `layer` called on `first` (the tensors of
    its first argument) with `previous`, the masks it receives: the `mask` argument's if the
    call names one, else those of `first` (None where a tensor has none)."""
    kind = type(layer).__name__
    if kind == "Embedding":  # ops.not_equal(inputs, 0)
        return _MaskTensor("NotEqual", first[:1], _ndim(first[0]))
    if kind == "Masking":  # ops.any(ops.not_equal(inputs, mask_value), axis=-1)
        differs = _MaskTensor("NotEqual", first[:1], _ndim(first[0]))
        return _MaskTensor("Any", [differs], _ndim(first[0]) - 1)
    if kind in _OR_MERGES:  # ops.logical_or, input by input; no mask if one input has none
        if any(m is None for m in previous) or not previous:
            return None
        out = previous[0]
        for mask in previous[1:]:
            out = _MaskTensor("LogicalOr", [out, mask], max(_ndim(out), _ndim(mask)))
        return out
    if kind == "Concatenate":  # each input's mask (or ones) to its rank, concatenated, any(-1)
        if all(m is None for m in previous):
            return None
        parts = []
        for tensor, mask in zip(first, previous):
            if mask is None:
                parts.append(_MaskTensor("OnesLike", [tensor], _ndim(tensor)))
            elif _ndim(mask) < _ndim(tensor):
                expanded = _MaskTensor("ExpandDims", [mask], _ndim(mask) + 1)
                zeros = _MaskTensor("ZerosLike", [tensor], _ndim(tensor))
                parts.append(_MaskTensor("LogicalOr", [expanded, zeros], _ndim(tensor)))
            else:
                parts.append(mask)
        joined = _MaskTensor("Concatenate", parts, _ndim(parts[0]))
        return _MaskTensor("Any", [joined], _ndim(joined) - 1)
    if kind in ("Attention", "AdditiveAttention"):  # ops.convert_to_tensor(mask[0])
        return None if not previous or previous[0] is None else \
            _MaskTensor("ConvertToTensor", [previous[0]], _ndim(previous[0]))
    # every other layer hands its input's mask on as it is (Keras's default compute_mask)
    return next((m for m in previous if m is not None), None)


def _keras_node_inputs(records, calls):
    """{id(record): the tensors Keras's node of that call reads}: its arguments, plus the mask
    Keras hands to a `call` that takes one (as a `mask` keyword, flattened by sorted keyword
    names as Keras's nodes flatten theirs). `records` in an order that runs them."""
    masks = {}  # id(SymbolicTensor) -> the tensor holding its mask in Keras's graph
    out = {}
    for record in records:
        layer = record.layer
        first = [t for t in flatten(record.args[0] if record.args else [])
                 if isinstance(t, SymbolicTensor)]
        carried = [masks.get(id(t)) for t in first]
        explicit = record.kwargs.get("mask")
        tensors = calls.input_tensors(record)
        if explicit is not None:
            previous = [t if isinstance(t, SymbolicTensor) else None for t in flatten(explicit)]
        else:
            previous = carried
            takes_mask = "mask" in getattr(layer, "_call_takes", ()) and \
                type(layer).__name__ not in _CALL_WITHOUT_MASK
            if takes_mask and any(m is not None for m in carried) and _single_tensor_argument(
                    record.args[0], record.args[1:], record.kwargs):
                kwargs = {**record.kwargs, "mask": [m for m in carried if m is not None]}
                tensors = [t for t in _flatten_sorted((record.args, kwargs))
                           if isinstance(t, (SymbolicTensor, _MaskTensor))]
        out[id(record)] = tensors
        outputs = [s for s in flatten(record.outputs)
                   if isinstance(s, SymbolicTensor) and s.has_mask]
        if outputs:
            mask = _computed_mask(layer, first, previous)
            for sym in outputs:
                if mask is not None:
                    masks[id(sym)] = mask
    return out


def _check_computable(inputs, outputs, records, walk):
    computable = {id(t) for t in inputs}
    missing = []
    for record in records:
        for tensor in walk.input_tensors(record):
            if id(tensor) not in computable and all(tensor is not m for m in missing):
                missing.append(tensor)
        for tensor in flatten(record.outputs):
            computable.add(id(tensor))
    missing += [t for t in outputs if id(t) not in computable and all(t is not m for m in missing)]
    if missing:
        names = [t.name for t in missing]
        raise ValueError(f"graph disconnected: the outputs depend on tensors {names} that are not "
                         f"among the model's inputs {[t.name for t in inputs]} (pass every Input "
                         f"the outputs use in Model(inputs=...))")
