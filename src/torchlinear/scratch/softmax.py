r"""Softmax regression from scratch: only tensors, autograd and a hand-written update.

For a minibatch :math:`X \in \mathbb R^{n \times d}` and :math:`k` classes the model is

.. math::

    O = X W + b, \qquad \hat Y = \operatorname{softmax}(O), \qquad
    \hat y_{ij} = \frac{\exp o_{ij}}{\sum_{l=1}^{k} \exp o_{il}},

with :math:`W \in \mathbb R^{d \times k}` and :math:`b \in \mathbb R^{k}`. Each row of
:math:`\hat Y` is a probability distribution over the classes. The loss of one example with
label :math:`y` is the cross-entropy :math:`l = -\log \hat y_{y}`, and we minimise its mean
over the minibatch by stochastic gradient descent. Its gradient is strikingly simple,

.. math::

    \frac{\partial l}{\partial o_j} = \operatorname{softmax}(o)_j - \mathbb 1[j = y],

the predicted probability minus the one-hot label.

Labels are class indices in a vector of shape ``(n,)``. :func:`cross_entropy`,
:func:`softmax_cross_entropy` and :func:`accuracy` refuse a column ``(n, 1)``, which would
broadcast against the ``n`` rows into an ``(n, n)`` matrix; the trainers accept it and
flatten it.

Two numerical traps and their fixes, both below:

* ``exp`` overflows for large logits (``exp(89)`` is ``inf`` in float32). Softmax does not
  change when a constant is subtracted from every logit of a row, so :func:`softmax`
  subtracts the row maximum first; then every exponent is ``<= 0``.
* After that shift, small probabilities underflow to exactly ``0`` and ``log 0 = -inf``.
  :func:`softmax_cross_entropy` therefore never forms the probabilities: it computes
  :math:`l = \log\sum_j \exp o_j - o_y` with the log-sum-exp trick.

Examples
--------
>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> X = torch.randn(200, 2, generator=g)
>>> y = (X[:, 0] > 0).long()
>>> fit = train(X, y, epochs=3, lr=0.5, batch_size=50, seed=0)
>>> fit.history["train_acc"][-1] > 0.9
True
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import NamedTuple

import torch
from tqdm.auto import tqdm

from torchlinear._validation import check_positive_float, check_positive_int
from torchlinear.data.batching import iter_batches
from torchlinear.scratch._checks import (
    check_class_labels,
    check_probabilities,
    class_features,
    class_vector,
    guarded_by,
    warn_if_diverged,
)

__all__ = [
    "softmax",
    "log_sum_exp",
    "log_softmax",
    "cross_entropy",
    "softmax_cross_entropy",
    "init_softmax_params",
    "softmax_logits",
    "softmax_regression",
    "accuracy",
    "sgd_step",
    "evaluate",
    "SoftmaxFit",
    "train",
]


def softmax(O: torch.Tensor) -> torch.Tensor:
    r"""Row-wise softmax, shifted by the row maximum so that ``exp`` cannot overflow.

    .. math::

        \operatorname{softmax}(o)_j = \frac{\exp(o_j - m)}{\sum_l \exp(o_l - m)},
        \qquad m = \max_l o_l

    The shift cancels between numerator and denominator, so the result is the textbook
    softmax; but now every exponent is ``<= 0`` and the denominator is ``>= 1``.

    Parameters
    ----------
    O : torch.Tensor
        Logits, shape ``(n, k)``.

    Returns
    -------
    torch.Tensor
        Probabilities, shape ``(n, k)``; each row sums to 1.

    Examples
    --------
    >>> import torch
    >>> P = softmax(torch.tensor([[1.0, 2.0, 3.0], [1e4, -1e4, 0.0]]))
    >>> P.sum(dim=1)
    tensor([1., 1.])
    >>> P[1]
    tensor([1., 0., 0.])
    """
    O_shifted = O - O.max(dim=1, keepdim=True).values
    E = torch.exp(O_shifted)
    return E / E.sum(dim=1, keepdim=True)


def log_sum_exp(O: torch.Tensor) -> torch.Tensor:
    r"""Row-wise :math:`\log \sum_j \exp o_j`, computed without overflow or underflow.

    .. math::

        \log \sum_j \exp o_j = m + \log \sum_j \exp(o_j - m), \qquad m = \max_j o_j

    The largest shifted term is ``exp(0) = 1``, so the sum lies in ``[1, k]`` and its
    logarithm is finite.

    Examples
    --------
    >>> import torch
    >>> log_sum_exp(torch.tensor([[0.0, 0.0], [1e4, 1e4]]))
    tensor([6.9315e-01, 1.0001e+04])
    """
    m = O.max(dim=1, keepdim=True).values
    return (m + torch.log(torch.exp(O - m).sum(dim=1, keepdim=True))).squeeze(1)


def log_softmax(O: torch.Tensor) -> torch.Tensor:
    r"""Row-wise :math:`\log \operatorname{softmax}(o)_j = o_j - \log\sum_l \exp o_l`.

    Computed as :math:`(o_j - m) - \log\sum_l \exp(o_l - m)` with :math:`m = \max_l o_l`:
    subtracting ``m`` from ``o_j`` first is exact for the largest logits, whereas
    ``o_j - log_sum_exp(o)`` would subtract two large, nearly equal numbers.

    Examples
    --------
    >>> import torch
    >>> log_softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """
    O_shifted = O - O.max(dim=1, keepdim=True).values  # subtract before the log: no cancellation
    return O_shifted - torch.log(torch.exp(O_shifted).sum(dim=1, keepdim=True))


@guarded_by(check_probabilities)
def cross_entropy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Per-example cross-entropy of predicted probabilities: :math:`l_i = -\log \hat y_{i, y_i}`.

    This is the textbook definition on *probabilities*. It picks each example's
    probability of its true class with fancy indexing; no one-hot matrix is built.
    When that probability underflowed to 0 (logits far apart), the loss is ``inf``:
    train with :func:`softmax_cross_entropy` on the logits instead.

    Parameters
    ----------
    y_hat : torch.Tensor
        Probabilities, shape ``(n, k)``.
    y : torch.Tensor
        Class indices in ``0..k-1``, shape ``(n,)``, integer dtype.

    Returns
    -------
    torch.Tensor
        Losses, shape ``(n,)``.

    Raises
    ------
    ValueError
        If ``y`` is not a vector with one label per row (a column ``(n, 1)`` would broadcast),
        or ``y_hat`` holds a number outside ``[0, 1]`` (logits: ``-log`` of them is ``nan``
        or negative).

    Examples
    --------
    >>> import torch
    >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    >>> cross_entropy(y_hat, torch.tensor([0, 2]))
    tensor([2.3026, 0.6931])
    """
    return -torch.log(y_hat[torch.arange(y_hat.shape[0], device=y_hat.device), y.long()])


class _SoftmaxCrossEntropy(torch.autograd.Function):
    r"""Fused softmax + cross-entropy with the gradient written out.

    forward:  :math:`l_i = \log\sum_j \exp(o_{ij} - m_i) - (o_{i y_i} - m_i)`
    backward: :math:`\partial l_i / \partial o_{ij} = \operatorname{softmax}(o_i)_j - [j = y_i]`
    """

    @staticmethod
    def forward(ctx, O: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        O_shifted = O - O.max(dim=1, keepdim=True).values
        log_Z = torch.log(torch.exp(O_shifted).sum(dim=1))
        ctx.save_for_backward(O_shifted, y, log_Z)
        return log_Z - O_shifted.gather(1, y.unsqueeze(1)).squeeze(1)

    @staticmethod
    def backward(ctx, grad_l: torch.Tensor):  # type: ignore[override]
        O_shifted, y, log_Z = ctx.saved_tensors
        P = torch.exp(O_shifted - log_Z.unsqueeze(1))  # softmax(O), exponents <= 0
        P[torch.arange(P.shape[0], device=P.device), y] -= 1  # minus the one-hot label
        return grad_l.unsqueeze(1) * P, None


@guarded_by(check_class_labels)
def softmax_cross_entropy(O: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Per-example cross-entropy of ``softmax(O)``, computed from the logits (log-sum-exp).

    .. math::

        l_i = -\log \frac{\exp o_{i y_i}}{\sum_j \exp o_{ij}}
            = \log \sum_j \exp(o_{ij} - m_i) - (o_{i y_i} - m_i),
        \qquad m_i = \max_j o_{ij}

    No probability is formed, so nothing underflows to ``log 0``; the loss stays finite
    and accurate for logits of any size (the shift by :math:`m_i` is applied before any
    large numbers are subtracted, so there is no cancellation either). The backward pass
    uses the closed form
    :math:`\partial l_i/\partial o_{ij} = \operatorname{softmax}(o_i)_j - \mathbb 1[j = y_i]`.

    Parameters
    ----------
    O : torch.Tensor
        Logits, shape ``(n, k)``.
    y : torch.Tensor
        Class indices in ``0..k-1``, shape ``(n,)``, integer dtype.

    Returns
    -------
    torch.Tensor
        Losses, shape ``(n,)``.

    Raises
    ------
    ValueError
        If ``y`` is not a vector with one label per row (a column ``(n, 1)`` would broadcast).

    Examples
    --------
    >>> import torch
    >>> O = torch.tensor([[1e4, -1e4, 0.0]])
    >>> cross_entropy(softmax(O), torch.tensor([1]))  # probability 0: log 0
    tensor([inf])
    >>> softmax_cross_entropy(O, torch.tensor([1]))
    tensor([20000.])
    """
    return _SoftmaxCrossEntropy.apply(O, y.long())


def init_softmax_params(
    num_inputs: int,
    num_outputs: int,
    sigma: float = 0.01,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Draw :math:`W_{jl} \sim \mathcal N(0, \sigma^2)` and set :math:`b = 0`.

    Returns
    -------
    W : torch.Tensor
        Shape ``(num_inputs, num_outputs)``, ``requires_grad=True``.
    b : torch.Tensor
        Shape ``(num_outputs,)``, ``requires_grad=True``.

    Examples
    --------
    >>> W, b = init_softmax_params(784, 10, generator=torch.Generator().manual_seed(0))
    >>> W.shape, b.shape
    (torch.Size([784, 10]), torch.Size([10]))
    """
    num_inputs = check_positive_int("num_inputs", num_inputs)
    num_outputs = check_positive_int("num_outputs", num_outputs)
    sigma = check_positive_float("sigma", sigma)
    W = sigma * torch.randn(num_inputs, num_outputs, generator=generator, dtype=dtype)
    W = W.to(device).requires_grad_(True)
    b = torch.zeros(num_outputs, dtype=dtype, device=device, requires_grad=True)
    return W, b


def softmax_logits(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The logits :math:`O = XW + b`; an image batch is flattened to ``(n, d)`` first.

    Examples
    --------
    >>> import torch
    >>> softmax_logits(torch.ones(2, 1, 2, 2), torch.ones(4, 3), torch.zeros(3)).shape
    torch.Size([2, 3])
    """
    return X.reshape(-1, W.shape[0]) @ W + b


def softmax_regression(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The model's class probabilities :math:`\hat Y = \operatorname{softmax}(XW + b)`.

    Examples
    --------
    >>> import torch
    >>> softmax_regression(torch.zeros(1, 2), torch.ones(2, 4), torch.zeros(4))
    tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
    """
    return softmax(softmax_logits(X, W, b))


@guarded_by(check_class_labels)
def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    r"""Fraction of examples whose most probable class is the label.

    .. math::

        \mathrm{acc} = \frac1n \sum_i \mathbb 1\left[\arg\max_j \hat y_{ij} = y_i\right]

    ``y_hat`` may hold probabilities or logits (the argmax is the same), shape ``(n, k)``,
    or already-predicted class indices, shape ``(n,)`` or ``(n, 1)``; ``y`` holds the labels,
    shape ``(n,)``.

    Raises
    ------
    ValueError
        If ``y`` is not a vector with one label per row: a column ``(n, 1)`` would compare
        every prediction with every label and count ``n`` times too many matches.

    Examples
    --------
    >>> import torch
    >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), torch.tensor([1, 1, 1]))
    0.6666666666666666
    """
    y_hat = y_hat.argmax(dim=1) if y_hat.ndim > 1 and y_hat.shape[1] > 1 else y_hat.reshape(-1)
    return float((y_hat == y).to(torch.float64).mean())


def sgd_step(params: Iterable[torch.Tensor], lr: float) -> None:
    r"""One minibatch SGD update :math:`\theta \leftarrow \theta - \eta \nabla_\theta \bar l`.

    The gradient is that of the *mean* loss over the minibatch, so ``lr`` does not depend
    on the batch size. Gradients are reset to zero afterwards.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> (2 * w).sum().backward()
    >>> sgd_step([w], lr=0.1)
    >>> w
    tensor([0.8000], requires_grad=True)
    """
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad
            param.grad.zero_()


def evaluate(
    W: torch.Tensor,
    b: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 4096,
) -> tuple[float, float]:
    r"""Mean cross-entropy and accuracy of the model ``(W, b)`` on ``(X, y)``.

    Evaluated in chunks of ``batch_size`` rows without building a graph. ``y`` holds the
    class indices, shape ``(n,)`` or ``(n, 1)``.

    Returns
    -------
    loss : float
        :math:`\frac1n \sum_i l_i`.
    acc : float
        Fraction classified correctly.

    Examples
    --------
    >>> import torch
    >>> loss, acc = evaluate(torch.zeros(2, 2), torch.zeros(2), torch.ones(4, 2),
    ...                      torch.tensor([0, 1, 0, 1]))
    >>> round(loss, 4), acc
    (0.6931, 0.5)
    """
    total_loss, total_correct, n = 0.0, 0.0, X.shape[0]
    y = class_vector(y, n)
    with torch.no_grad():
        for X_batch, y_batch in iter_batches(X, y, batch_size, shuffle=False):
            O = softmax_logits(X_batch, W, b)
            total_loss += float(softmax_cross_entropy(O, y_batch).sum())
            total_correct += accuracy(O, y_batch) * y_batch.shape[0]
    return total_loss / n, total_correct / n


class SoftmaxFit(NamedTuple):
    """The parameters learned by :func:`train` and the per-epoch history."""

    W: torch.Tensor
    """Weights, shape ``(d, k)``."""
    b: torch.Tensor
    """Biases, shape ``(k,)``."""
    history: dict[str, list[float]]
    """Per epoch: ``train_loss``, ``train_acc`` and, with validation data, ``val_loss``,
    ``val_acc``."""


def train(
    X: torch.Tensor,
    y: torch.Tensor,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    *,
    num_classes: int | None = None,
    epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 256,
    sigma: float = 0.01,
    seed: int | None = 0,
    progress: bool = False,
) -> SoftmaxFit:
    r"""Fit softmax regression by minibatch SGD on the fused, stable cross-entropy.

    For each epoch, for each shuffled minibatch :math:`\mathcal B`:

    .. math::

        O = X_{\mathcal B} W + b, \qquad
        \bar l = \frac{1}{|\mathcal B|}\sum_{i \in \mathcal B} l(o_i, y_i), \qquad
        (W, b) \leftarrow (W, b) - \eta \nabla_{W, b}\, \bar l

    Parameters
    ----------
    X : torch.Tensor
        Features, shape ``(n, d)`` or images ``(n, C, H, W)`` (flattened by the model).
    y : torch.Tensor
        Class indices ``0..k-1``, shape ``(n,)`` (a column ``(n, 1)`` is flattened).
    X_val, y_val : torch.Tensor, optional
        Validation data, evaluated after every epoch.
    num_classes : int, optional
        ``k``; by default ``max(y) + 1``.
    epochs, lr, batch_size : int, float, int
        Passes over the data, learning rate and minibatch size: the textbook's 10, 0.1
        and 256 by default.
    sigma : float, default 0.01
        Standard deviation of the initial weights.
    seed : int or None, default 0
        Seeds the initial weights and the shuffling (``None``: fresh randomness).
    progress : bool, default False
        Show a progress bar over the epochs.

    Returns
    -------
    SoftmaxFit
        ``(W, b, history)``; the history holds the mean loss and the accuracy on all the
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
    >>> import torch
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> fit = train(X, y, epochs=20, lr=1.0, batch_size=4)
    >>> fit.W.shape, fit.b.shape, len(fit.history["train_loss"])
    (torch.Size([1, 2]), torch.Size([2]), 20)
    """
    epochs = check_positive_int("epochs", epochs)
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    X = class_features(X)
    y = class_vector(y, X.shape[0]).long()
    if (X_val is None) != (y_val is None):
        raise ValueError("pass both X_val and y_val, or neither")
    d = X[0].numel()
    if X_val is not None and y_val is not None:
        X_val = class_features(X_val, X.dtype, "X_val")
        y_val = class_vector(y_val, X_val.shape[0]).long()
        if X_val[0].numel() != d:
            raise ValueError(f"X_val has {X_val[0].numel()} features per example but X has {d}")
    k = int(y.max()) + 1 if num_classes is None else check_positive_int("num_classes", num_classes)
    generator = torch.Generator()
    generator.manual_seed(secrets.randbits(63) if seed is None else int(seed))
    W, b = init_softmax_params(d, k, sigma, generator=generator, dtype=X.dtype, device=X.device)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
    if X_val is not None:
        history.update(val_loss=[], val_acc=[])
    bar = tqdm(total=epochs, desc="softmax, scratch", unit="epoch", disable=not progress)
    diverged, start = False, evaluate(W, b, X, y)[0]
    for epoch in range(epochs):
        for X_batch, y_batch in iter_batches(X, y, batch_size, generator=generator):
            l = softmax_cross_entropy(softmax_logits(X_batch, W, b), y_batch)
            l.mean().backward()
            sgd_step([W, b], lr)
        train_loss, train_acc = evaluate(W, b, X, y)
        history["train_loss"].append(train_loss)
        history["train_acc"].append(train_acc)
        diverged = warn_if_diverged(train_loss, lr, epoch + 1, diverged, start=start)
        bar.update()
        bar.set_postfix(loss=f"{train_loss:.4g}", acc=f"{train_acc:.3f}")
        if X_val is not None and y_val is not None:
            val_loss, val_acc = evaluate(W, b, X_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(val_acc)
    bar.close()
    return SoftmaxFit(W.detach(), b.detach(), history)
