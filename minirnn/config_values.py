"""Config values JSON cannot hold, in the form Keras 3 writes them: a NumPy array as
{"class_name": "__numpy__", "config": {"value": nested lists, "dtype": name}}, a NumPy scalar (or
0-d array) as the Python number it holds. Reading one back builds a plain array of a boolean or
numeric dtype from lists of numbers: nothing in a file can name code here."""
import numpy as np

__all__ = ["ARRAY_CLASS_NAME", "encode_value", "json_default", "is_array_config",
           "array_from_config", "decode_arrays"]

ARRAY_CLASS_NAME = "__numpy__"
_ALLOWED_KINDS = "biufc"  # bool, signed/unsigned int, float, complex: data, never objects


def encode_value(value):
    """`value` with every NumPy array and scalar inside (lists, tuples, dicts walked) in its
    JSON form; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return {"class_name": ARRAY_CLASS_NAME,
                "config": {"value": value.tolist(), "dtype": str(value.dtype)}}
    if isinstance(value, (np.ndarray, np.generic)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_value(v) for k, v in value.items()}
    return value


def json_default(value):
    """For json.dumps(default=...): NumPy arrays and scalars; anything else is refused as
    json does, naming its type."""
    if isinstance(value, (np.ndarray, np.generic)):
        return encode_value(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def is_array_config(value):
    return (isinstance(value, dict) and value.get("class_name") == ARRAY_CLASS_NAME
            and isinstance(value.get("config"), dict))


def array_from_config(config, what="array"):
    """The array of a {"class_name": "__numpy__", ...} entry; ValueError (naming `what`) for a
    dtype that is not boolean or numeric, or values that do not form an array of it."""
    inner = config["config"]
    dtype_name, value = inner.get("dtype"), inner.get("value")
    try:
        dtype = np.dtype(dtype_name) if isinstance(dtype_name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _ALLOWED_KINDS:
        raise ValueError(f"{what}: a saved array must have a boolean or numeric dtype; got "
                         f"dtype {dtype_name!r}")
    if not _numbers_only(value):
        raise ValueError(f"{what}: a saved array's value must be nested lists of numbers; got "
                         f"{_describe(value)}")
    try:
        return np.array(value, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"{what}: the saved values do not form a {dtype} array ({error})") from None


def decode_arrays(value, what="config"):
    """`value` (parsed JSON) with every array entry turned back into a NumPy array."""
    if is_array_config(value):
        return array_from_config(value, what)
    if isinstance(value, list):
        return [decode_arrays(v, what) for v in value]
    if isinstance(value, dict):
        return {k: decode_arrays(v, what) for k, v in value.items()}
    return value


def _numbers_only(value):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) or not isinstance(item, (int, float, bool, complex)):
            return False
    return True


def _describe(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
