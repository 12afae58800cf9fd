"""Loading is safe by default: a file cannot make minirnn import a module, call a function or
construct a class unless it is minirnn's own, passed in custom_objects, or registered.

Each malicious file is made the way an attacker would: save a legitimate model, then rewrite the
JSON config stored in it. Each test checks both that load_model refuses it and that nothing the
file named ran (recorders stand in for the functions, marker files for imports). Legitimate
custom objects load and predict exactly what the saved model predicted.
"""
import builtins
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

import minirnn
from minirnn import Input, Model, Sequential, layers, load_model
from minirnn.layers import Layer
from minirnn.saving import (custom_object_scope, get_custom_objects, get_registered_name,
                            get_registered_object, register_keras_serializable)


# -- module-level functions and classes a config can name ------------------------------------------

def halve(x):
    return x * 0.5


def keep_mask(inputs, mask=None):
    return mask


def same_shape(input_shape):
    return input_shape


@register_keras_serializable(package="SafeLoadingTests")
def registered_triple(x):
    return x * 3.0


class Scale(Layer):
    """x * w, w one weight per feature (a custom layer with weights, not registered)."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1],), initializer="random_normal", name="w")

    def call(self, x):
        return x * self.w


@register_keras_serializable(package="SafeLoadingTests")
class RegisteredScale(Scale):
    pass


@register_keras_serializable(package="SafeLoadingTests")
class RegisteredSimpleRNN(layers.SimpleRNN):
    pass


# -- helpers ---------------------------------------------------------------------------------------

def x_2d(n=5, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def x_3d(n=5, t=6, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, t, d)).astype("float32")


def rewrite_config(path, edit):
    """Rewrite the config JSON stored in a model file in place: edit(payload) changes it."""
    with np.load(path, allow_pickle=False) as data:
        members = {key: data[key] for key in data.files}
    payload = json.loads(str(members["__config__"]))
    edit(payload)
    members["__config__"] = np.array(json.dumps(payload))
    np.savez(path, **members)


def lambda_model():
    """Dense, then one Lambda(halve) layer called at two nodes."""
    minirnn.set_random_seed(0)
    inputs = Input((4,))
    hidden = layers.Dense(3, name="dense")(inputs)
    halving = layers.Lambda(halve, name="halving")
    return Model(inputs, halving(halving(hidden)))


def lambda_layer_spec(payload):
    return next(spec for spec in payload["config"]["layers"] if spec["class_name"] == "Lambda")


def saved_lambda_model(tmp_path, **lambda_fields):
    """A model file whose Lambda's fields are rewritten to `lambda_fields` (by reference)."""
    path = tmp_path / "model.npz"
    lambda_model().save(path)
    rewrite_config(path, lambda p: lambda_layer_spec(p)["config"].update(lambda_fields))
    return path


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return args[0] if args else None


# -- malicious files -------------------------------------------------------------------------------

def test_lambda_naming_subprocess_getoutput_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "getoutput", recorder)
    path = saved_lambda_model(tmp_path, function="subprocess:getoutput",
                              arguments={"cmd": "echo pwned"})
    with pytest.raises(ValueError, match="safe_mode") as info:
        load_model(path)
    assert "subprocess:getoutput" in str(info.value) and "model.npz" in str(info.value)
    assert recorder.calls == []


def test_lambda_naming_a_module_with_import_side_effects_is_not_imported(tmp_path, monkeypatch):
    module_name = "minirnn_safe_loading_probe"
    marker = tmp_path / "imported.txt"
    (tmp_path / f"{module_name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        f"def run(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module_name, raising=False)
    path = saved_lambda_model(tmp_path, function=f"{module_name}:run")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)
    assert not marker.exists()
    assert module_name not in sys.modules
    # the same file does import the module when the caller allows it: the probe is real
    loaded = load_model(path, safe_mode=False)
    assert marker.read_text() == "imported"
    x = x_2d()
    kernel, bias = loaded.get_weights()
    np.testing.assert_allclose(loaded.predict(x), x @ kernel + bias, rtol=1e-6)  # run is identity


@pytest.mark.parametrize("target, attribute", [(sys, "exit"), (builtins, "print")],
                         ids=["sys:exit", "builtins:print"])
def test_lambda_naming_a_builtin_function_is_refused(tmp_path, monkeypatch, capsys, target,
                                                     attribute):
    recorder = Recorder()
    monkeypatch.setattr(target, attribute, recorder)
    path = saved_lambda_model(tmp_path, function=f"{target.__name__}:{attribute}")
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)
    assert recorder.calls == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("field", ["mask", "output_shape"])
def test_lambda_mask_or_output_shape_by_reference_is_refused(tmp_path, monkeypatch, field):
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "getoutput", recorder)
    path = saved_lambda_model(tmp_path, **{field: "subprocess:getoutput"})
    with pytest.raises(ValueError, match="safe_mode") as info:
        load_model(path, custom_objects={"halve": halve})  # the function itself is allowed
    assert field in str(info.value)
    assert recorder.calls == []


def test_unregistered_layer_subclass_is_not_constructed(tmp_path):
    class Doubler(Layer):  # a Layer subclass merely defined in this process
        constructed = 0

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            type(self).constructed += 1

        def call(self, x):
            return x * 2.0

    minirnn.set_random_seed(0)
    model = Sequential([Input((4,)), layers.Dense(3), Doubler()])
    path = tmp_path / "model.npz"
    model.save(path)
    Doubler.constructed = 0
    with pytest.raises(ValueError, match=r"'Doubler'.*custom_objects.*register") as info:
        load_model(path)
    assert "model.npz" in str(info.value)
    assert Doubler.constructed == 0
    loaded = load_model(path, custom_objects={"Doubler": Doubler})
    x = x_2d()
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(loaded.predict(x), (x @ kernel + bias) * 2.0, rtol=1e-6)


def test_file_naming_a_class_name_that_is_a_function_in_custom_objects_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    Sequential([Input((4,)), Scale(name="scale")]).save(path)
    with pytest.raises(ValueError, match="not a Layer subclass"):
        load_model(path, custom_objects={"Scale": halve})


def test_nested_lambda_inside_time_distributed_is_refused_too(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((6, 4)), layers.TimeDistributed(layers.Lambda(halve))])
    path = tmp_path / "model.npz"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        load_model(path)
    x = x_3d()
    np.testing.assert_array_equal(load_model(path, safe_mode=False).predict(x), x * 0.5)
    np.testing.assert_array_equal(load_model(path, custom_objects={"halve": halve}).predict(x),
                                  x * 0.5)


def test_safe_mode_must_be_a_bool(tmp_path):
    path = tmp_path / "model.npz"
    lambda_model().save(path)
    with pytest.raises(TypeError, match="safe_mode"):
        load_model(path, safe_mode="no")


# -- legitimate custom objects ---------------------------------------------------------------------

def assert_round_trip(model, path, x, **load_kwargs):
    expected = model.predict(x)
    weights = model.get_weights()
    model.save(path)
    minirnn.set_random_seed(321)  # the loaded weights must come from the file
    loaded = load_model(path, **load_kwargs)
    np.testing.assert_array_equal(loaded.predict(x), expected)
    for a, b in zip(loaded.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    return loaded


def test_lambda_function_passed_in_custom_objects_by_bare_name(tmp_path):
    model = lambda_model()
    x = x_2d()
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x), (x @ kernel + bias) * 0.25, rtol=1e-6)
    assert_round_trip(model, tmp_path / "m.npz", x, custom_objects={"halve": halve})


def test_lambda_module_function_with_safe_mode_off(tmp_path):
    assert_round_trip(lambda_model(), tmp_path / "m.npz", x_2d(), safe_mode=False)


def test_lambda_with_mask_and_output_shape_functions_in_custom_objects(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((6, 4)), layers.Masking(0.0),
                        layers.Lambda(halve, mask=keep_mask, output_shape=same_shape),
                        layers.SimpleRNN(3)])
    x = x_3d()
    x[:, 4:] = 0.0
    assert_round_trip(model, tmp_path / "m.npz", x,
                      custom_objects={"halve": halve, "keep_mask": keep_mask,
                                      "same_shape": same_shape})


def test_registered_lambda_function_needs_no_custom_objects(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((4,)), layers.Dense(2), layers.Lambda(registered_triple)])
    assert model.layers[-1].get_config()["function"] == "SafeLoadingTests>registered_triple"
    assert_round_trip(model, tmp_path / "m.npz", x_2d())


def test_custom_layer_class_in_custom_objects(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((4,)), Scale(name="scale"), layers.Dense(2)])
    with pytest.raises(ValueError, match="'Scale'"):
        assert_round_trip(model, tmp_path / "m.npz", x_2d())
    assert_round_trip(model, tmp_path / "m.npz", x_2d(), custom_objects={"Scale": Scale})


def test_registered_layer_needs_no_custom_objects(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((4,)), RegisteredScale(name="scale"), layers.Dense(2)])
    loaded = assert_round_trip(model, tmp_path / "m.npz", x_2d())
    assert type(loaded.layers[0]) is RegisteredScale


def test_time_distributed_over_a_custom_layer(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((6, 4)), layers.TimeDistributed(Scale(name="scale"))])
    x = x_3d()
    np.testing.assert_allclose(model.predict(x), x * model.get_weights()[0], rtol=1e-6)
    with pytest.raises(ValueError, match="'Scale'"):
        load_model(model.save(tmp_path / "m.npz") or tmp_path / "m.npz")
    assert_round_trip(model, tmp_path / "m.npz", x, custom_objects={"Scale": Scale})


def test_bidirectional_over_a_registered_rnn_subclass(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((6, 4)), layers.Bidirectional(RegisteredSimpleRNN(3))])
    loaded = assert_round_trip(model, tmp_path / "m.npz", x_3d())
    assert type(loaded.layers[0].forward_layer) is RegisteredSimpleRNN


def test_bidirectional_over_a_custom_rnn_subclass_needs_custom_objects(tmp_path):
    class MySimpleRNN(layers.SimpleRNN):
        pass

    minirnn.set_random_seed(0)
    model = Sequential([Input((6, 4)), layers.Bidirectional(MySimpleRNN(3))])
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="'MySimpleRNN'"):
        load_model(tmp_path / "m.npz")
    assert_round_trip(model, tmp_path / "m.npz", x_3d(), custom_objects={"MySimpleRNN": MySimpleRNN})


def test_nested_model_with_a_custom_layer_inside(tmp_path):
    minirnn.set_random_seed(0)
    inner = Sequential([Scale(name="scale"), layers.Dense(3)], name="inner")
    inputs = Input((4,))
    model = Model(inputs, layers.Dense(2)(inner(inputs)))
    x = x_2d()
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="'Scale'"):
        load_model(tmp_path / "m.npz")
    assert_round_trip(model, tmp_path / "m.npz", x, custom_objects={"Scale": Scale})


def test_custom_object_scope_serves_load_model(tmp_path):
    minirnn.set_random_seed(0)
    model = Sequential([Input((4,)), Scale(name="scale")])
    model.save(tmp_path / "m.npz")
    with custom_object_scope({"Scale": Scale}):
        loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x_2d()), model.predict(x_2d()))
    with pytest.raises(ValueError, match="'Scale'"):  # the scope has ended
        load_model(tmp_path / "m.npz")


def test_custom_object_scope_is_per_thread(tmp_path):
    minirnn.set_random_seed(0)
    Sequential([Input((4,)), Scale(name="scale")]).save(tmp_path / "m.npz")
    outcome = []

    def other_thread():
        try:
            load_model(tmp_path / "m.npz")
            outcome.append("loaded")
        except ValueError:
            outcome.append("refused")
    with custom_object_scope({"Scale": Scale}):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert outcome == ["refused"]


# -- the registry, as Keras's ----------------------------------------------------------------------

def test_registry_names_and_lookups():
    assert get_registered_name(RegisteredScale) == "SafeLoadingTests>RegisteredScale"
    assert get_registered_name(Scale) == "Scale"  # not registered: its own name
    assert get_registered_object("SafeLoadingTests>RegisteredScale") is RegisteredScale
    assert get_registered_object("SafeLoadingTests>registered_triple") is registered_triple
    assert get_registered_object("Nowhere>Nothing") is None
    assert get_registered_object("Scale", custom_objects={"Scale": Scale}) is Scale
    assert get_custom_objects()["SafeLoadingTests>RegisteredScale"] is RegisteredScale
    with custom_object_scope({"Scale": Scale}):
        assert get_registered_object("Scale") is Scale
    assert get_registered_object("Scale") is None


def test_register_with_an_explicit_name_and_refusals():
    @register_keras_serializable(package="SafeLoadingTests", name="Renamed")
    class Original(Scale):
        pass
    assert get_registered_name(Original) == "SafeLoadingTests>Renamed"
    assert get_registered_object("SafeLoadingTests>Renamed") is Original

    class NoConfig:
        pass
    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable(package="SafeLoadingTests")(NoConfig)


def test_load_model_is_one_function_under_three_names():
    assert minirnn.load_model is minirnn.models.load_model is minirnn.saving.load_model


def test_lambda_made_in_python_with_a_function_object_is_unchanged():
    layer = layers.Lambda(halve)
    assert layer.function is halve
    x = x_2d()
    np.testing.assert_array_equal(layer(x).data, x * 0.5)
