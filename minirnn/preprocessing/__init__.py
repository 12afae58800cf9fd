"""keras.preprocessing's names: the sequence module and the dataset builders."""
from . import sequence
from ..utils import text_dataset_from_directory, timeseries_dataset_from_array

__all__ = ["sequence", "text_dataset_from_directory", "timeseries_dataset_from_array"]
