r"""Linear regression the concise way: ``torch.nn``, ``torch.optim`` and ``DataLoader``.

The same model, loss and optimiser as :mod:`torchlinear.scratch.linreg`, each replaced by
its library counterpart:

* ``init_params`` and ``linreg`` → ``nn.Sequential(nn.Linear(d, 1))`` with weight
  ~ N(0, 0.01²) and bias 0;
* ``squared_loss`` → ``nn.MSELoss()`` (halved, see below);
* ``sgd`` → ``torch.optim.SGD``;
* ``data_iter`` → ``DataLoader(TensorDataset(X, y), batch_size, shuffle=True)``.

``nn.MSELoss`` computes :math:`\frac1{|\mathcal B|}\sum (\hat y - y)^2`, without the ½ of
the textbook's squared loss, so its gradient is twice as large and the same learning rate
would take steps twice as long. :func:`train_concise` halves it; then scratch and concise
take identical steps from identical starting points, and the loss curves they report are
the same quantity, :math:`\frac1n \sum \tfrac12 (\hat y - y)^2`.

``nn.Linear`` returns predictions of shape ``(n, 1)``; the target is reshaped to that shape
before the loss (the shape guard), because ``nn.MSELoss`` would otherwise broadcast an
``(n, 1)`` prediction against an ``(n,)`` target into an ``(n, n)`` matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchlinear._validation import check_positive_float, check_positive_int
from torchlinear.scratch._checks import check_training_args, epoch_bar, warn_if_diverged

__all__ = ["linreg_net", "half_mse", "train_concise"]

_mse = nn.MSELoss()


def linreg_net(
    num_inputs: int,
    *,
    sigma: float = 0.01,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> nn.Sequential:
    r"""Return ``nn.Sequential(nn.Linear(num_inputs, 1))`` with the textbook's start.

    .. math::

        W_{1j} \sim \mathcal N(0, \sigma^2), \qquad b = 0

    ``nn.Linear`` would draw its own (Kaiming-uniform) weights from torch's global random
    number generator; ``skip_init`` builds the layer without that draw, so the only
    randomness is the ``generator`` given here.

    Parameters
    ----------
    num_inputs : int
        Number of features ``d``.
    sigma : float, default 0.01
        Standard deviation of the initial weights.
    generator : torch.Generator, optional
        Source of randomness; by default torch's global one.
    dtype, device
        Where the parameters live.

    Examples
    --------
    >>> net = linreg_net(2, generator=torch.Generator().manual_seed(0))
    >>> net[0].weight.shape, net[0].bias.tolist()
    (torch.Size([1, 2]), [0.0])
    """
    num_inputs = check_positive_int("num_inputs", num_inputs)
    sigma = check_positive_float("sigma", sigma)
    layer = nn.utils.skip_init(nn.Linear, num_inputs, 1, dtype=dtype)
    with torch.no_grad():
        layer.weight.normal_(0.0, sigma, generator=generator)
        layer.bias.zero_()
    net = nn.Sequential(layer)
    return net.to(device) if device is not None else net


def half_mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Half the mean squared error, :math:`\frac1n \sum_i \tfrac12 (\hat y_i - y_i)^2`.

    ``nn.MSELoss()(y_hat, y) / 2`` after reshaping ``y`` to ``y_hat``'s shape (so an
    ``(n, 1)`` prediction never broadcasts against an ``(n,)`` target); raises
    ``ValueError`` when they hold different numbers of elements.

    Examples
    --------
    >>> half_mse(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0]))
    tensor(1.2500)
    """
    if y_hat.numel() != y.numel():
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the predictions have shape {tuple(y_hat.shape)}; "
            "pass one target per prediction"
        )
    return _mse(y_hat, y.reshape(y_hat.shape)) / 2


def train_concise(
    net: nn.Module,
    X: Any,
    y: Any,
    *,
    lr: float = 0.03,
    batch_size: int = 10,
    epochs: int = 3,
    generator: torch.Generator | None = None,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    progress: bool = False,
) -> list[float]:
    r"""Train ``net`` with ``nn.MSELoss`` and ``torch.optim.SGD``; return the loss per epoch.

    ::

        trainer = torch.optim.SGD(net.parameters(), lr=lr)
        for each epoch:
            for X_batch, y_batch in DataLoader(TensorDataset(X, y), batch_size, shuffle=True):
                l = half_mse(net(X_batch), y_batch)    # nn.MSELoss() / 2, shape-guarded
                trainer.zero_grad()
                l.backward()
                trainer.step()

    Parameters
    ----------
    net : nn.Module
        E.g. from :func:`linreg_net`; its output must have one value per example. Updated
        in place.
    X : array-like, shape (n, d)
        Features.
    y : array-like, shape (n,) or (n, 1)
        Targets; both shapes give identical results.
    lr : float, default 0.03
        Learning rate, > 0.
    batch_size : int, default 10
        Minibatch size, >= 1.
    epochs : int, default 3
        Passes over the data, >= 1.
    generator : torch.Generator, optional
        A CPU generator that drives the ``DataLoader``'s shuffle.
    loader : iterable of (X_batch, y_batch), optional
        Use these minibatches instead of the ``DataLoader`` (iterated once per epoch), e.g.
        to replay the batch order of another run.
    progress : bool, default False
        Show a progress bar per epoch with the current minibatch loss.

    Returns
    -------
    list of float
        :math:`\frac1n \sum_i \tfrac12 (\hat y_i - y_i)^2` over all the data after each epoch.

    Warns
    -----
    NonFiniteLossWarning
        Once, when the loss after an epoch is ``inf``, ``nan`` or over a thousand times the
        loss of the starting weights: the learning rate is too large.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> net = linreg_net(1, generator=torch.Generator().manual_seed(0))
    >>> losses = train_concise(net, X, 2 * X - 1, lr=0.1, batch_size=2, epochs=200,
    ...                        generator=torch.Generator().manual_seed(0))
    >>> round(net[0].weight.item(), 3), round(net[0].bias.item(), 3)
    (2.0, -1.0)
    """
    first = next(iter(net.parameters()))
    X, y, lr, batch_size, epochs = check_training_args(X, y, lr, batch_size, epochs, like=first)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    if loader is None:
        loader = DataLoader(TensorDataset(X, y), batch_size, shuffle=True, generator=generator)
    total = math.ceil(len(X) / batch_size)
    with torch.no_grad():
        start = float(half_mse(net(X), y))
    losses, diverged = [], False
    for epoch in range(epochs):
        bar = epoch_bar(f"concise {epoch + 1}/{epochs}", total, progress)
        for X_batch, y_batch in loader:
            l = half_mse(net(X_batch), y_batch)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            if progress:
                bar.update()
                bar.set_postfix(loss=f"{l.item():.4g}", refresh=False)
        with torch.no_grad():
            losses.append(float(half_mse(net(X), y)))
        diverged = warn_if_diverged(losses[-1], lr, epoch + 1, diverged, "concise", start)
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.close()
    return losses
