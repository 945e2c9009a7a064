r"""Linear regression from first principles, to be read beside the textbook.

Everything a linear-regression training loop needs, one small function per idea:

.. math::

    \hat y = X w + b
    \qquad
    \ell^{(i)}(w, b) = \tfrac12 \bigl(\hat y^{(i)} - y^{(i)}\bigr)^2
    \qquad
    (w, b) \leftarrow (w, b) - \frac{\eta}{|\mathcal B|}
        \sum_{i \in \mathcal B} \partial_{(w, b)} \ell^{(i)}(w, b)

* :func:`init_params` draws the starting point, :func:`linreg` is the model,
  :func:`squared_loss` the loss, :func:`sgd` the optimiser and :func:`data_iter` the
  minibatches; :func:`train` puts them together in the textbook's loop.
* :class:`LinearRegressionScratch` and :class:`SGD` are the same model and optimiser in
  ``nn.Module`` clothing, trained by :func:`train_module`.
* :func:`linreg_grad` writes out the gradient that autograd computes, and
  :func:`closed_form` is the analytic least-squares solution that minibatch SGD approaches.

Shapes follow the textbook: ``w`` is a column of shape ``(d, 1)``, ``b`` has shape ``(1,)``
and predictions have shape ``(n, 1)``. Targets may be ``(n,)`` or ``(n, 1)``:
:func:`squared_loss` reshapes the target to the prediction's shape, so a column of
predictions never broadcasts against a row of targets into an ``(n, n)`` matrix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from torchlinear._validation import (
    as_feature_matrix,
    as_target,
    check_positive_float,
    check_positive_int,
    check_same_length,
)
from torchlinear.scratch._checks import (
    check_data_iter,
    check_sgd,
    check_squared_loss,
    check_training_args,
    epoch_bar,
    guarded_by,
    warn_if_diverged,
)

__all__ = [
    "init_params",
    "linreg",
    "squared_loss",
    "sgd",
    "data_iter",
    "train",
    "linreg_grad",
    "closed_form",
    "LinearRegressionScratch",
    "SGD",
    "train_module",
]


# --- the model's parts ------------------------------------------------------------------


def init_params(
    num_inputs: int,
    *,
    sigma: float = 0.01,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return fresh parameters ``(w, b)`` that autograd tracks.

    .. math::

        w_j \sim \mathcal N(0, \sigma^2), \qquad b = 0

    Small random weights break no symmetry here (the model is linear), but they are the
    textbook's habit and they make the first loss depend on the data, not on the start.

    Parameters
    ----------
    num_inputs : int
        Number of features ``d``.
    sigma : float, default 0.01
        Standard deviation of the initial weights.
    generator : torch.Generator, optional
        Source of randomness (a CPU generator); by default torch's global one.
    dtype, device
        Where the parameters live.

    Returns
    -------
    w : torch.Tensor
        Shape ``(d, 1)``, ``requires_grad=True``.
    b : torch.Tensor
        Shape ``(1,)``, zero, ``requires_grad=True``.

    Examples
    --------
    >>> w, b = init_params(2, generator=torch.Generator().manual_seed(0))
    >>> w.shape, b.tolist(), w.requires_grad
    (torch.Size([2, 1]), [0.0], True)
    """
    num_inputs = check_positive_int("num_inputs", num_inputs)
    sigma = check_positive_float("sigma", sigma)
    w = torch.normal(0.0, sigma, size=(num_inputs, 1), generator=generator, dtype=dtype)
    w = w.to(device) if device is not None else w
    b = torch.zeros(1, dtype=dtype, device=w.device)
    return w.requires_grad_(True), b.requires_grad_(True)


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The linear model :math:`\hat y = X w + b`.

    One matrix-vector product for the whole minibatch; ``b`` is broadcast to every row.

    Parameters
    ----------
    X : torch.Tensor
        Features, shape ``(n, d)``.
    w : torch.Tensor
        Weights, shape ``(d, 1)`` (or ``(d,)``).
    b : torch.Tensor
        Bias, shape ``(1,)``.

    Returns
    -------
    torch.Tensor
        Predictions, shape ``(n, 1)`` (or ``(n,)`` for a 1-D ``w``).

    Examples
    --------
    >>> linreg(torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0], [4.0]]), torch.tensor([0.5]))
    tensor([[11.5000]])
    """
    return torch.matmul(X, w) + b


@guarded_by(check_squared_loss)
def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The squared loss of every example, :math:`\ell^{(i)} = \tfrac12 (\hat y^{(i)} - y^{(i)})^2`.

    The ½ makes the derivative clean: :math:`\partial \ell / \partial \hat y = \hat y - y`.
    ``y`` is reshaped to ``y_hat``'s shape first (the shape guard): without that, an
    ``(n, 1)`` prediction minus an ``(n,)`` target would broadcast to an ``(n, n)`` matrix
    and the loss would silently be wrong.

    Parameters
    ----------
    y_hat : torch.Tensor
        Predictions, e.g. shape ``(n, 1)``.
    y : torch.Tensor
        Targets with the same number of elements, e.g. shape ``(n,)``.

    Returns
    -------
    torch.Tensor
        Per-example losses, shape of ``y_hat`` (sum or average them yourself).

    Raises
    ------
    ValueError
        If ``y_hat`` and ``y`` hold different numbers of elements.

    Examples
    --------
    >>> squared_loss(torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 4.0]))
    tensor([[0.5000],
            [2.0000]])
    """
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


@guarded_by(check_sgd)
def sgd(params: Iterable[torch.Tensor], lr: float, batch_size: int) -> None:
    r"""One step of minibatch stochastic gradient descent, in place.

    .. math::

        \theta \leftarrow \theta - \frac{\eta}{|\mathcal B|}\, \nabla_\theta
            \sum_{i \in \mathcal B} \ell^{(i)}

    The gradient of the *summed* minibatch loss sits in ``param.grad`` (from
    ``loss.sum().backward()``); dividing by ``batch_size`` turns it into the average. The
    gradients are zeroed afterwards, because autograd adds new gradients to old ones.

    Parameters
    ----------
    params : iterable of torch.Tensor
        Leaf tensors with ``requires_grad=True`` and a ``.grad``.
    lr : float
        Learning rate :math:`\eta`.
    batch_size : int
        Number of examples whose losses were summed, :math:`|\mathcal B|`.

    Examples
    --------
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> (3 * w).sum().backward()
    >>> sgd([w], lr=0.1, batch_size=1)
    >>> w.detach(), w.grad
    (tensor([0.7000]), tensor([0.]))
    """
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


@guarded_by(check_data_iter)
def data_iter(
    batch_size: int,
    X: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield one epoch of shuffled minibatches ``(X_batch, y_batch)``.

    The indices ``0 … n-1`` are shuffled once; consecutive slices of ``batch_size`` of them
    pick the examples, so every example is used exactly once per epoch. The last batch is
    smaller when ``batch_size`` does not divide ``n``.

    Parameters
    ----------
    batch_size : int
        Examples per batch, >= 1.
    X : torch.Tensor
        Features, shape ``(n, d)``.
    y : torch.Tensor
        Targets, shape ``(n,)`` or ``(n, 1)``.
    generator : torch.Generator, optional
        A CPU generator for the shuffle; the same seed gives the same order. By default
        torch's global generator is used.

    Examples
    --------
    >>> X, y = torch.arange(10.0).reshape(5, 2), torch.arange(5.0)
    >>> [len(yb) for _, yb in data_iter(2, X, y, torch.Generator().manual_seed(0))]
    [2, 2, 1]
    """
    num_examples = len(X)
    indices = torch.randperm(num_examples, generator=generator).to(X.device)
    for i in range(0, num_examples, batch_size):
        batch_indices = indices[i : i + batch_size]
        yield X[batch_indices], y[batch_indices]


# --- training -------------------------------------------------------------------------


def train(
    X: Any,
    y: Any,
    w: torch.Tensor,
    b: torch.Tensor,
    *,
    lr: float = 0.03,
    batch_size: int = 10,
    epochs: int = 3,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> list[float]:
    r"""Fit ``w`` and ``b`` in place by minibatch SGD; return the loss after each epoch.

    The textbook's loop, with nothing hidden::

        for each epoch:
            for (X_batch, y_batch) in data_iter(batch_size, X, y):
                l = squared_loss(linreg(X_batch, w, b), y_batch)   # per-example losses
                l.sum().backward()                                  # gradient of the sum
                sgd([w, b], lr, len(y_batch))                       # step, zero the grads
            record mean(squared_loss(linreg(X, w, b), y))

    The step divides by the batch's actual size, so a shorter last batch takes an
    averaged step like the others.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Features.
    y : array-like, shape (n,) or (n, 1)
        Targets; both shapes give identical results.
    w, b : torch.Tensor
        Parameters from :func:`init_params` (any dtype/device; the data is converted to
        theirs). Updated in place.
    lr : float, default 0.03
        Learning rate, > 0.
    batch_size : int, default 10
        Minibatch size, >= 1.
    epochs : int, default 3
        Passes over the data, >= 1.
    generator : torch.Generator, optional
        Drives the shuffle; pass a seeded one for a reproducible run.
    progress : bool, default False
        Show a progress bar per epoch with the current minibatch loss.

    Returns
    -------
    list of float
        The mean squared loss :math:`\frac1n \sum_i \tfrac12(\hat y^{(i)} - y^{(i)})^2`
        over all the data after each epoch.

    Raises
    ------
    ValueError
        For a non-positive ``lr``/``batch_size``/``epochs``, or ``X`` and ``y`` of different
        lengths (the message names both).

    Warns
    -----
    NonFiniteLossWarning
        Once, when the loss after an epoch is ``inf``, ``nan`` or over a thousand times the
        loss of the starting weights: the learning rate is too large.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> y = 2 * X[:, 0] + 1
    >>> w, b = init_params(1, generator=torch.Generator().manual_seed(0))
    >>> losses = train(X, y, w, b, lr=0.1, batch_size=2, epochs=200,
    ...                generator=torch.Generator().manual_seed(0))
    >>> round(w.item(), 3), round(b.item(), 3)
    (2.0, 1.0)
    """
    X, y, lr, batch_size, epochs = check_training_args(X, y, lr, batch_size, epochs, like=w)
    if X.shape[1] != w.shape[0]:
        raise ValueError(f"X has {X.shape[1]} features but w has {w.shape[0]} rows")
    for name, param in (("w", w), ("b", b)):
        if not param.requires_grad:
            raise ValueError(
                f"{name} does not record gradients, so nothing can train it; create it with "
                f"requires_grad=True (init_params does), e.g. {name}.requires_grad_(True)"
            )
    with torch.no_grad():
        start = float(squared_loss(linreg(X, w, b), y).mean())
    losses, diverged = [], False
    for epoch in range(epochs):
        bar = epoch_bar(f"scratch {epoch + 1}/{epochs}", math.ceil(len(X) / batch_size), progress)
        for X_batch, y_batch in data_iter(batch_size, X, y, generator):
            l = squared_loss(linreg(X_batch, w, b), y_batch)
            l.sum().backward()
            sgd([w, b], lr, len(y_batch))
            if progress:
                bar.update()
                bar.set_postfix(loss=f"{l.mean().item():.4g}", refresh=False)
        with torch.no_grad():
            losses.append(float(squared_loss(linreg(X, w, b), y).mean()))
        diverged = warn_if_diverged(losses[-1], lr, epoch + 1, diverged, start=start)
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.close()
    return losses


# --- the gradient and the exact solution ------------------------------------------------


def linreg_grad(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The gradient of the mean squared loss, by hand.

    With residuals :math:`r = X w + b - y` and
    :math:`L(w, b) = \frac1n \sum_i \tfrac12 r_i^2`:

    .. math::

        \frac{\partial L}{\partial w} = \frac1n X^\top r, \qquad
        \frac{\partial L}{\partial b} = \frac1n \sum_i r_i

    This is what ``squared_loss(linreg(X, w, b), y).mean().backward()`` leaves in
    ``w.grad`` and ``b.grad``.

    Parameters
    ----------
    X : torch.Tensor
        Features, shape ``(n, d)``.
    y : torch.Tensor
        Targets, shape ``(n,)`` or ``(n, 1)``.
    w : torch.Tensor
        Weights, shape ``(d, 1)`` or ``(d,)``.
    b : torch.Tensor or float
        Bias.

    Returns
    -------
    grad_w : torch.Tensor
        Same shape as ``w``.
    grad_b : torch.Tensor
        Same shape as ``b`` (0-d for a Python float).

    Examples
    --------
    >>> X = torch.tensor([[1.0], [2.0]])
    >>> linreg_grad(X, torch.tensor([1.0, 1.0]), torch.tensor([[1.0]]), torch.tensor([0.0]))
    (tensor([[1.]]), tensor([0.5000]))
    """
    check_same_length(X, y)
    b = torch.as_tensor(b, dtype=X.dtype, device=X.device)
    residual = X @ w.reshape(-1) + b.reshape(()) - y.reshape(-1)
    n = len(X)
    grad_w = (X.T @ residual / n).reshape(w.shape)
    grad_b = residual.mean().reshape(b.shape)
    return grad_w, grad_b


def closed_form(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The textbook's analytic solution of linear regression, ``(w, b)`` in float64.

    Appending a column of ones to absorb the bias, :math:`A = [X, \mathbf 1]`, the
    least-squares parameters solve the normal equations

    .. math::

        \theta^* = \arg\min_\theta \lVert A\theta - y \rVert^2, \qquad
        A^\top A\, \theta^* = A^\top y .

    The textbook writes :math:`\theta^* = (A^\top A)^{-1} A^\top y`; forming that inverse
    squares the condition number and loses digits, so this function hands :math:`A` to
    ``torch.linalg.lstsq`` instead (an SVD-based solve on the CPU, which also returns the
    minimum-norm solution when columns are collinear), in float64.

    This is the small, in-memory version for reading; for the fast, streaming solver that
    stays accurate on ill-conditioned data use :class:`torchlinear.LinearRegression`.

    Parameters
    ----------
    X : array-like, shape (n, d)
        Features.
    y : array-like, shape (n,) or (n, 1)
        Targets.

    Returns
    -------
    w : torch.Tensor
        Shape ``(d,)``, float64.
    b : torch.Tensor
        0-d, float64.

    Examples
    --------
    >>> X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 3.0]])
    >>> w, b = closed_form(X, X @ torch.tensor([2.0, -3.4]) + 4.2)
    >>> [round(v, 6) for v in w.tolist()], round(b.item(), 6)
    ([2.0, -3.4], 4.2)
    """
    check_same_length(X, y)
    X, _ = as_feature_matrix(X, dtype=torch.float64)
    y = as_target(y, dtype=torch.float64, device=X.device)
    A = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype, device=X.device)], dim=1)
    driver = "gelsd" if A.device.type == "cpu" else None
    theta = torch.linalg.lstsq(A, y.unsqueeze(1), driver=driver).solution.squeeze(1)
    return theta[:-1], theta[-1]


# --- the same, as an nn.Module and an optimiser object ---------------------------------


class LinearRegressionScratch(nn.Module):
    r"""The linear model as an ``nn.Module``, with its parameters and forward pass by hand.

    .. math::

        \hat y = X w + b, \qquad w \sim \mathcal N(0, \sigma^2 I), \quad b = 0

    Registering ``w`` and ``b`` as ``nn.Parameter`` is all that ``nn.Module`` needs to list
    them in ``parameters()``, move them with ``.to()`` and save them in ``state_dict()``.

    Parameters
    ----------
    num_inputs : int
        Number of features ``d``.
    sigma : float, default 0.01
        Standard deviation of the initial weights.
    generator : torch.Generator, optional
        Source of randomness for the initial weights.
    dtype : torch.dtype, default torch.float32

    Examples
    --------
    >>> model = LinearRegressionScratch(2, generator=torch.Generator().manual_seed(0))
    >>> model(torch.zeros(3, 2)).shape
    torch.Size([3, 1])
    """

    def __init__(
        self,
        num_inputs: int,
        sigma: float = 0.01,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        w, b = init_params(num_inputs, sigma=sigma, generator=generator, dtype=dtype)
        self.w = nn.Parameter(w.detach())
        self.b = nn.Parameter(b.detach())

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Return the predictions :math:`X w + b`, shape ``(n, 1)``."""
        return torch.matmul(X, self.w) + self.b

    def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r"""The minibatch's mean loss, :math:`\frac1{|\mathcal B|}\sum \tfrac12(\hat y - y)^2`."""
        return squared_loss(y_hat, y).mean()


class SGD:
    r"""Minibatch SGD as an object: :math:`\theta \leftarrow \theta - \eta \nabla_\theta L`.

    ``L`` is already the minibatch *mean* (see :meth:`LinearRegressionScratch.loss`), so
    unlike :func:`sgd` there is no division by the batch size here.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The parameters to update, e.g. ``model.parameters()``.
    lr : float
        Learning rate, > 0.

    Examples
    --------
    >>> w = nn.Parameter(torch.tensor([1.0]))
    >>> opt = SGD([w], lr=0.5)
    >>> (2 * w).sum().backward()
    >>> opt.step()
    >>> opt.zero_grad()
    >>> w.detach(), w.grad
    (tensor([0.]), None)
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params: list[torch.Tensor] = list(params)
        self.lr = check_positive_float("lr", lr)

    def step(self) -> None:
        """Move every parameter against its gradient."""
        with torch.no_grad():
            for param in self.params:
                if param.grad is not None:
                    param -= self.lr * param.grad

    def zero_grad(self) -> None:
        """Forget the gradients (``backward`` accumulates into ``.grad``)."""
        for param in self.params:
            param.grad = None


def train_module(
    model: LinearRegressionScratch,
    X: Any,
    y: Any,
    *,
    lr: float = 0.03,
    batch_size: int = 10,
    epochs: int = 3,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> list[float]:
    r"""Train an ``nn.Module``-style model with :class:`SGD`; return the loss after each epoch.

    The same algorithm as :func:`train`, in the shape every PyTorch loop has::

        for each epoch:
            for (X_batch, y_batch) in data_iter(batch_size, X, y):
                loss = model.loss(model(X_batch), y_batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    Parameters
    ----------
    model : LinearRegressionScratch
        Any module whose ``forward`` returns ``(n, 1)`` or ``(n,)`` predictions and that has
        a ``loss(y_hat, y)`` method returning the minibatch mean.
    X, y, lr, batch_size, epochs, generator, progress
        As in :func:`train`.

    Returns
    -------
    list of float
        The mean squared loss over all the data after each epoch.

    Examples
    --------
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LinearRegressionScratch(1, generator=torch.Generator().manual_seed(0))
    >>> losses = train_module(model, X, 3 * X[:, 0] - 1, lr=0.1, batch_size=2, epochs=200,
    ...                       generator=torch.Generator().manual_seed(0))
    >>> round(model.w.item(), 3), round(model.b.item(), 3)
    (3.0, -1.0)
    """
    first = next(iter(model.parameters()))
    X, y, lr, batch_size, epochs = check_training_args(X, y, lr, batch_size, epochs, like=first)
    optimizer = SGD(model.parameters(), lr)
    with torch.no_grad():
        start = float(model.loss(model(X), y))
    losses, diverged = [], False
    for epoch in range(epochs):
        bar = epoch_bar(f"module {epoch + 1}/{epochs}", math.ceil(len(X) / batch_size), progress)
        for X_batch, y_batch in data_iter(batch_size, X, y, generator):
            loss = model.loss(model(X_batch), y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress:
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
        with torch.no_grad():
            losses.append(float(model.loss(model(X), y)))
        diverged = warn_if_diverged(losses[-1], lr, epoch + 1, diverged, start=start)
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.close()
    return losses
