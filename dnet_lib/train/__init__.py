"""Training: ``fit`` (one loop for notebooks, the CLI, benchmarks and torchrun) and ``History``.

Read ``loop.py`` first; the rest are the pieces it calls: ``config``, ``schedule``, ``device``
(AMP, channels_last, compile), ``checkpoint``, ``distributed`` (torchrun/DDP), ``history``.
"""
from .checkpoint import (CHECKPOINT_NAME, HISTORY_NAME, CheckpointError, load_checkpoint,
                         save_checkpoint)
from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .history import History
from .loop import NonFiniteLossError, evaluate, fit, train_epoch
from .schedule import ONE_CYCLE_WARMUP, lr_factor
