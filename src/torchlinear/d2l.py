r"""The helper names of 《动手学深度学习》 (Dive into Deep Learning), chapter 3, PyTorch edition.

``from torchlinear import d2l`` gives the chapter's code the helpers it calls, with the book's
names, arguments and return values, so that the code of sections 3.1–3.7 runs unchanged:

======================================  ==========================================================
section                                 helpers
======================================  ==========================================================
3.1 线性回归                            :class:`Timer`, :func:`plot`
3.2 线性回归的从零开始实现              :func:`synthetic_data` (labels of shape ``(n, 1)``),
                                        :func:`linreg`, :func:`squared_loss`, :func:`sgd`,
                                        :func:`set_figsize`, ``d2l.plt``
3.3 线性回归的简洁实现                  :func:`load_array`
3.5 图像分类数据集                      :func:`load_data_fashion_mnist`, :func:`show_images`,
                                        :func:`get_fashion_mnist_labels`,
                                        :func:`get_dataloader_workers`
3.6 softmax回归的从零开始实现           :class:`Accumulator`, :func:`accuracy` (a *count*),
                                        :func:`evaluate_accuracy`, :func:`train_epoch_ch3`,
                                        :class:`Animator`, :func:`train_ch3`, :func:`predict_ch3`
======================================  ==========================================================

Differences from the book, all additive:

* Fashion-MNIST is read from the four official IDX files by
  :func:`torchlinear.datasets.fashion_mnist` (no torchvision); they are downloaded only when
  asked (``load_data_fashion_mnist(batch_size, download=True)``), and ``resize`` is applied to
  each minibatch with ``torch.nn.functional.interpolate`` (bilinear, antialiased).
* Figures appear inline in a notebook. In a script they are saved as PNG files in
  :func:`figure_dir` (the current folder unless :func:`set_figure_dir` says otherwise).
* :func:`train_ch3` returns ``(train_loss, train_acc, test_acc)`` of the last epoch instead
  of asserting that they look like the book's, and both trainers warn
  (:class:`NonFiniteLossWarning`) when the loss stops being finite, naming the likely cause.
* :func:`accuracy` refuses a column of labels ``(n, 1)``, which the book's comparison would
  broadcast against the predictions into an ``(n, n)`` matrix of matches.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils import data

from torchlinear._d2l_figures import (  # the book's names, from d2l
    Animator,
    as_numpy,
    emit,
    figure_dir,
    in_notebook,
    plot,
    set_figsize,
    set_figure_dir,
    use_svg_display,
)
from torchlinear.datasets import FASHION_MNIST_CLASSES, fashion_mnist
from torchlinear.scratch._checks import GROWTH, NonFiniteLossWarning, check_class_labels

__all__ = [
    "Accumulator",
    "Animator",
    "NonFiniteLossWarning",
    "Timer",
    "accuracy",
    "evaluate_accuracy",
    "figure_dir",
    "get_dataloader_workers",
    "get_fashion_mnist_labels",
    "linreg",
    "load_array",
    "load_data_fashion_mnist",
    "plot",
    "predict_ch3",
    "set_figsize",
    "set_figure_dir",
    "sgd",
    "show_images",
    "squared_loss",
    "synthetic_data",
    "train_ch3",
    "train_epoch_ch3",
    "use_svg_display",
]

# The book's Fashion-MNIST labels, in its spelling.
_TEXT_LABELS = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
assert len(_TEXT_LABELS) == len(FASHION_MNIST_CLASSES)


def __getattr__(name: str) -> Any:
    # ``d2l.plt`` as in the book; pyplot is imported only when it is asked for.
    if name == "plt":
        # matplotlib (about 0.5 s) is imported by the helpers that draw
        import matplotlib.pyplot as plt

        return plt
    raise AttributeError(f"module 'torchlinear.d2l' has no attribute {name!r}")


class Timer:
    """Record running times, as the book's ``d2l.Timer``.

    Examples
    --------
    >>> timer = Timer()
    >>> t = timer.stop()
    >>> len(timer.times), t >= 0, timer.sum() == t
    (1, True, True)
    """

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        """Start the clock."""
        self.tik = time.perf_counter()

    def stop(self) -> float:
        """Stop the clock; record and return the time since :meth:`start`."""
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        """The mean of the recorded times."""
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        """The total of the recorded times."""
        return sum(self.times)

    def cumsum(self) -> list[float]:
        """The running totals of the recorded times."""
        return np.array(self.times).cumsum().tolist()


# --- 3.2 and 3.3: linear regression --------------------------------------------------------


def synthetic_data(
    w: torch.Tensor, b: float | torch.Tensor, num_examples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate ``y = Xw + b + ε`` with ``X ~ N(0, 1)`` and ``ε ~ N(0, 0.01²)``.

    Labels come back as a column, shape ``(num_examples, 1)``, as in the book. The random
    numbers come from torch's global generator: call ``torch.manual_seed`` first for a
    reproducible draw.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> features, labels = synthetic_data(torch.tensor([2, -3.4]), 4.2, 1000)
    >>> features.shape, labels.shape
    (torch.Size([1000, 2]), torch.Size([1000, 1]))
    """
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The linear regression model ``Xw + b``.

    Examples
    --------
    >>> linreg(torch.ones(2, 2), torch.ones(2, 1), torch.zeros(1)).tolist()
    [[2.0], [2.0]]
    """
    return torch.matmul(X, w) + b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The squared loss ``(ŷ − y)² / 2`` of each example (``y`` reshaped to ``ŷ``'s shape).

    Examples
    --------
    >>> squared_loss(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0])).tolist()
    [[0.5], [2.0]]
    """
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params: Iterable[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch stochastic gradient descent: ``p -= lr * p.grad / batch_size``, then zero grads.

    Examples
    --------
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> (4 * w).sum().backward()
    >>> sgd([w], lr=0.5, batch_size=2)
    >>> w.item(), w.grad.item()
    (0.0, 0.0)
    """
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def load_array(
    data_arrays: Sequence[torch.Tensor], batch_size: int, is_train: bool = True
) -> data.DataLoader:
    """A PyTorch data iterator over ``data_arrays`` (shuffled when ``is_train``).

    Examples
    --------
    >>> it = load_array((torch.zeros(5, 2), torch.zeros(5, 1)), 2, is_train=False)
    >>> [len(y) for _, y in it]
    [2, 2, 1]
    """
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


# --- 3.5: the image classification data set ----------------------------------------------


def get_fashion_mnist_labels(labels: Iterable[Any]) -> list[str]:
    """The text labels of Fashion-MNIST class indices.

    Examples
    --------
    >>> get_fashion_mnist_labels(torch.tensor([0, 9]))
    ['t-shirt', 'ankle boot']
    """
    return [_TEXT_LABELS[int(i)] for i in labels]


def show_images(
    imgs: Any,
    num_rows: int,
    num_cols: int,
    titles: Sequence[str] | None = None,
    scale: float = 1.5,
) -> np.ndarray:
    """Draw a grid of images; return the array of axes (saved as a PNG in a script).

    Examples
    --------
    >>> import tempfile
    >>> set_figure_dir(tempfile.mkdtemp())
    >>> axes = show_images(torch.rand(4, 8, 8), 2, 2, titles=list("abcd"))
    >>> axes.shape
    (4,)
    >>> set_figure_dir(None)
    """
    # matplotlib (about 0.5 s) is imported by the helpers that draw
    import matplotlib.pyplot as plt

    figsize = (num_cols * scale, num_rows * scale)
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(as_numpy(img), cmap="gray" if as_numpy(img).ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    emit(fig, "images")
    if not in_notebook():
        plt.close(fig)
    return axes


def get_dataloader_workers() -> int:
    """Worker processes for the data loaders: 0, the tensors are already in memory.

    Examples
    --------
    >>> get_dataloader_workers()
    0
    """
    return 0


def _resizer(size: tuple[int, int]) -> Callable[[list[Any]], list[torch.Tensor]]:
    def collate(batch: list[Any]) -> list[torch.Tensor]:
        X, y = data.default_collate(batch)
        X = nn.functional.interpolate(
            X, size=size, mode="bilinear", align_corners=False, antialias=True
        )
        return [X, y]

    return collate


def load_data_fashion_mnist(
    batch_size: int,
    resize: int | tuple[int, int] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> tuple[data.DataLoader, data.DataLoader]:
    """Fashion-MNIST as two data iterators, training (shuffled) and test.

    Each minibatch is ``(X, y)``: ``X`` float32 in [0, 1] of shape ``(batch, 1, 28, 28)`` (what
    the book's ``ToTensor`` gives), ``y`` int64 class indices. With ``resize`` the images are
    resized, batch by batch, to ``resize × resize`` (or to ``resize = (height, width)``).

    Parameters
    ----------
    batch_size : int
        Examples per minibatch.
    resize : int or (int, int), optional
        The size to resize the images to.
    root : str or os.PathLike, optional
        The folder that holds ``fashion-mnist/`` with the four official ``*-ubyte.gz`` files;
        by default ``$TORCHLINEAR_DATA`` or the user cache
        (see :func:`torchlinear.datasets.data_home`).
    download : bool, default False
        Fetch the missing files from the official address first (checking their MD5), as
        the book's ``torchvision`` loader does.

    Raises
    ------
    FileNotFoundError
        If the files are missing (the message says where to put them and where to get them).

    Examples
    --------
    >>> try:
    ...     train_iter, test_iter = load_data_fashion_mnist(32, resize=64, root="/nonexistent")
    ... except FileNotFoundError as error:
    ...     print("missing files")
    missing files
    """
    if isinstance(resize, int):
        resize = (resize, resize)
    ds = fashion_mnist(root, download=download)
    collate = None if resize is None else _resizer(tuple(resize))
    workers = get_dataloader_workers()
    return (
        data.DataLoader(
            data.TensorDataset(ds.X_train, ds.y_train),
            batch_size,
            shuffle=True,
            num_workers=workers,
            collate_fn=collate,
        ),
        data.DataLoader(
            data.TensorDataset(ds.X_test, ds.y_test),
            batch_size,
            shuffle=False,
            num_workers=workers,
            collate_fn=collate,
        ),
    )


# --- 3.6: training and evaluating a classifier ---------------------------------------------


class Accumulator:
    """Sums over ``n`` variables (e.g. loss total, correct count, example count).

    Examples
    --------
    >>> metric = Accumulator(2)
    >>> metric.add(3, 10)
    >>> metric.add(4.5, 20)
    >>> metric[0], metric[1]
    (7.5, 30.0)
    """

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: float) -> None:
        """Add one value to each of the sums."""
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def reset(self) -> None:
        """Set every sum back to zero."""
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """The *number* of correct predictions (divide by ``len(y)`` for the rate).

    ``y_hat`` may be scores of shape ``(n, q)`` (the largest wins) or predicted classes. ``y``
    must be a vector of ``n`` labels: the book's comparison would broadcast a column of
    labels against the predictions and count up to ``n²`` matches, so it is refused.

    Examples
    --------
    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), torch.tensor([1, 1, 1]))
    2.0
    """
    check_class_labels(y_hat, y)
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.reshape(y.shape).type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy(
    net: Callable[[torch.Tensor], torch.Tensor], data_iter: Iterable[Any]
) -> float:
    """The accuracy of ``net`` over a data iterator (``net.eval()`` first for a module).

    Examples
    --------
    >>> it = load_array((torch.eye(2), torch.tensor([0, 1])), 1, is_train=False)
    >>> evaluate_accuracy(lambda X: X, it)
    1.0
    """
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def _warn_if_not_finite(
    total_loss: float, updater: Any, epoch: int | None = None, start: float | None = None
) -> bool:
    grew = start is not None and 0 < start < total_loss / GROWTH
    if math.isfinite(total_loss) and not grew:
        return False
    if isinstance(updater, torch.optim.Optimizer):
        rate = f"lr={updater.param_groups[0]['lr']:g}"
    else:
        rate = "the learning rate of your updater"
    where = "" if epoch is None else f" in epoch {epoch}"
    if grew:
        where += f", over {GROWTH:g} times the {start:.3g} of the first batch"
    shown = f"{total_loss:.3g}" if math.isfinite(total_loss) else str(total_loss)
    warnings.warn(
        f"the training loss is {shown}{where}: the weights have diverged; "
        f"{rate} is probably too large (or the loss is summed instead of averaged) — "
        "lower it and start again from fresh weights",
        NonFiniteLossWarning,
        stacklevel=3,
    )
    return True


def train_epoch_ch3(
    net: Callable[[torch.Tensor], torch.Tensor],
    train_iter: Iterable[Any],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    updater: torch.optim.Optimizer | Callable[[int], Any],
) -> tuple[float, float]:
    """Train for one epoch (迭代周期); return the mean training loss and the training accuracy.

    ``loss`` returns one value per example (``reduction='none'``). ``updater`` is a
    ``torch.optim`` optimizer (the mean loss is differentiated) or a function of the batch
    size, such as ``lambda batch_size: sgd([W, b], lr, batch_size)`` (the summed loss is).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Linear(2, 2)
    >>> it = load_array((torch.randn(20, 2), torch.randint(0, 2, (20,))), 5)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> loss, acc = train_epoch_ch3(net, it, nn.CrossEntropyLoss(reduction="none"), opt)
    >>> 0 <= acc <= 1
    True
    """
    train_loss, train_acc, _ = _train_epoch(net, train_iter, loss, updater)
    _warn_if_not_finite(train_loss, updater)
    return train_loss, train_acc


def _train_epoch(
    net: Callable[[torch.Tensor], torch.Tensor],
    train_iter: Iterable[Any],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    updater: torch.optim.Optimizer | Callable[[int], Any],
) -> tuple[float, float, float]:
    """:func:`train_epoch_ch3`, also returning the mean loss of its first batch (before any
    step of the epoch)."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)
    first = math.nan
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if math.isnan(first):
            first = float(l.detach().mean())
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum().detach()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2], first


def train_ch3(
    net: Callable[[torch.Tensor], torch.Tensor],
    train_iter: Iterable[Any],
    test_iter: Iterable[Any],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    num_epochs: int,
    updater: torch.optim.Optimizer | Callable[[int], Any],
) -> tuple[float, float, float]:
    """Train for ``num_epochs`` epochs, drawing the training loss and both accuracies.

    Returns ``(train_loss, train_acc, test_acc)`` of the last epoch (the book asserts
    ``train_loss < 0.5`` and both accuracies above 0.7 on Fashion-MNIST; assert what fits
    your data). Warns :class:`NonFiniteLossWarning` when the loss is ``inf`` or ``nan``, or
    over a thousand times the loss of the first batch (a stable loss such as
    ``nn.CrossEntropyLoss`` stays finite while the weights diverge).

    Examples
    --------
    >>> import tempfile
    >>> set_figure_dir(tempfile.mkdtemp())
    >>> _ = torch.manual_seed(0)
    >>> X = torch.randn(100, 2)
    >>> y = (X[:, 0] > 0).long()
    >>> it = load_array((X, y), 10)
    >>> net = nn.Linear(2, 2)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.5)
    >>> train_loss, train_acc, test_acc = train_ch3(
    ...     net, it, it, nn.CrossEntropyLoss(reduction="none"), 5, opt)
    >>> test_acc > 0.9
    True
    >>> set_figure_dir(None)
    """
    animator = Animator(
        xlabel="epoch",
        xlim=[1, num_epochs],
        ylim=[0.3, 0.9],
        legend=["train loss", "train acc", "test acc"],
    )
    train_loss, train_acc, test_acc = math.nan, math.nan, math.nan
    warned, start = False, None
    for epoch in range(num_epochs):
        train_loss, train_acc, first = _train_epoch(net, train_iter, loss, updater)
        start = first if start is None else start  # the loss before the first step
        test_acc = evaluate_accuracy(net, test_iter)
        animator.add(epoch + 1, (train_loss, train_acc, test_acc))
        if not warned:
            warned = _warn_if_not_finite(train_loss, updater, epoch + 1, start)
    return train_loss, train_acc, test_acc


def predict_ch3(
    net: Callable[[torch.Tensor], torch.Tensor], test_iter: Iterable[Any], n: int = 6
) -> list[str]:
    """Show the first ``n`` test images titled with the true and the predicted label.

    Returns the ``n`` predicted labels (the book returns nothing).

    Examples
    --------
    >>> import tempfile
    >>> set_figure_dir(tempfile.mkdtemp())
    >>> it = load_array((torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])), 4, False)
    >>> predict_ch3(lambda X: torch.eye(10)[:len(X)], it, n=2)
    ['t-shirt', 'trouser']
    >>> set_figure_dir(None)
    """
    X, y = next(iter(test_iter))
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(net(X).argmax(axis=1))
    titles = [true + "\n" + pred for true, pred in zip(trues, preds, strict=True)]
    show_images(X[0:n].reshape((n, *X.shape[-2:])), 1, n, titles=titles[0:n])
    return preds[0:n]
