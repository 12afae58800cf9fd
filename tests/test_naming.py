"""Default names: minirnn's snake case against Keras 3's, for every class that names itself."""
import importlib
import inspect
import pkgutil
import re

import pytest
from hypothesis import given, strategies as st

import minirnn
from minirnn import layers, losses, metrics, optimizers
from minirnn.naming import to_snake_case
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402
from keras.src.utils.naming import to_snake_case as keras_to_snake_case  # noqa: E402

pytestmark = pytest.mark.tf


def subclasses_in(package, base):
    """Every class deriving from ``base`` defined in ``package`` or its submodules."""
    modules = [package] + [importlib.import_module(f"{package.__name__}.{info.name}")
                           for info in pkgutil.walk_packages(package.__path__)
                           if not info.ispkg]
    return sorted({obj for module in modules for obj in vars(module).values()
                   if inspect.isclass(obj) and issubclass(obj, base)
                   and obj.__module__.startswith(package.__name__)}, key=lambda c: c.__name__)


LAYER_CLASSES = subclasses_in(layers, layers.Layer)
OPTIMIZER_CLASSES = subclasses_in(optimizers, optimizers.Optimizer)
LOSS_AND_METRIC_CLASSES = [
    obj for module in (losses, metrics) for obj in vars(module).values()
    if inspect.isclass(obj) and obj.__module__ == module.__name__]


def test_every_class_is_collected():
    names = {cls.__name__ for cls in LAYER_CLASSES + OPTIMIZER_CLASSES}
    assert {"SimpleRNN", "GRU", "LSTM", "AdditiveAttention", "TimeDistributed", "RepeatVector",
            "Bidirectional", "Dense", "SGD", "RMSprop", "Nadam", "Adamax"} <= names
    assert len(LOSS_AND_METRIC_CLASSES) > 5


@pytest.mark.parametrize("cls", LAYER_CLASSES + OPTIMIZER_CLASSES + LOSS_AND_METRIC_CLASSES,
                         ids=lambda cls: f"{cls.__module__.split('.')[1]}.{cls.__name__}")
def test_class_name_in_snake_case_is_keras(cls):
    assert to_snake_case(cls.__name__) == keras_to_snake_case(cls.__name__)


@given(st.text(alphabet="AbCdXYZxyz09_ -.", max_size=20))
def test_any_name_is_snake_cased_as_keras_does(name):
    assert to_snake_case(name) == keras_to_snake_case(name)


@pytest.mark.parametrize("name, expected", [
    ("SimpleRNN", "simple_rnn"), ("GRU", "gru"), ("LSTM", "lstm"),
    ("AdditiveAttention", "additive_attention"), ("TimeDistributed", "time_distributed"),
    ("RepeatVector", "repeat_vector"), ("RMSprop", "rm_sprop"), ("AdamW", "adam_w"),
    ("Conv2DTranspose", "conv2d_transpose"), ("LSTMCell", "lstm_cell"), ("my layer!", "mylayer"),
])
def test_names_written_out(name, expected):
    assert to_snake_case(name) == expected


def unsuffixed(name):
    return re.sub(r"_\d+$", "", name)


@pytest.mark.parametrize("make", [
    lambda lib: lib.layers.SimpleRNN(2), lambda lib: lib.layers.GRU(2),
    lambda lib: lib.layers.LSTM(2), lambda lib: lib.layers.AdditiveAttention(),
    lambda lib: lib.layers.TimeDistributed(lib.layers.Dense(2)),
    lambda lib: lib.layers.RepeatVector(2), lambda lib: lib.layers.Bidirectional(
        lib.layers.LSTM(2)),
], ids=["SimpleRNN", "GRU", "LSTM", "AdditiveAttention", "TimeDistributed", "RepeatVector",
        "Bidirectional"])
def test_default_layer_names_are_keras(make):
    ours, theirs = make(minirnn), make(keras)
    assert unsuffixed(ours.name) == unsuffixed(theirs.name) == to_snake_case(type(ours).__name__)


@pytest.mark.parametrize("cls", [c for c in OPTIMIZER_CLASSES  # the public optimizers, no base
                                 if c is not optimizers.Optimizer and not c.__name__.startswith("_")],
                         ids=lambda cls: cls.__name__)
def test_default_optimizer_names_are_keras(cls):
    assert cls().name == unsuffixed(getattr(keras.optimizers, cls.__name__)().name)
