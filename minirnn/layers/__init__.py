"""Keras-compatible layers."""
from .base import Layer, InputSpec, Input, SymbolicTensor
from .core import (Dense, Embedding, Dropout, TimeDistributed, Activation, Flatten, Reshape,
                   RepeatVector, Masking, Lambda, Concatenate, Add, Multiply, Average)
from .recurrent import RNN, SimpleRNN, LSTM, GRU, Bidirectional
from .attention import Attention, AdditiveAttention, LuongAttention, BahdanauAttention
from .preprocessing import TextVectorization
