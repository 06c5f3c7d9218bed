import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
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
