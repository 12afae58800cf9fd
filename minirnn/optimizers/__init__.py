"""Optimizers with Keras 3's update rules (see ``base``)."""
from .base import *  # noqa: F401,F403
from .base import __all__  # noqa: F401
