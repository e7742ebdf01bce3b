"""Lemmas as classes: edit scripts from a FORM to its LEMMA, the rules UDPipe 2 classifies (Straka, 2018).

A rule is ``CASING;EDIT``. ``CASING`` says where the lemma switches between upper (``↑``) and lower (``↓``) case,
each switch at an offset counted from the start (first half of the lemma) or from the end (second half, negative),
so ``↑0¦↓1`` means "capitalised". ``EDIT`` works on the lower-cased form: either ``a<lemma>`` (the lemma written
out, when form and lemma share no character), or ``d<prefix script>¦<suffix script>`` around the longest common
substring, each script a minimal sequence of ``-`` (drop a character), ``+c`` (insert c) and, when copying is
allowed, ``→`` (keep a character). Rules generalise across words: ``d¦--+y`` turns "studies" into "study" and
"flies" into "fly".

Pure Python, no torch.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

UPPER, LOWER, SEP = "↑", "↓", "¦"


def _min_edit_script(source: str, target: str, allow_copy: bool) -> str:
    """The shortest script of ``-`` / ``+c`` (and ``→`` when ``allow_copy``) that turns ``source`` into ``target``."""
    inf = len(source) + len(target) + 1
    a = [[(inf, "")] * (len(target) + 1) for _ in range(len(source) + 1)]
    for i in range(len(source) + 1):
        for j in range(len(target) + 1):
            if i == 0 and j == 0:
                a[i][j] = (0, "")
                continue
            if allow_copy and i and j and source[i - 1] == target[j - 1] and a[i - 1][j - 1][0] < a[i][j][0]:
                a[i][j] = (a[i - 1][j - 1][0], a[i - 1][j - 1][1] + "→")
            if i and a[i - 1][j][0] < a[i][j][0]:
                a[i][j] = (a[i - 1][j][0] + 1, a[i - 1][j][1] + "-")
            if j and a[i][j - 1][0] < a[i][j][0]:
                a[i][j] = (a[i][j - 1][0] + 1, a[i][j - 1][1] + "+" + target[j - 1])
    return a[-1][-1][1]


def _lower(text: str) -> str:
    """Lower case that keeps the length (Turkish İ lower-cases to two characters: it is kept as it is)."""
    return "".join(low if len(low) == 1 else c for c in text for low in (c.lower(),))


def _casing_rule(lemma: str) -> str:
    previous, rule = "", ""
    for i, c in enumerate(lemma):
        case = UPPER if c.lower() != c else LOWER
        if case != previous:
            rule += (SEP if rule else "") + case + str(i if i <= len(lemma) // 2 else i - len(lemma))
        previous = case
    return rule


def lemma_rule(form: str, lemma: str, allow_copy: bool = False) -> str:
    """The rule that turns ``form`` into ``lemma`` (:func:`apply_lemma_rule` inverts it)."""
    casing, form, lemma = _casing_rule(lemma), _lower(form), _lower(lemma)
    best, best_form, best_lemma = 0, 0, 0
    for start_l in range(len(lemma)):
        for start_f in range(len(form)):
            n = 0
            while start_f + n < len(form) and start_l + n < len(lemma) and form[start_f + n] == lemma[start_l + n]:
                n += 1
            if n > best:
                best, best_form, best_lemma = n, start_f, start_l
    if not best:
        return f"{casing};a{lemma}"
    prefix = _min_edit_script(form[:best_form], lemma[:best_lemma], allow_copy)
    suffix = _min_edit_script(form[best_form + best:], lemma[best_lemma + best:], allow_copy)
    return f"{casing};d{prefix}{SEP}{suffix}"


def _consumed(script: str) -> int:
    """How many form characters a script reads (``-`` and ``→`` each read one; ``+c`` reads none)."""
    n, i = 0, 0
    while i < len(script):
        if script[i] == "+":
            i += 2
            continue
        n += 1
        i += 1
    return n


def _run_script(script: str, chars: str) -> str | None:
    out, k, i = [], 0, 0
    while i < len(script):
        op = script[i]
        if op == "+":
            if i + 1 >= len(script):
                return None
            out.append(script[i + 1])
            i += 2
            continue
        if k >= len(chars):
            return None
        if op == "→":
            out.append(chars[k])
        k += 1
        i += 1
    return "".join(out)


def apply_lemma_rule(form: str, rule: str) -> str | None:
    """The lemma that ``rule`` makes of ``form``, or None when the rule does not fit the form (it would read more
    characters than the form has, or is malformed): the caller then tries its next-best rule."""
    casing, sep, edit = rule.partition(";")
    if not sep or not edit:
        return None
    if edit.startswith("a"):
        lemma = edit[1:]
    else:
        scripts = edit[1:].split(SEP)
        if edit[0] != "d" or len(scripts) != 2:
            return None
        low = _lower(form)
        n_prefix, n_suffix = _consumed(scripts[0]), _consumed(scripts[1])
        if n_prefix + n_suffix > len(low) or (n_prefix + n_suffix == len(low) and low):
            return None  # nothing left for the common part the rule was made around
        head = _run_script(scripts[0], low[:n_prefix])
        tail = _run_script(scripts[1], low[len(low) - n_suffix:])
        if head is None or tail is None:
            return None
        lemma = head + low[n_prefix:len(low) - n_suffix] + tail
    return _apply_casing(lemma, casing)


def _apply_casing(lemma: str, casing: str) -> str | None:
    """Upper-case the ``↑`` stretches of the (lower-case) lemma; each stretch ends where the next rule starts. Only
    those stretches change, so letters whose case does not round-trip (Turkish dotless ı) stay as they are."""
    starts: list[tuple[str, int]] = []
    for part in casing.split(SEP):
        if not part:
            continue
        try:
            case, offset = part[0], int(part[1:])
        except ValueError:
            return None
        if case not in (UPPER, LOWER):
            return None
        starts.append((case, min(max(offset if offset >= 0 else len(lemma) + offset, 0), len(lemma))))
    for k, (case, start) in enumerate(starts):
        end = starts[k + 1][1] if k + 1 < len(starts) else len(lemma)
        if case == UPPER and end > start:
            lemma = lemma[:start] + lemma[start:end].upper() + lemma[end:]
    return lemma


def choose_allow_copy(pairs: Sequence[tuple[str, str]]) -> bool:
    """UDPipe 2's choice between the two script variants: the one that needs fewer distinct rules on the training
    pairs (copying helps languages with infixes and vowel changes, it fragments rules elsewhere)."""
    without = {lemma_rule(f, lem, False) for f, lem in pairs}
    with_copy = {lemma_rule(f, lem, True) for f, lem in pairs}
    return len(with_copy) < len(without)


def frequent_rules(rules: Iterable[str], min_count: int = 2) -> list[str]:
    """Rules seen at least ``min_count`` times, most frequent first (rarer ones are word-specific: not classes)."""
    counts = Counter(rules)
    return sorted((r for r, n in counts.items() if n >= min_count), key=lambda r: (-counts[r], r))


def pick_lemma(form: str, ranked_rules: Iterable[str]) -> str:
    """The lemma of the best-ranked rule that fits ``form``; the form itself when none does (an unseen shape)."""
    for rule in ranked_rules:
        lemma = apply_lemma_rule(form, rule)
        if lemma:
            return lemma
    return form
