"""Whole models to and from files: `save_model` writes the architecture (JSON config), weights
and compile settings in one file, `load_model` builds the model back from it: `.keras` (Keras 3's
zip, minirnn.saving.keras_format) or `.npz` (minirnn's own). The weights alone go through
minirnn.saving (Model.save_weights / load_weights)."""
import json

from .. import saving
from ..config_values import decode_arrays, json_default
from ..saving.registry import loading_scope
from ..saving.serialization import ConfigError
from .functional import Model
from .sequential import Sequential

__all__ = ["save_model", "load_model"]


def save_model(model, filepath):
    """Architecture, weights and compile settings of `model` in one .keras or .npz file (chosen
    by the extension; any other raises ValueError, as Keras 3 does)."""
    if saving.formats.model_format(filepath) == "keras":
        saving.keras_format.save_model(model, filepath)
        return
    payload = {"class_name": type(model).__name__ if isinstance(model, Sequential) else "Functional",
               "config": model.get_config(),
               "compile": getattr(model, "_compile_config", None)}
    # arrays in configs (a Constant initializer's value, a Lambda's arguments) as Keras writes them
    saving.save_archive(filepath, json.dumps(payload, default=json_default), model.get_weights())


saving.serialization.add_builtin_classes(Sequential=Sequential, Functional=Model, Model=Model)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved with `model.save(filepath)`: architecture, weights and compile settings.

    Safe by default: the file may name only minirnn's own layers and functions, those passed in
    `custom_objects` ({name: class or function}; a function by its bare name) and those registered
    with `minirnn.saving.register_keras_serializable`. A Lambda naming any other function by its
    module path is refused unless `safe_mode=False`, which imports that module: only for files you
    trust. Every weight array is checked against the model before any is read in full.

    A `.keras` file (Keras 3's, or written by minirnn) is read the same way: its config is
    translated to minirnn's and built by the same deserializer; a `module` it names is never
    imported. It needs h5py (pip install "minirnn[h5]").
    """
    if saving.keras_format.is_keras_file(filepath):
        return saving.keras_format.load_model(filepath, _build_from_config, custom_objects,
                                              compile, safe_mode)
    with saving.WeightsFile(filepath) as file:
        payload = _model_payload(file)
        with loading_scope(custom_objects, safe_mode, source=filepath):
            cls = Sequential if payload["class_name"] == "Sequential" else Model
            try:
                model = cls._from_config(payload["config"])
            except ConfigError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
                raise file.error(f"holds a model config that cannot be built "
                                 f"({type(error).__name__}: {error})") from error
        file.check_against(model.weights, f"model '{model.name}' built from its config")
        weights = file.read_weights()
    model.set_weights(weights)
    spec = payload.get("compile")
    if compile and spec and spec.get("optimizer") and spec.get("loss"):
        try:
            model.compile(optimizer=spec["optimizer"], loss=spec["loss"], metrics=spec.get("metrics"),
                          weighted_metrics=spec.get("weighted_metrics"))
        except (TypeError, ValueError) as error:
            raise file.error(f"holds compile settings that cannot be used "
                             f"({type(error).__name__}: {error}); load it with compile=False") from error
    return model


def _model_payload(file):
    """The model file's JSON, checked for the entries load_model reads."""
    if file.config_json is None:
        raise file.error("holds weights only; use model.load_weights() for it")
    try:
        payload = json.loads(file.config_json)
    except (json.JSONDecodeError, RecursionError) as error:
        raise file.error(f"holds a model config that is not valid JSON ({error})") from None
    if not isinstance(payload, dict):
        raise file.error(f"holds a model config that is not a JSON object: {type(payload).__name__}")
    missing = [key for key in ("class_name", "config") if key not in payload]
    if missing:
        raise file.error(f"holds a model config without {missing} (has {sorted(payload)})")
    if payload["class_name"] not in ("Sequential", "Functional"):
        raise file.error(f"holds a model of class {payload['class_name']!r}; minirnn saves "
                         f"'Sequential' and 'Functional' models")
    if not isinstance(payload["config"], dict):
        raise file.error(f"holds a model 'config' that is not a JSON object")
    if not isinstance(payload.get("compile"), (dict, type(None))):
        raise file.error(f"holds 'compile' settings that are not a JSON object")
    try:
        payload["config"] = decode_arrays(payload["config"], "model config")
    except ValueError as error:
        raise file.error(f"holds a model config with an array that cannot be read ({error})") from None
    return payload


def _build_from_config(class_name, config):
    cls = Sequential if class_name == "Sequential" else Model
    return cls._from_config(config)
