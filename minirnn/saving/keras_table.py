"""What minirnn and Keras 3 call the same things: the one table the .keras / .weights.h5
translation reads (keras_config for configs, h5_weights for where weights sit).

Nothing here is imported from Keras: these are names written into and read from files.
"""

# Layers both libraries have under one class name, in `keras.layers`. A Keras file naming any
# other layer is refused (naming the class); a minirnn layer not listed cannot go into a .keras
# file (Keras could not load it), unless it is a user's registered class.
KERAS_LAYERS_MODULE = "keras.layers"
SHARED_LAYER_CLASSES = frozenset([
    "Dense", "Embedding", "Dropout", "TimeDistributed", "Activation", "Flatten", "Reshape",
    "RepeatVector", "Masking", "Concatenate", "Add", "Multiply", "Average",
    "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Attention", "AdditiveAttention",
    "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
    "BatchNormalization", "LayerNormalization",
    "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells", "TextVectorization",
])

# Top-level entries of config.json (Keras's loader needs "module"; its registered_name is
# what keras.saving writes for each model class).
MODEL_ENTRIES = {
    "Sequential": {"module": "keras", "class_name": "Sequential", "registered_name": None},
    "Functional": {"module": "keras.src.models.functional", "class_name": "Functional",
                   "registered_name": "Functional"},
}

# Constructor arguments minirnn adds to a Keras layer, with their defaults. Keras refuses
# arguments it does not know, so they are left out of a .keras file (with a warning when a
# layer sets one to anything but its default: that choice does not travel).
_RNN_EXTRAS = {"recompute": False, "truncate_bptt": None, "bptt": "fast"}
MINIRNN_ONLY_ARGUMENTS = {"SimpleRNN": _RNN_EXTRAS, "LSTM": _RNN_EXTRAS, "GRU": _RNN_EXTRAS,
                          "RNN": _RNN_EXTRAS, "*": {"input_shape": None}}

# Keras arguments minirnn has no counterpart for: a Keras config is accepted when they hold
# these values (and they are dropped); any other value is refused, naming the argument.
# Every `*_regularizer` and `*_constraint` argument is accepted when None as well.
KERAS_ONLY_DEFAULTS = {
    "*": {"quantization_config": None, "lora_rank": None, "lora_alpha": None,
          "activity_regularizer": None},
    "BatchNormalization": {"synchronized": False, "renorm": False, "renorm_clipping": None,
                           "renorm_momentum": 0.99},
}
KERAS_ONLY_SUFFIXES = ("_regularizer", "_constraint")

# Keras-only entries of an initializer's config, accepted at these values.
INITIALIZER_KERAS_ONLY = {"input_axes": None, "output_axes": None}

# Where a layer's variables sit below its group in model.weights.h5: Keras saves each tracked
# sublayer under the attribute that holds it, a list's items numbered by class (cells/lstm_cell,
# cells/lstm_cell_1). A recurrent layer keeps its weights in its cell; a Bidirectional's two
# layers and a TimeDistributed's layer are saved as layers themselves. (A user's layer is walked
# by its attributes, as Keras walks it.)
SUBLAYER_ATTRIBUTES = {"RNN": ("cell",), "SimpleRNN": ("cell",), "LSTM": ("cell",),
                       "GRU": ("cell",), "StackedRNNCells": ("cells",),
                       "Bidirectional": ("forward_layer", "backward_layer"),
                       "TimeDistributed": ("layer",), "TextVectorization": ()}
# The name attribute of the cell group of Keras's SimpleRNN, LSTM and GRU (their cell's name).
CELL_NAMES = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}
# Sublayers Keras has and minirnn does not, saved as groups without variables (their state, if
# any, travels as keras_assets describes): {class: {attribute: name attribute}}.
STATE_ONLY_SUBLAYERS = {"TextVectorization": {"_lookup_layer": "string_lookup"}}

# The module path of Keras's operations (a functional config's non-layer entries).
KERAS_OPS_MODULE_PREFIX = "keras.src.ops."

# Keras's operations that a functional model records when keras.ops functions (or operators) are
# applied to its symbolic tensors, and the minirnn.ops functions they stand for (an OpLayer):
# Keras class -> (its module, minirnn.ops name, {Keras constructor argument: minirnn argument}).
# The op's other arguments without defaults are the node's call arguments, in order.
_NUMPY_OPS = "keras.src.ops.numpy"
KERAS_OPERATIONS = {
    "OneHot": ("keras.src.ops.nn", "one_hot", {"num_classes": "num_classes", "axis": "axis",
                                               "dtype": "dtype", "sparse": "sparse"}),
    "Concatenate": (_NUMPY_OPS, "concatenate", {"axis": "axis"}),
    "ExpandDims": (_NUMPY_OPS, "expand_dims", {"axis": "axis"}),
    "Squeeze": (_NUMPY_OPS, "squeeze", {"axis": "axis"}),
    "Reshape": (_NUMPY_OPS, "reshape", {"newshape": "newshape"}),
    "Transpose": (_NUMPY_OPS, "transpose", {"axes": "axes"}),
    "GetItem": (_NUMPY_OPS, "getitem", {}),
    "Add": (_NUMPY_OPS, "add", {}), "Subtract": (_NUMPY_OPS, "subtract", {}),
    "Multiply": (_NUMPY_OPS, "multiply", {}), "Divide": (_NUMPY_OPS, "divide", {}),
    "TrueDivide": (_NUMPY_OPS, "true_divide", {}), "Negative": (_NUMPY_OPS, "negative", {}),
    "Power": (_NUMPY_OPS, "power", {}), "Matmul": (_NUMPY_OPS, "matmul", {}),
    "Absolute": (_NUMPY_OPS, "abs", {}),
}
# minirnn.ops names of the same operations, written as these Keras classes
OPERATION_ALIASES = {"concat": "Concatenate", "sub": "Subtract", "mul": "Multiply",
                     "div": "Divide", "neg": "Negative", "pow": "Power"}

# compile_config: the optimizer's module, and the keys minirnn reads.
OPTIMIZERS_MODULE = "keras.optimizers"
LOSSES_MODULE = "keras.losses"
INITIALIZERS_MODULE = "keras.initializers"
