"""Training machinery shared by every parser: length-bucketed batching, one generic :func:`fit` loop,
checkpoints as safetensors + JSON (resumable)."""

from adaptlang.training.batching import bucket_batches
from adaptlang.training.loop import EpochRecord, FitCallbacks, FitConfig, FitResult, fit

__all__ = ["bucket_batches", "fit", "FitConfig", "FitResult", "FitCallbacks", "EpochRecord"]
