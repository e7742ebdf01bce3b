"""The ``transformer`` word encoder: any Hugging Face encoder (hub id, local directory, a model adapted by
``adaptlang adapt``, or a PEFT adapter directory), with first-piece or mean pooling of subwords into words, an
optional learned scalar mix of layers, and overlapping windows for sentences longer than the encoder's maximum
length (never truncated).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from adaptlang.errors import ModelError, UsageError
from adaptlang.models import WordEncoder, register_encoder
from adaptlang.specs import ModelSpec, causal_reason, quiet_transformers, resolve_model

POOLINGS = ("first", "mean")
_CACHE_LIMIT = 500_000


def parse_layer_spec(spec: str | None, n_layers: int, option: str = "--random-init") -> list[int]:
    """``"1-2,5"`` -> ``[1, 2, 5]`` (1-based transformer layers); errors name the option and the valid range."""
    if not spec:
        return []
    layers: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
            else:
                a = b = int(part)
        except ValueError:
            raise UsageError(f"{option} {spec!r}: expected layer ranges like 1-2 or 1-2,5-6") from None
        if not 1 <= a <= b <= n_layers:
            raise UsageError(f"{option} {spec!r}: layers are numbered 1 to {n_layers} for this model")
        layers.update(range(a, b + 1))
    return sorted(layers)


def load_backbone(spec: ModelSpec, trainable_adapter: bool = True, saved: bool = False) -> tuple[nn.Module, Any]:
    """Load (model, tokenizer) of a resolved encoder spec. An adapter's base is loaded with AutoModel and the adapter
    applied with PEFT; the tokenizer comes from the adapter directory when it has one (vocabulary may be extended).
    ``saved``: the encoder directory of a trained parser, whose tokenizer.json is loaded as is (see
    :func:`_saved_tokenizer`)."""
    quiet_transformers()
    from transformers import AutoModel, AutoTokenizer

    if spec.tokenizer is None:
        raise ModelError(f"{spec.option} {spec.spec}: no tokenizer files (tokenizer.json, vocab.txt, sentencepiece "
                         "model) in the model directory")
    kwargs = spec.pretrained_kwargs()
    with spec.loading():
        if spec.adapter:
            from peft import PeftModel

            assert spec.base_model is not None
            base = AutoModel.from_pretrained(spec.base_model, **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer, **kwargs)
            if len(tokenizer) > base.get_input_embeddings().weight.shape[0]:
                base.resize_token_embeddings(len(tokenizer))
            model = PeftModel.from_pretrained(base, spec.location, is_trainable=trainable_adapter)
        else:
            model = AutoModel.from_pretrained(spec.location, **kwargs)
            tokenizer = ((_saved_tokenizer(spec.tokenizer) if saved else None)
                         or AutoTokenizer.from_pretrained(spec.tokenizer, **kwargs))
    return model, tokenizer


def _saved_tokenizer(directory: str) -> Any:
    """The tokenizer a trained parser saved (``save_pretrained`` writes the pipeline it trained with to
    tokenizer.json), loaded as is: the same pieces as AutoTokenizer, which rebuilds the pipeline from the vocabulary
    (about 1.5 s of ``predict``'s start-up for a 250k-piece XLM-R vocabulary). None without a tokenizer.json."""
    if not (Path(directory) / "tokenizer.json").is_file():
        return None
    from transformers import PreTrainedTokenizerFast

    added = saved_added_tokens(Path(directory))
    return PreTrainedTokenizerFast.from_pretrained(directory, **({} if added is None else
                                                                 {"added_tokens_decoder": added}))


def saved_added_tokens(directory: Path) -> dict[int, Any] | None:
    """The added tokens of ``directory/tokenizer.json``, read from the head of the file, when its
    tokenizer_config.json does not list them (as transformers 5 saves it). transformers would otherwise parse the
    whole tokenizer.json in Python to find them (0.3 s of CPU for a 17 MB XLM-R vocabulary) before its Rust
    library parses it again. None (transformers then looks itself) when the config lists them, when older files
    (special_tokens_map.json, added_tokens.json) are there, or when the list is not the ``"added_tokens": [...]``
    that the tokenizers library writes before the vocabulary."""
    import json

    from tokenizers import AddedToken

    if any((directory / name).exists() for name in ("special_tokens_map.json", "added_tokens.json")):
        return None  # an older save: transformers merges these files on the same path, so let it read them all
    try:
        if "added_tokens_decoder" in json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8")):
            return None
    except (OSError, ValueError):
        return None
    text = (directory / "tokenizer.json").read_text(encoding="utf-8")
    key = text.find('"added_tokens"', 0, 100_000)
    start = text.find("[", key, key + 100)
    if key < 0 or start < 0 or text[key + len('"added_tokens"'): start].strip() != ":":
        return None
    try:
        items, _ = json.JSONDecoder().raw_decode(text, start)
        return {int(t.pop("id")): AddedToken(**t) for t in items}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def check_not_causal(spec: ModelSpec, hf_config: Any, allow: bool) -> None:
    """A causal LM (GPT-2 and kin) sees only the left context of each word: a poor parser encoder. Refuse it
    unless ``allow`` (``--allow-causal``). Hub ids are checked here, once their config is loaded."""
    reason = spec.causal or (causal_reason(hf_config.to_dict()) if hf_config is not None else None)
    if reason and not allow:
        raise UsageError(f"{spec.option} {spec.spec} is a causal language model ({reason}): its states see only the "
                         "words to their left; give an encoder such as mBERT or XLM-R, or pass --allow-causal")


def _base(model: nn.Module) -> nn.Module:
    """The plain transformers model inside a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    base = _base(model)
    for path in ("encoder.layer", "encoder.layers", "layers", "transformer.layer", "layer"):
        obj: Any = base
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ModelError(f"cannot find the transformer layers of {type(base).__name__} (for --random-init/--freeze-layers)")


class ScalarMix(nn.Module):
    """Softmax-weighted sum of all hidden layers, times a learned scale (Peters et al. 2018)."""

    def __init__(self, n_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, layers: Sequence[torch.Tensor]) -> torch.Tensor:
        w = self.weights.softmax(0)
        return self.gamma * sum(w[i] * h for i, h in enumerate(layers))


@register_encoder("transformer")
class TransformerEncoder(WordEncoder):
    """Config keys: ``model`` (spec given by the user), ``pooling`` (first|mean), ``scalar_mix`` (bool),
    ``random_init`` / ``freeze_layers`` (layer specs like ``"1-2,5"``), ``freeze_embeddings`` (bool), ``translit``
    (scheme name or null, from the model's ``adaptlang.json``), ``max_length`` (pieces per window incl. special
    tokens; default: the model's), ``adapter`` and ``base_model`` (PEFT adapters), ``allow_causal`` (bool: accept a
    causal LM such as GPT-2, refused by default)."""

    def __init__(self, model: nn.Module, tokenizer: Any, config: dict[str, Any]):
        super().__init__()
        pooling = config.get("pooling", "first")
        if pooling not in POOLINGS:
            raise UsageError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        self.model = model
        self.tokenizer = tokenizer
        self._config = dict(config)
        hf_config = _base(model).config
        self.output_dim = int(hf_config.hidden_size)
        self.n_layers = int(hf_config.num_hidden_layers)
        self.mix = ScalarMix(self.n_layers + 1) if config.get("scalar_mix") else None
        self.max_length = self._max_length(config.get("max_length"))
        self._cache: dict[str, tuple[list[int], int]] = {}
        self.cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
        self.sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.pad_id
        # SentencePiece / byte-BPE tokenizers often split an isolated word into a bare word-boundary piece plus the
        # rest ("." -> "▁", "."); that piece says nothing about the word, so first-piece pooling skips it.
        self._boundary_ids = {i for i in tokenizer.convert_tokens_to_ids(["▁", "Ġ"])
                              if i is not None and i != self.unk_id}
        self._transliterate = None
        from adaptlang.translit.choice import recorded_scheme

        scheme = recorded_scheme(config.get("translit"))
        if scheme is not None:
            from adaptlang.translit import get_transliterator

            self._transliterate = get_transliterator(scheme).transliterate

    # ---- construction --------------------------------------------------------------------------------------
    @classmethod
    def build(cls, config: dict, train_words: Sequence[Sequence[str]] = ()) -> "TransformerEncoder":
        """``config["model"]`` is a model string (resolved here) or a resolved :class:`ModelSpec`."""
        config = dict(config)
        spec = resolve_model(config["model"], purpose="encoder")
        config["model"] = spec.spec
        config["adapter"] = spec.adapter
        config["base_model"] = spec.base_model if spec.adapter else None
        config.setdefault("translit", None)
        if spec.translit and not config["translit"]:
            config["translit"] = spec.translit
        elif spec.translit and config["translit"] == "strip-diacritics":  # --strip-diacritics, then the model's scheme
            config["translit"] = f"strip-diacritics+{spec.translit}"
        allow_causal = bool(config.get("allow_causal"))
        check_not_causal(spec, None, allow_causal)  # before reading weights, when config.json tells
        if config.get("language_adapters"):  # MAD-X: frozen language adapter(s) merged in, a task LoRA on top
            from adaptlang.models.adapters import build_stacked

            model, tokenizer, config = build_stacked(spec, config)
        else:
            model, tokenizer = load_backbone(spec)
        check_not_causal(spec, _base(model).config, allow_causal)  # hub ids: once their config is loaded
        enc = cls(model, tokenizer, config)
        enc._apply_layer_options()
        return enc

    def _apply_layer_options(self) -> None:
        cfg = self._config
        layers = transformer_layers(self.model) if (cfg.get("random_init") or cfg.get("freeze_layers")) else None
        base = _base(self.model)
        for i in parse_layer_spec(cfg.get("random_init"), self.n_layers, "--random-init"):
            layer = layers[i - 1]  # type: ignore[index]
            for p in layer.parameters():  # loaded weights are flagged as initialised; the initialiser skips those
                if hasattr(p, "_is_hf_initialized"):
                    p._is_hf_initialized = False
            for m in layer.modules():
                if hasattr(m, "_is_hf_initialized"):
                    m._is_hf_initialized = False
            layer.apply(base._init_weights)
        if cfg.get("freeze_embeddings"):
            for p in base.get_input_embeddings().parameters():
                p.requires_grad = False
            emb = getattr(base, "embeddings", None)
            if isinstance(emb, nn.Module):
                for p in emb.parameters():
                    p.requires_grad = False
        for i in parse_layer_spec(cfg.get("freeze_layers"), self.n_layers, "--freeze-layers"):
            for p in layers[i - 1].parameters():  # type: ignore[index]
                p.requires_grad = False

    def _max_length(self, requested: int | None) -> int:
        hf_config = _base(self.model).config
        limit = int(getattr(hf_config, "max_position_embeddings", 512) or 512)
        if getattr(hf_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"):
            limit -= 2  # position ids start after the padding index
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and 0 < tok_max < limit:
            limit = tok_max
        if requested is not None:
            if requested < 4:
                raise UsageError("max_length must be at least 4 pieces")
            limit = min(limit, int(requested))
        return limit

    @property
    def config(self) -> dict:
        return dict(self._config)

    def pretrained_parameters(self) -> set[str]:
        if self._config.get("language_adapters"):  # only the fresh task adapter trains: at the heads' rate
            return set()
        return {f"model.{n}" for n, _ in self.model.named_parameters()}

    # ---- persistence --------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)  # a PEFT model saves its adapter only
        self.tokenizer.save_pretrained(directory)
        if self.mix is not None:
            from safetensors.torch import save_file

            save_file({k: v.detach().cpu().contiguous() for k, v in self.mix.state_dict().items()},
                      str(directory / "scalar_mix.safetensors"))

    @classmethod
    def load(cls, config: dict, directory: Path) -> "TransformerEncoder":
        spec = resolve_model(str(directory), purpose="encoder", option="encoder directory")
        if spec.adapter and config.get("base_model"):  # the base recorded at training time
            spec = replace(spec, base_model=config["base_model"])
        if config.get("language_adapters"):
            from adaptlang.models.adapters import load_stacked

            model, tokenizer = load_stacked(config, directory)
        else:
            model, tokenizer = load_backbone(spec, saved=not spec.adapter)
        enc = cls(model, tokenizer, config)
        if enc.mix is not None:
            from adaptlang.engine.checkpoint import load_tensors

            enc.mix.load_state_dict(load_tensors(directory / "scalar_mix.safetensors"))
        for name, p in enc.named_parameters():  # (the base under language adapters stays frozen)
            p.requires_grad = not config.get("language_adapters") or "lora_" in name or not name.startswith("model.")
        return enc

    # ---- featurisation ------------------------------------------------------------------------------------
    def word_pieces(self, word: str) -> tuple[list[int], int]:
        """The word's piece ids and the position of the piece that represents it for first-piece pooling."""
        cached = self._cache.get(word)
        if cached is None:
            text = word
            if self._transliterate is not None:
                text = self._transliterate(word) or word
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] or [self.unk_id]
            first = 1 if len(ids) > 1 and ids[0] in self._boundary_ids else 0
            cached = (ids, first)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[word] = cached
        return cached

    def _windows(self, n_pieces: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Windows ``(start, end)`` over the pieces, and for each piece ``(window, position in window)``.

        Windows overlap by half; each piece is read from the window where it has the most context on both sides.
        """
        size = self.max_length - 2  # room for CLS/SEP
        if n_pieces <= size:
            return [(0, n_pieces)], [(0, p + 1) for p in range(n_pieces)]
        stride = max(1, size // 2)
        starts = list(range(0, n_pieces - size, stride)) + [n_pieces - size]
        windows = [(s, s + size) for s in starts]
        where = []
        for p in range(n_pieces):
            best = max((min(p - s, e - 1 - p), w) for w, (s, e) in enumerate(windows) if s <= p < e)
            w = best[1]
            where.append((w, p - windows[w][0] + 1))
        return windows, where

    def collate(self, words: Sequence[Sequence[str]],
                split: Callable[[list[int]], list[int]] | None = None) -> dict[str, torch.Tensor]:
        """``split``: training-time subword noise, a word's pieces -> other pieces of the same word
        (:class:`adaptlang.data.noise.PieceSplitter`)."""
        n_batch = len(words)
        n_words = max(len(s) for s in words)
        window_ids: list[list[int]] = []
        flat_pieces: list[list[int]] = []  # per sentence: flat index (window * L + position) of every piece
        piece_words: list[list[int]] = []
        first: list[list[int]] = []
        for sent in words:
            pieces: list[int] = []
            owner: list[int] = []
            starts: list[int] = []
            for w, form in enumerate(sent):
                ids, first_offset = self.word_pieces(form)
                if split is not None:
                    ids = split(ids)
                    first_offset = 1 if len(ids) > 1 and ids[0] in self._boundary_ids else 0
                starts.append(len(pieces) + first_offset)
                pieces.extend(ids)
                owner.extend([w] * len(ids))
            windows, where = self._windows(len(pieces))
            base = len(window_ids)
            for s, e in windows:
                window_ids.append([self.cls_id] + pieces[s:e] + [self.sep_id])
            flat_pieces.append([(base + w, pos) for w, pos in where])  # type: ignore[misc]
            piece_words.append(owner)
            first.append(starts)
        length = max(len(x) for x in window_ids)
        input_ids = torch.full((len(window_ids), length), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(window_ids), length), dtype=torch.long)
        for i, ids in enumerate(window_ids):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
        n_pieces = max(len(x) for x in piece_words)
        piece_index = torch.zeros((n_batch, n_pieces), dtype=torch.long)
        piece_word = torch.full((n_batch, n_pieces), n_words, dtype=torch.long)
        first_index = torch.zeros((n_batch, n_words), dtype=torch.long)
        word_mask = torch.zeros((n_batch, n_words), dtype=torch.bool)
        for b in range(n_batch):
            flat = [w * length + pos for w, pos in flat_pieces[b]]  # type: ignore[misc]
            piece_index[b, : len(flat)] = torch.tensor(flat)
            piece_word[b, : len(flat)] = torch.tensor(piece_words[b])
            first_index[b, : len(first[b])] = torch.tensor([flat[i] for i in first[b]])
            word_mask[b, : len(first[b])] = True
        return {"input_ids": input_ids, "attention_mask": attention, "piece_index": piece_index,
                "piece_word": piece_word, "first_index": first_index, "word_mask": word_mask}

    # ---- forward ------------------------------------------------------------------------------------------
    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                         output_hidden_states=self.mix is not None)
        hidden = self.mix(out.hidden_states) if self.mix is not None else out.last_hidden_state  # [n_win, L, H]
        flat = hidden.reshape(-1, hidden.shape[-1])  # [n_win * L, H]
        mask = inputs["word_mask"]
        if self._config.get("pooling", "first") == "first":
            words = flat[inputs["first_index"]]  # [batch, n_words, H]
        else:
            pieces = flat[inputs["piece_index"]]  # [batch, n_pieces, H]
            n_batch, n_words = mask.shape
            index = inputs["piece_word"].unsqueeze(-1).expand(-1, -1, pieces.shape[-1])
            sums = pieces.new_zeros(n_batch, n_words + 1, pieces.shape[-1]).scatter_add_(1, index, pieces)
            counts = pieces.new_zeros(n_batch, n_words + 1).scatter_add_(
                1, inputs["piece_word"], pieces.new_ones(inputs["piece_word"].shape))
            words = sums[:, :n_words] / counts[:, :n_words].clamp(min=1).unsqueeze(-1)
        return words, mask
