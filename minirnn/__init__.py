"""minirnn: a pure-NumPy autodiff framework for recurrent neural networks, with explicit BPTT.

`import minirnn as keras` serves a Keras 3 script: the top level has Keras's modules (layers,
models, ops, optimizers, losses, metrics, callbacks, initializers, activations, utils, saving,
config, backend, random) and classes (Sequential, Model, Input, Layer, ...) at Keras's places.
"""
from . import allocator, blas
from .tensor import Tensor, tensor, no_grad, is_grad_enabled, floatx, set_floatx
from . import ops
from . import gradcheck
from .gradcheck import check_grads, numerical_grad
from .random import set_random_seed
from . import activations, initializers, random
from . import layers
from . import losses, metrics, optimizers, callbacks, saving
from . import models
from .cellcheck import check_cell, CellCheckError
from .models import Model, Sequential, Input, load_model
from . import interop, utils, preprocessing
from . import config, backend
from .layers import Layer, InputSpec
from .initializers import Initializer
from .losses import Loss
from .metrics import Metric
from .optimizers import Optimizer

__version__ = "0.1.0"


def version():
    """minirnn's version string (keras.version())."""
    return __version__


blas._apply_default()
allocator._apply_default()
