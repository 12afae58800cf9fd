"""text_dataset_from_directory: .txt files as (text, label) batches
(keras.utils.text_dataset_from_directory).

Files are found and ordered as Keras finds them: with labels="inferred", one class per
subdirectory (sorted by name, hidden ones skipped), each walked recursively with its folders and
files in sorted order; with shuffle=True the list is permuted once with np.random.RandomState(seed)
before the validation split, so training and validation subsets hold the same files as Keras's.
The training set is then shuffled again at each pass within a buffer of 8 * batch_size files
(Keras's tf.data shuffle; see ArrayDataset). The validation subset is never reshuffled.

Texts come as Python str (batches are object arrays), read as UTF-8 when a batch is drawn;
max_length keeps the first max_length characters (the count of Keras's "grain" format; its "tf"
format counts bytes, the same thing for ASCII text). Labels: "int" int32 (batch,), "categorical"
float32 (batch, num_classes), "binary" float32 (batch, 1).
"""
import os

import numpy as np

from ..checks import check_bool, check_choice, check_fraction, check_int, positive_int
from .dataset import ArrayDataset, as_tf_array

__all__ = ["text_dataset_from_directory"]

_WHAT = "text_dataset_from_directory"
_FORMATS = (".txt",)
_MAX_SEED = 2 ** 32 - 1  # np.random.RandomState's range


def _class_subdirectories(directory, class_names):
    found = [name for name in sorted(os.listdir(directory))
             if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")]
    if class_names is None:
        return found
    if not set(class_names).issubset(found):
        raise ValueError(f"{_WHAT}: class_names must name subdirectories of {directory!r} "
                         f"({found}, or a subset of them); got {list(class_names)}")
    return list(class_names)


def _files_under(directory, follow_links):
    """Relative paths of the .txt files below `directory`, folders and files in sorted order."""
    found = []
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda w: w[0]):
        for name in sorted(files):
            if name.lower().endswith(_FORMATS):
                found.append(os.path.relpath(os.path.join(root, name), directory))
    return found


def _index_directory(directory, labels, class_names, follow_links):
    """(file paths, integer labels or None, class names or None), in Keras's order."""
    if isinstance(labels, str):  # "inferred"
        class_names = _class_subdirectories(directory, class_names)
        paths, label_list = [], []
        for index, name in enumerate(class_names):
            files = _files_under(os.path.join(directory, name), follow_links)
            paths += [os.path.join(directory, name, file) for file in files]
            label_list += [index] * len(files)
        return paths, np.array(label_list, dtype=np.int32), class_names
    paths = [os.path.join(directory, file) for file in _files_under(directory, follow_links)]
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(f"{_WHAT}: labels must give one label per .txt file; got {len(labels)} "
                         f"labels for {len(paths)} files in {directory!r}")
    return paths, labels, [str(label) for label in sorted(set(labels.tolist()))]


def _check_labels(labels, label_mode, class_names):
    if isinstance(labels, str):
        check_choice(labels, f"{_WHAT}: labels", ("inferred",))
    elif labels is not None:
        if not isinstance(labels, (list, tuple)):
            raise TypeError(f"{_WHAT}: labels must be \"inferred\", None or a list/tuple of integer "
                            f"labels, one per file; got {type(labels).__name__}")
        labels = as_tf_array(labels, f"{_WHAT}: labels")
        if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
            raise TypeError(f"{_WHAT}: labels must be a flat list of integers; got an array of "
                            f"dtype {labels.dtype} and shape {labels.shape}")
    if class_names is not None:
        if not (isinstance(labels, str) and label_mode is not None):
            raise ValueError(f"{_WHAT}: class_names can only be passed with labels=\"inferred\" "
                             f"and a label_mode; got labels="
                             f"{labels if isinstance(labels, str) or labels is None else 'a list'}"
                             f" and label_mode={label_mode!r}")
        if isinstance(class_names, str) or not all(isinstance(name, str) for name in class_names):
            raise TypeError(f"{_WHAT}: class_names must be a list of subdirectory names; got "
                            f"{class_names!r}")
    if label_mode is not None:
        check_choice(label_mode, f"{_WHAT}: label_mode", ("int", "categorical", "binary"))
    return labels


def _check_split(validation_split, subset, shuffle, seed):
    if validation_split is not None:
        validation_split = check_fraction(validation_split, f"{_WHAT}: validation_split")
    if subset is not None:
        check_choice(subset, f"{_WHAT}: subset", ("training", "validation", "both"))
    if bool(validation_split) != bool(subset):
        raise ValueError(f"{_WHAT}: validation_split and subset go together; got "
                         f"validation_split={validation_split} and subset={subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{_WHAT}: with validation_split and shuffle=True, pass a seed so that the "
                         f"training and validation subsets do not overlap")
    return validation_split


def _split(paths, labels, validation_split, subset):
    """Keras's split: the last int(validation_split * n) files are the validation subset."""
    num_validation = int(validation_split * len(paths))
    if subset == "training":
        keep = slice(None, -num_validation)  # none at all when num_validation is 0, as in Keras
    else:
        keep = slice(-num_validation, None) if num_validation else slice(0, 0)
    return paths[keep], None if labels is None else labels[keep]


def _read_text(path, max_length):
    with open(path, "rb") as file:
        content = file.read()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{_WHAT}: {path!r} is not UTF-8 text ({error})") from None
    return text if max_length is None else text[:max_length]


def _encode_labels(labels, label_mode, num_classes):
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        # a label outside [0, num_classes) gives a row of zeros, as tf.one_hot does
        return (labels[:, None] == np.arange(num_classes)).astype(np.float32)
    return labels


def _dataset(paths, labels, label_mode, num_classes, max_length, batch_size, buffer_size, seed):
    paths = list(paths)
    encoded = None if labels is None else _encode_labels(labels, label_mode, num_classes)

    def gather(indices):
        texts = np.empty(len(indices), dtype=object)
        texts[:] = [_read_text(paths[i], max_length) for i in indices]
        return texts if encoded is None else (texts, encoded[indices])

    return ArrayDataset(gather, len(paths), batch_size=batch_size, shuffle_buffer_size=buffer_size,
                        seed=seed)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                batch_size=32, max_length=None, shuffle=True, seed=None,
                                validation_split=None, subset=None, follow_links=False,
                                verbose=True):
    """An ArrayDataset of (texts, labels) batches from the .txt files under `directory`
    (texts alone when labels or label_mode is None); with subset="both", a list
    [training, validation]. Each dataset has `class_names` (None without labels).

    labels: "inferred" (class = subdirectory), None, or a list of integer labels in the order of
    the sorted file paths. label_mode: "int", "categorical", "binary" or None.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{_WHAT}: directory must be a path; got {type(directory).__name__}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{_WHAT}: directory {directory!r} does not exist or is not a directory")
    labels = _check_labels(labels, label_mode, class_names)
    if batch_size is not None:
        batch_size = positive_int(batch_size, f"{_WHAT}: batch_size")
    if max_length is not None:
        max_length = check_int(max_length, f"{_WHAT}: max_length", minimum=0)
    shuffle = check_bool(shuffle, f"{_WHAT}: shuffle")
    follow_links = check_bool(follow_links, f"{_WHAT}: follow_links")
    if seed is not None:
        seed = check_int(seed, f"{_WHAT}: seed", minimum=0)
        if seed > _MAX_SEED:
            raise ValueError(f"{_WHAT}: seed must be an int in [0, 2**32); got {seed}")
    validation_split = _check_split(validation_split, subset, shuffle, seed)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = np.random.randint(1e6)  # as Keras: drawn from NumPy's global generator

    paths, labels, class_names = _index_directory(directory, labels, class_names, follow_links)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"{_WHAT}: label_mode=\"binary\" needs exactly 2 classes; got "
                         f"{len(class_names)}: {class_names}")
    if verbose:
        classes = "" if labels is None else f" belonging to {len(class_names)} classes"
        print(f"Found {len(paths)} files{classes}.")
    if shuffle:  # one global permutation, the one Keras draws, so that splits agree with Keras's
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(order)
        paths = [paths[i] for i in order]
        labels = None if labels is None else labels[order]

    num_classes = len(class_names) if class_names else 0
    buffer_size = 1024 if batch_size is None else 8 * batch_size
    subsets = ["training", "validation"] if subset == "both" else [subset]
    datasets = []
    for name in subsets:
        subset_paths, subset_labels = paths, labels
        if validation_split:
            subset_paths, subset_labels = _split(paths, labels, validation_split, name)
            if verbose:
                print(f"Using {len(subset_paths)} files for {name}.")
        if not subset_paths:
            found = {"training": "training ", "validation": "validation "}.get(name, "")
            raise ValueError(f"{_WHAT}: no {found}.txt files found in directory {directory!r}")
        # Keras leaves the validation half of subset="both" in order; a lone subset is shuffled
        reshuffle = shuffle and not (subset == "both" and name == "validation")
        dataset = _dataset(subset_paths, subset_labels, label_mode, num_classes, max_length,
                           batch_size, buffer_size if reshuffle else None, seed)
        dataset.class_names = class_names
        datasets.append(dataset)
    return datasets if subset == "both" else datasets[0]
