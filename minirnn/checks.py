"""Argument and array checks shared by every entry point (layers, models, optimizers, loaders).

Each check raises before anything is changed, with a message naming the argument, what was
expected and what came. Only NumPy is imported here, so any module may use these.
"""
import numbers

import numpy as np

__all__ = ["check_array", "as_checked_array", "positive_int", "non_negative_int", "check_int",
           "check_float", "check_fraction", "check_bool", "check_choice", "is_text",
           "as_checked_text_array"]

_ACCEPTED_KINDS = "buif"
_ACCEPTED = "bool, integer or real floating point"


def _describe(value):
    return f"{value!r} of type {type(value).__name__}"


def check_array(array, what):
    """Refuse arrays that are not bool, integer or real floating point (complex, strings, objects).

    `what` names the receiver, e.g. "LSTM 'lstm'" or "input 'x' of model 'm'".
    """
    dtype = getattr(array, "dtype", None)
    if dtype is None:
        array = np.asarray(array)
        dtype = array.dtype
    dtype = np.dtype(dtype)
    if dtype.kind not in _ACCEPTED_KINDS:
        raise TypeError(f"{what} expects {_ACCEPTED} values; got an array of dtype {dtype}")
    return array


def as_checked_array(value, what):
    """np.asarray(value), refusing complex, string and object arrays with TypeError.

    A ragged nested list (which NumPy would turn into an object array or refuse with its own
    message) raises TypeError too, naming `what`.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} expects {_ACCEPTED} values; got a string {value!r}")
    try:
        array = np.asarray(value)
    except ValueError as error:  # ragged nested sequences
        raise TypeError(f"{what} expects an array of {_ACCEPTED} values; got {type(value).__name__} "
                        f"that is not one ({error})") from None
    return check_array(array, what)


def check_int(value, name, minimum=None):
    """An int (not bool, NumPy integers accepted) >= minimum; returns it as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}")
    return value


def positive_int(value, name):
    return check_int(value, name, minimum=1)


def non_negative_int(value, name):
    return check_int(value, name, minimum=0)


def check_float(value, name, minimum=None, maximum=None, min_inclusive=True, max_inclusive=True):
    """A real number (not bool, not complex, not a string) within the bounds; returns a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}")
    value = float(value)
    low_ok = minimum is None or (value >= minimum if min_inclusive else value > minimum)
    high_ok = maximum is None or (value <= maximum if max_inclusive else value < maximum)
    if value != value or not (low_ok and high_ok):
        low = "" if minimum is None else ("[" if min_inclusive else "(") + f"{minimum}"
        high = "" if maximum is None else f"{maximum}" + ("]" if max_inclusive else ")")
        bounds = f"in {low or '(-inf'}, {high or 'inf)'}"
        raise ValueError(f"{name} must be a number {bounds}; got {value}")
    return value


def check_fraction(value, name, max_inclusive=False):
    """A rate such as dropout or validation_split: a float in [0, 1) (or [0, 1])."""
    return check_float(value, name, minimum=0.0, maximum=1.0, max_inclusive=max_inclusive)


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {_describe(value)}")
    return value


# -- text: only for receivers that declare they take strings ------------------------------------

def _text_array_or_none(value):
    """value as an object array of str/bytes, or None when it is anything else (numbers, a mix of
    strings and numbers, None entries, ragged nesting)."""
    if isinstance(value, (str, bytes)):
        return np.array(value, dtype=object)
    try:
        # a list goes in as objects: np.asarray(["a", 1]) would quietly turn 1 into "1"
        array = np.array(value, dtype=object) if isinstance(value, (list, tuple)) else np.asarray(value)
    except ValueError:
        return None
    if array.dtype.kind in "US":
        return array.astype(object)
    if array.dtype.kind == "O" and all(isinstance(item, (str, bytes)) for item in array.flat):
        return array
    return None


def is_text(value):
    """Whether value is a str, bytes, or an array (or nested list) holding only those."""
    return _text_array_or_none(value) is not None


def as_checked_text_array(value, what):
    """value as a NumPy object array of str / bytes; TypeError naming `what` for anything else.

    `what` names the receiver, e.g. "TextVectorization 'text_vectorization'".
    """
    array = _text_array_or_none(value)
    if array is not None:
        return array
    if isinstance(value, (list, tuple)):
        try:
            value = np.array(value, dtype=object)
        except ValueError:
            pass
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        bad = next((item for item in value.flat if not isinstance(item, (str, bytes))), None)
        raise TypeError(f"{what} expects strings (str or bytes); got an element {bad!r} of type "
                        f"{type(bad).__name__}")
    dtype = getattr(value, "dtype", None)
    got = f"an array of dtype {dtype}" if dtype is not None else _describe(value)
    raise TypeError(f"{what} expects strings (str or bytes); got {got}")


class UnsupportedArgumentError(NotImplementedError, ValueError):
    """A Keras argument minirnn does not implement, given a value other than its default. Both a
    NotImplementedError (a feature is missing) and a ValueError (this value cannot be used)."""


def check_unimplemented(value, name, default=None, feature=None):
    """`value` as it came when it equals Keras's `default` (passing the default is harmless);
    otherwise UnsupportedArgumentError naming the argument. `name` reads like "Dense argument
    `kernel_regularizer`"; `feature` (e.g. "regularizers") says what is missing."""
    plain = value is None or isinstance(value, (bool, numbers.Number, str, np.bool_))
    if value is default or (plain and value == default):
        return value
    argument = name.rsplit("`", 2)[-2] if name.count("`") >= 2 else name
    missing = argument if feature is None else f"{argument} ({feature})"
    raise UnsupportedArgumentError(f"{name}: minirnn does not implement {missing}; only the "
                                   f"default {default!r} is accepted, got {_describe(value)}")


__all__ += ["UnsupportedArgumentError", "check_unimplemented"]


def check_shape(shape, owner):
    """`shape` (an int, or a sequence of ints >= 0) as a tuple of Python ints; ValueError naming
    `owner` (e.g. "zeros") for anything else."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 for n in shape):
        raise ValueError(f"{owner}: shape must be non-negative ints; got {shape}")
    return tuple(int(n) for n in shape)


__all__ += ["check_shape"]


def check_verbosity(value, name):
    """Keras's `verbose`: 0, 1 or 2, or "auto", which is 1; returns the int. True and False are
    taken as 1 and 0, as Keras takes them (scripts write `verbose=False`)."""
    if isinstance(value, str) and value == "auto":
        return 1
    if not isinstance(value, numbers.Integral) or value not in (0, 1, 2):
        raise ValueError(f"{name} must be 0, 1, 2 or 'auto'; got {value!r}")
    return int(value)


__all__ += ["check_verbosity"]
