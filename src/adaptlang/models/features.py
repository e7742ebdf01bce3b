"""The ``features`` word encoder: the from-scratch BiLSTM (:mod:`adaptlang.models.bilstm`) plus *frozen* contextual
vectors from a pretrained transformer, in the manner of UDPipe 2 (Straka, 2019).

Each word's input to the BiLSTM is its character vector, its word embedding and the pretrained model's vector at
the word's first piece, taken from the last ``layers`` hidden layers and combined by a fixed mean (``mix="mean"``)
or a learned softmax-weighted sum (``mix="scalar"``). The transformer is never trained: its vectors are computed
once per sentence (windowing, transliteration, adapters and adapted models exactly as for ``adaptlang train``,
through :class:`adaptlang.models.transformer.TransformerEncoder`) and cached, the training sentences at build time,
other sentences (dev, prediction) on first sight. So a features model trains at about the baseline's speed.

A saved model directory records the pretrained model (its absolute path or hub id, an adapter's base, the
transliteration scheme) in ``config.json``; loading it for ``evaluate``/``predict`` loads that model again and
computes the vectors on the fly. Only the BiLSTM (and the mix weights) are saved with the parser.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch

from adaptlang.errors import ModelError, UsageError
from adaptlang.models import WordEncoder, register_encoder
from adaptlang.models.bilstm import BiLSTMEncoderConfig, BiLSTMWordEncoder
from adaptlang.models.transformer import ScalarMix, TransformerEncoder
from adaptlang.specs import resolve_model

MIXES = ("mean", "scalar")
BILSTM_DIR = "bilstm"
MIX_FILE = "features_mix.safetensors"
DEFAULT_LAYERS = 4  # the last 4 layers, as UDPipe 2 averages BERT's (all of a shallower model's)
EXTRACT_BATCH = 32  # sentences per transformer call when computing vectors
CACHE_LIMIT = 300_000_000  # cached numbers (float16): about 600 MB; past it, vectors are computed and not kept


@dataclass(frozen=True)
class FeaturesEncoderConfig:
    """The encoder's JSON config (``"kind": "features"``): the pretrained model and how its layers are combined,
    and the BiLSTM's own config under ``bilstm``."""

    kind: ClassVar[str] = "features"
    model: str = ""  # hub id, model directory, PEFT adapter or `adaptlang adapt` output
    layers: int | None = None  # the last N hidden layers are combined (None: DEFAULT_LAYERS, at most all)
    mix: str = "mean"  # "mean": a fixed average; "scalar": learned softmax weights and scale
    translit: str | None = None  # a scheme applied to every word before tokenization (default: the model's own)
    max_length: int | None = None  # pieces per window (default: the model's maximum)
    allow_causal: bool = False
    bilstm: dict[str, Any] = field(default_factory=dict)  # BiLSTMEncoderConfig fields
    # filled in when the encoder is built (kept so that a saved config round-trips)
    adapter: bool | None = None
    base_model: str | None = None
    n_features: int = 0  # the pretrained model's hidden size

    def __post_init__(self) -> None:
        if not self.model:
            raise UsageError("--embeddings: give the pretrained model whose vectors the BiLSTM reads")
        if self.mix not in MIXES:
            raise UsageError(f"--embedding-mix must be one of {', '.join(MIXES)}, not {self.mix!r}")
        if self.layers is not None and (not isinstance(self.layers, int) or self.layers < 1):
            raise UsageError(f"--embedding-layers must be an integer >= 1, got {self.layers}")
        BiLSTMEncoderConfig.from_dict({**self.bilstm, "kind": "bilstm"})  # its own checks

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeaturesEncoderConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"kind"}
        if unknown:
            raise UsageError(f"features encoder config: unknown fields {sorted(unknown)}; valid: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if k in known})


class FrozenFeatures:
    """Per-word vectors of a frozen transformer, cached by sentence. Deliberately not an ``nn.Module``: the
    transformer's weights stay out of the parser's parameters, checkpoints and ``.to(device)``."""

    def __init__(self, encoder: TransformerEncoder, layers: int | None, keep_layers: bool):
        n_hidden = encoder.n_layers + 1  # the embeddings' output and every layer's
        layers = min(DEFAULT_LAYERS, n_hidden) if layers is None else layers
        if layers > n_hidden:
            raise UsageError(f"--embedding-layers {layers}: {encoder.config.get('model')} has {n_hidden} hidden "
                             f"layers (embeddings + {encoder.n_layers}); give at most {n_hidden}")
        self.encoder = encoder.eval()
        for p in self.encoder.parameters():
            p.requires_grad = False
        self.layers, self.keep_layers = layers, keep_layers
        self.dim = encoder.output_dim
        self.cache: dict[tuple[str, ...], torch.Tensor] = {}
        self.n_cached = 0

    def precompute(self, sentences: Sequence[Sequence[str]], device: torch.device) -> None:
        self.vectors(sentences, device)

    def vectors(self, sentences: Sequence[Sequence[str]], device: torch.device) -> torch.Tensor:
        """``[B, W, layers, H]`` (``keep_layers``) or ``[B, W, H]`` (the mean of the layers), float32 on the CPU."""
        keys = [tuple(s) for s in sentences]
        todo = sorted({k for k in keys if k not in self.cache and k}, key=len)
        fresh: dict[tuple[str, ...], torch.Tensor] = {}
        for i in range(0, len(todo), EXTRACT_BATCH):
            chunk = todo[i: i + EXTRACT_BATCH]
            for k, v in zip(chunk, self._compute(chunk, device)):
                if self.n_cached + v.numel() <= CACHE_LIMIT:
                    self.cache[k] = v
                    self.n_cached += v.numel()
                else:
                    fresh[k] = v
        tail = (self.layers, self.dim) if self.keep_layers else (self.dim,)
        out = torch.zeros(len(keys), max((len(k) for k in keys), default=0), *tail)  # [B, W, (layers,) H]
        for b, k in enumerate(keys):
            if k:
                out[b, : len(k)] = (self.cache.get(k) if k in self.cache else fresh[k]).float()
        return out

    @torch.no_grad()
    def _compute(self, sentences: Sequence[Sequence[str]], device: torch.device) -> list[torch.Tensor]:
        enc = self.encoder.to(device)
        inputs = {k: v.to(device) for k, v in enc.collate(sentences).items()}  # windows, as for `train`
        out = enc.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                        output_hidden_states=True)
        hidden = torch.stack(out.hidden_states[-self.layers:], dim=2)  # [n_win, L, layers, H]
        flat = hidden.reshape(-1, self.layers, hidden.shape[-1])  # [n_win * L, layers, H]
        words = flat[inputs["first_index"]].float()  # [B, W, layers, H]: each word's first piece
        if not self.keep_layers:
            words = words.mean(dim=2)  # [B, W, H]
        return [words[b, : len(s)].to("cpu", torch.float16) for b, s in enumerate(sentences)]


def load_frozen(cfg: FeaturesEncoderConfig, option: str) -> tuple[FrozenFeatures, dict[str, Any]]:
    """The frozen transformer of ``cfg`` (resolved, its transliteration and adapter applied as by ``train``) and the
    config fields it fills in (the model as an absolute path or hub id, adapter, base model, scheme, size)."""
    spec = resolve_model(cfg.model, purpose="encoder", option=option)
    if spec.kind != "hub":
        spec = replace(spec, spec=str(Path(spec.location).resolve()))  # evaluate/predict may run elsewhere
    if spec.adapter and cfg.base_model:
        spec = replace(spec, base_model=cfg.base_model)  # the base recorded at training time
    with torch.random.fork_rng(devices=[]):  # loading may initialise unused weights: leave the BiLSTM's seed alone
        enc = TransformerEncoder.build({"model": spec, "translit": cfg.translit, "max_length": cfg.max_length,
                                        "allow_causal": cfg.allow_causal})
    c = enc.config
    frozen = FrozenFeatures(enc, cfg.layers, keep_layers=cfg.mix == "scalar")
    filled = {"model": spec.spec, "translit": c.get("translit"), "adapter": c.get("adapter"),
              "base_model": c.get("base_model"), "n_features": enc.output_dim, "layers": frozen.layers}
    return frozen, filled


def _extraction_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


@register_encoder("features")
class FeaturesWordEncoder(WordEncoder):
    """Word encoder ``"features"``: ``collate`` adds the frozen vectors (``"features"``) to the BiLSTM's inputs;
    ``forward`` mixes them and hands them to the BiLSTM as its extra input."""

    def __init__(self, config: FeaturesEncoderConfig, bilstm: BiLSTMWordEncoder, frozen: FrozenFeatures):
        super().__init__()
        self.hparams = config
        self.bilstm = bilstm
        self.frozen = frozen
        self.mix = ScalarMix(frozen.layers) if config.mix == "scalar" else None
        self.output_dim = bilstm.output_dim

    # ---- the WordEncoder contract ---------------------------------------------------------------------------
    @classmethod
    def build(cls, config: dict, train_words: Sequence[Sequence[str]]) -> "FeaturesWordEncoder":
        """Load the frozen model, build the BiLSTM with room for its vectors, and compute the training sentences'
        vectors now (so that the first epoch, which plans a time budget, runs at the speed of the others)."""
        hp = FeaturesEncoderConfig.from_dict(config)
        frozen, filled = load_frozen(hp, "--embeddings")
        hp = replace(hp, **filled)
        bilstm = BiLSTMWordEncoder.build({**hp.bilstm, "kind": "bilstm", "extra_dim": frozen.dim}, train_words)
        hp = replace(hp, bilstm={k: v for k, v in bilstm.config.items() if k != "kind"})
        encoder = cls(hp, bilstm, frozen)
        frozen.precompute(train_words, _extraction_device())
        return encoder

    @property
    def config(self) -> dict:
        return {**self.hparams.to_dict(), "bilstm": {k: v for k, v in self.bilstm.config.items() if k != "kind"}}

    def prepare(self, words: Sequence[Sequence[str]]) -> None:
        """The dev sentences' vectors, before the timed epochs."""
        self.frozen.precompute(words, next(self.bilstm.parameters()).device)

    def pretrained_parameters(self) -> set[str]:
        return set()  # the pretrained model is frozen; what trains here is trained from scratch

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        self.bilstm.save(directory / BILSTM_DIR)
        if self.mix is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.mix.state_dict().items()},
                      str(directory / MIX_FILE))

    @classmethod
    def load(cls, config: dict, directory: Path) -> "FeaturesWordEncoder":
        from adaptlang.engine.checkpoint import load_tensors

        hp = FeaturesEncoderConfig.from_dict(config)
        frozen, _ = load_frozen(hp, "the embedding model recorded in config.json")
        if frozen.dim != hp.n_features:
            raise ModelError(f"{hp.model}: vectors of size {frozen.dim}, but the parser was trained on "
                             f"{hp.n_features}; the recorded model was replaced")
        bilstm = BiLSTMWordEncoder.load({**hp.bilstm, "kind": "bilstm"}, directory / BILSTM_DIR)
        encoder = cls(hp, bilstm, frozen)
        if encoder.mix is not None:
            encoder.mix.load_state_dict(load_tensors(directory / MIX_FILE))
        return encoder

    # ---- text -> tensors -> word vectors --------------------------------------------------------------------
    def collate(self, words: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
        inputs = self.bilstm.collate(words)
        device = next(self.bilstm.parameters()).device
        inputs["features"] = self.frozen.vectors(words, device)  # [B, W, (layers,) H]
        return inputs

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        feats = inputs["features"]
        if self.mix is not None:
            feats = self.mix(feats.unbind(dim=2))  # [B, W, H]
        return self.bilstm({**inputs, "extra": feats})

