"""Which user objects a saved file may name: Keras's registry, custom-object scopes, and the
settings of the load in progress (custom_objects, safe_mode, the file's name).

Nothing here imports the rest of minirnn, so every other module may use it.
"""
import contextlib
import contextvars
import dataclasses
import inspect

__all__ = ["register_keras_serializable", "get_registered_object", "get_registered_name",
           "get_custom_objects", "custom_object_scope", "CustomObjectScope"]

# "package>name" -> object, and back; live dicts, as Keras's (get_custom_objects returns the first)
_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}


@dataclasses.dataclass(frozen=True)
class LoadingSettings:
    """What a load in progress allows: caller's custom objects, safe_mode, and the file (for errors)."""
    custom_objects: dict
    safe_mode: bool = True
    source: str = None


# A context variable, not a global: each thread (and each asyncio task) loads with its own settings.
_SETTINGS = contextvars.ContextVar("minirnn_loading_settings", default=LoadingSettings({}))


def current_settings():
    settings = _SETTINGS.get()
    if _UNSAFE_DESERIALIZATION and settings.safe_mode:
        return dataclasses.replace(settings, safe_mode=False)
    return settings


@contextlib.contextmanager
def loading_scope(custom_objects=None, safe_mode=None, source=None):
    """Settings for every object deserialized inside: custom_objects are added to the outer
    scope's (inner names win); safe_mode and source, when given, replace the outer ones."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict {{name: object}}; got "
                        f"{type(custom_objects).__name__}")
    if safe_mode is not None and not isinstance(safe_mode, bool):
        raise TypeError(f"safe_mode must be True or False; got {safe_mode!r}")
    outer = _SETTINGS.get()
    token = _SETTINGS.set(LoadingSettings(
        {**outer.custom_objects, **(custom_objects or {})},
        outer.safe_mode if safe_mode is None else safe_mode,
        outer.source if source is None else source))
    try:
        yield _SETTINGS.get()
    finally:
        _SETTINGS.reset(token)


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}):` lets configs loaded inside name these
    objects (by the keys given), as Keras's."""

    def __init__(self, custom_objects):
        self.custom_objects = custom_objects or {}
        self._scope = None

    def __enter__(self):
        self._scope = loading_scope(custom_objects=self.custom_objects)
        self._scope.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self._scope.__exit__(*exc_info)


custom_object_scope = CustomObjectScope


def get_custom_objects():
    """The live global dict of registered objects ("package>name" -> object), as Keras's."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator: lets saved configs name this class or function by "package>name" (name defaults
    to the object's __name__), so loading needs no custom_objects. As Keras's."""
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError(f"register_keras_serializable expects string package and name; got "
                        f"package={package!r}, name={name!r}")

    def decorator(arg):
        registered_name = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"Cannot register {arg.__name__}: a class needs a get_config() method")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj):
    """"package>name" for a registered object, else its __name__."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def is_registered(obj):
    try:
        return obj in _GLOBAL_CUSTOM_NAMES
    except TypeError:  # unhashable
        return False


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or passed in a scope or in custom_objects) under `name`, or None.
    Looks in the current scope, then the global registry, then the dicts given (Keras's order)."""
    scoped = _SETTINGS.get().custom_objects
    for table in (scoped, _GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in table:
            return table[name]
    return None


def registered_objects():
    """Every registered object (to find one saved under its module path before it was registered)."""
    return list(_GLOBAL_CUSTOM_OBJECTS.values())


# keras.config.enable_unsafe_deserialization(): process-wide, as Keras's; it overrides the
# safe_mode a load asks for, and keras.backend.clear_session() turns it off again, as in Keras
_UNSAFE_DESERIALIZATION = False


def enable_unsafe_deserialization():
    """Let every later load resolve what safe_mode=True would refuse (a module path, a function
    by name), in every thread, as keras.config.enable_unsafe_deserialization() does."""
    global _UNSAFE_DESERIALIZATION
    _UNSAFE_DESERIALIZATION = True


def reset_unsafe_deserialization():
    global _UNSAFE_DESERIALIZATION
    _UNSAFE_DESERIALIZATION = False
