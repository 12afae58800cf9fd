"""to_categorical and normalize, on NumPy arrays (keras.utils.to_categorical, keras.utils.normalize)."""
import numpy as np

from ..checks import check_int, positive_int

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes=None):
    """One-hot float64 rows for the class indices in `x`: shape x.shape + (num_classes,).

    As in Keras, a trailing axis of size 1 is dropped first ((n, 1) gives (n, num_classes)), values
    are converted to int64 (floats truncate toward zero) and num_classes=None takes max(x) + 1.
    Class indices outside [0, num_classes) raise ValueError.
    """
    if num_classes is not None:
        num_classes = positive_int(num_classes, "to_categorical: num_classes")
    try:
        classes = np.array(x, dtype="int64")
    except (TypeError, ValueError) as error:
        raise ValueError(f"to_categorical: x must hold integer class indices; got {x!r} "
                         f"({error})") from None
    shape = classes.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    classes = classes.reshape(-1)
    if num_classes is None:
        if classes.size == 0:
            raise ValueError("to_categorical: cannot infer num_classes from an empty x; pass "
                             "num_classes")
        num_classes = int(classes.max()) + 1
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        bad = classes[(classes < 0) | (classes >= num_classes)][0]
        raise ValueError(f"to_categorical: class indices must be in [0, {num_classes}) "
                         f"(num_classes={num_classes}); got {bad}")
    one_hot = np.zeros((classes.size, num_classes))
    one_hot[np.arange(classes.size), classes] = 1.0
    return one_hot.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero norms count as 1, leaving zeros as zeros).

    Keras's NumPy path: a 1-D x comes back with shape (1, n). Unlike Keras's NumPy path, axis=0
    normalises along axis 0 (Keras turns axis=0 into -1 when restoring the reduced axis).
    """
    x = np.asarray(x)
    if x.dtype.kind not in "buif":
        raise TypeError(f"normalize: x must hold real numbers; got an array of dtype {x.dtype}")
    axis = check_int(axis, "normalize: axis")
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"normalize: axis must be in [-{max(x.ndim, 1)}, {max(x.ndim, 1)}) for x of "
                         f"shape {x.shape}; got {axis}")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
