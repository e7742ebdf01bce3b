"""Each table against words spelled in its standard's own examples (hand-checked, not copied from the output),
plus the table file format and engine rules."""

from __future__ import annotations

import pytest

from adaptlang.errors import InputError, UsageError
from adaptlang.translit import get_transliterator, list_schemes
from adaptlang.translit.table import TableTransliterator, load_tables, parse_table, tables_dir

# (scheme, source, expected) — expected spellings are those of the standards' documentation and common
# reference works (place names, numerals, textbook words).
EXAMPLES = [
    # ULY: apostrophe for a non-initial hamza carrier and between letters that would form a digraph.
    ("table:ug-uly", "ئۇيغۇر", "uyghur"),
    ("table:ug-uly", "ئۈرۈمچى", "ürümchi"),
    ("table:ug-uly", "قەشقەر", "qeshqer"),
    ("table:ug-uly", "شىنجاڭ", "shinjang"),
    ("table:ug-uly", "خوتەن", "xoten"),
    ("table:ug-uly", "تۇرپان", "turpan"),
    ("table:ug-uly", "بېيجىڭ", "béyjing"),
    ("table:ug-uly", "ژۇرنال", "zhurnal"),
    ("table:ug-uly", "سائەت", "sa'et"),
    ("table:ug-uly", "مەسئۇل", "mes'ul"),
    ("table:ug-uly", "جەمئىيەت", "jem'iyet"),
    ("table:ug-uly", "ئىنگلىز", "in'gliz"),
    ("table:ug-uly", "ئانا تىلى، ئۆي؟", "ana tili, öy?"),
    # Turkish-orthography (Common Turkic Alphabet letters).
    ("table:ug-turkish", "ئۇيغۇر", "uyğur"),
    ("table:ug-turkish", "ئۈرۈمچى", "ürümçi"),
    ("table:ug-turkish", "قەشقەر", "qäşqär"),
    ("table:ug-turkish", "شىنجاڭ", "şincañ"),
    ("table:ug-turkish", "ژۇرنال", "jurnal"),
    ("table:ug-turkish", "بېيجىڭ", "beyciñ"),
    ("table:ug-turkish", "ئىنگلىز", "ingliz"),
    # Hawar: the Sorani numerals one to ten, and textbook words.
    ("table:ckb-hawar", "یەک", "yek"),
    ("table:ckb-hawar", "دوو", "dû"),
    ("table:ckb-hawar", "سێ", "sê"),
    ("table:ckb-hawar", "چوار", "çwar"),
    ("table:ckb-hawar", "پێنج", "pênc"),
    ("table:ckb-hawar", "شەش", "şeş"),
    ("table:ckb-hawar", "حەوت", "hewt"),
    ("table:ckb-hawar", "هەشت", "heşt"),
    ("table:ckb-hawar", "نۆ", "no"),
    ("table:ckb-hawar", "دە", "de"),
    ("table:ckb-hawar", "کوردی", "kurdî"),
    ("table:ckb-hawar", "ئاو", "aw"),
    ("table:ckb-hawar", "شیر", "şîr"),
    ("table:ckb-hawar", "ئێوە", "êwe"),
    # Sindhi: the letters unique to Sindhi, in words.
    ("table:sd-turner", "ٻار", "ḇār"),
    ("table:sd-turner", "سنڌي", "sndhī"),
    ("table:sd-turner", "ڀت", "bht"),
    ("table:sd-turner", "ڏ ڄ ڳ ڊ ڙ ڻ ڱ ڃ ڪ ک", "ḏ j̄ g̠ ḍ ṛ ṇ ṅ ñ k kh"),
    ("table:sd-turner", "ٽ ٺ ٿ ڍ ڦ ڇ", "ṭ ṭh th ḍh ph ch"),
    ("table:sd-turner", "۽ ۾ ہ ؤ", "ẽ mẽ h ʼ"),
    # ... vowel marks next to long-vowel letters give one long vowel, never two.
    ("table:sd-turner", "سِنڌِي", "sindhī"),
    ("table:sd-turner", "ٻَارُ", "ḇāru"),
    ("table:sd-turner-plain", "ٻار ڳالهه", "bbār ggālhh"),
    ("table:sd-turner-plain", "سنڌي ۽", "sndhī ẽ"),
    # ALA-LC Arabic: unvocalized words keep consonants and long vowels; vowel marks are used when present.
    ("table:ar-alalc", "كِتَاب", "kitāb"),
    ("table:ar-alalc", "كتاب", "ktāb"),
    ("table:ar-alalc", "الكتاب", "al-ktāb"),
    ("table:ar-alalc", "قرآن", "qrʼān"),
    ("table:ar-alalc", "أحمد", "aḥmd"),
    ("table:ar-alalc", "نور", "nūr"),
    ("table:ar-alalc", "وزير", "wzīr"),
    ("table:ar-alalc", "ظ ض ص ط ع غ خ ذ ث", "ẓ ḍ ṣ ṭ ʻ gh kh dh th"),
    # Fully vowelled text: no doubled vowels (the shadda is typed after the kasra, Unicode's canonical order).
    ("table:ar-alalc", "اَلأَمِيرِكِيِّينَ", "al-ʼamīrikiyyīna"),
    ("table:ar-alalc", "كِتَابًا", "kitāban"),
    ("table:ar-alalc", "عَلَيْهِ", "ʻalayhi"),
    ("table:ar-alalc", "إِسْلَام", "islām"),
    ("table:ar-alalc", "قُوَّة سَيِّد", "quwwah sayyid"),
    ("table:ar-alalc", "پاکستان ہے", "pākstān he"),
    # ISO 9:1995, with the letters of Mari, Buryat, Komi, Kazakh and Erzya.
    ("table:cyrl-iso9", "Москва", "Moskva"),
    ("table:cyrl-iso9", "Чебоксары", "Čeboksary"),
    ("table:cyrl-iso9", "Щука", "Ŝuka"),
    ("table:cyrl-iso9", "съезд", "sʺezd"),
    ("table:cyrl-iso9", "Ярославль", "Âroslavlʹ"),
    ("table:cyrl-iso9", "Юрий", "Ûrij"),
    ("table:cyrl-iso9", "Эрзянь кель", "Èrzânʹ kelʹ"),
    ("table:cyrl-iso9", "Марий Эл", "Marij Èl"),
    ("table:cyrl-iso9", "ӱдыр ҥ ӓ ӧ ӹ", "üdyr ṅ ä ö ÿ"),
    ("table:cyrl-iso9", "үгэ һайн өөрөө", "ùgè ḥajn ôôrôô"),
    ("table:cyrl-iso9", "Қазақстан", "K̦azak̦stan"),
    ("table:cyrl-iso9", "әлем ғылым ұлт ің", "a̋lem ġylym u̇lt ìn̦"),
    ("table:cyrl-iso9", "Коми ӧтік", "Komi ötìk"),
    ("table:cyrl-iso9", "Јована Љубљана", "J̌ovana L̂ubl̂ana"),
    ("table:cyrl-iso9", "Башҡортостан ҙур", "Bašqortostan ður"),
    # ISO 9 with plain letters: ь ъ as ' ", Kazakh and South Slavic Latin letters; the other letters as ISO 9.
    ("table:cyrl-iso9-plain", "Кодь кодъяс", "Kod' kod\"jas"),
    ("table:cyrl-iso9-plain", "Щука Юрий Ярославль", "Ščuka Jurij Jaroslavl'"),
    ("table:cyrl-iso9-plain", "Қазақстан әлем ғылым ұлт ің", "Qazaqstan älem ğylym ūlt ìñ"),
    ("table:cyrl-iso9-plain", "Јована Љубљана", "Jovana Ljubljana"),
    ("table:cyrl-iso9-plain", "Коми ӧтік", "Komi ötìk"),
    # Georgian national system: place names as romanized officially (ejectives with an apostrophe).
    ("table:ka-national", "საქართველო", "sakartvelo"),
    ("table:ka-national", "თბილისი", "tbilisi"),
    ("table:ka-national", "ქუთაისი", "kutaisi"),
    ("table:ka-national", "მცხეთა", "mtskheta"),
    ("table:ka-national", "ბათუმი", "batumi"),
    ("table:ka-national", "ზუგდიდი", "zugdidi"),
    ("table:ka-national", "ფოთი", "poti"),
    ("table:ka-national", "ხაშური", "khashuri"),
    ("table:ka-national", "ჭიათურა", "ch'iatura"),
    ("table:ka-national", "წყალტუბო", "ts'q'alt'ubo"),
    ("table:ka-national", "ყვარელი", "q'vareli"),
    ("table:ka-national", "ღვინო ჟინვალი", "ghvino zhinvali"),
    ("table:ka-national", "მარგალური ნინა", "margaluri nina"),
    # ... and the examples of the BGN/PCGN (2009) statement of the system.
    ("table:ka-national", "მეღვინეთუხუცესი", "meghvinetukhutsesi"),
    ("table:ka-national", "ჭიანჭველა", "ch'ianch'vela"),
    ("table:ka-national", "ბაყაყი", "baq'aq'i"),
    # Controls: the inverse of ISO 9 and of ULY.
    ("table:latn-cyrl", "Moskva Čeboksary", "Москва Чебоксары"),
    ("table:latn-cyrl", "ŝuka", "щука"),
    ("table:latn-arab", "uyghur", "ئۇيغۇر"),
    ("table:latn-arab", "ana", "ئانا"),
    ("table:latn-arab", "Ürümchi", "ئۈرۈمچى"),
    ("table:latn-arab", "qeshqer", "قەشقەر"),
]


@pytest.mark.parametrize("scheme,source,expected", EXAMPLES)
def test_standard_examples(scheme, source, expected):
    assert get_transliterator(scheme).transliterate(source) == expected


def test_every_table_has_examples_and_a_reference():
    tested = {s for s, _, _ in EXAMPLES}
    for short, table in load_tables().items():
        assert f"table:{short}" in tested, short
        assert len(table.info.reference) > 20
        assert table.info.source_script != table.info.target_script


def test_iso9_reverses_exactly():
    t = get_transliterator("table:cyrl-iso9")
    back = get_transliterator("table:cyrl-iso9:reverse")
    text = "Эрзянь кель, Буряад хэлэн, Қазақстан, Марий Эл, ӧтік, Җир!"
    assert back.transliterate(t.transliterate(text)) == text
    assert back.info.source_script == "Latn" and back.target_script == "Cyrl"


def test_listed_schemes_include_reverse_of_reversible_tables():
    names = {s.name for s in list_schemes()}
    assert "table:cyrl-iso9:reverse" in names
    assert "table:ug-uly:reverse" not in names
    with pytest.raises(UsageError, match="not reversible"):
        get_transliterator("table:ug-uly:reverse")


HEADER = """# name: demo
# source_script: Latn
# target_script: Cyrl
# reference: a test table
# reversible: no
# vowels: a o
"""


def _demo(rules: str) -> TableTransliterator:
    return TableTransliterator(parse_table(HEADER + rules, "demo.tsv"))


def test_longest_match_first_and_contexts():
    t = _demo("s\tс\nsh\tш\nshch\tщ\nk\tК\tinitial\nk\tк\nn\tНФ\tfinal\nn\tн\nt\tТ\tbetween-vowels\nt\tт\n")
    assert t.transliterate("shchshs") == "щшс"
    # a and o have no rule: they pass through (Latin) and only serve as vowels for the contexts.
    assert t.transliterate("kok") == "Кoк"
    assert t.transliterate("non") == "нoНФ"
    assert t.transliterate("ata tat") == "aТa тaт"
    assert t.transliterate("n.n") == "НФ.НФ"  # punctuation is a word boundary


def test_case_auto_and_escapes():
    t = TableTransliterator(parse_table(HEADER.replace("# vowels", "# case: auto\n# vowels")
                                        + "sh\tш\na\tа\n\\u200c\t\n", "demo.tsv"))
    assert t.transliterate("Sha SHA a\u200ca") == "Ша ША аа"


@pytest.mark.parametrize("bad,message", [
    ("a\n", "source<TAB>target"),
    ("a\tb\tnowhere\n", "unknown context 'nowhere'"),
    ("\tb\n", "empty source"),
])
def test_bad_table_lines_name_file_and_line(bad, message):
    with pytest.raises(InputError, match=message) as e:
        parse_table(HEADER + "x\ty\n" + bad, "demo.tsv")
    assert "demo.tsv:8" in str(e.value)


def test_missing_header_field():
    with pytest.raises(InputError, match="reference"):
        parse_table("# name: x\n# source_script: Latn\n# target_script: Cyrl\n# reversible: no\na\tб\n", "t.tsv")


def test_tables_dir_env_override(tmp_path, monkeypatch):
    (tmp_path / "mine.tsv").write_text(HEADER.replace("demo", "mine") + "a\tб\n", encoding="utf-8")
    monkeypatch.setenv("ADAPTLANG_TRANSLIT_TABLES", str(tmp_path))
    assert tables_dir() == tmp_path
    assert get_transliterator("table:mine").transliterate("aa") == "бб"


def test_uly_agrees_with_the_uyghur_treebank_translit(shared_ud):
    """UD_Uyghur-UDT gives a Latin Translit= for each word: ULY with ë for é and without the apostrophes."""
    t = get_transliterator("table:ug-uly")
    n = agree = 0
    for path in sorted((shared_ud / "UD_Uyghur-UDT").glob("*.conllu")):
        for line in path.read_text(encoding="utf-8").splitlines():
            cols = line.split("\t")
            if len(cols) != 10:
                continue
            ref = [a[len("Translit="):] for a in cols[9].split("|") if a.startswith("Translit=")]
            if not ref:
                continue
            n += 1
            mine = t.transliterate(cols[1]).replace("é", "ë").replace("'", "")
            agree += mine == ref[0].replace("'", "")
    assert n > 30_000
    assert agree / n > 0.999


def test_uly_separates_every_letter_pair_that_would_read_as_a_digraph():
    t = get_transliterator("table:ug-uly")
    # ن+گ, ن+غ, س+ھ, ز+ھ, گ+ھ would otherwise read as ng, ng+h, sh, zh, gh.
    assert t.transliterate("نگ نغ سھ زھ گھ") == "n'g n'gh s'h z'h g'h"
    assert t.transliterate("ڭ ش ژ غ") == "ng sh zh gh"


def test_wheel_ships_the_tables(tmp_path):
    """A non-editable install gets the tables: the wheel holds them as package data."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo / name, src / name)
    shutil.copytree(repo / "translit_tables", src / "translit_tables")
    shutil.copytree(repo / "src", src / "src", symlinks=True,
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("adaptlang-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for short in load_tables():
        assert f"adaptlang/translit/tables/{short}.tsv" in names
