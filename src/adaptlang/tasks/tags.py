"""The parser's optional columns: XPOS, FEATS and LEMMA (edit-script classes, or a copy of the form), decided from the
training treebank and saved with the model.

FEATS is one of:

- ``whole``: each FEATS string seen in training is a class (UDPipe 2's way: only combinations seen in training);
- ``split``: one classifier per feature (``feat:Case``, ``feat:Number`` ...) over its values and ``_`` (absent), the
  string assembled from the features predicted present (combinations never seen whole can be predicted).

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
FEATS_MODES = ("whole", "split")
FEAT_PREFIX = "feat:"  # the per-feature heads' names in split mode
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
        return {"lemmas": self.lemmas, "allow_copy": self.allow_copy, "feats": self.feats,
                "heads": sorted(self.vocabs)}

    @property
    def feat_heads(self) -> list[str]:
        """The per-feature heads (split mode), in a fixed order."""
        return sorted(k for k in self.vocabs if k.startswith(FEAT_PREFIX))

    @property
    def feats(self) -> str:
        """``split`` when FEATS has a head per feature, else ``whole`` (the saved vocabularies say which)."""
        return "split" if self.feat_heads else "whole"

    @property
    def columns(self) -> tuple[str, ...]:
        """The CoNLL-U columns this model fills beyond UPOS / HEAD / DEPREL."""
        has = {"lemma": self.lemmas != "none", "xpos": "xpos" in self.vocabs,
               "feats": "feats" in self.vocabs or bool(self.feat_heads)}
        return tuple(c for c in ("lemma", "xpos", "feats") if has[c])


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


def check_feats_mode(feats: str) -> None:
    if feats not in FEATS_MODES:
        raise UsageError(f"--feats {feats!r}; valid: {', '.join(FEATS_MODES)}")


def feature_values(feats: str) -> dict[str, str]:
    """``Case=Nom|Number=Sing`` -> ``{"Case": "Nom", "Number": "Sing"}`` (``_`` -> no features)."""
    if feats == "_":
        return {}
    return dict(pair.split("=", 1) if "=" in pair else (pair, "_") for pair in feats.split("|"))


def _split_feat_vocabs(feats: Sequence[str]) -> dict[str, LabelVocab]:
    """Split mode: a vocabulary per feature name over its values and ``_`` (absent)."""
    per_word = [feature_values(f) for f in feats]
    names = sorted({name for values in per_word for name in values})
    return {FEAT_PREFIX + name: LabelVocab.build(FEAT_PREFIX + name, (v.get(name, "_") for v in per_word),
                                                 blank_is_label=True) for name in names}


def build_tagset(train: Sequence[Sentence], lemmas: str = "auto", feats_mode: str = "whole"
                 ) -> tuple[TagSet, list[str]]:
    """The heads a treebank supports, their label vocabularies, and notes that say what was left out and why."""
    check_lemma_mode(lemmas)
    check_feats_mode(feats_mode)
    forms = [f for s in train for f in s.forms]
    notes: list[str] = []
    vocabs: dict[str, LabelVocab] = {}
    feats = [canonical_feats(x) for s in train for x in s.feats]
    for name, values in (("xpos", [x for s in train for x in s.xpos]), ("feats", feats)):
        if not _annotated(values, forms):
            notes.append(f"the training treebank has no {name.upper()} ('_' everywhere): no {name.upper()} head; "
                         f"predictions write '_' there")
        elif name == "feats" and feats_mode == "split":
            vocabs.update(_split_feat_vocabs(values))
        else:
            vocabs[name] = LabelVocab.build(name, values, blank_is_label=True)
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
    if tagset.feat_heads:
        per_word = [feature_values(f) for f in sent.feats]
        for head in tagset.feat_heads:
            name = head.removeprefix(FEAT_PREFIX)
            out[head] = tagset.vocabs[head].indices([v.get(name, "_") for v in per_word])
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
    heads = [h for h in tagset.feat_heads if h in ids]
    if heads:
        values = [[(h.removeprefix(FEAT_PREFIX), tagset.vocabs[h].label(ids[h][w][0])) for h in heads]
                  for w in range(len(forms))]
        out["feats"] = [canonical_feats("|".join(f"{n}={v}" for n, v in word if v != "_") or "_")
                        for word in values]
    if tagset.lemmas == "copy":
        out["lemma"] = list(forms)
    elif tagset.lemmas == "rules" and "lemma" in ids:
        vocab = tagset.vocabs["lemma"]
        out["lemma"] = [pick_lemma(f, (vocab.label(i) for i in best)) for f, best in zip(forms, ids["lemma"])]
    return out


def tagset_from_saved(config: dict, vocabs: dict) -> TagSet:
    """The tag set of a saved model (models written before these heads have none: UPOS and the tree only)."""
    saved = config.get("tags") or {}
    return TagSet({name: LabelVocab.from_dict(v) for name, v in vocabs.items()
                   if name in ("xpos", "feats", "lemma") or name.startswith(FEAT_PREFIX)},
                  str(saved.get("lemmas", "none")), bool(saved.get("allow_copy", False)))
