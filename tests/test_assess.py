"""``adaptlang.assess``: each figure on small hand-checkable inputs (tiny tokenizers built in-process), then the real
mBERT / XLM-R vocabularies from ../shared where present."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from adaptlang.assess import assess_corpus
from adaptlang.assess.category import MAX_EASY_FERTILITY, predict_category
from adaptlang.assess.languages import (
    identify_pretraining,
    language_knowledge,
    normalize_lang,
    pretraining_languages,
    scripts_in_model,
)
from adaptlang.assess.scripts import is_mixed_script, script_profile
from adaptlang.scripts import char_script
from adaptlang.assess.tokenizer import (
    char_coverage,
    load_tokenizer,
    pieces_by_script,
    tokenizer_metrics,
    vocab_profile,
)
from adaptlang.data.corpus import CorpusStats, iter_sentences
from adaptlang.errors import InputError, ModelError, UsageError

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------- helpers

def wordpiece_dir(tmp_path: Path, extra: tuple[str, ...] = ()) -> Path:
    vocab = {p: i for i, p in enumerate(["[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "ab", "##b", "##c", "##a", *extra])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    d = tmp_path / "wp"
    d.mkdir()
    tok.save(str(d / "tokenizer.json"))
    return d


def unigram_dir(tmp_path: Path) -> Path:
    vocab = [("<unk>", 0.0), ("▁", -2.0), ("▁ab", -1.0), ("a", -3.0), ("b", -3.0), ("c", -3.0), ("▁a", -2.5)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    d = tmp_path / "sp"
    d.mkdir()
    tok.save(str(d / "tokenizer.json"))
    return d


# ---------------------------------------------------------------------------------------------------------- scripts

def test_char_script_is_the_unicode_script_property():
    assert char_script("a") == "Latn"
    assert char_script("ж") == "Cyrl"
    assert char_script("ۈ") == "Arab"  # Uyghur letter, outside the basic Arabic block
    assert char_script("3") == "Zyyy"
    assert char_script("\u0301") == "Zinh"


def test_script_profile_counts_letters_only():
    p = script_profile("abc жж 12 !")
    assert p.n_letters == 5
    assert p.n_chars == 8  # whitespace excluded
    assert [(s.script, s.n_letters) for s in p.scripts] == [("Latn", 3), ("Cyrl", 2)]
    assert p.share_of("Latn") == pytest.approx(3 / 5)
    assert p.dominant_script == "Latn"
    assert p.n_words == 4


def test_mixed_script_words():
    assert is_mixed_script("Mосква")  # Latin M + Cyrillic
    assert not is_mixed_script("Москва")
    assert not is_mixed_script("3ayla")  # Arabizi digits are Common, not a script
    assert not is_mixed_script("日本語です")  # kanji + kana is one writing system
    p = script_profile("Mосква Москва Москва hello")
    assert p.n_mixed_script_words == 1
    assert p.mixed_script_word_share == pytest.approx(1 / 4)
    assert p.mixed_script_examples == ("Mосква",)
    p = script_profile("3ayla 7abibi salam 2024")
    assert p.letter_digit_word_share == pytest.approx(2 / 4) and p.n_mixed_script_words == 0


# -------------------------------------------------------------------------------------------------------- tokenizer

def test_wordpiece_metrics_by_hand(tmp_path):
    tok = load_tokenizer(wordpiece_dir(tmp_path))
    assert tok.kind == "wordpiece" and tok.continuation_prefix == "##" and tok.unk_id == 0
    # ab -> ab (1); abc -> ab ##c (2); bc -> b ##c (2, single characters); xyz -> [UNK] (1)
    m = tokenizer_metrics(tok, Counter({"ab": 2, "abc": 1, "bc": 1, "xyz": 1}))
    assert m.n_words == 5 and m.n_distinct_words == 4
    assert m.n_pieces == 2 * 1 + 2 + 2 + 1
    assert m.fertility == pytest.approx(7 / 5)
    assert m.continued_word_rate == pytest.approx(2 / 5)
    assert m.unk_piece_rate == pytest.approx(1 / 7)
    assert m.unk_word_rate == pytest.approx(1 / 5)
    assert m.char_split_word_rate == pytest.approx(1 / 5)


def test_sentencepiece_standalone_marker_does_not_count(tmp_path):
    tok = load_tokenizer(unigram_dir(tmp_path))
    assert tok.kind == "unigram" and tok.word_start_marker == "▁" and tok.unk_id == 0
    raw = tok.backend.encode("cab", add_special_tokens=False).tokens
    assert raw == ["▁", "c", "a", "b"]  # the standalone marker is there in the raw encoding...
    # ab -> ▁ab (1); c -> [▁] c (1); cab -> [▁] c a b (3, single characters); abz -> ▁ab <unk> (2)
    m = tokenizer_metrics(tok, Counter({"ab": 1, "c": 1, "cab": 1, "abz": 1}))
    assert m.n_pieces == 1 + 1 + 3 + 2  # ...but not in the counts
    assert m.fertility == pytest.approx(7 / 4)
    assert m.continued_word_rate == pytest.approx(2 / 4)
    assert m.unk_piece_rate == pytest.approx(1 / 7)
    assert m.unk_word_rate == pytest.approx(1 / 4)
    assert m.char_split_word_rate == pytest.approx(1 / 4)


def test_character_coverage_and_vocab_profile(tmp_path):
    tok = load_tokenizer(wordpiece_dir(tmp_path, extra=("ж", "##ж", "жa")))
    counts = Counter("aab zж")
    verdict = char_coverage(tok, counts)
    assert verdict == {"a": "ok", "b": "ok", "z": "unk", "ж": "ok"}
    by_script = pieces_by_script(tok)
    # a b c ab ##b ##c ##a and [UNK] [CLS] [SEP] (not marked special in this tiny file): Latin 10;
    # ж ##ж: Cyrillic 2; жa: mixed 1
    assert by_script == Counter({"Latn": 10, "Cyrl": 2, "mixed": 1})
    vp = vocab_profile(tok, counts, [("Latn", 0.8), ("Cyrl", 0.2)])
    assert vp.char_coverage == pytest.approx(4 / 5)  # a a b ж known, z not (space excluded)
    assert vp.n_unk_chars == 1
    latn = vp.coverage_of("Latn")
    assert latn.letter_coverage == pytest.approx(3 / 4) and latn.uncovered_letters == ("z",)
    assert vp.coverage_of("Cyrl").letter_coverage == 1.0


def test_model_path_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a tokenizer directory"):
        load_tokenizer(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read tokenizer.json"):
        load_tokenizer(tmp_path / "bad")
    with pytest.raises(ModelError, match="no such directory"):
        load_tokenizer(str(tmp_path / "missing"))
    f = tmp_path / "f.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(ModelError, match="is a file"):
        load_tokenizer(f)


# -------------------------------------------------------------------------------------------------------- languages

def test_pretraining_lists_are_complete():
    assert len(pretraining_languages("mbert")) == 104
    assert len(pretraining_languages("xlmr")) == 100
    assert scripts_in_model("ug", "mbert") == ()
    assert scripts_in_model("ug", "xlmr") == ("Arab",)
    assert scripts_in_model("hi", "xlmr") == ("Deva", "Latn")  # Hindi and "Hindi Romanize"
    assert scripts_in_model("nb", "xlmr") == ("Latn",)  # Norwegian listed as "no"
    with pytest.raises(UsageError, match="valid: mbert, xlmr"):
        pretraining_languages("gpt")


def test_normalize_lang():
    assert normalize_lang("uig") == "ug"
    assert normalize_lang("gsw") == "gsw"
    assert normalize_lang("qaf") == "qaf"  # UD's code for Maghrebi Arabic-French, in the relatedness table
    for bad in ("xx", "123", "english"):
        with pytest.raises(UsageError, match="--lang"):
            normalize_lang(bad)


def test_identify_pretraining():
    assert identify_pretraining("wordpiece", 119547, "whatever") == "mbert"
    assert identify_pretraining("unigram", 250002, "x") == "xlmr"
    assert identify_pretraining("bpe", 50000, "my/xlm-roberta-copy") == "xlmr"
    assert identify_pretraining("bpe", 50000, "gpt2") is None


def test_relatives_of_uyghur():
    k = language_knowledge("ug", "mbert")
    assert k.in_model is False and k.relatives_known
    uz = next(r for r in k.relatives if r.code == "uz")
    assert uz.relation == "close" and uz.scripts_in_model == ("Latn",)
    assert k.relative_scripts(("close",)) == Counter({"Latn": 1})


# --------------------------------------------------------------------------------------------------------- category

def _predict(tmp_path: Path, text: str, lang: str | None, pretraining: str = "mbert", extra: tuple[str, ...] = ()):
    tmp_path.mkdir(exist_ok=True)
    tok = load_tokenizer(wordpiece_dir(tmp_path, extra))
    prof = script_profile(text)
    vp = vocab_profile(tok, Counter(text), [(s.script, s.share) for s in prof.scripts])
    m = tokenizer_metrics(tok, Counter(text.split()))
    return predict_category(prof, vp, m, language_knowledge(lang, pretraining))


def test_rule_coverage_is_hard(tmp_path):
    p = _predict(tmp_path, "ab xyz", "gsw")
    assert p.category == "hard" and p.rule == "coverage"


def test_rule_script_mismatch_is_hard(tmp_path):
    # Uyghur in a script the tiny vocabulary covers fully, but mBERT knows Uzbek only in Latin script
    p = _predict(tmp_path, "жж жж", "ug", extra=("ж", "жж"))
    assert p.category == "hard" and p.rule == "script-mismatch"
    assert p.target_script == "Latn"
    assert "Uzbek" in p.reasons[0]


def test_rule_close_relative_same_script_is_easy(tmp_path):
    p = _predict(tmp_path, "ab ab abc", "gsw")  # Swiss German: German pretrained in Latin; fertility 4/3
    assert 4 / 3 <= MAX_EASY_FERTILITY
    assert p.category == "easy" and p.rule == "relative-in-script"


def test_rule_pretrained_language_is_easy(tmp_path):
    p = _predict(tmp_path, "ab ab abc", "de")
    assert p.category == "easy" and p.rule == "pretrained"
    # XLM-R saw Uyghur in Arabic script only; Uyghur in Latin script leans on Uzbek, pretrained in Latin script
    p = _predict(tmp_path / "x", "ab ab abc", "ug", pretraining="xlmr")
    assert p.category == "easy" and p.rule == "relative-in-script" and "Uzbek" in p.reasons[0]


def test_rule_close_relative_with_high_fragmentation_is_intermediate(tmp_path):
    p = _predict(tmp_path, "bcbcbc bcbcbc", "gsw")  # b ##c ##b ##c ...: 6 pieces per word
    assert p.category == "intermediate" and "high fragmentation" in p.reasons[1]


def test_rule_default_is_intermediate(tmp_path):
    assert _predict(tmp_path / "1", "ab ab", "wo").category == "intermediate"  # no close relative pretrained
    pred = _predict(tmp_path / "2", "ab ab", None)
    assert pred.category == "intermediate" and "no --lang" in pred.reasons[0]


# ----------------------------------------------------------------------------------------------------------- corpus

CONLLU = """# sent_id = 1
# text = Salam dunya!
1	Salam	_	_	_	_	0	root	_	_
2	dunya	_	_	_	_	1	obj	_	SpaceAfter=No
3	!	_	_	_	_	1	punct	_	_

# sent_id = 2
1-2	dunyaga	_	_	_	_	_	_	_	_
1	dunya	_	_	_	_	0	root	_	_
2	ga	_	_	_	_	1	case	_	_
2.1	x	_	_	_	_	_	_	_	_
3	bar	_	_	_	_	1	obj	_	_

"""


def test_corpus_reads_conllu_text_lines_or_forms(tmp_path):
    f = tmp_path / "c.conllu"
    f.write_text(CONLLU, encoding="utf-8")
    stats = CorpusStats()
    assert list(iter_sentences(f, stats=stats)) == ["Salam dunya!", "dunyaga bar"]
    assert stats.format == "conllu" and stats.n_sentences == 2


def test_corpus_reads_text_with_bom_and_crlf(tmp_path):
    f = tmp_path / "t.txt"
    f.write_bytes(b"\xef\xbb\xbfone two\r\n\r\n  three  \r\n")
    stats = CorpusStats()
    assert list(iter_sentences(f, stats=stats)) == ["one two", "three"]
    assert stats.format == "text" and stats.had_bom and stats.had_crlf


# ------------------------------------------------------------------------------------------------------ end to end

def test_assess_corpus_on_tiny_tokenizer(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("ab abc\nbc xyz\nab\n", encoding="utf-8")
    r = assess_corpus(f, model=wordpiece_dir(tmp_path), lang="gsw", translit="none")
    assert r.corpus.n_sentences == 3 and r.sample.whole_corpus
    assert r.tokenizer.n_words == 5 and r.tokenizer.fertility == pytest.approx(7 / 5)
    assert r.model["pretraining"] is None  # a tiny tokenizer is not mBERT or XLM-R
    assert r.prediction.category == "hard"  # x, y, z are unknown letters
    d = r.to_dict()
    assert d["prediction"]["is_prediction"] is True and d["recommendation"]["command"].startswith("adaptlang ")


def test_assess_corpus_samples_and_reports_it(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("".join(f"ab abc {i}\n" for i in range(50)), encoding="utf-8")
    r = assess_corpus(f, model=wordpiece_dir(tmp_path), sample_sentences=10, translit="none")
    assert r.sample.n_sentences == 10 and not r.sample.whole_corpus
    assert r.scripts.n_words == 150  # the script profile covers the whole corpus
    assert r.tokenizer.n_words == 30


def test_assess_corpus_input_errors(tmp_path):
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        assess_corpus(empty)
    digits = tmp_path / "d.txt"
    digits.write_text("12 34\n", encoding="utf-8")
    with pytest.raises(InputError, match="no letters"):
        assess_corpus(digits)


def test_default_embedded_vocabulary_on_example():
    r = assess_corpus(REPO / "examples" / "uyghur-udt-excerpt.txt", lang="ug")
    assert r.model["kind"] == "wordpiece" and r.model["vocab_size"] == 119547 and r.model["pretraining"] == "mbert"
    assert r.scripts.dominant_script == "Arab"
    assert r.prediction.category == "hard"
    assert r.translit.status == "computed" and r.translit.after_dominant_script == "Latn"
    assert r.translit.after.unk_word_rate < r.translit.before.unk_word_rate
    assert "--translit" in r.recommendation.command


# ----------------------------------------------------------------------------------------------- real vocabularies

def test_real_xlmr_standalone_marker(shared_vocab):
    tok = load_tokenizer(shared_vocab / "xlm-roberta")
    assert tok.kind == "unigram" and tok.vocab_size == 250002 and tok.word_start_marker == "▁"
    words = ["ۋوگزال", "ئۇيغۇر", "(test)", "hello"]  # XLM-R: ۋوگزال -> ▁ ۋ و گز ال
    raw = [e.tokens for e in tok.backend.encode_batch(words, add_special_tokens=False)]
    m = tokenizer_metrics(tok, Counter(words))
    assert m.n_pieces == sum(len(t) - t.count("▁") for t in raw)
    assert any("▁" in t for t in raw)  # the case the rule is for does occur


@pytest.mark.slow
def test_real_mbert_and_xlmr_on_uyghur(shared_vocab, shared_ud):
    f = shared_ud / "UD_Uyghur-UDT" / "ug_udt-ud-test.conllu"
    mb = assess_corpus(f, lang="ug", translit="none")
    xr = assess_corpus(f, model=shared_vocab / "xlm-roberta", lang="ug", translit="none")
    assert mb.corpus.format == "conllu"
    assert mb.prediction.category == "hard"
    assert xr.model["pretraining"] == "xlmr" and xr.language.in_model  # XLM-R saw Uyghur in Arabic script
    assert xr.prediction.category != "hard"
    assert xr.vocabulary.coverage_of("Arab").letter_coverage > mb.vocabulary.coverage_of("Arab").letter_coverage


# ------------------------------------------------------------------------------------------------------- properties

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_script_profile_never_crashes_and_adds_up(text):
    p = script_profile(text)
    assert p.n_letters <= p.n_chars
    assert p.n_mixed_script_words <= p.n_words == len(text.split())
    if p.n_letters:
        assert sum(s.share for s in p.scripts) == pytest.approx(1.0)
        assert p.dominant_script == p.scripts[0].script
    else:
        assert p.dominant_script is None and p.scripts == ()


_TINY: dict[str, object] = {}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8).filter(lambda w: w.split() == [w]), min_size=1, max_size=10))
def test_tokenizer_metrics_are_rates(tmp_path_factory, words):
    if "tok" not in _TINY:
        _TINY["tok"] = load_tokenizer(wordpiece_dir(tmp_path_factory.mktemp("tiny")))
    m = tokenizer_metrics(_TINY["tok"], Counter(words))
    assert m.n_words == len(words)
    for rate in (m.continued_word_rate, m.unk_piece_rate, m.unk_word_rate, m.char_split_word_rate):
        assert 0.0 <= rate <= 1.0
    assert m.char_split_word_rate <= m.continued_word_rate


def test_relatedness_table_is_consistent():
    from adaptlang.assess.languages import RELATIONS, _read_tsv

    targets = {r["code"] for r in _read_tsv("languages.tsv")}
    rows = _read_tsv("relatives.tsv")
    assert rows and all(r["relation"] in RELATIONS for r in rows)
    assert {r["language"] for r in rows} <= targets  # every language with relatives is described
    shared = {"ug", "wo", "mt", "fo", "pcm", "gsw", "bm", "myv", "olo", "bxr", "kpv", "ckb", "qaf"}
    assert shared <= {r["language"] for r in rows}  # the unseen languages of the shared UD treebanks
    assert all(r["note"] for r in rows)
