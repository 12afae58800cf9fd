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
from minirnn import initializers, layers, losses, metrics, optimizers
from minirnn.checks import UnsupportedArgumentError
from minirnn.layers import attention
from minirnn.optimizers import schedules
from tf_helpers import import_tf

import_tf()
import keras  # noqa: E402  (after import_tf, which configures TensorFlow's environment)
from keras.src.losses.losses import LossFunctionWrapper as KerasLossFunctionWrapper  # noqa: E402
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


@pytest.mark.parametrize("function", [
    minirnn.tensor, minirnn.no_grad, minirnn.is_grad_enabled, minirnn.floatx, minirnn.set_floatx,
    minirnn.check_grads, minirnn.Tensor.__init__, minirnn.Tensor.backward,
    minirnn.activations.get, minirnn.activations.elu, initializers.get, losses.get,
    losses.binary_crossentropy, metrics.get, metrics.binary_accuracy, optimizers.get],
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
