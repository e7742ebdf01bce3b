"""The tasks of the training core, one module each, each a set of hooks for :func:`adaptlang.engine.fit`:

- :mod:`adaptlang.tasks.parse`: UPOS tagging + biaffine dependency parsing on any word encoder (``adaptlang train``,
  ``adaptlang baseline``); :mod:`adaptlang.tasks.parse_model` saves, loads, predicts and evaluates its models;
- :mod:`adaptlang.tasks.mlm`: masked-language-model adaptation of a pretrained encoder (``adaptlang adapt``);
- :mod:`adaptlang.tasks.ner`: named-entity recognition, a CRF tagger on any word encoder (``train --task ner``,
  ``baseline --task ner``).

A new task is a new module here with a class implementing :class:`adaptlang.engine.Task`, never a new loop.
"""

from adaptlang.engine.runtime import resolve_device, set_threads
from adaptlang.tasks.parse import TrainConfig, TrainResult, train_parser
from adaptlang.tasks.parse_model import (EvalResult, LoadedParser, PredictResult, evaluate_model, load_parser,
                                         predict, predict_sentences, predict_words, save_model, score_loaded)

__all__ = ["EvalResult", "LoadedParser", "PredictResult", "TrainConfig", "TrainResult", "evaluate_model",
           "load_parser", "predict", "predict_sentences", "predict_words", "resolve_device", "save_model",
           "score_loaded", "set_threads", "train_parser"]
