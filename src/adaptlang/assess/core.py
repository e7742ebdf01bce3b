"""``assess_corpus``: one streaming pass over the corpus, then the profiles, metrics, prediction and recommendation."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

from adaptlang.assess.category import (
    Prediction,
    Recommendation,
    TranslitVerdict,
    predict_category,
    recommend,
    translit_verdict,
)
from adaptlang.assess.diacritics import DiacriticsInfo, assess_diacritics
from adaptlang.assess.donors import DonorSuggestions, scan_ud_dir, suggest_donors
from adaptlang.assess.languages import (
    LanguageKnowledge,
    identify_pretraining,
    language_knowledge,
    normalize_lang,
    PRETRAINING_LISTS,
)
from adaptlang.assess.scripts import ScriptCounter, ScriptProfile, script_name, script_profile_from_counts
from adaptlang.assess.tokenizer import (
    LoadedTokenizer,
    TokenizerMetrics,
    VocabProfile,
    letter_coverage,
    load_tokenizer,
    tokenizer_metrics,
    vocab_profile,
)
from adaptlang.data.corpus import CorpusStats, iter_sentences
from adaptlang.data.text import ENCODING_ERRORS, display_name
from adaptlang.errors import InputError, UsageError

DEFAULT_SAMPLE_SENTENCES = 20_000
SAMPLE_LONG_LINE = 1_000  # characters: longer lines are sampled in pieces of SAMPLE_UNIT_WORDS words
SAMPLE_UNIT_WORDS = 50
_CHUNK_CHARS = 1 << 22  # script counting works on ~4M-character chunks


@dataclass(frozen=True)
class CorpusInfo:
    path: str
    format: str  # text | conllu
    n_bytes: int
    n_lines: int
    n_sentences: int
    had_bom: bool
    had_crlf: bool
    n_replaced: int  # characters replaced or dropped under --encoding-errors replace|ignore

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SampleInfo:
    n_sentences: int  # sampled sentences (a line over 1,000 characters counts as one per 50-word piece)
    n_words: int
    whole_corpus: bool
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TranslitWhatIf:
    scheme: str | None
    target_script: str | None
    status: str  # "computed" | "not-needed" | "no-scheme" | "unavailable" | "disabled"
    note: str
    before: TokenizerMetrics | None = None
    after: TokenizerMetrics | None = None
    letter_coverage_before: float | None = None  # share of the sample's letters (all scripts) that are known
    letter_coverage_after: float | None = None  # the same on the transliterated sample
    after_dominant_script: str | None = None
    seconds: float | None = None

    candidates: tuple[dict[str, Any], ...] = ()  # every scheme measured: scheme, unk_word_rate, fertility, ...

    @property
    def verdict(self) -> TranslitVerdict | None:
        """Whether the tokenizer does better on the transliterated sample (see :func:`translit_verdict`)."""
        if self.before is None or self.after is None:
            return None
        return translit_verdict(
            (self.before.unk_word_rate, self.letter_coverage_before or 0.0, self.before.fertility),
            (self.after.unk_word_rate, self.letter_coverage_after or 0.0, self.after.fertility),
        )

    @property
    def helps(self) -> bool | None:
        v = self.verdict
        return None if v is None else v.helps

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "target_script": self.target_script,
            "status": self.status,
            "note": self.note,
            "helps": self.helps,
            "why": self.verdict.why if self.verdict else None,
            "candidates": list(self.candidates),
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
            "letter_coverage_before": self.letter_coverage_before,
            "letter_coverage_after": self.letter_coverage_after,
            "after_dominant_script": self.after_dominant_script,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class AssessReport:
    corpus: CorpusInfo
    model: dict[str, Any]
    scripts: ScriptProfile
    vocabulary: VocabProfile
    sample: SampleInfo
    tokenizer: TokenizerMetrics
    language: LanguageKnowledge
    translit: TranslitWhatIf
    prediction: Prediction
    recommendation: Recommendation
    seconds: float
    diacritics: DiacriticsInfo | None = None
    donors: DonorSuggestions | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "assess-report",
            "corpus": self.corpus.to_dict(),
            "model": self.model,
            "scripts": self.scripts.to_dict(),
            "vocabulary": self.vocabulary.to_dict(),
            "sample": self.sample.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
            "language": self.language.to_dict(),
            "translit": self.translit.to_dict(),
            "prediction": self.prediction.to_dict(),
            "recommendation": self.recommendation.to_dict(),
            "seconds": self.seconds,
            "diacritics": self.diacritics.to_dict() if self.diacritics else None,
            "donors": self.donors.to_dict() if self.donors else None,
        }


def _chunks_of(text: str, size: int) -> list[str]:
    """Cut a very long line into pieces of about ``size`` characters at whitespace (words are not cut)."""
    out = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            ws = text.find(" ", end)
            end = n if ws < 0 else ws
        out.append(text[start:end])
        start = end
    return out


def _sample_units(sentence: str) -> Iterator[str]:
    """Sampling units: the sentence itself, or, for a line longer than SAMPLE_LONG_LINE characters (a paragraph, a
    whole book on one line), its consecutive pieces of SAMPLE_UNIT_WORDS words, so that the sample stays small and
    uniform over the text."""
    if len(sentence) <= SAMPLE_LONG_LINE:
        yield sentence
        return
    pieces = _chunks_of(sentence, _CHUNK_CHARS) if len(sentence) > _CHUNK_CHARS else [sentence]
    for piece in pieces:
        words = piece.split()
        for i in range(0, len(words), SAMPLE_UNIT_WORDS):
            yield " ".join(words[i:i + SAMPLE_UNIT_WORDS])


def scan_corpus(
    path: str | os.PathLike,
    encoding_errors: str = "strict",
    sample_sentences: int = DEFAULT_SAMPLE_SENTENCES,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[CorpusInfo, ScriptCounter, list[list[str]], SampleInfo]:
    """One streaming pass: script statistics over the whole corpus and a uniform reservoir sample of sentences."""
    if sample_sentences < 1:
        raise UsageError("--sample-sentences must be at least 1")
    stats = CorpusStats()
    counter = ScriptCounter()
    rng = random.Random(seed)
    sample: list[str] = []  # sampled sentences (or pieces of long lines)
    buf: list[str] = []
    buf_chars = 0
    n_seen = 0  # sampling units seen
    n_sentences = 0
    for sentence in iter_sentences(path, encoding_errors=encoding_errors, stats=stats):
        if len(sentence) > _CHUNK_CHARS:
            for piece in _chunks_of(sentence, _CHUNK_CHARS):
                counter.add(piece)
        else:
            buf.append(sentence)
            buf_chars += len(sentence)
            if buf_chars >= _CHUNK_CHARS:
                counter.add("\n".join(buf))
                buf, buf_chars = [], 0
                if progress:
                    progress(stats.n_bytes)
        n_sentences += 1
        for unit in _sample_units(sentence):
            n_seen += 1
            if len(sample) < sample_sentences:
                sample.append(unit)
            else:
                j = rng.randrange(n_seen)
                if j < sample_sentences:
                    sample[j] = unit
    if buf:
        counter.add("\n".join(buf))
        if progress and stats.n_bytes >= _CHUNK_CHARS:  # small inputs finish without ever showing a bar
            progress(stats.n_bytes)
    name = display_name(path)
    if stats.n_lines == 0:
        raise InputError(name, "is empty; give a text or CoNLL-U file with some sentences")
    if n_sentences == 0:
        raise InputError(name, "contains only whitespace (or CoNLL-U without text); nothing to assess")
    info = CorpusInfo(
        path=name, format=stats.format, n_bytes=stats.n_bytes, n_lines=stats.n_lines, n_sentences=n_sentences,
        had_bom=stats.had_bom, had_crlf=stats.had_crlf, n_replaced=stats.n_replaced,
    )
    words = [u.split() for u in sample]
    sample_info = SampleInfo(
        n_sentences=len(words), n_words=sum(len(w) for w in words), whole_corpus=n_seen <= sample_sentences,
        seed=seed,
    )
    return info, counter, words, sample_info


def _weighted_chars(word_counts: Counter) -> Counter:
    """Character counts of words weighted by their frequency (one C-speed pass over the repeated words)."""
    return Counter("".join(w * n for w, n in word_counts.items()))


def _measure_scheme(tok: LoadedTokenizer, sample_counts: Counter, scheme: str, lang: str | None) -> dict[str, Any]:
    """Transliterate the sample with one scheme (each distinct word once) and measure the tokenizer on it."""
    from adaptlang.translit import get_transliterator

    t = get_transliterator(scheme, lang=lang)
    start = time.perf_counter()
    after_counts: Counter = Counter()
    for word, n in sample_counts.items():
        for w in t.transliterate(word).split():
            after_counts[w] += n
    seconds = time.perf_counter() - start
    metrics = tokenizer_metrics(tok, after_counts)
    chars = _weighted_chars(after_counts)
    return {"t": t, "metrics": metrics, "chars": chars, "seconds": seconds,
            "letter_coverage": letter_coverage(tok, chars)}


def translit_what_if(
    tok: LoadedTokenizer,
    sample_counts: Counter,
    before: TokenizerMetrics,
    dominant_script: str,
    lang: str | None,
    target_script: str | None,
    scheme: str | None = None,
) -> TranslitWhatIf:
    """Tokenizer metrics on the transliterated sample. Without ``scheme``, every candidate scheme (the preferred
    one, the script's generic table, and their variants) is measured and the one with the lowest UNK word rate,
    then the lowest fertility, is kept; all candidates are listed in the result."""
    try:
        from adaptlang.translit.base import candidate_schemes
    except ImportError:
        return TranslitWhatIf(scheme, target_script, "unavailable", "the transliteration library is not installed")
    if scheme is None:
        if target_script is None or target_script == dominant_script:
            return TranslitWhatIf(None, target_script, "not-needed",
                                  f"the corpus is already in {script_name(dominant_script)}, the script the model "
                                  "knows this language or its family in" if target_script else
                                  "no better-covered target script")
        names = candidate_schemes(dominant_script, lang, target_script)
        if not names:
            return TranslitWhatIf(None, target_script, "no-scheme",
                                  f"no transliteration scheme from {script_name(dominant_script)} to "
                                  f"{script_name(target_script)}")
    else:
        names = [scheme]
    measured = [_measure_scheme(tok, sample_counts, name, lang) for name in names]
    best = min(measured, key=lambda m: (round(m["metrics"].unk_word_rate, 4), m["metrics"].fertility))
    t, after = best["t"], best["metrics"]
    candidates = tuple(
        {"scheme": m["t"].name, "unk_word_rate": m["metrics"].unk_word_rate, "fertility": m["metrics"].fertility,
         "letter_coverage": m["letter_coverage"], "chosen": m is best} for m in measured)
    note = f"the same sample, each distinct word transliterated with {t.name}"
    if len(measured) > 1:
        note += f" (the lowest UNK word rate, then fertility, of {len(measured)} schemes)"
    if lang is None:
        note += "; pass --lang for a language-specific scheme"
    return TranslitWhatIf(
        scheme=t.name,
        target_script=getattr(t, "target_script", target_script),
        status="computed",
        note=note,
        before=before,
        after=after,
        letter_coverage_before=letter_coverage(tok, _weighted_chars(sample_counts)),
        letter_coverage_after=best["letter_coverage"],
        after_dominant_script=script_profile_from_counts(best["chars"], 0, 0).dominant_script,
        seconds=sum(m["seconds"] for m in measured),
        candidates=candidates,
    )


def _what_if_not_needed(dominant: str, knowledge: LanguageKnowledge) -> TranslitWhatIf:
    sname = script_name(dominant)
    if dominant in knowledge.lang_scripts_in_model:
        why = f"{knowledge.lang_name} itself was pretrained in {sname}"
    elif knowledge.relatives_in_model():
        why = f"the model knows {knowledge.lang_name}'s nearest relatives and lexical sources mostly in {sname}"
    else:
        why = f"the corpus is in {sname} script and no pretrained relative suggests another script"
    return TranslitWhatIf(None, None, "not-needed", f"not needed: {why}")


def assess_corpus(
    path: str | os.PathLike,
    model: str | os.PathLike | None = None,
    lang: str | None = None,
    pretraining: str | None = "auto",
    encoding_errors: str = "strict",
    sample_sentences: int = DEFAULT_SAMPLE_SENTENCES,
    translit: str | None = "auto",
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    strip_diacritics: bool = False,
    donor_dir: str | os.PathLike | None = None,
) -> AssessReport:
    """Assess how well a model's vocabulary covers a corpus; see the package docstring for each figure.

    ``model``: tokenizer directory or hub id (None: the embedded mBERT vocabulary). ``lang``: ISO 639 code.
    ``pretraining``: "auto" (recognise mBERT / XLM-R by their vocabulary), a key of PRETRAINING_LISTS, or None.
    ``translit``: "auto" (pick a scheme when the script is not the one the model knows the family in), "none", or
    a scheme name for the what-if. ``strip_diacritics``: measure the tokenizer on the text without its optional
    marks (Arabic harakat, Hebrew niqqud, ...); diacritised text is detected and reported either way.
    ``donor_dir``: a folder of UD treebanks whose related-language treebanks are measured as donors (see
    :mod:`adaptlang.assess.donors`).
    """
    start = time.perf_counter()
    if encoding_errors not in ENCODING_ERRORS:
        raise UsageError(f"--encoding-errors must be one of {', '.join(ENCODING_ERRORS)}, not {encoding_errors!r}")
    lang_code = normalize_lang(lang) if lang else None
    if pretraining not in (None, "auto") and pretraining not in PRETRAINING_LISTS:
        raise UsageError(f"--pretraining {pretraining!r}: valid values are auto, none, {', '.join(PRETRAINING_LISTS)}")
    from adaptlang.translit.choice import TranslitChoice, check_scheme, resolve_translit

    choice = TranslitChoice.parse(translit)  # the one reading of --translit: none | auto | latin | a scheme name
    # an unknown scheme fails now, before reading the corpus; below, translit is "none", "auto", "latin" or a scheme
    translit = check_scheme(choice.scheme, lang_code) if choice.scheme else choice.kind
    if donor_dir is not None:
        scan_ud_dir(donor_dir)  # a bad --donor-dir fails now, before reading the corpus
    tok = load_tokenizer(model)
    info, counter, sample, sample_info = scan_corpus(path, encoding_errors, sample_sentences, seed, progress)
    profile = counter.profile()
    if profile.n_letters == 0:
        raise InputError(info.path, "contains no letters in any script (only digits, punctuation or symbols)")

    vocab = vocab_profile(tok, counter.char_counts, [(s.script, s.share) for s in profile.scripts])
    sample_counts: Counter = Counter()
    for words in sample:
        sample_counts.update(words)
    diacritics, sample_counts = assess_diacritics(tok, sample_counts, strip_diacritics)
    metrics = diacritics.without_marks if strip_diacritics and diacritics.without_marks else \
        tokenizer_metrics(tok, sample_counts)

    key = identify_pretraining(tok.kind, tok.vocab_size, tok.name) if pretraining == "auto" else pretraining
    knowledge = language_knowledge(lang_code, key)
    prediction = predict_category(profile, vocab, metrics, knowledge)

    dominant = profile.dominant_script or "Zzzz"
    if translit in (None, "none"):
        whatif = TranslitWhatIf(None, prediction.target_script, "disabled", "transliteration what-if not requested")
    elif translit == "auto" and prediction.target_script is None:
        whatif = _what_if_not_needed(dominant, knowledge)
    else:
        whatif = translit_what_if(
            tok, sample_counts, metrics, dominant, lang_code, prediction.target_script,
            scheme=None if translit == "auto" else resolve_translit(translit, script=dominant, lang=lang_code).scheme,
        )
    rec = recommend(prediction, info.path, None if model is None else str(model), whatif.scheme, whatif.helps)
    if diacritics.diacritised and not strip_diacritics:
        prediction = replace(prediction, reasons=prediction.reasons + (diacritics.summary(),))
        rec = replace(rec, explanation=rec.explanation + "; first strip the optional diacritics (see above)")
    donors = suggest_donors(tok, sample_counts, profile.dominant_script, knowledge, donor_dir=donor_dir,
                            corpus=str(path), target_train=info.path if info.format == "conllu" else None,
                            model=None if model is None else str(model))
    model_info = {**tok.to_dict(), "pretraining": key}
    return AssessReport(corpus=info, model=model_info, scripts=profile, vocabulary=vocab, sample=sample_info,
                        tokenizer=metrics, language=knowledge, translit=whatif, prediction=prediction,
                        recommendation=rec, seconds=time.perf_counter() - start, diacritics=diacritics,
                        donors=donors)
