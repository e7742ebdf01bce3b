"""``adaptlang transliterate``: raw text or CoNLL-U into another script (options -> one library call -> render)."""

from __future__ import annotations

import os
from typing import Any, Optional

import typer

from adaptlang.cli.common import ByteProgress, check_json_path, emit_json, err_console


def register(app: typer.Typer) -> None:
    app.command("transliterate")(transliterate_command)


def transliterate_command(
    input_path: Optional[str] = typer.Argument(
        None, metavar="INPUT", help="UTF-8 text file (any size, streamed), CoNLL-U file, or - for stdin."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Output file, or - for stdout."),
    scheme: Optional[str] = typer.Option(
        None, "--scheme", "-s", help="Scheme name: table:<name>, uroman[:<lang>], epitran:<code> (see --list)."),
    to: Optional[str] = typer.Option(
        None, "--to", help="Target script (latin, cyrillic, arabic or an ISO 15924 code): pick the best scheme for "
        "the input's script and --lang, and say which."),
    lang: Optional[str] = typer.Option(
        None, "--lang", "-l", help="ISO 639 code of the input's language (ug, ckb, myv, ...): picks language tables "
        "and is passed to uroman."),
    strip_diacritics: bool = typer.Option(
        False, "--strip-diacritics", help="Remove optional marks first (Arabic harakat, Hebrew niqqud, Syriac vowels, "
        "Cyrillic stress marks); alone (no --scheme or --to), only that."),
    fmt: str = typer.Option("auto", "--format", help="auto (CoNLL-U by extension or content), text or conllu."),
    list_: bool = typer.Option(False, "--list", help="List every scheme with its scripts, languages and reference."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Processes for raw text (default: all cores for inputs over 4 MB)."),
    encoding_errors: str = typer.Option(
        "strict", "--encoding-errors", help="Invalid UTF-8: strict (stop with the byte offset), replace or ignore."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the report as JSON to this path (- = stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
) -> None:
    """Transliterate raw text or a CoNLL-U treebank (FORM, LEMMA and # text; everything else kept, originals in
    MISC) with a curated table, uroman or epitran, and report what the scheme left uncovered."""
    from adaptlang.errors import UsageError
    from adaptlang.options import TRANSLITERATE, validate_numeric

    validate_numeric(locals(), TRANSLITERATE)
    if list_:
        check_json_path(json_path)
        _list(json_path)
        return
    if input_path is None:
        raise UsageError("give an INPUT file (or - for stdin), or --list to see the schemes")
    if output is None:
        raise UsageError("give -o OUTPUT (or -o - for stdout)")
    if output == "-" and json_path == "-":
        raise UsageError("--json - and -o - would both write to stdout; give --json a file path")
    if lang is not None:
        from adaptlang.langs import check_lang

        lang = check_lang(lang)  # an unknown code such as zzz fails here, as in assess and adapt
    from adaptlang.fileio import check_output, output_lock

    check_json_path(json_path)
    if json_path not in (None, "-"):
        check_output(json_path, force)
    from adaptlang.translit.corpus import transliterate_file

    total = os.path.getsize(input_path) if input_path != "-" and os.path.isfile(input_path) else None
    with output_lock(output), ByteProgress(total, "transliterating") as progress:
        report = transliterate_file(
            input_path, output, scheme, to=to, lang=lang, fmt=fmt, force=force, workers=workers,
            encoding_errors=encoding_errors, progress=progress, strip_diacritics=strip_diacritics,
        )
    d = report.to_dict()
    if json_path and json_path != "-":
        emit_json(d, json_path)  # before the summary, so a closed stderr cannot lose it
    _render(d)
    if json_path == "-":
        emit_json(d, json_path)


def _render(d: dict[str, Any]) -> None:
    """Summary on stderr (stdout may be the output)."""
    c = err_console
    if d.get("picked"):
        c.print(f"picked [bold]{d['picked']}[/bold]")
    c.print(
        f"[bold]{d['scheme']}[/bold] ({d['source_script']} -> {d['target_script']}): {d['format']} "
        f"{d['input']} -> {d['output']}, {d['n_lines']:,} lines, {d['n_bytes_in'] / 1e6:.1f} MB in {d['seconds']:.2f} s "
        f"({d['mb_per_s']:.1f} MB/s, {d['workers']} process{'es' if d['workers'] > 1 else ''})"
    )
    if d.get("conllu"):
        k = d["conllu"]
        c.print(f"  {k['n_sentences']:,} sentences, {k['n_words']:,} words; # text rebuilt from forms in "
                f"{k['n_text_rebuilt']:,}, transliterated directly in {k['n_text_direct']:,}")
    if d["target_script"] != "*":  # strip-diacritics alone keeps every letter in its script
        c.print(f"  letters left outside {d['target_script']}: {d['n_uncovered']:,} of {d['n_letters_out']:,} "
                f"({d['uncovered_share']:.2%})")
    if d["top_uncovered"]:
        top = ", ".join(f"{x['char']} {x['codepoint']} x{x['count']:,}" for x in d["top_uncovered"][:8])
        c.print(f"  most frequent: {top}")
    for w in d["warnings"]:
        c.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


def _list(json_path: str | None) -> None:
    from adaptlang.cli.common import console
    from adaptlang.translit import list_schemes

    schemes = list_schemes()
    if json_path:
        emit_json({"schemes": [s.to_dict() for s in schemes]}, json_path)
        if json_path == "-":
            return
    epitran = [s for s in schemes if s.backend == "epitran"]
    for s in schemes:
        if s.backend == "epitran":
            continue
        langs = " ".join(s.languages) or "any language"
        rev = ", reversible" if s.reversible else ""
        console.print(f"[bold]{s.name}[/bold]  {s.source_script} -> {s.target_script}  ({langs}{rev})", highlight=False)
        if s.description:
            console.print(f"    {s.description}", highlight=False)
        console.print(f"    [dim]reference: {s.reference}[/dim]", highlight=False)
    if epitran:
        console.print("[bold]epitran:<code>[/bold]  * -> IPA (phonetic transcription, not an orthography)")
        console.print("    codes: " + " ".join(s.name.split(":", 1)[1] for s in epitran), highlight=False)
        console.print(f"    [dim]reference: {epitran[0].reference}[/dim]", highlight=False)


