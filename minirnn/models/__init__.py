"""Models: Sequential, functional Model(inputs, outputs) and subclassed Model, with Keras's
compile / fit / evaluate / predict / summary, and saving."""
from .training import Input, Model, NonFiniteLossError, Sequential, load_model

__all__ = ["Model", "Sequential", "Input", "load_model", "NonFiniteLossError"]
