"""Per-layer linear probes: how well a frozen encoder's vectors predict UPOS, layer by layer (0 = the embedding
output, 1..L = the transformer layers), for one or more encoders on the same words.

Each word is represented by the model's vector at its *first piece*, as the features mode of ``adaptlang baseline
--embeddings`` computes it (:class:`adaptlang.models.features.FrozenFeatures`: the same windowing, transliteration,
adapters and adapted models; here with every hidden layer kept). The vectors are computed once per model and
sentence; then one multinomial logistic regression per layer (scikit-learn, L-BFGS, on standardised features)
is fitted on the training words and scored on held-out words: the dev file, or, without one, the last fifth of the
training file. A probe is a convex fit to convergence, not a training run of the engine's kind.

Two reference rows need no model: the majority tag, and the most frequent tag of each word form seen in training
(the majority tag for unseen forms). A layer below the word-form row knows less about the tags than a lookup table.

Torch is imported through the features module only when :func:`probe_models` runs.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from adaptlang.errors import InputError, UsageError
from adaptlang.events import Event, Progress, silent

DEFAULT_MAX_TRAIN_SENTENCES = 400
HELD_OUT_SHARE = 5  # without a dev file, the last 1/5 of the training file's sentences are held out
EXTRACT_BATCH = 32  # sentences per transformer call


@dataclass(frozen=True)
class ProbeConfig:
    """What :func:`probe_models` measures. ``translit``: one choice for every model, or one per model (``none``,
    ``latin``, a scheme name; see :mod:`adaptlang.translit.choice`); a model's own recorded scheme applies when
    none is asked."""

    models: tuple[str, ...]
    train: str
    dev: str | None = None
    max_train_sentences: int | None = DEFAULT_MAX_TRAIN_SENTENCES
    max_eval_sentences: int | None = None
    translit: tuple[str | None, ...] = ()
    lang: str | None = None  # the treebank's language (for --translit latin)
    c: float = 1.0  # inverse L2 strength of the logistic regression (scikit-learn's C)
    max_iter: int = 1000
    max_length: int | None = None  # pieces per window (default: the model's maximum)

    def __post_init__(self) -> None:
        if not self.models:
            raise UsageError("--model: give at least one model to probe")
        if len(self.translit) not in (0, 1, len(self.models)):
            raise UsageError(f"--translit: give it once (for every model) or once per --model "
                             f"({len(self.models)}), not {len(self.translit)} times")
        if self.c <= 0:
            raise UsageError(f"--c must be > 0, not {self.c}")

    def translit_of(self, i: int) -> str | None:
        if not self.translit:
            return None
        return self.translit[0] if len(self.translit) == 1 else self.translit[i]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "models": list(self.models), "translit": list(self.translit)}


@dataclass(frozen=True)
class ProbeCurve:
    """One model's probe accuracy (%) per layer, index 0 = the embedding output."""

    label: str
    model: str  # as resolved (absolute path or hub id)
    translit: str | None  # the scheme its words were transliterated with (None: none)
    translit_reason: str
    accuracy: tuple[float, ...]
    converged: tuple[bool, ...]  # per layer: L-BFGS stopped before max_iter
    seconds_features: float
    seconds_probes: float

    @property
    def best_layer(self) -> int:
        return int(np.argmax(self.accuracy))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy": [round(a, 2) for a in self.accuracy], "converged": list(self.converged),
                "best_layer": self.best_layer, "seconds_features": round(self.seconds_features, 1),
                "seconds_probes": round(self.seconds_probes, 1)}


@dataclass(frozen=True)
class ProbeResult:
    config: ProbeConfig
    eval_source: str  # "dev file" or "held-out slice of the training file"
    n_train_sentences: int
    n_eval_sentences: int
    n_train_words: int
    n_eval_words: int
    tags: tuple[str, ...]
    majority: float  # accuracy (%) of the training words' most frequent tag
    word_form: float  # accuracy (%) of each form's most frequent training tag (majority for unseen forms)
    curves: tuple[ProbeCurve, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("config", "curves")}
        return {"kind": "probe", "config": self.config.to_dict(), **d, "tags": list(self.tags),
                "majority": round(self.majority, 2), "word_form": round(self.word_form, 2),
                "curves": [c.to_dict() for c in self.curves]}

    def markdown(self) -> str:
        """The table as Markdown (for reports): one row per layer, one column per model, best layer in bold."""
        head = "| layer | " + " | ".join(c.label for c in self.curves) + " |"
        lines = [head, "|" + " --- |" * (len(self.curves) + 1)]
        for layer in range(max(len(c.accuracy) for c in self.curves)):
            cells = [_cell(c, layer, bold="**") for c in self.curves]
            lines.append(f"| {'emb' if layer == 0 else layer} | " + " | ".join(cells) + " |")
        lines.append(f"| majority tag | {self.majority:.2f} |" + " |" * (len(self.curves) - 1))
        lines.append(f"| word-form lookup | {self.word_form:.2f} |" + " |" * (len(self.curves) - 1))
        return "\n".join(lines) + "\n\n" + self.caption() + "\n"

    def caption(self) -> str:
        return (f"UPOS accuracy (%) of a linear probe per layer (first piece of each word; emb = embedding output): "
                f"trained on {self.n_train_words} words ({self.n_train_sentences} sentences of "
                f"{Path(self.config.train).name}), scored on {self.n_eval_words} words ({self.n_eval_sentences} "
                f"sentences, {self.eval_source}).")


def _cell(curve: ProbeCurve, layer: int, bold: str) -> str:
    if layer >= len(curve.accuracy):
        return ""
    text = f"{curve.accuracy[layer]:.2f}" + ("" if curve.converged[layer] else " (not converged)")
    return f"{bold}{text}{bold}" if layer == curve.best_layer else text


# ---------------------------------------------------------------------------------------------------------------
# The words: forms for the encoder, UPOS to predict


@dataclass(frozen=True)
class TaggedSentences:
    """Sentences (every word, for the encoder's context) and which of their words carry a UPOS tag."""

    forms: tuple[tuple[str, ...], ...]
    labelled: tuple[tuple[bool, ...], ...]
    tags: tuple[str, ...]  # the labelled words' tags, in order

    @property
    def n_words(self) -> int:
        return len(self.tags)


def _tagged(sentences: Sequence[Any], path: str) -> TaggedSentences:
    forms, labelled, tags = [], [], []
    for s in sentences:
        forms.append(tuple(s.forms))
        labelled.append(tuple(u not in ("_", "") for u in s.upos))
        tags += [u for u in s.upos if u not in ("_", "")]
    if not tags:
        raise InputError(path, "has no UPOS tags (the UPOS column is _ everywhere); a probe learns UPOS: give a "
                               "treebank with UPOS annotation")
    return TaggedSentences(tuple(forms), tuple(labelled), tuple(tags))


def split_treebank(config: ProbeConfig) -> tuple[TaggedSentences, TaggedSentences, str]:
    """(training words, held-out words, where the held-out words come from), capped as ``config`` says."""
    from adaptlang.data.conllu import read_conllu

    train = read_conllu(config.train)
    if config.dev:
        held, source = read_conllu(config.dev), "dev file"
    else:
        if len(train) < 2:
            raise InputError(config.train, f"has {len(train)} sentence; without --dev a probe holds out the last "
                                           "fifth of the training file: give --dev or a longer file")
        n_held = max(1, len(train) // HELD_OUT_SHARE)
        train, held, source = train[:-n_held], train[-n_held:], "held-out slice of the training file"
    if config.max_train_sentences is not None:
        train = train[: config.max_train_sentences]
    if config.max_eval_sentences is not None:
        held = held[: config.max_eval_sentences]
    return _tagged(train, config.train), _tagged(held, config.dev or config.train), source


def baselines(train: TaggedSentences, held: TaggedSentences) -> tuple[float, float]:
    """(majority-tag accuracy, word-form lookup accuracy) on the held-out words, in %."""
    majority = Counter(train.tags).most_common(1)[0][0]
    by_form: dict[str, Counter[str]] = defaultdict(Counter)
    for form, tag in zip(_labelled_forms(train), train.tags):
        by_form[form][tag] += 1
    lookup = [by_form[f].most_common(1)[0][0] if f in by_form else majority for f in _labelled_forms(held)]
    gold = held.tags
    return (100.0 * sum(t == majority for t in gold) / len(gold),
            100.0 * sum(p == t for p, t in zip(lookup, gold)) / len(gold))


def _labelled_forms(t: TaggedSentences) -> list[str]:
    return [f for forms, mask in zip(t.forms, t.labelled) for f, keep in zip(forms, mask) if keep]


# ---------------------------------------------------------------------------------------------------------------
# Features and probes


def layer_features(encoder: Any, data: TaggedSentences, device: Any, report: Progress, what: str) -> np.ndarray:
    """``[n_labelled_words, n_layers + 1, H]`` (float16): every hidden layer of ``encoder`` (a frozen
    :class:`~adaptlang.models.transformer.TransformerEncoder`) at each labelled word's first piece, as the features
    mode computes them (:class:`~adaptlang.models.features.FrozenFeatures`, here keeping every layer)."""
    from adaptlang.models.features import FrozenFeatures

    frozen = FrozenFeatures(encoder, encoder.n_layers + 1, keep_layers=True)  # its cache lives as long as this call
    out = np.zeros((data.n_words, frozen.layers, frozen.dim), dtype=np.float16)
    row = 0
    for lo in range(0, len(data.forms), EXTRACT_BATCH):
        chunk = data.forms[lo: lo + EXTRACT_BATCH]
        vectors = frozen.vectors(chunk, device)  # [B, W, n_layers + 1, H]
        for b, mask in enumerate(data.labelled[lo: lo + EXTRACT_BATCH]):
            keep = [i for i, k in enumerate(mask) if k]
            out[row: row + len(keep)] = vectors[b, keep].numpy().astype(np.float16)
            row += len(keep)
        report(Event("step", stage=what, step=min(lo + EXTRACT_BATCH, len(data.forms)), total=len(data.forms)))
    return out


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray,
              c: float, max_iter: int) -> tuple[float, bool]:
    """Accuracy (%) of a multinomial logistic regression on standardised features ``[n, H]``, and whether L-BFGS
    converged. Eval words whose tag never occurs in training count as errors (the probe cannot predict them)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_train)
    probe = LogisticRegression(C=c, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        probe.fit(scaler.transform(x_train), y_train)
    predicted = probe.predict(scaler.transform(x_eval))
    converged = bool(np.all(probe.n_iter_ < max_iter))
    return 100.0 * float(np.mean(predicted == y_eval)), converged


def _probe_layers(feats_train: np.ndarray, feats_eval: np.ndarray, train: TaggedSentences,
                  held: TaggedSentences, config: ProbeConfig) -> tuple[list[float], list[bool]]:
    from threadpoolctl import threadpool_limits
    import torch

    tags = sorted(set(train.tags))
    index = {t: i for i, t in enumerate(tags)}
    y_train = np.array([index[t] for t in train.tags])
    y_eval = np.array([index.get(t, -1) for t in held.tags])  # -1: a tag unseen in training, never predicted
    accuracy, converged = [], []
    with threadpool_limits(limits=torch.get_num_threads()):  # --threads holds for numpy's BLAS as for torch
        for layer in range(feats_train.shape[1]):
            acc, ok = fit_probe(feats_train[:, layer].astype(np.float32), y_train,
                                feats_eval[:, layer].astype(np.float32), y_eval, config.c, config.max_iter)
            accuracy.append(acc)
            converged.append(ok)
    return accuracy, converged


def _probe_one(i: int, config: ProbeConfig, train: TaggedSentences, held: TaggedSentences, script: str | None,
               report: Progress) -> ProbeCurve:
    import torch

    from adaptlang.models.features import FeaturesEncoderConfig, load_frozen
    from adaptlang.translit.choice import resolve_translit

    model = config.models[i]
    chosen = resolve_translit(config.translit_of(i), script=script, lang=config.lang)
    t0 = time.perf_counter()
    loaded, filled = load_frozen(FeaturesEncoderConfig(model=model, translit=chosen.scheme,
                                                       max_length=config.max_length), "--model")
    label = _label(model, filled.get("translit"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report(Event("phase", stage=label, message=f"{label}: computing the words' vectors"))
    feats_train = layer_features(loaded.encoder, train, device, report, f"{label}: training words")
    feats_eval = layer_features(loaded.encoder, held, device, report, f"{label}: held-out words")
    del loaded
    t1 = time.perf_counter()
    report(Event("phase", stage=label, message=f"{label}: fitting {feats_train.shape[1]} probes"))
    accuracy, converged = _probe_layers(feats_train, feats_eval, train, held, config)
    seconds = time.perf_counter() - t1
    report(Event("done", stage=label, seconds=time.perf_counter() - t0))
    reason = chosen.reason if chosen.scheme or not filled.get("translit") else \
        f"{filled['translit']} (recorded by the model)"
    return ProbeCurve(label, filled["model"], filled.get("translit"), reason, tuple(accuracy), tuple(converged),
                      t1 - t0, seconds)


def _label(model: str, scheme: str | None) -> str:
    p = Path(model)
    name = p.name if p.exists() and p.name else model
    return f"{name} +{scheme}" if scheme else name


def probe_models(config: ProbeConfig, progress: Progress | None = None) -> ProbeResult:
    """Probe every model of ``config`` at every layer on the same training and held-out words.

    Raises InputError for a treebank without UPOS (or unreadable), ModelError / UsageError for a model or a
    transliteration that does not fit. ``progress`` receives ``phase`` / ``step`` / ``done`` events per model.
    """
    from adaptlang.scripts import dominant_script

    report = progress or silent
    train, held, source = split_treebank(config)
    script = dominant_script(" ".join(f for s in train.forms for f in s))
    majority, word_form = baselines(train, held)
    curves: list[ProbeCurve] = []
    for i in range(len(config.models)):
        curve = _probe_one(i, config, train, held, script, report)
        labels = {c.label for c in curves}
        if curve.label in labels:  # the same model twice (e.g. two runs of adapt with one name): keep rows apart
            curve = replace(curve, label=f"{curve.label} #{i + 1}")
        curves.append(curve)
    return ProbeResult(config, source, len(train.forms), len(held.forms), train.n_words, held.n_words,
                       tuple(sorted(set(train.tags))), majority, word_form, tuple(curves))
