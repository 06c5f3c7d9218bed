"""Pictures for the lessons: memory bars, NF4 levels, loss curves, delta-weight spectra.

Every function draws on the Axes it is given (or a new one), returns it, sets no global style
and never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch


def _axes(ax: Any, figsize: tuple[float, float] = (6, 3.5)) -> Any:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_bars(
    values: Mapping[str, float], *, ylabel: str, title: str = "", fmt: str = "{:,.0f}", ax: Any = None
) -> Any:
    """Labelled bars, one per key, each annotated with its value (memory, sizes, counts)."""
    ax = _axes(ax)
    labels, heights = list(values), list(values.values())
    bars = ax.bar(labels, heights, color=plt.cm.tab10.colors[: len(labels)])
    ax.bar_label(bars, labels=[fmt.format(h) for h in heights], padding=2)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(0, max(heights) * 1.15)
    return ax


def plot_nf4_levels(levels: torch.Tensor, reference: np.ndarray | None = None, ax: Any = None) -> Any:
    """The 16 NF4 code values as points, optionally next to normal-distribution quantiles."""
    ax = _axes(ax)
    index = np.arange(len(levels))
    ax.plot(index, levels.float().cpu().numpy(), "o-", label="NF4 code book")
    if reference is not None:
        ax.plot(index, reference, "x--", label="normal quantiles (scaled to [-1, 1])")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("4-bit code (0-15)")
    ax.set_ylabel("value / absmax")
    ax.set_title("The 16 values a 4-bit NF4 weight can take")
    ax.legend()
    return ax


def plot_histogram(
    values: torch.Tensor, *, xlabel: str, title: str = "", bins: int = 100, ax: Any = None
) -> Any:
    """Histogram of a flat tensor of values (e.g. quantization errors), log-scaled counts."""
    ax = _axes(ax)
    ax.hist(values.flatten().float().cpu().numpy(), bins=bins, color="tab:purple")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count (log)")
    ax.set_title(title)
    return ax


def plot_loss_curves(log_history: Sequence[Mapping[str, Any]], ax: Any = None) -> Any:
    """Training and validation loss against step, from ``trainer.state.log_history``."""
    ax = _axes(ax)
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    valid = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss")
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (completion tokens)")
    ax.set_title("Learning curve")
    ax.legend()
    return ax


def plot_dpo_rewards(log_history: Sequence[Mapping[str, Any]], *, title: str = "DPO rewards", ax: Any = None) -> Any:
    """DPO's logged rewards against step, from ``trainer.state.log_history``: chosen, rejected and their margin
    (left axis, in nats times beta), and the share of pairs whose chosen reward is higher (right axis). Lesson 08."""
    ax = _axes(ax)
    logs = [h for h in log_history if "rewards/margins" in h]
    steps = [h["step"] for h in logs]
    for key, style in (("rewards/chosen", "o-"), ("rewards/rejected", "s-"), ("rewards/margins", "^-")):
        ax.plot(steps, [h[key] for h in logs], style, markersize=3, label=key)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("reward = β · log(π / π_ref)")
    ax.set_title(title)
    share = ax.twinx()
    share.plot(steps, [h["rewards/accuracies"] for h in logs], ":", color="black", label="rewards/accuracies")
    share.set_ylim(0, 1.05)
    share.set_ylabel("rewards/accuracies")
    lines, labels = ax.get_legend_handles_labels()
    more_lines, more_labels = share.get_legend_handles_labels()
    ax.legend(lines + more_lines, labels + more_labels, fontsize="small", loc="best")
    return ax


def plot_lines(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logy: bool = False,
    ax: Any = None,
) -> Any:
    """One line per named ``(x, y)`` series (rank sweeps, reconstruction errors, spectra)."""
    ax = _axes(ax)
    for label, (x, y) in series.items():
        ax.plot(x, y, "o-", markersize=3, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return ax


def plot_heatmap(
    table: Mapping[tuple[int, str], float], *, title: str, colorbar_label: str, ax: Any = None
) -> Any:
    """Heatmap of values keyed by (layer, module): layers down, module types across."""
    ax = _axes(ax, figsize=(6, 6))
    layers = sorted({layer for layer, _ in table})
    modules = list(dict.fromkeys(module for _, module in sorted(table, key=lambda k: k[0])))
    grid = np.full((len(layers), len(modules)), np.nan)
    for (layer, module), value in table.items():
        grid[layers.index(layer), modules.index(module)] = value
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(modules)), modules, rotation=45, ha="right")
    ax.set_yticks(range(0, len(layers), max(1, len(layers) // 10)), layers[:: max(1, len(layers) // 10)])
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return ax


def plot_grouped_bars(
    groups: Mapping[str, Mapping[str, float]], *, ylabel: str, title: str = "", fmt: str = "{:.2f}", ax: Any = None
) -> Any:
    """Bars side by side within each group, e.g. predicted vs measured memory per method (lesson 06)."""
    ax = _axes(ax, figsize=(7, 3.5))
    names = list(groups)
    series = list(dict.fromkeys(key for values in groups.values() for key in values))
    width = 0.8 / len(series)
    for k, label in enumerate(series):
        heights = [groups[name].get(label, 0.0) for name in names]
        bars = ax.bar(np.arange(len(names)) + (k - (len(series) - 1) / 2) * width, heights, width, label=label)
        ax.bar_label(bars, labels=[fmt.format(h) for h in heights], padding=2, fontsize=8)
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.set_ylim(0, max(max(v.values()) for v in groups.values()) * 1.18)
    return ax


def plot_stacked_bars(
    stacks: Mapping[str, Mapping[str, float]], *, ylabel: str, title: str = "", line: float | None = None,
    line_label: str = "", ax: Any = None,
) -> Any:
    """One stacked bar per key, split into its terms (memory by term per method); optional horizontal line."""
    ax = _axes(ax, figsize=(7, 3.8))
    names = list(stacks)
    terms = list(dict.fromkeys(term for values in stacks.values() for term in values))
    bottom = np.zeros(len(names))
    for term, color in zip(terms, plt.cm.tab10.colors, strict=False):
        heights = np.array([stacks[name].get(term, 0.0) for name in names])
        ax.bar(names, heights, bottom=bottom, label=term, color=color)
        bottom += heights
    if line is not None:
        ax.axhline(line, color="black", linestyle="--", linewidth=1)
        ax.annotate(line_label, (len(names) - 0.5, line), ha="right", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return ax


def plot_chrf_intervals(scores: Mapping[str, Mapping[str, float]], *, title: str = "", ax: Any = None) -> Any:
    """Horizontal bars of chrF with their 95% bootstrap intervals, one per system (lesson 04)."""
    ax = _axes(ax, figsize=(6, 0.6 * len(scores) + 1.2))
    names = list(scores)[::-1]
    values = [scores[name]["chrf"] for name in names]
    ax.barh(names, values, xerr=[scores[name]["chrf_ci"] for name in names], capsize=4, color="tab:blue", alpha=0.8)
    for y, value in enumerate(values):
        ax.text(1, y, f"{value:.1f}", va="center", ha="left", color="white", fontsize=9, fontweight="bold")
    ax.set_xlabel("chrF on the held-out messages (95% interval)")
    ax.set_xlim(0, max(values) * 1.25)
    ax.set_title(title)
    return ax

