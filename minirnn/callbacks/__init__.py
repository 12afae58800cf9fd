"""Callbacks for fit/evaluate/predict, with Keras's names, one job per module: History,
ProgbarLogger (and the Progbar it draws), EarlyStopping, ModelCheckpoint, TerminateOnNaN,
LambdaCallback, ReduceLROnPlateau, LearningRateScheduler, CSVLogger, BackupAndRestore."""
from .backup_and_restore import BackupAndRestore
from .callback import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .progbar import Progbar
from .progbar_logger import ProgbarLogger, progress_callbacks
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback", "Progbar", "ReduceLROnPlateau",
           "LearningRateScheduler", "CSVLogger", "BackupAndRestore", "progress_callbacks"]
