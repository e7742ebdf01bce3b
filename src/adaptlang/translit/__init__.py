"""Transliteration: curated tables (``translit_tables/``), uroman and epitran behind one small API.

>>> from adaptlang.translit import get_transliterator
>>> get_transliterator("table:ug-uly").transliterate("ئۇيغۇرچە")
'uyghurche'

Scheme names are recorded in output configs (``t.name``) and re-applied later with :func:`get_transliterator`.
Torch-free.
"""

from adaptlang.translit.base import (
    SchemeInfo,
    Transliterator,
    get_transliterator,
    list_schemes,
    normalize_lang,
    pick_scheme,
)
from adaptlang.translit.diacritics import strip_diacritics
from adaptlang.translit.scripts import dominant_script

__all__ = [
    "SchemeInfo",
    "Transliterator",
    "dominant_script",
    "get_transliterator",
    "list_schemes",
    "normalize_lang",
    "pick_scheme",
    "strip_diacritics",
]
