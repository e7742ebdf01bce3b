"""Language knowledge: a model's pretraining languages (with their scripts) and a curated relatedness table.

Data (documented in ``resources/languages/README.md``):

* ``mbert.tsv``: the 104 Wikipedia languages of multilingual BERT; ``xlmr.tsv``: the 100 CC-100 languages of
  XLM-R; each row a language (code, name) and the scripts of its pretraining text.
* ``languages.tsv`` / ``relatives.tsv``: for the languages of the shared UD treebanks (and a few more of their
  families), their close relatives, lexical sources and family members.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from adaptlang.assess.scripts import script_name
from adaptlang.errors import UsageError
from adaptlang.langs import check_lang, same_language

DATA_DIR = Path(__file__).resolve().parents[1] / "resources" / "languages"

# Registry of pretraining-language lists: key -> (file, description).
PRETRAINING_LISTS: dict[str, tuple[str, str]] = {
    "mbert": ("mbert.tsv", "multilingual BERT: 104 Wikipedia languages"),
    "xlmr": ("xlmr.tsv", "XLM-RoBERTa: 100 CC-100 languages"),
}

# Vocabulary fingerprints (tokenizer kind, vocabulary size) of the models whose pretraining languages we ship.
# multilingual-e5 and Multilingual-MiniLM reuse XLM-R's tokenizer and were trained on text in its languages.
FINGERPRINTS: dict[tuple[str, int], str] = {
    ("wordpiece", 119547): "mbert",
    ("unigram", 250002): "xlmr",
}

RELATIONS = ("close", "lexical", "family")

def _read_tsv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as f:
        rows = [line for line in f if not line.startswith("#")]
    return list(csv.DictReader(rows, delimiter="\t"))


@dataclass(frozen=True)
class PretrainingLanguage:
    code: str
    name: str
    scripts: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "scripts": list(self.scripts)}


@lru_cache(maxsize=None)
def pretraining_languages(key: str) -> tuple[PretrainingLanguage, ...]:
    """The pretraining languages of a list in :data:`PRETRAINING_LISTS`."""
    if key not in PRETRAINING_LISTS:
        raise UsageError(f"unknown pretraining-language list {key!r}; valid: {', '.join(PRETRAINING_LISTS)}")
    return tuple(
        PretrainingLanguage(r["code"], r["name"], tuple(r["scripts"].split(",")))
        for r in _read_tsv(PRETRAINING_LISTS[key][0])
    )


@lru_cache(maxsize=None)
def _target_languages() -> dict[str, dict[str, str]]:
    return {r["code"]: r for r in _read_tsv("languages.tsv")}


@lru_cache(maxsize=None)
def _relatives() -> dict[str, list[dict[str, str]]]:
    table: dict[str, list[dict[str, str]]] = {}
    for r in _read_tsv("relatives.tsv"):
        if r["relation"] not in RELATIONS:
            raise ValueError(f"relatives.tsv: bad relation {r['relation']!r}")
        table.setdefault(r["language"], []).append(r)
    return table


def language_name(code: str) -> str:
    if code in _target_languages():
        return _target_languages()[code]["name"]
    for key in PRETRAINING_LISTS:
        for lang in pretraining_languages(key):
            if lang.code == code:
                return lang.name.split(" (")[0]
    try:
        import langcodes

        return langcodes.Language.get(code).display_name()
    except Exception:  # language names need the optional language_data package
        return code


def normalize_lang(code: str) -> str:
    """``--lang`` as the code the language tables use: checked by :func:`adaptlang.langs.check_lang` (UsageError for
    an unknown code), in its standard form (``uig`` -> ``ug``), and mapped to the tables' code of the same language
    (``arb`` Standard Arabic -> ``ar``, ``zsm`` -> ``ms``), so its pretraining scripts and relatives are found."""
    raw = code.strip()
    known = _known_codes()
    if raw in known:
        return raw
    std = check_lang(raw)
    if std in known:
        return std
    return next((k for k in known if same_language(std, k)), std)


@lru_cache(maxsize=None)
def _known_codes() -> tuple[str, ...]:
    """Codes of the curated tables first, then of the pretraining lists (the order in which a match is taken)."""
    codes = list(_target_languages()) + [c for c in _relatives() if c not in _target_languages()]
    for key in PRETRAINING_LISTS:
        codes.extend(lang.code for lang in pretraining_languages(key))
    return tuple(dict.fromkeys(codes))


def identify_pretraining(tok_kind: str, vocab_size: int, name: str) -> str | None:
    """Which shipped pretraining-language list describes this model: by vocabulary fingerprint, then by name."""
    found = FINGERPRINTS.get((tok_kind, vocab_size))
    if found:
        return found
    lowered = name.lower()
    if "xlm-r" in lowered or "xlmr" in lowered or "xlm_r" in lowered:
        return "xlmr"
    if "multilingual" in lowered and "bert" in lowered or "mbert" in lowered:
        return "mbert"
    return None


def _matches(code: str, other: str) -> bool:
    return same_language(code, other)


def scripts_in_model(code: str, key: str) -> tuple[str, ...]:
    """Scripts in which ``code`` was in the model's pretraining data (empty if it was not)."""
    scripts: list[str] = []
    for lang in pretraining_languages(key):
        if _matches(code, lang.code):
            scripts.extend(s for s in lang.scripts if s not in scripts)
    return tuple(scripts)


@dataclass(frozen=True)
class Relative:
    code: str
    name: str
    relation: str  # close | lexical | family
    note: str
    scripts_in_model: tuple[str, ...]  # empty when the relative is not a pretraining language

    @property
    def in_model(self) -> bool:
        return bool(self.scripts_in_model)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "relation": self.relation, "note": self.note,
            "in_model": self.in_model, "scripts_in_model": list(self.scripts_in_model),
        }


@dataclass(frozen=True)
class LanguageKnowledge:
    lang: str | None
    lang_name: str | None
    pretraining: str | None  # key of PRETRAINING_LISTS, or None when the model is not one we know
    pretraining_description: str | None
    n_pretraining_languages: int | None
    lang_scripts_in_model: tuple[str, ...]  # scripts the language itself was pretrained in
    relatives_known: bool  # the language is in the relatedness table
    relatives: tuple[Relative, ...]

    @property
    def in_model(self) -> bool | None:
        if self.lang is None or self.pretraining is None:
            return None
        return bool(self.lang_scripts_in_model)

    def relatives_in_model(self, relations: tuple[str, ...] = RELATIONS) -> tuple[Relative, ...]:
        return tuple(r for r in self.relatives if r.in_model and r.relation in relations)

    def relative_scripts(self, relations: tuple[str, ...] = RELATIONS) -> Counter:
        """How many pretrained relatives (of the given relations) use each script."""
        counts: Counter = Counter()
        for r in self.relatives_in_model(relations):
            counts.update(r.scripts_in_model)
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "lang_name": self.lang_name,
            "pretraining": self.pretraining,
            "pretraining_description": self.pretraining_description,
            "n_pretraining_languages": self.n_pretraining_languages,
            "in_model": self.in_model,
            "lang_scripts_in_model": list(self.lang_scripts_in_model),
            "relatives_known": self.relatives_known,
            "relatives": [r.to_dict() for r in self.relatives],
            "relative_scripts": {
                rel: {s: n for s, n in self.relative_scripts((rel,)).most_common()} for rel in RELATIONS
            },
        }


def language_knowledge(lang: str | None, pretraining: str | None) -> LanguageKnowledge:
    """What the model's pretraining data says about ``lang`` (already normalised) and its relatives."""
    desc = PRETRAINING_LISTS[pretraining][1] if pretraining else None
    n_langs = len(pretraining_languages(pretraining)) if pretraining else None
    if lang is None:
        return LanguageKnowledge(None, None, pretraining, desc, n_langs, (), False, ())
    rels = tuple(
        Relative(
            code=r["relative"],
            name=language_name(r["relative"]),
            relation=r["relation"],
            note=r["note"],
            scripts_in_model=scripts_in_model(r["relative"], pretraining) if pretraining else (),
        )
        for r in _relatives().get(lang, [])
    )
    return LanguageKnowledge(
        lang=lang,
        lang_name=language_name(lang),
        pretraining=pretraining,
        pretraining_description=desc,
        n_pretraining_languages=n_langs,
        lang_scripts_in_model=scripts_in_model(lang, pretraining) if pretraining else (),
        relatives_known=lang in _relatives(),
        relatives=rels,
    )


def describe_scripts(scripts: Counter | tuple[str, ...]) -> str:
    items = scripts.most_common() if isinstance(scripts, Counter) else [(s, 1) for s in scripts]
    return ", ".join(script_name(s) for s, _ in items) or "none"
