"""Constructor signatures against Keras 3's, read with inspect.signature from the installed Keras.

For every public layer, optimizer, schedule, loss, metric and initializer that has a Keras
counterpart: each Keras argument is listed by name (or left out for a reason written in EXCLUDED
below), with Keras's default; no constructor hides its arguments behind a bare **kwargs; the
arguments minirnn does not implement accept their default and refuse any other value by name;
and typing.get_type_hints resolves the annotations of constructors and public methods.
"""
import ast
import configparser
import inspect
import pathlib
import typing

import numpy as np
import pytest

import minirnn
from minirnn import callbacks, initializers, layers, losses, metrics, optimizers
from minirnn.checks import UnsupportedArgumentError
from minirnn.layers import attention
from minirnn.optimizers import schedules
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402  (after import_tf, which configures TensorFlow's environment)
from keras.src.losses.losses import LossFunctionWrapper as KerasLossFunctionWrapper  # noqa: E402
from keras.src.models.functional import Functional as KerasFunctional  # noqa: E402
from keras.src.optimizers.base_optimizer import BaseOptimizer as KerasBaseOptimizer  # noqa: E402

pytestmark = pytest.mark.tf

QUANTIZATION = "quantized inference is not implemented, and the argument is too rare to list"

# (minirnn class, Keras class, {Keras argument minirnn leaves out: why})
CASES = [
    (layers.Dense, keras.layers.Dense, {"quantization_config": QUANTIZATION}),
    (layers.Embedding, keras.layers.Embedding, {"quantization_config": QUANTIZATION}),
    (layers.Dropout, keras.layers.Dropout, {}),
    (layers.TimeDistributed, keras.layers.TimeDistributed, {}),
    (layers.Activation, keras.layers.Activation, {}),
    (layers.Flatten, keras.layers.Flatten, {}),
    (layers.Reshape, keras.layers.Reshape, {}),
    (layers.RepeatVector, keras.layers.RepeatVector, {}),
    (layers.Masking, keras.layers.Masking, {}),
    (layers.Lambda, keras.layers.Lambda, {}),
    (layers.Concatenate, keras.layers.Concatenate, {}),
    (layers.Add, keras.layers.Add, {}),
    (layers.Multiply, keras.layers.Multiply, {}),
    (layers.Average, keras.layers.Average, {}),
    (layers.Attention, keras.layers.Attention, {}),
    (layers.AdditiveAttention, keras.layers.AdditiveAttention, {}),
    (layers.Conv1D, keras.layers.Conv1D, {}),
    (layers.MaxPooling1D, keras.layers.MaxPooling1D, {}),
    (layers.AveragePooling1D, keras.layers.AveragePooling1D, {}),
    (layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling1D, {}),
    (layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling1D, {}),
    (layers.BatchNormalization, keras.layers.BatchNormalization, {}),
    (layers.LayerNormalization, keras.layers.LayerNormalization, {}),
    (layers.InputLayer, keras.layers.InputLayer, {}),
    (layers.RNN, keras.layers.RNN, {}),
    (layers.SimpleRNN, keras.layers.SimpleRNN, {}),
    (layers.LSTM, keras.layers.LSTM, {}),
    (layers.GRU, keras.layers.GRU, {}),
    (layers.Bidirectional, keras.layers.Bidirectional, {}),
    (layers.SimpleRNNCell, keras.layers.SimpleRNNCell, {}),
    (layers.LSTMCell, keras.layers.LSTMCell, {}),
    (layers.GRUCell, keras.layers.GRUCell, {}),
    (layers.StackedRNNCells, keras.layers.StackedRNNCells, {}),
    (layers.TextVectorization, keras.layers.TextVectorization, {}),
    (optimizers.Optimizer, KerasBaseOptimizer, {}),
    (optimizers.SGD, keras.optimizers.SGD, {}),
    (optimizers.Adam, keras.optimizers.Adam, {}),
    (optimizers.AdamW, keras.optimizers.AdamW, {}),
    (optimizers.Nadam, keras.optimizers.Nadam, {}),
    (optimizers.Adamax, keras.optimizers.Adamax, {}),
    (optimizers.RMSprop, keras.optimizers.RMSprop, {}),
    (optimizers.Adagrad, keras.optimizers.Adagrad, {}),
    (schedules.LearningRateSchedule, keras.optimizers.schedules.LearningRateSchedule, {}),
    (schedules.ExponentialDecay, keras.optimizers.schedules.ExponentialDecay, {}),
    (schedules.PiecewiseConstantDecay, keras.optimizers.schedules.PiecewiseConstantDecay, {}),
    (schedules.InverseTimeDecay, keras.optimizers.schedules.InverseTimeDecay, {}),
    (schedules.PolynomialDecay, keras.optimizers.schedules.PolynomialDecay, {}),
    (schedules.CosineDecay, keras.optimizers.schedules.CosineDecay, {}),
    (losses.Loss, keras.losses.Loss, {}),
    (losses.LossFunctionWrapper, KerasLossFunctionWrapper, {}),
    (losses.MeanSquaredError, keras.losses.MeanSquaredError, {}),
    (losses.MeanAbsoluteError, keras.losses.MeanAbsoluteError, {}),
    (losses.BinaryCrossentropy, keras.losses.BinaryCrossentropy, {}),
    (losses.CategoricalCrossentropy, keras.losses.CategoricalCrossentropy, {}),
    (losses.SparseCategoricalCrossentropy, keras.losses.SparseCategoricalCrossentropy, {}),
    (losses.Huber, keras.losses.Huber, {}),
    (metrics.Metric, keras.metrics.Metric, {}),
    (metrics.Mean, keras.metrics.Mean, {}),
    (metrics.MeanMetricWrapper, keras.metrics.MeanMetricWrapper, {}),
    (metrics.MeanSquaredError, keras.metrics.MeanSquaredError, {}),
    (metrics.MeanAbsoluteError, keras.metrics.MeanAbsoluteError, {}),
    (metrics.Accuracy, keras.metrics.Accuracy, {}),
    (metrics.BinaryAccuracy, keras.metrics.BinaryAccuracy, {}),
    (metrics.CategoricalAccuracy, keras.metrics.CategoricalAccuracy, {}),
    (metrics.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy, {}),
    (metrics.BinaryCrossentropy, keras.metrics.BinaryCrossentropy, {}),
    (metrics.CategoricalCrossentropy, keras.metrics.CategoricalCrossentropy, {}),
    (metrics.SparseCategoricalCrossentropy, keras.metrics.SparseCategoricalCrossentropy, {}),
    (initializers.Initializer, keras.initializers.Initializer, {}),
    (initializers.Zeros, keras.initializers.Zeros, {}),
    (initializers.Ones, keras.initializers.Ones, {}),
    (initializers.Constant, keras.initializers.Constant, {}),
    (initializers.RandomNormal, keras.initializers.RandomNormal, {}),
    (initializers.RandomUniform, keras.initializers.RandomUniform, {}),
    (initializers.GlorotUniform, keras.initializers.GlorotUniform, {}),
    (initializers.GlorotNormal, keras.initializers.GlorotNormal, {}),
    (initializers.HeUniform, keras.initializers.HeUniform, {}),
    (initializers.HeNormal, keras.initializers.HeNormal, {}),
    (initializers.LecunUniform, keras.initializers.LecunUniform, {}),
    (initializers.Orthogonal, keras.initializers.Orthogonal, {}),
    (initializers.Identity, keras.initializers.Identity, {}),
    (callbacks.Callback, keras.callbacks.Callback, {}),
    (callbacks.CallbackList, keras.callbacks.CallbackList, {}),
    (callbacks.History, keras.callbacks.History, {}),
    (callbacks.ProgbarLogger, keras.callbacks.ProgbarLogger, {}),
    (callbacks.EarlyStopping, keras.callbacks.EarlyStopping, {}),
    (callbacks.ModelCheckpoint, keras.callbacks.ModelCheckpoint, {}),
    (callbacks.TerminateOnNaN, keras.callbacks.TerminateOnNaN, {}),
    (callbacks.LambdaCallback, keras.callbacks.LambdaCallback, {}),
    (callbacks.ReduceLROnPlateau, keras.callbacks.ReduceLROnPlateau, {}),
    (callbacks.LearningRateScheduler, keras.callbacks.LearningRateScheduler, {}),
    (callbacks.CSVLogger, keras.callbacks.CSVLogger, {}),
    (callbacks.BackupAndRestore, keras.callbacks.BackupAndRestore, {}),
]
CASE_IDS = [f"{ours.__module__.split('.')[-1]}.{ours.__name__}" for ours, _, _ in CASES]

# minirnn's own public classes, with no Keras counterpart: still readable signatures
OWN_CLASSES = [attention.LuongAttention, attention.BahdanauAttention]

VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def named_parameters(cls):
    return {name: p for name, p in inspect.signature(cls).parameters.items()
            if p.kind not in VARIADIC}


@pytest.mark.parametrize("ours, theirs, excluded", CASES, ids=CASE_IDS)
def test_every_keras_argument_is_listed_or_excluded_for_a_reason(ours, theirs, excluded):
    mine, keras_args = named_parameters(ours), named_parameters(theirs)
    assert set(excluded) <= set(keras_args), "an exclusion names no Keras argument"
    assert all(why.strip() for why in excluded.values())
    missing = set(keras_args) - set(mine) - set(excluded)
    assert not missing, f"{ours.__name__} lacks Keras's arguments {sorted(missing)}"
    assert not set(excluded) & set(mine), "an excluded argument is listed after all"


@pytest.mark.parametrize("ours, theirs, excluded", CASES, ids=CASE_IDS)
def test_shared_arguments_have_keras_defaults(ours, theirs, excluded):
    mine, keras_args = named_parameters(ours), named_parameters(theirs)
    for name in set(mine) & set(keras_args):
        assert mine[name].default == keras_args[name].default, (
            f"{ours.__name__}({name}=...): default {mine[name].default!r}, Keras's "
            f"{keras_args[name].default!r}")


@pytest.mark.parametrize("cls", [ours for ours, _, _ in CASES] + OWN_CLASSES,
                         ids=CASE_IDS + [cls.__name__ for cls in OWN_CLASSES])
def test_no_signature_is_bare_kwargs(cls):
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind in VARIADIC for p in parameters):
        assert any(p.kind not in VARIADIC for p in parameters), (
            f"{cls.__name__}{inspect.signature(cls)} shows no argument by name")


PUBLIC_METHODS = ["__init__", "__call__", "call", "build", "get_config", "from_config",
                  "compute_mask", "update_state", "result", "reset_state", "apply",
                  "apply_gradients", "update_step", "sample"]


@pytest.mark.parametrize("cls", [ours for ours, _, _ in CASES] + OWN_CLASSES,
                         ids=CASE_IDS + [cls.__name__ for cls in OWN_CLASSES])
def test_type_hints_resolve_and_cover_the_constructor(cls):
    if cls.__init__ is object.__init__:
        return  # no constructor of its own (LearningRateSchedule): nothing to annotate
    hints = typing.get_type_hints(cls.__init__)
    unannotated = [name for name, p in inspect.signature(cls.__init__).parameters.items()
                   if name != "self" and name not in hints]
    assert not unannotated, f"{cls.__name__}.__init__ leaves {unannotated} unannotated"
    assert "return" in hints
    for method in PUBLIC_METHODS:
        function = cls.__dict__.get(method)
        if function is not None:
            typing.get_type_hints(getattr(function, "__func__", function))


# (minirnn function, Keras function, {Keras argument left out: why}, {argument whose default
# differs from Keras's: why}); methods are compared without `self`
METHOD_CASES = [
    (layers.Layer.__init__, keras.layers.Layer.__init__, {}, {}),
    (layers.Layer.add_weight, keras.layers.Layer.add_weight, {}, {}),
    (layers.Layer.get_weights, keras.layers.Layer.get_weights, {}, {}),
    (layers.Layer.set_weights, keras.layers.Layer.set_weights, {}, {}),
    (layers.Layer.count_params, keras.layers.Layer.count_params, {}, {}),
    (layers.Input, keras.Input, {}, {}),
    (minirnn.Model.__init__, KerasFunctional.__init__, {}, {
        "inputs": "a subclassed Model is made without inputs (Keras's Model.__new__ chooses "
                  "Functional only when they are given)",
        "outputs": "as inputs"}),
    (minirnn.Sequential.__init__, keras.Sequential.__init__, {}, {}),
    (minirnn.Model.compile, keras.Model.compile, {}, {}),
    (minirnn.Model.fit, keras.Model.fit, {}, {}),
    (minirnn.Model.evaluate, keras.Model.evaluate, {}, {}),
    (minirnn.Model.predict, keras.Model.predict, {}, {}),
    (minirnn.Model.train_on_batch, keras.Model.train_on_batch, {}, {}),
    (minirnn.Model.test_on_batch, keras.Model.test_on_batch, {}, {}),
    (minirnn.Model.predict_on_batch, keras.Model.predict_on_batch, {}, {}),
    (minirnn.Model.save, keras.Model.save, {}, {}),
    (minirnn.Model.save_weights, keras.Model.save_weights, {}, {}),
    (minirnn.Model.load_weights, keras.Model.load_weights, {}, {}),
    (minirnn.Model.summary, keras.Model.summary, {}, {}),
    (layers.TextVectorization.adapt, keras.layers.TextVectorization.adapt, {}, {}),
    (layers.TextVectorization.get_vocabulary, keras.layers.TextVectorization.get_vocabulary,
     {}, {}),
    (layers.TextVectorization.set_vocabulary, keras.layers.TextVectorization.set_vocabulary,
     {}, {}),
    (layers.TextVectorization.vocabulary_size, keras.layers.TextVectorization.vocabulary_size,
     {}, {}),
]
METHOD_IDS = [f.__qualname__ for f, _, _, _ in METHOD_CASES]


def named_arguments(function):
    return {name: p for name, p in inspect.signature(function).parameters.items()
            if p.kind not in VARIADIC and name != "self"}


@pytest.mark.parametrize("ours, theirs, excluded, other_defaults", METHOD_CASES, ids=METHOD_IDS)
def test_methods_list_keras_arguments_with_keras_defaults(ours, theirs, excluded, other_defaults):
    mine, keras_args = named_arguments(ours), named_arguments(theirs)
    assert set(excluded) <= set(keras_args) and set(other_defaults) <= set(keras_args)
    assert all(why.strip() for why in {**excluded, **other_defaults}.values())
    missing = set(keras_args) - set(mine) - set(excluded)
    assert not missing, f"{ours.__qualname__} lacks Keras's arguments {sorted(missing)}"
    for name in set(mine) & set(keras_args) - set(other_defaults):
        assert mine[name].default == keras_args[name].default, (
            f"{ours.__qualname__}({name}=...): default {mine[name].default!r}, Keras's "
            f"{keras_args[name].default!r}")
    for name in other_defaults:
        assert mine[name].default != keras_args[name].default, f"{name} is Keras's after all"


@pytest.mark.parametrize("function", [f for f, _, _, _ in METHOD_CASES], ids=METHOD_IDS)
def test_method_type_hints_resolve_and_cover_every_argument(function):
    hints = typing.get_type_hints(function)
    assert set(named_arguments(function)) <= set(hints) and "return" in hints


@pytest.mark.parametrize("function", [
    minirnn.tensor, minirnn.no_grad, minirnn.is_grad_enabled, minirnn.floatx, minirnn.set_floatx,
    minirnn.check_grads, minirnn.Tensor.__init__, minirnn.Tensor.backward,
    minirnn.activations.get, minirnn.activations.elu, initializers.get, losses.get,
    losses.binary_crossentropy, metrics.get, metrics.binary_accuracy, optimizers.get,
    minirnn.gradcheck.numerical_grad, minirnn.gradcheck.compare_grads,
    minirnn.gradcheck.relative_error],
    ids=lambda f: f.__qualname__)
def test_type_hints_of_public_functions_resolve(function):
    hints = typing.get_type_hints(function)
    named = [name for name, p in inspect.signature(function).parameters.items()
             if name != "self" and p.kind not in VARIADIC]
    assert set(named) <= set(hints) and "return" in hints


def test_tensor_declares_for_type_checkers_what_ops_attaches():
    """Tensor's TYPE_CHECKING block names exactly the operators and methods ops gives it."""
    source = pathlib.Path(inspect.getfile(minirnn.Tensor)).read_text()
    tensor_class = next(node for node in ast.parse(source).body
                        if isinstance(node, ast.ClassDef) and node.name == "Tensor")
    block = next(node for node in tensor_class.body if isinstance(node, ast.If)
                 and ast.unparse(node.test) == "TYPE_CHECKING")
    declared = {node.name for node in block.body if isinstance(node, ast.FunctionDef)}
    declared |= {node.target.id for node in block.body if isinstance(node, ast.AnnAssign)}

    def from_ops(value):
        function = value.fget if isinstance(value, property) else value
        return getattr(function, "__module__", None) == "minirnn.ops"

    attached = {name for name, value in vars(minirnn.Tensor).items() if from_ops(value)}
    assert declared == attached


# -- arguments minirnn does not implement ------------------------------------------------------

def optimizer_cases():
    settings = {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 10,
                "loss_scale_factor": 128.0, "gradient_accumulation_steps": 4}
    for cls in (optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.Nadam,
                optimizers.Adamax, optimizers.RMSprop, optimizers.Adagrad):
        for name, value in settings.items():
            yield cls, (), name, value


REGULARIZER = "l2"
CONSTRAINT = "non_neg"
UNIMPLEMENTED = [
    *[(layers.Dense, (3,), name, value) for name, value in [
        ("kernel_regularizer", REGULARIZER), ("bias_regularizer", REGULARIZER),
        ("activity_regularizer", REGULARIZER), ("kernel_constraint", CONSTRAINT),
        ("bias_constraint", CONSTRAINT), ("lora_rank", 4), ("lora_alpha", 8.0)]],
    *[(layers.Embedding, (5, 3), name, value) for name, value in [
        ("embeddings_regularizer", REGULARIZER), ("activity_regularizer", REGULARIZER),
        ("embeddings_constraint", CONSTRAINT), ("lora_rank", 4), ("lora_alpha", 8.0)]],
    *[(layers.Conv1D, (4, 3), name, value) for name, value in [
        ("kernel_regularizer", REGULARIZER), ("bias_regularizer", REGULARIZER),
        ("activity_regularizer", REGULARIZER), ("kernel_constraint", CONSTRAINT),
        ("bias_constraint", CONSTRAINT)]],
    *[(layers.BatchNormalization, (), name, value) for name, value in [
        ("beta_regularizer", REGULARIZER), ("gamma_regularizer", REGULARIZER),
        ("beta_constraint", CONSTRAINT), ("gamma_constraint", CONSTRAINT), ("renorm", True),
        ("renorm_clipping", {"rmax": 3.0}), ("renorm_momentum", 0.9)]],
    *[(layers.LayerNormalization, (), name, value) for name, value in [
        ("beta_regularizer", REGULARIZER), ("gamma_regularizer", REGULARIZER),
        ("beta_constraint", CONSTRAINT), ("gamma_constraint", CONSTRAINT)]],
    (metrics.SparseCategoricalCrossentropy, (), "ignore_class", 0),
    *optimizer_cases(),
    *[(cls, (3,), name, value) for cls in (layers.SimpleRNN, layers.LSTM, layers.GRU)
      for name, value in [
          ("kernel_regularizer", REGULARIZER), ("recurrent_regularizer", REGULARIZER),
          ("bias_regularizer", REGULARIZER), ("activity_regularizer", REGULARIZER),
          ("kernel_constraint", CONSTRAINT), ("recurrent_constraint", CONSTRAINT),
          ("bias_constraint", CONSTRAINT)]],
    *[(cls, (3,), name, value) for cls in (layers.SimpleRNNCell, layers.LSTMCell, layers.GRUCell)
      for name, value in [
          ("kernel_regularizer", REGULARIZER), ("recurrent_regularizer", REGULARIZER),
          ("bias_regularizer", REGULARIZER), ("kernel_constraint", CONSTRAINT),
          ("recurrent_constraint", CONSTRAINT), ("bias_constraint", CONSTRAINT)]],
    # through Layer.__init__, for every layer without an argument of its own
    (layers.Dropout, (0.5,), "activity_regularizer", REGULARIZER),
    (layers.LayerNormalization, (), "activity_regularizer", REGULARIZER),
    (layers.TextVectorization, (), "activity_regularizer", REGULARIZER),
    (layers.InputLayer, ((3,),), "input_tensor", "a backend tensor"),
]


@pytest.mark.parametrize("cls, args, name, value", UNIMPLEMENTED,
                         ids=[f"{c.__name__}-{n}" for c, _, n, _ in UNIMPLEMENTED])
def test_unimplemented_arguments_refuse_other_values_by_name(cls, args, name, value):
    with pytest.raises(UnsupportedArgumentError) as info:
        cls(*args, **{name: value})
    assert isinstance(info.value, ValueError) and isinstance(info.value, NotImplementedError)
    message = str(info.value)
    assert f"minirnn does not implement {name}" in message, message
    assert cls.__name__ in message and repr(value) in message, message


@pytest.mark.parametrize("cls, args, name, value", UNIMPLEMENTED,
                         ids=[f"{c.__name__}-{n}" for c, _, n, _ in UNIMPLEMENTED])
def test_unimplemented_arguments_accept_keras_default(cls, args, name, value):
    """Passing Keras's default is harmless: the same object as leaving the argument out."""
    keras_cls = {ours: theirs for ours, theirs, _ in CASES}[cls]
    # Keras's Embedding takes activity_regularizer through its Layer base
    listed = inspect.signature(keras_cls).parameters
    default = (listed[name] if name in listed
               else inspect.signature(keras.layers.Layer.__init__).parameters[name]).default
    explicit = cls(*args, **{name: default}, name="probe")
    plain = cls(*args, name="probe")
    assert explicit.get_config() == plain.get_config()


def test_a_refused_layer_takes_no_name():
    """The check comes before the layer does anything, so the next default name is unchanged."""
    def number(name):  # "dense" is the first, then "dense_1", "dense_2", ...
        return 0 if name == "dense" else int(name.rsplit("_", 1)[1])

    first = layers.Dense(2).name
    with pytest.raises(UnsupportedArgumentError):
        layers.Dense(2, kernel_regularizer=REGULARIZER)
    assert number(layers.Dense(2).name) == number(first) + 1


def test_optimizer_from_keras_config_with_ema_is_refused():
    config = keras.optimizers.Adam(use_ema=True).get_config()
    with pytest.raises(UnsupportedArgumentError, match="use_ema"):
        optimizers.Adam.from_config(config)


# -- arguments that came with the signatures ---------------------------------------------------

def test_batch_normalization_synchronized_is_the_same_layer_on_one_device():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    plain = layers.BatchNormalization()
    synchronized = layers.BatchNormalization(synchronized=True)
    theirs = keras.layers.BatchNormalization(synchronized=True)
    np.testing.assert_allclose(synchronized(x, training=True).data,
                               np.asarray(theirs(x, training=True)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(synchronized(x, training=True).data,
                                  plain(x, training=True).data)
    with pytest.raises(TypeError, match="synchronized"):
        layers.BatchNormalization(synchronized="yes")


@pytest.mark.parametrize("as_list", [True, False])
def test_embedding_weights_are_the_initial_table_as_in_keras(as_list):
    table = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    weights = [table] if as_list else table
    ours = layers.Embedding(6, 3, weights=weights)
    theirs = keras.layers.Embedding(6, 3, weights=weights)
    assert ours.built
    ids = np.array([[0, 5, 2], [3, 3, 1]])
    np.testing.assert_array_equal(ours.get_weights()[0], table)
    np.testing.assert_array_equal(ours(ids).data, np.asarray(theirs(ids)))


def test_embedding_weights_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        layers.Embedding(6, 3, weights=[np.zeros((5, 3))])


def test_pooling_name_is_the_layer_name():
    assert layers.MaxPooling1D(name="pool").name == "pool"
    assert layers.AveragePooling1D(3, None, "valid", None, "avg").name == "avg"


@pytest.mark.parametrize("cls, keras_cls, expected_variance", [
    # fan_in = 4 * 5 (axes 0 and 1), fan_out = 6 (axis 2), by Keras's compute_fans
    (initializers.GlorotUniform, keras.initializers.GlorotUniform, 2.0 / (20 + 6)),
    (initializers.HeUniform, keras.initializers.HeUniform, 2.0 / 20),
    (initializers.LecunUniform, keras.initializers.LecunUniform, 1.0 / 20),
])
def test_initializer_axes_choose_the_fans_as_in_keras(cls, keras_cls, expected_variance):
    shape = (4, 5, 6)
    limit = np.sqrt(3.0 * expected_variance)  # of the uniform draw
    unseeded = cls(input_axes=[0, 1], output_axes=[2])
    samples = np.stack([unseeded(shape, dtype="float64") for _ in range(400)])
    theirs = np.asarray(keras_cls(seed=3, input_axes=[0, 1], output_axes=[2])(shape))
    assert samples.shape[1:] == shape
    assert np.abs(samples).max() <= limit and np.abs(samples).max() > 0.99 * limit
    assert np.abs(theirs).max() <= limit * (1 + 1e-6)
    # the uniform's variance is limit**2 / 3 = expected_variance
    assert samples.var() == pytest.approx(expected_variance, rel=0.03)


def test_initializer_config_from_keras_loads():
    config = keras.initializers.serialize(keras.initializers.GlorotUniform(seed=4))
    ours = initializers.get({"class_name": config["class_name"], "config": config["config"]})
    assert isinstance(ours, initializers.GlorotUniform) and ours.get_config() == {"seed": 4}
    with_axes = initializers.GlorotNormal(input_axes=[0], output_axes=[1])
    assert with_axes.get_config() == {"seed": None, "input_axes": [0], "output_axes": [1]}
    assert initializers.get({"class_name": "GlorotNormal",
                             "config": with_axes.get_config()}).input_axes == [0]


def test_initializer_axes_are_checked():
    with pytest.raises(ValueError, match="together"):
        initializers.GlorotUniform(input_axes=[0])
    with pytest.raises(TypeError, match="input_axes"):
        initializers.GlorotUniform(input_axes=0, output_axes=1)
    with pytest.raises(ValueError, match="out of range"):
        initializers.HeNormal(input_axes=[0], output_axes=[3])((2, 3))


@pytest.mark.parametrize("ours, theirs", [
    (schedules.ExponentialDecay(0.1, 10, 0.9), keras.optimizers.schedules.ExponentialDecay(
        0.1, 10, 0.9)),
    (schedules.InverseTimeDecay(0.1, 10, 0.5, True), keras.optimizers.schedules.InverseTimeDecay(
        0.1, 10, 0.5, True)),
], ids=["ExponentialDecay", "InverseTimeDecay"])
def test_schedule_configs_name_the_schedule_as_keras(ours, theirs):
    assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize("ours, theirs", [
    (losses.BinaryCrossentropy(), keras.losses.BinaryCrossentropy()),
    (losses.CategoricalCrossentropy(from_logits=True), keras.losses.CategoricalCrossentropy(
        from_logits=True)),
], ids=["BinaryCrossentropy", "CategoricalCrossentropy"])
def test_crossentropy_loss_configs_match_keras(ours, theirs):
    assert ours.get_config() == theirs.get_config()


# -- packaging -----------------------------------------------------------------------------------

def test_package_is_marked_typed_and_ships_the_marker():
    package = pathlib.Path(minirnn.__file__).parent
    assert (package / "py.typed").is_file()
    setup = configparser.ConfigParser()
    setup.read(package.parent / "setup.cfg")
    assert setup["options.package_data"]["minirnn"].split() == ["py.typed"]


# -- arguments of methods and callbacks that minirnn does not implement ------------------------

def compiled_model():
    model = minirnn.Sequential([layers.Input((3,)), layers.Dense(2, name="out")])
    model.compile("sgd", "mse")
    return model


# (description, call with Keras's default, call with another value, argument name)
UNIMPLEMENTED_CALLS = [
    ("compile", lambda v: compiled_model().compile("sgd", "mse", steps_per_execution=v), 1, 4,
     "steps_per_execution"),
    ("summary positions", lambda v: compiled_model().summary(positions=v, print_fn=len), None,
     [0.5, 0.8, 1.0], "positions"),
    ("summary expand_nested", lambda v: compiled_model().summary(expand_nested=v,
                                                                 print_fn=len),
     False, True, "expand_nested"),
    ("summary show_trainable", lambda v: compiled_model().summary(show_trainable=v,
                                                                  print_fn=len),
     False, True, "show_trainable"),
    ("summary layer_range", lambda v: compiled_model().summary(layer_range=v, print_fn=len),
     None, ["out", "out"], "layer_range"),
    ("add_weight regularizer", lambda v: layers.Dense(2).add_weight((2,), regularizer=v), None,
     REGULARIZER, "regularizer"),
    ("add_weight constraint", lambda v: layers.Dense(2).add_weight((2,), constraint=v), None,
     CONSTRAINT, "constraint"),
    ("add_weight overwrite_with_gradient",
     lambda v: layers.Dense(2).add_weight((2,), overwrite_with_gradient=v), False, True,
     "overwrite_with_gradient"),
    ("Input tensor", lambda v: layers.Input((3,), tensor=v), None, "a backend tensor", "tensor"),
    ("Bidirectional weights", lambda v: layers.Bidirectional(layers.LSTM(2), weights=v), None,
     [np.zeros((3, 8))], "weights"),
    ("BackupAndRestore double_checkpoint",
     lambda v: callbacks.BackupAndRestore("backup", double_checkpoint=v), False, True,
     "double_checkpoint"),
]
UNIMPLEMENTED_CALL_IDS = [case[0] for case in UNIMPLEMENTED_CALLS]


@pytest.mark.parametrize("what, call, default, value, name", UNIMPLEMENTED_CALLS,
                         ids=UNIMPLEMENTED_CALL_IDS)
def test_unimplemented_method_arguments_take_only_keras_default(what, call, default, value, name):
    call(default)
    with pytest.raises(UnsupportedArgumentError, match=f"minirnn does not implement {name}"):
        call(value)


@pytest.mark.parametrize("method, kwargs, name", [
    ("save_weights", {"max_shard_size": 1.0}, "max_shard_size"),
    ("load_weights", {"skip_mismatch": True}, "skip_mismatch"),
    ("save", {"zipped": False}, "zipped"),
])
def test_unimplemented_file_arguments_are_refused_before_any_file_is_touched(tmp_path, method,
                                                                             kwargs, name):
    model = compiled_model()
    path = tmp_path / "m.npz"
    if method == "load_weights":
        model.save_weights(path)
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(UnsupportedArgumentError, match=name):
        getattr(model, method)(path, **kwargs)
    assert (path.read_bytes() if path.exists() else None) == before
    default = inspect.signature(getattr(keras.Model, method)).parameters[name].default
    getattr(model, method)(path, **{name: default})
    assert path.exists()


@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_overwrite_false_refuses_an_existing_file_and_writes_a_new_one(tmp_path, method):
    model = compiled_model()
    path = tmp_path / "m.npz"
    getattr(model, method)(path, overwrite=False)  # nothing there yet: written
    before = path.read_bytes()
    model.layers[0].set_weights([w + 1.0 for w in model.layers[0].get_weights()])
    with pytest.raises(FileExistsError, match="m.npz"):
        getattr(model, method)(path, overwrite=False)
    assert path.read_bytes() == before
    getattr(model, method)(path, overwrite=True)
    assert path.read_bytes() != before


# -- arguments that came with these signatures --------------------------------------------------

def test_build_keeps_the_subclass_build_name_docstring_and_hints():
    class Scaled(layers.Layer):
        def build(self, input_shape: tuple[int | None, ...]) -> None:
            """Make the scale."""
            self.scale = self.add_weight((input_shape[-1],), "ones")

    build = Scaled.build
    assert build.__name__ == "build" and build.__qualname__.endswith("Scaled.build")
    assert build.__doc__ == "Make the scale."
    assert typing.get_type_hints(build) == {"input_shape": tuple[int | None, ...],
                                            "return": type(None)}
    layer = Scaled()
    layer.build((2, 3))
    assert layer.built and layer.scale.shape == (3,)


@pytest.mark.parametrize("autocast", [True, False])
def test_autocast_false_keeps_the_input_dtype_as_keras(autocast):
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)  # float64
    ours = layers.Activation("tanh", autocast=autocast)(x)
    theirs = keras.layers.Activation("tanh", autocast=autocast)(x)
    assert ours.dtype == np.asarray(theirs).dtype == (np.float32 if autocast else np.float64)
    np.testing.assert_allclose(ours.data, np.asarray(theirs), rtol=1e-6)
    assert layers.Embedding(4, 2).autocast is False  # a class's own default stays
    with pytest.raises(TypeError, match="autocast"):
        layers.Dense(2, autocast="no")


def test_add_weight_keras_keywords_that_change_nothing_here():
    layer = layers.Dense(2)
    plain = layer.add_weight((2, 3), "ones", name="plain")
    keyed = layer.add_weight(shape=(2, 3), initializer="ones", name="keyed", autocast=False,
                             aggregation="mean")
    np.testing.assert_array_equal(plain.data, keyed.data)
    assert keyed.dtype == plain.dtype
    with pytest.raises(ValueError, match="aggregation"):
        layer.add_weight((2,), aggregation="median")


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU])
def test_use_cudnn_values_give_keras_numbers(cls):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    keras_layer = getattr(keras.layers, cls.__name__)(3, use_cudnn=False)
    expected = np.asarray(keras_layer(x))
    for use_cudnn in (True, False, "auto"):
        ours = cls(3, use_cudnn=use_cudnn)
        ours(x)
        ours.set_weights(keras_layer.get_weights())
        np.testing.assert_allclose(ours(x).data, expected, rtol=1e-5, atol=1e-6)
        assert ours.use_cudnn is use_cudnn or ours.use_cudnn == use_cudnn
    assert "use_cudnn" not in cls(3, use_cudnn=True).get_config()
    with pytest.raises(ValueError, match="use_cudnn"):
        cls(3, use_cudnn="yes")


def test_recurrent_keras_positional_order():
    """Keras's order: regularizers come before dropout, so a Keras call with every argument
    given by position means the same here."""
    args = (4, "relu", False, "zeros", "zeros", "zeros", None, None, None, None, None, None, None,
            0.25, 0.5, True)
    ours, theirs = layers.SimpleRNN(*args), keras.layers.SimpleRNN(*args)
    for name in ("units", "use_bias", "dropout", "recurrent_dropout", "return_sequences"):
        assert getattr(ours, name) == getattr(theirs, name), name


def test_compile_flags_of_keras_change_nothing():
    x = np.random.default_rng(4).normal(size=(8, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    results = []
    for flags in ({}, {"run_eagerly": True, "jit_compile": True, "auto_scale_loss": False},
                  {"jit_compile": False}):
        model = minirnn.Sequential([layers.Input((3,)), layers.Dense(1, kernel_initializer="ones")])
        model.compile("sgd", "mse", **flags)
        results.append(model.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"])
    assert results[0] == results[1] == results[2]
    model = compiled_model()
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile("sgd", "mse", jit_compile="xla")
    with pytest.raises(TypeError, match="run_eagerly"):
        model.compile("sgd", "mse", run_eagerly="yes")


def test_compile_takes_loss_weights_third_as_keras():
    model = minirnn.Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("sgd", "mse", [2.0], ["mae"])
    assert model._loss_weights == [2.0]
    assert [m.name for m in model.compiled_metrics] == ["mae"]


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []
        for hook in [name for name in vars(callbacks.Callback) if name.startswith("on_")]:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        return lambda *args, **kwargs: self.calls.append(hook)


class KerasRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []
        for hook in [name for name in vars(callbacks.Callback) if name.startswith("on_")]:
            setattr(self, hook, self._recorder(hook))

    def _recorder(self, hook):
        return lambda *args, **kwargs: self.calls.append(hook)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_evaluate_and_predict_call_the_hooks_keras_calls(method):
    x = np.random.default_rng(5).normal(size=(10, 3)).astype("float32")
    y = x[:, :1]
    ours, theirs = Recorder(), KerasRecorder()
    model = compiled_model()
    keras_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    keras_model.compile("sgd", "mse")
    args = (x, np.repeat(y, 2, axis=1)) if method == "evaluate" else (x,)
    getattr(model, method)(*args, batch_size=4, verbose=0, callbacks=[ours])
    getattr(keras_model, method)(*args, batch_size=4, verbose=0, callbacks=[theirs])
    assert ours.calls == theirs.calls and len(ours.calls) == 2 + 2 * 3
    with pytest.raises(TypeError, match=f"{method}\\(\\) argument callbacks"):
        getattr(model, method)(*args, callbacks=["not a callback"])


def test_model_checkpoint_initial_value_threshold(tmp_path):
    x = np.random.default_rng(6).normal(size=(8, 3)).astype("float32")
    y = x[:, :2]
    for threshold, saved in ((0.0, False), (1e9, True), (None, True)):
        path = tmp_path / f"best_{threshold}.weights.npz"
        checkpoint = callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True,
                                               save_weights_only=True,
                                               initial_value_threshold=threshold)
        compiled_model().fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
        assert path.exists() is saved, threshold  # a loss never falls below 0.0
    with pytest.raises(TypeError, match="initial_value_threshold"):
        callbacks.ModelCheckpoint("m.keras", initial_value_threshold="low")


def test_terminate_on_nan_raise_error_raises_at_once_and_keeps_finite_weights():
    x = np.random.default_rng(7).normal(size=(8, 3)).astype("float32")
    y = x[:, :2].copy()
    y[5, 0] = np.nan  # in the second batch of 4
    model, twin = compiled_model(), compiled_model()
    twin.set_weights(model.get_weights())
    ended = []
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 1"):
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
                  callbacks=[callbacks.TerminateOnNaN(raise_error=True),
                             callbacks.LambdaCallback(on_train_end=lambda logs: ended.append(1))])
    assert not ended
    twin.fit(x[:4], y[:4], batch_size=4, epochs=1, shuffle=False, verbose=0)
    for ours, expected in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(ours, expected)
    with pytest.raises(TypeError, match="raise_error"):
        callbacks.TerminateOnNaN(raise_error="yes")


def test_callback_list_adds_history_and_progbar_and_takes_params_as_keywords():
    mine = callbacks.History()
    listed = callbacks.CallbackList([mine], add_history=True, add_progbar=True, epochs=3,
                                    steps=7, verbose=0)
    theirs = keras.callbacks.CallbackList([keras.callbacks.History()], add_history=True,
                                          add_progbar=True, epochs=3, steps=7, verbose=0)
    assert [type(c).__name__ for c in listed.callbacks] == \
        [type(c).__name__ for c in theirs.callbacks] == ["History", "ProgbarLogger"]
    assert listed.callbacks[0] is mine and mine.params == {"epochs": 3, "steps": 7, "verbose": 0}
    assert callbacks.CallbackList().callbacks == []
    with pytest.raises(TypeError, match="add_history"):
        callbacks.CallbackList(add_history="yes")


def test_sequential_trainable_false_as_keras():
    ours = minirnn.Sequential([layers.Input((3,)), layers.Dense(2)], trainable=False)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], trainable=False)
    assert ours.trainable is theirs.trainable is False
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 0
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 2


def test_summary_defaults_print_the_same_table(capsys):
    model = compiled_model()
    lines = []
    model.summary(print_fn=lines.append, line_length=80)
    model.summary()
    assert capsys.readouterr().out.splitlines() == lines
    wide = []
    model.summary(line_length=100, print_fn=wide.append)
    assert max(map(len, wide)) > max(map(len, lines))
    with pytest.raises(ValueError, match="line_length"):
        model.summary(line_length=0)
