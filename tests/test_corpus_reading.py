"""Every raw-corpus reader reads CoNLL-U as sentences (never its rows), and one script detector answers everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptlang.data.corpus import CorpusStats, iter_sentences

CONLLU = """# sent_id = 1
# text = Salam dunya!
1\tSalam\tsalam\tINTJ\t_\t_\t0\troot\t_\t_
2\tdunya\tdunya\tNOUN\t_\t_\t1\tvocative\t_\tSpaceAfter=No
3\t!\t!\tPUNCT\t_\t_\t1\tpunct\t_\t_

# sent_id = 2
1-2\tdunyaga\t_\t_\t_\t_\t_\t_\t_\t_
1\tdunya\tdunya\tNOUN\t_\t_\t0\troot\t_\t_
2\tga\tga\tADP\t_\t_\t1\tcase\t_\t_
3\tbar\tbar\tVERB\t_\t_\t1\tconj\t_\t_

# sent_id = 3
# text = üçinçi jümle
1\tüçinçi\tüçinçi\tADJ\t_\t_\t2\tamod\t_\t_
2\tjümle\tjümle\tNOUN\t_\t_\t0\troot\t_\t_
"""
SENTENCES = ["Salam dunya!", "dunyaga bar", "üçinçi jümle"]
OL_CHIKI = "ᱥᱟᱱᱛᱟᱲᱤ ᱯᱟᱹᱨᱥᱤ ᱫᱚ ᱚᱞ ᱪᱤᱠᱤ ᱨᱮ ᱚᱞᱚᱜ ᱠᱟᱱᱟ᱾ 2024"


@pytest.fixture
def conllu_file(tmp_path: Path) -> Path:
    p = tmp_path / "corpus.conllu"
    p.write_text(CONLLU, encoding="utf-8")
    return p


def test_shared_reader_gives_sentence_texts(conllu_file):
    stats = CorpusStats()
    assert list(iter_sentences(conllu_file, stats=stats)) == SENTENCES
    assert stats.format == "conllu" and stats.n_sentences == 3


def test_adapt_reads_conllu_as_sentences(conllu_file):
    from adaptlang.adapt.corpus import read_corpus

    lines, sha = read_corpus(str(conllu_file))
    assert lines == SENTENCES  # one training line per sentence, not one per token row or comment
    assert len(sha) == 64


def test_adapt_reads_text_lines_unchanged(tmp_path):
    from adaptlang.adapt.corpus import read_corpus

    p = tmp_path / "raw.txt"
    p.write_text("  first line \n\n\tsecond\n# a line that starts with a hash\n", encoding="utf-8")
    lines, _ = read_corpus(str(p))
    assert lines == ["first line", "second", "# a line that starts with a hash"]


def test_adapt_corpus_hash_follows_the_sentences(tmp_path, conllu_file):
    from adaptlang.adapt.corpus import read_corpus

    text = tmp_path / "same.txt"
    text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    assert read_corpus(str(text)) == read_corpus(str(conllu_file))


def test_baseline_reads_conllu_as_sentences(conllu_file):
    from adaptlang.baseline import read_corpus_tokens

    lines = read_corpus_tokens(conllu_file, lowercase=True)
    assert len(lines) == 3
    assert lines[0][0] == "salam" and "sent_id" not in {t for line in lines for t in line}
    assert all("\t" not in t for line in lines for t in line)


def test_real_treebank_gives_one_line_per_sentence():
    from adaptlang.adapt.corpus import read_corpus
    from adaptlang.data.conllu import read_conllu

    root = Path(__file__).resolve().parents[2] / "shared" / "data"
    files = sorted(root.glob("**/*-ud-test.conllu")) if root.is_dir() else []
    if not files:
        pytest.skip("shared/data has no UD treebank")
    path = str(files[0])
    lines, _ = read_corpus(path)
    assert len(lines) == len(read_conllu(path))


def test_ol_chiki_is_olck_on_every_public_path():
    from adaptlang import scripts, translit
    from adaptlang.adapt import corpus as adapt_corpus
    from adaptlang.assess.scripts import script_profile
    from adaptlang.translit import scripts as translit_scripts

    assert scripts.dominant_script([OL_CHIKI]) == "Olck"
    assert scripts.dominant_script(OL_CHIKI) == "Olck"
    assert translit.dominant_script([OL_CHIKI]) == "Olck"
    assert translit_scripts.dominant_script([OL_CHIKI]) == "Olck"
    assert adapt_corpus.dominant_script([OL_CHIKI]) == "Olck"
    assert script_profile(OL_CHIKI).dominant_script == "Olck"


def test_dominant_script_counts_letters_only():
    from adaptlang.scripts import dominant_script, script_counts

    assert dominant_script(["123 ... !!", ""]) is None
    assert dominant_script(["Москва 2024 ok"]) == "Cyrl"
    assert script_counts("ئۇيغۇرچە abc 12")["Arab"] == 8
    assert set(script_counts("a\u0301 ,.")) == {"Latn"}  # the combining accent takes no script of its own
