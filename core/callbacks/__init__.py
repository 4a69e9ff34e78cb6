"""Training callbacks with Keras 3 names, hooks and semantics, one module per callback as Keras
lays them out (``core.callbacks.X`` names every public one).

``fit``/``evaluate``/``predict`` drive a :class:`CallbackList`; every callback sees the same
hooks as in Keras 3 (``on_train_begin``, ``on_epoch_begin``, ``on_train_batch_end``, ...), with
logs converted to Python floats and sorted by key, as Keras' ``pythonify_logs`` does.
"""
from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import MODEL_EXTENSIONS, WEIGHTS_EXTENSIONS, ModelCheckpoint
from .monitor_callback import MonitorCallback
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .remote_monitor import RemoteMonitor
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "MODEL_EXTENSIONS", "WEIGHTS_EXTENSIONS", "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
    "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback",
    "MonitorCallback", "TensorBoard", "BackupAndRestore", "RemoteMonitor",
]
