"""Neural modules: a registry of word encoders, and the UPOS tagger + biaffine parser that sits on any of them.

Word-encoder interface (shared by ``adaptlang train`` and ``adaptlang baseline``)
--------------------------------------------------------------------------------
A word encoder is a ``torch.nn.Module`` subclass registered under a *kind* with :func:`register_encoder`::

    @register_encoder("bilstm")
    class BiLSTMEncoder(WordEncoder): ...

It turns sentences (lists of word FORMs, already split into syntactic words) into one vector per word:

``kind: ClassVar[str]``
    The registry key; saved as ``config.json["encoder"]["kind"]`` in every model directory.
``output_dim: int``
    Size of each word vector.
``build(cls, config: dict, train_words: Sequence[Sequence[str]]) -> WordEncoder`` (classmethod)
    A fresh encoder for training. ``config`` is JSON-able and includes ``"kind"``; ``train_words`` are the training
    sentences' FORMs, for encoders that build a vocabulary. Must be deterministic given the global torch seed
    (resume rebuilds the model this way, then loads the trainable weights).
``config -> dict`` (property)
    The complete JSON-able config (with ``"kind"``), enough for :meth:`load` to rebuild it.
``collate(self, words: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]``
    Featurise a batch of sentences into CPU tensors (token ids, character ids, offsets...). Never sees labels.
``forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]``
    ``inputs`` is ``collate``'s output moved to the model's device. Returns word vectors
    ``[batch, n_words, output_dim]`` and a word mask ``[batch, n_words]`` (bool, True for real words), where
    ``n_words`` is the longest sentence of the batch.
``save(self, directory: pathlib.Path) -> None``
    Write everything needed to rebuild the encoder into ``directory`` (an empty folder): weights as safetensors or
    ``save_pretrained``, vocabularies as JSON. Never pickles.
``load(cls, config: dict, directory: pathlib.Path) -> WordEncoder`` (classmethod)
    Rebuild a saved encoder for inference or further training.
``prepare(self, words: Sequence[Sequence[str]]) -> None`` (optional)
    Called once before training with the dev sentences, on the encoder's device: an encoder that caches
    per-sentence work (the frozen vectors of ``"features"``) does it now, so that the first epoch, which plans a
    time budget, runs at the speed of the others. The default does nothing.
``pretrained_parameters(self) -> set[str]`` (optional)
    Names (as in ``named_parameters()``) trained with the encoder learning rate; any other parameter of the
    encoder uses the heads' learning rate. The default is every parameter (a pretrained transformer); a BiLSTM
    trained from scratch returns an empty set.

:class:`adaptlang.models.parser.BiaffineParser` wraps an encoder with a UPOS head and biaffine arc and label
scorers; :mod:`adaptlang.tasks.parse` trains it on the core (:mod:`adaptlang.engine`), :mod:`adaptlang.tasks.parse_model` saves and loads it by its config.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Callable, ClassVar, Sequence, TypeVar

import torch
from torch import nn

from adaptlang.errors import UsageError

# kind -> module that registers it when imported (so the registry fills lazily)
ENCODER_MODULES: dict[str, str] = {
    "transformer": "adaptlang.models.transformer",
    "bilstm": "adaptlang.models.bilstm",
    "features": "adaptlang.models.features",
}

ENCODERS: dict[str, type["WordEncoder"]] = {}

E = TypeVar("E", bound=type["WordEncoder"])


class WordEncoder(nn.Module):
    """Base class of word encoders; see the module docstring for the contract."""

    kind: ClassVar[str] = ""
    output_dim: int

    @classmethod
    def build(cls, config: dict, train_words: Sequence[Sequence[str]]) -> "WordEncoder":
        raise NotImplementedError

    @property
    def config(self) -> dict:
        raise NotImplementedError

    def collate(self, words: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, config: dict, directory: Path) -> "WordEncoder":
        raise NotImplementedError

    def prepare(self, words: Sequence[Sequence[str]]) -> None:
        return None

    def pretrained_parameters(self) -> set[str]:
        return {name for name, _ in self.named_parameters()}


def register_encoder(kind: str) -> Callable[[E], E]:
    def deco(cls: E) -> E:
        cls.kind = kind
        ENCODERS[kind] = cls
        return cls

    return deco


def get_encoder_class(kind: str) -> type[WordEncoder]:
    """The encoder class registered under ``kind``; an unknown kind raises UsageError listing the valid ones."""
    if kind not in ENCODERS and kind in ENCODER_MODULES:
        try:
            importlib.import_module(ENCODER_MODULES[kind])
        except ModuleNotFoundError:
            pass
    if kind not in ENCODERS:
        valid = sorted(set(ENCODERS) | {k for k in ENCODER_MODULES if _importable(ENCODER_MODULES[k])})
        raise UsageError(f"unknown word encoder kind {kind!r}; valid kinds: {', '.join(valid)}")
    return ENCODERS[kind]


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
