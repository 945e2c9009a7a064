r"""Softmax regression the concise way: ``torch.nn``, ``torch.optim`` and ``DataLoader``.

The same model, loss and optimiser as :mod:`torchlinear.scratch.softmax`, each replaced by
its library counterpart:

* ``init_softmax_params`` and ``softmax_logits`` →
  ``nn.Sequential(nn.Flatten(), nn.Linear(d, k))`` with weights ~ N(0, 0.01²) and bias 0;
* ``softmax_cross_entropy`` → ``nn.CrossEntropyLoss()``, which also takes *logits* and
  fuses log-softmax with the negative log-likelihood (the log-sum-exp trick), averaged
  over the minibatch;
* ``sgd_step`` → ``torch.optim.SGD``;
* ``iter_batches`` → ``DataLoader(TensorDataset(X, y), batch_size, shuffle=True)``.

The network outputs logits, not probabilities: apply ``torch.softmax(net(X), dim=1)`` when
probabilities are wanted, and never feed probabilities to ``nn.CrossEntropyLoss``.
``nn.Flatten`` turns an image batch ``(n, C, H, W)`` into ``(n, C·H·W)`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from torchlinear._validation import check_positive_float, check_positive_int
from torchlinear.scratch._checks import (
    check_label_values,
    class_features,
    class_vector,
    warn_if_diverged,
)

__all__ = ["softmax_net", "evaluate_net", "ConciseSoftmaxFit", "train_softmax_concise"]


def softmax_net(
    num_inputs: int,
    num_outputs: int,
    *,
    sigma: float = 0.01,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    r"""Return ``nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))``.

    .. math::

        W_{lj} \sim \mathcal N(0, \sigma^2), \qquad b = 0

    The layer is built with ``nn.utils.skip_init`` (no default Kaiming draw from the
    global generator), so the only randomness is ``generator``.

    Parameters
    ----------
    num_inputs : int
        Number of features ``d`` (pixels per image).
    num_outputs : int
        Number of classes ``k``.
    sigma : float, default 0.01
        Standard deviation of the initial weights.
    generator : torch.Generator, optional
        Source of randomness; by default torch's global one.
    dtype, device
        Where the parameters live.

    Examples
    --------
    >>> net = softmax_net(784, 10, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    num_inputs = check_positive_int("num_inputs", num_inputs)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    sigma = check_positive_float("sigma", sigma)
    layer = nn.utils.skip_init(nn.Linear, num_inputs, num_outputs, dtype=dtype)
    with torch.no_grad():
        layer.weight.normal_(0.0, sigma, generator=generator)
        layer.bias.zero_()
    net = nn.Sequential(nn.Flatten(), layer)
    return net.to(device) if device is not None else net


def evaluate_net(
    net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 4096
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` on ``(X, y)``, in chunks, without a graph.

    ``y`` holds the class indices, shape ``(n,)`` or ``(n, 1)``.

    Examples
    --------
    >>> net = softmax_net(2, 2)
    >>> loss, acc = evaluate_net(net, torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
    >>> round(loss, 4), acc
    (0.6931, 0.5)
    """
    y = class_vector(y, X.shape[0])
    loss_sum = nn.CrossEntropyLoss(reduction="sum")
    total_loss, total_correct = 0.0, 0
    was_training = net.training
    net.eval()
    with torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            X_batch, y_batch = X[start : start + batch_size], y[start : start + batch_size]
            O = net(X_batch)
            check_label_values(y_batch, O.shape[1])
            total_loss += float(loss_sum(O, y_batch))
            total_correct += int((O.argmax(dim=1) == y_batch).sum())
    net.train(was_training)
    return total_loss / X.shape[0], total_correct / X.shape[0]


class ConciseSoftmaxFit(NamedTuple):
    """The trained network and its per-epoch history."""

    net: nn.Module
    """The network, trained in place."""
    history: dict[str, list[float]]
    """Per epoch: ``train_loss``, ``train_acc`` and, with validation data, ``val_loss``,
    ``val_acc``."""


def train_softmax_concise(
    net: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    *,
    lr: float = 0.1,
    batch_size: int = 256,
    epochs: int = 10,
    generator: torch.Generator | None = None,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    progress: bool = False,
) -> ConciseSoftmaxFit:
    r"""Train ``net`` with ``nn.CrossEntropyLoss`` and ``torch.optim.SGD`` (the textbook recipe).

    ::

        loss = nn.CrossEntropyLoss()            # mean over the minibatch, from logits
        trainer = torch.optim.SGD(net.parameters(), lr=lr)
        for each epoch:
            for X_batch, y_batch in DataLoader(TensorDataset(X, y), batch_size, shuffle=True):
                l = loss(net(X_batch), y_batch)
                trainer.zero_grad()
                l.backward()
                trainer.step()

    Parameters
    ----------
    net : nn.Module
        E.g. from :func:`softmax_net`; maps a batch to logits ``(n, k)``. Trained in place.
    X : torch.Tensor
        Features ``(n, d)`` or images ``(n, C, H, W)``, on the network's device.
    y : torch.Tensor
        Class indices ``0..k-1``, shape ``(n,)`` (a column ``(n, 1)`` is flattened).
    X_val, y_val : torch.Tensor, optional
        Validation data, evaluated after every epoch.
    lr, batch_size, epochs : float, int, int
        The textbook's 0.1, 256 and 10 by default.
    generator : torch.Generator, optional
        A CPU generator that drives the ``DataLoader``'s shuffle.
    loader : iterable of (X_batch, y_batch), optional
        Use these minibatches instead of the ``DataLoader`` (iterated once per epoch).
    progress : bool, default False
        Show a progress bar over the epochs.

    Returns
    -------
    ConciseSoftmaxFit
        ``(net, history)``; the history holds the mean loss and the accuracy on all the
        training data (and on the validation data) after each epoch.

    Raises
    ------
    ValueError
        If a label is negative, fractional or one-hot, or ``X`` has no rows.

    Warns
    -----
    NonFiniteLossWarning
        Once, when the loss after an epoch is ``inf``, ``nan`` or over a thousand times the
        loss of the starting weights: the learning rate is too large.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> net = softmax_net(1, 2, generator=torch.Generator().manual_seed(0))
    >>> fit = train_softmax_concise(net, X, y, lr=2.0, batch_size=4, epochs=30)
    >>> fit.history["train_acc"][-1]
    1.0
    """
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    epochs = check_positive_int("epochs", epochs)
    dtype = next(iter(net.parameters())).dtype
    X = class_features(X, dtype)
    y = class_vector(y, X.shape[0]).long()
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    if X_val is not None and y_val is not None:
        X_val = class_features(X_val, dtype, "X_val")
        y_val = class_vector(y_val, X_val.shape[0]).long()
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    if loader is None:
        loader = DataLoader(TensorDataset(X, y), batch_size, shuffle=True, generator=generator)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    if X_val is not None:
        history.update(val_loss=[], val_acc=[])
    bar = tqdm(total=epochs, desc="softmax, concise", unit="epoch", disable=not progress)
    diverged, start = False, evaluate_net(net, X, y)[0]
    net.train()
    for epoch in range(epochs):
        for X_batch, y_batch in loader:
            l = loss(net(X_batch), y_batch)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        train_loss, train_acc = evaluate_net(net, X, y)
        history["train_loss"].append(train_loss)
        history["train_acc"].append(train_acc)
        diverged = warn_if_diverged(train_loss, lr, epoch + 1, diverged, "concise", start)
        bar.update()
        bar.set_postfix(loss=f"{train_loss:.4g}", acc=f"{train_acc:.3f}")
        if X_val is not None and y_val is not None:
            val_loss, val_acc = evaluate_net(net, X_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
    bar.close()
    return ConciseSoftmaxFit(net, history)
