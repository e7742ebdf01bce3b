"""``adaptlang assess``: how well does a model's vocabulary cover this corpus? (options -> one library call -> render)"""

from __future__ import annotations

import os
from typing import Any, Optional

import typer

from adaptlang.cli.common import ByteProgress, console, emit_json


def register(app: typer.Typer) -> None:
    app.command("assess")(assess_command)


def assess_command(
    corpus: str = typer.Argument(..., help="UTF-8 text file (one sentence per line), CoNLL-U file, or - for stdin."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m",
        help="Tokenizer or model directory, or a hub id (default: the embedded mBERT cased vocabulary, offline).",
    ),
    lang: Optional[str] = typer.Option(None, "--lang", "-l", help="ISO 639 code of the corpus's language (ug, wo, mt, ...)."),
    pretraining: str = typer.Option(
        "auto", "--pretraining",
        help="Pretraining-language list of the model: auto (recognise mBERT / XLM-R vocabularies), mbert, xlmr, none.",
    ),
    translit: str = typer.Option(
        "auto", "--translit",
        help="Transliteration what-if: auto (pick a scheme when another script may suit the model better), none, "
        "or a scheme name (see adaptlang transliterate --list).",
    ),
    sample_sentences: int = typer.Option(
        20_000, "--sample-sentences",
        help="Tokenizer metrics use a uniform random sample of this many sentences (the script profile and "
        "character coverage always cover the whole corpus).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the sentence sample."),
    strip_diacritics: bool = typer.Option(
        False, "--strip-diacritics",
        help="Measure the tokenizer on the text without its optional marks (Arabic harakat, Hebrew niqqud, Syriac "
        "vowels, Cyrillic stress marks); diacritised text is detected and reported either way.",
    ),
    encoding_errors: str = typer.Option(
        "strict", "--encoding-errors", help="Invalid UTF-8: strict (stop with the byte offset), replace or ignore."
    ),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write every figure as JSON to this path (- = stdout)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
    donor_dir: Optional[str] = typer.Option(
        None, "--donor-dir", help="A folder of UD treebanks (UD_*/): its treebanks of related languages are measured "
        "as donors (subword overlap before and after transliteration) for `adaptlang train --donor`.",
    ),
) -> None:
    """Script profile, vocabulary coverage, tokenizer metrics, language knowledge, transliteration what-if and the
    predicted category (easy / intermediate / hard) of a corpus for a multilingual model."""
    from adaptlang.options import ASSESS, validate_numeric

    validate_numeric(locals(), ASSESS)
    from adaptlang.cli.common import check_json_path

    check_json_path(json_path)  # an unwritable --json fails now, not after the work
    from adaptlang.assess import assess_corpus
    from adaptlang.fileio import check_output

    if json_path not in (None, "-"):
        check_output(json_path, force)
    total = os.path.getsize(corpus) if corpus != "-" and os.path.isfile(corpus) else None
    with ByteProgress(total, "reading corpus") as progress:
        report = assess_corpus(
            corpus, model=model, lang=lang,
            pretraining=None if pretraining == "none" else pretraining,
            encoding_errors=encoding_errors, sample_sentences=sample_sentences,
            translit=translit, seed=seed, progress=progress, strip_diacritics=strip_diacritics,
            donor_dir=donor_dir,
        )
    d = report.to_dict()
    if json_path == "-":
        emit_json(d, "-")
        return
    render(d)
    if json_path:
        emit_json(d, json_path)
        console.print(f"[dim]JSON report written to {json_path}[/dim]")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def render(d: dict[str, Any]) -> None:
    """The seven parts of the report, in order."""
    _render_header(d)
    _render_scripts(d)
    _render_vocabulary(d)
    after = _render_tokenizer(d)
    _render_language(d)
    _render_translit(d, after)
    _render_prediction(d)
    _render_donors(d)


def _render_header(d: dict[str, Any]) -> None:
    c, m = d["corpus"], d["model"]
    notes = []
    if c["had_bom"]:
        notes.append("BOM removed")
    if c["had_crlf"]:
        notes.append("CRLF line ends")
    if c["n_replaced"]:
        notes.append(f"{c['n_replaced']} invalid UTF-8 sequences replaced")
    console.print(
        f"[bold]{c['path']}[/bold]: {c['format']}, {c['n_bytes']:,} bytes, {c['n_sentences']:,} sentences"
        + (f" ({', '.join(notes)})" if notes else "")
    )
    console.print(
        f"model tokenizer: [bold]{m['name']}[/bold] ({m['kind']}, {m['vocab_size']:,} pieces; pretraining languages: "
        f"{d['language']['pretraining_description'] or 'unknown'})"
    )


def _render_scripts(d: dict[str, Any]) -> None:
    from rich.table import Table

    sp = d["scripts"]
    t = Table(title="1. Script profile (whole corpus, letters)", title_justify="left")
    t.add_column("script")
    t.add_column("letters", justify="right")
    t.add_column("share", justify="right")
    for row in sp["scripts"][:8]:
        t.add_row(f"{row['name']} ({row['script']})", f"{row['n_letters']:,}", _pct(row["share"]))
    console.print(t)
    mixed = f"{_pct(sp['mixed_script_word_share'])} of {sp['n_words']:,} words mix scripts"
    if sp["mixed_script_examples"]:
        mixed += " (e.g. " + ", ".join(sp["mixed_script_examples"][:3]) + ")"
    if sp["letter_digit_word_share"] >= 0.001:
        mixed += f"; {_pct(sp['letter_digit_word_share'])} mix letters and digits (Arabizi-style)"
    console.print(f"dominant script: [bold]{sp['dominant_script_name']}[/bold]; {mixed}")


def _render_vocabulary(d: dict[str, Any]) -> None:
    from rich.table import Table

    v = d["vocabulary"]
    t = Table(title="2. Vocabulary profile", title_justify="left")
    for col in ("corpus script", "vocab pieces", "share of vocab", "letters known", "unknown letters"):
        t.add_column(col, justify="left" if col in ("corpus script", "unknown letters") else "right")
    for row in v["corpus_scripts"]:
        t.add_row(
            f"{row['name']} ({row['script']})", f"{row['vocab_pieces']:,}", _pct(row["vocab_share"]),
            _pct(row["letter_coverage"]), " ".join(row["uncovered_letters"][:8]) or "-",
        )
    console.print(t)
    top = ", ".join(f"{r['name']} {_pct(r['share'])}" for r in v["pieces_by_script"][:5])
    console.print(f"vocabulary by script: {top}")
    console.print(
        f"character coverage: [bold]{_pct(v['char_coverage'])}[/bold] of the corpus's characters tokenize to a known "
        f"piece ({v['n_unk_chars']:,} unknown, {v['n_dropped_chars']:,} dropped by the tokenizer)"
    )


def _render_tokenizer(d: dict[str, Any]) -> Any:
    """Part 3, with the transliteration what-if's figures side by side; returns them (or None)."""
    from rich.table import Table

    s = d["sample"]
    tk, tr = d["tokenizer"], d["translit"]
    sample = "whole corpus" if s["whole_corpus"] else f"random sample of {s['n_sentences']:,} sentences (seed {s['seed']})"
    t = Table(title=f"3. Tokenizer metrics ({sample}, {tk['n_words']:,} words)", title_justify="left")
    t.add_column("metric")
    t.add_column("corpus", justify="right")
    after = tr["after"]
    if after:
        t.add_column(f"transliterated ({tr['scheme']})", justify="right")
    rows = [
        ("fertility (pieces per word)", "fertility", False),
        ("continued words (2+ pieces)", "continued_word_rate", True),
        ("UNK rate per piece", "unk_piece_rate", True),
        ("UNK rate per word", "unk_word_rate", True),
        ("words split into single characters", "char_split_word_rate", True),
    ]
    for label, key, pct in rows:
        fmt = _pct if pct else (lambda x: f"{x:.2f}")
        cells = [label, fmt(tk[key])]
        if after:
            cells.append(fmt(after[key]))
        t.add_row(*cells)
    console.print(t)
    ex = "; ".join(f"{e['word']} → {' '.join(e['pieces'])}" for e in tk["examples"][:4])
    if ex:
        console.print(f"[dim]frequent words: {ex}[/dim]")
    if after:
        ex = "; ".join(f"{e['word']} → {' '.join(e['pieces'])}" for e in after["examples"][:4])
        console.print(f"[dim]transliterated: {ex}[/dim]")
    dia = (d.get("diacritics") or {}).get("summary")
    if dia:
        colour = "dim" if d["diacritics"]["stripped"] else "yellow"
        console.print(f"[{colour}]diacritics: {dia}[/{colour}]")
    return after


def _render_language(d: dict[str, Any]) -> None:
    from rich.table import Table

    lk = d["language"]
    console.print("[bold]4. Language knowledge[/bold]")
    if not lk["lang"]:
        console.print("no --lang given: pass the language's ISO 639 code to check the pretraining languages")
    elif not lk["pretraining"]:
        console.print(f"{lk['lang_name']} ({lk['lang']}): the model's pretraining languages are unknown "
                      "(pass --pretraining mbert|xlmr if it is one of those)")
    else:
        if lk["in_model"]:
            console.print(f"{lk['lang_name']} ({lk['lang']}) IS a pretraining language of the model, in "
                          + ", ".join(lk["lang_scripts_in_model"]))
        else:
            console.print(f"{lk['lang_name']} ({lk['lang']}) is NOT among the {lk['n_pretraining_languages']} "
                          "pretraining languages")
        if lk["relatives"]:
            t = Table(show_edge=False)
            for col in ("relative", "relation", "pretrained", "script in pretraining"):
                t.add_column(col)
            for r in lk["relatives"]:
                t.add_row(f"{r['name']} ({r['code']})", r["relation"], "yes" if r["in_model"] else "no",
                          ", ".join(r["scripts_in_model"]) or "-")
            console.print(t)
        elif not lk["relatives_known"]:
            console.print("its relatives are not in the relatedness table")


def _render_translit(d: dict[str, Any], after: Any) -> None:
    tr = d["translit"]
    if not after:
        console.print(f"[bold]5. Transliteration what-if[/bold]: {tr['note']}")
    else:
        helps = {True: "helps the tokenizer", False: "does not help the tokenizer", None: "-"}[tr["helps"]]
        console.print(f"[bold]5. Transliteration what-if[/bold]: {tr['scheme']} {helps}: {tr.get('why') or '-'}")
        if len(tr.get("candidates") or []) > 1:
            tried = "; ".join(f"{c['scheme']} {_pct(c['unk_word_rate'])} UNK words, fertility {c['fertility']:.2f}"
                              for c in tr["candidates"])
            console.print(f"   [dim]schemes measured (lowest UNK word rate, then fertility, wins): {tried}[/dim]")


def _render_prediction(d: dict[str, Any]) -> None:
    from rich.panel import Panel

    p, rec = d["prediction"], d["recommendation"]
    colour = {"easy": "green", "intermediate": "yellow", "hard": "red"}[p["category"]]
    body = "\n".join(f"• {r}" for r in p["reasons"])
    body += ("\n[dim]A prediction from cheap signals; the measured category needs training runs "
             "(adaptlang categorize).[/dim]")
    console.print(Panel(body, title=f"6. Predicted category: [bold {colour}]{p['category']}[/bold {colour}]",
                        title_align="left"))
    console.print(f"[bold]7. Next:[/bold] {rec['command']}\n   [dim]{rec['explanation']}[/dim]")


def _render_donors(d: dict[str, Any]) -> None:
    from rich.table import Table

    ds = d.get("donors") or {}
    donors = ds.get("donors") or []
    console.print("[bold]8. Donor treebanks[/bold] (related-language treebanks to train on with `train --donor`)"
                  + (f": {ds['note']}" if ds.get("note") and not donors else ""))
    if not donors:
        return
    t = Table(show_edge=False)
    for col in ("treebank", "relation", "pretrained", "script", "sentences", "overlap", "transliterated"):
        t.add_column(col, justify="right" if col in ("sentences", "overlap") else "left")
    for x in donors:
        t.add_row(f"{x['treebank'].removeprefix('UD_')}", x["relation"],
                  {True: "yes", False: "no", None: "?"}[x["in_model"]], x["script"],
                  "-" if x["n_sentences"] is None else f"{x['n_sentences']:,}{'+' if x['truncated'] else ''}",
                  _overlap(x["before"]), _translit_cell(x, ds.get("target_script")))
    console.print(t)
    console.print("[dim]overlap: share of the corpus's subword tokens (types) seen in the donor's text under this "
                  "model's tokenizer, as written and after the transliteration that puts both in one script; "
                  "- = not measured (give --donor-dir)[/dim]")
    schemes = {(x["after"]["scheme"], x["after"]["direction"]) for x in donors if x["after"]}
    for scheme, direction in sorted(schemes):
        console.print(f"[dim]*{scheme}: the {direction}'s words transliterated "
                      f"({'--donor-translit' if direction == 'donor' else '--translit'} {scheme})[/dim]")
    if ds.get("note"):
        console.print(f"[dim]{ds['note']}[/dim]")
    for command in ds.get("commands") or []:
        console.print(f"   {command}")
    if ds.get("caution"):
        console.print(f"[dim]{ds['caution']}[/dim]")


def _overlap(o: dict[str, Any] | None) -> str:
    return "-" if o is None else f"{_pct(o['tokens'])} ({_pct(o['types'])})"


def _translit_cell(x: dict[str, Any], target_script: str | None) -> str:
    if x["script"] == target_script:
        return "same script"
    a = x["after"]
    if a is None:
        return "no scheme" if "no transliteration" in x["one_script"] else "-"
    return f"{_overlap(a)} *{a['scheme']}"
