"""Default object names, spelled as Keras 3 spells them."""
import re

__all__ = ["to_snake_case"]


def to_snake_case(name):
    """``name`` in snake case, exactly as Keras's ``to_snake_case``: characters other than
    letters, digits and ``_`` dropped, then an underscore before each capitalised word and
    between a lowercase letter and a capital. ``"SimpleRNN"`` -> ``"simple_rnn"``,
    ``"RMSprop"`` -> ``"rm_sprop"``, ``"Conv2DTranspose"`` -> ``"conv2d_transpose"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
