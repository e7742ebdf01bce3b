"""Centered kernel alignment (CKA) between the hidden states of parallel sentences, layer by layer.

For each layer of an encoder (0 = the embedding output, 1..L = the transformer layers) every sentence is
represented by the mean of its subword vectors (real tokens only: no padding, no special tokens). With ``X`` the
``[n_sentences, hidden]`` matrix of the source sentences and ``Y`` that of their translations, linear CKA is

    CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)        (Xc, Yc: column-centred)

(Kornblith et al., ICML 2019), the similarity measure of the cross-lingual analysis of Muller et al. (EACL 2021).
RBF CKA replaces the linear kernel by a Gaussian one of bandwidth ``sigma * median distance``.

The numeric part (:func:`linear_cka`, :func:`rbf_cka`) is plain numpy; torch and transformers are imported inside
:func:`hidden_state_means` only.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from adaptlang.errors import InputError, UsageError
from adaptlang.specs import ModelSpec, parser_encoder_config, resolve_model

# ---------------------------------------------------------------------------------------------------------------
# CKA itself (numpy, float64)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same ``n`` examples: ``x`` [n, d1], ``y`` [n, d2].

    Feature-space form (cheap when ``d << n``); equals HSIC(XX^T, YY^T) / sqrt(HSIC(XX^T, XX^T) HSIC(YY^T, YY^T)).
    Returns NaN when either representation is constant (no variance to compare).
    """
    x, y = _check_pair(x, y)
    xc = x - x.mean(axis=0, keepdims=True)  # [n, d1]
    yc = y - y.mean(axis=0, keepdims=True)  # [n, d2]
    cross = np.linalg.norm(yc.T @ xc, "fro") ** 2  # ||Yc^T Xc||_F^2
    norm_x = np.linalg.norm(xc.T @ xc, "fro")
    norm_y = np.linalg.norm(yc.T @ yc, "fro")
    if norm_x == 0.0 or norm_y == 0.0:
        return float("nan")
    return float(cross / (norm_x * norm_y))


def rbf_gram(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian kernel matrix [n, n] with bandwidth ``sigma`` times the median pairwise distance."""
    sq_norms = np.sum(x * x, axis=1)  # [n]
    sq_dist = np.maximum(sq_norms[:, None] + sq_norms[None, :] - 2.0 * (x @ x.T), 0.0)  # [n, n]
    median = float(np.median(sq_dist))
    if median == 0.0:
        return np.ones_like(sq_dist)
    return np.exp(-sq_dist / (2.0 * sigma * sigma * median))


def gram_cka(k: np.ndarray, l: np.ndarray) -> float:
    """CKA of two kernel matrices [n, n] over the same examples (biased HSIC estimator, as in Kornblith et al.)."""
    kc = _center_gram(k)
    lc = _center_gram(l)
    hsic_kl = float(np.sum(kc * lc))
    den = float(np.sqrt(np.sum(kc * kc) * np.sum(lc * lc)))
    return hsic_kl / den if den > 0.0 else float("nan")


def hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:
    """Unbiased HSIC estimator of Song et al. (JMLR 2012) for kernel matrices [n, n] (n > 3):

    ``(tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1) / (n(n-3))``, with K~, L~ the kernels with a zero
    diagonal. Unlike the biased estimator, it does not make unrelated representations look similar when the
    number of examples is small next to their dimension.
    """
    n = k.shape[0]
    if n < 4:
        raise ValueError("the unbiased HSIC estimator needs at least 4 examples")
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    trace = float(np.sum(k * l))  # tr(K~ L~) for symmetric matrices
    sums = float(k.sum()) * float(l.sum()) / ((n - 1) * (n - 2))
    cross = 2.0 / (n - 2) * float(k.sum(axis=0) @ l.sum(axis=1))  # 1'K~L~1
    return (trace + sums - cross) / (n * (n - 3))


def debiased_gram_cka(k: np.ndarray, l: np.ndarray) -> float:
    """CKA from the unbiased HSIC estimator (Kornblith et al.'s ``debiased`` option)."""
    kk, ll = hsic_unbiased(k, k), hsic_unbiased(l, l)
    if kk <= 0.0 or ll <= 0.0:
        return float("nan")
    return hsic_unbiased(k, l) / float(np.sqrt(kk * ll))


def rbf_cka(x: np.ndarray, y: np.ndarray, sigma: float = 1.0) -> float:
    """CKA with Gaussian kernels (bandwidth ``sigma`` x median distance, computed per representation)."""
    x, y = _check_pair(x, y)
    if sigma <= 0:
        raise UsageError(f"--rbf-sigma must be > 0, not {sigma}")
    return gram_cka(rbf_gram(x, sigma), rbf_gram(y, sigma))


def _center_gram(k: np.ndarray) -> np.ndarray:
    """H K H with H = I - 11^T/n, without forming H."""
    return k - k.mean(axis=0, keepdims=True) - k.mean(axis=1, keepdims=True) + k.mean()


def _check_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"CKA needs 2-D matrices [n, d], got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same examples on both sides, got {x.shape[0]} and {y.shape[0]} rows")
    if x.shape[0] < 2:
        raise ValueError("CKA needs at least 2 examples")
    return x, y


def _linear_gram(x: np.ndarray) -> np.ndarray:
    return x @ x.T


# Kernel registry: name -> function(x, y, sigma) -> float (biased HSIC, as in Kornblith et al. by default) ...
KERNELS: dict[str, Callable[[np.ndarray, np.ndarray, float], float]] = {
    "linear": lambda x, y, sigma: linear_cka(x, y),
    "rbf": lambda x, y, sigma: rbf_cka(x, y, sigma),
}
# ... and name -> kernel matrix [n, n], for the debiased estimator.
GRAMS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "linear": lambda x, sigma: _linear_gram(np.asarray(x, dtype=np.float64)),
    "rbf": lambda x, sigma: rbf_gram(np.asarray(x, dtype=np.float64), sigma),
}


def get_kernel(name: str, debiased: bool = False) -> Callable[[np.ndarray, np.ndarray, float], float]:
    if name not in KERNELS:
        raise UsageError(f"unknown kernel {name!r}; valid kernels: {', '.join(KERNELS)}")
    if not debiased:
        return KERNELS[name]
    gram = GRAMS[name]

    def cka(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
        x, y = _check_pair(x, y)
        return debiased_gram_cka(gram(x, sigma), gram(y, sigma))

    return cka


# ---------------------------------------------------------------------------------------------------------------
# Parallel sentences from CoNLL-U files


@dataclass(frozen=True)
class Sentence:
    sent_id: str | None
    text: str
    line: int  # line number of the sentence's first line in its file


def read_sentence_texts(path: str | os.PathLike) -> list[Sentence]:
    """The sentences of a CoNLL-U file with their ``sent_id`` and text.

    Read (and checked, with line numbers) by :func:`adaptlang.data.conllu.iter_conllu`. The text is the ``# text``
    comment when present, else the surface forms rebuilt from the token lines (multiword tokens count once,
    ``SpaceAfter=No`` honoured).
    """
    from adaptlang.data.conllu import iter_conllu

    sentences = [
        Sentence(s.sent_id, s.text if s.text is not None else surface_text(s.lines), s.first_line)
        for s in iter_conllu(path)
    ]
    if not sentences:
        raise InputError(path, "no sentences found; give a CoNLL-U file")
    return sentences


def surface_text(lines: Sequence[str]) -> str:
    """The text of a sentence's token lines (see :func:`adaptlang.data.conllu.surface_text`)."""
    from adaptlang.data.conllu import surface_text as rebuild

    return rebuild(line.split("\t") for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True)
class ParallelPairs:
    source: tuple[str, ...]
    target: tuple[str, ...]
    aligned_by: str  # "sent_id" or "order"
    n_source_unmatched: int
    n_target_unmatched: int


def align_parallel(source: Sequence[Sentence], target: Sequence[Sentence], target_path: str = "target") -> ParallelPairs:
    """Pair translations by ``sent_id`` when both files have unique ids for every sentence, else by order."""
    src_ids = [s.sent_id for s in source]
    tgt_ids = [s.sent_id for s in target]
    ids_usable = (
        None not in src_ids and None not in tgt_ids
        and len(set(src_ids)) == len(src_ids) and len(set(tgt_ids)) == len(tgt_ids)
    )
    if ids_usable:
        by_id = {s.sent_id: s for s in target}
        pairs = [(s.text, by_id[s.sent_id].text) for s in source if s.sent_id in by_id]
        if len(pairs) < 2:
            raise InputError(
                target_path, f"shares {len(pairs)} sent_id(s) with the source; give the same sentences in both files"
            )
        return ParallelPairs(
            tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), "sent_id",
            len(source) - len(pairs), len(target) - len(pairs),
        )
    if len(source) != len(target):
        raise InputError(
            target_path,
            f"has {len(target)} sentences but the source has {len(source)}, and sent_ids cannot pair them "
            "(missing or repeated); give parallel files",
        )
    return ParallelPairs(tuple(s.text for s in source), tuple(s.text for s in target), "order", 0, 0)


# ---------------------------------------------------------------------------------------------------------------
# Encoders and their hidden states


@dataclass(frozen=True)
class EncoderInfo:
    path: str
    kind: str  # "hf" (Hugging Face model directory) or "peft" (adapter applied to its base)
    n_layers: int
    hidden_size: int
    translit: str | None  # transliteration scheme the model expects (from adaptlang.json), applied to all text


def load_encoder(model: "str | os.PathLike[str] | ModelSpec", option: str = "--model") -> tuple[Any, Any, EncoderInfo]:
    """Load ``(model, tokenizer, info)`` of an encoder (a model string, resolved here, or a resolved spec): a model
    directory or hub id, an adapter (merged into its base), or a parser trained by ``adaptlang train`` (its
    fine-tuned encoder)."""
    from adaptlang.models.transformer import load_backbone

    spec = resolve_model(model, purpose="analysis", option=option)
    translit = spec.translit
    if spec.kind == "trained-parser":
        assert spec.encoder is not None  # resolve_model refuses other trained parsers for "analysis"
        check_not_over_language_adapters(spec.location, spec.option)
        spec = spec.encoder
    hf_model, tokenizer = load_backbone(spec, trainable_adapter=False)
    if spec.adapter:
        with spec.loading():
            hf_model = hf_model.merge_and_unload()
    hf_model.eval()
    cfg = hf_model.config
    info = EncoderInfo(
        path=spec.location, kind="peft" if spec.adapter else "hf",
        n_layers=int(getattr(cfg, "num_hidden_layers", 0)), hidden_size=int(getattr(cfg, "hidden_size", 0)),
        translit=translit,
    )
    return hf_model, tokenizer, info


def check_not_over_language_adapters(parser: str, option: str = "--model") -> None:
    """Refuse a parser trained over frozen language adapters: its saved encoder is the task adapter alone, so its
    layers without the language adapters under it would measure a model that was never trained or used."""
    encoder = parser_encoder_config(parser)
    adapters = encoder.get("language_adapters")
    if adapters:
        base = encoder.get("base_model") or "its base model"
        raise UsageError(f"{option} {parser} is a parser trained over language adapters ({', '.join(adapters)}); "
                         f"give {option} BASE (e.g. {base}) or {option} ADAPTER (a language adapter: merged into "
                         "its base) to compare layers with")


def hidden_state_means(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    max_length: int = 256,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Mean-pooled hidden states of every layer: ``([n_layers + 1, n_texts, hidden], n_truncated)``.

    Pools over real tokens only (attention mask, minus special tokens such as [CLS]/[SEP]); a text with no real
    token (empty) falls back to its special tokens. Texts are batched by length to limit padding.
    ``progress(n)`` is called with the number of texts done after each batch.
    """
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: np.ndarray | None = None
    n_truncated = 0
    done = 0
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            batch = [texts[i] for i in idx]
            enc = tokenizer(
                batch, padding=True, truncation=True, max_length=max_length,
                return_special_tokens_mask=True, return_tensors="pt",
            )
            full = tokenizer(batch, add_special_tokens=True, truncation=False)["input_ids"]
            n_truncated += sum(len(ids) > max_length for ids in full)
            special = enc.pop("special_tokens_mask")  # [batch, seq]
            attn = enc["attention_mask"]  # [batch, seq]
            outputs = model(**enc, output_hidden_states=True, return_dict=True)
            hidden = torch.stack(outputs.hidden_states, dim=0).to(torch.float64)  # [n_layers+1, batch, seq, hidden]
            real = attn.bool() & ~special.bool()  # [batch, seq]
            empty = real.sum(dim=1) == 0
            real[empty] = attn.bool()[empty]
            weights = real.to(torch.float64)  # [batch, seq]
            sums = torch.einsum("lbsh,bs->lbh", hidden, weights)  # [n_layers+1, batch, hidden]
            means = sums / weights.sum(dim=1).clamp(min=1.0)[None, :, None]
            if out is None:
                out = np.zeros((hidden.shape[0], len(texts), hidden.shape[-1]), dtype=np.float64)
            out[:, idx, :] = means.numpy()
            done += len(idx)
            if progress is not None:
                progress(done)
    if out is None:
        raise InputError("<input>", "no sentences to encode")
    return out, n_truncated


# ---------------------------------------------------------------------------------------------------------------
# The analysis


@dataclass(frozen=True)
class CkaConfig:
    model: str
    source: str
    targets: tuple[str, ...]
    model_after: str | None = None
    kernel: str = "linear"
    debiased: bool = False  # unbiased HSIC estimator (fair on small samples)
    rbf_sigma: float = 1.0
    max_sentences: int | None = None  # first N aligned pairs (None = all)
    batch_size: int = 32
    max_length: int = 256
    control: bool = True  # also score mismatched pairs (targets shuffled)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


@dataclass(frozen=True)
class CkaCurve:
    model: str
    role: str  # "before" (the --model) or "after" (the --model-after)
    target: str
    n_sentences: int
    aligned_by: str
    scores: tuple[float, ...]  # one per layer, index 0 = embedding output
    # The same with the target sentences shuffled (mismatched pairs): the level that owes nothing to translation.
    control: tuple[float, ...] = ()

    @property
    def peak_layer(self) -> int:
        finite = [(s, i) for i, s in enumerate(self.scores) if not np.isnan(s)]
        return max(finite)[1] if finite else -1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["scores"] = [None if np.isnan(s) else round(s, 6) for s in self.scores]
        d["control"] = [None if np.isnan(s) else round(s, 6) for s in self.control]
        d["peak_layer"] = self.peak_layer
        return d


@dataclass(frozen=True)
class CkaResult:
    config: CkaConfig
    models: tuple[EncoderInfo, ...]
    curves: tuple[CkaCurve, ...]
    n_truncated: dict[str, int] = field(default_factory=dict)  # per text file, over the models

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "cka",
            "config": self.config.to_dict(),
            "models": [asdict(m) for m in self.models],
            "curves": [c.to_dict() for c in self.curves],
            "n_truncated": dict(self.n_truncated),
        }


def language_label(path: str) -> str:
    """A short name for a treebank file: ``UD_German-PUD/de_pud-ud-test.conllu`` -> ``de_pud``."""
    stem = Path(path).name
    for suffix in (".conllu", "-ud-test", "-ud-dev", "-ud-train"):
        stem = stem.removesuffix(suffix)
    return stem


def run_cka(
    config: CkaConfig,
    progress: Callable[[str, int, int], None] | None = None,
) -> CkaResult:
    """Compute the CKA curve(s) of ``config``: one per target file and model (before / after).

    ``progress(task, done, total)`` reports encoding progress, ``task`` naming the model and file.
    """
    kernel = get_kernel(config.kernel, config.debiased)
    specs = [("before", resolve_model(config.model, purpose="analysis", option="--model"))]
    if config.model_after:
        specs.append(("after", resolve_model(config.model_after, purpose="analysis", option="--model-after")))
    if not config.targets:
        raise UsageError("give at least one --target")
    if config.max_sentences is not None and config.max_sentences < 2:
        raise UsageError("--max-sentences must be at least 2")
    if config.batch_size < 1 or config.max_length < 4:
        raise UsageError("--batch-size must be >= 1 and --max-length >= 4")
    source = read_sentence_texts(config.source)
    pairs: list[ParallelPairs] = []
    for t in config.targets:
        pp = align_parallel(source, read_sentence_texts(t), t)
        if config.max_sentences is not None:
            n = config.max_sentences
            pp = ParallelPairs(pp.source[:n], pp.target[:n], pp.aligned_by, pp.n_source_unmatched, pp.n_target_unmatched)
        if config.debiased and len(pp.source) < 4:
            raise UsageError(f"--debiased needs at least 4 sentence pairs; {t} gives {len(pp.source)}")
        pairs.append(pp)

    infos: list[EncoderInfo] = []
    curves: list[CkaCurve] = []
    truncated: dict[str, int] = {}
    for role, spec in specs:
        model, tokenizer, info = load_encoder(spec)
        if infos and (info.n_layers != infos[0].n_layers):
            raise UsageError(
                f"--model-after has {info.n_layers} layers but --model has {infos[0].n_layers}; compare the same "
                "architecture before and after fine-tuning"
            )
        infos.append(info)
        prep = _text_preparer(info)
        cache: dict[tuple[str, ...], np.ndarray] = {}

        def encode(texts: tuple[str, ...], what: str) -> np.ndarray:
            if texts not in cache:
                label = f"{role}: {what}"
                cb = (lambda n, label=label, total=len(texts): progress(label, n, total)) if progress else None
                reps, n_trunc = hidden_state_means(
                    model, tokenizer, [prep(t) for t in texts],
                    batch_size=config.batch_size, max_length=config.max_length, progress=cb,
                )
                truncated[what] = truncated.get(what, 0) + n_trunc
                cache[texts] = reps
            return cache[texts]

        for target, pp in zip(config.targets, pairs):
            x = encode(pp.source, language_label(config.source))  # [n_layers+1, n, hidden]
            y = encode(pp.target, language_label(target))
            scores = tuple(kernel(x[layer], y[layer], config.rbf_sigma) for layer in range(x.shape[0]))
            control: tuple[float, ...] = ()
            if config.control:
                perm = _derangement(len(pp.source), seed=0)
                control = tuple(kernel(x[layer], y[layer][perm], config.rbf_sigma) for layer in range(x.shape[0]))
            curves.append(CkaCurve(spec.spec, role, target, len(pp.source), pp.aligned_by, scores, control))
        del model
    return CkaResult(config, tuple(infos), tuple(curves), truncated)


def _derangement(n: int, seed: int) -> np.ndarray:
    """A permutation of range(n) that moves every index (so that no sentence stays paired with its translation)."""
    perm = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=np.int64)
    out[perm] = np.roll(perm, -1)  # one random cycle through all indices: perm[k] -> perm[k + 1]
    return out


def _text_preparer(info: EncoderInfo) -> Callable[[str], str]:
    """Text as the model expects it: transliterated when the model directory records a scheme."""
    from adaptlang.translit import get_transliterator
    from adaptlang.translit.choice import recorded_scheme

    scheme = recorded_scheme(info.translit)
    if scheme is None:
        return lambda s: s
    return get_transliterator(scheme).transliterate
