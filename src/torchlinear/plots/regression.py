r"""Figures for linear regression: the textbook scatter with fitted lines, and loss curves.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot``, no
global backend), returns it, and saves nothing; call ``fig.savefig(path)`` to keep it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["scatter_fits", "loss_curves"]

_STYLES = [
    {"color": "tab:blue", "linestyle": "-", "linewidth": 2.5},
    {"color": "tab:orange", "linestyle": "--", "linewidth": 2.0},
    {"color": "tab:green", "linestyle": ":", "linewidth": 2.5},
    {"color": "tab:red", "linestyle": "-.", "linewidth": 1.5},
    {"color": "tab:purple", "linestyle": (0, (5, 1)), "linewidth": 1.5},
]


def _numpy(values: Any) -> np.ndarray:
    """Any tensor, array or sequence as a float64 NumPy array (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def scatter_fits(
    X: Any,
    y: Any,
    fits: Mapping[str, tuple[Any, Any]],
    *,
    true_params: tuple[Any, Any] | None = None,
    features: Sequence[int] | None = None,
    max_points: int = 2000,
    seed: int = 0,
) -> Figure:
    r"""The observations against each feature, with every fitted model's line.

    For feature :math:`j` the line is the model's prediction as :math:`x_j` varies and the
    other features sit at their means:

    .. math::

        \hat y(x_j) = w_j x_j + b + \sum_{k \ne j} w_k \bar x_k

    With the textbook data (standard-normal features) the other terms vanish and the line's
    slope is :math:`w_j` and its intercept :math:`b`.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Features.
    y : array-like, shape (n,) or (n, 1)
        Targets.
    fits : mapping of str to tuple
        The fitted parameters ``(w, b)`` of each method, ``w`` of any shape with ``d`` elements.
    true_params : tuple, optional
        The parameters ``(w, b)`` that generated the data, drawn as a thin black line.
    features : sequence of int, optional
        Which features get a panel; by default all of them, up to four.
    max_points : int, default 2000
        Draw at most this many observations (a fixed random subset) to keep the file small.
    seed : int, default 0
        Chooses the subset.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> y = X @ [2.0, -3.4] + 4.2
    >>> fig = scatter_fits(X, y, {"exact": ([2.0, -3.4], 4.2)})
    >>> len(fig.axes)
    2
    """
    X = _numpy(X)
    y = _numpy(y).reshape(-1)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must have shape (n, d) with n = len(y) = {len(y)}, got {X.shape}")
    d = X.shape[1]
    if features is None:
        features = list(range(min(d, 4)))
    for j in features:
        if not 0 <= j < d:
            raise ValueError(f"features must index the {d} column(s) of X, got {j}")
    rng = np.random.default_rng(seed)
    shown = rng.choice(len(X), size=max_points, replace=False) if len(X) > max_points else None
    X_shown, y_shown = (X, y) if shown is None else (X[shown], y[shown])
    means = X.mean(axis=0)

    fig = Figure(figsize=(4.8 * len(features), 4.0), layout="constrained")
    axes = fig.subplots(1, len(features), squeeze=False)[0]
    lines = dict(fits)
    if true_params is not None:
        lines = {"true": true_params, **lines}
    for ax, j in zip(axes, features, strict=True):
        ax.scatter(X_shown[:, j], y_shown, s=4, alpha=0.35, color="0.4", label="observations")
        grid = np.linspace(X[:, j].min(), X[:, j].max(), 2)
        for i, (name, (w, b)) in enumerate(lines.items()):
            w = _numpy(w).reshape(-1)
            b = float(_numpy(b).reshape(-1)[0])
            if len(w) != d:
                raise ValueError(f"fits[{name!r}] has {len(w)} weight(s) but X has {d} column(s)")
            offset = b + float(w @ means - w[j] * means[j])
            if name == "true":
                style = {"color": "black", "linestyle": "-", "linewidth": 0.8}
            else:
                style = _STYLES[i % len(_STYLES)]
            ax.plot(grid, w[j] * grid + offset, label=f"{name}: slope {w[j]:.3f}", **style)
        ax.set_xlabel(f"feature {j}")
        ax.set_ylabel("y")
        ax.legend(fontsize="small", loc="best")
    fig.suptitle(f"Observations and fitted lines (n = {len(X)})")
    return fig


def loss_curves(
    losses: Mapping[str, Sequence[float]],
    *,
    reference: float | None = None,
    reference_label: str = "exact (closed form)",
    start_epoch: int = 0,
    log: bool | None = None,
    ylabel: str = r"training loss  $\frac{1}{n}\sum \frac{1}{2}(\hat y - y)^2$",
) -> Figure:
    """The training loss after each epoch, one line per method, on one plot.

    Parameters
    ----------
    losses : mapping of str to sequence of float
        Per-epoch losses of each method; entry ``i`` belongs to epoch ``start_epoch + i``.
    reference : float, optional
        A horizontal line, e.g. the loss of the exact solution (the floor SGD approaches).
    reference_label : str
        Its legend entry.
    start_epoch : int, default 0
        The epoch of the first entry (0 when the first entry is the loss before training).
    log : bool, optional
        Log-scaled loss axis; by default on when every value is positive and they span more
        than two orders of magnitude.
    ylabel : str
        The loss axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = loss_curves({"scratch": [10.0, 0.1, 1e-4], "concise": [10.0, 0.12, 1e-4]},
    ...                   reference=5e-5)
    >>> fig.axes[0].get_yscale()
    'log'
    """
    values = [v for series in losses.values() for v in series]
    if reference is not None:
        values.append(reference)
    finite = [v for v in values if math.isfinite(v)]
    if log is None:
        positive = [v for v in finite if v > 0]
        log = len(positive) == len(finite) > 0 and max(positive) / min(positive) > 100

    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, series) in enumerate(losses.items()):
        epochs = np.arange(start_epoch, start_epoch + len(series))
        style = _STYLES[i % len(_STYLES)]
        ax.plot(epochs, list(series), marker="o", label=name, **style)
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference, color="black", linewidth=0.8, linestyle="--", label=reference_label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="best")
    ax.set_title("Loss per epoch")
    return fig
