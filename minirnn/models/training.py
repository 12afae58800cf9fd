"""The training loop, mixed into Model as Keras's Trainer: compile, fit, evaluate, predict and
the batch-level steps, with the checks of their arguments and the undo of a step that fails."""
import math

import numpy as np

from .. import callbacks as callbacks_module
from .. import checks
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers.base import is_string_dtype
from ..layers.collector import gc_paused
from ..random import generator
from ..tensor import Tensor, no_grad

__all__ = ["Trainer", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError, ValueError):
    """fit met a NaN or infinite loss or gradient; the weights are those of the last finite step."""


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _num_samples(arrays, what):
    counts = {len(a) for a in arrays}
    if len(counts) > 1:
        raise ValueError(f"all arrays of {what} must have the same number of samples; got "
                         f"{[len(a) for a in arrays]}")
    return counts.pop() if counts else 0


def _take(data, index):
    return [a[index] for a in data]


def _batch_size(value, method, name, default):
    """None means `default` (32, as Keras); otherwise an int >= 1, NumPy ints accepted."""
    return default if value is None else checks.positive_int(value, f"{method}() argument {name}")


def _verbosity(value, method):
    if value == "auto":
        return 1
    if isinstance(value, str) or not isinstance(value, (int, np.integer)) or value not in (0, 1, 2):
        raise ValueError(f"{method}() argument verbose must be 0, 1, 2 or 'auto'; got {value!r}")
    return int(value)


def _callback_objects(callbacks):
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"fit() argument callbacks must be a list of Callback objects; got "
                        f"{type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"fit() argument callbacks must be a list of Callback objects; "
                            f"item {i} is {cb!r} of type {type(cb).__name__}")
    return list(callbacks)


def _loss_weights(loss_weights, outputs, model_name):
    """compile()'s loss_weights as a list of finite floats, one per output where that is known."""
    if loss_weights is None:
        return None
    if isinstance(loss_weights, dict):
        raise TypeError(f"compile() argument loss_weights must be a number or a list of numbers "
                        f"(one per output); got a dict {loss_weights!r}")
    weights = []
    for i, w in enumerate(_as_list(loss_weights)):
        w = checks.check_float(w, f"compile() argument loss_weights[{i}]")
        if not math.isfinite(w):
            raise ValueError(f"compile() argument loss_weights[{i}] must be finite; got {w}")
        weights.append(w)
    if outputs is not None and len(weights) != outputs:
        raise ValueError(f"compile() argument loss_weights must hold one weight per output of "
                         f"model '{model_name}' ({outputs}); got {len(weights)}")
    return weights


def _refuse_non_finite(variables):
    bad = [v.name for v in variables if not np.isfinite(v.data).all()]
    if bad:
        raise NonFiniteLossError(f"the update made the weights {bad} NaN or infinite (is the "
                                 f"learning rate too large?)")


class Trainer:
    """compile / fit / evaluate / predict for Model, which supplies the layer side (weights,
    `__call__`) and, for a graph model, `inputs`, `outputs` and `_records`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.stop_training = False
        self.history = None

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        """Choose optimizer, loss and metrics by object or Keras's string names.

        Everything is built and checked before the model changes: a compile that raises leaves
        the previous optimizer (with its slots), loss and metrics in place."""
        ignored = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if ignored:
            raise TypeError(f"compile() got unexpected keyword arguments {sorted(ignored)}")
        opt = optimizers_module.get(optimizer)
        loss_fns = [_as_loss(l) for l in _as_list(loss)] if loss is not None else None
        metric_objs = [metrics_module.get(m, loss=loss) for m in _as_list(metrics or [])]
        outputs = len(self.outputs) if self._records is not None else None
        if loss_fns is not None and outputs is not None and len(loss_fns) not in (1, outputs):
            raise ValueError(f"compile() of model '{self.name}' got {len(loss_fns)} losses for "
                             f"{outputs} output(s); give one loss, or one per output")
        weights = _loss_weights(loss_weights, outputs, self.name)
        self.optimizer, self.loss, self._loss_fns = opt, loss, loss_fns
        self._loss_weights = weights
        self.compiled_metrics = metric_objs
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None,
                                "loss": loss if isinstance(loss, str) else None,
                                "metrics": [m for m in _as_list(metrics or []) if isinstance(m, str)]}

    def _require_compiled(self, what):
        if self.optimizer is None or not self._loss_fns:
            raise ValueError(f"call compile(optimizer, loss) before {what}()")

    def _total_loss(self, y_true, y_pred):
        preds, trues = _as_list(y_pred), _as_list(y_true)
        if len(trues) != len(preds):
            raise ValueError(f"the model has {len(preds)} output(s); got {len(trues)} target array(s)")
        fns = self._loss_fns * len(preds) if len(self._loss_fns) == 1 else self._loss_fns
        if len(fns) != len(preds):
            raise ValueError(f"compile() was given {len(fns)} losses for {len(preds)} outputs")
        weights = self._loss_weights or [1.0] * len(preds)
        if len(weights) != len(preds):
            raise ValueError(f"compile() was given {len(weights)} loss_weights for "
                             f"{len(preds)} outputs")
        total = None
        for fn, yt, yp, w in zip(fns, trues, preds, weights):
            term = fn(yt, yp)
            term = term if w == 1.0 else term * w
            total = term if total is None else total + term
        return total

    def _update_metrics(self, y_true, y_pred):
        for metric in self.compiled_metrics:
            metric.update_state(_as_list(y_true)[0], _as_list(y_pred)[0])  # the Tensor: its mask counts

    def _reset_metrics(self):
        for metric in self.compiled_metrics:
            metric.reset_state()

    def _metric_logs(self, loss_tracker, prefix=""):
        logs = {prefix + "loss": float(loss_tracker.result())}
        for metric in self.compiled_metrics:
            logs[prefix + metric.name] = float(metric.result())
        return logs

    def _log_keys(self, validation):
        keys = ["loss"] + [metric.name for metric in self.compiled_metrics]
        return keys + (["val_" + key for key in keys] if validation else [])

    def train_step(self, x, y):
        """One optimisation step on a batch; returns the loss as a float. Nothing is updated when
        the loss or a gradient is not finite (NonFiniteLossError says so); an update that makes a
        weight NaN or infinite raises it too, and fit / train_on_batch then undo that update."""
        variables = self.trainable_weights
        for v in variables:
            v.grad = None
        with gc_paused():  # the graph dies in backward(): the collector never needs to walk it
            y_pred = self(x, training=True)
            loss = self._total_loss(y, y_pred)
            value = float(loss.data)
            if not math.isfinite(value):
                raise NonFiniteLossError(f"loss is {value}")
            loss.backward()
        grads = [v.grad for v in variables]
        bad = [v.name for v, g in zip(variables, grads) if g is not None and not np.isfinite(g).all()]
        if bad:
            raise NonFiniteLossError(f"gradients of {bad} are not finite")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
            self.optimizer.apply_gradients(zip(grads, variables))
        _refuse_non_finite(variables)
        self._update_metrics(y, y_pred)
        return value

    def _undoable_train_step(self, x, y):
        """train_step, undone if it raises: every weight (the moving statistics of a
        BatchNormalization too), the optimizer's slots and its iteration count are put back as
        they were, so a step that overflows (or fails in any other way) leaves the last good state."""
        variables = self.weights
        saved = self._save_step_state(variables)
        try:
            value = self.train_step(x, y)
            if type(self).train_step is not Trainer.train_step:  # an override may not check
                _refuse_non_finite(variables)
        except BaseException:
            for var, copy in zip(variables, saved[0]):
                np.copyto(var.data, copy)
            self.optimizer._restore_state(saved[1])
            raise
        return value

    def _save_step_state(self, variables):
        # The copies are kept between steps and refilled in place: a step allocates nothing.
        kept = getattr(self, "_step_state", None)
        if kept is not None and len(kept[0]) == len(variables) and all(
                c.shape == v.data.shape and c.dtype == v.data.dtype for c, v in zip(kept[0], variables)):
            weights = kept[0]
            for copy, var in zip(weights, variables):
                np.copyto(copy, var.data)
        else:
            weights = [v.data.copy() for v in variables]
        reuse = kept[1] if kept is not None and kept[2] is self.optimizer else None
        self._step_state = (weights, self.optimizer._state(reuse), self.optimizer)
        return self._step_state

    def _standardize(self, x, y=None, method="fit", names=("x", "y")):
        """Arrays of x (and y), checked against the model before any of them is used: dtype (bool,
        integer or real floating point), a batch axis, the number of arrays and the input shapes
        where the model knows them, equal sample counts, and at least one sample."""
        known = self._records is not None
        xs = self._checked_arrays(x, names[0], self.inputs if known else None, "input")
        ys = None
        if y is not None:
            ys = self._checked_arrays(y, names[1], self.outputs if known else None, "output")
        n = _num_samples(xs, names[0])
        if ys is not None:
            m = _num_samples(ys, names[1])
            if m != n:
                raise ValueError(f"{method}() needs as many samples in {names[1]} as in "
                                 f"{names[0]}; got {names[0]} with {n} and {names[1]} with {m}")
        if n == 0:
            raise ValueError(f"{method}() of model '{self.name}' got 0 samples in {names[0]}; "
                             f"it needs at least one")
        return xs, ys, n

    def _checked_arrays(self, value, name, symbols, kind):
        given = _as_list(value)
        if symbols is not None and len(given) != len(symbols):
            raise ValueError(f"model '{self.name}' has {len(symbols)} {kind}(s); {name} holds "
                             f"{len(given)} array(s)")
        arrays = []
        for i, a in enumerate(given):
            label = name if len(given) == 1 else f"{name}[{i}]"
            what = f"{label} of model '{self.name}'"
            if a is None:
                raise TypeError(f"{what} expects an array; got None")
            takes_text = kind == "input" and (is_string_dtype(symbols[i].dtype) if symbols is not None
                                              else self.accepts_strings)
            check = checks.as_checked_text_array if takes_text else checks.as_checked_array
            array = check(a.data if isinstance(a, Tensor) else a, what)
            if array.ndim == 0:
                raise ValueError(f"{what} must have a batch axis (samples first); got a scalar")
            if symbols is not None and kind == "input":
                expected = symbols[i].shape
                if takes_text and array.ndim == len(expected) - 1 and expected[-1] == 1:
                    array = array[..., None]  # one string per sample for an Input of shape (1,)
                if array.ndim != len(expected) or any(
                        e is not None and e != g for e, g in zip(expected[1:], array.shape[1:])):
                    raise ValueError(f"{what} must have shape {expected} (input "
                                     f"'{symbols[i].name}'); got {array.shape}")
            arrays.append(array)
        return arrays

    def _pack(self, xs):
        return xs[0] if len(xs) == 1 else xs

    def _validation_arrays(self, validation_data):
        if not isinstance(validation_data, (tuple, list)):
            raise TypeError(f"fit() argument validation_data must be a tuple (x_val, y_val); got "
                            f"{type(validation_data).__name__}")
        if len(validation_data) not in (2, 3):
            raise ValueError(f"fit() argument validation_data must be a tuple (x_val, y_val); got "
                             f"a {type(validation_data).__name__} of {len(validation_data)} items")
        if len(validation_data) == 3 and validation_data[2] is not None:
            raise ValueError("fit() argument validation_data holds sample weights (x_val, y_val, "
                             "sample_weight); sample weights are not supported: pass (x_val, y_val)")
        if validation_data[1] is None:
            raise ValueError("fit() argument validation_data needs targets: (x_val, y_val) with "
                             "y_val not None")
        return self._standardize(validation_data[0], validation_data[1], "fit",
                                 names=("validation_data x", "validation_data y"))

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            validation_batch_size=None):
        """Train for `epochs` passes over (x, y); returns a History of per-epoch logs.

        Every argument, array and callback is checked before the first step. A step whose loss,
        gradients or updated weights are not finite is undone and stops fit with
        NonFiniteLossError (or quietly, with TerminateOnNaN among the callbacks)."""
        self._require_compiled("fit")
        batch_size = _batch_size(batch_size, "fit", "batch_size", 32)
        validation_batch_size = _batch_size(validation_batch_size, "fit", "validation_batch_size",
                                            batch_size)
        epochs = checks.non_negative_int(epochs, "fit() argument epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "fit() argument initial_epoch")
        if initial_epoch > epochs:
            raise ValueError(f"fit() argument initial_epoch must be <= epochs ({epochs}); got "
                             f"{initial_epoch}")
        validation_split = checks.check_fraction(validation_split, "fit() argument validation_split")
        shuffle = checks.check_bool(shuffle, "fit() argument shuffle")
        verbose = _verbosity(verbose, "fit")
        cbs = _callback_objects(callbacks)
        if x is None or y is None:
            raise ValueError(f"fit() needs inputs x and targets y; got "
                             f"{'x=None' if x is None else 'x'} and {'y=None' if y is None else 'y'}")
        xs, ys, n = self._standardize(x, y, "fit")
        validation = None
        if validation_data is not None:
            val_xs, val_ys, val_n = self._validation_arrays(validation_data)
            validation = (val_xs, val_ys, val_n)
        elif validation_split > 0:
            split = int(math.floor(n * (1.0 - validation_split)))
            if split == 0:
                raise ValueError(f"fit() argument validation_split={validation_split} leaves none "
                                 f"of the {n} samples for training")
            validation = (_take(xs, slice(split, None)), _take(ys, slice(split, None)), n - split)
            xs, ys, n = _take(xs, slice(0, split)), _take(ys, slice(0, split)), split
        steps = math.ceil(n / batch_size)
        history = callbacks_module.History()
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose))
        cbs.append(history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size,
                  "metrics": self._log_keys(validation is not None)}
        cb = callbacks_module.CallbackList(cbs, model=self, params=params)
        cb._validate(self, params)
        loss_tracker = metrics_module.Mean(name="loss")
        self.stop_training = False
        self.history = history
        cb.on_train_begin()
        rng = generator()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            loss_tracker.reset_state()
            cb.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else np.arange(n)
            for step in range(steps):
                index = order[step * batch_size:(step + 1) * batch_size]
                cb.on_train_batch_begin(step)
                try:
                    value = self._undoable_train_step(self._pack(_take(xs, index)),
                                                      self._pack(_take(ys, index)))
                except NonFiniteLossError as error:
                    if any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs):
                        cb.on_train_batch_end(step, {"loss": float("nan")})
                        break
                    raise NonFiniteLossError(
                        f"fit stopped at epoch {epoch + 1}, batch {step + 1}: {error}; the step "
                        f"was undone: the weights are those after the last finite step") from None
                loss_tracker.update_state(value, sample_weight=len(index))
                cb.on_train_batch_end(step, self._metric_logs(loss_tracker))
                if self.stop_training:
                    break
            logs = self._metric_logs(loss_tracker)
            if validation is not None and not (self.stop_training and step < steps - 1):
                val = self._evaluate_arrays(*validation, validation_batch_size)
                logs.update({"val_" + k: v for k, v in val.items()})
            cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cb.on_train_end()
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """Loss (and metrics) over (x, y) in inference mode."""
        self._require_compiled("evaluate")
        batch_size = _batch_size(batch_size, "evaluate", "batch_size", 32)
        verbose = _verbosity(verbose, "evaluate")
        return_dict = checks.check_bool(return_dict, "evaluate() argument return_dict")
        if x is None or y is None:
            raise ValueError(f"evaluate() needs inputs x and targets y; got "
                             f"{'x=None' if x is None else 'x'} and {'y=None' if y is None else 'y'}")
        xs, ys, n = self._standardize(x, y, "evaluate")
        return self._report(self._evaluate_arrays(xs, ys, n, batch_size), verbose, return_dict)

    def _evaluate_arrays(self, xs, ys, n, batch_size):
        loss_tracker = metrics_module.Mean(name="loss")
        self._reset_metrics()
        with no_grad():
            for start in range(0, n, batch_size):
                index = slice(start, start + batch_size)
                bx, by = self._pack(_take(xs, index)), self._pack(_take(ys, index))
                y_pred = self(bx, training=False)
                loss_tracker.update_state(float(self._total_loss(by, y_pred).data),
                                          sample_weight=min(batch_size, n - start))
                self._update_metrics(by, y_pred)
        return self._metric_logs(loss_tracker)

    @staticmethod
    def _report(logs, verbose, return_dict):
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for x, computed in batches in inference mode, as NumPy arrays."""
        batch_size = _batch_size(batch_size, "predict", "batch_size", 32)
        _verbosity(verbose, "predict")
        xs, _, n = self._standardize(x, method="predict")
        return self._predict_arrays(xs, n, batch_size)

    def _predict_arrays(self, xs, n, batch_size):
        chunks = []
        with no_grad():
            for start in range(0, n, batch_size):
                out = self(self._pack(_take(xs, slice(start, start + batch_size))), training=False)
                chunks.append(out)
        outputs = [np.concatenate([o.data for o in parts]) for parts in zip(*map(_as_list, chunks))]
        return outputs if isinstance(chunks[0], (list, tuple)) else outputs[0]

    def train_on_batch(self, x, y, return_dict=False):
        """One training step on (x, y), undone (NonFiniteLossError) if anything is not finite."""
        self._require_compiled("train_on_batch")
        return_dict = checks.check_bool(return_dict, "train_on_batch() argument return_dict")
        if y is None:
            raise ValueError("train_on_batch() needs targets y; got y=None")
        xs, ys, _ = self._standardize(x, y, "train_on_batch")
        self._reset_metrics()
        value = self._undoable_train_step(self._pack(xs), self._pack(ys))
        logs = {"loss": value, **{m.name: float(m.result()) for m in self.compiled_metrics}}
        return logs if return_dict else (value if len(logs) == 1 else list(logs.values()))

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled("test_on_batch")
        return_dict = checks.check_bool(return_dict, "test_on_batch() argument return_dict")
        if y is None:
            raise ValueError("test_on_batch() needs targets y; got y=None")
        xs, ys, n = self._standardize(x, y, "test_on_batch")
        return self._report(self._evaluate_arrays(xs, ys, n, n), 0, return_dict)

    def predict_on_batch(self, x):
        xs, _, n = self._standardize(x, method="predict_on_batch")
        return self._predict_arrays(xs, n, n)


def _as_loss(identifier):
    fn = losses_module.get(identifier)
    if isinstance(fn, losses_module.Loss):
        return fn
    return losses_module.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))

