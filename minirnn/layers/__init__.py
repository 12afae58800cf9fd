"""Keras-compatible layers."""
from .base import Layer, InputSpec, LayerNotCalledError, SymbolicTensor
from .input_layer import InputLayer, Input
from .core import (Dense, Embedding, Dropout, TimeDistributed, Activation, Flatten, Reshape,
                   RepeatVector, Masking, Lambda, Concatenate, Add, Multiply, Average)
from .rnn_cells import SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells
from .recurrent import RNN
from .rnn_layers import SimpleRNN, LSTM, GRU
from .bidirectional import Bidirectional
from .attention import Attention, AdditiveAttention, LuongAttention, BahdanauAttention
from .conv import Conv1D, Convolution1D
from .pooling import (MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D,
                      MaxPool1D, AvgPool1D, GlobalAvgPool1D, GlobalMaxPool1D)
from .normalization import BatchNormalization, LayerNormalization
from .preprocessing import TextVectorization
from .operation import OpLayer
