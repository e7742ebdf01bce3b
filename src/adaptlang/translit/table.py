"""The ``table`` backend: human-editable transliteration tables (``translit_tables/*.tsv``) and their engine.

File format (documented for editors in ``translit_tables/README.md``)::

    # name: ug-uly
    # title: Uyghur Arabic script -> Uyghur Latin script (ULY)
    # source_script: Arab
    # target_script: Latn
    # languages: ug
    # reference: the published standard the rules follow
    # reversible: no
    # case: none            (auto: also map the upper-case form of every source to a capitalised target)
    # normalize: none       (nfd: decompose input first, so rules can match base letter + combining mark;
                             shadda-first: put an Arabic shadda before the vowel mark of its letter, the order
                             rules are written in, whereas Unicode's canonical order puts it after)
    # vowels: ا ە ې ى و ۇ ۆ ۈ   (source characters that count as vowels in contexts)
    # extends: ug-uly       (optional: a variant; its rules replace the base table's rules for the same source
                             and context, every other rule of the base table is kept)
    source<TAB>target<TAB>context
    ئ<TAB><TAB>initial

Rules apply longest source first; among rules with the same source, the first whose context holds wins (rules
with a context are tried before those without). A context is a comma-separated list of conditions that must all
hold, judged on the source text around the match: ``initial`` / ``noninitial`` (a letter precedes or not),
``final`` / ``nonfinal``, ``after-vowel``, ``before-vowel``, ``after-consonant``, ``before-consonant``,
``between-vowels``. Characters no rule covers pass through unchanged (and are counted in the coverage report).
Fields may use ``\\uXXXX`` escapes (e.g. for a zero-width non-joiner or a lone combining mark).
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from adaptlang.errors import InputError, UsageError
from adaptlang.translit.base import SchemeInfo, WordCachedTransliterator, register_backend
from adaptlang.translit.scripts import is_letter

CONDITIONS = frozenset({
    "initial", "noninitial", "final", "nonfinal", "after-vowel", "before-vowel", "after-consonant",
    "before-consonant", "between-vowels",
})
_REQUIRED = ("name", "source_script", "target_script", "reference", "reversible")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
REVERSE_SUFFIX = ":reverse"
ENV_TABLES = "ADAPTLANG_TRANSLIT_TABLES"
NORMALIZATIONS = ("none", "nfd", "shadda-first")
# Arabic vowel marks (tanwin, fatha, damma, kasra, sukun) written before a shadda: canonical order, shadda second.
_MARKS_BEFORE_SHADDA = re.compile("([\u064B-\u0650\u0652]+)\u0651")


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    conditions: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Table:
    info: SchemeInfo
    title: str
    rules: tuple[Rule, ...]
    vowels: frozenset[str]
    case: str  # "none" | "auto"
    path: str
    normalize: str = "none"  # "none" | "nfd" | "shadda-first"
    extends: str = ""  # short name of the base table of a variant ("" for a table of its own)

    def reversed_table(self) -> "Table":
        """The inverse mapping of a reversible table (context-free rules, target -> source, first one wins)."""
        if not self.info.reversible:
            raise UsageError(f"table {self.info.name} is not reversible")
        seen: set[str] = set()
        rules: list[Rule] = []
        for r in self.rules:
            if r.conditions or not r.target or r.target in seen:
                continue
            seen.add(r.target)
            rules.append(Rule(r.target, r.source, (), r.line))
        info = SchemeInfo(
            name=self.info.name + REVERSE_SUFFIX, backend="table", source_script=self.info.target_script,
            target_script=self.info.source_script, languages=self.info.languages, reference=self.info.reference,
            reversible=True, description=f"inverse of {self.info.name}",
        )
        vowels = frozenset(r.target for r in self.rules if r.source in self.vowels and len(r.target) == 1)
        return Table(info, f"inverse of {self.title}", tuple(rules), vowels, self.case, self.path, self.normalize)


def tables_dir() -> Path:
    """Where the tables are: ``$ADAPTLANG_TRANSLIT_TABLES`` if set, else ``adaptlang/translit/tables``.

    In a source checkout ``src/adaptlang/translit/tables`` is a symbolic link to the top-level ``translit_tables/``
    (the one place to edit tables); building a wheel or sdist copies the files behind it as package data
    (``[tool.setuptools.package-data]`` in pyproject.toml), so a non-editable install has them too.
    """
    env = os.environ.get(ENV_TABLES)
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    packaged = here / "tables"
    if packaged.is_dir():
        return packaged
    return here.parents[2] / "translit_tables"  # checkout where the link was not created (e.g. on Windows)


def _unescape(s: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s)


def parse_table(text: str, path: str = "<table>") -> Table:
    """Parse one table file; errors name the file and line."""
    header: dict[str, str] = {}
    rules: list[Rule] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            if not rules:
                m = re.match(r"#\s*([a-z_]+)\s*:\s*(.*)$", line)
                if m:
                    header[m.group(1)] = m.group(2).strip()
            continue
        fields = line.split("\t")
        if fields[0] == "source" and len(fields) >= 2 and fields[1] == "target":
            continue  # column header row
        if len(fields) < 2 or len(fields) > 3:
            raise InputError(path, f"expected 'source<TAB>target[<TAB>context]', got {len(fields)} field(s)",
                             line=lineno)
        source, target = _unescape(fields[0]), _unescape(fields[1])
        if not source:
            raise InputError(path, "empty source sequence", line=lineno)
        conds: tuple[str, ...] = ()
        if len(fields) == 3 and fields[2].strip():
            parts = [c.strip() for c in fields[2].split(",") if c.strip()]
            bad = [c for c in parts if c not in CONDITIONS]
            if bad:
                raise InputError(path, f"unknown context {bad[0]!r}; valid: {', '.join(sorted(CONDITIONS))}",
                                 line=lineno)
            expanded: list[str] = []
            for c in parts:
                expanded += ["after-vowel", "before-vowel"] if c == "between-vowels" else [c]
            conds = tuple(dict.fromkeys(expanded))
        rules.append(Rule(source, target, conds, lineno))
    missing = [k for k in _REQUIRED if k not in header]
    if missing:
        raise InputError(path, f"header lacks '# {missing[0]}: ...' (required: {', '.join(_REQUIRED)})", line=1)
    if not rules:
        raise InputError(path, "no rules")
    case = header.get("case", "none")
    if case not in ("none", "auto"):
        raise InputError(path, f"'# case:' must be none or auto, not {case!r}")
    normalize = header.get("normalize", "none")
    if normalize not in NORMALIZATIONS:
        raise InputError(path, f"'# normalize:' must be one of {', '.join(NORMALIZATIONS)}, not {normalize!r}")
    reversible = header["reversible"].lower() in ("yes", "true", "1")
    langs = tuple(x.strip() for x in re.split(r"[,\s]+", header.get("languages", "")) if x.strip())
    info = SchemeInfo(
        name=f"table:{header['name']}", backend="table", source_script=header["source_script"],
        target_script=header["target_script"], languages=langs, reference=header["reference"],
        reversible=reversible, description=header.get("title", ""),
        variant_of=f"table:{header['extends']}" if header.get("extends") else "",
    )
    vowels = frozenset(_unescape(v) for v in header.get("vowels", "").split())
    return Table(info, header.get("title", ""), tuple(rules), vowels, case, path, normalize,
                 extends=header.get("extends", ""))


def _apply_base(variant: Table, tables: dict[str, Table]) -> Table:
    """A variant's own rules, then every rule of its base table whose source and context it does not redefine
    (the base's vowels too, when the variant lists none)."""
    base = tables.get(variant.extends)
    if base is None or base.extends:
        why = "is not a table here" if base is None else "is itself a variant (one level only)"
        raise InputError(variant.path, f"'# extends: {variant.extends}' {why}; valid: {', '.join(sorted(tables))}",
                         line=1)
    own = {(r.source, r.conditions) for r in variant.rules}
    rules = variant.rules + tuple(r for r in base.rules if (r.source, r.conditions) not in own)
    info = replace(variant.info, variant_of=base.info.name)
    return replace(variant, info=info, rules=rules, vowels=variant.vowels or base.vowels)


@lru_cache(maxsize=None)
def _load_tables(directory: str) -> dict[str, Table]:
    d = Path(directory)
    out: dict[str, Table] = {}
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.tsv")):
        table = parse_table(p.read_text(encoding="utf-8"), str(p))
        short = table.info.name.split(":", 1)[1]
        if short in out:
            raise InputError(p, f"table name {short!r} already used by {out[short].path}")
        out[short] = table
    return {k: _apply_base(t, out) if t.extends else t for k, t in out.items()}


def load_tables() -> dict[str, Table]:
    """Short name (``ug-uly``) -> parsed table, for every table in :func:`tables_dir`."""
    return _load_tables(str(tables_dir()))


class TableTransliterator(WordCachedTransliterator):
    """Longest-match-first rewriting with contexts, cached per distinct whitespace-free token."""

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.table = table
        self.info = table.info
        self.name = table.info.name
        self.target_script = table.info.target_script
        self._vowels = table.vowels
        self._nfd = table.normalize == "nfd"
        self._shadda_first = table.normalize == "shadda-first"
        # first character -> candidate rules, longest source first, contextual before context-free.
        expanded: list[tuple[int, Rule]] = []
        for order, r in enumerate(table.rules):
            expanded.append((order, r))
            if table.case == "auto":
                tgt = r.target[:1].upper() + r.target[1:]
                for src in (r.source[:1].upper() + r.source[1:], r.source.upper()):
                    if src != r.source:
                        expanded.append((order + len(table.rules), Rule(src, tgt, r.conditions, r.line)))
        by_first: dict[str, list[tuple[int, Rule]]] = {}
        for order, r in expanded:
            lst = by_first.setdefault(r.source[0], [])
            if not any(o_r.source == r.source and o_r.conditions == r.conditions for _, o_r in lst):
                lst.append((order, r))
        self._rules: dict[str, tuple[Rule, ...]] = {
            ch: tuple(r for _, r in sorted(lst, key=lambda x: (-len(x[1].source), -len(x[1].conditions), x[0])))
            for ch, lst in by_first.items()
        }
        self.covered_chars = frozenset(c for _, r in expanded for c in r.source)

    def _holds(self, cond: str, token: str, start: int, end: int) -> bool:
        prev = token[start - 1] if start > 0 else ""
        nxt = token[end] if end < len(token) else ""
        if cond == "initial":
            return not (prev and is_letter(prev))
        if cond == "noninitial":
            return bool(prev) and is_letter(prev)
        if cond == "final":
            return not (nxt and is_letter(nxt))
        if cond == "nonfinal":
            return bool(nxt) and is_letter(nxt)
        if cond == "after-vowel":
            return prev in self._vowels
        if cond == "before-vowel":
            return nxt in self._vowels
        if cond == "after-consonant":
            return bool(prev) and is_letter(prev) and prev not in self._vowels
        if cond == "before-consonant":
            return bool(nxt) and is_letter(nxt) and nxt not in self._vowels
        return False

    def _convert(self, token: str) -> str:
        if self._nfd:
            return unicodedata.normalize("NFC", self._rewrite(unicodedata.normalize("NFD", token)))
        if self._shadda_first and "\u0651" in token:
            token = _MARKS_BEFORE_SHADDA.sub("\u0651\\1", token)
        return self._rewrite(token)

    def _rewrite(self, token: str) -> str:
        out: list[str] = []
        i, n = 0, len(token)
        rules = self._rules
        while i < n:
            cands = rules.get(token[i])
            if cands:
                for r in cands:
                    end = i + len(r.source)
                    if (end <= n and token.startswith(r.source, i)
                            and all(self._holds(c, token, i, end) for c in r.conditions)):
                        out.append(r.target)
                        i = end
                        break
                else:
                    out.append(token[i])
                    i += 1
            else:
                out.append(token[i])
                i += 1
        return "".join(out)

    def reverse(self) -> "TableTransliterator":
        return TableTransliterator(self.table.reversed_table())


def _valid_tables() -> str:
    return ", ".join(f"table:{n}" for n in sorted(load_tables()))


def _make(arg: str | None, lang: str | None) -> TableTransliterator:
    tables = load_tables()
    short = arg or ""
    reverse = short.endswith(REVERSE_SUFFIX)
    if reverse:
        short = short[: -len(REVERSE_SUFFIX)]
    if short not in tables:
        raise UsageError(f"unknown transliteration table {arg!r} (in {tables_dir()}); valid: {_valid_tables()}, "
                         "uroman, uroman:<lang>, epitran:<code>")
    t = TableTransliterator(tables[short])
    return t.reverse() if reverse else t


def _list() -> list[SchemeInfo]:
    out: list[SchemeInfo] = []
    for t in load_tables().values():
        out.append(t.info)
        if t.info.reversible:
            out.append(t.reversed_table().info)
    return out


register_backend("table", _make, _list, needs_argument=True, usage="table:<name>, e.g. table:ug-uly")
