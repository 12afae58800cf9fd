"""Models: Sequential, functional Model(inputs, outputs) and subclassed Model, with Keras's
compile / fit / evaluate / predict / summary, and saving.

By job: `functional` (Model and its graph), `sequential`, `training` (the Trainer mixin: compile,
fit, evaluate, predict), `summary`, `model_io` (save_model, load_model)."""
from ..layers.input_layer import Input
from .functional import Model
from .model_io import load_model
from .sequential import Sequential
from .training import NonFiniteLossError

__all__ = ["Model", "Sequential", "Input", "load_model", "NonFiniteLossError"]
