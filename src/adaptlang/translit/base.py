"""Backend protocol, scheme descriptions and the registry that turns a scheme name into a transliterator.

A scheme name is ``<backend>`` or ``<backend>:<argument>``: ``table:ug-uly`` (a table from ``translit_tables/``),
``uroman`` / ``uroman:uig`` (the uroman romanizer, optionally with its language code), ``epitran:uig-Arab`` (IPA).
:attr:`Transliterator.name` is the canonical form, which :func:`get_transliterator` accepts back unchanged, so a
scheme recorded in a config is re-applied identically later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

from adaptlang.errors import UsageError

# Longest whitespace-free stretch cached per word; longer tokens are transliterated without caching.
_MAX_CACHED_TOKEN = 64


@dataclass(frozen=True)
class SchemeInfo:
    """What ``adaptlang transliterate --list`` shows about one scheme."""

    name: str  # canonical scheme string, e.g. "table:ug-uly"
    backend: str  # "table" | "uroman" | "epitran"
    source_script: str  # ISO 15924 code of the input, "*" for any script
    target_script: str  # ISO 15924 code of the output; "IPA" for phonetic output
    languages: tuple[str, ...] = ()  # language codes the scheme is meant for (empty: any)
    reference: str = ""  # the published standard or tool it follows
    reversible: bool = False  # True when a table maps back exactly (see translit_tables/README.md)
    description: str = ""
    variant_of: str = ""  # the scheme this one is a variant of (``table:cyrl-iso9``), "" if none

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["languages"] = list(self.languages)
        return d


@runtime_checkable
class Transliterator(Protocol):
    """What every backend provides. ``transliterate`` never raises on odd Unicode: unknown input passes through."""

    name: str
    target_script: str
    info: SchemeInfo

    def transliterate(self, text: str) -> str: ...


class WordCachedTransliterator:
    """Base for backends that transliterate word by word: splits on spaces and caches each distinct token.

    Contexts (word-initial, word-final) never cross whitespace, so transliterating a whitespace-free token on its
    own gives the same result as transliterating it inside a line; a cache per distinct token therefore makes large
    corpora (Zipfian vocabularies) fast without changing any output.
    """

    name: str
    target_script: str
    info: SchemeInfo

    def __init__(self, max_cache: int = 2_000_000) -> None:
        self._cache: dict[str, str] = {"": "", "\n": "\n"}
        self._max_cache = max_cache

    def _convert(self, token: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def transliterate_token(self, token: str) -> str:
        out = self._cache.get(token)
        if out is None:
            out = self._convert(token)
            if len(self._cache) < self._max_cache and len(token) <= _MAX_CACHED_TOKEN:
                self._cache[token] = out
        return out

    def transliterate_tokens(self, tokens: list[str]) -> list[str]:
        """Transliterate whitespace-free tokens (cached)."""
        cache = self._cache
        try:  # all cached: a C-level map, the common case on large corpora
            return list(map(cache.__getitem__, tokens))
        except KeyError:
            pass
        uncached: dict[str, str] = {}
        for tok in set(tokens).difference(cache):  # each new distinct token converted once
            out = self._convert(tok)
            if len(cache) < self._max_cache and len(tok) <= _MAX_CACHED_TOKEN:
                cache[tok] = out
            else:
                uncached[tok] = out
        if not uncached:
            return list(map(cache.__getitem__, tokens))
        return [cache[t] if t in cache else uncached[t] for t in tokens]

    def transliterate(self, text: str) -> str:
        if not text:
            return text
        if "\n" in text:
            # Newlines become tokens of their own, so each word keeps one cache entry; every original "\n" turns
            # into exactly one " \n " and is turned back (see tests for the exact round trip).
            parts = text.replace("\n", " \n ").split(" ")
            return " ".join(self.transliterate_tokens(parts)).replace(" \n ", "\n")
        return " ".join(self.transliterate_tokens(text.split(" ")))

    @property
    def cache_size(self) -> int:
        return len(self._cache)


# backend name -> (factory(argument, lang) -> Transliterator, lister() -> list[SchemeInfo])
BackendFactory = Callable[[str | None, str | None], Transliterator]
BackendLister = Callable[[], list[SchemeInfo]]


@dataclass
class _Backend:
    factory: BackendFactory
    lister: BackendLister
    needs_argument: bool
    usage: str = field(default="")


_BACKENDS: dict[str, _Backend] = {}


def register_backend(name: str, factory: BackendFactory, lister: BackendLister, *, needs_argument: bool,
                     usage: str) -> None:
    _BACKENDS[name] = _Backend(factory, lister, needs_argument, usage)


def _ensure_backends() -> None:
    # Importing the backend modules registers them (a no-op after the first time).
    from adaptlang.translit import diacritics, epitran_backend, table, uroman_backend  # noqa: F401


def backend_names() -> list[str]:
    _ensure_backends()
    return sorted(_BACKENDS)


def list_schemes() -> list[SchemeInfo]:
    """Every scheme: each table, ``uroman``, and ``epitran:<code>`` for each language epitran knows."""
    _ensure_backends()
    out: list[SchemeInfo] = []
    for name in ("table", "uroman", "epitran", "strip-diacritics"):
        if name in _BACKENDS:
            out.extend(_BACKENDS[name].lister())
    return out


def _valid_names_hint() -> str:
    _ensure_backends()
    tables = [s.name for s in _BACKENDS["table"].lister()] if "table" in _BACKENDS else []
    return ", ".join(tables + ["uroman", "uroman:<lang>", "epitran:<code> (see --list)", "strip-diacritics[:<script>]",
                               "A+B (A, then B)"])


def get_transliterator(scheme: str, lang: str | None = None) -> Transliterator:
    """The transliterator for ``scheme``; an unknown name raises UsageError listing the valid names.

    Instances are shared per (scheme, lang) within a process, so their word caches are reused.
    """
    key = (scheme, lang)
    t = _INSTANCES.get(key)
    if t is None:
        t = _build(scheme, lang)
        if len(_INSTANCES) < 64:
            _INSTANCES[key] = t
    return t


_INSTANCES: dict[tuple[str, str | None], Transliterator] = {}


class ChainTransliterator(WordCachedTransliterator):
    """``A+B``: scheme A, then scheme B on its output (e.g. ``strip-diacritics+table:ar-alalc``)."""

    def __init__(self, parts: list[Transliterator]) -> None:
        super().__init__()
        self.parts = parts
        self.name = "+".join(p.name for p in parts)
        targets = [p.target_script for p in parts if p.target_script != "*"]
        self.target_script = targets[-1] if targets else "*"
        first = parts[0].info
        sources = [p.info.source_script for p in parts if p.info.source_script != "*"]
        self.info = SchemeInfo(
            name=self.name, backend="chain", source_script=sources[0] if sources else first.source_script,
            target_script=self.target_script, languages=first.languages,
            reference="; ".join(p.info.reference for p in parts if p.info.reference),
            description=" then ".join(p.name for p in parts),
        )

    def _convert(self, token: str) -> str:
        for p in self.parts:
            token = p.transliterate(token)
        return token


def _build(scheme: str, lang: str | None) -> Transliterator:
    _ensure_backends()
    if not isinstance(scheme, str) or not scheme.strip():
        raise UsageError(f"empty transliteration scheme; valid schemes: {_valid_names_hint()}")
    if "+" in scheme:
        names = [n.strip() for n in scheme.split("+")]
        if any(not n for n in names):
            raise UsageError(f"scheme {scheme!r}: an empty part around '+'; write A+B, e.g. "
                             "strip-diacritics+table:ar-alalc")
        return ChainTransliterator([get_transliterator(n, lang) for n in names])
    backend, _, arg = scheme.strip().partition(":")
    if backend not in _BACKENDS:
        raise UsageError(f"unknown transliteration scheme {scheme!r}; valid schemes: {_valid_names_hint()}")
    b = _BACKENDS[backend]
    if b.needs_argument and not arg:
        raise UsageError(f"scheme {scheme!r} needs an argument: {b.usage}; valid schemes: {_valid_names_hint()}")
    return b.factory(arg or None, lang)


def normalize_lang(lang: str | None) -> str | None:
    """A language code as given (``ug``, ``uig``, ``ckb``) -> its ISO 639-3 code (``uig``), or None if unknown."""
    if not lang:
        return None
    import langcodes

    try:
        return langcodes.Language.get(lang.strip()).to_alpha3()
    except (LookupError, ValueError, langcodes.tag_parser.LanguageTagError):
        return None


# Preferred scheme per (script, ISO 639-3 language); None = any language of that script. Curated tables first
# (they follow a published standard); uroman covers every other script.
_PREFERENCES: dict[tuple[str, str], dict[str | None, str]] = {
    ("Arab", "Latn"): {"uig": "table:ug-uly", "ckb": "table:ckb-hawar", "snd": "table:sd-turner",
                       None: "table:ar-alalc"},
    ("Cyrl", "Latn"): {None: "table:cyrl-iso9"},
    ("Geor", "Latn"): {None: "table:ka-national"},
    ("Latn", "Cyrl"): {None: "table:latn-cyrl"},
    ("Latn", "Arab"): {None: "table:latn-arab"},
}


def pick_scheme(script: str | None, lang: str | None, target: str = "Latn") -> str | None:
    """The best scheme name to move text in ``script`` (ISO 15924) of language ``lang`` to ``target``.

    Returns None when the text is already in the target script or nothing fits (non-Latin targets are only served
    by the control tables).
    """
    if not script or script == target:
        return None
    lang3 = normalize_lang(lang)
    prefs = _PREFERENCES.get((script, target), {})
    from adaptlang.translit.table import load_tables

    tables = load_tables()
    for key in (lang3, None):
        name = prefs.get(key)
        if name and name.split(":", 1)[1] in tables:
            return name
    if target == "Latn":
        return f"uroman:{lang3}" if lang3 else "uroman"
    return None


def candidate_schemes(script: str | None, lang: str | None, target: str = "Latn") -> list[str]:
    """Schemes worth measuring to move ``script`` text of ``lang`` to ``target``, best guess first: the scheme of
    :func:`pick_scheme`, then the generic table of the script when that one is language-specific, each followed by
    its variants (tables that extend it, e.g. ``table:cyrl-iso9-plain``). Empty when nothing fits."""
    first = pick_scheme(script, lang, target)
    if first is None:
        return []
    from adaptlang.translit.table import load_tables

    tables = load_tables()
    generic = _PREFERENCES.get((script or "", target), {}).get(None)
    out: list[str] = []
    for name in (first, generic):
        if not name or name in out or (name.startswith("table:") and name.split(":", 1)[1] not in tables):
            continue
        out.append(name)
        out.extend(t.info.name for t in tables.values() if t.info.variant_of == name)
    return out
