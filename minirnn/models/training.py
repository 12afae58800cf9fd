"""The training loop, mixed into Model as Keras's Trainer: compile, fit, evaluate, predict and
the batch-level steps, with the checks of their arguments and the undo of a step that fails.

Data comes as arrays (x, y, sample_weight; lists or dicts keyed by input and output names for
several) or as batches from a generator, PyDataset or other iterable (see data_adapters); both
reach the steps as (x, y, sample_weights, size). Losses are weighted as Keras weights them: a
batch's loss is sum(w * loss) / batch_size; `metrics` are not weighted, `weighted_metrics` are."""
import math
import numbers

import numpy as np

from .. import callbacks as callbacks_module
from .. import checks
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..layers.base import is_string_dtype
from ..layers.collector import gc_paused
from ..tensor import Tensor, floatx, no_grad
from . import data_adapters as adapters

__all__ = ["Trainer", "NonFiniteLossError", "input_rank_adjustment"]


def input_rank_adjustment(expected_shape, shape):
    """How Keras reconciles an input's rank with the declared one (Functional._adjust_input_rank):
    "squeeze" for one extra trailing axis of size 1, "expand" for a missing last axis the model
    declares of size 1, else None (the shapes are then compared as they are)."""
    rank, expected = len(shape), len(expected_shape)
    if rank == expected + 1 and shape[-1] == 1:
        return "squeeze"
    if rank == expected - 1 and expected and expected_shape[-1] == 1:
        return "expand"
    return None

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


def _steps(value, method, name):
    return None if value is None else checks.positive_int(value, f"{method}() argument {name}")


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


def _output_names(model):
    """Keras's output names: the name of the layer that makes each output."""
    return [o.producer.layer.name if o.producer is not None else o.name for o in model.outputs]


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


def _labels(y):
    """Each sample's class as Keras reads it for class_weight: argmax of one-hot rows, the
    rounded value of sparse or binary labels (shape (n,) or (n, 1))."""
    if y.ndim > 1 and y.shape[-1] != 1:
        return np.argmax(y, axis=-1), y.shape[-1]
    labels = y[..., 0] if y.ndim > 1 else y
    return np.round(labels).astype(np.int64), None


def _describe_batch(raw):
    if isinstance(raw, tuple):
        return f"a tuple of {len(raw)} items"
    return f"{type(raw).__name__}" + (f" of shape {raw.shape}" if hasattr(raw, "shape") else "")


def _layout(arrays, targets):
    """What must stay the same from batch to batch: the rank of each array and, where it is
    the feature axis, its last size. The time axis (and the length of sparse sequence labels)
    may change between batches, as bucketed sequences do."""
    out = []
    for a in arrays:
        fixed = a.ndim >= 2 and not (targets and a.ndim == 2 and a.dtype.kind in "iub")
        out.append((a.ndim, a.shape[-1] if fixed else None))
    return out


class Trainer:
    """compile / fit / evaluate / predict for Model, which supplies the layer side (weights,
    `__call__`) and, for a graph model, `inputs`, `outputs` and `_records`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.compiled_weighted_metrics = []
        self.stop_training = False
        self.history = None

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, **kwargs):
        """Choose optimizer, loss and metrics by object or Keras's string names.

        `metrics` are computed unweighted; `weighted_metrics` are weighted by the sample weights
        (or class weights) fit and evaluate are given, as in Keras.
        Everything is built and checked before the model changes: a compile that raises leaves
        the previous optimizer (with its slots), loss and metrics in place."""
        ignored = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if ignored:
            raise TypeError(f"compile() got unexpected keyword arguments {sorted(ignored)}")
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

    # -- arrays: checked whole -------------------------------------------------------------------
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

    def _by_name(self, value, name, kind):
        """A dict keyed by the model's input names (or output layer names) as a list in the
        model's order. A model without a graph (subclassed) gets its dict inputs back as a dict."""
        if self._records is None:
            if kind == "input":
                return list(value.values())
            raise TypeError(f"{name} is a dict, but model '{self.name}' has no named outputs "
                            f"(it is not a functional model); pass a list in output order")
        names = [s.name for s in self.inputs] if kind == "input" else _output_names(self)
        missing = [k for k in names if k not in value]
        unknown = [k for k in value if k not in names]
        if missing or unknown:
            raise ValueError(f"{name} of model '{self.name}' is a dict keyed by {kind} names "
                             f"{names}; got keys {list(value)}"
                             + (f", missing {missing}" if missing else "")
                             + (f", unknown {unknown}" if unknown else ""))
        return [value[k] for k in names]

    def _checked_arrays(self, value, name, symbols, kind):
        given = self._by_name(value, name, kind) if isinstance(value, dict) else _as_list(value)
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
                # the model call reconciles one trailing axis of size 1, as Keras's does
                how = input_rank_adjustment(expected, array.shape)
                shape = {"squeeze": array.shape[:-1], "expand": array.shape + (1,)}.get(how, array.shape)
                if len(shape) != len(expected) or any(
                        e is not None and e != g for e, g in zip(expected[1:], shape[1:])):
                    raise ValueError(f"{what} must have shape {expected} (input "
                                     f"'{symbols[i].name}'); got {array.shape}")
            arrays.append(array)
        return arrays

    def _packer(self, x):
        """How a batch's input arrays reach the model: one array, a list, or (for a model without
        a graph given a dict) the dict again, keyed as it was."""
        if isinstance(x, dict) and self._records is None:
            keys = list(x)
            return lambda arrays: dict(zip(keys, arrays))
        return self._pack

    @staticmethod
    def _pack(xs):
        return xs[0] if len(xs) == 1 else xs

    def _checked_sample_weights(self, sample_weight, ys, n, name):
        """sample_weight as one float array per output (None where an output is unweighted):
        one array for every output, or a list or dict (by output name) with one per output. Each
        holds one finite weight per sample (or per timestep: a prefix of its target's shape)."""
        if sample_weight is None:
            return None
        per_output = isinstance(sample_weight, dict) or (
            len(ys) > 1 and isinstance(sample_weight, (list, tuple)))
        if isinstance(sample_weight, dict):
            given = self._by_name(sample_weight, name, "output")
        elif per_output:
            given = list(sample_weight)
            if len(given) != len(ys):
                raise ValueError(f"{name} of model '{self.name}' must hold one array per output "
                                 f"({len(ys)}) or a single array for all; got {len(given)}")
        else:
            given = [sample_weight] * len(ys)
        weights = []
        for i, (w, y) in enumerate(zip(given, ys)):
            label = f"{name}[{i}]" if per_output and len(ys) > 1 else name
            what = f"{label} of model '{self.name}'"
            if w is None:
                weights.append(None)
                continue
            array = checks.as_checked_array(w.data if isinstance(w, Tensor) else w, what)
            if array.ndim == 0 or array.shape[0] != n:
                raise ValueError(f"{what} must hold one weight per sample ({n}); got "
                                 f"{'a scalar' if array.ndim == 0 else f'shape {array.shape}'}")
            if any(size != 1 and (axis >= y.ndim or size != y.shape[axis])
                   for axis, size in enumerate(array.shape[1:], start=1)):
                raise ValueError(f"{what} must have shape ({n},) or a prefix of its target's "
                                 f"shape {y.shape}; got {array.shape}")
            if array.dtype.kind != "f":
                array = array.astype(floatx())
            if not np.isfinite(array).all():
                raise ValueError(f"{what} must be finite; it holds NaN or infinite weights")
            weights.append(array)
        return weights if any(w is not None for w in weights) else None

    def _class_sample_weights(self, table, ys, name, method):
        """Keras's class_weight: each sample weighted by its class (see _labels); a class index
        the model's output cannot produce is refused."""
        if len(ys) != 1:
            raise ValueError(f"{method}() argument class_weight is only supported for models with "
                             f"a single output; model '{self.name}' has {len(ys)}")
        labels, classes = _labels(ys[0])
        if classes is None and self._records is not None and self.outputs[0].shape[-1] is not None:
            units = self.outputs[0].shape[-1]
            classes = 2 if units == 1 else units  # one unit: binary labels 0 and 1
        if classes is not None:
            unknown = sorted(k for k in table if k >= classes)
            if unknown:
                raise ValueError(f"{method}() argument class_weight names classes {unknown} that "
                                 f"do not exist: {name} of model '{self.name}' has {classes} "
                                 f"classes (0 to {classes - 1})")
        weights = np.ones(labels.shape, dtype=floatx())
        for label, weight in table.items():
            weights[labels == label] = weight
        return [weights]

    # -- batches from a generator, PyDataset or iterable: checked one by one --------------------
    def _batch_check(self, method, source, targets, class_weight=None, epochs=False):
        """check(raw, step, epoch) -> (x, y, sample_weights, size) for the batches of `source`:
        each a tuple (x, y) or (x, y, sample_weight) (for predict also x alone or (x,)), checked
        as arrays are, and against the first batch: the same arrays, ranks and feature sizes."""
        first = {}
        known = self._records is not None

        def check(raw, step, epoch):
            where = f"{source}: batch {step}" + (f" of epoch {epoch + 1}" if epochs else "")
            if isinstance(raw, list):
                raw = tuple(raw)  # as Keras's PyDataset adapter reads a list
            if targets:
                if not isinstance(raw, tuple) or len(raw) not in (2, 3):
                    raise ValueError(f"{where} is {_describe_batch(raw)}; expected a tuple (inputs, "
                                     f"targets) or (inputs, targets, sample_weights)")
                x, y, sample_weight = raw[0], raw[1], raw[2] if len(raw) == 3 else None
                if y is None:
                    raise ValueError(f"{where} has no targets (y is None); {method}() needs them")
            else:
                x = raw[0] if isinstance(raw, tuple) and raw else raw
                y = sample_weight = None
            xs = self._checked_arrays(x, f"{where}, x", self.inputs if known else None, "input")
            ys = None if y is None else self._checked_arrays(
                y, f"{where}, y", self.outputs if known else None, "output")
            n = _num_samples(xs + (ys or []), f"{where}")
            if n == 0:
                raise ValueError(f"{where} holds 0 samples; a batch needs at least one")
            layout = (_layout(xs, False), None if ys is None else _layout(ys, True))
            if not first:
                first.update(layout=layout, shapes=([a.shape for a in xs],
                                                    None if ys is None else [a.shape for a in ys]))
            else:
                self._same_layout(where, layout, first)
            sample_weights = self._checked_sample_weights(sample_weight, ys, n,
                                                          f"{where}, sample_weight") if ys else None
            if class_weight is not None:
                if sample_weights is not None:
                    raise ValueError(f"{where} holds sample weights; {method}() cannot take "
                                     f"class_weight and sample weights at the same time")
                sample_weights = self._class_sample_weights(class_weight, ys, f"{where}, y", method)
            pack_x = self._packer(x)
            return pack_x(xs), None if ys is None else self._pack(ys), sample_weights, n
        return check

    @staticmethod
    def _same_layout(where, layout, first):
        for part, kind in ((0, "x"), (1, "y")):
            got, expected = layout[part], first["layout"][part]
            if expected is None:
                continue
            shapes = first["shapes"][part]
            if len(got) != len(expected):
                raise ValueError(f"{where} has {len(got)} {kind} array(s); the first batch had "
                                 f"{len(expected)}")
            for i, ((rank, last), (rank0, last0)) in enumerate(zip(got, expected)):
                if rank != rank0 or last != last0:
                    label = kind if len(got) == 1 else f"{kind}[{i}]"
                    feature = "" if last0 is None else f" and last axis {last0}"
                    raise ValueError(f"{where} has {label} of rank {rank}"
                                     + ("" if last is None else f" with last axis {last}")
                                     + f"; expected rank {rank0}{feature}, as the first batch "
                                       f"(shape {shapes[i]})")

    def _data(self, method, x, y, sample_weight, batch_size, steps, shuffle, names,
              class_weight=None, targets=True, arrays=None):
        """An EpochIterator over the data, every check that can be made now made: arrays whole,
        the first batch of anything else. `arrays` are (xs, ys, sample_weights, n) already
        checked (fit's, split for validation); `names` name x, y and sample_weight in messages."""
        if arrays is None and adapters.is_array_like(x):
            if targets and y is None:
                raise ValueError(f"{method}() needs targets {names[1]} with inputs {names[0]}; "
                                 f"got {names[1]}=None")
            xs, ys, n = self._standardize(x, y if targets else None, method, names[:2])
            sample_weights = (self._checked_sample_weights(sample_weight, ys, n, names[2])
                              if targets else None)
            arrays = (xs, ys, sample_weights, n)
        if arrays is not None:
            xs, ys, sample_weights, n = arrays
            if class_weight is not None:
                if sample_weights is not None:
                    raise ValueError(f"{method}() cannot take class_weight and sample_weight at "
                                     f"the same time")
                sample_weights = self._class_sample_weights(class_weight, ys, names[1], method)
            if batch_size is None:
                batch_size = math.ceil(n / steps) if steps else 32  # Keras's default with steps
            adapter = adapters.ArrayAdapter(xs, ys, sample_weights, n, batch_size, shuffle,
                                            self._packer(x), self._pack)
        else:
            for value, arg, what in ((y, names[1], "the targets"),
                                     (sample_weight, names[2], "the sample weights")):
                if value is not None:
                    raise ValueError(f"{method}() got {arg} with {names[0]} given as "
                                     f"{type(x).__name__}: {what} must come in its batches "
                                     f"((inputs, targets, sample_weights) tuples)")
            adapter = adapters.adapter_for(x, shuffle, f"{method}() argument {names[0]}")
        source = f"{method}() argument {names[0]}"
        data = adapters.EpochIterator(adapter, steps,
                                      self._batch_check(method, source, targets, class_weight,
                                                        epochs=method == "fit" and names[0] == "x"),
                                      source)
        if not adapter.checked:
            data.prepare()  # the first batch is read and checked before anything is done
        return data

    def _validation(self, validation_data, validation_split, training_arrays, batch_size,
                    validation_steps):
        if validation_data is None:
            if not validation_split:
                return None, training_arrays
            if training_arrays is None:
                raise ValueError("fit() argument validation_split is only supported for arrays; "
                                 "x is a generator or dataset: pass validation_data instead")
            xs, ys, sws, n = training_arrays
            split = int(math.floor(n * (1.0 - validation_split)))
            if split == 0:
                raise ValueError(f"fit() argument validation_split={validation_split} leaves none "
                                 f"of the {n} samples for training")
            def part(cut, count):
                return (_take(xs, cut), _take(ys, cut), None if sws is None else _take(sws, cut),
                        count)
            held = self._data("fit", None, None, None, batch_size, validation_steps, False,
                              ("validation_split x", "validation_split y", ""),
                              arrays=part(slice(split, None), n - split))
            return held, part(slice(0, split), split)
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) not in (2, 3):
                raise ValueError(f"fit() argument validation_data must be a tuple (x_val, y_val) "
                                 f"or (x_val, y_val, val_sample_weight); got a "
                                 f"{type(validation_data).__name__} of {len(validation_data)} items")
            if validation_data[1] is None:
                raise ValueError("fit() argument validation_data needs targets: (x_val, y_val) with "
                                 "y_val not None")
            x_val, y_val = validation_data[0], validation_data[1]
            sw_val = validation_data[2] if len(validation_data) == 3 else None
            return self._data("fit", x_val, y_val, sw_val, batch_size, validation_steps, False,
                              ("validation_data x", "validation_data y",
                               "validation_data sample_weight")), training_arrays
        if adapters.is_array_like(validation_data):
            raise TypeError(f"fit() argument validation_data must be a tuple (x_val, y_val), or a "
                            f"generator or dataset of batches; got {type(validation_data).__name__}")
        return self._data("fit", validation_data, None, None, batch_size, validation_steps, False,
                          ("validation_data", "", "")), training_arrays

    # -- the loops -------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
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
        batch_size = None if batch_size is None else _batch_size(batch_size, "fit", "batch_size", 32)
        validation_batch_size = _batch_size(validation_batch_size, "fit", "validation_batch_size",
                                            batch_size)
        epochs = checks.non_negative_int(epochs, "fit() argument epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "fit() argument initial_epoch")
        if initial_epoch > epochs:
            raise ValueError(f"fit() argument initial_epoch must be <= epochs ({epochs}); got "
                             f"{initial_epoch}")
        validation_split = checks.check_fraction(validation_split, "fit() argument validation_split")
        shuffle = checks.check_bool(shuffle, "fit() argument shuffle")
        steps_per_epoch = _steps(steps_per_epoch, "fit", "steps_per_epoch")
        validation_steps = _steps(validation_steps, "fit", "validation_steps")
        validation_freq = checks.positive_int(validation_freq, "fit() argument validation_freq")
        verbose = _verbosity(verbose, "fit")
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

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, return_dict=False):
        """Loss (and metrics) over the data in inference mode: arrays (x, y, sample_weight), or
        x as a generator, PyDataset, iterable or tf.data.Dataset of (x, y[, sample_weight])
        batches, `steps` of them if given. The loss is each batch's sum(w * loss) / batch_size,
        averaged over the samples, as in Keras."""
        self._require_compiled("evaluate")
        batch_size = None if batch_size is None else _batch_size(batch_size, "evaluate",
                                                                 "batch_size", 32)
        verbose = _verbosity(verbose, "evaluate")
        steps = _steps(steps, "evaluate", "steps")
        return_dict = checks.check_bool(return_dict, "evaluate() argument return_dict")
        if x is None or (y is None and adapters.is_array_like(x)):
            raise ValueError(f"evaluate() needs inputs x and targets y; got "
                             f"{'x=None' if x is None else 'x'} and {'y=None' if y is None else 'y'}")
        data = self._data("evaluate", x, y, sample_weight, batch_size, steps, False,
                          ("x", "y", "sample_weight"))
        progress = callbacks_module.progress_callbacks(verbose, data.num_batches, self)
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

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """Outputs for x, computed in batches in inference mode, as NumPy arrays. x: arrays, or a
        generator, PyDataset, iterable or tf.data.Dataset of batches (x alone, or tuples whose
        first item is x), `steps` of them if given."""
        batch_size = None if batch_size is None else _batch_size(batch_size, "predict",
                                                                 "batch_size", 32)
        verbose = _verbosity(verbose, "predict")
        steps = _steps(steps, "predict", "steps")
        if x is None:
            raise ValueError("predict() needs inputs x; got x=None")
        data = self._data("predict", x, None, None, batch_size, steps, False, ("x", "y", ""),
                          targets=False)
        progress = callbacks_module.progress_callbacks(verbose, data.num_batches, self)
        progress.on_predict_begin()
        outputs = self._predict_batches(data, progress)
        progress.on_predict_end()
        return outputs

    def _predict_batches(self, data, progress=None):
        data.prepare()
        chunks = []
        with no_grad():
            for step, (bx, _, _, _) in data.batches():
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

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
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

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        return_dict = checks.check_bool(return_dict, "test_on_batch() argument return_dict")
        if y is None:
            raise ValueError("test_on_batch() needs targets y; got y=None")
        data = self._whole_batch("test_on_batch", x, y, sample_weight)
        return self._report(self._evaluate_batches(data), return_dict)

    def predict_on_batch(self, x):
        return self._predict_batches(self._whole_batch("predict_on_batch", x, None, targets=False))


def _as_loss(identifier):
    fn = losses_module.get(identifier)
    if isinstance(fn, losses_module.Loss):
        return fn
    return losses_module.LossFunctionWrapper(fn, name=getattr(fn, "__name__", None))

