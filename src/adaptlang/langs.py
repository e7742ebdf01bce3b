"""Language codes: the one check of ``--lang`` (assess, adapt, transliterate, categorize) and when two codes name the
same language.

Both come from langcodes' copy of the IANA language subtag registry and CLDR's language-matching data, not from a
hand-written list: ``uig`` is ``ug``, ``tl`` is ``fil``, and an ISO 639-3 member of a macrolanguage that CLDR treats as
the macrolanguage itself (``arb`` Standard Arabic -> ``ar``, ``zsm`` -> ``ms``, ``pes`` -> ``fa``, ``cmn`` -> ``zh``,
``nb`` -> ``no``) matches the macrolanguage's code in the pretraining-language lists; distinct members (``apc``
Levantine Arabic, ``yue`` Cantonese, ``ckb`` Sorani) do not.

>>> check_lang("uig"), check_lang("arb")
('ug', 'arb')
>>> same_language("arb", "ar"), same_language("apc", "ar")
(True, False)

Torch-free; langcodes is imported on first use.
"""

from __future__ import annotations

from functools import lru_cache

from adaptlang.errors import UsageError

# CLDR language-matching distance at or below which two codes are the same language (0: identical once
# normalised, macrolanguage for its dominant member included; 1: Norwegian ``no`` / ``nb``).
_SAME_LANGUAGE_DISTANCE = 1


def check_lang(code: str, option: str = "--lang") -> str:
    """``code`` in its standard form (``uig`` -> ``ug``, ``EN`` -> ``en``, ``en_US`` -> ``en``); a one-line
    UsageError naming ``option`` for anything that is not a registered language code (``zzz``, ``xx``, ``und``)."""
    import langcodes

    raw = (code or "").strip()
    try:
        lang = langcodes.Language.get(raw)
        std = lang.language if lang.is_valid() else None
    except (LookupError, ValueError, langcodes.tag_parser.LanguageTagError):
        std = None
    if not std:
        raise UsageError(f"{option} {code!r}: not an ISO 639 language code; give a code such as ug, wo, mt, gsw, "
                         f"pcm, myv, ar (or leave {option} out)")
    return std


@lru_cache(maxsize=4096)
def same_language(a: str, b: str) -> bool:
    """True when the codes name the same language for a model's pretraining data (CLDR's language matching)."""
    if a == b:
        return True
    import langcodes

    try:
        return langcodes.tag_distance(a, b) <= _SAME_LANGUAGE_DISTANCE
    except (LookupError, ValueError, langcodes.tag_parser.LanguageTagError):
        return False
