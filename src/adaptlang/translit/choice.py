"""What ``--translit`` means, decided in one place: ``none`` / ``auto`` / ``latin`` / a scheme name -> a scheme.

Every command that takes ``--translit`` (assess, adapt, categorize, train) and every model that records a scheme
goes through :func:`resolve_translit`, so the sentinels are read the same way everywhere:

* ``None``, ``""``, ``"none"``: no transliteration;
* ``"auto"``: the scheme of assess's transliteration what-if, when it helps the tokenizer;
* ``"latin"`` / ``"latn"``: the best scheme to Latin script for the text's script and language
  (nothing when the text is already in Latin script);
* anything else: a scheme name (``table:ug-uly``, ``uroman:uig``, ``epitran:uig-Arab``), checked now; an unknown
  name raises :class:`~adaptlang.errors.UsageError` listing the valid ones.

>>> resolve_translit("none", script="Arab", lang="ug")
Resolved(scheme=None, reason='not requested (--translit none)')
>>> resolve_translit("latin", script="Arab", lang="ug").scheme
'table:ug-uly'

Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from adaptlang.errors import UsageError

NONE, AUTO, LATIN, SCHEME = "none", "auto", "latin", "scheme"
SENTINELS = ("none", "auto", "latin")
_NONE_WORDS = frozenset({"", "none"})
_LATIN_WORDS = frozenset({"latin", "latn"})


@dataclass(frozen=True)
class TranslitChoice:
    """A ``--translit`` value read once: ``kind`` is none | auto | latin | scheme; ``scheme`` the name as given."""

    kind: str
    scheme: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> "TranslitChoice":
        if value is None:
            return cls(NONE)
        key = value.strip().lower()
        if key in _NONE_WORDS:
            return cls(NONE)
        if key == AUTO:
            return cls(AUTO)
        if key in _LATIN_WORDS:
            return cls(LATIN)
        return cls(SCHEME, value.strip())

    @property
    def value(self) -> str | None:
        """The normalised option value: None, ``auto``, ``latin`` or the scheme name (what configs store)."""
        if self.kind == NONE:
            return None
        return self.scheme if self.kind == SCHEME else self.kind


@dataclass(frozen=True)
class Resolved:
    """The scheme to apply (None: none) and the human reason, as reports and progress lines show it."""

    scheme: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "reason": self.reason}


def check_scheme(name: str, lang: str | None = None) -> str:
    """The canonical name of scheme ``name`` (``uroman`` with ``lang`` ug -> ``uroman:uig``); UsageError listing
    the valid names (and the sentinels) when it is unknown."""
    from adaptlang.translit.base import get_transliterator

    try:
        return get_transliterator(name, lang=lang).name
    except UsageError as e:
        raise UsageError(f"--translit: {e}; or one of {', '.join(SENTINELS)}") from None


def resolve_translit(
    choice: str | TranslitChoice | None,
    *,
    script: str | None,
    lang: str | None,
    what_if: Mapping[str, Any] | None = None,
) -> Resolved:
    """The scheme ``choice`` stands for, for text in ``script`` (ISO 15924, the dominant script; None: unknown or
    no letters) of language ``lang``; ``what_if`` is assess's transliteration what-if (its ``to_dict()``), which
    ``auto`` follows."""
    c = choice if isinstance(choice, TranslitChoice) else TranslitChoice.parse(choice)
    if c.kind == NONE:
        return Resolved(None, "not requested (--translit none)")
    if c.kind == SCHEME:
        assert c.scheme is not None
        name = check_scheme(c.scheme, lang)
        return Resolved(name, f"{name} (asked with --translit)")
    if c.kind == LATIN:
        return _latin(script, lang)
    return _auto(what_if)


def _latin(script: str | None, lang: str | None) -> Resolved:
    if script is None:
        return Resolved(None, "not run: the text has no letters to transliterate")
    if script == "Latn":
        return Resolved(None, f"not run: the corpus is already in Latin script ({script})")
    from adaptlang.translit.base import pick_scheme

    picked = pick_scheme(script, lang, "Latn")
    if picked is None:
        raise UsageError(f"--translit latin: no transliteration from {script} script to Latin is known; "
                         "name a scheme with --translit SCHEME (see adaptlang transliterate --list)")
    return Resolved(picked, f"{picked} (--translit latin, for {script} script)")


def _auto(what_if: Mapping[str, Any] | None) -> Resolved:
    if what_if is None:
        return Resolved(None, "not run: --translit auto follows assess's what-if, and there is none here")
    scheme = what_if.get("scheme")
    if scheme and what_if.get("helps"):
        return Resolved(scheme, f"{scheme} (assess: the tokenizer does better on the transliterated sample)")
    if scheme:
        return Resolved(None, f"not run: assess found {scheme} but it does not help the tokenizer")
    return Resolved(None, f"not run: assess needs none ({what_if.get('note') or what_if.get('status') or 'no scheme'})")


def recorded_scheme(value: str | None, *, lang: str | None = None) -> str | None:
    """The scheme a model directory or an encoder config records (None: none), checked and canonical. ``latin`` and
    ``auto`` need the text's script or assess's what-if, which only adapt and categorize have: a UsageError here."""
    c = TranslitChoice.parse(value)
    if c.kind in (LATIN, AUTO):
        raise UsageError(f"transliteration {value!r} is decided against a corpus (adapt, categorize); a model "
                         "records a scheme name such as table:ug-uly (see adaptlang transliterate --list)")
    return resolve_translit(c, script=None, lang=lang).scheme
