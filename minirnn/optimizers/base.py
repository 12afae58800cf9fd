"""The optimizer base class: Keras 3's update loop, applied in place to NumPy arrays.

An optimizer updates *variables*: any object whose ``.data`` is a writeable floating-point
``numpy.ndarray`` (a minirnn ``Tensor``, or a stand-in). Every update writes into ``var.data``
itself, so layers holding a reference to the array see the new values, and arithmetic stays in
the variable's dtype (float32 stays float32), as Keras computes in the variable's dtype.

One call of ``apply_gradients`` does what Keras's does, in the same order:

1. drop pairs whose gradient is ``None`` (with a warning),
2. clip the gradients (``clipnorm``, ``global_clipnorm`` or ``clipvalue``),
3. decay the weights (decoupled: ``var -= var * weight_decay * lr``),
4. ``_prepare_step()`` (optimizer-wide values such as Nadam's ``u_product``), then
   ``update_step(grad, var, lr)`` for each pair,
5. ``iterations += 1``.

The learning rate (a float, a ``LearningRateSchedule`` evaluated at ``iterations`` before the
increment, or a callable taking no argument) is read once per call. Every input is checked before
step 2, so a bad gradient leaves the variables, the slots and ``iterations`` as they were.

Slots (momentum, velocity, ...) are created the first time a variable is seen, and kept in a list
in that order; the optimizer holds a reference to each variable, so the ``id`` it looks slots up
by stays unique. Unlike Keras, a variable first seen in a later call simply gets fresh slots.
Shared slots (one scalar for the whole optimizer, such as Nadam's ``u_product``) are created
with the first variables, in the first variable's dtype, as Keras creates them in ``build``.
"""
from __future__ import annotations

import inspect

import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import ArrayLike

from ..checks import check_unimplemented
from ..naming import to_snake_case
from . import schedules
from .arguments import checked_number

# A number, a schedule evaluated at ``iterations``, or a callable of no argument.
LearningRate = float | schedules.LearningRateSchedule | Callable[[], float]

__all__ = ["Optimizer"]


# --------------------------------------------------------------------------------------------
# Gradient clipping, as Keras's TensorFlow backend does it
# --------------------------------------------------------------------------------------------

def _clip_by_norm(grad, clipnorm):
    """``grad`` rescaled so its L2 norm is at most ``clipnorm``; any shape."""
    l2sum = np.sum(grad * grad)
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    # Keras divides even when nothing is clipped, so (g * c) / c is rounded like Keras does it.
    return grad * clipnorm / np.maximum(l2norm, clipnorm)


def _clip_by_global_norm(grads, clipnorm):
    """All ``grads`` scaled by one factor so that their joint L2 norm is at most ``clipnorm``."""
    norm = np.sqrt(np.sum(np.stack([np.sum(g * g) for g in grads])))
    with np.errstate(divide="ignore"):
        scale = clipnorm * np.minimum(1.0 / norm, 1.0 / clipnorm)
    # A NaN or inf norm must poison every gradient, not leave them unscaled.
    scale = scale + (norm - norm)
    return [g * scale for g in grads]


# --------------------------------------------------------------------------------------------
# The optimizer loop
# --------------------------------------------------------------------------------------------

# Keras arguments minirnn has no counterpart for: accepted (from a constructor or a Keras config)
# only at these defaults.
_KERAS_ONLY_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                        "loss_scale_factor": None, "gradient_accumulation_steps": None}
_KERAS_ONLY_FEATURES = {"use_ema": "weight averaging", "ema_momentum": "weight averaging",
                        "ema_overwrite_frequency": "weight averaging",
                        "loss_scale_factor": "loss scaling",
                        "gradient_accumulation_steps": "gradient accumulation"}


class Optimizer:
    """Base class: the Keras 3 optimizer loop around a subclass's ``update_step``.

    Args:
        learning_rate: a number >= 0, a ``LearningRateSchedule``, or a callable with no argument.
        weight_decay: decoupled weight decay factor, or None.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this joint L2 norm.
            At most one of the three clipping options may be set.
        use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
        gradient_accumulation_steps: Keras's arguments for features minirnn does not implement;
            only their defaults are accepted (another value raises UnsupportedArgumentError).
        name: a name; defaults to the class name in snake case, as in Keras.

    A subclass defines ``update_step(grad, var, lr)``, ``_slot_groups()`` when it keeps slots
    per variable, ``_shared_slot_initial_values`` and ``_prepare_step()`` when it keeps values
    for the whole optimizer, and ``get_config()``.
    """

    # Initial value of each slot, by name, where it is not zero.
    _slot_initial_values = {}
    # Slots of the whole optimizer (0-d arrays), by name, with their initial values; Keras
    # lists them after all the per-variable slots.
    _shared_slot_initial_values = {}

    def __init__(self, learning_rate: LearningRate, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: Literal[False] = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: None = None,
                 loss_scale_factor: None = None, gradient_accumulation_steps: None = None,
                 name: str | None = None) -> None:
        keras_only = {"use_ema": use_ema, "ema_momentum": ema_momentum,
                      "ema_overwrite_frequency": ema_overwrite_frequency,
                      "loss_scale_factor": loss_scale_factor,
                      "gradient_accumulation_steps": gradient_accumulation_steps}
        for key, value in keras_only.items():
            check_unimplemented(value, f"{type(self).__name__} argument `{key}`",
                                _KERAS_ONLY_DEFAULTS[key], _KERAS_ONLY_FEATURES[key])
        clip = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clip.values()) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             "set; got " + ", ".join(f"{k}={v}" for k, v in clip.items()))
        clip = {k: None if v is None else checked_number(k, v, "> 0") for k, v in clip.items()}
        self.clipnorm, self.clipvalue = clip["clipnorm"], clip["clipvalue"]
        self.global_clipnorm = clip["global_clipnorm"]
        self.weight_decay = (None if weight_decay is None
                             else checked_number("weight_decay", weight_decay, ">= 0"))
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string; got {name!r}")
        self.name = name or to_snake_case(type(self).__name__)
        self._learning_rate = self._check_learning_rate(learning_rate)
        self._iterations = 0
        self._variables = []      # model variables, in the order first seen
        self._shapes = []         # their shapes when first seen, which their slots have
        self._slots = []          # per model variable: {slot name: array like var.data}
        self._index = {}          # id(variable) -> position in the three lists above
        self._shared_slots = {}   # {slot name: 0-d array}, made with the first variables
        self._exclude_ids = set()
        self._exclude_pattern = None

    # -- learning rate and step counter ---------------------------------------------------

    @staticmethod
    def _check_learning_rate(value):
        if isinstance(value, schedules.LearningRateSchedule) or callable(value):
            return value
        return checked_number("learning_rate", value, ">= 0")

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update, as a float (schedules read ``iterations``)."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            value, source = lr(self._iterations), f"{type(lr).__name__} at step {self._iterations}"
        elif callable(lr):
            value, source = lr(), "the learning-rate callable"
        else:
            return lr
        return checked_number(f"learning_rate (from {source})", value, ">= 0")

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        self._learning_rate = self._check_learning_rate(value)

    @property
    def iterations(self) -> int:
        """Number of updates applied so far."""
        return self._iterations

    # -- variables and slots -------------------------------------------------------------

    def _slot_groups(self):
        """Slot names per variable. Each inner tuple is created for every variable in turn
        before the next tuple begins, which is the order Keras lists its optimizer variables."""
        return ()

    def _slot(self, var, name):
        return self._slots[self._index[id(var)]][name]

    def _check_variable(self, i, var):
        if not hasattr(var, "data"):
            raise TypeError(f"Variable {i} must have a `.data` array; got {type(var).__name__} "
                            "without one")
        data = var.data
        if not (isinstance(data, np.ndarray) and data.dtype.kind == "f"):
            got = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Variable {i} must have a floating-point numpy array as `.data`; "
                            f"got {got}")
        if not data.flags.writeable:
            raise ValueError(f"Variable {i} has a read-only `.data`; the optimizer updates it "
                             "in place")
        position = self._index.get(id(var))
        if position is not None and data.shape != self._shapes[position]:
            raise ValueError(f"Variable {i} changed shape since the optimizer first saw it: "
                             f"expected {self._shapes[position]}, got {data.shape}")

    def build(self, variables: Iterable[Any]) -> None:
        """Create the slots of ``variables`` not seen before (as ``apply`` does on first sight);
        call it before ``set_state`` when restoring a saved optimizer."""
        variables = list(variables)
        for i, var in enumerate(variables):
            self._check_variable(i, var)
        if variables and not self._shared_slots:
            dtype = variables[0].data.dtype
            self._shared_slots = {name: np.array(value, dtype=dtype)
                                  for name, value in self._shared_slot_initial_values.items()}
        for var in variables:
            if id(var) in self._index:
                continue
            self._index[id(var)] = len(self._variables)
            self._variables.append(var)
            self._shapes.append(var.data.shape)
            self._slots.append({
                name: np.full_like(var.data, self._slot_initial_values.get(name, 0.0))
                for group in self._slot_groups() for name in group})

    def _slot_arrays(self):
        """Every slot array, per-variable ones first, in Keras's order of optimizer variables."""
        return [slots[name] for group in self._slot_groups()
                for slots in self._slots for name in group] + list(self._shared_slots.values())

    @property
    def variables(self) -> list[np.ndarray]:
        """The optimizer's state in Keras's order: iterations, the learning rate (absent when it
        is a schedule or callable), then the slots of each variable, then the shared slots.
        Slot arrays are the live ones; the first entries are snapshots."""
        head = [np.array(self._iterations, dtype=np.int64)]
        if not callable(self._learning_rate):
            head.append(np.array(self._learning_rate, dtype=np.float64))
        return head + self._slot_arrays()

    def get_state(self) -> list[np.ndarray]:
        """Copies of ``variables``: a list of arrays to save."""
        return [np.array(a, copy=True) for a in self.variables]

    def set_state(self, state: Sequence[ArrayLike]) -> None:
        """Load arrays from ``get_state()`` (or Keras's ``[v.numpy() for v in
        optimizer.variables]``). The variables must be known first: see ``build``."""
        state = [np.asarray(a) for a in state]
        current = self.variables
        if len(state) != len(current):
            raise ValueError(
                f"Optimizer '{self.name}' has {len(current)} state arrays (iterations, "
                f"{'learning rate, ' if not callable(self._learning_rate) else ''}slots of "
                f"{len(self._variables)} variables); got {len(state)}. Call build(variables) "
                "before set_state if the optimizer has not seen the model's variables.")
        for i, (have, new) in enumerate(zip(current, state)):
            if have.shape != new.shape:
                raise ValueError(f"Optimizer state array {i}: expected shape {have.shape}, "
                                 f"got {new.shape}")
        iterations = state[0].item()
        if iterations != int(iterations) or iterations < 0:
            raise ValueError(f"Optimizer state array 0 (iterations) must be a whole number "
                             f">= 0; got {iterations!r}")
        n_head = len(current) - len(self._slot_arrays())
        learning_rate = (checked_number("learning_rate", state[1].item(), ">= 0")
                         if n_head == 2 else self._learning_rate)
        self._iterations = int(iterations)
        self._learning_rate = learning_rate
        for slot, value in zip(self._slot_arrays(), state[n_head:]):
            slot[...] = value

    # -- undoing one update ----------------------------------------------------------------

    def _state(self, reuse=None):
        """What one update may change, copied: ``iterations``, how many variables are known,
        each known variable's slots, and the shared slots. The learning rate is left out: an
        update never changes it (a schedule only reads ``iterations``).

        ``reuse``, an earlier ``_state()`` of this optimizer, lends its arrays (where shapes
        still match) so that taking a state before every step allocates nothing new.
        """
        lent = reuse[2] if reuse is not None else ()
        copies = []
        for i, slots in enumerate(self._slots):
            old = lent[i] if i < len(lent) else None
            if old is not None and old.keys() == slots.keys() and all(
                    old[name].shape == array.shape for name, array in slots.items()):
                for name, array in slots.items():
                    np.copyto(old[name], array)
                copies.append(old)
            else:
                copies.append({name: array.copy() for name, array in slots.items()})
        shared = reuse[3] if reuse is not None else {}
        if shared.keys() == self._shared_slots.keys() and all(
                shared[name].dtype == array.dtype for name, array in self._shared_slots.items()):
            for name, array in self._shared_slots.items():
                np.copyto(shared[name], array)
        else:
            shared = {name: array.copy() for name, array in self._shared_slots.items()}
        return self._iterations, len(self._variables), copies, shared

    def _restore_state(self, state):
        """Put back a ``_state()``: slots and ``iterations`` as they were, and variables first
        seen since then forgotten (they get fresh slots when seen again)."""
        iterations, known, copies, shared = state
        for var in self._variables[known:]:
            del self._index[id(var)]
        del self._variables[known:], self._shapes[known:], self._slots[known:]
        for slots, saved in zip(self._slots, copies):
            for name, array in slots.items():
                np.copyto(array, saved[name])
        # Shared slots made by the undone update are dropped: the next variables remake them.
        self._shared_slots = {name: self._shared_slots.get(name, np.empty_like(saved))
                              for name, saved in shared.items()}
        for name, saved in shared.items():
            np.copyto(self._shared_slots[name], saved)
        self._iterations = iterations

    # -- weight decay ----------------------------------------------------------------------

    def exclude_from_weight_decay(self, var_list: Iterable[Any] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Exempt variables from weight decay: those in ``var_list``, and those whose ``.name``
        contains any string of ``var_names`` (e.g. ``["bias"]``)."""
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_pattern = re.compile("|".join(var_names)) if var_names else None

    def _use_weight_decay(self, var):
        if id(var) in self._exclude_ids:
            return False
        name = getattr(var, "name", None)
        return not (self._exclude_pattern and isinstance(name, str)
                    and self._exclude_pattern.search(name))

    # -- the update ------------------------------------------------------------------------

    def apply_gradients(self, grads_and_vars: Iterable[tuple[ArrayLike | None, Any]]) -> int:
        """Apply ``(gradient, variable)`` pairs; a ``None`` gradient skips its variable.
        Returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(grads, variables)
        return self._iterations

    def apply(self, grads: Sequence[ArrayLike | None],
              variables: Sequence[Any] | None = None) -> None:
        """One update. ``grads[i]`` (array of ``variables[i].data``'s shape, or None) updates
        ``variables[i]``; without ``variables``, the variables in the order first seen."""
        grads = list(grads)
        if not grads:
            return
        if variables is None:
            if len(grads) != len(self._variables):
                raise ValueError(f"Without `variables`, apply() needs one gradient per variable "
                                 f"the optimizer knows: expected {len(self._variables)}, got "
                                 f"{len(grads)}")
            variables = self._variables
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"apply() needs one gradient per variable: got {len(grads)} "
                             f"gradients for {len(variables)} variables")

        pairs, missing = [], []
        for i, (grad, var) in enumerate(zip(grads, variables)):
            self._check_variable(i, var)
            if grad is None:
                missing.append(getattr(var, "name", None) or f"variable {i}")
                continue
            grad = np.asarray(grad)
            if grad.shape != var.data.shape:
                raise ValueError(f"Gradient for variable {i} has the wrong shape: expected "
                                 f"{var.data.shape}, got {grad.shape}")
            if grad.dtype.kind not in "fiu":           # float, signed or unsigned integer
                raise TypeError(f"Gradient for variable {i} must be a real number array; got "
                                f"dtype {grad.dtype}")
            pairs.append((grad.astype(var.data.dtype, copy=False), var))
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        learning_rate = self.learning_rate
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss; they are left unchanged.", stacklevel=2)

        grads, variables = [g for g, _ in pairs], [v for _, v in pairs]
        self.build(variables)
        grads = [g.astype(v.data.dtype, copy=False)
                 for g, v in zip(self._clip_gradients(grads), variables)]
        self._apply_weight_decay(variables, learning_rate)
        self._prepare_step()
        for grad, var in zip(grads, variables):
            self.update_step(grad, var, var.data.dtype.type(learning_rate))
        self._iterations += 1

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _apply_weight_decay(self, variables, learning_rate):
        if self.weight_decay is None:
            return
        for var in variables:
            if self._use_weight_decay(var):
                x = var.data
                x -= x * x.dtype.type(self.weight_decay) * x.dtype.type(learning_rate)

    def _prepare_step(self):
        """Update the shared slots once per step, before the variables (``iterations`` is
        still the count before this step)."""

    def update_step(self, grad: np.ndarray, var: Any, lr: np.floating) -> None:
        """Update ``var.data`` in place. ``grad`` has ``var.data``'s shape and dtype; ``lr`` is
        a scalar of that dtype."""
        raise NotImplementedError(f"{type(self).__name__} must define update_step")

    # -- configuration ---------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a dict ``from_config`` accepts."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """An optimizer (without state) from ``get_config()``; Keras's configs are accepted (the
        constructor refuses Keras-only settings other than their defaults)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, learning_rate="
                f"{self._learning_rate!r}, iterations={self._iterations})")


_SHARED_ARGUMENTS = tuple(inspect.signature(Optimizer.__init__).parameters)[1:]


def shared_arguments(arguments):
    """What an optimizer's __init__ hands on to Optimizer.__init__, picked from its `locals()`:
    each optimizer lists Keras's whole signature (so help() shows it) and passes the shared part
    on unchanged."""
    return {name: arguments[name] for name in _SHARED_ARGUMENTS}
