r"""The squared loss over two weights, with the paths gradient descent takes across it.

:func:`loss_contours` draws the contours of

.. math::

    L(w_1, w_2) = \frac1{2n} \sum_i \bigl(x_{i1} w_1 + x_{i2} w_2 + b^* - y_i\bigr)^2

(the bias held at its least-squares value :math:`b^*`, so that the picture is a true slice
through the minimum), marks the exact solution, and overlays the paths of full-batch
gradient descent and of minibatch SGD at the given batch sizes, all started from the same
point with the same learning rate and the same number of iterations. The path computation
is :func:`descent_paths`, returned as arrays for tests and for interactive use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["descent_paths", "loss_contours", "loss_surface"]


def _xy(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(X, "detach"):
        X = X.detach().cpu().double().numpy()
    if hasattr(y, "detach"):
        y = y.detach().cpu().double().numpy()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) to draw a 2-D loss surface, got {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"y has {len(y)} rows but X has {len(X)}")
    return X, y


def _exact(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return theta[:2], float(theta[2])


def descent_paths(
    X: Any,
    y: Any,
    *,
    lr: float = 0.03,
    batch_sizes: Sequence[int] = (10, 256),
    steps: int = 100,
    start: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""The iterates :math:`(w_1, w_2)` of full-batch GD and minibatch SGD, bias at :math:`b^*`.

    Each step is :math:`w \leftarrow w - \eta\, \frac1{|\mathcal B|} X_{\mathcal B}^\top
    (X_{\mathcal B} w + b^* - y_{\mathcal B})`, with batches drawn by reshuffling every
    epoch (``seed`` fixes the order).

    Returns
    -------
    dict of str to ndarray
        ``"full batch"`` and ``"batch <k>"`` → array of shape ``(steps + 1, 2)``, starting
        point first.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ [2.0, -3.4] + 4.2
    >>> paths = descent_paths(X, y, lr=0.1, steps=200)
    >>> np.round(paths["full batch"][-1], 3).tolist()
    [2.0, -3.4]
    """
    X, y = _xy(X, y)
    _, b_star = _exact(X, y)
    rng = np.random.default_rng(seed)
    n = len(X)
    paths: dict[str, np.ndarray] = {}
    for label, size in [("full batch", n), *((f"batch {k}", int(k)) for k in batch_sizes)]:
        w = np.array(start, dtype=np.float64)
        path = [w.copy()]
        order, pos = rng.permutation(n), 0
        for _ in range(steps):
            if pos >= n:
                order, pos = rng.permutation(n), 0
            idx = order[pos : pos + size]
            pos += size
            residual = X[idx] @ w + b_star - y[idx]
            w = w - lr * X[idx].T @ residual / len(idx)
            path.append(w.copy())
        paths[label] = np.array(path)
    return paths


def loss_surface(X: Any, y: Any, w1: Any, w2: Any) -> np.ndarray:
    r"""The squared loss :math:`L(w_1, w_2)` at the points ``(w1, w2)`` (arrays of one
    shape), the bias held at its least-squares value :math:`b^*`.

    The slice is a quadratic about its minimum :math:`w^*`:
    :math:`L(w) = L(w^*) + \tfrac12 (w - w^*)^\top G\, (w - w^*)` with
    :math:`G = X^\top X / n`, which costs one pass over the rows whatever the number of
    points (never an ``n x points`` array of residuals).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y = X @ [2.0, -3.4] + 4.2
    >>> loss_surface(X, y, np.array([2.0, 3.0]), np.array([-3.4, -3.4])).round(12).tolist()
    [0.0, 0.333333333333]
    """
    X, y = _xy(X, y)
    w1, w2 = np.asarray(w1, dtype=np.float64), np.asarray(w2, dtype=np.float64)
    w_star, b_star = _exact(X, y)
    r_star = X @ w_star + b_star - y
    D = np.stack([w1.ravel(), w2.ravel()]) - w_star[:, None]
    quadratic = np.einsum("im,ij,jm->m", D, X.T @ X / len(X), D)
    return (0.5 * float(r_star @ r_star) / len(X) + 0.5 * quadratic).reshape(w1.shape)


def loss_contours(
    X: Any,
    y: Any,
    *,
    lr: float = 0.03,
    batch_sizes: Sequence[int] = (10, 256),
    steps: int = 100,
    start: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
    figsize: tuple[float, float] = (6.0, 5.0),
) -> Figure:
    """Contours of the squared loss over ``(w1, w2)`` with the descent paths and the minimum.

    Parameters
    ----------
    X : array-like, shape (n, 2)
        Two features.
    y : array-like, shape (n,) or (n, 1)
        Targets.
    lr : float, default 0.03
        Learning rate of every path.
    batch_sizes : sequence of int, default (10, 256)
        Minibatch sizes to draw besides full-batch gradient descent.
    steps : int, default 100
        Iterations per path (the same for every method).
    start : (float, float), default (0, 0)
        Common starting point.
    seed : int, default 0
        Fixes the minibatch order.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> fig = loss_contours(X, X @ [2.0, -3.4] + 4.2 + 0.01 * rng.normal(size=300))
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2]
    ['full batch', 'batch 10']
    """
    X, y = _xy(X, y)
    w_star, b_star = _exact(X, y)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging path overflows
        paths = descent_paths(
            X, y, lr=lr, batch_sizes=batch_sizes, steps=steps, start=start, seed=seed
        )
    points = np.vstack([*paths.values(), w_star[None], np.array(start)[None]])
    # the window holds the start, the solution and the paths near them: a path that
    # diverges (too large an lr) is seen leaving it
    centre = 0.5 * (w_star + np.array(start))
    reach = 20 * max(float(np.abs(w_star - np.array(start)).max()), 1.0)
    near = np.isfinite(points).all(axis=1) & (np.abs(points - centre).max(axis=1) <= reach)
    finite = points[near]
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    pad = 0.15 * np.maximum(hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    w1, w2 = np.meshgrid(np.linspace(lo[0], hi[0], 120), np.linspace(lo[1], hi[1], 120))
    loss = loss_surface(X, y, w1, w2)

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    levels = np.unique(np.quantile(loss, np.linspace(0.0, 0.95, 14) ** 2))
    if len(levels) > 1:
        contour = ax.contour(w1, w2, loss, levels=levels, cmap="viridis", linewidths=0.8)
        fig.colorbar(contour, ax=ax, label="squared loss  L(w1, w2)")
    styles = [("tab:red", "-", 2.2), ("tab:blue", "-", 1.0), ("tab:orange", "--", 1.6)]
    for (label, path), (color, ls, lw) in zip(paths.items(), styles * 3, strict=False):
        ax.plot(path[:, 0], path[:, 1], ls, color=color, lw=lw, marker=".", ms=3, label=label)
    ax.plot(*start, "ko", ms=6)
    ax.plot(*w_star, "*", color="gold", mec="black", ms=16, label="exact solution")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.set_title(f"lr = {lr:g}, {steps} iterations each (b fixed at b*)")
    ax.legend(loc="best", fontsize=9)
    return fig
