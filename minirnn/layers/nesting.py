"""Inputs, shapes and states given as nested structures (tuples, lists, dicts): the helpers RNN
uses to tell a structure from one sequence, map over its shapes and pack flat lists back into it."""
import numpy as np

from .base import map_structure


def _is_nested(inputs):
    """Inputs given as a structure (tuple, list or dict) of sequences rather than one."""
    return isinstance(inputs, (list, tuple, dict))


def _is_shape(shape):
    """A shape (a tuple of ints and Nones), as opposed to a structure of shapes."""
    return isinstance(shape, (list, tuple)) and all(
        d is None or isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape)


def _map_shapes(fn, shapes):
    """fn applied to every shape of a nested structure of shapes, keeping the structure."""
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    return type(shapes)(_map_shapes(fn, s) for s in shapes)


def _shape_leaves(shapes):
    """The shapes of a nested structure of shapes, in flatten's order."""
    if _is_shape(shapes):
        return [tuple(shapes)]
    items = shapes.values() if isinstance(shapes, dict) else shapes
    return [leaf for s in items for leaf in _shape_leaves(s)]


def _structure_of(tree):
    """The nesting of a structure, lists and tuples alike, for comparing two: leaves become 0."""
    if isinstance(tree, (list, tuple)):
        return [_structure_of(t) for t in tree]
    if isinstance(tree, dict):
        return {k: _structure_of(v) for k, v in tree.items()}
    return 0


def _pack_as(structure, flat):
    """flat (a list) packed as `structure` (nested tuples, lists, dicts), in flatten's order, each
    container keeping its type."""
    it = iter(flat)
    return map_structure(lambda _: next(it), structure)


def _pack(structure, flat):
    """flat (a list) packed as `structure` (nested lists), in flatten's order."""
    it = iter(flat)

    def pack(s):
        return [pack(x) for x in s] if isinstance(s, (list, tuple)) else next(it)
    return pack(structure)

