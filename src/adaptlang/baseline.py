"""The from-scratch baseline: a character + word BiLSTM tagger and biaffine parser (``adaptlang baseline``).

A language's category is judged against this baseline, which uses no pretrained model. It is the shared tagger and
parser of :mod:`adaptlang.tasks` with the ``"bilstm"`` word encoder (:mod:`adaptlang.models.bilstm`) in place of a
transformer: same heads, MST decoding, label vocabularies, training loop, checkpoint format and evaluation, so
``adaptlang evaluate`` and ``adaptlang predict`` work on a baseline model unchanged.

Optional word embeddings from a raw corpus (``corpus``): either a fastText-format ``.vec`` text file, or plain text
on which a small skip-gram model is trained here (:func:`corpus_embeddings`).
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from adaptlang.data.lexicon import normalize_word
from adaptlang.data.text import iter_lines
from adaptlang.errors import InputError

if TYPE_CHECKING:
    from adaptlang.tasks import TrainConfig, TrainResult

# ================================================================================================================
# Corpus embeddings
# ================================================================================================================

# The patterns are compiled on first use: the CLI imports this module at start-up for BaselineConfig's defaults.
@functools.cache
def _token_pattern() -> Any:
    """Raw-text tokens: runs of letters/marks/digits (with inner apostrophes and hyphens), or single other symbols."""
    import regex

    return regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’\-][\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}]")


@functools.cache
def _vec_header_pattern() -> Any:
    """The optional first line ``<n_words> <dim>`` of a fastText/word2vec text file."""
    import regex

    return regex.compile(r"^\s*(\d+)\s+(\d+)\s*$")


@dataclass(frozen=True)
class EmbeddingConfig:
    """Skip-gram with negative sampling on a raw corpus (word2vec's recipe, trained by gensim on one CPU thread)."""

    dim: int = 100
    window: int = 5  # largest window; each center word draws its own in 1..window
    negatives: int = 5
    min_count: int = 2
    max_words: int = 100_000
    epochs: int = 5
    max_tokens: int = 2_000_000  # corpus tokens read (the rest is ignored)
    lr: float = 0.025  # initial SGD rate (word2vec's), decayed linearly over the epochs
    batch_size: int = 10_000  # words per gensim training job (the learning rate steps down once per job)
    sample: float = 1e-4  # word2vec's t: a token of relative frequency f is kept with probability sqrt(t/f) + t/f
    seed: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CorpusEmbeddings:
    """Word vectors from a corpus: ``words[i]`` has row ``i`` of ``vectors`` (a float32 tensor)."""

    words: tuple[str, ...]
    vectors: Any  # torch.Tensor [n_words, dim]
    source: str  # "vec" (read) or "skipgram" (trained here)
    n_tokens: int
    seconds: float

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "words": len(self.words), "dim": self.dim, "tokens": self.n_tokens,
                "seconds": round(self.seconds, 1)}


def tokenize_raw(line: str) -> list[str]:
    return _token_pattern().findall(line)


def is_vec_file(path: str | Path) -> bool:
    """A fastText/word2vec text file: ``.vec`` suffix, or a first line ``<n_words> <dim>``."""
    if str(path).endswith(".vec"):
        return True
    for line in iter_lines(path, encoding_errors="replace"):
        return bool(_vec_header_pattern().match(line))
    return False


def read_vec(
    path: str | Path, *, lowercase: bool = True, max_words: int = 100_000, keep: Iterable[str] = ()
) -> CorpusEmbeddings:
    """Read a fastText-format text file: optional header ``n dim``, then ``word v1 .. vdim`` per line.

    Keeps the first ``max_words`` words (such files are sorted by frequency) plus any word in ``keep`` (e.g. the
    treebank's training words); with ``lowercase``, the first vector of each lowercased form wins.
    """
    import torch

    start = time.monotonic()
    keep_set = {normalize_word(w, lowercase) for w in keep}
    words: list[str] = []
    rows: list[list[float]] = []
    seen: set[str] = set()
    dim = 0
    n = 0
    header = _vec_header_pattern()
    for lineno, line in enumerate(iter_lines(path), start=1):
        if lineno == 1 and (m := header.match(line)):
            dim = int(m.group(2))
            continue
        parts = line.rstrip().split(" ")
        if len(parts) < 2:
            if not line.strip():
                continue
            raise InputError(path, "expected 'word v1 v2 ...' (fastText .vec format)", line=lineno)
        if not dim:
            dim = len(parts) - 1
        if len(parts) - 1 != dim:
            raise InputError(path, f"{len(parts) - 1} values where {dim} were expected (fastText .vec format)",
                             line=lineno)
        n += 1
        word = normalize_word(parts[0], lowercase)
        if word in seen or (len(words) >= max_words and word not in keep_set):
            continue
        try:
            rows.append([float(v) for v in parts[1:]])
        except ValueError:
            raise InputError(path, "a vector value is not a number (fastText .vec format)", line=lineno) from None
        words.append(word)
        seen.add(word)
    if not words:
        raise InputError(path, "no word vectors found (fastText .vec format: 'word v1 v2 ...' per line)")
    return CorpusEmbeddings(tuple(words), torch.tensor(rows, dtype=torch.float32), "vec", n,
                            time.monotonic() - start)


def read_corpus_tokens(path: str | Path, *, lowercase: bool = True, max_tokens: int = 5_000_000) -> list[list[str]]:
    """Tokenised sentences of a raw UTF-8 corpus: a text file (one sentence or paragraph per line; blank lines
    skipped) or a CoNLL-U file (each sentence's ``# text``, else its FORMs), read as assess and adapt read it."""
    from adaptlang.data.corpus import iter_sentences

    lines: list[list[str]] = []
    n = 0
    for line in iter_sentences(path):
        toks = [normalize_word(t, lowercase) for t in tokenize_raw(line)]
        if toks:
            lines.append(toks)
            n += len(toks)
            if n >= max_tokens:
                break
    if not lines:
        raise InputError(path, "the corpus has no words; give raw text, one sentence per line, or a .vec file")
    return lines


def train_skipgram(
    lines: list[list[str]],
    config: EmbeddingConfig = EmbeddingConfig(),
    *,
    keep: Iterable[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> CorpusEmbeddings:
    """Skip-gram with negative sampling (Mikolov et al., 2013) by gensim's ``Word2Vec``: frequent-word subsampling,
    dynamic window, unigram^0.75 negatives, linearly decaying learning rate. One worker thread and a fixed seed make
    a run reproducible. The vocabulary is the ``max_words`` most frequent words seen ``min_count`` times, plus the
    words of ``keep`` (the treebank's) however rare."""
    import torch
    from gensim.models import Word2Vec
    from gensim.models.callbacks import CallbackAny2Vec
    from gensim.utils import RULE_DISCARD, RULE_KEEP

    start = time.monotonic()
    counts = Counter(w for line in lines for w in line)
    keep_set = set(keep)
    vocab = [w for w, c in counts.most_common() if c >= config.min_count or w in keep_set][: config.max_words]
    if len(vocab) < 2:
        vocab = [w for w, _ in counts.most_common()][: config.max_words]
    in_vocab = set(vocab)

    class _Epochs(CallbackAny2Vec):  # gensim calls it after each pass
        def __init__(self) -> None:
            self.done = 0

        def on_epoch_end(self, model: Any) -> None:
            self.done += 1
            if on_progress is not None:
                on_progress(self.done, config.epochs)

    model = Word2Vec(
        lines, vector_size=config.dim, window=config.window, negative=config.negatives, sg=1, hs=0,
        min_count=1, trim_rule=lambda word, count, min_count: RULE_KEEP if word in in_vocab else RULE_DISCARD,
        sample=config.sample, alpha=config.lr, epochs=config.epochs, batch_words=config.batch_size,
        seed=config.seed, workers=1, callbacks=[_Epochs()],
    )
    vectors = torch.from_numpy(model.wv.vectors.copy())  # [n_words, dim]
    vectors = vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=1e-6)  # unit length: comparable scales
    n_tokens = int(sum(counts.values()))
    return CorpusEmbeddings(tuple(model.wv.index_to_key), vectors.float(), "skipgram", n_tokens,
                            time.monotonic() - start)


def corpus_embeddings(
    path: str | Path,
    *,
    lowercase: bool = True,
    config: EmbeddingConfig = EmbeddingConfig(),
    keep: Iterable[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
) -> CorpusEmbeddings:
    """Word vectors for ``--corpus``: read a ``.vec`` file, or train skip-gram on raw text."""
    if is_vec_file(path):
        return read_vec(path, lowercase=lowercase, max_words=config.max_words, keep=keep)
    lines = read_corpus_tokens(path, lowercase=lowercase, max_tokens=config.max_tokens)
    return train_skipgram(lines, config, keep={normalize_word(w, lowercase) for w in keep}, on_progress=on_progress)


# ================================================================================================================
# Training
# ================================================================================================================


@dataclass(frozen=True)
class BaselineConfig:
    """A baseline run: the shared :class:`adaptlang.tasks.TrainConfig` fields plus the BiLSTM encoder's settings.

    Defaults were chosen on Wolof-WTB dev (see ``benchmarks/RESULTS.md``).
    """

    train: str
    out: str
    dev: str | None = None  # None: the last 10% of the training sentences are held out (said in the result)
    corpus: str | None = None  # raw text (skip-gram is trained on it) or a fastText .vec file
    epochs: int = 40
    seed: int = 42
    batch_size: int = 16
    lr: float = 2e-3
    warmup: float = 0.02
    weight_decay: float = 0.0
    adam_beta2: float = 0.999
    patience: int = 0  # 0: run the whole (planned) schedule; the last, low-rate epochs are often the best
    max_minutes: float | None = None
    char_model: str = "lstm"
    word_dim: int = 128
    char_dim: int = 64
    char_hidden: int = 128
    char_out: int = 128
    hidden: int = 256
    n_layers: int = 3
    dropout: float = 0.33
    word_dropout: float = 0.25
    arc_dim: int = 400
    rel_dim: int = 100
    lemmas: str = "auto"  # LEMMA head: auto, rules, copy or none (TrainConfig.lemmas, adaptlang.tasks.tags)
    tag_weight: float = 0.25  # weight of the XPOS / FEATS / lemma losses (TrainConfig.tag_weight)
    feats: str = "whole"  # FEATS as whole strings or split per feature (TrainConfig.feats)
    embedding: EmbeddingConfig = EmbeddingConfig()
    # Frozen contextual vectors (UDPipe 2 style): a pretrained model (hub id, directory, adapter, adapted model)
    # whose last `embedding_layers` layers, at each word's first piece, are a further input of the BiLSTM.
    embeddings: str | None = None
    embedding_layers: int | None = None  # None: the last 4 (all of a shallower model's)
    embedding_mix: str = "mean"  # "mean" (fixed average of the layers) or "scalar" (learned weights)
    embedding_translit: str | None = None  # a scheme applied before tokenization (default: the model's own)
    device: str = "auto"
    cpu_bf16: bool = False  # bf16 autocast on the CPU (TrainConfig.cpu_bf16)
    log_dir: str | None = None  # TensorBoard scalars
    force: bool = False
    resume: bool = False
    # donor treebanks, few-/zero-shot and character noise: TrainConfig's fields of those names (donors,
    # donor_temperature, donor_schedule, donor_translit, target_sentences, epoch_sentences, char_noise)
    transfer: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def encoder_config(self, vectors_path: str | None) -> dict[str, Any]:
        """The BiLSTM encoder's config; with ``embeddings``, the ``features`` encoder's that wraps it."""
        bilstm = {
            "kind": "bilstm", "word_dim": self.word_dim, "char_model": self.char_model, "char_dim": self.char_dim,
            "char_hidden": self.char_hidden, "char_out": self.char_out, "hidden": self.hidden,
            "n_layers": self.n_layers, "dropout": self.dropout, "word_dropout": self.word_dropout,
            "pretrained_vectors": vectors_path,
        }
        if not self.embeddings:
            return bilstm
        return {"kind": "features", "model": self.embeddings, "layers": self.embedding_layers,
                "mix": self.embedding_mix, "translit": self.embedding_translit,
                "bilstm": {k: v for k, v in bilstm.items() if k != "kind"}}

    def train_config(self, vectors_path: str | None = None) -> "TrainConfig":
        """The baseline as a preset of the shared training config: the BiLSTM encoder, one learning rate for the
        whole model (nothing is pretrained), the baseline's schedule."""
        from adaptlang.tasks import TrainConfig

        return TrainConfig(
            train=self.train, out=self.out, encoder=self.encoder_config(vectors_path), dev=self.dev,
            epochs=self.epochs, batch_size=self.batch_size, encoder_lr=self.lr, head_lr=self.lr, warmup=self.warmup,
            weight_decay=self.weight_decay, adam_beta2=self.adam_beta2, patience=self.patience, seed=self.seed,
            device=self.device, max_minutes=self.max_minutes, arc_dim=self.arc_dim, rel_dim=self.rel_dim,
            dropout=self.dropout, log_dir=self.log_dir, force=self.force, resume=self.resume, lemmas=self.lemmas,
            tag_weight=self.tag_weight, feats=self.feats, cpu_bf16=self.cpu_bf16, **self.transfer)


def _vectors_cache(out: Path) -> Path:
    """Where corpus vectors wait for training (beside the output; kept for --resume, removed on success)."""
    return out.parent / f".{out.name}.corpus-vectors.safetensors"


def train_baseline(
    config: BaselineConfig,
    progress: Any = None,
    on_corpus_progress: Callable[[int, int], None] | None = None,
) -> "TrainResult":
    """Train the from-scratch BiLSTM tagger and parser; writes a model directory that ``evaluate``/``predict`` load.

    Returns the shared :class:`adaptlang.tasks.TrainResult` (the training core's small-treebank policy applies as for
    ``train``); corpus-embedding figures are in its ``encoder`` config (``pretrained_info``). OUT is locked for the
    whole run, as by ``train``.
    """
    from adaptlang.engine.runtime import run_lock
    from adaptlang.fileio import disk_errors

    with run_lock(config.out), disk_errors(config.out):
        return _train_baseline(config, progress, on_corpus_progress)


def _train_baseline(config: BaselineConfig, progress: Any,
                    on_corpus_progress: Callable[[int, int], None] | None) -> "TrainResult":
    import torch

    from adaptlang.data.conllu import read_conllu
    from adaptlang.fileio import check_output
    from adaptlang.models.bilstm import write_vectors_file
    from adaptlang.models.specs import encoder_spec
    from adaptlang.specs import resolve_model
    from adaptlang.tasks.parse import check_train_config, run_training

    out = Path(config.out)
    check_output(out, config.force or config.resume, "pass --force to overwrite it")
    check_train_config(config.train_config())
    encoder_spec(config.encoder_config(None))  # validate the encoder options before any slow work
    if config.embeddings:  # a wrong --embeddings fails now, not after the corpus vectors
        resolve_model(config.embeddings, purpose="encoder", option="--embeddings")
    vectors_path: Path | None = None
    if config.corpus:
        vectors_path = _vectors_cache(out)
        if not (config.resume and vectors_path.exists()):
            train_forms = [w for s in read_conllu(config.train) for w in s.forms]
            torch.manual_seed(config.embedding.seed)
            emb = corpus_embeddings(config.corpus, config=config.embedding, keep=train_forms,
                                    on_progress=on_corpus_progress)
            write_vectors_file(vectors_path, emb.words, emb.vectors)
            Path(f"{vectors_path}.info.json").write_text(json.dumps({**emb.summary(), "corpus": config.corpus}),
                                                         encoding="utf-8")
    result = run_training(config.train_config(str(vectors_path) if vectors_path else None), progress)
    if vectors_path is not None:
        for p in (vectors_path, Path(f"{vectors_path}.words.json"), Path(f"{vectors_path}.info.json")):
            p.unlink(missing_ok=True)
    return result
