"""CoNLL-U reading/writing: lossless round trip, syntactic words, one-line errors with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptlang.data.conllu import conllu_text, parse_conllu_text, read_conllu, sentences_from_tokens
from adaptlang.data.vocab import IGNORE_INDEX, LabelVocab
from adaptlang.errors import InputError

RICH = """# newdoc id = d1
# sent_id = s1
# text = Del mar vino.
1-2	Del	_	_	_	_	_	_	_	_
1	De	de	ADP	_	_	3	case	3:case	_
2	el	el	DET	_	Definite=Def	3	det	3:det	_
3	mar	mar	NOUN	_	_	4	nsubj	4:nsubj	_
4	vino	venir	VERB	_	_	0	root	0:root	SpaceAfter=No
4.1	vino	venir	VERB	_	_	_	_	3:conj	_
5	.	.	PUNCT	_	_	4	punct	4:punct	_

# sent_id = s2
# text = Sí
1	Sí	sí	INTJ	_	_	0	root	0:root	_

"""


def test_round_trip_is_byte_for_byte_and_words_are_syntactic() -> None:
    sents = parse_conllu_text(RICH, require_tree=True)
    assert conllu_text(sents) == RICH
    s = sents[0]
    assert s.forms == ["De", "el", "mar", "vino", "."]  # range 1-2 and empty node 4.1 are not words
    assert s.heads == [3, 3, 4, 0, 4]
    assert s.sent_id == "s1" and s.text == "Del mar vino."


def test_with_predictions_changes_only_upos_head_deprel() -> None:
    s = parse_conllu_text(RICH)[0]
    p = s.with_predictions(["X"] * 5, [4, 3, 4, 0, 4], ["dep", "det", "nsubj", "root", "punct"])
    # the empty node 4.1 and the DEPS column (the enhanced graph, copied from the input) are kept as they are
    assert len(p.lines) == len(s.lines) and p.lines[8] == s.lines[8] == RICH.split("\n")[8]
    assert p.lines[8].startswith("4.1\tvino")
    for a, b in zip(s.lines, p.lines):
        ca, cb = a.split("\t"), b.split("\t")
        if len(ca) == 10 and ca[0].isdigit():
            assert [ca[i] for i in (0, 1, 2, 4, 5, 8, 9)] == [cb[i] for i in (0, 1, 2, 4, 5, 8, 9)]
        else:
            assert a == b  # comments, ranges and empty nodes untouched
    assert p.upos == ["X"] * 5 and p.heads[0] == 4 and p.forms == s.forms
    assert [line.split("\t")[3] for line in p.lines if line[0].isdigit() and "." not in line.split("\t")[0]
            and "-" not in line.split("\t")[0]] == ["X"] * 5


def test_predictions_on_a_sentence_with_an_empty_node_pass_the_ud_validator(tmp_path: Path) -> None:
    validator = pytest.importorskip("udtools.validator")
    import io

    sents = parse_conllu_text(RICH)
    pred = [sents[0].with_predictions(["ADP", "DET", "NOUN", "VERB", "PUNCT"], [3, 3, 4, 0, 4],
                                      ["case", "det", "obj", "root", "punct"]), sents[1]]
    path = tmp_path / "pred.conllu"
    path.write_text(conllu_text(pred), encoding="utf-8")
    assert "\n4.1\tvino\tvenir\tVERB\t_\t_\t_\t_\t3:conj\t_\n" in path.read_text(encoding="utf-8")
    report = io.StringIO()
    state = validator.Validator(lang="es", level=2, output=report).validate_files([str(path)])
    assert state.passed(), report.getvalue()


@pytest.mark.parametrize(
    "line, message",
    [
        ("1\tA\ta\tX\t_\t_\t0\troot\t_", "expected 10 tab-separated columns"),
        ("1\tA\ta\tX\t_\t_\tzero\troot\t_\t_", "HEAD 'zero' is not a non-negative integer"),
        ("1\tA\ta\tX\t_\t_\t-1\troot\t_\t_", "HEAD '-1' is not a non-negative integer"),
        ("1\tA\ta\tX\t_\t_\t7\troot\t_\t_", "HEAD 7 is out of range"),
        ("x\tA\ta\tX\t_\t_\t0\troot\t_\t_", "bad ID 'x'"),
        ("2\tA\ta\tX\t_\t_\t0\troot\t_\t_", "out-of-order word ID 2"),
    ],
)
def test_malformed_word_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    f = tmp_path / "bad.conllu"
    f.write_text(f"# sent_id = a\n1\tOk\tok\tX\t_\t_\t0\troot\t_\t_\n\n# sent_id = b\n{line}\n\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_conllu(f, require_tree=True)
    assert str(e.value).startswith(f"{f}:5: ")
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "body, message",
    [
        ("1\tA\t_\tX\t_\t_\t2\tdep\t_\t_\n2\tB\t_\tX\t_\t_\t1\tdep\t_\t_", "no root"),
        ("1\tA\t_\tX\t_\t_\t0\troot\t_\t_\n2\tB\t_\tX\t_\t_\t0\troot\t_\t_", "2 roots"),
        ("1\tA\t_\tX\t_\t_\t0\troot\t_\t_\n1\tB\t_\tX\t_\t_\t1\tdep\t_\t_", "duplicate word ID 1"),
        ("1\tA\t_\tX\t_\t_\t0\troot\t_\t_\n2\tB\t_\tX\t_\t_\t3\tdep\t_\t_\n3\tC\t_\tX\t_\t_\t2\tdep\t_\t_", "cycle"),
        ("1\tA\t_\tX\t_\t_\t1\troot\t_\t_", "its own HEAD"),
    ],
)
def test_malformed_trees(tmp_path: Path, body: str, message: str) -> None:
    f = tmp_path / "t.conllu"
    f.write_text(body + "\n\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as e:
        read_conllu(f, require_tree=True)
    assert str(e.value).startswith(f"{f}:")


def test_unannotated_heads_allowed_for_prediction_input(tmp_path: Path) -> None:
    f = tmp_path / "raw.conllu"
    f.write_text("1\tA\t_\t_\t_\t_\t_\t_\t_\t_\n2\tB\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    (s,) = read_conllu(f)
    assert s.heads == [None, None] and not s.is_annotated
    with pytest.raises(InputError, match="tree is required"):
        read_conllu(f, require_tree=True)


def test_empty_and_binary_files(tmp_path: Path) -> None:
    f = tmp_path / "empty.conllu"
    f.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="no sentences"):
        read_conllu(f)
    with pytest.raises(InputError, match="no such file"):
        read_conllu(tmp_path / "missing.conllu")


def test_sentences_from_tokens() -> None:
    sents = sentences_from_tokens([(1, "a  b c"), (2, ""), (3, "d")])
    assert [s.forms for s in sents] == [["a", "b", "c"], ["d"]]
    out = conllu_text([sents[1].with_predictions(["X"], [0], ["root"])])
    assert out == "# sent_id = 2\n# text = d\n1\td\t_\tX\t_\t_\t0\troot\t_\t_\n\n"


def test_label_vocab_unknown_labels() -> None:
    v = LabelVocab.build("deprel", ["nsubj", "root", "nsubj", "_", "obj"])
    assert v.labels == ("nsubj", "obj", "root")
    assert v.index("nmod") == IGNORE_INDEX and "nmod" not in v
    assert LabelVocab.from_dict(v.to_dict()) == v


def test_round_trip_on_a_shared_treebank(shared_ud: Path) -> None:
    f = shared_ud / "UD_Wolof-WTB" / "wo_wtb-ud-dev.conllu"
    sents = read_conllu(f, require_tree=True)
    assert conllu_text(sents).encode("utf-8") == f.read_bytes()


@pytest.mark.slow
def test_round_trip_on_every_shared_treebank(shared_ud: Path) -> None:
    files = sorted(shared_ud.glob("*/*.conllu"))
    assert files
    for f in files:
        sents = read_conllu(f, require_tree=True)
        assert conllu_text(sents).encode("utf-8") == f.read_bytes(), f
