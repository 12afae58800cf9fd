"""Bad input to layers, optimizers, losses and the gradient checker: one table, one test.

Each row of ROWS is (id, call, error, patterns): calling `call` must raise exactly `error`, and its
message must match every regex in `patterns` (what was given an argument or input, what it expects,
what came). A call on a built layer (OnBuilt) must leave its weights as they were; a call on a
fresh layer (OnFresh) must leave it unbuilt, with no weights.

Choices the table documents:
* Inputs are bool, integer or real floating point. Complex (a cast would drop the imaginary
  part), strings (even numeric ones: NumPy would parse them) and object arrays (None would become
  NaN) raise TypeError naming the layer, the dtype that came and the kinds accepted. Embedding,
  which takes integer ids, refuses them too.
* Recurrent layers refuse a batch of 0 samples and a sequence of 0 timesteps (the time loop has
  nothing to run and no last output to give) on both paths, before building anything. Other layers
  compute an empty batch as Keras does (Dense of (0, d) is (0, units)): see
  test_empty_batch_is_computed_where_it_has_a_meaning. Attention refuses 0 value timesteps (a
  softmax over nothing).
* Constructor arguments: TypeError for the wrong type (bool is not an int, a string is not a
  number), ValueError for a value out of range. Unlike Keras, which clips an RNN's dropout into
  [0, 1] silently, a dropout outside [0, 1) is refused.
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import Tensor, layers, losses, metrics, optimizers
from minirnn.gradcheck import check_grads, numerical_grad


# -- the calls -----------------------------------------------------------------------------------

class OnBuilt:
    """Build a layer on a good input, then make the bad call; keeps the weights from before."""

    def __init__(self, make, good, bad):
        self.make, self.good, self.bad = make, good, bad
        self.layer = self.before = None

    def __call__(self):
        self.layer = self.make()
        self.layer(self.good)
        self.before = self.layer.get_weights()
        self.bad(self.layer)


class OnFresh:
    """Make the bad call on a layer never built: it must stay unbuilt."""

    def __init__(self, make, bad):
        self.make, self.bad = make, bad
        self.layer = None

    def __call__(self):
        self.layer = self.make()
        self.bad(self.layer)


def call_with(x):
    return lambda layer: layer(x)


rng = np.random.default_rng(0)
SEQ = rng.standard_normal((2, 4, 3)).astype("float32")      # (batch, timesteps, features)
FLAT = rng.standard_normal((2, 3)).astype("float32")        # (batch, features)
IDS = np.array([[1, 2, 0], [3, 1, 2]])                       # Embedding ids
QUERY = rng.standard_normal((2, 3, 4)).astype("float32")
VALUE = rng.standard_normal((2, 5, 4)).astype("float32")


# -- 1. dtypes: one check for every entry point ----------------------------------------------------

def bad_values(kind, like):
    """`like` with the same shape, as a value of a refused kind."""
    if kind == "complex":
        return like.astype(np.complex128) + 1j
    if kind == "complex_tensor":                  # the Tensor branch of the conversion
        return Tensor(like.astype(np.complex64) + 1j)
    if kind == "numeric_strings":
        return like.astype(str)
    if kind == "words":
        return np.full(like.shape, "a")
    if kind == "object_none":
        objects = like.astype(object)
        objects.flat[0] = None
        return objects
    raise AssertionError(kind)


DTYPE_SEEN = {"complex": "complex128", "complex_tensor": "complex64",
              "numeric_strings": r"<U\d+", "words": "<U1", "object_none": "object"}
ACCEPTED = "bool, integer or real floating point"

LAYERS = {  # name: (class name in messages, maker, good input, how to make the input bad)
    "Dense": ("Dense", lambda: layers.Dense(2, name="probe"), FLAT, None),
    "LSTM_fused": ("LSTM", lambda: layers.LSTM(2, name="probe"), SEQ, None),
    "LSTM_unroll": ("LSTM", lambda: layers.LSTM(2, unroll=True, name="probe"), SEQ, None),
    "GRU": ("GRU", lambda: layers.GRU(2, name="probe"), SEQ, None),
    "SimpleRNN": ("SimpleRNN", lambda: layers.SimpleRNN(2, name="probe"), SEQ, None),
    "Bidirectional": ("Bidirectional",
                      lambda: layers.Bidirectional(layers.LSTM(2), name="probe"), SEQ, None),
    "Embedding": ("Embedding", lambda: layers.Embedding(4, 2, name="probe"), IDS, None),
    "Attention": ("Attention", lambda: layers.Attention(name="probe"), [QUERY, VALUE],
                  lambda bad: [bad, VALUE]),
}

ROWS = []
for layer_id, (cls_name, make, good, wrap) in LAYERS.items():
    like = good[0] if isinstance(good, list) else good
    for kind, seen in DTYPE_SEEN.items():
        bad = bad_values(kind, like)
        bad = wrap(bad) if wrap else bad
        patterns = [rf"{cls_name} 'probe'", ACCEPTED, seen]
        ROWS.append((f"{layer_id}-{kind}-built", OnBuilt(make, good, call_with(bad)), TypeError,
                     patterns))
    # a fresh layer is not built by a refused input
    ROWS.append((f"{layer_id}-complex-fresh",
                 OnFresh(make, call_with(wrap(bad_values("complex", like)) if wrap
                                         else bad_values("complex", like))),
                 TypeError, [rf"{cls_name} 'probe'", ACCEPTED, "complex128"]))

ROWS += [
    # a Python list is a structure of inputs, as in Keras: each leaf is checked
    ("Dense-a-string", OnBuilt(lambda: layers.Dense(2, name="probe"), FLAT, call_with("1.5")),
     TypeError, ["Dense 'probe'", ACCEPTED, "string '1.5'"]),
    ("Add-list-holding-a-string", OnFresh(lambda: layers.Add(name="probe"),
                                          call_with([FLAT, "1.5"])),
     TypeError, ["Add 'probe'", ACCEPTED, "string '1.5'"]),
    ("Add-list-holding-complex", OnFresh(lambda: layers.Add(name="probe"),
                                         call_with([FLAT, FLAT + 1j])),
     TypeError, ["Add 'probe'", ACCEPTED, "complex64"]),
    ("LSTM-step-complex", OnBuilt(lambda: layers.LSTM(2, name="probe"), SEQ,
                                  lambda layer: layer.step(FLAT + 1j, [np.zeros((2, 2))] * 2)),
     TypeError, ["LSTM 'probe'", ACCEPTED, "complex64"]),
    ("LSTM-initial-state-complex",
     OnBuilt(lambda: layers.LSTM(2, name="probe"), SEQ,
             lambda layer: layer(SEQ, initial_state=[np.zeros((2, 2)) + 1j] * 2)),
     TypeError, ["LSTM 'probe'", ACCEPTED, "complex128"]),
    ("Attention-complex-value", OnBuilt(lambda: layers.Attention(name="probe"), [QUERY, VALUE],
                                        call_with([QUERY, VALUE + 1j])),
     TypeError, ["Attention 'probe'", ACCEPTED, "complex64"]),
]


# -- 2. empty batch and 0 timesteps ---------------------------------------------------------------

RECURRENT = {
    "SimpleRNN": ("SimpleRNN", lambda unroll: layers.SimpleRNN(2, unroll=unroll, name="probe")),
    "LSTM": ("LSTM", lambda unroll: layers.LSTM(2, unroll=unroll, name="probe")),
    "GRU": ("GRU", lambda unroll: layers.GRU(2, unroll=unroll, name="probe")),
    "Bidirectional": ("Bidirectional", lambda unroll: layers.Bidirectional(
        layers.LSTM(2, unroll=unroll, return_sequences=True), name="probe")),
}
EMPTY = {"empty_batch": (np.zeros((0, 4, 3), "float32"), "empty batch", r"\(0, 4, 3\)"),
         "0_timesteps": (np.zeros((2, 0, 3), "float32"), "0 timesteps", r"\(2, 0, 3\)")}

for layer_id, (cls_name, make) in RECURRENT.items():
    for unroll in (False, True):
        path = "unroll" if unroll else "fused"
        for what, (x, words, shape) in EMPTY.items():
            patterns = [rf"{cls_name} 'probe'", words, shape]
            ROWS.append((f"{layer_id}-{path}-{what}-fresh",
                         OnFresh(lambda make=make, unroll=unroll: make(unroll), call_with(x)),
                         ValueError, patterns))
            ROWS.append((f"{layer_id}-{path}-{what}-built",
                         OnBuilt(lambda make=make, unroll=unroll: make(unroll), SEQ, call_with(x)),
                         ValueError, patterns))
for layer_id, (cls_name, make) in list(RECURRENT.items())[:3]:
    step = (lambda layer: layer.step(np.zeros((0, 3), "float32"),
                                     [np.zeros((0, 2), "float32")] * layer.n_states))
    ROWS.append((f"{layer_id}-step-empty_batch-fresh", OnFresh(lambda make=make: make(False), step),
                 ValueError, [rf"{cls_name} 'probe'.step", "empty batch", r"\(0, 3\)"]))
    ROWS.append((f"{layer_id}-step-empty_batch-built",
                 OnBuilt(lambda make=make: make(False), SEQ, step),
                 ValueError, [rf"{cls_name} 'probe'.step", "empty batch", r"\(0, 3\)"]))
ROWS += [
    ("Attention-0-value-timesteps",
     OnFresh(lambda: layers.Attention(name="probe"), call_with([QUERY, VALUE[:, :0]])),
     ValueError, ["Attention 'probe'", r"at least 1 value timestep", r"value \(2, 0, 4\)"]),
    ("LuongAttention-0-value-timesteps",
     OnFresh(lambda: layers.LuongAttention(name="probe"), call_with([FLAT[:, :4], VALUE[:, :0]])),
     ValueError, ["LuongAttention 'probe'", r"at least 1 value timestep", r"values \(2, 0, 4\)"]),
]


# -- 3. constructor arguments --------------------------------------------------------------------

def ctor(make):
    return make  # the constructor call itself is the bad call


def arg_rows(prefix, make, cases):
    """cases: (argument, bad value, error, expected words, shown value)."""
    for arg, value, error, expected, shown in cases:
        ROWS.append((f"{prefix}-{arg}={value!r}", ctor(lambda arg=arg, value=value:
                                                         make(**{arg: value})),
                     error, [rf"`{arg}`", expected, shown]))


INT_CASES = [  # (value, error, expected words, shown)
    (True, TypeError, "must be an int", "True of type bool"),
    (0, ValueError, "int >= 1", "got 0"),
    (-3, ValueError, "int >= 1", "got -3"),
    (2.5, TypeError, "must be an int", "2.5 of type float"),
    ("8", TypeError, "must be an int", "'8' of type str"),
    (None, TypeError, "must be an int", "None of type NoneType"),
]
FLAG_CASES = [("yes", "'yes' of type str"), (1, "1 of type int"), (None, "None of type NoneType")]

for cls in (layers.SimpleRNN, layers.LSTM, layers.GRU):
    name = cls.__name__
    arg_rows(name, lambda cls=cls, **kw: cls(**{"units": 3, **kw}),
             [("units", v, e, w, s) for v, e, w, s in INT_CASES])
    flags = ["return_sequences", "return_state", "go_backwards", "stateful", "unroll", "use_bias"]
    if name == "LSTM":
        flags.append("unit_forget_bias")
    if name == "GRU":
        flags.append("reset_after")
    for flag in flags:
        value, shown = FLAG_CASES[flags.index(flag) % len(FLAG_CASES)]
        arg_rows(name, lambda cls=cls, **kw: cls(3, **kw),
                 [(flag, value, TypeError, "must be True or False", shown)])
    arg_rows(name, lambda cls=cls, **kw: cls(3, **kw), [
        ("dropout", "a", TypeError, "must be a real number", "'a' of type str"),
        ("dropout", 1.5, ValueError, r"in \[0.0, 1.0\)", "got 1.5"),
        ("dropout", 1.0, ValueError, r"in \[0.0, 1.0\)", "got 1.0"),
        ("dropout", 0.5 + 0.5j, TypeError, "must be a real number", "of type complex"),
        ("recurrent_dropout", -0.1, ValueError, r"in \[0.0, 1.0\)", "got -0.1"),
        ("recurrent_dropout", "0.2", TypeError, "must be a real number", "'0.2' of type str"),
        ("seed", -1, ValueError, "int >= 0", "got -1"),
        ("seed", "s", TypeError, "must be an int", "'s' of type str"),
    ])

arg_rows("Dense", lambda **kw: layers.Dense(**{"units": 3, **kw}),
         [("units", v, e, w, s) for v, e, w, s in INT_CASES] +
         [("use_bias", "no", TypeError, "True or False", "'no' of type str")])
arg_rows("Embedding", lambda **kw: layers.Embedding(**{"input_dim": 10, "output_dim": 3, **kw}), [
    ("input_dim", 0, ValueError, "int >= 1", "got 0"),
    ("input_dim", "10", TypeError, "must be an int", "'10' of type str"),
    ("input_dim", True, TypeError, "must be an int", "True of type bool"),
    ("output_dim", 2.5, TypeError, "must be an int", "2.5 of type float"),
    ("output_dim", -1, ValueError, "int >= 1", "got -1"),
    ("mask_zero", "yes", TypeError, "True or False", "'yes' of type str"),
])
arg_rows("Dropout", lambda **kw: layers.Dropout(**{"rate": 0.5, **kw}), [
    ("rate", 1.5, ValueError, r"in \[0.0, 1.0\]", "got 1.5"),
    ("rate", -0.1, ValueError, r"in \[0.0, 1.0\]", "got -0.1"),
    ("rate", "0.5", TypeError, "must be a real number", "'0.5' of type str"),
    ("rate", float("nan"), ValueError, r"in \[0.0, 1.0\]", "got nan"),
    ("noise_shape", 3, TypeError, "tuple of sizes", "3 of type int"),
    ("noise_shape", (None, 0), ValueError, "int >= 1", "got 0"),
    ("seed", 1.5, TypeError, "must be an int", "1.5 of type float"),
])
arg_rows("RepeatVector", lambda **kw: layers.RepeatVector(**kw), [
    ("n", v, e, w, s) for v, e, w, s in INT_CASES])
arg_rows("Reshape", lambda **kw: layers.Reshape(**kw), [
    ("target_shape", "8", TypeError, "tuple of ints", "'8' of type str"),
    ("target_shape", 8, TypeError, "tuple of ints", "8 of type int"),
    ("target_shape", (2.5, 2), TypeError, "must be an int", "2.5 of type float"),
    ("target_shape", ("2", 2), TypeError, "must be an int", "'2' of type str"),
    ("target_shape", (0, 2), ValueError, "positive sizes and at most one -1", r"got \(0, 2\)"),
    ("target_shape", (-1, -1), ValueError, "positive sizes and at most one -1",
     r"got \(-1, -1\)"),
])
arg_rows("Masking", lambda **kw: layers.Masking(**kw), [
    ("mask_value", "0", TypeError, "must be a real number", "'0' of type str"),
    ("mask_value", None, TypeError, "must be a real number", "None of type NoneType"),
    ("mask_value", 1j, TypeError, "must be a real number", "of type complex"),
])
arg_rows("Concatenate", lambda **kw: layers.Concatenate(**kw), [
    ("axis", "1", TypeError, "must be an int", "'1' of type str")])
for cls in (layers.Attention, layers.AdditiveAttention):
    arg_rows(cls.__name__, lambda cls=cls, **kw: cls(**kw), [
        ("dropout", "a", TypeError, "must be a real number", "'a' of type str"),
        ("dropout", 1.5, ValueError, r"in \[0.0, 1.0\]", "got 1.5"),
        ("dropout", -0.1, ValueError, r"in \[0.0, 1.0\]", "got -0.1"),
        ("use_scale", "yes", TypeError, "True or False", "'yes' of type str"),
        ("seed", -2, ValueError, "int >= 0", "got -2"),
    ])
arg_rows("Attention", lambda **kw: layers.Attention(**kw), [
    ("score_mode", "general", ValueError, r"one of \['dot', 'concat'\]", "'general'")])
arg_rows("LuongAttention", lambda **kw: layers.LuongAttention(**kw), [
    ("score", "location", ValueError, r"one of \['dot', 'general', 'concat'\]", "'location'")])
arg_rows("LuongAttention-concat", lambda **kw: layers.LuongAttention("concat", **kw), [
    ("units", "4", TypeError, "must be an int", "'4' of type str"),
    ("units", 0, ValueError, "int >= 1", "got 0")])
arg_rows("BahdanauAttention", lambda **kw: layers.BahdanauAttention(**kw), [
    ("units", v, e, w, s) for v, e, w, s in INT_CASES])
arg_rows("Bidirectional", lambda **kw: layers.Bidirectional(**{"layer": layers.LSTM(2), **kw}), [
    ("merge_mode", "avg", ValueError, r"one of \['concat', 'sum', 'mul', 'ave'\]", "'avg'"),
    ("merge_mode", 3, ValueError, r"one of \['concat', 'sum', 'mul', 'ave'\]", "3 of type int"),
    ("layer", layers.Dense(2), TypeError, "recurrent layer", "of type Dense"),
    ("backward_layer", "lstm", TypeError, "None or a recurrent layer", "'lstm' of type str"),
])
arg_rows("Layer", lambda **kw: layers.Dense(2, **kw), [
    ("trainable", "yes", TypeError, "True or False", "'yes' of type str"),
    ("name", 3, TypeError, "string or None", "3 of type int"),
])
arg_rows("losses.CategoricalCrossentropy", lambda **kw: losses.CategoricalCrossentropy(**kw), [
    ("label_smoothing", 1.5, ValueError, r"in \[0.0, 1.0\]", "got 1.5"),
    ("label_smoothing", "0.1", TypeError, "must be a real number", "'0.1' of type str"),
    ("from_logits", "yes", TypeError, "True or False", "'yes' of type str"),
    ("axis", 1.0, TypeError, "must be an int", "1.0 of type float"),
])
arg_rows("losses.SparseCategoricalCrossentropy",
         lambda **kw: losses.SparseCategoricalCrossentropy(**kw), [
             ("ignore_class", "0", TypeError, "must be an int", "'0' of type str"),
             ("from_logits", 1, TypeError, "True or False", "1 of type int")])
arg_rows("metrics.BinaryAccuracy", lambda **kw: metrics.BinaryAccuracy(**kw), [
    ("threshold", "0.5", TypeError, "must be a real number", "'0.5' of type str")])
arg_rows("metrics.BinaryCrossentropy", lambda **kw: metrics.BinaryCrossentropy(**kw), [
    ("label_smoothing", -0.5, ValueError, r"in \[0.0, 1.0\]", "got -0.5")])


# -- 4. optimizers ---------------------------------------------------------------------------------

arg_rows("Adam", lambda **kw: optimizers.Adam(**kw), [
    ("learning_rate", -0.1, ValueError, ">= 0", "-0.1"),
    ("learning_rate", "fast", TypeError, "must be a number", "'fast' of type str"),
    ("learning_rate", None, TypeError, "must be a number", "None of type NoneType"),
    ("learning_rate", 1e-3 + 0j, TypeError, "must be a number", "of type complex"),
    ("learning_rate", float("nan"), ValueError, "finite number", "nan"),
    ("learning_rate", True, TypeError, "must be a number", "True of type bool"),
    ("beta_1", 1.0, ValueError, r"in \[0, 1\)", "got 1.0"),
    ("beta_1", -0.1, ValueError, r"in \[0, 1\)", "got -0.1"),
    ("beta_1", "0.9", TypeError, r"must be a number in \[0, 1\)", "'0.9' of type str"),
    ("beta_2", 1.5, ValueError, r"in \[0, 1\)", "got 1.5"),
    ("epsilon", -1e-7, ValueError, "> 0", "got -1e-07"),
    ("epsilon", "1e-7", TypeError, "must be a number", "'1e-7' of type str"),
    ("amsgrad", "yes", TypeError, "True or False", "'yes' of type str"),
    ("clipnorm", 0.0, ValueError, "> 0", "got 0.0"),
    ("clipnorm", "1", TypeError, "must be a number", "'1' of type str"),
    ("clipvalue", -1.0, ValueError, "> 0", "got -1.0"),
    ("global_clipnorm", -2.0, ValueError, "> 0", "got -2.0"),
    ("weight_decay", -0.1, ValueError, ">= 0", "got -0.1"),
    ("weight_decay", "0.01", TypeError, "must be a number", "'0.01' of type str"),
])
arg_rows("SGD", lambda **kw: optimizers.SGD(**kw), [
    ("momentum", 1.5, ValueError, r"in \[0, 1\]", "got 1.5"),
    ("momentum", -0.5, ValueError, r"in \[0, 1\]", "got -0.5"),
    ("momentum", "0.9", TypeError, "must be a number", "'0.9' of type str"),
    ("nesterov", "yes", TypeError, "True or False", "'yes' of type str"),
    ("learning_rate", -1, ValueError, ">= 0", "got -1"),
])
arg_rows("RMSprop", lambda **kw: optimizers.RMSprop(**kw), [
    ("rho", 1.5, ValueError, r"in \[0, 1\]", "got 1.5"),
    ("rho", "0.9", TypeError, "must be a number", "'0.9' of type str"),
    ("momentum", -0.1, ValueError, r"in \[0, 1\]", "got -0.1"),
    ("epsilon", 0.0, ValueError, "> 0", "got 0.0"),
    ("centered", "no", TypeError, "True or False", "'no' of type str"),
])
arg_rows("Adagrad", lambda **kw: optimizers.Adagrad(**kw), [
    ("initial_accumulator_value", -1.0, ValueError, ">= 0", "got -1.0")])
for name in ("Nadam", "Adamax"):
    arg_rows(name, lambda name=name, **kw: getattr(optimizers, name)(**kw), [
        ("learning_rate", -0.1, ValueError, ">= 0", "-0.1"),
        ("beta_1", 1.0, ValueError, r"in \[0, 1\)", "got 1.0"),
        ("beta_2", "0.999", TypeError, r"must be a number in \[0, 1\)", "'0.999' of type str"),
        ("epsilon", 0.0, ValueError, "> 0", "got 0.0"),
        ("clipnorm", -1.0, ValueError, "> 0", "got -1.0"),
        ("weight_decay", -0.1, ValueError, ">= 0", "got -0.1"),
    ])
arg_rows("AdamW", lambda **kw: optimizers.AdamW(**kw), [
    ("weight_decay", None, ValueError, "a number", "got None")])
arg_rows("ExponentialDecay",
         lambda **kw: optimizers.ExponentialDecay(**{"initial_learning_rate": 0.1,
                                                     "decay_steps": 10, "decay_rate": 0.5, **kw}), [
             ("decay_steps", "10", TypeError, "must be a number > 0", "'10' of type str"),
             ("decay_steps", 0, ValueError, "> 0", "got 0"),
             ("staircase", "yes", TypeError, "True or False", "'yes' of type str")])
ROWS += [
    ("SGD-clipnorm-and-global_clipnorm",
     ctor(lambda: optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)), ValueError,
     ["Only one of", "`clipnorm`", "`global_clipnorm`", "clipnorm=1.0", "global_clipnorm=1.0"]),
    ("Adam-clipnorm-and-clipvalue",
     ctor(lambda: optimizers.Adam(clipnorm=1.0, clipvalue=0.5)), ValueError,
     ["Only one of", "`clipvalue`", "clipvalue=0.5"]),
]


# -- 5. the gradient checker -----------------------------------------------------------------------

def _square(x):
    return x * x


ROWS += [
    ("check_grads-complex-input", ctor(lambda: check_grads(_square, np.ones(3) + 1j)), TypeError,
     ["check_grads input 0", ACCEPTED, "complex128"]),
    ("check_grads-complex-tensor", ctor(lambda: check_grads(_square, Tensor(np.ones(3) + 2j))),
     TypeError, ["check_grads input 0", ACCEPTED, "complex128"]),
    ("check_grads-second-input-complex",
     ctor(lambda: check_grads(lambda a, b: a * b, np.ones(3), np.ones(3, np.complex64))),
     TypeError, ["check_grads input 1", ACCEPTED, "complex64"]),
    ("check_grads-ragged-list", ctor(lambda: check_grads(_square, [[1.0, 2.0], [1.0]])),
     TypeError, ["check_grads input 0", ACCEPTED, "list that is not one"]),
    ("check_grads-strings", ctor(lambda: check_grads(_square, np.array(["1.5", "2"]))),
     TypeError, ["check_grads input 0", ACCEPTED, "<U3"]),
    ("check_grads-complex-param",
     ctor(lambda: check_grads(_square, np.ones(3),
                              params=[Tensor(np.ones(3, np.complex128), name="w")])),
     TypeError, ["check_grads param w", "float64", "complex128"]),
    ("numerical_grad-complex",
     ctor(lambda: numerical_grad(lambda z: 0.0, [np.ones(2, np.complex128)])), TypeError,
     ["numerical_grad", "float64", "complex128"]),
]


# -- the one test over the table -----------------------------------------------------------------

def _row_ids():
    ids = [row[0] for row in ROWS]
    assert len(set(ids)) == len(ids), "row ids must be unique"
    return ids


@pytest.mark.parametrize("row", ROWS, ids=_row_ids())
def test_bad_input_is_refused_clearly_and_changes_nothing(row):
    _, call, error, patterns = row
    with pytest.raises(Exception) as info:
        call()
    assert info.type is error, f"expected {error.__name__}; got {info.type.__name__}: {info.value}"
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in message: {message}"
    if isinstance(call, OnBuilt):
        after = call.layer.get_weights()
        assert len(after) == len(call.before)
        for a, b in zip(after, call.before):
            np.testing.assert_array_equal(a, b)
    if isinstance(call, OnFresh):
        assert not call.layer.built and call.layer.weights == []


def test_table_covers_every_kind():
    ids = " ".join(_row_ids())
    for layer_id in LAYERS:
        for kind in DTYPE_SEEN:
            assert f"{layer_id}-{kind}-built" in ids
    for layer_id in RECURRENT:
        for path in ("fused", "unroll"):
            for what in EMPTY:
                assert f"{layer_id}-{path}-{what}-fresh" in ids


# -- what is not an error --------------------------------------------------------------------------

def test_empty_batch_is_computed_where_it_has_a_meaning():
    """Keras computes these on a batch of 0 samples; so does minirnn (shapes by hand)."""
    assert layers.Dense(3)(np.zeros((0, 2))).shape == (0, 3)
    assert layers.Dense(3)(np.zeros((0, 4, 2))).shape == (0, 4, 3)
    assert layers.Embedding(5, 3)(np.zeros((0, 4), int)).shape == (0, 4, 3)
    assert layers.TimeDistributed(layers.Dense(2))(np.zeros((0, 4, 3))).shape == (0, 4, 2)
    assert layers.Reshape((-1,))(np.zeros((0, 4, 2))).shape == (0, 8)
    assert layers.RepeatVector(3)(np.zeros((0, 2))).shape == (0, 3, 2)
    assert layers.Attention()([np.zeros((0, 3, 2)), np.zeros((0, 5, 2))]).shape == (0, 3, 2)
    context, weights = layers.LuongAttention()([np.zeros((0, 2)), np.zeros((0, 5, 2))])
    assert (context.shape, weights.shape) == ((0, 2), (0, 5))
    context, weights = layers.BahdanauAttention(4)([np.zeros((0, 2)), np.zeros((0, 5, 3))])
    assert (context.shape, weights.shape) == ((0, 3), (0, 5))


@pytest.mark.parametrize("x", [np.ones((2, 3), bool), np.ones((2, 3), np.int8),
                               np.ones((2, 3), np.uint16), np.ones((2, 3), np.float16),
                               np.arange(6, dtype=np.int64).reshape(2, 3)])
def test_bool_integer_and_real_inputs_are_accepted(x):
    dense = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")
    expected = np.asarray(x, dtype=np.float64).sum(axis=1, keepdims=True).repeat(2, axis=1)
    np.testing.assert_array_equal(dense(x).data, expected)


# -- valid NumPy scalar types keep working ---------------------------------------------------------

INT_TYPES = [int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOAT_TYPES = [float, np.float16, np.float32, np.float64]


@given(units=st.integers(1, 5), int_type=st.sampled_from(INT_TYPES),
       rate=st.sampled_from([0.0, 0.125, 0.25, 0.5]), float_type=st.sampled_from(FLOAT_TYPES),
       cls=st.sampled_from([layers.SimpleRNN, layers.LSTM, layers.GRU]),
       flag=st.sampled_from([True, False, np.True_, np.False_]))
def test_numpy_scalars_are_accepted_by_recurrent_layers(units, int_type, rate, float_type, cls,
                                                        flag):
    layer = cls(int_type(units), dropout=float_type(rate), recurrent_dropout=float_type(rate),
                return_sequences=flag, seed=int_type(3))
    assert (layer.units, layer.dropout, layer.return_sequences) == (units, rate, bool(flag))
    assert type(layer.units) is int and type(layer.dropout) is float
    y = layer(np.ones((2, 3, 2), "float32"))
    assert y.shape == ((2, 3, units) if flag else (2, units))
    assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


@given(n=st.integers(1, 4), int_type=st.sampled_from(INT_TYPES),
       rate=st.sampled_from([0.0, 0.25, 1.0]), float_type=st.sampled_from(FLOAT_TYPES))
def test_numpy_scalars_are_accepted_by_core_and_attention_layers(n, int_type, rate, float_type):
    made = [layers.Dense(int_type(n)), layers.Embedding(int_type(n + 1), int_type(n)),
            layers.RepeatVector(int_type(n)), layers.Reshape((int_type(n), -1)),
            layers.Dropout(float_type(rate)), layers.Masking(float_type(rate)),
            layers.Attention(dropout=float_type(rate), seed=int_type(1)),
            layers.AdditiveAttention(dropout=float_type(rate)),
            layers.BahdanauAttention(int_type(n)), layers.Concatenate(axis=int_type(1))]
    dense, embedding, repeat, reshape = made[:4]
    assert (dense.units, embedding.input_dim, repeat.n, reshape.target_shape) == \
           (n, n + 1, n, (n, -1))
    assert made[4].rate == rate and made[6].dropout == rate
    for layer in made:
        assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    assert dense(np.ones((2, 3))).shape == (2, n)
    assert repeat(np.ones((2, 3))).shape == (2, n, 3)


@given(lr=st.sampled_from([1e-3, 0.5, 2.0]), float_type=st.sampled_from(FLOAT_TYPES),
       beta=st.sampled_from([0.0, 0.5, 0.875]), int_type=st.sampled_from(INT_TYPES))
def test_numpy_scalars_are_accepted_by_optimizers(lr, float_type, beta, int_type):
    adam = optimizers.Adam(learning_rate=float_type(lr), beta_1=float_type(beta),
                           beta_2=float_type(beta), epsilon=float_type(1e-3),
                           clipnorm=float_type(lr), weight_decay=float_type(beta))
    sgd = optimizers.SGD(learning_rate=int_type(1), momentum=float_type(beta),
                         nesterov=np.True_, global_clipnorm=int_type(2))
    rms = optimizers.RMSprop(learning_rate=float_type(lr), rho=float_type(beta),
                             momentum=float_type(beta), clipvalue=float_type(lr))
    assert adam.learning_rate == pytest.approx(float(float_type(lr)))
    assert (adam.beta_1, sgd.momentum, rms.rho) == (beta, beta, beta)
    assert sgd.learning_rate == 1.0 and sgd.global_clipnorm == 2.0
    for opt in (adam, sgd, rms):
        assert type(opt).from_config(opt.get_config()).get_config() == opt.get_config()
