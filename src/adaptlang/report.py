"""Rendering of results to files: Markdown reports and matplotlib PNG plots.

Plots use matplotlib's non-interactive Agg backend (imported inside each function, so importing this module stays
cheap). Every writer goes through :mod:`adaptlang.fileio`, so no half-written file is left behind.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from adaptlang.fileio import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from adaptlang.analysis.cka import CkaResult
    from adaptlang.analysis.probe import ProbeResult
    from adaptlang.pipeline.results import CategorizeResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> None:
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_cka(result: "CkaResult", path: str | os.PathLike) -> None:
    """One curve per (target, model): CKA against layer; before = solid, after = dashed, same colour per target."""
    from adaptlang.analysis.cka import language_label

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    targets = list(dict.fromkeys(c.target for c in result.curves))
    for curve in result.curves:
        colour = colours[targets.index(curve.target) % len(colours)]
        style = "-" if curve.role == "before" else "--"
        label = language_label(curve.target) + ("" if curve.role == "before" else " (after)")
        if any(c.role == "after" for c in result.curves) and curve.role == "before":
            label += " (before)"
        layers = list(range(len(curve.scores)))
        ax.plot(layers, curve.scores, style, marker="o", markersize=3, color=colour, label=label)
        if curve.control:
            ax.plot(layers, curve.control, ":", color=colour, alpha=0.6, linewidth=1,
                    label="dotted: shuffled pairs" if curve is result.curves[0] else None)
    ax.set_xlabel("layer (0 = embeddings)")
    debiased = " (debiased)" if result.config.debiased else ""
    ax.set_ylabel(f"{result.config.kernel} CKA{debiased} with {language_label(result.config.source)}")
    n_layers = max(len(c.scores) for c in result.curves)
    ax.set_xticks(list(range(n_layers)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Cross-lingual similarity per layer: {Path(result.config.model).name}", fontsize=10)
    _save(fig, path)


def plot_probe(result: "ProbeResult", path: str | os.PathLike) -> None:
    """UPOS probe accuracy against layer, one line per model; the word-form lookup as a dotted reference line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for curve in result.curves:
        ax.plot(range(len(curve.accuracy)), curve.accuracy, "-", marker="o", markersize=3, label=curve.label)
    ax.axhline(result.word_form, linestyle=":", color="grey", label="word-form lookup (no model)")
    n_layers = max(len(c.accuracy) for c in result.curves)
    ax.set_xticks(list(range(n_layers)))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"UPOS accuracy (%), {result.n_eval_words} held-out words")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Linear UPOS probe per layer: {Path(result.config.train).name}, "
                 f"{result.n_train_sentences} training sentences", fontsize=10)
    _save(fig, path)


def plot_bars(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    *,
    ylabel: str,
    title: str,
) -> None:
    """Grouped bar chart with error bars: ``series`` = [(name, values per group, error per group)]."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) * max(1, len(series)) / 2), 4.2))
    width = 0.8 / max(1, len(series))
    for k, (name, values, errors) in enumerate(series):
        xs = [g + (k - (len(series) - 1) / 2) * width for g in range(len(groups))]
        vals = [v if v is not None and not math.isnan(v) else 0.0 for v in values]
        errs = [e if e is not None and not math.isnan(e) else 0.0 for e in errors]
        bars = ax.bar(xs, vals, width, yerr=errs, capsize=3, label=name)
        for bar, v in zip(bars, values):
            if v is not None and not math.isnan(v):
                ax.annotate(f"{v:.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(list(range(len(groups))))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


# ---------------------------------------------------------------------------------------------------------------
# categorize: RUN/results.json, RUN/report.md, RUN/scores.png, RUN/tokenizer.png

VARIANT_LABELS = {
    "baseline": "baseline (BiLSTM, from scratch)",
    "direct": "model fine-tuned directly",
    "mlm": "MLM-adapted, then fine-tuned",
    "direct+translit": "transliterated, fine-tuned directly",
    "mlm+translit": "transliterated, MLM-adapted, fine-tuned",
    "scratch": "monolingual BERT from scratch (extra: not in the verdict)",
    "direct+donor": "direct, trained with the donor treebanks too (extra: not in the verdict)",
}
TOKENIZER_METRICS = (
    ("fertility", "fertility (pieces / word)", 1.0),
    ("continued_word_rate", "continued words (%)", 100.0),
    ("unk_word_rate", "UNK words (%)", 100.0),
    ("char_split_word_rate", "single-character splits (%)", 100.0),
)


def write_categorize_report(run_dir: str | os.PathLike, result: "CategorizeResult") -> list[str]:
    """Write results.json, the plots and report.md into ``run_dir``; return the file names written."""
    from adaptlang.fileio import write_json_atomic, write_text_atomic

    run = Path(run_dir)
    results = result.to_dict()
    written = []
    if results["variants"]:  # (none with --task ner: the NER scores are a table)
        plot_variant_scores(results, run / "scores.png")
        written.append("scores.png")
    if tokenizer_rows(results):
        plot_tokenizer_metrics(results, run / "tokenizer.png")
        written.append("tokenizer.png")
    results["files"] = ["results.json", "report.md", *written]
    write_json_atomic(run / "results.json", results)
    write_text_atomic(run / "report.md", categorize_markdown(results))
    return results["files"]


def plot_variant_scores(results: dict[str, Any], path: str | os.PathLike) -> None:
    variants = results["variants"]
    metrics = ("upos", "uas", "las")
    series = [
        (name, [variants[name][m]["mean"] for m in metrics], [variants[name][m]["sd"] for m in metrics])
        for name in variants
    ]
    n_seeds = max(v["seeds"] for v in variants.values())
    plot_bars(
        [m.upper() for m in metrics], series, path, ylabel="test score (%)",
        title=f"Scores per variant (mean ± sd over {n_seeds} seed{'s' if n_seeds > 1 else ''})",
    )


def tokenizer_rows(results: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """(column name, [metric values]) for the tokenizer plot and table: the corpus as is, transliterated (what-if),
    and after vocabulary extension when adaptation extended it."""
    assess = results.get("assess") or {}
    rows: list[tuple[str, list[float | None]]] = []
    tok = assess.get("tokenizer")
    if tok:
        rows.append(("original script", [_scaled(tok, k, f) for k, _, f in TOKENIZER_METRICS]))
    what_if = assess.get("translit_what_if") or {}
    if what_if.get("after"):
        rows.append((f"transliterated ({what_if.get('scheme')})",
                     [_scaled(what_if["after"], k, f) for k, _, f in TOKENIZER_METRICS]))
    return rows


def _scaled(d: dict[str, Any], key: str, factor: float) -> float | None:
    v = d.get(key)
    return None if v is None else float(v) * factor


def plot_tokenizer_metrics(results: dict[str, Any], path: str | os.PathLike) -> None:
    """tokenizer.png: the metrics of the corpus as is, and transliterated only when the what-if ran."""
    import textwrap

    rows = tokenizer_rows(results)
    if len(rows) == 1:
        rows = [("corpus", rows[0][1])]  # no what-if: nothing was transliterated, so say nothing about it
    series = [(name, [v if v is not None else float("nan") for v in values], [0.0] * len(values))
              for name, values in rows]
    labels = [textwrap.fill(label, 11) for _, label, _ in TOKENIZER_METRICS]  # short lines: no overlap
    title = "Tokenizer on the corpus (assess)"
    if len(rows) > 1:
        title = "Tokenizer on the corpus, original script and transliterated (assess)"
    plot_bars(labels, series, path, ylabel="value", title=title)


def _ms(d: dict[str, Any]) -> str:
    """mean ± sd; a single seed has no spread to show."""
    return f"{d['mean']:.2f} ± {d['sd']:.2f}" if d.get("n", 2) > 1 else f"{d['mean']:.2f}"


def _diff(d: dict[str, Any]) -> str:
    note = " (within noise)" if d["within_noise"] else ""
    return f"{d['diff']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]{note}"


def budget_caution(r: dict[str, Any]) -> str | None:
    """A warning when most runs of a variant were still improving at their last epoch (None otherwise)."""
    budget = r.get("budget") or {}
    still = budget.get("still_improving") or []
    if not still:
        return None
    counts = budget.get("still_improving_runs") or budget["best_epoch_is_last"]
    which = ", ".join(f"{v} ({counts[v]['runs']}/{counts[v]['of']} runs)" for v in still)
    rule = budget.get("rule") or "a run is still improving when its best dev epoch was its last"
    return (f"most runs of {which} were still improving when their budget ended ({rule}), so the scores, and the "
            "verdict, may change with more epochs (`--epochs`, `--max-minutes`, `--max-train-sentences`).")


def undecided_lines(r: dict[str, Any]) -> list[str]:
    """What an "undecided: budget" verdict needs (empty for a decided one): the lines the report and the terminal
    lead with."""
    from adaptlang.stats import INCOMPLETE, UNDECIDED

    v = r["verdict"]
    if v["category"] == INCOMPLETE:
        return [f"No category: the definition compares the model fine-tuned directly (direct) and MLM-adapted (mlm) "
                f"with the baseline, and this run has no {', '.join(v.get('missing') or [])} (a subset of the "
                "variants was asked for with `--variants`). The scores and differences below are measured."]
    if v["category"] != UNDECIDED:
        return []
    return ([f"The point estimates say {v.get('measured')}, but runs still improving when their budget ended could "
             "overturn that: no category until they converge. What it would take:"]
            + [f"- {need}" for need in v.get("budget") or []])


MODE_TEXT = {
    "finetune": "**finetune**: each pretrained variant is the model fine-tuned as the parser's encoder; this is the "
                "study's definition (Muller et al., 2021).",
    "features": "**features**: each pretrained variant is the baseline plus the *frozen* contextual vectors of the "
                "model (direct) or of the adapted model (mlm), UDPipe 2 style, cheap enough to train to convergence "
                "on a CPU. The study's definition fine-tunes the model (`--mode finetune`); this mode says whether "
                "the model's representations help a parser of the language.",
}


def categorize_markdown(r: dict[str, Any]) -> str:
    """report.md from the content of results.json."""
    sections = (_md_verdict, _md_scores, _md_ner, _md_translit, _md_tokenizer, _md_adaptation, _md_run)
    return "\n".join(line for section in sections for line in section(r)) + "\n"


def _md_verdict(r: dict[str, Any]) -> list[str]:
    c, v = r["config"], r["verdict"]
    pct = int(round(100 * r["statistics"]["ci_level"]))
    seeds = c["seeds"]
    lines = [
        f"# Categorize: `{Path(c['corpus']).name}` with `{c['model']}`",
        "",
        f"**Measured category: {v['category']}**"
        + ("" if undecided_lines(r) else
           " (firm: every deciding difference is outside noise)" if v["firm"] else
           f" (within noise: the intervals also allow {', '.join(p for p in v['possible'] if p != v['category'])})"),
        "",
    ]
    lines += undecided_lines(r) + ([""] if undecided_lines(r) else [])
    lines += [f"Mode: {MODE_TEXT[c.get('mode') or 'finetune']}", ""]
    pv = r["prediction_vs_measured"]
    if pv["predicted"]:
        agree = "agrees with" if pv["agree"] else "differs from"
        lines += [f"The measured category {agree} the category `assess` predicted from cheap signals: "
                  f"**{pv['predicted']}** (rule: {r['assess']['prediction'].get('rule')}).", ""]
    lines += [
        "Definition, per task: *easy* when the model fine-tuned directly beats the from-scratch baseline; "
        "*intermediate* when only the MLM-adapted model (best adapted variant) beats it; *hard* when neither does. "
        "Overall: the hardest per-task category.",
        "",
        f"## Verdict per task ({pct}% bootstrap intervals, {seeds} seed{'s' if seeds > 1 else ''})",
        "",
        "| task | category | direct − baseline | best adapted − baseline | possible within noise |",
        "| --- | --- | --- | --- | --- |",
    ]
    for task, t in v["tasks"].items():
        adapted = t["adapted_vs_baseline"]
        best = r["differences"][task]["best adapted"]
        lines.append(
            f"| {task.upper()} | **{t['category']}**{'' if t['firm'] else ' (within noise)'} "
            f"| {_diff(t['direct_vs_baseline'])} | {best}: {_diff(adapted) if adapted else '—'} "
            f"| {', '.join(t['possible'])} |"
        )
    caution = budget_caution(r)
    return lines + (["", f"**Budget:** {caution}"] if caution else [])


def _md_scores(r: dict[str, Any]) -> list[str]:
    if not r["variants"]:  # --task ner: see _md_ner
        return []
    lines = [
        "",
        f"## Test scores (mean ± sd over seeds; test set: {r['data']['n_test_sentences']} sentences, "
        f"{r['data']['n_test_words']} words)",
        "",
        "| variant | UPOS | UAS | LAS | training time (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, d in r["variants"].items():
        lines.append(f"| {VARIANT_LABELS.get(name, name)} | {_ms(d['upos'])} | {_ms(d['uas'])} | {_ms(d['las'])} "
                     f"| {d['train_seconds']['mean']:.0f} |")
    lines += _md_other_metrics(r)
    lines += ["", "![scores per variant](scores.png)", "", "## All differences", "",
              "| task | difference | points [interval] |", "| --- | --- | --- |"]
    for task, diffs in r["differences"].items():
        for name, d in diffs.items() if task != "ner" else ():  # NER's: in its own section
            if isinstance(d, dict):
                lines.append(f"| {task.upper()} | {name} | {_diff(d)} |")
    return lines


OTHER_METRIC_NAMES = {"xpos": "XPOS", "ufeats": "UFeats", "alltags": "AllTags", "lemma": "LEMMA", "clas": "CLAS",
                      "mlas": "MLAS", "blex": "BLEX"}


def _md_other_metrics(r: dict[str, Any]) -> list[str]:
    """The other CoNLL 2018 metrics of each variant (the columns its models predict), beside the verdict's."""
    shown = [m for m in OTHER_METRIC_NAMES if any(m in d.get("other_metrics", {}) for d in r["variants"].values())]
    if not shown:
        return []
    lines = ["", "Other CoNLL 2018 metrics (mean ± sd over seeds; reported, not part of the verdict, which uses UPOS "
             "and LAS as the study did):", "",
             "| variant | " + " | ".join(OTHER_METRIC_NAMES[m] for m in shown) + " |",
             "| --- |" + " --- |" * len(shown)]
    for name, d in r["variants"].items():
        other = d.get("other_metrics", {})
        lines.append(f"| {VARIANT_LABELS.get(name, name)} | "
                     + " | ".join(_ms(other[m]) if m in other else "—" for m in shown) + " |")
    return lines


def _md_translit(r: dict[str, Any]) -> list[str]:
    lines = ["", "## Transliteration", "", f"Scheme: {r['translit']['reason']}.", ""]
    if r["translit_gain"]:
        lines += ["| task | gain | points [interval] |", "| --- | --- | --- |"]
        for task, gains in r["translit_gain"].items():
            for name, d in gains.items():
                lines.append(f"| {task.upper()} | {name} | {_diff(d)} |")
        lines.append("")
    return lines


def _md_tokenizer(r: dict[str, Any]) -> list[str]:
    rows = tokenizer_rows(r)
    if not rows:
        return []
    lines = ["## Tokenizer metrics (from `assess`)", "",
             "| | " + " | ".join(label for _, label, _ in TOKENIZER_METRICS) + " |",
             "| --- | " + " | ".join("---" for _ in TOKENIZER_METRICS) + " |"]
    for name, values in rows:
        lines.append(f"| {name} | " + " | ".join("—" if x is None else f"{x:.2f}" for x in values) + " |")
    return lines + ["", "![tokenizer metrics](tokenizer.png)", ""]


def _md_adaptation(r: dict[str, Any]) -> list[str]:
    if not r.get("adaptation"):
        return []
    lines = ["## MLM adaptation", "", "| translit | steps (passes) | stopped by | head warm-up steps | held-out MLM "
             "loss before → after | pseudo-perplexity before → after | time (s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, a in r["adaptation"].items():
        h, d, w = a.get("heldout") or {}, a.get("data") or {}, a.get("head_warmup") or {}
        lines.append(
            f"| {name} | {a.get('steps')} ({_num(d.get('epochs'), 2)}) | {d.get('stop_reason', '-')} "
            f"| {w.get('steps', '-')} | {_num(h.get('mlm_loss_before'))} → {_num(h.get('mlm_loss_after'))} "
            f"| {_num(h.get('pseudo_perplexity_before'))} → {_num(h.get('pseudo_perplexity_after'))} "
            f"| {_num(a.get('train_seconds'), 0)} |"
        )
    first = next(iter(r["adaptation"].values())).get("data") or {}
    pieces, vocab = first.get("head_pieces"), first.get("vocabulary")
    if pieces and vocab and pieces < vocab:
        lines += ["", f"MLM losses are over the {pieces:,} pieces the corpus uses (of {vocab:,}: "
                      "`adapt --head-vocab corpus`)."]
    return lines + [""]


def _md_run(r: dict[str, Any]) -> list[str]:
    c, d, st = r["config"], r["data"], r["statistics"]
    lines = [
        "## Run",
        "",
        *([f"- Training sentences: {d['n_train_sentences']} of {d['n_train_sentences_total']}"
           + (" (cut with --max-train-sentences)" if d.get("train_cut") else "")] if d else []),
        f"- {_epochs_line(c)}; MLM adaptation ({c['adapt_method']}): {_mlm_budget(c)}"
        + (f"; time budget per fine-tuning run: {c['max_minutes']} min" if c.get("max_minutes") else ""),
        *(f"- {line}" for line in training_lines(r)),
        *([f"- Convergence rule: {r['budget']['rule']}."] if (r.get("budget") or {}).get("rule") else []),
        f"- Statistics: {st['method']}; {st['n_bootstrap']} samples. {st['beats']}. {st['adaptation_runs']}.",
        "",
        "| stage | status | seconds |",
        "| --- | --- | --- |",
    ]
    return lines + [f"| {s['name']} | {s['status']} | {s['seconds']:.0f} |" for s in r["stages"]]


def _epochs_line(c: dict[str, Any]) -> str:
    """What the runs' epochs were: in features mode every variant is the BiLSTM, so ``--baseline-epochs`` (not
    ``--epochs``) is every variant's."""
    corpus = "; word embeddings trained on the corpus" if c.get("baseline_corpus") else ""
    per_task = c.get("bilstm_epochs") or {}  # older results: none, only --baseline-epochs
    tasks = ("parse", "ner") if c.get("task") == "both" else (c.get("task") or "parse",)
    resolved = (", ".join(f"{per_task[t]} ({'NER' if t == 'ner' else 'parsing'})" for t in tasks)
                if len(tasks) > 1 and all(t in per_task for t in tasks)
                else per_task.get(tasks[0]) or c["baseline_epochs"])
    if c.get("mode") == "features":
        return (f"Epochs: {resolved or 'the baseline default'} for every variant (features mode: each "
                f"is the BiLSTM, beside the frozen vectors for the pretrained ones; `--baseline-epochs`){corpus}")
    return f"Fine-tuning epochs: {c['epochs']} (baseline: {resolved or 'its default'}{corpus})"


NER_LABELS = {**VARIANT_LABELS, "baseline": "baseline (BiLSTM-CRF, from scratch)"}


def _md_ner(r: dict[str, Any]) -> list[str]:
    """The NER task's scores, differences and runs (``--task ner`` or ``both``)."""
    ner = r.get("ner")
    if not ner:
        return []
    d = ner["data"]
    lines = ["", f"## NER test scores (entity level, strict IOB2 as seqeval and conlleval; mean ± sd over seeds; "
                 f"test file: {d.get('n_test_sentences')} sentences, {d.get('n_test_entities')} entities)", "",
             "| variant | entity F1 | precision | recall | training time (s) |", "| --- | --- | --- | --- | --- |"]
    for name, v in ner["variants"].items():
        lines.append(f"| {NER_LABELS.get(name, name)} | {_ms(v['f1'])} | {_ms(v['precision'])} | "
                     f"{_ms(v['recall'])} | {v['train_seconds']['mean']:.0f} |")
    lines += ["", "| NER difference | entity F1 points [interval] |", "| --- | --- |"]
    lines += [f"| {name} | {_diff(x)} |" for name, x in r["differences"]["ner"].items() if isinstance(x, dict)]
    cut = " (cut with --max-train-sentences)" if d.get("train_cut") else ""
    lines += ["", f"- NER training sentences: {d.get('n_train_sentences')} of {d.get('n_train_sentences_total')}"
                  f"{cut}; {d.get('n_train_entities')} entities"]
    lines += [f"- NER {line}" for line in training_lines({"variants": ner["variants"]})]
    lines += [f"- Still improving: {v}: {need}" for v, need in (ner.get("still_improving") or {}).items()]
    return lines + [f"- NER statistics: {ner['statistics']}.", ""]


def _mlm_budget(c: dict[str, Any]) -> str:
    """The MLM adaptation's budget as configured: steps, or passes to convergence under a time budget."""
    if c.get("adapt_steps"):
        return f"{c['adapt_steps']} steps"
    minutes = f", at most {c['adapt_minutes']:g} min" if c.get("adapt_minutes") else ""
    return (f"to convergence (early stopping on the held-out MLM loss; at most {c.get('adapt_epochs', 0):g} passes"
            f"{minutes})")


def training_lines(r: dict[str, Any]) -> list[str]:
    """What the training runs of each variant did, from their train.json: epochs run of those planned, and whether
    early stopping was on and stopped them (results written before these were recorded give no line)."""
    lines = []
    for name, d in r["variants"].items():
        runs = d.get("runs") or []
        if not runs or any(run.get("epochs_planned") is None for run in runs):
            continue
        ran = ", ".join(str(run.get("epochs_run")) for run in runs)
        planned = "/".join(sorted({str(run["epochs_planned"]) for run in runs}))
        patience = sorted({run.get("patience") or 0 for run in runs})
        stopped = sum(bool(run.get("stopped_early")) for run in runs)
        if patience == [0]:
            how = "early stopping off"
        else:
            how = (f"early stopping on (patience {'/'.join(map(str, patience))}), stopped {stopped} of "
                   f"{len(runs)} run{'s' if len(runs) > 1 else ''} early")
        lines.append(f"{name}: epochs run {ran} of {planned} planned; {how}")
    return lines


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


# ---------------------------------------------------------------------------------------------------------------
# analyze random-init


def short_test_name(path: str) -> str:
    """``.../UD_German-GSD/de_gsd-ud-test.conllu`` -> ``de_gsd``."""
    stem = Path(path).name
    for suffix in (".conllu", "-ud-test", "-ud-dev", "-ud-train"):
        stem = stem.removesuffix(suffix)
    return stem


def plot_random_init(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Score change against REF per re-initialised range, one panel per metric, one bar per test set, with the
    bootstrap interval as (asymmetric) error bars."""
    plt = _pyplot()
    metrics = tuple(result.get("metrics") or ("upos", "las"))  # NER: ("f1",)
    tests = [t["path"] for t in result["tests"]]
    rows = result["rows"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(6.0, 1.2 * len(rows) * len(metrics)), 4.0), sharey=True,
                             squeeze=False)
    axes = axes[0]
    width = 0.8 / max(1, len(tests))
    for ax, metric in zip(axes, metrics):
        for k, test in enumerate(tests):
            xs = [i + (k - (len(tests) - 1) / 2) * width for i in range(len(rows))]
            cells = [row["tests"][test][metric] for row in rows]
            vals = [cell["diff"] for cell in cells]
            err = [[v - cell["ci_low"] for v, cell in zip(vals, cells)],
                   [cell["ci_high"] - v for v, cell in zip(vals, cells)]]
            ax.bar(xs, vals, width, yerr=err, capsize=3, label=short_test_name(test))
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(list(range(len(rows))))
        ax.set_xticklabels([row["reinit"] for row in rows])
        ax.set_xlabel("re-initialised layers")
        ax.set_title(f"{metric.upper()} change vs REF", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("points")
    axes[0].legend(fontsize=8)
    _save(fig, path)
