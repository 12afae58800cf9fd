"""Data utilities with Keras's names (keras.utils): padding, one-hot, windowed and text datasets."""
from ..backend import clear_session
from ..callbacks import Progbar
from ..random import set_random_seed
from .dataset import ArrayDataset, EagerArray
from .numerical import normalize, to_categorical
from .py_dataset import PyDataset
from .sequence import pad_sequences
from .text_dataset import text_dataset_from_directory
from .timeseries import timeseries_dataset_from_array

__all__ = ["ArrayDataset", "EagerArray", "Progbar", "PyDataset", "clear_session", "normalize", "pad_sequences",
           "set_random_seed", "text_dataset_from_directory", "timeseries_dataset_from_array", "to_categorical"]
