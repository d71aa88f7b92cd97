"""Training: ``fit`` (one loop for notebooks, the CLI, benchmarks and torchrun) and ``History``.

Read ``loop.py`` first: ``fit`` runs the epochs and ``train_epoch`` the steps. The rest are
the small pieces the loop calls: ``config`` (``TrainConfig``, every setting ``fit`` takes),
``schedule`` (optimizer and learning-rate schedules), ``device`` (AMP, channels_last,
torch.compile), ``checkpoint`` (atomic checkpoints, resume), ``distributed`` (torchrun/DDP) and
``history`` (per-epoch metrics).
"""
from .checkpoint import (CHECKPOINT_NAME, HISTORY_NAME, CheckpointError, load_checkpoint,
                         save_checkpoint)
from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .history import History
from .loop import NonFiniteLossError, evaluate, fit, train_epoch
from .schedule import ONE_CYCLE_WARMUP, lr_factor
