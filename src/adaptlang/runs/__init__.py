"""Runs: a run directory of content-keyed, resumable stages (:mod:`.rundir`, :mod:`.stages`) and the stages the
studies share (:mod:`.train`: cut the training treebank; train a tagger-parser and score it in memory).

Torch is imported inside functions only.
"""

from adaptlang.runs.rundir import RUN_MARKER, check_run_dir, file_sha256, model_fingerprint, prepare_dir
from adaptlang.runs.stages import (RESUME_HINT, Interrupted, StageOutput, StageRecord, StageRunner, config_key,
                                   training_settings)
from adaptlang.runs.train import (ScoredRun, TestScores, TrainSummary, cut_treebank, train_and_score,
                                  training_treebank)

__all__ = [
    "RESUME_HINT", "RUN_MARKER", "Interrupted", "ScoredRun", "StageOutput", "StageRecord", "StageRunner",
    "TestScores", "TrainSummary", "check_run_dir", "config_key", "cut_treebank", "file_sha256", "model_fingerprint",
    "prepare_dir", "train_and_score", "training_settings", "training_treebank",
]
