r"""Figures for penalized paths: coefficients against :math:`\log\alpha`, and the CV curve.

Both build a :class:`matplotlib.figure.Figure` directly (no ``pyplot``), return it and save
nothing. The x axis runs from the largest :math:`\alpha` (all coefficients zero) on the left
to the smallest on the right, glmnet's orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from torchlinear._format import figure_text

__all__ = ["coefficient_path", "cv_curve"]


def _numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _mark(ax: Any, alpha: float | None, label: str, style: str) -> None:
    if alpha is not None and alpha > 0:
        ax.axvline(np.log10(alpha), color="0.3", linestyle=style, linewidth=1.2, label=label)


def coefficient_path(
    alphas: Any,
    coefs: Any,
    *,
    alpha: float | None = None,
    alpha_1se: float | None = None,
    feature_names: Sequence[str] | None = None,
    max_labels: int = 10,
    title: str | None = None,
) -> Figure:
    r"""Each coefficient against :math:`\log_{10}\alpha` along the path.

    Parameters
    ----------
    alphas : array-like, shape (n_alphas,)
        The path's penalties (any order).
    coefs : array-like, shape (n_alphas, n_features)
        Coefficients at each alpha (in the data's units).
    alpha, alpha_1se : float, optional
        The chosen alpha (solid line) and the one-standard-error alpha (dashed line).
    feature_names : sequence of str, optional
        Legend labels (default ``x0, x1, ...``); the ``max_labels`` largest coefficients at
        the smallest alpha are labelled.
    max_labels : int, default 10
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = coefficient_path(np.geomspace(1, 1e-3, 20), np.random.rand(20, 3), alpha=0.01)
    >>> fig.axes[0].get_xlabel()
    'log10(alpha)'
    """
    a = _numpy(alphas).reshape(-1)
    C = _numpy(coefs).reshape(a.size, -1)
    order = np.argsort(a)[::-1]
    a, C = a[order], C[order]
    d = C.shape[1]
    names = [f"x{j}" for j in range(d)] if feature_names is None else list(feature_names)
    names = [figure_text(n) for n in names]
    labelled = set(np.argsort(-np.abs(C[-1]))[:max_labels].tolist())
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.log10(np.maximum(a, np.finfo(np.float64).tiny))
    for j in range(d):
        ax.plot(x, C[:, j], linewidth=1.4, label=names[j] if j in labelled else None)
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    _mark(ax, alpha, f"alpha = {alpha:.3g}" if alpha is not None else "", "-")
    _mark(ax, alpha_1se, f"alpha_1se = {alpha_1se:.3g}" if alpha_1se is not None else "", "--")
    ax.invert_xaxis()
    ax.set_xlabel("log10(alpha)")
    ax.set_ylabel("coefficient")
    nonzero = (C != 0).sum(axis=1)
    top = ax.secondary_xaxis("top")
    ticks = np.linspace(0, a.size - 1, min(6, a.size)).round().astype(int)
    top.set_xticks(x[ticks], [str(int(nonzero[i])) for i in ticks])
    top.set_xlabel("non-zero coefficients")
    ax.set_title(title or "Coefficient path")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best", ncols=2 if d > 5 else 1)
    return fig


def cv_curve(
    alphas: Any,
    mse_path: Any,
    *,
    alpha_min: float | None = None,
    alpha_1se: float | None = None,
    title: str | None = None,
) -> Figure:
    r"""Mean cross-validated error against :math:`\log_{10}\alpha` with ±1 standard error
    bars (the fold standard deviation over :math:`\sqrt K`), marking
    :math:`\alpha_{\min}` and :math:`\alpha_{1\mathrm{se}}`.

    Parameters
    ----------
    alphas : array-like, shape (n_alphas,)
    mse_path : array-like, shape (n_alphas, n_folds)
        Test error of every fold (NaN for a fold without rows).
    alpha_min, alpha_1se : float, optional
        Marked with a solid and a dashed line (default: computed from ``mse_path``).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> a = np.geomspace(1, 1e-3, 30)
    >>> mse = (np.log10(a)[:, None] + 1.5) ** 2 + 1 + 0.1 * np.random.rand(30, 5)
    >>> fig = cv_curve(a, mse)
    >>> fig.axes[0].get_ylabel()
    'mean squared error (CV)'
    """
    a = _numpy(alphas).reshape(-1)
    M = _numpy(mse_path).reshape(a.size, -1)
    mean = np.nanmean(M, axis=1)
    k = np.maximum(np.sum(np.isfinite(M), axis=1), 1)
    se = np.nanstd(M, axis=1, ddof=1) / np.sqrt(k) if M.shape[1] > 1 else np.zeros_like(mean)
    best = int(np.nanargmin(mean))
    if alpha_min is None:
        alpha_min = float(a[best])
    if alpha_1se is None:
        alpha_1se = float(np.max(a[mean <= mean[best] + se[best]]))
    fig = Figure(figsize=(7.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.log10(np.maximum(a, np.finfo(np.float64).tiny))
    ax.errorbar(
        x,
        mean,
        yerr=se,
        fmt="o",
        color="tab:red",
        ecolor="0.6",
        markersize=3,
        elinewidth=1,
        capsize=2,
        label="mean ± 1 s.e.",
    )
    _mark(ax, alpha_min, f"alpha_min = {alpha_min:.3g}", "-")
    _mark(ax, alpha_1se, f"alpha_1se = {alpha_1se:.3g}", "--")
    ax.axhline(mean[best] + se[best], color="0.75", linestyle=":", linewidth=1)
    ax.invert_xaxis()
    ax.set_xlabel("log10(alpha)")
    ax.set_ylabel("mean squared error (CV)")
    ax.set_title(title or f"{M.shape[1]}-fold cross-validation")
    ax.legend(fontsize="small", loc="best")
    return fig
