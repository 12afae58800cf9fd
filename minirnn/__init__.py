"""minirnn: a pure-NumPy autodiff framework for recurrent neural networks, with explicit BPTT."""
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

__version__ = "0.1.0"

blas._apply_default()
allocator._apply_default()
