"""The training loop, mixed into Model as Keras's Trainer: compile, fit, evaluate, predict and
the batch-level steps, with the checks of their arguments and the undo of a step that fails.

Data comes as arrays (x, y, sample_weight; lists or dicts keyed by input and output names for
several) or as batches from a generator, PyDataset or other iterable (see data_adapters),
checked in training_data.py; both reach the steps as (x, y, sample_weights, size). Losses are
weighted as Keras weights them: a batch's loss is sum(w * loss) / batch_size; `metrics` are not
weighted, `weighted_metrics` are."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .. import callbacks as callbacks_module
from .. import checks
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers.collector import gc_paused
from ..tensor import no_grad
from . import data_adapters as adapters
from .training_data import TrainingData, _as_list, input_rank_adjustment

__all__ = ["Trainer", "NonFiniteLossError", "input_rank_adjustment"]


class NonFiniteLossError(FloatingPointError, ValueError):
    """fit met a NaN or infinite loss or gradient; the weights are those of the last finite step."""


def _positive_or_none(value, method, name):
    """batch_size, steps and the like: None (chosen later), or an int >= 1, NumPy ints accepted."""
    return None if value is None else checks.positive_int(value, f"{method}() argument {name}")


def _callback_objects(callbacks, method="fit"):
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{method}() argument callbacks must be a list of Callback objects; got "
                        f"{type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, callbacks_module.Callback):
            raise TypeError(f"{method}() argument callbacks must be a list of Callback objects; "
                            f"item {i} is {cb!r} of type {type(cb).__name__}")
    return list(callbacks)


def _check_compile_flags(run_eagerly, steps_per_execution, jit_compile, auto_scale_loss):
    """compile()'s arguments about how Keras runs a step. minirnn always runs eagerly in NumPy,
    with no compiler and no mixed precision: each flag's values give the same numbers, so every
    value Keras takes is accepted; steps_per_execution would change how often callbacks run,
    which minirnn does not implement, so only its default 1 is."""
    checks.check_bool(run_eagerly, "compile() argument run_eagerly")
    checks.check_bool(auto_scale_loss, "compile() argument auto_scale_loss")
    if not (jit_compile is True or jit_compile is False or jit_compile == "auto"):
        raise ValueError(f"compile() argument jit_compile must be True, False or 'auto'; got "
                         f"{jit_compile!r}")
    checks.check_unimplemented(steps_per_execution, "compile() argument `steps_per_execution`",
                               1, "several steps per callback call")


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


def _class_weight_table(class_weight, method):
    """compile-free check of class_weight: {class index (int >= 0): finite weight}."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"{method}() argument class_weight must be a dict {{class index: weight}}; "
                        f"got {type(class_weight).__name__}")
    table = {}
    for key, weight in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral) or key < 0:
            raise ValueError(f"{method}() argument class_weight must map class indices (ints >= 0) "
                             f"to weights; got the key {key!r}")
        weight = checks.check_float(weight, f"{method}() argument class_weight[{key!r}]")
        if not math.isfinite(weight):
            raise ValueError(f"{method}() argument class_weight[{key!r}] must be finite; got {weight}")
        table[int(key)] = weight
    return table


class Trainer(TrainingData):
    """compile / fit / evaluate / predict for Model, which supplies the layer side (weights,
    `__call__`) and, for a graph model, `inputs`, `outputs` and `_records`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.compiled_weighted_metrics = []
        self.stop_training = False
        self.history = None

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None,
                loss_weights: float | Sequence[float] | None = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: bool = False,
                steps_per_execution: int = 1, jit_compile: bool | Literal["auto"] = "auto",
                auto_scale_loss: bool = True) -> None:
        """Choose optimizer, loss and metrics by object or Keras's string names.

        `metrics` are computed unweighted; `weighted_metrics` are weighted by the sample weights
        (or class weights) fit and evaluate are given, as in Keras. `loss_weights`: a number, or
        one per output. minirnn always runs eagerly in NumPy with no compiler or mixed precision:
        `run_eagerly`, `jit_compile` and `auto_scale_loss` take Keras's values and change
        nothing; `steps_per_execution` is accepted at 1 only (UnsupportedArgumentError otherwise).
        Everything is built and checked before the model changes: a compile that raises leaves
        the previous optimizer (with its slots), loss and metrics in place."""
        _check_compile_flags(run_eagerly, steps_per_execution, jit_compile, auto_scale_loss)
        opt = optimizers_module.get(optimizer)
        loss_fns = [_as_loss(l) for l in _as_list(loss)] if loss is not None else None
        metric_objs = [metrics_module.get(m, loss=loss) for m in _as_list(metrics or [])]
        weighted_objs = [metrics_module.get(m, loss=loss) for m in _as_list(weighted_metrics or [])]
        outputs = len(self.outputs) if self._records is not None else None
        if loss_fns is not None and outputs is not None and len(loss_fns) not in (1, outputs):
            raise ValueError(f"compile() of model '{self.name}' got {len(loss_fns)} losses for "
                             f"{outputs} output(s); give one loss, or one per output")
        weights = _loss_weights(loss_weights, outputs, self.name)
        self.optimizer, self.loss, self._loss_fns = opt, loss, loss_fns
        self._loss_weights = weights
        self.compiled_metrics = metric_objs
        self.compiled_weighted_metrics = weighted_objs
        plain = {m.name for m in metric_objs}
        # Keras's names: a weighted metric named as a plain one is logged as weighted_<name>
        self._weighted_metric_names = [("weighted_" if m.name in plain else "") + m.name
                                       for m in weighted_objs]
        self._compile_config = {"optimizer": optimizer if isinstance(optimizer, str) else None,
                                "loss": loss if isinstance(loss, str) else None,
                                "metrics": [m for m in _as_list(metrics or []) if isinstance(m, str)],
                                "weighted_metrics": [m for m in _as_list(weighted_metrics or [])
                                                     if isinstance(m, str)]}

    def _require_compiled(self, what):
        if self.optimizer is None or not self._loss_fns:
            raise ValueError(f"call compile(optimizer, loss) before {what}()")

    def _total_loss(self, y_true, y_pred, sample_weight=None):
        """The compiled losses summed over outputs (times loss_weights); `sample_weight` is None
        or one array (or None) per output, each loss reduced as Keras reduces it."""
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
        sample_weights = sample_weight if sample_weight is not None else [None] * len(preds)
        total = None
        for fn, yt, yp, w, sw in zip(fns, trues, preds, weights, sample_weights):
            term = fn(yt, yp) if sw is None else fn(yt, yp, sample_weight=sw)
            term = term if w == 1.0 else term * w
            total = term if total is None else total + term
        return total

    def _update_metrics(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _as_list(y_true)[0], _as_list(y_pred)[0]  # the Tensor: its mask counts
        for metric in self.compiled_metrics:
            metric.update_state(y_true, y_pred)
        weight = None if sample_weight is None else sample_weight[0]
        for metric in self.compiled_weighted_metrics:
            metric.update_state(y_true, y_pred, sample_weight=weight)

    def _reset_metrics(self):
        for metric in self.compiled_metrics + self.compiled_weighted_metrics:
            metric.reset_state()

    def _metric_logs(self, loss_tracker, prefix=""):
        logs = {prefix + "loss": float(loss_tracker.result())}
        for metric in self.compiled_metrics:
            logs[prefix + metric.name] = float(metric.result())
        for name, metric in zip(self._weighted_metric_names, self.compiled_weighted_metrics):
            logs[prefix + name] = float(metric.result())
        return logs

    def _log_keys(self, validation):
        keys = ["loss"] + [m.name for m in self.compiled_metrics] + self._weighted_metric_names
        return keys + (["val_" + key for key in keys] if validation else [])

    def train_step(self, x, y, sample_weight=None):
        """One optimisation step on a batch; returns the loss as a float. Nothing is updated when
        the loss or a gradient is not finite (NonFiniteLossError says so); an update that makes a
        weight NaN or infinite raises it too, and fit / train_on_batch then undo that update.
        `sample_weight`: None or one array per output."""
        variables = self.trainable_weights
        for v in variables:
            v.grad = None
        with gc_paused():  # the graph dies in backward(): the collector never needs to walk it
            y_pred = self(x, training=True)
            loss = self._total_loss(y, y_pred, sample_weight)
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
        self._update_metrics(y, y_pred, sample_weight)
        return value

    def _undoable_train_step(self, x, y, sample_weight=None):
        """train_step, undone if it raises: every weight (the moving statistics of a
        BatchNormalization too), the optimizer's slots and its iteration count are put back as
        they were, so a step that overflows (or fails in any other way) leaves the last good state."""
        variables = self.weights
        saved = self._save_step_state(variables)
        try:
            # an override written as train_step(self, x, y) is called so while there are no weights
            value = (self.train_step(x, y) if sample_weight is None
                     else self.train_step(x, y, sample_weight))
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

    # -- the loops -------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: int | Literal["auto"] = "auto", callbacks: Sequence[Any] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: dict[int, float] | None = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1) -> callbacks_module.History:
        """Train for `epochs` passes over the data; returns a History of per-epoch logs.

        x (and y, sample_weight) as arrays, or x as a generator, PyDataset, iterable or
        tf.data.Dataset of (x, y) / (x, y, sample_weight) batches; validation_data likewise, or
        (x_val, y_val[, val_sample_weight]). A one-shot generator is read on until it runs out,
        `steps_per_epoch` batches an epoch if given (else one epoch is all of it); an epoch that
        finds it used up warns as Keras does and ends training. class_weight ({class: weight})
        weights each sample by its class, for generators too (Keras refuses them there).

        Every argument, array, callback and the first batch of a generator is checked before
        the first step; a later batch that does not fit is refused before its step. A step whose
        loss, gradients or updated weights are not finite is undone and stops fit with
        NonFiniteLossError (or quietly, with TerminateOnNaN among the callbacks)."""
        self._require_compiled("fit")
        batch_size = _positive_or_none(batch_size, "fit", "batch_size")
        validation_batch_size = _positive_or_none(validation_batch_size, "fit",
                                                  "validation_batch_size") or batch_size
        epochs = checks.non_negative_int(epochs, "fit() argument epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "fit() argument initial_epoch")
        if initial_epoch > epochs:
            raise ValueError(f"fit() argument initial_epoch must be <= epochs ({epochs}); got "
                             f"{initial_epoch}")
        validation_split = checks.check_fraction(validation_split, "fit() argument validation_split")
        shuffle = checks.check_bool(shuffle, "fit() argument shuffle")
        steps_per_epoch = _positive_or_none(steps_per_epoch, "fit", "steps_per_epoch")
        validation_steps = _positive_or_none(validation_steps, "fit", "validation_steps")
        validation_freq = checks.positive_int(validation_freq, "fit() argument validation_freq")
        verbose = checks.check_verbosity(verbose, "fit() argument verbose")
        cbs = _callback_objects(callbacks)
        table = None if class_weight is None else _class_weight_table(class_weight, "fit")
        if x is None or (y is None and adapters.is_array_like(x)):
            raise ValueError(f"fit() needs inputs x and targets y; got "
                             f"{'x=None' if x is None else 'x'} and {'y=None' if y is None else 'y'}")
        arrays = None
        if adapters.is_array_like(x):
            xs, ys, n = self._standardize(x, y, "fit")
            arrays = (xs, ys, self._checked_sample_weights(sample_weight, ys, n, "sample_weight"), n)
        validation, arrays = self._validation(validation_data, validation_split, arrays,
                                              validation_batch_size, validation_steps)
        train = self._data("fit", x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                           ("x", "y", "sample_weight"), class_weight=table, arrays=arrays)
        history = callbacks_module.History()
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose))
        cbs.append(history)
        params = {"epochs": epochs, "steps": train.num_batches, "verbose": verbose,
                  "batch_size": batch_size, "metrics": self._log_keys(validation is not None)}
        cb = callbacks_module.CallbackList(cbs, model=self, params=params)
        cb._validate(self, params)
        loss_tracker = metrics_module.Mean(name="loss")
        self.stop_training = False
        self.history = history
        self._initial_epoch = None  # BackupAndRestore sets it in on_train_begin
        cb.on_train_begin()
        if self._initial_epoch is not None:
            initial_epoch = self._initial_epoch
        for epoch in range(initial_epoch, epochs):
            if not train.prepare():
                break
            self._reset_metrics()
            loss_tracker.reset_state()
            cb.on_epoch_begin(epoch)
            for step, (bx, by, bsw, size) in train.batches():
                cb.on_train_batch_begin(step)
                try:
                    value = self._undoable_train_step(bx, by, bsw)
                except NonFiniteLossError as error:
                    if any(isinstance(c, callbacks_module.TerminateOnNaN) for c in cbs):
                        cb.on_train_batch_end(step, {"loss": float("nan")})
                        break
                    raise NonFiniteLossError(
                        f"fit stopped at epoch {epoch + 1}, batch {step + 1}: {error}; the step "
                        f"was undone: the weights are those after the last finite step") from None
                loss_tracker.update_state(value, sample_weight=size)
                cb.on_train_batch_end(step, self._metric_logs(loss_tracker))
                if self.stop_training:
                    break
            train.finish_epoch()
            logs = self._metric_logs(loss_tracker)
            last = train.num_batches is not None and step >= train.num_batches - 1
            if (validation is not None and (epoch + 1) % validation_freq == 0
                    and not (self.stop_training and not last)):
                val = self._evaluate_batches(validation)
                if val is not None:
                    logs.update({"val_" + k: v for k, v in val.items()})
            cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cb.on_train_end()
        return history

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: int | Literal["auto"] = "auto", sample_weight: Any = None,
                 steps: int | None = None, callbacks: Sequence[Any] | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) over the data in inference mode: arrays (x, y, sample_weight), or
        x as a generator, PyDataset, iterable or tf.data.Dataset of (x, y[, sample_weight])
        batches, `steps` of them if given. The loss is each batch's sum(w * loss) / batch_size,
        averaged over the samples, as in Keras. `callbacks` get the on_test_* hooks."""
        self._require_compiled("evaluate")
        batch_size = _positive_or_none(batch_size, "evaluate", "batch_size")
        verbose = checks.check_verbosity(verbose, "evaluate() argument verbose")
        steps = _positive_or_none(steps, "evaluate", "steps")
        cbs = _callback_objects(callbacks, "evaluate")
        return_dict = checks.check_bool(return_dict, "evaluate() argument return_dict")
        if x is None or (y is None and adapters.is_array_like(x)):
            raise ValueError(f"evaluate() needs inputs x and targets y; got "
                             f"{'x=None' if x is None else 'x'} and {'y=None' if y is None else 'y'}")
        data = self._data("evaluate", x, y, sample_weight, batch_size, steps, False,
                          ("x", "y", "sample_weight"))
        progress = callbacks_module.progress_callbacks(verbose, data.num_batches, self, cbs)
        progress.on_test_begin()
        logs = self._evaluate_batches(data, progress)
        progress.on_test_end(logs)
        return self._report(logs, return_dict)

    def _evaluate_batches(self, data, progress=None):
        """Logs over one epoch of `data` (an EpochIterator); None when it has run out."""
        if not data.prepare():
            return None
        loss_tracker = metrics_module.Mean(name="loss")
        self._reset_metrics()
        with no_grad():
            for step, (bx, by, bsw, size) in data.batches():
                if progress is not None:
                    progress.on_test_batch_begin(step)
                y_pred = self(bx, training=False)
                loss_tracker.update_state(float(self._total_loss(by, y_pred, bsw).data),
                                          sample_weight=size)
                self._update_metrics(by, y_pred, bsw)
                if progress is not None:
                    progress.on_test_batch_end(step, self._metric_logs(loss_tracker))
        data.finish_epoch()
        return self._metric_logs(loss_tracker)

    @staticmethod
    def _report(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None,
                verbose: int | Literal["auto"] = "auto", steps: int | None = None,
                callbacks: Sequence[Any] | None = None) -> np.ndarray | list[np.ndarray]:
        """Outputs for x, computed in batches in inference mode, as NumPy arrays. x: arrays, or a
        generator, PyDataset, iterable or tf.data.Dataset of batches (x alone, or tuples whose
        first item is x), `steps` of them if given. `callbacks` get the on_predict_* hooks."""
        batch_size = _positive_or_none(batch_size, "predict", "batch_size")
        verbose = checks.check_verbosity(verbose, "predict() argument verbose")
        steps = _positive_or_none(steps, "predict", "steps")
        cbs = _callback_objects(callbacks, "predict")
        if x is None:
            raise ValueError("predict() needs inputs x; got x=None")
        data = self._data("predict", x, None, None, batch_size, steps, False, ("x", "y", ""),
                          targets=False)
        progress = callbacks_module.progress_callbacks(verbose, data.num_batches, self, cbs)
        progress.on_predict_begin()
        outputs = self._predict_batches(data, progress)
        progress.on_predict_end()
        return outputs

    def _predict_batches(self, data, progress=None):
        data.prepare()
        chunks = []
        with no_grad():
            for step, (bx, _, _, _) in data.batches():
                if progress is not None:
                    progress.on_predict_batch_begin(step)
                chunks.append(self(bx, training=False))
                if progress is not None:
                    progress.on_predict_batch_end(step, {"outputs": chunks[-1]})
        data.finish_epoch()
        outputs = [np.concatenate([o.data for o in parts]) for parts in zip(*map(_as_list, chunks))]
        return outputs if isinstance(chunks[0], (list, tuple)) else outputs[0]

    def _whole_batch(self, method, x, y, sample_weight=None, class_weight=None, targets=True):
        """An EpochIterator giving (x, y) as one batch, checked as fit checks its arrays."""
        xs, ys, n = self._standardize(x, y, method)
        sws = self._checked_sample_weights(sample_weight, ys, n, "sample_weight") if targets else None
        return self._data(method, x, y, None, n, None, False, ("x", "y", "sample_weight"),
                          class_weight=class_weight, targets=targets, arrays=(xs, ys, sws, n))

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict[int, float] | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One training step on (x, y), undone (NonFiniteLossError) if anything is not finite."""
        self._require_compiled("train_on_batch")
        return_dict = checks.check_bool(return_dict, "train_on_batch() argument return_dict")
        if y is None:
            raise ValueError("train_on_batch() needs targets y; got y=None")
        table = None if class_weight is None else _class_weight_table(class_weight,
                                                                       "train_on_batch")
        data = self._whole_batch("train_on_batch", x, y, sample_weight, table)
        data.prepare()
        (_, (bx, by, bsw, _)), = data.batches()
        self._reset_metrics()
        value = self._undoable_train_step(bx, by, bsw)
        logs = {"loss": value, **{m.name: float(m.result()) for m in self.compiled_metrics},
                **{name: float(m.result()) for name, m in zip(self._weighted_metric_names,
                                                              self.compiled_weighted_metrics)}}
        return logs if return_dict else (value if len(logs) == 1 else list(logs.values()))

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Loss (and metrics) of one batch (x, y) in inference mode."""
        self._require_compiled("test_on_batch")
        return_dict = checks.check_bool(return_dict, "test_on_batch() argument return_dict")
        if y is None:
            raise ValueError("test_on_batch() needs targets y; got y=None")
        data = self._whole_batch("test_on_batch", x, y, sample_weight)
        return self._report(self._evaluate_batches(data), return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray | list[np.ndarray]:
        """The outputs for one batch x, as NumPy arrays."""
        return self._predict_batches(self._whole_batch("predict_on_batch", x, None, targets=False))


def _as_loss(identifier):
    fn = losses_module.get(identifier)
    if isinstance(fn, losses_module.Loss):
        return fn
    return losses_module.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))

