"""Every letter of the standard alphabet of each table's language is mapped (none is left in the source script).

The alphabets are written out here (no CLDR package is installed), each with its source:

* Uyghur: the 32 letters of the Uyghur Ereb Yéziqi (UEY) as standardised in 1983 (the letter list of the ULY
  standard's correspondence table), with the hamza carrier ئ.
* Sorani Kurdish: the 34 letters of the Kurdish (Sorani) alphabet of the Kurdistan Region's school books, as
  listed in CLDR's exemplar characters for ckb, plus ھ (U+06BE), which many texts use for h.
* Sindhi: the 52 letters of the Sindhi alphabet of the Sindhi Adabi Board (1853 standard, digraphs written with
  ھ), plus the letters CLDR lists for sd beyond them: آ أ ؤ ئ ۽ (U+06FD, "and") ۾ ہ (U+06C1) ی.
* Arabic script (generic ALA-LC table): the 28 Arabic letters with ء آ أ إ ؤ ئ ة ى, the Persian letters پ چ ژ گ
  ک ی, and the Urdu letters ٹ ڈ ڑ ں ے ۓ ہ ھ ۃ (the ALA-LC tables for Arabic, Persian and Urdu).
* Cyrillic (ISO 9 and its variant): the alphabets of the languages the table lists (Russian, Ukrainian,
  Belarusian, Bulgarian, Macedonian, Serbian, Kazakh, Tatar, Bashkir, Kyrgyz, Mongolian, Sakha, Chuvash, Udmurt,
  Komi, Mari, Buryat, Tajik, Erzya, Moksha), each letter in lower and upper case.
* Georgian: the 33 letters of the modern Mkhedruli alphabet, and the Mingrelian ჷ ჸ ჲ ჳ ჴ ჵ (Unicode's Georgian
  block names them).
* Controls: latn-arab must read every letter of the ULY Latin alphabet; latn-cyrl every ISO 9 Latin letter.
"""

from __future__ import annotations

import pytest

from adaptlang.translit import get_transliterator
from adaptlang.translit.scripts import char_script
from adaptlang.translit.table import load_tables

UYGHUR = "ا ە ب پ ت ج چ خ د ر ز ژ س ش غ ف ق ك گ ڭ ل م ن ھ و ۇ ۆ ۈ ۋ ې ى ي ئ"
SORANI = "ئ ا ب پ ت ج چ ح خ د ر ڕ ز ژ س ش ع غ ف ڤ ق ک گ ل ڵ م ن و ۆ ه ە ی ێ ھ"
SINDHI = ("ا ب ٻ ڀ ت ٿ ٽ ٺ ث پ ج ڄ ڃ چ ڇ ح خ د ڌ ڏ ڊ ڍ ذ ر ڙ ز س ش ص ض ط ظ ع غ ف ڦ ق ڪ ک گ ڳ ڱ ل م ن ڻ و ه ھ ء ي"
          " آ أ ؤ ئ ۽ ۾ ہ ی")
ARABIC = ("ا ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي ء آ أ إ ؤ ئ ة ى"
          " پ چ ژ گ ک ی ٹ ڈ ڑ ں ے ۓ ہ ھ ۃ")
CYRILLIC = (
    "а б в г д е ё ж з и й к л м н о п р с т у ф х ц ч ш щ ъ ы ь э ю я"  # Russian (Erzya, Moksha: the same)
    " ґ є і ї ў"  # Ukrainian, Belarusian
    " ѓ ѕ ј љ њ ќ џ ђ ћ"  # Macedonian, Serbian
    " ә ғ қ ң ө ұ ү һ җ ҙ ҡ ҫ"  # Kazakh, Tatar, Bashkir, Kyrgyz, Mongolian, Buryat
    " ҕ ҥ ӑ ӗ ӳ ӝ ӟ ӥ ӧ ӵ ӓ ӱ ӹ ӣ ӯ ҳ ҷ"  # Sakha, Chuvash, Udmurt, Komi, Mari, Tajik
)
GEORGIAN = "ა ბ გ დ ე ვ ზ თ ი კ ლ მ ნ ო პ ჟ რ ს ტ უ ფ ქ ღ ყ შ ჩ ც ძ წ ჭ ხ ჯ ჰ ჷ ჸ ჲ ჳ ჴ ჵ"
ULY_LATIN = "a b ch d e é f g gh h i j k l m n ng o ö p q r s sh t u ü v w x y z zh"
ISO9_LATIN = "a ă ä æ b v g ġ ğ ḥ d đ e ĕ ë ê ž z ź i ī î j ì ï k l m n o ô ö p r s ș t ț ć u ŭ ū ü ű f h c č š ʺ y ʹ è û â"

ALPHABETS = {
    "ug-uly": UYGHUR, "ug-turkish": UYGHUR, "ckb-hawar": SORANI, "sd-turner": SINDHI, "sd-turner-plain": SINDHI,
    "ar-alalc": ARABIC,
    "cyrl-iso9": CYRILLIC + " " + CYRILLIC.upper(), "cyrl-iso9-plain": CYRILLIC + " " + CYRILLIC.upper(),
    "ka-national": GEORGIAN, "latn-arab": ULY_LATIN, "latn-cyrl": ISO9_LATIN,
}


def test_every_table_has_an_alphabet():
    assert set(load_tables()) <= set(ALPHABETS), set(load_tables()) - set(ALPHABETS)


@pytest.mark.parametrize("name", sorted(ALPHABETS))
def test_every_letter_of_the_alphabet_is_mapped(name):
    table = load_tables()[name]
    t = get_transliterator(f"table:{name}")
    left = []
    for letter in ALPHABETS[name].split():
        out = t.transliterate(letter)
        if any(char_script(c) == table.info.source_script for c in out):
            left.append(f"{letter} (U+{ord(letter[0]):04X}) -> {out}")
    assert not left, f"{name} leaves letters in {table.info.source_script}: {'; '.join(left)}"
