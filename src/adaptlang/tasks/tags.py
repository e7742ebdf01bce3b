"""The parser's optional columns: XPOS, FEATS (whole strings as classes) and LEMMA (edit-script classes, or a copy
of the form), decided from the training treebank and saved with the model.

A column that is ``_`` on every training word gets no head, and predictions write ``_`` there. Lemmas are one of:

- ``rules``: a classifier over the form-to-lemma edit scripts of :mod:`adaptlang.models.lemma` (UDPipe 2's), rules
  seen at least :data:`MIN_RULE_COUNT` times; at prediction the best rule that fits the form wins, and a form no
  rule fits keeps its own spelling;
- ``copy``: LEMMA = FORM (``--lemmas copy``, and what ``auto`` picks for a treebank without lemmas, with a note);
- ``none``: LEMMA is ``_``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from adaptlang.data.conllu import Sentence
from adaptlang.data.vocab import LabelVocab
from adaptlang.errors import UsageError
from adaptlang.models.lemma import choose_allow_copy, frequent_rules, lemma_rule, pick_lemma

LEMMA_MODES = ("auto", "rules", "copy", "none")
MIN_RULE_COUNT = 2  # UDPipe 2's: a rule seen once is one word's spelling, not a class
LEMMA_TOP_K = 5  # rules tried, best first, before a form keeps its own spelling


@dataclass(frozen=True)
class TagSet:
    """What the model predicts beyond UPOS and the tree; ``vocabs`` has ``xpos``, ``feats``, ``lemma`` (rules) for
    the heads that exist."""

    vocabs: dict[str, LabelVocab] = field(default_factory=dict)
    lemmas: str = "none"  # rules, copy or none
    allow_copy: bool = False  # the edit-script variant of the rules (the training treebank's choice)

    def to_dict(self) -> dict:
        return {"lemmas": self.lemmas, "allow_copy": self.allow_copy, "heads": sorted(self.vocabs)}

    @property
    def columns(self) -> tuple[str, ...]:
        """The CoNLL-U columns this model fills beyond UPOS / HEAD / DEPREL."""
        return tuple(c for c in ("lemma", "xpos", "feats")
                     if (c == "lemma" and self.lemmas != "none") or (c != "lemma" and c in self.vocabs))


def canonical_feats(feats: str) -> str:
    """FEATS in the validator's order (features sorted case-insensitively), so that every prediction validates even
    when a training file has them out of order."""
    return feats if feats == "_" else "|".join(sorted(feats.split("|"), key=str.lower))


def _annotated(values: Sequence[str], forms: Sequence[str]) -> bool:
    """A column is annotated when some word has a value other than ``_`` (a form ``_`` may have lemma ``_``)."""
    return any(v != "_" for v, f in zip(values, forms) if f != "_")


def check_lemma_mode(lemmas: str) -> None:
    if lemmas not in LEMMA_MODES:
        raise UsageError(f"--lemmas {lemmas!r}; valid: {', '.join(LEMMA_MODES)}")


def build_tagset(train: Sequence[Sentence], lemmas: str = "auto") -> tuple[TagSet, list[str]]:
    """The heads a treebank supports, their label vocabularies, and notes that say what was left out and why."""
    check_lemma_mode(lemmas)
    forms = [f for s in train for f in s.forms]
    notes: list[str] = []
    vocabs: dict[str, LabelVocab] = {}
    feats = [canonical_feats(x) for s in train for x in s.feats]
    for name, values in (("xpos", [x for s in train for x in s.xpos]), ("feats", feats)):
        if _annotated(values, forms):
            vocabs[name] = LabelVocab.build(name, values, blank_is_label=True)
        else:
            notes.append(f"the training treebank has no {name.upper()} ('_' everywhere): no {name.upper()} head; "
                         f"predictions write '_' there")
    pairs = [(f, lem) for s in train for f, lem in zip(s.forms, s.lemmas) if lem != "_" or f == "_"]
    has_lemmas = _annotated([lem for s in train for lem in s.lemmas], forms)
    mode = lemmas if lemmas != "auto" else ("rules" if has_lemmas else "copy")
    if mode == "rules" and not has_lemmas:
        raise UsageError("--lemmas rules: the training treebank has no lemmas ('_' everywhere); use --lemmas copy "
                         "or none")
    if lemmas == "auto" and not has_lemmas:
        notes.append("the training treebank has no lemmas ('_' everywhere): LEMMA will be a copy of FORM "
                     "(--lemmas none writes '_')")
    if mode != "rules":
        return TagSet(vocabs, mode), notes
    unique = sorted(set(pairs))
    allow_copy = choose_allow_copy(unique)
    rule_of = {p: lemma_rule(*p, allow_copy) for p in unique}
    vocabs["lemma"] = LabelVocab("lemma", tuple(frequent_rules((rule_of[p] for p in pairs), MIN_RULE_COUNT)))
    return TagSet(vocabs, "rules", allow_copy), notes


def tag_targets(tagset: TagSet, sent: Sentence) -> dict[str, list[int]]:
    """Gold class ids of one training sentence for each head (``-100`` where gold is ``_`` or the rule is rare)."""
    out: dict[str, list[int]] = {}
    if "xpos" in tagset.vocabs:
        out["xpos"] = tagset.vocabs["xpos"].indices(sent.xpos)
    if "feats" in tagset.vocabs:
        out["feats"] = tagset.vocabs["feats"].indices([canonical_feats(f) for f in sent.feats])
    if "lemma" in tagset.vocabs:
        rules = [lemma_rule(f, lem, tagset.allow_copy) if lem != "_" or f == "_" else "" for f, lem in
                 zip(sent.forms, sent.lemmas)]
        out["lemma"] = tagset.vocabs["lemma"].indices(rules)
    return out


def tag_strings(tagset: TagSet, forms: Sequence[str], ids: dict[str, list[list[int]]]) -> dict[str, list[str]]:
    """One sentence's predicted columns as strings: ``ids`` are the heads' best label ids per word (best first)."""
    out: dict[str, list[str]] = {}
    for name in ("xpos", "feats"):
        if name in ids:
            out[name] = [tagset.vocabs[name].label(best[0]) for best in ids[name]]
    if tagset.lemmas == "copy":
        out["lemma"] = list(forms)
    elif tagset.lemmas == "rules" and "lemma" in ids:
        vocab = tagset.vocabs["lemma"]
        out["lemma"] = [pick_lemma(f, (vocab.label(i) for i in best)) for f, best in zip(forms, ids["lemma"])]
    return out


def tagset_from_saved(config: dict, vocabs: dict) -> TagSet:
    """The tag set of a saved model (models written before these heads have none: UPOS and the tree only)."""
    saved = config.get("tags") or {}
    return TagSet({name: LabelVocab.from_dict(vocabs[name]) for name in ("xpos", "feats", "lemma") if name in vocabs},
                  str(saved.get("lemmas", "none")), bool(saved.get("allow_copy", False)))
