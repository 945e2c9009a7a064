"""Coefficient path and CV curve figures."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from torchlinear import LassoCV
from torchlinear.plots import coefficient_path, cv_curve


def _fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([3.0, 0.0, -2.0, 0.5]) + rng.normal(size=200)
    return LassoCV(cv=5, alphas=30).fit(X, y).cv_results_


def test_coefficient_path_draws_every_coefficient_and_the_chosen_alphas(tmp_path):
    res = _fit()
    fig = coefficient_path(
        res.path.alphas,
        res.path.coefs,
        alpha=res.alpha,
        alpha_1se=res.alpha_1se,
        feature_names=["a", "b", "c", "d"],
    )
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    curves = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 30]
    assert len(curves) == 4
    # x is log10(alpha), decreasing alpha to the right (inverted axis)
    np.testing.assert_allclose(np.sort(curves[0].get_xdata()), np.sort(np.log10(res.path.alphas)))
    lo, hi = ax.get_xlim()
    assert lo > hi
    verticals = [
        ln.get_xdata()[0]
        for ln in ax.get_lines()
        if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]
    ]
    np.testing.assert_allclose(sorted(verticals), sorted(np.log10([res.alpha, res.alpha_1se])))
    # the y data are the coefficients: first curve at the smallest alpha equals coef 0 there
    np.testing.assert_allclose(curves[0].get_ydata()[-1], res.path.coefs[-1, 0])
    fig.savefig(tmp_path / "path.png")
    assert (tmp_path / "path.png").stat().st_size > 1000


def test_cv_curve_error_bars_are_one_standard_error(tmp_path):
    res = _fit()
    mse = res.mse_path[0]
    fig = cv_curve(res.alphas[0], mse)
    ax = fig.axes[0]
    mean = mse.mean(axis=1)
    se = mse.std(axis=1, ddof=1) / np.sqrt(mse.shape[1])
    container = ax.containers[0]
    np.testing.assert_allclose(container.lines[0].get_ydata(), mean, rtol=1e-12)
    segs = container.lines[2][0].get_segments()
    np.testing.assert_allclose([s[1][1] - s[0][1] for s in segs], 2 * se, rtol=1e-9)
    verticals = [
        ln.get_xdata()[0]
        for ln in ax.get_lines()
        if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]
    ]
    expected_min = res.alphas[0][np.argmin(mean)]
    assert np.isclose(np.log10(expected_min), verticals).any()
    assert np.isclose(np.log10(res.alpha_1se), verticals).any()  # same rule as the fit
    fig.savefig(tmp_path / "cv.png")
