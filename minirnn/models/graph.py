"""The graph of a functional model, walked as Keras walks it (keras.ops.function.map_graph): the
layer calls to run, each after the calls it reads, and the model's layers in Keras's order.

Keras lists a model's layers (InputLayers included) by depth from the outputs, deepest first;
layers of equal depth in the order a depth-first walk from the outputs first meets them. Scripts
index `model.layers[i]`, so the order is part of the API, not a detail.
"""
from ..layers.base import SymbolicTensor, flatten

__all__ = ["map_graph"]


def map_graph(inputs, outputs):
    """(records, layers): the non-input layer calls between `inputs` and `outputs` in an order
    that runs them (each after those it reads), and the layers in Keras's order.

    ValueError if an output needs a tensor that neither the inputs nor the graph provide.
    """
    declared = {id(t) for t in inputs}
    walk = _Walk(declared)
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
        layers.extend(layer_of[k] for k in keys)

    records = [n for n in nodes if not n.is_input]
    _check_computable(inputs, outputs, records, walk)
    return records, layers


class _Walk:
    """Keras's _build_map: a depth-first walk from an output through the calls that made it,
    stopping at the declared inputs; iterative, so a long chain of calls cannot exhaust Python's
    recursion limit."""

    def __init__(self, declared):
        self.declared = declared
        self.finished, self.in_progress = set(), set()
        self.finished_in_order = []  # each call after every call it reads
        self.first_seen = {}  # id(layer) -> when the walk first met it
        self._inputs_of = {}

    def input_tensors(self, node):
        found = self._inputs_of.get(id(node))
        if found is None:
            found = self._inputs_of[id(node)] = node.input_tensors
        return found

    def _enter(self, tensor):
        """The call to walk into from `tensor`, or None where the walk stops."""
        if not isinstance(tensor, SymbolicTensor):
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

