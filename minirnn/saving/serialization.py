"""Layers to configs and back, and the functions a Lambda names: the only place a saved file
turns names into classes and functions.

A name in a file resolves to something only if it is minirnn's own (a class exported by
`minirnn.layers`, a model class, a public function of `minirnn.ops` or `minirnn.activations`),
was passed in custom_objects, or was registered with `register_keras_serializable`. Anything else
is refused with a ValueError; a module path is imported only when the caller says
`safe_mode=False`. No class is found by walking `Layer.__subclasses__()`: a class merely defined
somewhere in the process is not thereby trusted.
"""
import importlib
import os

from .. import activations, layers, ops
from ..layers.base import Layer
from .registry import (current_settings, get_registered_name, get_registered_object, is_registered,
                       registered_objects)

__all__ = ["ConfigError", "serialize_layer", "deserialize_layer", "function_reference",
           "resolve_function", "add_builtin_classes"]

_MODEL_CLASSES = {}  # filled by minirnn.models, which sits above this module
_OWN_FUNCTION_MODULES = {"minirnn.ops": ops, "minirnn.activations": activations}


class ConfigError(ValueError):
    """A saved config that cannot be turned back into objects; names the file being loaded."""


def config_error(message):
    source = current_settings().source
    return ConfigError(f"{os.fspath(source)!r}: {message}" if source is not None else message)


def add_builtin_classes(**classes):
    """Make minirnn's own model classes loadable by name (called once by minirnn.models)."""
    _MODEL_CLASSES.update(classes)


def builtin_classes():
    """minirnn's own layer classes, by name: what `minirnn.layers` exports, and the model classes."""
    own = {name: value for name, value in vars(layers).items()
           if isinstance(value, type) and issubclass(value, Layer)
           and value.__module__.startswith("minirnn.")}
    return {**own, **_MODEL_CLASSES}


def serialize_layer(layer):
    """{"class_name", "config"} of a layer, plus "registered_name" for a registered class."""
    spec = {"class_name": type(layer).__name__, "config": layer.get_config()}
    if is_registered(type(layer)):
        spec["registered_name"] = get_registered_name(type(layer))
    return spec


def _describe(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _layer_class(spec):
    class_name, registered = spec["class_name"], spec.get("registered_name")
    found = None
    for key in (registered, class_name):  # the caller's and the registered objects first, as Keras
        if isinstance(key, str) and found is None:
            found = get_registered_object(key)
    builtin = builtin_classes()
    if found is None:
        found = builtin.get(class_name)
    if found is None:
        raise config_error(
            f"unknown layer class {class_name!r}: a saved file can name only minirnn's own layers "
            f"({sorted(builtin)}) and those you pass in custom_objects={{{class_name!r}: "
            f"{class_name}}} or register with @minirnn.saving.register_keras_serializable()")
    if not (isinstance(found, type) and issubclass(found, Layer)):
        raise config_error(f"layer class {class_name!r} resolves to {_describe(found)}, which is not "
                           f"a Layer subclass")
    return found


def deserialize_layer(spec):
    """A layer from {"class_name": ..., "config": ...} (a Layer is returned as it is).

    Every nested layer (TimeDistributed's, Bidirectional's, a nested model's) comes through here,
    under the custom_objects and safe_mode of the load in progress (see registry.loading_scope).
    """
    if isinstance(spec, Layer):
        return spec
    if (not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str)
            or not isinstance(spec.get("config"), dict)):
        raise config_error(f"a layer entry must be {{'class_name': str, 'config': dict}}; "
                           f"got {_describe(spec)}")
    cls = _layer_class(spec)
    try:
        return cls.from_config(dict(spec["config"]))
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
        raise config_error(f"{spec['class_name']} could not be built from its config "
                           f"({type(error).__name__}: {error})") from error


def function_reference(fn, what):
    """How a config names a function: "package>name" if registered, else "module:qualname".
    Lambdas and nested functions have no name another process could find: ValueError."""
    if is_registered(fn):
        return get_registered_name(fn)
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(f"{what} {fn!r} cannot be saved in a config: only module-level functions "
                         f"can be named (got a lambda or nested function). Define it at module "
                         f"level, or subclass Layer")
    return f"{module}:{qualname}"


def _own_function(module, qualname):
    home = _OWN_FUNCTION_MODULES.get(module)
    if home is None or not qualname.isidentifier() or qualname.startswith("_"):
        return None
    fn = vars(home).get(qualname)
    if fn is None and qualname in dir(home):  # minirnn.ops serves Keras's names on demand
        fn = getattr(home, qualname, None)
    return fn if callable(fn) else None


def _registered_under_path(reference):
    for obj in registered_objects():
        if f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}" == reference:
            return obj
    return None


def resolve_function(reference, what):
    """The function a config names (anything not a string is returned as it is).

    Looks in custom_objects (by the function's bare name, as Keras keys it, or the full
    reference), the registry, and minirnn's own functions; imports the module only with
    safe_mode=False. Otherwise ValueError, mentioning safe_mode.
    """
    if not isinstance(reference, str):
        return reference
    settings = current_settings()
    module, colon, qualname = reference.partition(":")
    if not colon:  # "package>name" of a registered function, or a bare name in custom_objects
        found = get_registered_object(reference)
        if found is None:
            raise config_error(f"{what} names {reference!r}, which is neither registered nor in "
                               f"custom_objects (safe_mode refuses anything else)")
        return found
    if not module or not qualname:
        raise config_error(f"{what} {reference!r} is not a 'module:function' reference")
    bare = qualname.rsplit(".", 1)[-1]
    found = (settings.custom_objects.get(bare) or settings.custom_objects.get(reference)
             or get_registered_object(bare) or _registered_under_path(reference)
             or _own_function(module, qualname))
    if found is not None:
        return found
    if not settings.safe_mode:
        try:
            found = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as error:
            raise config_error(f"{what} {reference!r} could not be found "
                               f"({type(error).__name__}: {error})") from error
        return found
    raise config_error(
        f"{what} refers to the function {reference!r} by its module path; loading it would import "
        f"{module!r} and run code the file chose, which safe_mode=True refuses. Pass it in "
        f"custom_objects={{{bare!r}: {bare}}}, register it with "
        f"@minirnn.saving.register_keras_serializable(), or, only if you trust this file, load it "
        f"with safe_mode=False")
