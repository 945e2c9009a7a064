"""The figures of :mod:`torchlinear.d2l`: :func:`plot`, :class:`Animator` and the figure
settings, drawn inline in a notebook and saved as PNG files (atomically, numbered per kind)
in :func:`figure_dir` by a script. ``d2l`` gives them the book's names."""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchlinear.io import naming_write_errors

__all__ = [
    "Animator",
    "as_numpy",
    "emit",
    "figure_dir",
    "in_notebook",
    "plot",
    "set_figsize",
    "set_figure_dir",
    "use_svg_display",
]

_figure_dir: Path | None = None
_figure_counts: dict[str, int] = {}


def in_notebook() -> bool:
    return "ipykernel" in sys.modules


def set_figure_dir(folder: str | os.PathLike[str] | None) -> None:
    """Save the figures of scripts in ``folder`` (``None``: the current folder).

    Examples
    --------
    >>> set_figure_dir(None)
    >>> figure_dir() == Path.cwd()
    True
    """
    global _figure_dir
    _figure_dir = None if folder is None else Path(folder)


def figure_dir() -> Path:
    """The folder where scripts save figures (see :func:`set_figure_dir`).

    Examples
    --------
    >>> isinstance(figure_dir(), Path)
    True
    """
    return Path.cwd() if _figure_dir is None else _figure_dir


def _save_png(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        with naming_write_errors(path):
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _next_path(stem: str) -> Path:
    _figure_counts[stem] = _figure_counts.get(stem, 0) + 1
    return figure_dir() / f"{stem}-{_figure_counts[stem]}.png"


def emit(fig: Any, stem: str) -> Path | None:
    """Show ``fig`` (a notebook draws pyplot figures itself) or save it as a PNG (a script)."""
    if in_notebook():
        return None
    path = _next_path(stem)
    _save_png(fig, path)
    return path


def use_svg_display() -> None:
    """Draw notebook figures as SVG (a no-op in scripts).

    Examples
    --------
    >>> use_svg_display()
    """
    if in_notebook():
        # optional: only inside a notebook
        from matplotlib_inline import backend_inline

        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize: tuple[float, float] = (3.5, 2.5)) -> None:
    """Set the size of the figures drawn next.

    Examples
    --------
    >>> set_figsize((4, 3))
    >>> import matplotlib
    >>> [float(v) for v in matplotlib.rcParams["figure.figsize"]]
    [4.0, 3.0]
    >>> set_figsize()
    """
    # matplotlib (about 0.5 s) is imported by the helpers that draw
    import matplotlib

    use_svg_display()
    matplotlib.rcParams["figure.figsize"] = figsize


def _set_axes(
    axes: Any,
    xlabel: str | None,
    ylabel: str | None,
    xlim: Sequence[float] | None,
    ylim: Sequence[float] | None,
    xscale: str,
    yscale: str,
    legend: Sequence[str] | None,
) -> None:
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def as_numpy(v: Any) -> np.ndarray:
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def plot(
    X: Any,
    Y: Any = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    legend: Sequence[str] | None = None,
    xlim: Sequence[float] | None = None,
    ylim: Sequence[float] | None = None,
    xscale: str = "linear",
    yscale: str = "linear",
    fmts: Sequence[str] = ("-", "m--", "g-.", "r:"),
    figsize: tuple[float, float] = (3.5, 2.5),
    axes: Any = None,
) -> Any:
    """Plot one or several curves, as the book's ``d2l.plot`` (3.1 draws normal densities).

    ``X`` is one sequence (shared by every curve) or a list of them; ``Y`` likewise; with
    ``Y`` omitted, ``X`` holds the y values against their indices.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import tempfile
    >>> set_figure_dir(tempfile.mkdtemp())
    >>> ax = plot(torch.arange(3.0), [torch.arange(3.0), 2 * torch.arange(3.0)], legend=["a", "b"])
    >>> len(ax.get_lines())
    2
    >>> set_figure_dir(None)
    """
    # matplotlib (about 0.5 s) is imported by the helpers that draw
    import matplotlib.pyplot as plt

    def has_one_axis(v: Any) -> bool:
        return (hasattr(v, "ndim") and v.ndim == 1) or (
            isinstance(v, list) and not hasattr(v[0], "__len__")
        )

    if Y is None:
        X, Y = [[]] * len(X), X
    if has_one_axis(X):
        X = [X]
    if has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    created = axes is None
    if created:
        set_figsize(figsize)
        axes = plt.gca() if in_notebook() else plt.figure().gca()
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts * math.ceil(len(Y) / len(fmts)), strict=False):
        if len(x):
            axes.plot(as_numpy(x), as_numpy(y), fmt)
        else:
            axes.plot(as_numpy(y), fmt)
    _set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
    if created:
        emit(axes.figure, "plot")
        if not in_notebook():
            plt.close(axes.figure)
    return axes


class Animator:
    """Draw data as it arrives: redrawn in a notebook, saved as one PNG file in a script.

    Parameters are the book's; ``path`` (a script's PNG) defaults to
    ``figure_dir()/animator-<k>.png``.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> animator = Animator(xlabel="epoch", legend=["loss"], path=Path(folder) / "a.png")
    >>> for epoch in range(3):
    ...     animator.add(epoch + 1, 1 / (epoch + 1))
    >>> animator.path.exists(), animator.Y
    (True, [[1.0, 0.5, 0.3333333333333333]])
    """

    def __init__(
        self,
        xlabel: str | None = None,
        ylabel: str | None = None,
        legend: Sequence[str] | None = None,
        xlim: Sequence[float] | None = None,
        ylim: Sequence[float] | None = None,
        xscale: str = "linear",
        yscale: str = "linear",
        fmts: Sequence[str] = ("-", "m--", "g-.", "r:"),
        nrows: int = 1,
        ncols: int = 1,
        figsize: tuple[float, float] = (3.5, 2.5),
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        # matplotlib (about 0.5 s) is imported by the helpers that draw
        import matplotlib.pyplot as plt

        legend = [] if legend is None else list(legend)
        use_svg_display()
        self.fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
        self.axes = axes.flatten()
        self.config_axes = lambda: _set_axes(
            self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale, legend
        )
        self.X: list[list[float]] | None = None
        self.Y: list[list[float]] | None = None
        self.fmts = fmts
        self.path = Path(path) if path is not None else None
        if not in_notebook():
            if self.path is None:
                self.path = _next_path("animator")
            plt.close(self.fig)  # a script keeps the figure object, not a window

    def add(self, x: Any, y: Any) -> None:
        """Append one point to each curve (``y`` a number or one number per curve)."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            if a is not None and b is not None:
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        self.axes[0].cla()
        for x_i, y_i, fmt in zip(self.X, self.Y, self.fmts, strict=False):
            self.axes[0].plot(x_i, y_i, fmt)
        self.config_axes()
        if in_notebook():
            # optional: only inside a notebook
            from IPython import display

            display.display(self.fig)
            display.clear_output(wait=True)
        else:
            assert self.path is not None
            _save_png(self.fig, self.path)
