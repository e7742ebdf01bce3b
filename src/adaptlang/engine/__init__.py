"""The one training core (see :mod:`adaptlang.engine.loop`) and what it owns: checkpoints, the run's device and
memory, model cards."""

from adaptlang.engine.checkpoint import CheckpointError, CheckpointStore
from adaptlang.engine.loop import (EpochRecord, FitConfig, FitResult, Interrupted, Task, TrainingDiverged,
                                   check_resumable, fit, lr_factor)

__all__ = ["CheckpointError", "CheckpointStore", "EpochRecord", "FitConfig", "FitResult", "Interrupted", "Task",
           "TrainingDiverged", "check_resumable", "fit", "lr_factor"]
