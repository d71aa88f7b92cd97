"""Training: ``fit`` (one loop for notebooks, the CLI, benchmarks and torchrun) and ``History``.
Read ``loop.py`` first; it calls ``config`` (settings, optimizer, lr schedule), ``distributed``
(device, AMP, channels_last, compile; torchrun/DDP), ``checkpoint`` and ``history``."""
from .checkpoint import CHECKPOINT_NAME, HISTORY_NAME, CheckpointError, load_checkpoint
from .config import ONE_CYCLE_WARMUP, OPTIMIZERS, SCHEDULES, TrainConfig, lr_factor
from .history import History
from .loop import NonFiniteLossError, evaluate, fit, train_epoch
