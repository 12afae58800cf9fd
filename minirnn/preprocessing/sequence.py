"""keras.preprocessing.sequence: pad_sequences, where older Keras scripts import it from."""
from ..utils.sequence import pad_sequences

__all__ = ["pad_sequences"]
