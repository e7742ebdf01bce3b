"""Donor suggestions in ``adaptlang assess``: which treebanks of related languages to train on with the target, in
which script, and the subword overlap before and after a transliteration into one script; ``--donor-dir``; the
printed ``train --donor`` commands; one-line errors; no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from adaptlang.assess.donors import (KNOWN_TREEBANKS, candidate_treebanks, overlap, scan_ud_dir, suggest_donors)
from adaptlang.assess.languages import language_knowledge
from adaptlang.assess.tokenizer import load_tokenizer
from adaptlang.errors import UsageError

REPO = Path(__file__).resolve().parents[1]


def conllu(sentences: list[str]) -> str:
    out = []
    for k, s in enumerate(sentences):
        words = s.split()
        out.append(f"# sent_id = {k}\n# text = {s}\n" + "".join(
            f"{i}\t{w}\t{w}\tX\t_\t_\t{0 if i == 1 else 1}\t{'root' if i == 1 else 'dep'}\t_\t_\n"
            for i, w in enumerate(words, start=1)) + "\n")
    return "".join(out)


def make_ud(root: Path, banks: dict[str, tuple[str, list[str]]]) -> Path:
    """UD folders ``{name: (file name, sentences)}`` under ``root``."""
    for name, (fname, sents) in banks.items():
        (root / name).mkdir(parents=True)
        (root / name / fname).write_text(conllu(sents), encoding="utf-8")
    return root


GERMAN = ["die katze sitzt auf der matte", "ein hund läuft im park", "wir lesen jeden tag bücher"]
ENGLISH = ["the cat sat on the mat", "a dog runs in the park"]
TURKISH = ["kedi paspasın üstünde oturdu", "köpek parkta koşuyor", "her gün kitap okuruz"]


def test_overlap_counts_types_and_tokens_and_never_unk() -> None:
    target = Counter({1: 6, 2: 3, 3: 1, 0: 10})  # id 0 = UNK
    o = overlap(target, [1, 3, 0, 9], unk=0)
    assert o.types == pytest.approx(2 / 4) and o.tokens == pytest.approx(7 / 20)
    assert overlap(Counter(), [1], unk=None).tokens == 0.0


def test_scan_ud_dir_finds_train_files_and_languages(tmp_path: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_Turkish-IMST": ("tr_imst-ud-train.conllu", TURKISH),
                                     "UD_Klingon-X": ("tlh_x-ud-test.conllu", ENGLISH)})
    (root / "UD_Turkish-IMST" / "tr_imst-ud-test.conllu").write_text(conllu(TURKISH[:1]), encoding="utf-8")
    found = {t.name: t for t in scan_ud_dir(root)}
    assert found["UD_Turkish-IMST"].path.endswith("tr_imst-ud-train.conllu") and found["UD_Turkish-IMST"].lang == "tr"
    assert found["UD_Klingon-X"].lang == "tlh"  # not in the embedded list: the file name's prefix
    assert [t.name for t in scan_ud_dir(root / "UD_Turkish-IMST")] == ["UD_Turkish-IMST"]  # one treebank folder
    names = [t.name for t in candidate_treebanks(root)]
    assert names.count("UD_Turkish-IMST") == 1 and "UD_Klingon-X" in names and len(names) == len(KNOWN_TREEBANKS) + 1
    with pytest.raises(UsageError, match="--donor-dir .*not a directory"):
        scan_ud_dir(tmp_path / "nowhere")
    (tmp_path / "empty" / "UD_X").mkdir(parents=True)
    with pytest.raises(UsageError, match="--donor-dir .*no CoNLL-U"):
        scan_ud_dir(tmp_path / "empty")


def test_related_treebanks_ranked_by_relation_then_overlap(tmp_path: Path, tiny_bert_dir: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_German-GSD": ("de_gsd-ud-train.conllu", GERMAN),
                                     "UD_English-EWT": ("en_ewt-ud-train.conllu", ENGLISH),
                                     "UD_Turkish-IMST": ("tr_imst-ud-train.conllu", TURKISH)})
    tok = load_tokenizer(tiny_bert_dir)
    sample = Counter("die katze läuft auf der matte im park".split())
    r = suggest_donors(tok, sample, "Latn", language_knowledge("gsw", None), donor_dir=root,
                       target_train="gsw-train.conllu")
    local = [d for d in r.donors if d.path]
    assert [d.treebank for d in local] == ["UD_German-GSD", "UD_English-EWT"]  # close, family; Turkish unrelated
    de, en = local
    assert de.relation == "close" and de.before.tokens > en.before.tokens > 0 and de.n_sentences == 3
    assert de.after is None and de.one_script.startswith("same script") and de.in_model is None
    assert r.commands[0] == f"adaptlang train --train gsw-train.conllu --donor {de.path} -o OUT"
    unmeasured = [d for d in r.donors if not d.path]
    assert unmeasured and all(d.before is None for d in unmeasured)  # e.g. Dutch-Alpino: listed, not measured
    order = [d.treebank for d in r.donors]
    assert order[0] == "UD_Swiss_German-UZH"  # the language itself first (not at hand here, so not measured)
    assert order.index("UD_English-EWT") < order.index("UD_Dutch-Alpino")  # family: measured overlap first
    json.dumps(r.to_dict())


def test_a_transliteration_that_puts_both_in_one_script_is_measured(tmp_path: Path, tiny_bert_dir: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_Turkish-IMST": ("tr_imst-ud-train.conllu", TURKISH)})
    tok = load_tokenizer(tiny_bert_dir)  # a Latin-script vocabulary: Cyrillic words are UNK
    sample = Counter("кеди паспасын отурду копек паркта".split())  # Kazakh-like, in Cyrillic
    r = suggest_donors(tok, sample, "Cyrl", language_knowledge("kk", "xlmr"), donor_dir=root, model="M")
    tr = next(d for d in r.donors if d.treebank == "UD_Turkish-IMST")
    assert tr.script == "Latn" and tr.in_model is True and tr.relation == "family"
    assert tr.before.tokens == 0.0  # only UNK in common
    assert tr.after is not None and tr.after.tokens > 0.2 and len(tr.tried) == 2
    assert tr.after.direction == "target" and tr.after.scheme.startswith("table:cyrl")
    assert f"--translit {tr.after.scheme} --model M" in r.commands[0] and "puts both in Latin" in tr.one_script


def test_the_corpus_own_treebank_is_not_its_donor_and_no_lang_says_so(tmp_path: Path, tiny_bert_dir: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_German-GSD": ("de_gsd-ud-train.conllu", GERMAN),
                                     "UD_German-PUD": ("de_pud-ud-test.conllu", GERMAN[:2])})
    tok = load_tokenizer(tiny_bert_dir)
    own = root / "UD_German-GSD" / "de_gsd-ud-train.conllu"
    r = suggest_donors(tok, Counter(GERMAN[0].split()), "Latn", language_knowledge("de", None), donor_dir=root,
                       corpus=str(own))
    local = [d.treebank for d in r.donors if d.path]
    assert local == ["UD_German-PUD"] and r.donors[0].relation == "same language"
    # A raw corpus: the target treebank is unknown, so no command proposes the language's own treebanks as donors
    raw = tmp_path / "raw.txt"
    raw.write_text(GERMAN[0] + "\n", encoding="utf-8")
    r = suggest_donors(tok, Counter(GERMAN[0].split()), "Latn", language_knowledge("de", None), donor_dir=root,
                       corpus=str(raw))
    assert [d.treebank for d in r.donors if d.path] == ["UD_German-GSD", "UD_German-PUD"]
    assert r.commands == () and "likely your target" in r.note
    none = suggest_donors(tok, Counter(["a"]), "Latn", language_knowledge(None, None))
    assert none.donors == () and "--lang" in none.note


def run_assess(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    from adaptlang.cli.main import main

    monkeypatch.setattr(sys, "argv", ["adaptlang", "assess", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_donors_and_commands(monkeypatch, capsys, tmp_path: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_German-GSD": ("de_gsd-ud-train.conllu", GERMAN)})
    corpus = tmp_path / "gsw.txt"
    corpus.write_text("d katz sitzt uf dr matte\nen hund lauft im park\n", encoding="utf-8")
    code, out, err = run_assess(monkeypatch, capsys, str(corpus), "--lang", "gsw", "--donor-dir", str(root))
    assert code == 0, err
    assert "8. Donor treebanks" in out and "German-GSD" in out and "--donor " in out
    assert "A donor is a candidate, not a gain" in out  # with the commands
    code, out, _ = run_assess(monkeypatch, capsys, str(corpus), "--lang", "gsw", "--donor-dir", str(root),
                              "--json", "-")
    d = json.loads(out)["donors"]
    measured = [x for x in d["donors"] if x["path"]]
    assert [x["treebank"] for x in measured] == ["UD_German-GSD"] and measured[0]["before"]["tokens"] > 0.3
    assert d["commands"][0].startswith("adaptlang train --train TARGET-train.conllu --donor ")  # corpus: raw text
    assert d["caution"].startswith("A donor is a candidate")
    code, out, _ = run_assess(monkeypatch, capsys, str(corpus), "--lang", "gsw")
    assert "not measured: pass --donor-dir" in out.replace("\n", " ") and "not a gain" not in out  # no commands


def test_cli_bad_donor_dir_is_one_line(monkeypatch, capsys, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n", encoding="utf-8")
    code, out, err = run_assess(monkeypatch, capsys, str(corpus), "--donor-dir", str(tmp_path / "missing"))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and "--donor-dir" in lines[0] and "Traceback" not in err


def test_assess_with_donors_loads_no_torch(tmp_path: Path) -> None:
    root = make_ud(tmp_path / "ud", {"UD_German-GSD": ("de_gsd-ud-train.conllu", GERMAN)})
    corpus = tmp_path / "gsw.txt"
    corpus.write_text("d katz sitzt uf dr matte\n", encoding="utf-8")
    code = ("import sys; from adaptlang.assess import assess_corpus; "
            f"r = assess_corpus({str(corpus)!r}, lang='gsw', donor_dir={str(root)!r}); "
            "assert r.donors.donors; print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_real_naija_shares_most_subwords_with_english(shared_ud: Path) -> None:
    """On the shared treebanks: Naija's close relative English is its first measured donor, with a high overlap."""
    naija = shared_ud / "UD_Naija-NSC" / "pcm_nsc-ud-test.conllu"
    from adaptlang.data.conllu import read_conllu

    sample = Counter(w for s in read_conllu(naija)[:300] for w in s.forms)
    r = suggest_donors(load_tokenizer(None), sample, "Latn", language_knowledge("pcm", "mbert"), donor_dir=shared_ud,
                       corpus=str(naija))
    measured = [d for d in r.donors if d.path]
    assert measured[0].lang == "en" and measured[0].relation == "close" and measured[0].before.tokens > 0.6
    assert all(d.lang != "pcm" for d in measured)  # the corpus's own treebank is not its donor
