"""The from-scratch word encoder of ``adaptlang baseline``: character model + word embeddings + multi-layer BiLSTM.

Each word is represented by the concatenation of

* a character-level BiLSTM (or CNN) over ``<w> c1 .. cn </w>`` (final states of both directions, projected),
* a trained word embedding (frequent training words; the rest, and a random ``word_dropout`` share of the tokens
  during training, use the unknown-word vector, so the model learns to rely on characters for rare words),
* optionally a corpus-trained embedding (``--corpus``), looked up in its own, larger vocabulary,

then contextualised by a stack of BiLSTM layers with dropout between them, in the spirit of UDPipe 2 without
contextual embeddings and of Dozat and Manning's (2017) biaffine parser. It produces word vectors of
``output_dim = 2 * hidden`` that the shared UPOS and biaffine heads consume, exactly like the transformer encoder.

Characters are encoded once per distinct word form in a batch (:meth:`BiLSTMWordEncoder.collate` deduplicates),
which is what makes the character model affordable on a CPU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from adaptlang.data.lexicon import PAD_ID, UNK_ID, WORD_SPECIALS, Lexicon
from adaptlang.errors import ModelError, UsageError
from adaptlang.models import WordEncoder, register_encoder
from adaptlang.models.biaffine import Dropout

CHAR_MODELS = ("lstm", "cnn")
LEXICON_FILE = "lexicon.json"
WEIGHTS_FILE = "encoder.safetensors"
CHAR_GROUPS = 3  # length groups of a batch's words for the character LSTM on the CPU (less padding, fewer calls)


@dataclass(frozen=True)
class BiLSTMEncoderConfig:
    """The encoder's hyperparameters (its JSON config, with ``"kind": "bilstm"``); the vocabularies are data and are
    saved beside the weights (``encoder/lexicon.json``)."""

    kind: ClassVar[str] = "bilstm"
    word_dim: int = 128
    char_model: str = "lstm"  # "lstm" | "cnn"
    char_dim: int = 64
    char_hidden: int = 128  # per direction (LSTM) / filters per width (CNN)
    char_out: int = 128  # the character vector's size after projection
    hidden: int = 256  # BiLSTM size per direction
    n_layers: int = 3
    dropout: float = 0.33  # on embeddings and between BiLSTM layers (the heads drop the output)
    word_dropout: float = 0.25  # share of training tokens whose word (and corpus) embedding becomes <unk>
    min_word_count: int = 2  # training words seen this often get their own embedding
    lowercase: bool = True  # word-embedding lookup key (characters keep case)
    # Corpus embeddings: a safetensors file with "vectors" [n, dim] and a JSON list of words beside it
    # (``<file>.words.json``), as written by adaptlang.baseline; only read by build(), then saved with the model.
    pretrained_vectors: str | None = None
    pretrained_dim: int = 0  # filled in by build() from the vectors
    pretrained_info: dict[str, Any] | None = None  # filled in by build(): where the vectors came from (report only)
    freeze_pretrained: bool = True
    # Size of an optional extra per-word input concatenated to the word representation (``forward``'s
    # ``features["extra"]`` [B, W, extra_dim]): the frozen transformer vectors of the "features" encoder.
    extra_dim: int = 0

    def __post_init__(self) -> None:
        if self.char_model not in CHAR_MODELS:
            raise UsageError(f"unknown character model {self.char_model!r}; valid: {', '.join(CHAR_MODELS)}")
        for name in ("word_dim", "char_dim", "char_hidden", "char_out", "hidden", "n_layers", "min_word_count"):
            if getattr(self, name) < 1:
                raise UsageError(f"bilstm encoder: {name} must be positive, got {getattr(self, name)}")
        for name in ("dropout", "word_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UsageError(f"bilstm encoder: {name} must be in [0, 1), got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BiLSTMEncoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"kind"}
        if unknown:
            raise UsageError(f"bilstm encoder config: unknown fields {sorted(unknown)}; valid: {sorted(known)}")
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as e:
            raise UsageError(f"bilstm encoder config: {e}") from None


class CharLSTM(nn.Module):
    """Final states of a BiLSTM over each word's characters: ``[n_types, n_chars] -> [n_types, out]``."""

    def __init__(self, n_chars: int, char_dim: int, hidden: int, out: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, out)
        self.dropout = Dropout(dropout)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embed(chars))  # [n_types, n_chars, char_dim]
        lengths = lengths.clamp(min=1)
        if x.device.type != "cpu":  # cuDNN runs packed sequences well
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)  # h: [2, n_types, hidden]
            return self.proj(torch.cat([h[0], h[1]], dim=-1))  # [n_types, out]
        # On the CPU: words sorted by length into a few groups, each padded only to its own longest word
        order = torch.argsort(lengths)
        finals = [bilstm_padded(self.lstm, x[part, :int(lengths[part].max())], lengths[part])[1]
                  for part in order.tensor_split(min(CHAR_GROUPS, len(order)))]  # in the dtype autocast gives
        return self.proj(torch.cat(finals)[torch.argsort(order)])  # [n_types, out]


class CharCNN(nn.Module):
    """Max-pooled convolutions of widths 2-5 over each word's characters: ``[n_types, n_chars] -> [n_types, out]``."""

    WIDTHS = (2, 3, 4, 5)

    def __init__(self, n_chars: int, char_dim: int, filters: int, out: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=PAD_ID)
        self.convs = nn.ModuleList(nn.Conv1d(char_dim, filters, w, padding=w - 1) for w in self.WIDTHS)
        self.proj = nn.Linear(filters * len(self.WIDTHS), out)
        self.dropout = Dropout(dropout)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embed(chars)).transpose(1, 2)  # [n_types, char_dim, n_chars]
        pooled = [torch.relu(conv(x)).max(dim=-1).values for conv in self.convs]  # each [n_types, filters]
        return self.proj(torch.cat(pooled, dim=-1))  # [n_types, out]


@register_encoder("bilstm")
class BiLSTMWordEncoder(WordEncoder):
    """Word encoder ``"bilstm"``: ``collate(sentences)`` then ``forward(inputs) -> (h [B, W, D], mask [B, W])``."""

    def __init__(self, config: BiLSTMEncoderConfig, lexicon: Lexicon):
        super().__init__()
        if config.pretrained_dim and not lexicon.n_pretrained:
            raise ModelError("bilstm encoder: pretrained_dim is set but the lexicon has no pretrained words")
        self.hparams = config
        self.lexicon = lex = lexicon
        self.word_embed = nn.Embedding(lex.n_words, config.word_dim, padding_idx=PAD_ID)
        nn.init.normal_(self.word_embed.weight, std=1.0)
        with torch.no_grad():
            self.word_embed.weight[PAD_ID].zero_()
        char_cls = CharLSTM if config.char_model == "lstm" else CharCNN
        self.char_model = char_cls(lex.n_chars, config.char_dim, config.char_hidden, config.char_out, config.dropout)
        in_dim = config.word_dim + config.char_out + config.extra_dim
        self.pretrained: nn.Embedding | None = None
        if config.pretrained_dim:
            self.pretrained = nn.Embedding(lex.n_pretrained, config.pretrained_dim, padding_idx=PAD_ID)
            self.pretrained.weight.requires_grad_(not config.freeze_pretrained)
            self.pretrained_proj = nn.Linear(config.pretrained_dim, config.word_dim, bias=False)
            in_dim += config.word_dim
        self.dropout = Dropout(config.dropout)
        # One BiLSTM per layer so that layers 2.. can be residual: x + lstm(x). Without the skips a 3-layer stack
        # trained from scratch spends its first epochs barely moving (the signal fades through the stack); with
        # them it starts learning as fast as a single layer.
        self.layers = nn.ModuleList(
            nn.LSTM(in_dim if i == 0 else 2 * config.hidden, config.hidden, batch_first=True, bidirectional=True)
            for i in range(config.n_layers)
        )
        self.output_dim = 2 * config.hidden
        for lstm in self.layers:
            _init_lstm(lstm)
        if isinstance(self.char_model, CharLSTM):
            _init_lstm(self.char_model.lstm)

    # ---- the WordEncoder contract ---------------------------------------------------------------------------
    @classmethod
    def build(cls, config: dict, train_words: Sequence[Sequence[str]]) -> "BiLSTMWordEncoder":
        """A fresh encoder whose vocabularies come from the training sentences (and the corpus vectors, if any)."""
        hp = BiLSTMEncoderConfig.from_dict(config)
        words: tuple[str, ...] = ()
        vectors: torch.Tensor | None = None
        if hp.pretrained_vectors:
            words, vectors = read_vectors_file(Path(hp.pretrained_vectors))
            info_path = Path(f"{hp.pretrained_vectors}.info.json")
            info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else None
            hp = BiLSTMEncoderConfig.from_dict({**hp.to_dict(), "pretrained_dim": int(vectors.shape[1]),
                                                "pretrained_info": info})
        lexicon = Lexicon.build(train_words, min_word_count=hp.min_word_count, lowercase=hp.lowercase,
                                pretrained_words=WORD_SPECIALS + words if words else ())
        encoder = cls(hp, lexicon)
        if vectors is not None:
            encoder.set_pretrained(torch.cat([torch.zeros(len(WORD_SPECIALS), vectors.shape[1]), vectors]))
        return encoder

    @property
    def config(self) -> dict:
        d = self.hparams.to_dict()
        d["pretrained_vectors"] = None  # the vectors are saved with the model; the source file is not needed
        return d

    def pretrained_parameters(self) -> set[str]:
        return set()  # trained from scratch: every parameter uses the heads' learning rate

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        (directory / LEXICON_FILE).write_text(json.dumps(self.lexicon.to_dict(), ensure_ascii=False),
                                              encoding="utf-8")
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                  str(directory / WEIGHTS_FILE))

    @classmethod
    def load(cls, config: dict, directory: Path) -> "BiLSTMWordEncoder":
        from adaptlang.engine.checkpoint import load_tensors

        try:
            lexicon = Lexicon.from_dict(json.loads((directory / LEXICON_FILE).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise ModelError(f"{directory / LEXICON_FILE}: unreadable ({e}); the model directory is incomplete") from None
        hp = BiLSTMEncoderConfig.from_dict({**config, "pretrained_vectors": None})
        encoder = cls(hp, lexicon)
        missing, unexpected = encoder.load_state_dict(load_tensors(directory / WEIGHTS_FILE), strict=False)
        if missing or unexpected:
            raise ModelError(f"{directory / WEIGHTS_FILE} does not match the config "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        return encoder

    def set_pretrained(self, vectors: torch.Tensor) -> None:
        """Load corpus embeddings ``[n_pretrained, pretrained_dim]`` (rows in the lexicon's pretrained order)."""
        if self.pretrained is None or tuple(vectors.shape) != tuple(self.pretrained.weight.shape):
            want = None if self.pretrained is None else tuple(self.pretrained.weight.shape)
            raise ModelError(f"bilstm encoder: pretrained vectors of shape {tuple(vectors.shape)}, expected {want}")
        with torch.no_grad():
            self.pretrained.weight.copy_(vectors)

    # ---- text -> tensors ------------------------------------------------------------------------------------
    def collate(self, sentences: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
        """Ids for a batch of sentences (lists of word forms), on the CPU; words are deduplicated for the char model:
        each distinct form is looked up and its characters encoded once per batch."""
        lex = self.lexicon
        n_words = max((len(s) for s in sentences), default=0)
        types: dict[str, int] = {"": 0}  # type 0: padding
        for sent in sentences:
            for form in sent:
                types.setdefault(form, len(types))
        forms = list(types)
        type_ids = torch.tensor([[types[f] for f in s] + [0] * (n_words - len(s)) for s in sentences],
                                dtype=torch.long).view(len(sentences), n_words)  # [B, W] into the batch's forms
        mask = torch.arange(n_words) < torch.tensor([len(s) for s in sentences], dtype=torch.long).unsqueeze(1)
        type_word = torch.tensor([PAD_ID] + [lex.word_id(f) for f in forms[1:]], dtype=torch.long)
        pre_ids = torch.zeros_like(type_ids)
        if lex.n_pretrained:
            pre_ids = torch.tensor([PAD_ID] + [lex.pretrained_id(f) for f in forms[1:]], dtype=torch.long)[type_ids]
        type_chars = [[PAD_ID]] + [lex.char_ids(f) for f in forms[1:]]
        max_chars = max(len(c) for c in type_chars)
        chars = torch.tensor([c + [PAD_ID] * (max_chars - len(c)) for c in type_chars], dtype=torch.long)
        return {
            "word_ids": type_word[type_ids],  # [B, W]
            "pretrained_ids": pre_ids,  # [B, W]
            "type_ids": type_ids,  # [B, W]
            "chars": chars,  # [n_types, n_chars]
            "char_lengths": torch.tensor([len(c) for c in type_chars], dtype=torch.long),  # [n_types]
            "word_mask": mask,  # [B, W]
        }

    # ---- tensors -> word vectors ----------------------------------------------------------------------------
    def forward(self, features: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        word_ids, mask = features["word_ids"], features["word_mask"]  # [B, W]
        pre_ids = features.get("pretrained_ids")
        if self.training and self.hparams.word_dropout > 0:
            drop = (torch.rand(word_ids.shape, device=word_ids.device) < self.hparams.word_dropout) & mask
            word_ids = word_ids.masked_fill(drop, UNK_ID)
            if pre_ids is not None:
                pre_ids = pre_ids.masked_fill(drop, UNK_ID)
        char_vecs = self.char_model(features["chars"], features["char_lengths"])  # [n_types, char_out]
        parts = [self.word_embed(word_ids), char_vecs[features["type_ids"]]]  # each [B, W, *]
        if self.pretrained is not None and pre_ids is not None:
            parts.append(self.pretrained_proj(self.pretrained(pre_ids)))  # [B, W, word_dim]
        if self.hparams.extra_dim:
            parts.append(features["extra"].to(parts[0].dtype))  # [B, W, extra_dim]
        x = self.dropout(torch.cat(parts, dim=-1))  # [B, W, in_dim]
        lengths = mask.sum(dim=1).clamp(min=1)  # [B]
        h = x
        for i, lstm in enumerate(self.layers):
            if x.device.type == "cpu":
                out = bilstm_padded(lstm, h, lengths)[0] * mask.unsqueeze(-1).to(h.dtype)
            else:  # cuDNN runs packed sequences well
                packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
                out = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=x.shape[1])[0]
            h = out if i == 0 else h + out  # [B, W, 2 * hidden], zero at padding
            if i < len(self.layers) - 1:
                h = self.dropout(h)
        return h, mask


def bilstm_padded(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A one-layer bidirectional ``nn.LSTM`` over right-padded sequences, without packing: the same results as
    running it on the packed sequences, at the valid positions.

    ``x [B, T, D]``, ``lengths [B]`` (each >= 1) -> outputs ``[B, T, 2 * hidden]`` (undefined at padding) and each
    sequence's final states ``[B, 2 * hidden]`` (forward after its last element, backward after its first). The
    forward direction reads the padding only after the valid positions; the backward one runs forward over each
    sequence reversed in place (padding left at the end). On the CPU this takes oneDNN's LSTM kernels, several times
    lighter than the packed-sequence path, whose backward pass allocates and fills a full-size gradient per step.
    """
    n_batch, n_steps, hidden = x.shape[0], x.shape[1], lstm.hidden_size
    steps = torch.arange(n_steps, device=x.device)
    back = lengths.unsqueeze(1) - 1 - steps  # [B, T] position read at step t of the reversed sequence
    rev = torch.where(back >= 0, back, steps).unsqueeze(-1)  # an involution: padding maps to itself
    h0 = x.new_zeros(1, n_batch, hidden)
    fwd = torch.lstm(x, (h0, h0), [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0],
                     True, 1, 0.0, lstm.training, False, True)[0]  # [B, T, hidden]
    bwd = torch.lstm(x.gather(1, rev.expand(-1, -1, x.shape[2])), (h0, h0),
                     [lstm.weight_ih_l0_reverse, lstm.weight_hh_l0_reverse, lstm.bias_ih_l0_reverse,
                      lstm.bias_hh_l0_reverse], True, 1, 0.0, lstm.training, False, True)[0]  # reversed order
    last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)
    final = torch.cat([fwd.gather(1, last), bwd.gather(1, last)], dim=-1).squeeze(1)  # [B, 2 * hidden]
    return torch.cat([fwd, bwd.gather(1, rev.expand(-1, -1, hidden))], dim=-1), final


def _init_lstm(lstm: nn.LSTM) -> None:
    """Orthogonal recurrent weights and a forget-gate bias of 1: the usual recipe for LSTMs trained from scratch
    (Jozefowicz et al., 2015; Dozat and Manning, 2017); it shortens the slow first epochs."""
    for name, param in lstm.named_parameters():
        if name.startswith("weight_hh"):
            for gate in param.data.chunk(4, dim=0):  # PyTorch gate order: input, forget, cell, output
                nn.init.orthogonal_(gate)
        elif name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param.data)
        elif name.startswith("bias"):
            nn.init.zeros_(param.data)
            if name.startswith("bias_hh"):
                n = param.shape[0] // 4
                param.data[n: 2 * n] = 1.0


def write_vectors_file(path: Path, words: Sequence[str], vectors: torch.Tensor) -> None:
    """Store corpus embeddings for :meth:`BiLSTMWordEncoder.build` (``pretrained_vectors``)."""
    from safetensors.torch import save_file

    save_file({"vectors": vectors.float().contiguous()}, str(path))
    Path(f"{path}.words.json").write_text(json.dumps(list(words), ensure_ascii=False), encoding="utf-8")


def read_vectors_file(path: Path) -> tuple[tuple[str, ...], torch.Tensor]:
    from adaptlang.engine.checkpoint import load_tensors

    try:
        words = tuple(json.loads(Path(f"{path}.words.json").read_text(encoding="utf-8")))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}.words.json: unreadable word list of the corpus vectors ({e})") from None
    vectors = load_tensors(path)["vectors"]
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ModelError(f"{path}: {tuple(vectors.shape)} vectors for {len(words)} words")
    return words, vectors
