"""The ``epitran`` backend: grapheme-to-phoneme conversion into IPA (Mortensen et al., LREC 2018).

Output is IPA, not an orthography: the report says so. Scheme names are ``epitran:<lang>-<Script>`` as epitran
names its maps (``epitran:uig-Arab``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from adaptlang.errors import UsageError
from adaptlang.translit.base import SchemeInfo, WordCachedTransliterator, register_backend

REFERENCE = "epitran {version} (Mortensen, Dalmia & Littell, LREC 2018), grapheme-to-IPA maps"


@lru_cache(maxsize=1)
def epitran_codes() -> tuple[str, ...]:
    """Language-script codes with an epitran map, read from the installed package's data."""
    import importlib.util

    spec = importlib.util.find_spec("epitran")
    if spec is None or not spec.submodule_search_locations:
        return ()
    map_dir = os.path.join(list(spec.submodule_search_locations)[0], "data", "map")
    if not os.path.isdir(map_dir):
        return ()
    return tuple(sorted(f[:-4] for f in os.listdir(map_dir) if f.endswith(".csv") and "-" in f))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("epitran")
    except PackageNotFoundError:
        return "?"


def _script_of(code: str) -> str:
    parts = code.split("-")
    return parts[1].capitalize() if len(parts) > 1 else "*"


class EpitranTransliterator(WordCachedTransliterator):
    target_script = "IPA"

    def __init__(self, code: str) -> None:
        super().__init__()
        import epitran

        self.code = code
        self.name = f"epitran:{code}"
        self.info = SchemeInfo(
            name=self.name, backend="epitran", source_script=_script_of(code), target_script="IPA",
            languages=(code.split("-")[0],), reference=REFERENCE.format(version=_version()), reversible=False,
            description="IPA transcription (phonetic, not an orthography)",
        )
        self._epi: Any = epitran.Epitran(code)

    def _convert(self, token: str) -> str:
        if not token:
            return token
        try:
            return self._epi.transliterate(token)
        except Exception:  # a third-party map failing on one token must not stop a corpus
            return token


def _make(arg: str | None, lang: str | None) -> EpitranTransliterator:
    codes = epitran_codes()
    if arg not in codes:
        raise UsageError(f"epitran has no map {arg!r}; valid: {', '.join(codes)}")
    return EpitranTransliterator(arg)  # type: ignore[arg-type]


def _list() -> list[SchemeInfo]:
    ref = REFERENCE.format(version=_version())
    return [SchemeInfo(name=f"epitran:{c}", backend="epitran", source_script=_script_of(c), target_script="IPA",
                       languages=(c.split("-")[0],), reference=ref, reversible=False,
                       description="IPA transcription") for c in epitran_codes()]


register_backend("epitran", _make, _list, needs_argument=True, usage="epitran:<lang>-<Script>, e.g. epitran:uig-Arab")
