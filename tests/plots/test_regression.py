import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from torchlinear.plots import loss_curves, scatter_fits


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_scatter_fits_draws_each_method_with_its_slope():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[1.0, -2.0, 0.5], size=(300, 3))
    y = X @ [2.0, -3.4, 1.0] + 4.2
    fits = {
        "scratch": (torch.tensor([[1.9], [-3.3], [1.1]], requires_grad=True), torch.tensor([4.0])),
        "exact": (np.array([2.0, -3.4, 1.0]), 4.2),
    }
    fig = scatter_fits(X, torch.tensor(y).reshape(-1, 1), fits, true_params=([2.0, -3.4, 1.0], 4.2))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    means = X.mean(axis=0)
    for j, ax in enumerate(fig.axes):
        assert ax.get_xlabel() == f"feature {j}"
        lines = {label.split(":")[0]: line for label, line in _lines(ax).items()}
        assert set(lines) == {"true", "scratch", "exact"}
        w = np.array([1.9, -3.3, 1.1])
        x0, x1 = lines["scratch"].get_xdata()
        y0, y1 = lines["scratch"].get_ydata()
        slope = (y1 - y0) / (x1 - x0)
        assert slope == pytest.approx(w[j])
        # the line passes through the prediction at the feature means
        expected_at_mean = 4.0 + w @ means
        assert y0 + slope * (means[j] - x0) == pytest.approx(expected_at_mean)
        assert len(ax.collections[0].get_offsets()) == 300


def test_scatter_fits_subsamples_and_limits_panels():
    X = np.random.default_rng(1).normal(size=(5000, 6))
    y = X.sum(axis=1)
    fig = scatter_fits(X, y, {"m": (np.ones(6), 0.0)}, max_points=500)
    assert len(fig.axes) == 4
    assert len(fig.axes[0].collections[0].get_offsets()) == 500
    fig = scatter_fits(X, y, {"m": (np.ones(6), 0.0)}, features=[5])
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "feature 5"


def test_scatter_fits_rejects_bad_input():
    X, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match="features must index the 2 column"):
        scatter_fits(X, y, {"m": ([1.0, 1.0], 0.0)}, features=[2])
    with pytest.raises(ValueError, match=r"fits\['m'\] has 3 weight\(s\) but X has 2"):
        scatter_fits(X, y, {"m": ([1.0, 1.0, 1.0], 0.0)})
    with pytest.raises(ValueError, match="X must have shape"):
        scatter_fits(X, np.zeros(5), {"m": ([1.0, 1.0], 0.0)})


def test_loss_curves_one_line_per_method_and_reference():
    losses = {"scratch": [16.0, 0.04, 1e-4, 5e-5], "concise": [16.0, 0.05, 2e-4, 5e-5]}
    fig = loss_curves(losses, reference=4.6e-5)
    ax = fig.axes[0]
    lines = _lines(ax)
    assert set(lines) == {"scratch", "concise", "exact (closed form)"}
    assert list(lines["scratch"].get_xdata()) == [0, 1, 2, 3]
    assert list(lines["concise"].get_ydata()) == losses["concise"]
    assert list(lines["exact (closed form)"].get_ydata()) == [4.6e-5, 4.6e-5]
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"


def test_loss_curves_scale_choice_and_start_epoch():
    assert loss_curves({"a": [1.0, 0.9, 0.8]}).axes[0].get_yscale() == "linear"
    assert loss_curves({"a": [1.0, 1e-6]}, log=False).axes[0].get_yscale() == "linear"
    assert loss_curves({"a": [1.0, -1.0, 1e-6]}).axes[0].get_yscale() == "linear"
    fig = loss_curves({"a": [3.0, 2.0]}, start_epoch=1)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 2]


def test_figures_render_to_png_even_with_nan():
    fig = loss_curves({"diverged": [1.0, float("inf"), float("nan")], "ok": [1.0, 0.1, 0.01]})
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")
