r"""Figures for classification: images with labels, the confusion matrix, the weight
templates of a linear classifier, and loss/accuracy curves per epoch.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot``, no
global backend), returns it, and saves nothing; call ``fig.savefig(path)`` to keep it.

Images may be given as ``(n, C, H, W)`` (what ``ToTensor`` and
:mod:`torchlinear.datasets` produce), ``(n, H, W)``, or flattened ``(n, C·H·W)`` together
with ``image_shape=(C, H, W)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from torchlinear._format import figure_text

__all__ = [
    "confusion_counts",
    "confusion_matrix_figure",
    "image_grid",
    "training_curves",
    "weight_templates",
]

_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]


def _numpy(values: Any, dtype: Any = None) -> np.ndarray:
    """A tensor, array or sequence as a NumPy array (detached, on the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def _as_images(images: Any, image_shape: Sequence[int] | None) -> np.ndarray:
    """Return images as ``(n, H, W)`` (grey) or ``(n, H, W, 3)`` (colour) floats."""
    arr = _numpy(images, np.float64)
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if int(np.prod(shape)) != int(np.prod(arr.shape[1:])):
            raise ValueError(
                f"image_shape {shape} holds {int(np.prod(shape))} values but each image has "
                f"{int(np.prod(arr.shape[1:]))}"
            )
        arr = arr.reshape(len(arr), *shape)
    if arr.ndim == 2:
        side = math.isqrt(arr.shape[1])
        if side * side != arr.shape[1]:
            raise ValueError(
                f"flattened images of {arr.shape[1]} values are not square; pass image_shape"
            )
        arr = arr.reshape(len(arr), side, side)
    if arr.ndim == 4:
        if arr.shape[1] == 1:
            arr = arr[:, 0]
        elif arr.shape[1] == 3:
            arr = arr.transpose(0, 2, 3, 1)
        else:
            raise ValueError(f"images must have 1 or 3 channels, got shape {arr.shape}")
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"images must have shape (n, C, H, W), (n, H, W) or (n, d), got {arr.shape}"
        )
    return arr


def _label(names: Sequence[str] | None, index: int) -> str:
    if names is not None and 0 <= index < len(names):
        return figure_text(names[index])
    return str(index)


def image_grid(
    images: Any,
    y_true: Any,
    y_pred: Any = None,
    *,
    class_names: Sequence[str] | None = None,
    image_shape: Sequence[int] | None = None,
    n_images: int = 24,
    ncols: int = 8,
    misclassified_first: bool = True,
    title: str | None = None,
) -> Figure:
    """A grid of images titled with their true and predicted labels, mistakes first.

    Each title reads ``true`` (or ``true → predicted``); misclassified images are titled in
    red and, with ``misclassified_first``, shown before the correct ones (each group in its
    original order).

    Parameters
    ----------
    images : array-like or Tensor
        ``(n, C, H, W)``, ``(n, H, W)`` or ``(n, d)`` with ``image_shape``; values in
        ``[0, 1]`` (colour images are clipped to it).
    y_true : array-like of int, shape (n,)
        True class indices.
    y_pred : array-like of int, shape (n,), optional
        Predicted class indices.
    class_names : sequence of str, optional
        Names for the indices.
    image_shape : (C, H, W), optional
        Shape of one image when ``images`` is flattened.
    n_images : int, default 24
        How many images to draw.
    ncols : int, default 8
        Images per row.
    misclassified_first : bool, default True
        Put the mistakes first.

    title : str, optional
        What the figure shows, e.g. the model's name; put before the default heading.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.shown_indices`` lists the rows of ``images`` drawn, in order.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((4, 1, 8, 8))
    >>> fig = image_grid(images, [0, 1, 2, 3], [0, 1, 0, 3], class_names=list("abcd"))
    >>> fig.shown_indices, fig.axes[0].get_title()
    ([2, 0, 1, 3], 'c → a')
    """
    pictures = _as_images(images, image_shape)
    y_true = _numpy(y_true).reshape(-1).astype(np.int64)
    if len(y_true) != len(pictures):
        raise ValueError(f"y_true has {len(y_true)} labels but there are {len(pictures)} images")
    if y_pred is not None:
        y_pred = _numpy(y_pred).reshape(-1).astype(np.int64)
        if len(y_pred) != len(y_true):
            raise ValueError(f"y_pred has {len(y_pred)} labels but y_true has {len(y_true)}")
    order = np.arange(len(pictures))
    if y_pred is not None and misclassified_first:
        wrong = y_pred != y_true
        order = np.concatenate([order[wrong], order[~wrong]])
    order = order[: max(1, int(n_images))]
    ncols = max(1, min(int(ncols), len(order)))
    nrows = math.ceil(len(order) / ncols)
    # A fixed grid (no constrained layout): cheap to draw even with many panels.
    fig = Figure(figsize=(1.4 * ncols, 1.6 * nrows + 0.5))
    fig.subplots_adjust(
        left=0.02,
        right=0.98,
        bottom=0.02,
        top=1 - 0.45 / (1.6 * nrows + 0.5),
        wspace=0.1,
        hspace=0.35,
    )
    for slot, index in enumerate(order):
        ax = fig.add_subplot(nrows, ncols, slot + 1)
        picture = pictures[index]
        if picture.ndim == 3:
            ax.imshow(np.clip(picture, 0.0, 1.0))
        else:
            ax.imshow(picture, cmap="gray", vmin=0.0, vmax=max(1.0, float(picture.max())))
        truth = _label(class_names, int(y_true[index]))
        if y_pred is None:
            ax.set_title(truth, fontsize=8)
        else:
            guess = _label(class_names, int(y_pred[index]))
            correct = y_pred[index] == y_true[index]
            caption = truth if correct else f"{truth} → {guess}"
            ax.set_title(caption, fontsize=8, color="black" if correct else "tab:red")
        ax.set_xticks([])
        ax.set_yticks([])
    if y_pred is not None:
        n_wrong = int((y_pred != y_true).sum())
        heading = f"true → predicted (red: misclassified, {n_wrong} of {len(y_true)})"
        fig.suptitle(f"{title}: {heading}" if title else heading)
    elif title:
        fig.suptitle(title)
    fig.shown_indices = [int(i) for i in order]
    return fig


def confusion_counts(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """The confusion matrix ``C[i, j]`` = number of samples of class ``i`` predicted ``j``.

    Examples
    --------
    >>> confusion_counts([0, 0, 1, 2], [0, 1, 1, 2])
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    y_true = _numpy(y_true).reshape(-1).astype(np.int64)
    y_pred = _numpy(y_pred).reshape(-1).astype(np.int64)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_pred has {len(y_pred)} labels but y_true has {len(y_true)}")
    k = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    k = k if n_classes is None else int(n_classes)
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0 or (
        max(y_true.max(initial=0), y_pred.max(initial=0)) >= k
    ):
        raise ValueError(f"labels must be class indices in 0..{k - 1}")
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def confusion_matrix_figure(
    y_true: Any,
    y_pred: Any,
    *,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    annotate: bool | None = None,
    title: str | None = None,
) -> Figure:
    """The confusion matrix as a heat map: rows are true classes, columns predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        Class indices.
    class_names : sequence of str, optional
        Tick labels; also fixes the number of classes.
    normalize : bool, default False
        Show each row as fractions of its class (the diagonal is then per-class recall).
    annotate : bool, optional
        Write the value in each cell; by default when there are at most 20 classes.
    title : str, optional
        What the matrix shows (the model, the rows); a second title line gives the accuracy.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = confusion_matrix_figure([0, 0, 1, 1], [0, 1, 1, 1], class_names=["cat", "dog"])
    >>> fig.axes[0].images[0].get_array().tolist()
    [[1, 1], [0, 2]]
    """
    k = None if class_names is None else len(class_names)
    counts = confusion_counts(y_true, y_pred, k)
    k = counts.shape[0]
    values = counts.astype(np.float64)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    shown = values if normalize else counts
    # a few classes get big cells and big numbers; the figure is never too narrow for its title
    fig = Figure(figsize=(max(5.2, 0.55 * k + 2.4), max(4.4, 0.5 * k + 2.0)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    colorbar = fig.colorbar(
        image, ax=ax, label="fraction of the true class" if normalize else "count"
    )
    colorbar.ax.tick_params(labelsize=9)
    names = [_label(class_names, j) for j in range(k)]
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(1, counts.sum())
    heading = title or "Confusion matrix"
    ax.set_title(f"{heading}\naccuracy {accuracy:.3f}, n = {int(counts.sum()):,}", fontsize=10)
    if annotate if annotate is not None else k <= 20:
        threshold = 0.5 * float(shown.max()) if shown.size else 0.0
        fontsize = 16 if k <= 4 else 12 if k <= 8 else 9 if k <= 12 else 7
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else f"{counts[i, j]}"
                color = "white" if shown[i, j] > threshold else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=fontsize, color=color)
    return fig


def _coef_matrix(coef: Any, n_values: int) -> np.ndarray:
    if hasattr(coef, "coef_"):
        coef = coef.coef_
    elif hasattr(coef, "weight") and not hasattr(coef, "shape"):
        coef = coef.weight
    W = _numpy(coef, np.float64)
    if W.ndim != 2:
        raise ValueError(f"coef must be a (k, d) matrix, got shape {W.shape}")
    if W.shape[1] != n_values and W.shape[0] == n_values:
        W = W.T  # the scratch layout (d, k)
    if W.shape[1] != n_values:
        raise ValueError(
            f"coef has {W.shape[1]} columns but image_shape holds {n_values} values per image"
        )
    return W


def weight_templates(
    coef: Any,
    image_shape: Sequence[int],
    *,
    class_names: Sequence[str] | None = None,
    ncols: int = 5,
    title: str | None = None,
) -> Figure:
    r"""Each class's weight vector drawn as an image: what a linear classifier "looks for".

    The score of class :math:`j` is :math:`w_j \cdot x + b_j`, so pixels where
    :math:`w_j` is positive (red) raise it when bright and negative ones (blue) lower it.
    Each grey-scale template gets a symmetric colour scale around 0; colour templates are
    rescaled to ``[0, 1]`` per class.

    Parameters
    ----------
    coef : array-like, Tensor, estimator or ``nn.Linear``
        Weights of shape ``(k, d)`` (``coef_``, ``nn.Linear.weight``) or ``(d, k)`` (the
        from-scratch ``W``), with ``d = C·H·W``.
    image_shape : (C, H, W) or (H, W)
        Shape of one image.
    class_names : sequence of str, optional
        Titles.
    ncols : int, default 5
        Templates per row.
    title : str, optional
        Whose weights they are (the model's name); put before the default heading.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = weight_templates(np.random.default_rng(0).normal(size=(10, 64)), (1, 8, 8))
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (11, (8, 8))
    """
    shape = tuple(int(s) for s in image_shape)
    W = _coef_matrix(coef, int(np.prod(shape)))
    k = W.shape[0]
    templates = _as_images(W, shape)
    ncols = max(1, min(int(ncols), k))
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(1.9 * ncols + 0.8, 1.9 * nrows + 0.5))
    fig.subplots_adjust(
        left=0.02,
        right=0.88,
        bottom=0.03,
        top=1 - 0.5 / (1.9 * nrows + 0.5),
        wspace=0.1,
        hspace=0.25,
    )
    axes = []
    image = None
    for j in range(k):
        ax = fig.add_subplot(nrows, ncols, j + 1)
        template = templates[j]
        if template.ndim == 3:
            low, high = template.min(), template.max()
            ax.imshow((template - low) / (high - low) if high > low else template * 0)
        else:
            limit = float(np.abs(template).max()) or 1.0
            image = ax.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(_label(class_names, j), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    if image is not None:
        colorbar = fig.colorbar(image, ax=axes, shrink=0.8)
        colorbar.set_ticks([image.norm.vmin, 0, image.norm.vmax], labels=["−", "0", "+"])
    heading = "weight templates per class (red: evidence for, blue: against)"
    fig.suptitle(f"{title}: {heading}" if title else heading[0].upper() + heading[1:])
    return fig


def _curves(history: Any) -> dict[str, list[float]]:
    """Normalise a history to the keys train_loss, val_loss, train_acc, val_acc."""
    if hasattr(history, "train_loss") and hasattr(history, "metrics"):  # the engine's History
        source: dict[str, Any] = {"train_loss": history.train_loss, "val_loss": history.val_loss}
        source.update(history.metrics)
    else:
        source = dict(history)
    out = {}
    for key, aliases in {
        "train_loss": ("train_loss",),
        "val_loss": ("val_loss",),
        "train_acc": ("train_acc", "train_accuracy"),
        "val_acc": ("val_acc", "val_accuracy", "test_acc"),
    }.items():
        for alias in aliases:
            values = source.get(alias)
            if values is not None and len(values) > 0:
                out[key] = [float(v) for v in values]
                break
    return out


def training_curves(histories: Mapping[str, Any] | Any, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training (solid) and validation (dashed), per method.

    Parameters
    ----------
    histories : mapping of str to history, or one history
        A history is a mapping with per-epoch lists ``train_loss``, ``val_loss``,
        ``train_acc``, ``val_acc`` (any may be missing; ``*_accuracy`` also works) or the
        engine's :class:`~torchlinear.engine.History`. Several methods share the axes, one
        colour each; a single method draws training and validation in two colours.
    title : str, optional
        A title over both panels.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: loss (left) and accuracy (right).

    Examples
    --------
    >>> h = {"train_loss": [0.9, 0.5], "val_loss": [1.0, 0.6],
    ...      "train_acc": [0.7, 0.8], "val_acc": [0.65, 0.75]}
    >>> fig = training_curves({"scratch": h})
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['scratch, train', 'scratch, validation']
    """
    if isinstance(histories, Mapping) and any(
        k in histories for k in ("train_loss", "val_loss", "train_acc", "train_accuracy")
    ):
        histories = {"": histories}
    elif not isinstance(histories, Mapping):
        histories = {"": histories}
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for i, (name, history) in enumerate(histories.items()):
        curves = _curves(history)
        prefix = f"{name}, " if name else ""
        for ax, kind in ((loss_ax, "loss"), (acc_ax, "acc")):
            for split, style, label in (("train", "-", "train"), ("val", "--", "validation")):
                series = curves.get(f"{split}_{kind}")
                if len(histories) == 1:
                    color = _COLORS[0 if split == "train" else 1]
                else:
                    color = _COLORS[i % len(_COLORS)]
                if series:
                    epochs = np.arange(1, len(series) + 1)
                    ax.plot(
                        epochs, series, linestyle=style, color=color, marker="o",
                        markersize=3, label=f"{prefix}{label}",
                    )  # fmt: skip
    loss_ax.set_ylabel("cross-entropy loss")
    acc_ax.set_ylabel("accuracy")
    for ax, name in ((loss_ax, "Loss"), (acc_ax, "Accuracy")):
        ax.set_xlabel("epoch")
        ax.set_title(f"{name} per epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.get_lines():
            ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
