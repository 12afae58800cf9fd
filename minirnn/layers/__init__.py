"""Keras-compatible layers."""
from .base import Layer, InputSpec, Input, SymbolicTensor
from .core import (Dense, Embedding, Dropout, TimeDistributed, Activation, Flatten, Reshape,
                   RepeatVector, Masking, Lambda, Concatenate, Add, Multiply, Average)
from .rnn_cells import SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells
from .recurrent import RNN, SimpleRNN, LSTM, GRU, Bidirectional
from .attention import Attention, AdditiveAttention, LuongAttention, BahdanauAttention
