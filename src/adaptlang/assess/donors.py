"""Donor treebanks for a target language: which UD treebanks of related languages to train on with it
(``adaptlang train --donor``), in which script they are, and whether a transliteration would put donor and target
into one script.

Candidates are the treebanks of the target language itself and of its relatives in the relatedness table
(``resources/languages/relatives.tsv``), from a small embedded list of UD treebanks (:data:`KNOWN_TREEBANKS`) and
from a local UD folder (``--donor-dir``). A donor whose files are at hand is *measured*: the subword overlap of the
target corpus with the donor's text under the model's tokenizer,

* type overlap: the share of the target sample's distinct subword pieces that occur in the donor's text;
* token overlap: the share of the target sample's subword tokens (pieces counted with their frequency) that do,

before and, when donor and target are in different scripts, after transliterating one into the other's script
(the scheme :func:`adaptlang.translit.base.pick_scheme` picks, donor -> target script and target -> donor script;
the better direction is kept). Ranking: same language, then close relatives, lexical sources, family members;
within a relation, donors the model was pretrained on first, then the measured token overlap (after the best
transliteration), then the donor's size.

Torch-free (the tokenizer is the ``tokenizers`` library), like the rest of ``assess``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from adaptlang.assess.languages import LanguageKnowledge, Relative
from adaptlang.assess.tokenizer import LoadedTokenizer, tokenize_words
from adaptlang.errors import InputError, UsageError

# UD treebank folder -> (language code as the relatedness table writes it, script of its text). The shared
# treebanks of this project, and the main treebank of each other language the relatedness table names.
KNOWN_TREEBANKS: dict[str, tuple[str, str]] = {
    "UD_Arabic-PADT": ("ar", "Arab"), "UD_Arabic-PUD": ("ar", "Arab"), "UD_Bambara-CRB": ("bm", "Latn"),
    "UD_Belarusian-HSE": ("be", "Cyrl"), "UD_Bulgarian-BTB": ("bg", "Cyrl"), "UD_Buryat-BDT": ("bxr", "Cyrl"),
    "UD_Central_Kurdish-Mukri": ("ckb", "Arab"), "UD_Czech-PDT": ("cs", "Latn"), "UD_Danish-DDT": ("da", "Latn"),
    "UD_Dutch-Alpino": ("nl", "Latn"), "UD_English-EWT": ("en", "Latn"), "UD_English-PUD": ("en", "Latn"),
    "UD_Erzya-JR": ("myv", "Cyrl"), "UD_Estonian-EDT": ("et", "Latn"), "UD_Faroese-FarPaHC": ("fo", "Latn"),
    "UD_Faroese-OFT": ("fo", "Latn"), "UD_Finnish-TDT": ("fi", "Latn"), "UD_French-GSD": ("fr", "Latn"),
    "UD_Georgian-GLC": ("ka", "Geor"), "UD_German-GSD": ("de", "Latn"), "UD_German-PUD": ("de", "Latn"),
    "UD_Hebrew-HTB": ("he", "Hebr"), "UD_Hindi-HDTB": ("hi", "Deva"), "UD_Hungarian-Szeged": ("hu", "Latn"),
    "UD_Icelandic-IcePaHC": ("is", "Latn"), "UD_Italian-ISDT": ("it", "Latn"), "UD_Kazakh-KTB": ("kk", "Cyrl"),
    "UD_Komi_Zyrian-Lattice": ("kpv", "Cyrl"), "UD_Kurmanji-MG": ("ku", "Latn"), "UD_Kyrgyz-KTMU": ("ky", "Cyrl"),
    "UD_Livvi-KKPP": ("olo", "Latn"), "UD_Maghrebi_Arabic_French-Arabizi": ("qaf", "Latn"),
    "UD_Maltese-MUDT": ("mt", "Latn"), "UD_Moksha-JR": ("mdf", "Cyrl"), "UD_Naija-NSC": ("pcm", "Latn"),
    "UD_Norwegian-Bokmaal": ("nb", "Latn"), "UD_Norwegian-Nynorsk": ("nn", "Latn"), "UD_Persian-Seraji": ("fa", "Arab"),
    "UD_Polish-PDB": ("pl", "Latn"), "UD_Russian-PUD": ("ru", "Cyrl"), "UD_Russian-SynTagRus": ("ru", "Cyrl"),
    "UD_Swedish-Talbanken": ("sv", "Latn"), "UD_Swiss_German-UZH": ("gsw", "Latn"), "UD_Tatar-NMCTT": ("tt", "Cyrl"),
    "UD_Turkish-BOUN": ("tr", "Latn"), "UD_Turkish-IMST": ("tr", "Latn"), "UD_Turkish-PUD": ("tr", "Latn"),
    "UD_Ukrainian-IU": ("uk", "Cyrl"), "UD_Urdu-UDTB": ("ur", "Arab"), "UD_Uyghur-UDT": ("ug", "Arab"),
    "UD_Uzbek-UT": ("uz", "Latn"), "UD_Wolof-WTB": ("wo", "Latn"), "UD_Yoruba-YTB": ("yo", "Latn"),
}
RELATION_ORDER = ("same language", "close", "lexical", "family")
MAX_DONOR_WORDS = 200_000  # words read from a donor's file for the overlap (the first ones)
MAX_COMMANDS = 3  # `train --donor` commands printed (one per donor language)


@dataclass(frozen=True)
class Overlap:
    """Subword overlap of the target sample with a donor's text (shares in [0, 1])."""

    types: float
    tokens: float
    scheme: str | None = None  # the transliteration applied (None: as written)
    direction: str | None = None  # "donor" (donor -> target's script) or "target" (target -> donor's script)


@dataclass(frozen=True)
class Donor:
    treebank: str  # UD folder name
    lang: str
    lang_name: str
    relation: str  # one of RELATION_ORDER
    script: str  # of the donor's text (measured when the files are at hand, else from KNOWN_TREEBANKS)
    in_model: bool | None  # the donor language is a pretraining language (None: the model's list is unknown)
    path: str | None  # the training file; None: not at hand (pass --donor-dir)
    n_sentences: int | None = None  # read from the file (all of them unless `truncated`)
    truncated: bool = False
    before: Overlap | None = None
    after: Overlap | None = None  # the best transliteration into one script; None when none applies
    tried: tuple[Overlap, ...] = ()  # every transliteration measured (donor -> target script, target -> donor's)
    one_script: str = ""  # how donor and target come into one script (or why they cannot)

    @property
    def best_tokens(self) -> float | None:
        shares = [o.tokens for o in (self.before, self.after) if o is not None]
        return max(shares) if shares else None

    def train_command(self, target_train: str, model: str | None) -> str:
        extra = ""
        if self.after is not None and self.before is not None and self.after.tokens > self.before.tokens:
            extra = (f" --donor-translit {self.after.scheme}" if self.after.direction == "donor"
                     else f" --translit {self.after.scheme}")
        model_opt = f" --model {model}" if model else ""
        return f"adaptlang train --train {target_train} --donor {self.path}{extra}{model_opt} -o OUT"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_tokens": self.best_tokens}


@dataclass(frozen=True)
class DonorSuggestions:
    target_lang: str | None
    target_script: str | None
    note: str  # why the list is empty or partial, or ""
    donors: tuple[Donor, ...]
    commands: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"target_lang": self.target_lang, "target_script": self.target_script, "note": self.note,
                "donors": [d.to_dict() for d in self.donors], "commands": list(self.commands),
                "caution": DONOR_CAUTION if self.commands else ""}


# printed with the train --donor commands: what the measurements behind them say (README, "Donor treebanks")
DONOR_CAUTION = ("A donor is a candidate, not a gain: keep it only if the run with it beats a run alone on the target's "
                 "dev set (`categorize --donor` measures it over seeds). Fine-tuning e5-small on Uyghur-UDT, a "
                 "Turkish-IMST donor lowered test LAS by 1.45 [0.71, 2.17] near convergence (the target at 41% of "
                 "each epoch, before the 50% floor of --target-share).")


# ---------------------------------------------------------------------------------------------------------------
# Treebanks: the embedded list and a local UD folder


@dataclass(frozen=True)
class Treebank:
    name: str
    lang: str
    script: str | None  # None: read from the file
    path: str | None  # the training file (or the largest CoNLL-U file)


def scan_ud_dir(directory: str | os.PathLike) -> list[Treebank]:
    """The treebanks of a UD folder (``UD_*`` subfolders, or one treebank folder itself): each one's training file
    (``*-ud-train.conllu``, else its largest ``.conllu``) and language (the file name's prefix, ``tr_imst-...``)."""
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"--donor-dir {directory}: not a directory; give a folder of UD treebanks (UD_*/)")
    folders = [root] if any(root.glob("*.conllu")) else sorted(p for p in root.iterdir() if p.is_dir())
    found = []
    for folder in folders:
        files = sorted(folder.glob("*.conllu"))
        if not files:
            continue
        train = [f for f in files if f.name.endswith("-ud-train.conllu")]
        path = train[0] if train else max(files, key=lambda f: f.stat().st_size)
        known = KNOWN_TREEBANKS.get(folder.name)
        lang = known[0] if known else path.name.split("_", 1)[0].split("-", 1)[0]
        found.append(Treebank(folder.name, lang, None, str(path)))
    if not found:
        raise UsageError(f"--donor-dir {directory}: no CoNLL-U files in it or in its subfolders")
    return found


def candidate_treebanks(donor_dir: str | os.PathLike | None) -> list[Treebank]:
    """The embedded list, with the treebanks found under ``donor_dir`` taking the place of the same names."""
    local = {t.name: t for t in scan_ud_dir(donor_dir)} if donor_dir else {}
    listed = [local.pop(name, Treebank(name, lang, script, None)) for name, (lang, script) in KNOWN_TREEBANKS.items()]
    return listed + list(local.values())


def read_forms(path: str) -> tuple[list[str], int, bool]:
    """The word forms of a CoNLL-U file's first sentences (up to MAX_DONOR_WORDS words), the number of sentences
    read, and whether the file goes on after them."""
    from adaptlang.data.conllu import iter_conllu

    forms: list[str] = []
    n_sentences = 0
    for s in iter_conllu(path):
        if len(forms) >= MAX_DONOR_WORDS:
            return forms, n_sentences, True
        n_sentences += 1
        forms.extend(s.forms)
    return forms, n_sentences, False


# ---------------------------------------------------------------------------------------------------------------
# Overlap


def piece_counts(tok: LoadedTokenizer, word_counts: Counter) -> Counter:
    """Subword piece ids of the words, counted with the words' frequencies (each distinct word tokenized once)."""
    words = list(word_counts)
    counts: Counter = Counter()
    for word, (ids, _) in zip(words, tokenize_words(tok, words)):
        for i in ids:
            counts[i] += word_counts[word]
    return counts


def overlap(target_pieces: Counter, donor_pieces: Iterable[int], unk: int | None, scheme: str | None = None,
            direction: str | None = None) -> Overlap:
    """The target's pieces (ids with counts) seen among the donor's. The unknown piece never counts as seen: two
    texts that share only UNK share nothing the model knows."""
    seen = set(donor_pieces) - {unk}
    n_tokens = sum(target_pieces.values())
    shared = [p for p in target_pieces if p in seen]
    return Overlap(types=len(shared) / max(1, len(target_pieces)),
                   tokens=sum(target_pieces[p] for p in shared) / max(1, n_tokens), scheme=scheme, direction=direction)


def _transliterated(word_counts: Counter, scheme: str, lang: str | None) -> Counter:
    from adaptlang.translit import get_transliterator

    t = get_transliterator(scheme, lang=lang)
    out: Counter = Counter()
    for word, n in word_counts.items():
        for w in (t.transliterate(word) or word).split():
            out[w] += n
    return out


def _measure(tb: Treebank, target_pieces: Counter, sample_counts: Counter, target_script: str | None,
             target_lang: str, tok: LoadedTokenizer) -> dict[str, Any]:
    """The fields of a Donor that need its files: script, size, overlap before and after transliteration."""
    from adaptlang.scripts import dominant_script
    from adaptlang.translit.base import pick_scheme

    assert tb.path is not None
    forms, n_sentences, truncated = read_forms(tb.path)
    if not forms:
        raise InputError(tb.path, "has no words; a donor treebank needs sentences")
    script = dominant_script(" ".join(forms)) or tb.script or "Zzzz"
    donor_counts = Counter(forms)
    donor_pieces = piece_counts(tok, donor_counts)
    unk = tok.unk_id
    before = overlap(target_pieces, donor_pieces, unk)
    tried = []
    if target_script and script != target_script:
        to_target = pick_scheme(script, tb.lang, target_script)
        if to_target:
            moved = piece_counts(tok, _transliterated(donor_counts, to_target, tb.lang))
            tried.append(overlap(target_pieces, moved, unk, to_target, "donor"))
        to_donor = pick_scheme(target_script, target_lang, script)
        if to_donor:
            moved = piece_counts(tok, _transliterated(sample_counts, to_donor, target_lang))
            tried.append(overlap(moved, donor_pieces, unk, to_donor, "target"))
    after = max(tried, key=lambda o: o.tokens) if tried else None
    return {"script": script, "n_sentences": n_sentences, "truncated": truncated, "before": before, "after": after,
            "tried": tuple(tried), "one_script": _one_script(script, target_script, after, target_lang, tb.lang)}


def _one_script(script: str, target_script: str | None, after: Overlap | None, target_lang: str,
                donor_lang: str) -> str:
    from adaptlang.assess.scripts import script_name
    from adaptlang.translit.base import pick_scheme

    if target_script is None or script == target_script:
        return f"same script ({script_name(script)})"
    if after is not None:
        moved = script_name(target_script if after.direction == "donor" else script)
        return f"{after.scheme} puts both in {moved} ({'the donor' if after.direction == 'donor' else 'the target'} " \
               "transliterated)"
    scheme = pick_scheme(script, donor_lang, target_script) or pick_scheme(target_script, target_lang, script)
    if scheme:
        return f"{scheme} would put both in one script (not measured: the donor's files are not at hand)"
    return f"no transliteration between {script_name(script)} and {script_name(target_script)} is known"


def _relation_of(lang: str, knowledge: LanguageKnowledge) -> tuple[str, Relative | None] | None:
    from adaptlang.langs import same_language

    assert knowledge.lang is not None
    if same_language(lang, knowledge.lang):
        return "same language", None
    for r in knowledge.relatives:
        if same_language(lang, r.code):
            return r.relation, r
    return None


def _ranked(donors: list[Donor]) -> list[Donor]:
    """Relation, then pretrained languages first, then languages by their best treebank's overlap, then (within a
    language, whose treebanks differ in overlap by their text's genre more than by the language) by size."""
    by_lang: dict[str, float] = {}
    for d in donors:
        by_lang[d.lang] = max(by_lang.get(d.lang, -1.0), d.best_tokens if d.best_tokens is not None else -1.0)
    return sorted(donors, key=lambda d: (RELATION_ORDER.index(d.relation), d.in_model is False, -by_lang[d.lang],
                                         d.lang, d.path is None, -(d.n_sentences or 0), d.treebank))


def _donor(tb: Treebank, relation: str, relative: Relative | None, knowledge: LanguageKnowledge,
           target_script: str | None, measure: Callable[[Treebank], dict[str, Any]]) -> Donor:
    from adaptlang.assess.languages import language_name

    if knowledge.pretraining is None:
        in_model = None
    else:
        in_model = bool(knowledge.lang_scripts_in_model) if relative is None else relative.in_model
    fields: dict[str, Any] = {"script": tb.script or "Zzzz", "one_script": ""}
    if tb.path is not None:
        fields = measure(tb)
    elif tb.script:
        fields["one_script"] = _one_script(tb.script, target_script, None, knowledge.lang or "", tb.lang)
    return Donor(treebank=tb.name, lang=tb.lang, lang_name=language_name(tb.lang), relation=relation,
                 in_model=in_model, path=tb.path, **fields)


def suggest_donors(tok: LoadedTokenizer, sample_counts: Counter, target_script: str | None,
                   knowledge: LanguageKnowledge, *, donor_dir: str | os.PathLike | None = None,
                   corpus: str | None = None, target_train: str | None = None,
                   model: str | None = None) -> DonorSuggestions:
    """Rank the treebanks of the target language and its relatives as donors (see the module docstring).

    ``sample_counts``: the target sample's words and counts (assess's sample); ``corpus``: the assessed file (the
    treebank folder holding it is not its own donor); ``target_train``: the target treebank named in the printed
    ``train`` commands (default: the corpus when it is CoNLL-U, else a placeholder).
    """
    if knowledge.lang is None:
        return DonorSuggestions(None, target_script, "pass --lang to rank the treebanks of related languages", (), ())
    target_pieces = piece_counts(tok, sample_counts)
    home = Path(corpus).resolve().parent if corpus and corpus != "-" else None

    def measure(tb: Treebank) -> dict[str, Any]:
        return _measure(tb, target_pieces, sample_counts, target_script, knowledge.lang or "", tok)

    donors = []
    for tb in candidate_treebanks(donor_dir):
        found = _relation_of(tb.lang, knowledge)
        if found is None or (home is not None and tb.path is not None and Path(tb.path).resolve().parent == home):
            continue
        donors.append(_donor(tb, found[0], found[1], knowledge, target_script, measure))
    donors = _ranked(donors)
    train = target_train or "TARGET-train.conllu"
    first_of_lang = {}
    for d in donors:  # one command per language: its first-ranked treebank at hand
        # with a raw corpus the target treebank is unknown, and a treebank of the language itself is most likely it
        own_unknown = target_train is None and d.relation == RELATION_ORDER[0]
        if d.path and d.lang not in first_of_lang and not own_unknown:
            first_of_lang[d.lang] = d
    commands = tuple(d.train_command(train, model) for d in first_of_lang.values())[:MAX_COMMANDS]
    note = _note(knowledge, donors, donor_dir)
    if target_train is None and any(d.path and d.relation == RELATION_ORDER[0] for d in donors):
        note = " ".join(filter(None, [note, "Treebanks of the language itself get no train --donor command: one of "
                                            "them is likely your target; assess the target treebank (CoNLL-U) to "
                                            "see the others as donors."]))
    return DonorSuggestions(knowledge.lang, target_script, note, tuple(donors), commands)


def _note(knowledge: LanguageKnowledge, donors: list[Donor], donor_dir: Any) -> str:
    if not knowledge.relatives_known:
        return f"{knowledge.lang_name}'s relatives are not in the relatedness table: only its own treebanks are listed"
    if not donors:
        return "no known treebank of the language or its relatives"
    if not any(d.path for d in donors):
        return ("not measured: pass --donor-dir with a folder of UD treebanks (UD_*/) to measure the subword overlap "
                "and print the train --donor commands" if donor_dir is None else
                f"none of these treebanks is in {donor_dir}")
    return ""
