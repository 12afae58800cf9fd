"""The data fit, evaluate and predict are given, checked before it is used and made into
batches: arrays checked whole against the model (dtypes, a batch axis, input shapes, sample
counts, sample and class weights), batches from a generator, PyDataset or other iterable checked
one by one against the first; mixed into Trainer (training.py)."""
import math

import numpy as np

from .. import checks
from ..layers.base import is_string_dtype
from ..tensor import Tensor, floatx
from . import data_adapters as adapters

__all__ = ["TrainingData", "input_rank_adjustment"]


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


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _num_samples(arrays, what):
    counts = {len(a) for a in arrays}
    if len(counts) > 1:
        raise ValueError(f"all arrays of {what} must have the same number of samples; got "
                         f"{[len(a) for a in arrays]}")
    return counts.pop() if counts else 0


def _output_names(model):
    """Keras's output names: the name of the layer that makes each output."""
    return [o.producer.layer.name if o.producer is not None else o.name for o in model.outputs]


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


class TrainingData:
    """Trainer's checks of its data and the EpochIterators over it; the model side (`inputs`,
    `outputs`, `_records`, `name`, `accepts_strings`) is Model's."""

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
                take = adapters._take
                return take(xs, cut), take(ys, cut), None if sws is None else take(sws, cut), count
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
