"""The ``uroman`` backend: the universal romanizer (Hermjakob et al. 2018), with its language code and a cache
per distinct word.

uroman's output depends on the language code (without ``uig`` its Uyghur output is wrong: ``ئۇيغۇرچە`` becomes
``yeuyghurtchae`` instead of ``uyghurche``), so the code is part of the scheme name: ``uroman:uig``.
"""

from __future__ import annotations

import threading
from typing import Any

from adaptlang.errors import UsageError
from adaptlang.translit.base import SchemeInfo, WordCachedTransliterator, normalize_lang, register_backend

_UROMAN: Any = None
_LOCK = threading.Lock()
REFERENCE = "uroman 1.3 (Hermjakob, May & Knight, ACL 2018 demos), universal romanizer"


def _shared_uroman() -> Any:
    """One uroman instance per process: loading its rule files takes a few seconds."""
    global _UROMAN
    with _LOCK:
        if _UROMAN is None:
            import uroman

            _UROMAN = uroman.Uroman()
    return _UROMAN


class UromanTransliterator(WordCachedTransliterator):
    target_script = "Latn"

    def __init__(self, lcode: str | None) -> None:
        super().__init__()
        self.lcode = lcode
        self.name = f"uroman:{lcode}" if lcode else "uroman"
        self.info = SchemeInfo(
            name=self.name, backend="uroman", source_script="*", target_script="Latn",
            languages=(lcode,) if lcode else (), reference=REFERENCE, reversible=False,
            description="romanizes any script; give the language code for language-specific rules",
        )
        self._uroman = _shared_uroman()

    def _convert(self, token: str) -> str:
        if not token:
            return token
        try:
            return self._uroman.romanize_string(token, lcode=self.lcode)
        except Exception:  # uroman is third-party: one odd token must not stop a corpus
            return token

    def romanize_uncached(self, text: str) -> str:
        """uroman on the whole string, without the per-word cache (the reference the benchmark compares with)."""
        return self._uroman.romanize_string(text, lcode=self.lcode)


def _make(arg: str | None, lang: str | None) -> UromanTransliterator:
    code = arg or lang
    lcode = normalize_lang(code) if code else None
    if code and lcode is None:
        raise UsageError(f"uroman: unknown language code {code!r}; give an ISO 639 code such as 'uig' or 'ug'")
    return UromanTransliterator(lcode)


def _list() -> list[SchemeInfo]:
    return [SchemeInfo(
        name="uroman", backend="uroman", source_script="*", target_script="Latn", languages=(),
        reference=REFERENCE, reversible=False,
        description="uroman:<lang> (e.g. uroman:uig) passes the ISO 639 language code to uroman",
    )]


register_backend("uroman", _make, _list, needs_argument=False, usage="uroman or uroman:<ISO 639 code>")
