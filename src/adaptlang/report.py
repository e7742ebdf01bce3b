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
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"{result.config.kernel} CKA with {language_label(result.config.source)}")
    n_layers = max(len(c.scores) for c in result.curves)
    ax.set_xticks(list(range(n_layers)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Cross-lingual similarity per layer: {Path(result.config.model).name}", fontsize=10)
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
