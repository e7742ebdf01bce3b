"""The predicted category (easy / intermediate / hard) from cheap signals, and the recommended next command.

This is a PREDICTION: the measured category needs training runs (``adaptlang categorize``). The rule, in order:

1. **hard** if the vocabulary barely covers the corpus's dominant script: fewer than ``min_letter_coverage`` of its
   letters (by frequency) tokenize to something other than the unknown token, or more than ``max_unk_word_rate`` of
   the words contain an unknown piece;
2. **hard** if the language itself was not pretrained in that script, and none of its nearest pretrained genetic
   relatives (the close relatives if any was pretrained, else the family members) nor its pretrained lexical sources
   (contact languages that supply much of its vocabulary) was pretrained in the corpus's script: the model's
   knowledge of the language sits in another script (Uyghur in Arabic script vs. Uzbek in Latin script);
3. **easy** if the language itself was pretrained in the corpus's script; or if a close relative was and the
   tokenizer fragments the corpus little: fertility at most ``max_easy_fertility`` pieces per word;
4. **intermediate** otherwise (including when ``--lang`` is not given or the model's pretraining languages are not
   known, as long as rule 1 does not fire).

The thresholds are module constants, documented in the README with the table that checks them on the shared UD
texts with the real mBERT and XLM-R vocabularies.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from adaptlang.assess.languages import LanguageKnowledge, describe_scripts
from adaptlang.assess.scripts import ScriptProfile, script_name
from adaptlang.assess.tokenizer import TokenizerMetrics, VocabProfile

MIN_LETTER_COVERAGE = 0.95  # rule 1: share of the dominant script's letters that are not UNK
MAX_UNK_WORD_RATE = 0.05  # rule 1: share of words with an unknown piece
MAX_EASY_FERTILITY = 2.5  # rule 3: pieces per whitespace word, about that of pretrained languages (Turkish, mBERT)

THRESHOLDS: dict[str, float] = {
    "min_letter_coverage": MIN_LETTER_COVERAGE,
    "max_unk_word_rate": MAX_UNK_WORD_RATE,
    "max_easy_fertility": MAX_EASY_FERTILITY,
}

CATEGORIES = ("easy", "intermediate", "hard")
TRANSLIT_MIN_GAIN = 0.01  # a transliteration must change the UNK word rate or letter coverage by 1 point to count


def poorly_covered(letter_coverage: float, unk_word_rate: float) -> bool:
    """Rule 1's test: too few letters known, or too many words with an unknown piece."""
    return letter_coverage < MIN_LETTER_COVERAGE or unk_word_rate > MAX_UNK_WORD_RATE


@dataclass(frozen=True)
class TranslitVerdict:
    helps: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"helps": self.helps, "why": self.why}


def translit_verdict(before: tuple[float, float, float], after: tuple[float, float, float]) -> TranslitVerdict:
    """Does a transliteration help the tokenizer? ``before`` / ``after``: (UNK word rate, share of letters known,
    fertility) on the same sample.

    Judged first on what rule 1 calls hard: a scheme that leaves the text poorly covered does not help; one that
    lifts poorly covered text above both thresholds helps, whatever the fertility (an unknown word is a single
    [UNK], so fertility before is low for the wrong reason). Otherwise the UNK word rate, then the share of letters
    known, must move by TRANSLIT_MIN_GAIN to decide; fertility only breaks ties.
    """
    (unk_b, cov_b, fert_b), (unk_a, cov_a, fert_a) = before, after
    if poorly_covered(cov_a, unk_a):
        return TranslitVerdict(False, f"still poorly covered: {unk_a:.1%} of the words keep an unknown piece "
                                      f"(threshold {MAX_UNK_WORD_RATE:.0%}), {cov_a:.1%} of the letters known "
                                      f"(threshold {MIN_LETTER_COVERAGE:.0%})")
    if poorly_covered(cov_b, unk_b):
        return TranslitVerdict(True, f"lifts coverage above the thresholds: words with an unknown piece "
                                     f"{unk_b:.1%} -> {unk_a:.1%}, letters known {cov_b:.1%} -> {cov_a:.1%}")
    for label, b, a, lower_is_better in (("words with an unknown piece", unk_b, unk_a, True),
                                         ("letters known", cov_b, cov_a, False)):
        if abs(a - b) >= TRANSLIT_MIN_GAIN:
            better = (a < b) == lower_is_better
            return TranslitVerdict(better, f"{label} {b:.1%} -> {a:.1%}")
    return TranslitVerdict(fert_a < fert_b, f"coverage about equal; fertility {fert_b:.2f} -> {fert_a:.2f}")


@dataclass(frozen=True)
class Prediction:
    category: str  # easy | intermediate | hard
    rule: str  # which rule decided: "coverage", "script-mismatch", "pretrained", "relative-in-script", "default"
    reasons: tuple[str, ...]
    thresholds: dict[str, float] = field(default_factory=lambda: dict(THRESHOLDS))
    target_script: str | None = None  # the script the model knows the language's family in, if not the corpus's

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "is_prediction": True,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "thresholds": dict(self.thresholds),
            "target_script": self.target_script,
        }


def _majority_script(counts) -> str | None:
    if not counts:
        return None
    best = max(counts.values())
    tied = sorted(sc for sc, n in counts.items() if n == best)
    return "Latn" if "Latn" in tied else tied[0]


def genetic_relatives(knowledge: LanguageKnowledge) -> tuple:
    """The nearest pretrained genetic relatives: the close ones if any was pretrained, else the family members."""
    return knowledge.relatives_in_model(("close",)) or knowledge.relatives_in_model(("family",))


def relatives_target_script(knowledge: LanguageKnowledge) -> str | None:
    """The script in which the model saw the language's nearest relatives and lexical sources (close relatives if
    any was pretrained, else family members, plus lexical sources; the most frequent script, Latin on a tie); None
    when none was pretrained."""
    counts: Counter = Counter()
    for r in genetic_relatives(knowledge) + knowledge.relatives_in_model(("lexical",)):
        counts.update(r.scripts_in_model)
    return _majority_script(counts)


def whatif_target_script(script: str, knowledge: LanguageKnowledge, poorly: bool) -> str | None:
    """Script to try transliterating into: that of the nearest pretrained relatives when it differs from the
    corpus's; Latin (the best-covered script of mBERT and XLM-R) when the corpus's script is poorly covered or
    nothing is known about the language; None when the language was pretrained in its corpus's script."""
    if script in knowledge.lang_scripts_in_model:
        return None
    target = relatives_target_script(knowledge)
    if target is not None and target != script:
        return target
    if (poorly or target is None) and script != "Latn":
        return "Latn"
    return None


def _default_reason(knowledge: LanguageKnowledge, script: str) -> str:
    """Why rule 4 (intermediate) applies: what is missing, or which distant relatives use the corpus's script."""
    sname = script_name(script)
    if not knowledge.lang:
        return "no --lang given: the language-knowledge rules (relatives and their scripts) were not applied"
    if not knowledge.pretraining:
        return "the model's pretraining languages are unknown (pass --pretraining mbert|xlmr)"
    if not knowledge.relatives_known:
        return f"{knowledge.lang_name} is not in the relatedness table and was not pretrained in {sname}"
    if not knowledge.relatives_in_model():
        return f"none of {knowledge.lang_name}'s relatives is among the pretraining languages"
    names = ", ".join(f"{r.name} ({r.relation})" for r in knowledge.relatives_in_model()
                      if script in r.scripts_in_model)
    return f"no close relative pretrained in {sname}; more distant relatives or lexical sources in {sname}: {names}"


def predict_category(
    profile: ScriptProfile,
    vocab: VocabProfile,
    metrics: TokenizerMetrics,
    knowledge: LanguageKnowledge,
) -> Prediction:
    script = profile.dominant_script or "Zzzz"
    sname = script_name(script)
    cov = vocab.coverage_of(script)
    letter_cov = cov.letter_coverage if cov else 0.0
    reasons: list[str] = []

    seen = script in knowledge.lang_scripts_in_model
    genetic = genetic_relatives(knowledge)
    lexical = knowledge.relatives_in_model(("lexical",))
    close_same = [r for r in knowledge.relatives_in_model(("close",)) if script in r.scripts_in_model]
    considered = genetic + lexical
    mismatch = bool(
        knowledge.lang and knowledge.pretraining and not seen and considered
        and not any(script in r.scripts_in_model for r in considered)
    )
    mismatch_reasons: list[str] = []
    if mismatch:
        names = ", ".join(f"{r.name} ({describe_scripts(r.scripts_in_model)})" for r in considered[:6])
        mismatch_reasons.append(
            f"{knowledge.lang_name} was not pretrained in {sname}, and its nearest pretrained relatives"
            f"{' and lexical sources' if lexical else ''} use other scripts: {names}"
        )
        if knowledge.lang_scripts_in_model:
            mismatch_reasons.append(
                f"{knowledge.lang_name} itself was pretrained only in {describe_scripts(knowledge.lang_scripts_in_model)}"
            )

    # Rule 1: coverage.
    if poorly_covered(letter_cov, metrics.unk_word_rate):
        if letter_cov < MIN_LETTER_COVERAGE:
            reasons.append(
                f"the vocabulary barely covers {sname}: {letter_cov:.1%} of its letters are known "
                f"(threshold {MIN_LETTER_COVERAGE:.0%})"
            )
        if metrics.unk_word_rate > MAX_UNK_WORD_RATE:
            reasons.append(
                f"{metrics.unk_word_rate:.1%} of the words contain an unknown piece (threshold {MAX_UNK_WORD_RATE:.0%})"
            )
        reasons.extend(mismatch_reasons)
        return Prediction("hard", "coverage", tuple(reasons), target_script=whatif_target_script(script, knowledge, True))

    target = whatif_target_script(script, knowledge, False)
    # Rule 2: the model knows the language's nearest relatives (and its lexical sources) only in other scripts.
    if mismatch:
        return Prediction("hard", "script-mismatch", tuple(mismatch_reasons), target_script=target)

    # Rule 3: the language itself pretrained in this script; or a close relative, with low fragmentation.
    low_frag = metrics.fertility <= MAX_EASY_FERTILITY
    frag = f"fertility {metrics.fertility:.2f} pieces per word (threshold {MAX_EASY_FERTILITY:.1f})"
    if knowledge.lang and knowledge.pretraining and seen:
        return Prediction(
            "easy", "pretrained",
            (f"{knowledge.lang_name} itself was pretrained in {sname}", f"for information: {frag}"),
            target_script=target,
        )
    if knowledge.lang and knowledge.pretraining and close_same:
        who = (f"close relative{'s' if len(close_same) > 1 else ''} pretrained in {sname}: "
               + ", ".join(r.name for r in close_same))
        if low_frag:
            return Prediction("easy", "relative-in-script", (who, f"low fragmentation: {frag}"), target_script=target)
        return Prediction("intermediate", "default", (who, f"but high fragmentation: {frag}"), target_script=target)

    # Rule 4: intermediate.
    reasons.append(_default_reason(knowledge, script))
    reasons.append(f"the vocabulary covers {sname} ({letter_cov:.1%} of its letters known); {frag}")
    return Prediction("intermediate", "default", tuple(reasons), target_script=target)


@dataclass(frozen=True)
class Recommendation:
    command: str
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "explanation": self.explanation}


def recommend(
    prediction: Prediction,
    corpus: str,
    model: str | None,
    scheme: str | None,
    translit_helps: bool | None,
) -> Recommendation:
    """The next command to run, from the predicted category and the transliteration what-if.

    The command runs as printed once its placeholders are filled: paths are shell-quoted, and with no ``model``
    (assess read the embedded mBERT vocabulary, but adapt and train need the weights) ``--model`` names the
    placeholder MBERT_DIR, which the explanation says how to fill."""
    m = f" --model {shlex.quote(model)}" if model else " --model MBERT_DIR"
    corpus_arg = shlex.quote(corpus) if corpus != "-" else "corpus.txt"
    rec = _recommend(prediction, corpus_arg, m, scheme, translit_helps)
    if model:
        return rec
    return Recommendation(rec.command, rec.explanation + "; MBERT_DIR: a local directory with the weights of "
                          "bert-base-multilingual-cased (the model whose vocabulary assess used)")


def _recommend(prediction: Prediction, corpus_arg: str, m: str, scheme: str | None,
               translit_helps: bool | None) -> Recommendation:
    if prediction.category == "easy":
        return Recommendation(
            f"adaptlang train --train train.conllu --dev dev.conllu{m} -o parser",
            "the model should work as is: fine-tune it directly on a treebank (MLM adaptation may still add a little)",
        )
    if prediction.category == "hard" and scheme and translit_helps:
        return Recommendation(
            f"adaptlang adapt {corpus_arg}{m} --translit {shlex.quote(scheme)} -o adapted",
            f"transliterate to {script_name(prediction.target_script or 'Latn')} with {scheme} (the what-if above "
            "shows the tokenizer does better on it) and adapt the model with MLM on the transliterated corpus",
        )
    if prediction.category == "hard":
        return Recommendation(
            f"adaptlang adapt {corpus_arg}{m} --extend-vocab 5000 -o adapted",
            "no transliteration into a script the model knows better was found or it does not help the tokenizer: "
            "adapt the model with MLM and extend its vocabulary with pieces for this corpus",
        )
    return Recommendation(
        f"adaptlang adapt {corpus_arg}{m} -o adapted",
        "adapt the model with masked-language-model training on this corpus before fine-tuning "
        "(the step that turns intermediate languages into wins)",
    )
