"""Optimizers against Keras 3: same variables, same gradients, same values after every step."""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import minirnn  # noqa: E402
from minirnn import optimizers  # noqa: E402
from minirnn.optimizers import schedules  # noqa: E402
from tf_helpers import import_tf  # noqa: E402

tf = import_tf()
import keras  # noqa: E402  (TensorFlow brings Keras 3 with it)

pytestmark = pytest.mark.tf

SHAPES = [(3, 4), (5,), (2, 1, 3)]
STEPS = 7
# Gradient size varies by step so that clipping both bites and lets some steps through.
GRAD_SCALES = [1.0, 0.05, 2.0, 0.5, 1.5, 0.1, 1.0]
TOLERANCE = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-12, atol=1e-14)}


def schedule(name, **kwargs):
    """A schedule spec, built on both sides. Float64 runs pass NumPy float64 values so that Keras
    computes the schedule in float64 too (Python floats make it compute in float32); a float
    argument left at its default would stay float32 there, so the table spells them out."""
    return ("schedule", name, kwargs)


# (id, optimizer class name, constructor arguments shared by minirnn and Keras)
CASES = [
    ("sgd", "SGD", {}),
    ("sgd-momentum", "SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd-nesterov", "SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd-weight-decay", "SGD", {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.05}),
    ("sgd-clipnorm", "SGD", {"learning_rate": 0.1, "clipnorm": 1.0}),
    ("sgd-piecewise", "SGD", {"learning_rate": schedule("PiecewiseConstantDecay", boundaries=[1, 4],
                                                        values=[0.3, 0.1, 0.02]),
                              "momentum": 0.8}),
    ("sgd-inverse-time", "SGD", {"learning_rate": schedule("InverseTimeDecay",
                                                           initial_learning_rate=0.2,
                                                           decay_steps=2, decay_rate=0.7)}),
    ("adam", "Adam", {}),
    ("adam-amsgrad", "Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("adam-hyper", "Adam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                            "epsilon": 1e-3}),
    ("adam-weight-decay", "Adam", {"learning_rate": 0.05, "weight_decay": 0.2}),
    ("adam-clipnorm", "Adam", {"learning_rate": 0.05, "clipnorm": 0.7}),
    ("adam-clipvalue", "Adam", {"learning_rate": 0.05, "clipvalue": 0.3}),
    ("adam-global-clipnorm", "Adam", {"learning_rate": 0.05, "global_clipnorm": 1.5}),
    ("adam-exponential", "Adam", {"learning_rate": schedule("ExponentialDecay",
                                                            initial_learning_rate=0.05,
                                                            decay_steps=3, decay_rate=0.5)}),
    ("adam-exponential-staircase", "Adam", {"learning_rate": schedule(
        "ExponentialDecay", initial_learning_rate=0.05, decay_steps=2, decay_rate=0.3,
        staircase=True)}),
    ("adam-cosine", "Adam", {"learning_rate": schedule("CosineDecay", initial_learning_rate=0.05,
                                                       decay_steps=5, alpha=0.1)}),
    ("adam-cosine-warmup", "Adam", {"learning_rate": schedule(
        "CosineDecay", initial_learning_rate=0.0, decay_steps=4, warmup_target=0.05,
        warmup_steps=3)}),
    ("adam-polynomial", "Adam", {"learning_rate": schedule("PolynomialDecay",
                                                           initial_learning_rate=0.05,
                                                           decay_steps=4, power=2.0,
                                                           end_learning_rate=0.0001)}),
    ("adamw", "AdamW", {}),
    ("adamw-amsgrad-clip", "AdamW", {"learning_rate": 0.05, "weight_decay": 0.1,
                                     "amsgrad": True, "clipnorm": 1.0}),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop-momentum", "RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.9}),
    ("rmsprop-centered-momentum", "RMSprop", {"learning_rate": 0.01, "rho": 0.8,
                                              "momentum": 0.9, "centered": True}),
    ("rmsprop-clipvalue", "RMSprop", {"learning_rate": 0.01, "clipvalue": 0.5,
                                      "weight_decay": 0.1}),
    ("nadam", "Nadam", {}),
    ("nadam-hyper", "Nadam", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                              "epsilon": 1e-3}),
    ("nadam-weight-decay", "Nadam", {"learning_rate": 0.05, "weight_decay": 0.2}),
    ("nadam-clipnorm", "Nadam", {"learning_rate": 0.05, "clipnorm": 0.7}),
    ("nadam-global-clipnorm-decay", "Nadam", {"learning_rate": 0.05, "global_clipnorm": 1.5,
                                              "weight_decay": 0.1}),
    ("nadam-exponential", "Nadam", {"learning_rate": schedule("ExponentialDecay",
                                                              initial_learning_rate=0.05,
                                                              decay_steps=3, decay_rate=0.5)}),
    ("adamax", "Adamax", {}),
    ("adamax-hyper", "Adamax", {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95,
                                "epsilon": 1e-3}),
    ("adamax-weight-decay", "Adamax", {"learning_rate": 0.05, "weight_decay": 0.2}),
    ("adamax-clipnorm", "Adamax", {"learning_rate": 0.05, "clipnorm": 0.7}),
    ("adamax-clipvalue-decay", "Adamax", {"learning_rate": 0.05, "clipvalue": 0.3,
                                          "weight_decay": 0.1}),
    ("adagrad", "Adagrad", {}),
    ("adagrad-global-clipnorm", "Adagrad", {"learning_rate": 0.1,
                                            "initial_accumulator_value": 0.5,
                                            "epsilon": 1e-4, "global_clipnorm": 1.0}),
]
CASE_IDS = [case_id for case_id, _, _ in CASES]


def build_kwargs(kwargs, library, dtype):
    """The constructor arguments for minirnn (library=optimizers) or Keras (keras.optimizers)."""
    out = dict(kwargs)
    spec = out.get("learning_rate")
    if isinstance(spec, tuple) and spec[0] == "schedule":
        _, name, args = spec
        if dtype == np.float64:
            args = {k: (dtype(v) if isinstance(v, float) else
                        [dtype(x) for x in v] if k == "values" else v) for k, v in args.items()}
        out["learning_rate"] = getattr(library.schedules, name)(**args)
    return out


class KerasFloatx:
    """Keras keeps a float learning rate in floatx; float64 runs need it in float64."""

    def __init__(self, dtype):
        self.floatx = np.dtype(dtype).name

    def __enter__(self):
        self.previous = keras.config.floatx()
        keras.config.set_floatx(self.floatx)

    def __exit__(self, *exc):
        keras.config.set_floatx(self.previous)


def make_problem(dtype, seed=0):
    """Initial values and STEPS gradient sets, one array per shape in SHAPES."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    grads = [[(scale * rng.standard_normal(shape)).astype(dtype) for shape in SHAPES]
             for scale in GRAD_SCALES]
    return initial, grads


def make_pair(class_name, kwargs, dtype):
    """(minirnn optimizer, Keras optimizer) built from one table row.

    For float64, Keras gets every hyperparameter (defaults included) as a NumPy float64: its
    TensorFlow backend casts a Python float through float32 (`tf.cast(0.9, tf.float64)` is
    0.8999999761581421), which would make Keras, not minirnn, the less precise side."""
    with KerasFloatx(dtype):
        ours = getattr(optimizers, class_name)(**build_kwargs(kwargs, optimizers, dtype))
        keras_kwargs = kwargs
        if dtype == np.float64:
            config = ours.get_config()
            del config["name"]
            keras_kwargs = {k: np.float64(v) if isinstance(v, float) else v
                            for k, v in {**config, **kwargs}.items()}
        theirs = getattr(keras.optimizers, class_name)(
            **build_kwargs(keras_kwargs, keras.optimizers, dtype))
    return ours, theirs


class PreciseCastOps:
    """Keras's ``ops`` with ``cast`` of a Python float done straight in the target dtype.

    Keras's Nadam writes its constant as ``ops.cast(0.96, var_dtype)``, which in float64 is
    0.9599999785423279 (the float goes through float32 first); its ``u_product`` uses the exact
    0.96. Float64 runs give Keras's Nadam these ops so that it computes the same formula at full
    float64 precision and can serve as the reference at float64 tolerance."""

    def __init__(self, ops):
        self._ops = ops

    def __getattr__(self, name):
        return getattr(self._ops, name)

    def cast(self, x, dtype):
        if isinstance(x, float):
            x = np.asarray(x, dtype=keras.backend.standardize_dtype(dtype))
        return self._ops.cast(x, dtype)


def precise_keras_casts(monkeypatch, class_name, dtype):
    if class_name == "Nadam" and dtype == np.float64:
        from keras.src.optimizers import nadam
        monkeypatch.setattr(nadam, "ops", PreciseCastOps(nadam.ops))


def keras_state(optimizer):
    return [np.asarray(v.numpy()) for v in optimizer.variables]


def assert_state_matches(ours, theirs, tolerance):
    ours_state, theirs_state = ours.get_state(), keras_state(theirs)
    assert len(ours_state) == len(theirs_state)
    for mine, reference in zip(ours_state, theirs_state):
        np.testing.assert_allclose(mine, reference, **tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case_id, class_name, kwargs", CASES, ids=CASE_IDS)
def test_matches_keras_after_every_step(case_id, class_name, kwargs, dtype, monkeypatch):
    tolerance = TOLERANCE[dtype]
    precise_keras_casts(monkeypatch, class_name, dtype)
    initial, grad_sets = make_problem(dtype, seed=sum(map(ord, case_id)))
    ours, theirs = make_pair(class_name, kwargs, dtype)
    variables = [minirnn.Tensor(x.copy(), requires_grad=True) for x in initial]
    arrays = [v.data for v in variables]
    tf_variables = [tf.Variable(x.copy()) for x in initial]

    with KerasFloatx(dtype):
        for step, grads in enumerate(grad_sets):
            assert ours.learning_rate == pytest.approx(float(theirs.learning_rate), rel=1e-6)
            sent = [g.copy() for g in grads]
            assert ours.apply_gradients(zip(sent, variables)) == step + 1
            theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))

            for i, (mine, reference) in enumerate(zip(variables, tf_variables)):
                assert mine.data is arrays[i] and mine.data.dtype == dtype
                np.testing.assert_allclose(mine.data, reference.numpy(), **tolerance,
                                           err_msg=f"variable {i} after step {step + 1}")
            for g, g_sent in zip(grads, sent):
                np.testing.assert_array_equal(g_sent, g, err_msg="the optimizer changed a grad")
            assert ours.iterations == int(theirs.iterations.numpy())
    assert_state_matches(ours, theirs, tolerance)


# Keras config keys for features minirnn does not have (accepted at their defaults).
KERAS_ONLY_KEYS = ["use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                   "gradient_accumulation_steps"]


def assert_same_setting(ours, theirs, where):
    """Numbers to 1e-7 (Keras keeps some in float32); None, bools and strings exactly."""
    if isinstance(ours, (int, float)) and not isinstance(ours, bool) and theirs is not None:
        assert ours == pytest.approx(theirs, rel=1e-7), where
    else:
        assert ours == theirs, where


def test_defaults_are_keras_defaults():
    for name in ["sgd", "adam", "adamw", "nadam", "adamax", "rmsprop", "adagrad"]:
        ours = optimizers.get(name).get_config()
        theirs = keras.optimizers.get(name).get_config()
        assert set(theirs) - set(ours) <= set(KERAS_ONLY_KEYS), name
        for key, value in ours.items():
            if key != "name":
                assert_same_setting(value, theirs[key], (name, key))


@pytest.mark.parametrize("name, cls", [
    ("sgd", optimizers.SGD), ("Adam", optimizers.Adam), ("RMSPROP", optimizers.RMSprop),
    ("adagrad", optimizers.Adagrad), ("AdamW", optimizers.AdamW), ("nadam", optimizers.Nadam),
    ("Adamax", optimizers.Adamax), ("ADAMAX", optimizers.Adamax)])
def test_get_by_name_is_case_insensitive(name, cls):
    assert type(optimizers.get(name)) is cls
    assert type(keras.optimizers.get(name)).__name__ == cls.__name__


def test_get_passes_instances_and_configs_through():
    opt = optimizers.RMSprop(learning_rate=0.02, centered=True)
    assert optimizers.get(opt) is opt
    again = optimizers.get(optimizers.serialize(opt))
    assert type(again) is optimizers.RMSprop and again.get_config() == opt.get_config()


def test_unknown_name_lists_known_names():
    # Keras has Adadelta; minirnn does not.
    with pytest.raises(ValueError, match="adadelta") as info:
        optimizers.get("adadelta")
    for name in ["sgd", "adam", "adamw", "nadam", "adamax", "rmsprop", "adagrad"]:
        assert name in str(info.value)


@pytest.mark.parametrize("case_id, class_name, kwargs", CASES, ids=CASE_IDS)
def test_config_round_trip(case_id, class_name, kwargs):
    ours, theirs = make_pair(class_name, kwargs, np.float32)
    config = ours.get_config()
    again = type(ours).from_config(config)
    assert again.get_config() == config
    assert optimizers.get({"class_name": class_name, "config": config}).get_config() == config
    # A config written by Keras (learning rate in float32, its extra keys) loads as well.
    from_keras = optimizers.deserialize(keras.optimizers.serialize(theirs)).get_config()
    for key, value in config.items():
        if key == "learning_rate" and isinstance(value, dict):
            assert from_keras[key]["config"] == value["config"]
        elif key != "name":
            assert_same_setting(from_keras[key], value, key)


@pytest.mark.parametrize("class_name, kwargs", [
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.05}),
    ("Adamax", {"learning_rate": 0.05, "weight_decay": 0.1}),
])
def test_state_loaded_from_keras_continues_like_keras(class_name, kwargs):
    initial, grad_sets = make_problem(np.float32, seed=7)
    _, theirs = make_pair(class_name, kwargs, np.float32)
    tf_variables = [tf.Variable(x) for x in initial]
    for grads in grad_sets[:3]:
        theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))

    ours = optimizers.get({"class_name": class_name, "config": kwargs})
    variables = [minirnn.Tensor(v.numpy().copy()) for v in tf_variables]
    ours.build(variables)
    ours.set_state(keras_state(theirs))
    assert ours.iterations == 3
    for grads in grad_sets[3:]:
        ours.apply_gradients(zip(grads, variables))
        theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))
        for mine, reference in zip(variables, tf_variables):
            np.testing.assert_allclose(mine.data, reference.numpy(), **TOLERANCE[np.float32])


@pytest.mark.parametrize("class_name, kwargs", [
    ("Nadam", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("Nadam", {"learning_rate": 0.05, "clipnorm": 0.7}),
    ("Adamax", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("Adamax", {"learning_rate": 0.05, "global_clipnorm": 1.0}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True}),
])
def test_undone_updates_leave_no_trace_like_keras(class_name, kwargs):
    """Before every real step an update is applied and undone with ``_state`` /
    ``_restore_state`` (as a failed training step is): Keras, which never sees those updates,
    must still match after each real step, shared slots such as Nadam's ``u_product`` too."""
    initial, grad_sets = make_problem(np.float32, seed=13)
    ours, theirs = make_pair(class_name, kwargs, np.float32)
    variables = [minirnn.Tensor(x.copy()) for x in initial]
    tf_variables = [tf.Variable(x.copy()) for x in initial]
    state = None
    for step, grads in enumerate(grad_sets):
        state = ours._state(reuse=state)
        weights = [v.data.copy() for v in variables]
        # The undone update sees the variables in another order: if it were not undone whole,
        # the slots (and Keras's order of them) would follow that order from the first step.
        junk = [3.0 * g[::-1] for g in grads]
        ours.apply_gradients(zip(junk[::-1], variables[::-1]))
        ours.apply_gradients(zip(junk[::-1], variables[::-1]))
        ours._restore_state(state)
        for var, saved in zip(variables, weights):
            np.copyto(var.data, saved)
        assert ours.iterations == step

        ours.apply_gradients(zip(grads, variables))
        theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))
        for mine, reference in zip(variables, tf_variables):
            np.testing.assert_allclose(mine.data, reference.numpy(), **TOLERANCE[np.float32],
                                       err_msg=f"after step {step + 1}")
        assert_state_matches(ours, theirs, TOLERANCE[np.float32])


def test_undoing_the_first_nadam_update_drops_u_product():
    var = minirnn.Tensor(np.ones(3, np.float64))
    opt = optimizers.Nadam(learning_rate=0.1)
    state = opt._state()
    opt.apply_gradients([(np.ones(3), var)])
    assert [a.dtype for a in opt.get_state()][-1] == np.float64
    opt._restore_state(state)
    assert len(opt.get_state()) == 2           # iterations and learning rate: no slots at all
    # the next first variable decides u_product's dtype again, as Keras's build does
    first = minirnn.Tensor(np.ones(2, np.float32))
    opt.apply_gradients([(np.ones(2, np.float32), first), (np.ones(3), var)])
    u_product = opt.get_state()[-1]
    assert u_product.dtype == np.float32
    assert u_product == np.float32(0.9) * (np.float32(1) - np.float32(0.5) * np.float32(0.96))


def test_nadam_u_product_takes_the_first_variables_dtype_like_keras(monkeypatch):
    """A float64 variable first, then float32 ones; Keras runs in float64 (see make_pair and
    PreciseCastOps) so that its float64 variable is computed at full precision."""
    initial, grad_sets = make_problem(np.float32, seed=17)
    initial[0] = initial[0].astype(np.float64)
    grad_sets = [[g.astype(x.dtype) for g, x in zip(grads, initial)] for grads in grad_sets]
    ours, theirs = make_pair("Nadam", {"learning_rate": 0.05}, np.float64)
    precise_keras_casts(monkeypatch, "Nadam", np.float64)
    variables = [minirnn.Tensor(x.copy()) for x in initial]
    tf_variables = [tf.Variable(x.copy()) for x in initial]
    with KerasFloatx(np.float64):
        for grads in grad_sets:
            ours.apply_gradients(zip(grads, variables))
            theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))
            for mine, reference in zip(variables, tf_variables):
                assert mine.data.dtype == reference.numpy().dtype
                np.testing.assert_allclose(mine.data, reference.numpy(),
                                           **TOLERANCE[mine.data.dtype.type])
    assert_state_matches(ours, theirs, TOLERANCE[np.float32])
    assert ours.get_state()[-1].dtype == keras_state(theirs)[-1].dtype == np.float64


def test_none_gradient_skips_its_variable_like_keras():
    initial, grad_sets = make_problem(np.float32, seed=3)
    ours, theirs = make_pair("Adam", {"learning_rate": 0.05}, np.float32)
    variables = [minirnn.Tensor(x.copy()) for x in initial]
    tf_variables = [tf.Variable(x.copy()) for x in initial]
    for step, grads in enumerate(grad_sets):
        grads = [None if (step == 2 and i == 1) else g for i, g in enumerate(grads)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours.apply_gradients(zip(grads, variables))
            theirs.apply_gradients(
                zip([None if g is None else tf.constant(g) for g in grads], tf_variables))
        for mine, reference in zip(variables, tf_variables):
            np.testing.assert_allclose(mine.data, reference.numpy(), **TOLERANCE[np.float32])
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        ours.apply_gradients([(None, variables[0]), (grad_sets[0][1], variables[1])])
    with pytest.raises(ValueError, match="No gradients"):
        ours.apply_gradients([(None, variables[0])])


@pytest.mark.parametrize("class_name", ["SGD", "Adam", "RMSprop"])
def test_bad_gradient_shape_changes_nothing(class_name):
    initial, grad_sets = make_problem(np.float32, seed=5)
    opt = getattr(optimizers, class_name)(learning_rate=0.1, momentum=0.9) \
        if class_name != "Adam" else optimizers.Adam(learning_rate=0.1)
    variables = [minirnn.Tensor(x.copy()) for x in initial]
    opt.apply_gradients(zip(grad_sets[0], variables))
    before_values = [v.data.copy() for v in variables]
    before_state = opt.get_state()

    bad = list(grad_sets[1])
    bad[2] = np.ones((3, 2, 1), np.float32)   # the first two are fine and must stay untouched
    with pytest.raises(ValueError, match=r"variable 2.*expected \(2, 1, 3\), got \(3, 2, 1\)"):
        opt.apply_gradients(zip(bad, variables))

    assert opt.iterations == 1
    for v, before in zip(variables, before_values):
        np.testing.assert_array_equal(v.data, before)
    for now, before in zip(opt.get_state(), before_state):
        np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize("make, error, words", [
    (lambda: optimizers.Adam(learning_rate=-0.1), ValueError, "learning_rate.*>= 0.*-0.1"),
    (lambda: optimizers.Adam(learning_rate="fast"), TypeError, "learning_rate.*'fast'"),
    (lambda: optimizers.Adam(epsilon=0.0), ValueError, "epsilon.*> 0.*0.0"),
    (lambda: optimizers.RMSprop(epsilon=-1e-7), ValueError, "epsilon"),
    (lambda: optimizers.SGD(clipnorm=0.0), ValueError, "clipnorm.*> 0"),
    (lambda: optimizers.SGD(clipnorm=-1.0), ValueError, "clipnorm.*> 0"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
    (lambda: optimizers.Adam(clipvalue=1.0, global_clipnorm=1.0), ValueError, "Only one of"),
    (lambda: optimizers.SGD(momentum=1.5), ValueError, "momentum"),
    (lambda: optimizers.AdamW(weight_decay=None), ValueError, "weight_decay"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), ValueError,
     "decay_steps"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), ValueError, "one boundary"),
])
def test_bad_arguments_say_what_was_expected(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_keras_also_rejects_two_clip_options():
    with pytest.raises(ValueError, match="Only one of"):
        keras.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_negative_scheduled_learning_rate_changes_nothing():
    var = minirnn.Tensor(np.ones(3, np.float32))
    opt = optimizers.SGD(learning_rate=lambda: -1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        opt.apply_gradients([(np.ones(3, np.float32), var)])
    assert opt.iterations == 0
    np.testing.assert_array_equal(var.data, np.ones(3, np.float32))


def test_integer_variable_is_refused_before_any_update():
    good = minirnn.Tensor(np.ones(2, np.float32))
    ints = minirnn.Tensor(np.ones(2, np.int64))
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.raises(TypeError, match="Variable 1 .*floating-point.*int64"):
        opt.apply_gradients([(np.ones(2, np.float32), good), (np.ones(2), ints)])
    assert opt.iterations == 0
    np.testing.assert_array_equal(good.data, np.ones(2, np.float32))


@pytest.mark.parametrize("name, kwargs", [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.9)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.9,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 7, 12], values=[1.0, 0.5, 0.25, 0.1])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5,
                              staircase=True)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=6, cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.2)),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=10, warmup_target=0.1,
                         warmup_steps=5)),
])
def test_schedules_match_keras(name, kwargs):
    ours = getattr(optimizers, name)(**kwargs)
    assert getattr(schedules, name) is type(ours)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in range(25):
        assert ours(step) == pytest.approx(float(theirs(step)), rel=1e-6), step
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    assert ours.get_config() == theirs.get_config()


def test_schedules_is_a_module_of_its_own():
    import importlib
    module = importlib.import_module("minirnn.optimizers.schedules")
    assert module is optimizers.schedules is schedules
    assert module.__file__.endswith(os.path.join("optimizers", "schedules.py"))
    decay = schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    assert schedules.deserialize(schedules.serialize(decay)).get_config() == decay.get_config()
    theirs = keras.optimizers.schedules.serialize(
        keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5))
    assert schedules.deserialize(theirs).get_config() == decay.get_config()


def test_package_exports_what_the_module_did():
    for name in ["Optimizer", "SGD", "Adam", "AdamW", "Nadam", "Adamax", "RMSprop", "Adagrad",
                 "LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
                 "InverseTimeDecay", "PolynomialDecay", "CosineDecay", "schedules", "get",
                 "serialize", "deserialize"]:
        assert name in optimizers.__all__ and hasattr(optimizers, name), name
    assert optimizers.ExponentialDecay is schedules.ExponentialDecay


def test_updates_stand_in_variables_in_place():
    class Var:
        def __init__(self, data):
            self.data = data

    data = np.array([1.0, -2.0], np.float32)
    var = Var(data)
    optimizers.get("sgd").apply_gradients([(np.array([1.0, 1.0], np.float32), var)])
    assert var.data is data and data.dtype == np.float32
    np.testing.assert_array_equal(data, np.array([1.0, -2.0], np.float32) - np.float32(0.01))


def test_weight_decay_exclusion_by_name_matches_keras():
    initial, grad_sets = make_problem(np.float32, seed=11)
    ours, theirs = make_pair("AdamW", {"learning_rate": 0.05, "weight_decay": 0.3}, np.float32)
    names = ["kernel", "bias", "recurrent_kernel"]
    variables = [minirnn.Tensor(x.copy(), name=n) for x, n in zip(initial, names)]
    tf_variables = [keras.Variable(x.copy(), name=n) for x, n in zip(initial, names)]
    ours.exclude_from_weight_decay(var_names=["bias"])
    theirs.exclude_from_weight_decay(var_names=["bias"])
    for grads in grad_sets:
        ours.apply_gradients(zip(grads, variables))
        theirs.apply_gradients(zip([tf.constant(g) for g in grads], tf_variables))
        for mine, reference in zip(variables, tf_variables):
            np.testing.assert_allclose(mine.data, reference.numpy(), **TOLERANCE[np.float32])
