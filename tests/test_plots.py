import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import plots


def test_every_plot_returns_its_axes_and_draws_on_the_given_one():
    _, axes = plt.subplots(2, 3)
    axes = axes.ravel()
    drawn = [
        plots.plot_bars({"fp32": 538.0, "nf4": 166.0}, ylabel="MB", ax=axes[0]),
        plots.plot_nf4_levels(torch.linspace(-1, 1, 16), reference=np.linspace(-1, 1, 16), ax=axes[1]),
        plots.plot_histogram(torch.randn(1000), xlabel="error", ax=axes[2]),
        plots.plot_loss_curves(
            [{"step": 5, "loss": 2.0}, {"step": 10, "loss": 1.5}, {"step": 10, "eval_loss": 1.7}], ax=axes[3]
        ),
        plots.plot_lines({"a": ([1, 2], [3, 4])}, xlabel="r", ylabel="n", logy=True, ax=axes[4]),
        plots.plot_heatmap({(0, "q_proj"): 1.0, (1, "v_proj"): 2.0}, title="t", colorbar_label="c", ax=axes[5]),
    ]
    assert drawn == list(axes)
    assert len(axes[3].lines) == 2
    plt.close("all")


def test_new_axes_when_none_given():
    ax = plots.plot_bars({"a": 1.0}, ylabel="x")
    assert ax.figure is not None
    plt.close("all")


def test_grouped_bars_put_each_series_side_by_side_in_every_group():
    groups = {"full": {"predicted": 3.9, "measured": 3.7}, "lora": {"predicted": 2.0, "measured": 2.2},
              "qlora": {"predicted": 2.3}}
    ax = plots.plot_grouped_bars(groups, ylabel="GB")
    bars = ax.patches
    assert len(bars) == 6, "two series x three groups (a missing value is drawn as 0)"
    heights = [round(bar.get_height(), 6) for bar in bars]
    assert heights == [3.9, 2.0, 2.3, 3.7, 2.2, 0.0]
    centres = [bar.get_x() + bar.get_width() / 2 for bar in bars]
    assert centres[0] < 0 < centres[3] and centres[1] < 1 < centres[4], "series sit either side of each tick"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(groups)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["predicted", "measured"]
    assert ax.get_ylim()[1] >= 3.9
    plt.close("all")


def test_stacked_bars_add_up_each_term_and_draw_the_line():
    stacks = {"full": {"weights": 2.0, "activations": 1.0}, "qlora": {"weights": 0.5, "activations": 1.5}}
    ax = plots.plot_stacked_bars(stacks, ylabel="GB", line=3.5, line_label="8 GB")
    bars = ax.patches
    tops = {}
    for bar in bars:
        tops[round(bar.get_x(), 6)] = max(tops.get(round(bar.get_x(), 6), 0), bar.get_y() + bar.get_height())
    assert sorted(tops.values()) == [pytest.approx(2.0), pytest.approx(3.0)], "each bar is the sum of its terms"
    activations = bars[2:]
    assert [bar.get_y() for bar in activations] == [2.0, 0.5], "a term starts where the previous one ends"
    assert any(line.get_ydata()[0] == 3.5 for line in ax.lines) and ax.texts[0].get_text() == "8 GB"
    plt.close("all")


def test_chrf_intervals_draw_one_bar_per_system_with_its_error_bar():
    scores = {"copy the input": {"chrf": 20.0, "chrf_ci": 1.0}, "fine-tuned": {"chrf": 40.0, "chrf_ci": 2.5}}
    ax = plots.plot_chrf_intervals(scores)
    assert [bar.get_width() for bar in ax.patches] == [40.0, 20.0], "the first system is drawn at the top"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["fine-tuned", "copy the input"]
    assert sorted(t.get_text() for t in ax.texts) == ["20.0", "40.0"]
    from matplotlib.container import ErrorbarContainer

    error_bars = next(c for c in ax.containers if isinstance(c, ErrorbarContainer)).lines[2][0].get_segments()
    assert [tuple(segment[:, 0]) for segment in error_bars] == [(37.5, 42.5), (19.0, 21.0)]
    plt.close("all")


def test_dpo_rewards_plot_draws_each_logged_reward():
    history = [{"loss": 0.69, "step": 2, "rewards/chosen": 0.0, "rewards/rejected": 0.0, "rewards/margins": 0.0,
                "rewards/accuracies": 0.0},
               {"loss": 0.5, "step": 4, "rewards/chosen": 0.2, "rewards/rejected": -0.3, "rewards/margins": 0.5,
                "rewards/accuracies": 0.75},
               {"train_runtime": 10.0, "step": 4}]
    _, ax = plt.subplots()
    assert plots.plot_dpo_rewards(history, ax=ax) is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"rewards/chosen", "rewards/rejected", "rewards/margins"} <= set(labels)
    margins = next(line for line in ax.get_lines() if line.get_label() == "rewards/margins")
    assert list(margins.get_xdata()) == [2, 4] and list(margins.get_ydata()) == [0.0, 0.5]
    plt.close("all")
