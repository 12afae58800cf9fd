"""pad_sequences: a list of variable-length sequences as one padded array (keras.utils.pad_sequences).

The result equals Keras's element for element: the default dtype is int32 (float values are
truncated toward zero), a string dtype such as `str` keeps NumPy's fixed width (Keras passes the
dtype straight to NumPy), and `dtype=object` holds strings of any length.
"""
import numpy as np

from ..checks import check_choice, non_negative_int

__all__ = ["pad_sequences"]

_WHAT = "pad_sequences"


def _is_string_dtype(dtype):
    return np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)


def _sample_shape(sequence, position):
    """The shape of one timestep of `sequence` (() for sequences of scalars)."""
    try:
        return np.asarray(sequence).shape[1:]
    except ValueError as error:  # timesteps of different shapes inside one sequence
        raise ValueError(f"{_WHAT}: the sequence at position {position} has timesteps of different "
                         f"shapes ({error})") from None


def _lengths(sequences):
    lengths = []
    for position, sequence in enumerate(sequences):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__len__"):
            raise ValueError(f"{_WHAT}: `sequences` must be a list of sequences (lists or arrays); "
                             f"the element at position {position} is {sequence!r} of type "
                             f"{type(sequence).__name__}")
        lengths.append(len(sequence))
    return lengths


def _truncate(sequence, maxlen, truncating):
    if truncating == "pre":
        return sequence[len(sequence) - maxlen:] if len(sequence) > maxlen else sequence
    return sequence[:maxlen]


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or truncate) each sequence to `maxlen` timesteps; returns (len(sequences), maxlen, ...).

    sequences: a list of sequences (lists or arrays), each of shape (length, *sample_shape) with
        the same sample_shape; empty sequences give rows of `value`.
    maxlen: the output length; None takes the longest sequence's length.
    dtype: the output dtype, passed to NumPy as given (int32 by default, as in Keras).
    padding, truncating: "pre" (at the start) or "post" (at the end).
    value: the padding value; a string needs dtype=object (or a NumPy string dtype).
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError(f"{_WHAT}: `sequences` must be a list of sequences; got "
                         f"{type(sequences).__name__}")
    check_choice(padding, f"{_WHAT}: padding", ("pre", "post"))
    check_choice(truncating, f"{_WHAT}: truncating", ("pre", "post"))
    if maxlen is not None:
        maxlen = non_negative_int(maxlen, f"{_WHAT}: maxlen")
    try:
        numpy_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{_WHAT}: dtype must be a NumPy dtype or its name; got {dtype!r}") from None
    if isinstance(value, str) and numpy_dtype != object and not _is_string_dtype(numpy_dtype):
        raise ValueError(f"{_WHAT}: dtype {dtype!r} cannot hold the string value {value!r}; pass "
                         f"dtype=object for strings of any length")

    lengths = _lengths(sequences)
    if maxlen is None:
        if not lengths:
            raise ValueError(f"{_WHAT}: cannot infer maxlen from an empty list of sequences; pass "
                             f"maxlen")
        maxlen = max(lengths)
    # the first non-empty sequence sets the timestep shape every other one must have
    sample_shape = next((_sample_shape(s, i) for i, s in enumerate(sequences) if len(s)), ())

    padded = np.full((len(lengths), maxlen) + sample_shape, value, dtype=dtype)
    for position, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        try:
            kept = np.asarray(_truncate(sequence, maxlen, truncating), dtype=dtype)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"{_WHAT}: the sequence at position {position} cannot be converted to "
                             f"dtype {dtype!r} ({error})") from None
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"{_WHAT}: the sequence at position {position} has timesteps of shape "
                             f"{kept.shape[1:]}; expected {sample_shape} (the shape of the first "
                             f"non-empty sequence's timesteps)")
        if len(kept) == 0:
            continue
        if padding == "post":
            padded[position, :len(kept)] = kept
        else:
            padded[position, -len(kept):] = kept
    return padded
