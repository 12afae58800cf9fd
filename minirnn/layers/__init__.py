"""Keras-compatible layers."""
from .base import Layer, InputLayer, InputSpec, Input, LayerNotCalledError, SymbolicTensor
from .core import (Dense, Embedding, Dropout, TimeDistributed, Activation, Flatten, Reshape,
                   RepeatVector, Masking, Lambda, Concatenate, Add, Multiply, Average)
from .recurrent import RNN, SimpleRNN, LSTM, GRU, Bidirectional
from .attention import Attention, AdditiveAttention, LuongAttention, BahdanauAttention
