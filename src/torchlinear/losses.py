r"""Losses and penalties, with their exact scaling.

Losses (``r_i = \hat y_i - y_i``; ``s_i`` are sample weights, all ones by default):

========================  =====================================================================
``"squared"``             :math:`\frac1n \sum_i s_i \, \tfrac12 r_i^2`
``"l1"`` (``"absolute"``)  :math:`\frac1n \sum_i s_i \, |r_i|`
``"huber"``               :math:`\frac1n \sum_i s_i \, H_\delta(r_i)`, with
                          :math:`H_\delta(r) = \tfrac12 r^2` if :math:`|r| \le \delta`, else
                          :math:`\delta (|r| - \tfrac12 \delta)`
``"ce"``                  :math:`\frac1n \sum_i s_i \, (-\log \operatorname{softmax}(z_i)_{y_i})`
========================  =====================================================================

Weights enter as given: the loss is ``mean(s * loss_i)``, so weights normalised to mean one
give the weighted average. Every loss is a mean over the batch, so minibatch gradients are
unbiased estimates of the full-data gradient.

Penalty (on the weights only; an intercept is never penalised):

.. math::

    P(w) = \alpha \Big( \rho \, \|w\|_1 + \tfrac12 (1 - \rho) \, \|w\|_2^2 \Big),
    \qquad \alpha = \texttt{alpha}, \ \rho = \texttt{l1\_ratio}

With the squared loss the objective ``loss + P`` is *exactly* scikit-learn's: ``Lasso``
(``l1_ratio=1``) minimises :math:`\frac1{2n}\|y - Xw\|^2 + \alpha\|w\|_1` and ``ElasticNet``
adds :math:`\frac12\alpha(1-\rho)\|w\|^2`, so the same ``alpha`` gives the same solution.
``Ridge(alpha=a)`` minimises :math:`\|y - Xw\|^2 + a\|w\|^2`, i.e. ``alpha = a / n`` here.

The smooth part (the L2 term) is added to the loss before the gradient step; the L1 part is
applied *after* each optimizer step as the proximal map of :math:`\eta \alpha \rho \|w\|_1`,
the soft threshold

.. math::

    w \leftarrow \operatorname{sign}(w) \, \max(|w| - \eta \alpha \rho, 0),

so coefficients become exactly zero (a plain subgradient step would only make them small).
``eta`` is the step's learning rate; for Adam it is the per-coordinate effective step
``lr / (sqrt(v_hat) + eps)`` (the proximal map in Adam's diagonal metric).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from torchlinear._validation import check_nonnegative_float, check_positive_float

__all__ = [
    "LOSSES",
    "Loss",
    "Penalty",
    "absolute_loss",
    "cross_entropy_loss",
    "UserLoss",
    "get_loss",
    "resolve_loss",
    "huber_loss",
    "match_shapes",
    "soft_threshold",
    "squared_loss",
]


def match_shapes(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return ``pred`` with the shape of a regression ``target``, or raise ``ValueError``.

    This is the shape guard: a ``(n, 1)`` prediction against a ``(n,)`` target is reshaped
    explicitly to ``(n,)`` instead of broadcasting to an ``(n, n)`` matrix. Any other
    mismatch raises.

    Examples
    --------
    >>> match_shapes(torch.zeros(3, 1), torch.zeros(3)).shape
    torch.Size([3])
    >>> match_shapes(torch.zeros(3, 2), torch.zeros(3))
    Traceback (most recent call last):
    ...
    ValueError: prediction has shape (3, 2) but the target has shape (3,); they must match
    """
    if pred.shape == target.shape:
        return pred
    if pred.ndim == 2 and pred.shape[1] == 1 and target.ndim == 1 and len(pred) == len(target):
        return pred.reshape(-1)
    raise ValueError(
        f"prediction has shape {tuple(pred.shape)} but the target has shape "
        f"{tuple(target.shape)}; they must match"
    )


def _reduce(per_sample: torch.Tensor, sample_weight: torch.Tensor | None) -> torch.Tensor:
    if sample_weight is None:
        return per_sample.mean()
    if per_sample.ndim > 1:  # multi-output regression: weight each row
        per_sample = per_sample.mean(dim=tuple(range(1, per_sample.ndim)))
    return (per_sample * sample_weight.to(per_sample.dtype)).mean()


def squared_loss(
    pred: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Half the mean squared error, :math:`\frac1n\sum_i s_i \frac12 (\hat y_i - y_i)^2`.

    Examples
    --------
    >>> float(squared_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])))
    2.5
    """
    pred = match_shapes(pred, target)
    if sample_weight is None:  # one fused kernel (and one autograd node) on the hot path
        return 0.5 * F.mse_loss(pred, target)
    r = pred - target
    return _reduce(0.5 * r * r, sample_weight)


def absolute_loss(
    pred: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Mean absolute error, :math:`\frac1n\sum_i s_i |\hat y_i - y_i|`.

    Examples
    --------
    >>> float(absolute_loss(torch.tensor([1.0, -3.0]), torch.tensor([0.0, 0.0])))
    2.0
    """
    pred = match_shapes(pred, target)
    if sample_weight is None:
        return F.l1_loss(pred, target)
    return _reduce((pred - target).abs(), sample_weight)


def huber_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    delta: float = 1.0,
) -> torch.Tensor:
    r"""Mean Huber loss: quadratic for residuals up to ``delta``, linear beyond.

    :math:`H_\delta(r) = \frac12 r^2` for :math:`|r|\le\delta`, else
    :math:`\delta(|r| - \frac12\delta)` — the same as ``torch.nn.functional.huber_loss``.
    ``delta`` is in the units of the target.

    Examples
    --------
    >>> float(huber_loss(torch.tensor([0.5, 3.0]), torch.tensor([0.0, 0.0]), delta=1.0))
    1.3125
    """
    pred = match_shapes(pred, target)
    if sample_weight is None:
        return F.huber_loss(pred, target, delta=delta)
    per_sample = F.huber_loss(pred, target, reduction="none", delta=delta)
    return _reduce(per_sample, sample_weight)


def cross_entropy_loss(
    logits: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Mean cross-entropy of class indices under ``softmax(logits)``.

    ``logits`` has shape ``(n, k)`` and ``target`` holds class indices ``0..k-1``, shape
    ``(n,)`` (int64).

    Examples
    --------
    >>> logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    >>> round(float(cross_entropy_loss(logits, torch.tensor([0, 1]))), 4)  # log 2
    0.6931
    """
    if logits.ndim != 2 or target.ndim != 1 or len(logits) != len(target):
        raise ValueError(
            f"cross-entropy needs logits of shape (n, k) and class indices of shape (n,), "
            f"got {tuple(logits.shape)} and {tuple(target.shape)}"
        )
    if sample_weight is None:
        return F.cross_entropy(logits, target)
    return _reduce(F.cross_entropy(logits, target, reduction="none"), sample_weight)


@dataclass(frozen=True)
class Loss:
    """A named loss: ``loss(pred, target, sample_weight=None)`` returns a scalar tensor.

    Attributes
    ----------
    name : str
        ``"squared"``, ``"l1"``, ``"huber"`` or ``"ce"``.
    task : str
        ``"regression"`` or ``"classification"``.
    delta : float
        Huber's threshold (unused by the other losses).
    unit : float
        The unit the targets and predictions it receives are measured in (1: the data's
        own); see :meth:`in_units`.

    Examples
    --------
    >>> loss = get_loss("huber", delta=2.0)
    >>> float(loss(torch.tensor([3.0]), torch.tensor([0.0])))
    4.0
    """

    name: str
    task: str
    delta: float = 1.0
    unit: float = field(default=1.0, repr=False)

    @property
    def value_unit(self) -> float:
        """What one unit of this loss's value is worth in the data's own units: ``unit``
        squared for the squared and Huber losses, ``unit`` for the absolute loss, 1 for
        cross-entropy."""
        power = {"squared": 2, "huber": 2, "l1": 1}.get(self.name, 0)
        try:
            return self.unit**power
        except OverflowError:  # losses beyond float64 in the data's units
            return math.inf

    def in_units(self, unit: float) -> Loss:
        r"""The same loss for targets and predictions divided by ``unit``.

        Its value times :attr:`value_unit` is this loss's value on the undivided data
        (Huber's threshold is divided too: :math:`H_\delta(s r) = s^2 H_{\delta/s}(r)`).
        Training in the units of the target makes gradient steps and tolerances mean the
        same whether ``y`` is in metres or in nanometres.

        Examples
        --------
        >>> loss = get_loss("huber", delta=2.0)
        >>> pred, target = torch.tensor([3.0]), torch.tensor([0.0])
        >>> scaled = loss.in_units(4.0)
        >>> float(scaled(pred / 4, target / 4) * scaled.value_unit), float(loss(pred, target))
        (4.0, 4.0)
        """
        if self.task == "classification":
            return self
        return Loss(self.name, self.task, self.delta / unit, self.unit * unit)

    def __call__(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.name == "huber":
            return huber_loss(pred, target, sample_weight, delta=self.delta)
        return _FUNCTIONS[self.name](pred, target, sample_weight)

    @torch.no_grad()
    def value_and_grad(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        sample_weight: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Return the loss and its gradient with respect to ``pred``, without autograd.

        With :math:`L = \frac1m \sum s_i \ell(\hat y_i, y_i)` (``m`` the number of
        entries averaged) the gradient is :math:`s_i \psi_i / m`, where :math:`\psi` is
        :math:`r` (squared), :math:`\operatorname{sign}(r)` (L1),
        :math:`\operatorname{clip}(r, -\delta, \delta)` (Huber) or
        :math:`\operatorname{softmax}(z) - e_y` (cross-entropy). For a linear model the
        weight gradient then follows as :math:`\psi^\top X` — one matrix product.

        Examples
        --------
        >>> pred = torch.tensor([1.0, 4.0], requires_grad=True)
        >>> value, grad = get_loss("huber").value_and_grad(pred, torch.tensor([0.0, 0.0]))
        >>> float(value), grad
        (2.0, tensor([0.5000, 0.5000]))
        >>> get_loss("huber")(pred, torch.tensor([0.0, 0.0])).backward()
        >>> pred.grad  # autograd agrees
        tensor([0.5000, 0.5000])
        """
        pred = pred.detach()
        if self.name == "ce":
            log_p = torch.log_softmax(pred, dim=-1)
            rows = torch.arange(len(target), device=pred.device)
            per_sample = -log_p[rows, target]
            grad = log_p.exp()
            grad[rows, target] -= 1.0
            count = per_sample.numel()
        else:
            pred = match_shapes(pred, target)
            r = pred - target
            if self.name == "squared" and sample_weight is None and r.ndim == 1:
                inv = 1.0 / len(r)  # the hot path: one dot product, no per-sample array
                return r.dot(r) * (0.5 * inv), r * inv
            if self.name == "squared":
                per_sample, grad = 0.5 * r * r, r
            elif self.name == "l1":
                per_sample, grad = r.abs(), torch.sign(r)
            else:
                per_sample = F.huber_loss(pred, target, reduction="none", delta=self.delta)
                grad = r.clamp(-self.delta, self.delta)
            count = per_sample.numel()
        if sample_weight is None:
            return per_sample.mean(), grad / count
        w = sample_weight.to(per_sample.dtype)
        if per_sample.ndim > 1:
            value = (per_sample.mean(dim=1) * w).mean()
            return value, grad * (w / count).unsqueeze(1)
        wg = w / len(w) if self.name != "ce" else (w / len(w)).unsqueeze(1)
        return (per_sample * w).mean(), grad * wg


_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "squared": squared_loss,
    "l1": absolute_loss,
    "ce": cross_entropy_loss,
}

LOSSES: dict[str, str] = {
    "squared": "squared",
    "l2": "squared",
    "mse": "squared",
    "l1": "l1",
    "absolute": "l1",
    "mae": "l1",
    "huber": "huber",
    "ce": "ce",
    "cross_entropy": "ce",
    "cross-entropy": "ce",
}
"""Accepted loss names and the canonical name each one means."""


def get_loss(name: str | Loss, *, delta: float = 1.0) -> Loss:
    """Return the :class:`Loss` called ``name`` (see :data:`LOSSES` for the spellings).

    Examples
    --------
    >>> get_loss("absolute")
    Loss(name='l1', task='regression', delta=1.0)
    """
    if isinstance(name, Loss):
        return name
    canonical = LOSSES.get(str(name).lower()) if isinstance(name, str) else None
    if canonical is None:
        raise ValueError(f"loss must be one of 'squared', 'l1', 'huber' or 'ce', got {name!r}")
    delta = check_positive_float("delta", delta)
    task = "classification" if canonical == "ce" else "regression"
    return Loss(canonical, task, delta)


class UserLoss:
    """A loss given as a function, ``fn(pred, target, sample_weight)`` or ``fn(pred, target)``.

    The shape guard of the built-in losses applies to it too: a ``(n, 1)`` prediction
    reaches it as ``(n,)`` when the target is ``(n,)``, so that ``pred - target`` cannot
    broadcast into an ``(n, n)`` matrix. A function of two arguments (``nn.MSELoss()``,
    for one) is called without the weights, and refused when there are weights.

    Examples
    --------
    >>> loss = UserLoss(torch.nn.MSELoss())
    >>> float(loss(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 0.0])))
    5.0
    """

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        if not callable(fn):
            raise ValueError(
                "loss must be a name ('squared', 'l1', 'huber', 'ce'), a Loss or a function "
                f"fn(pred, target, sample_weight), got {type(fn).__name__}"
            )
        self.fn = fn
        self.takes_weight = _positional_arguments(fn) >= 3

    def __call__(
        self, pred: torch.Tensor, target: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if pred.ndim == 2 and pred.shape[1] == 1 and target.ndim == 1:
            pred = match_shapes(pred, target)
        if self.takes_weight:
            return self.fn(pred, target, sample_weight)
        if sample_weight is not None:
            name = getattr(self.fn, "__name__", type(self.fn).__name__)
            raise ValueError(
                f"the loss {name} takes (pred, target) but the data carry sample weights; "
                "write it as fn(pred, target, sample_weight), or leave out the weights"
            )
        return self.fn(pred, target)


def _positional_arguments(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` takes (3 when it cannot be told, or takes any)."""
    if isinstance(fn, torch.nn.Module):  # its __call__ takes *args: read forward
        fn = fn.forward
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 3
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 3
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(kind in positional for kind in kinds)


def resolve_loss(loss: str | Loss | Callable[..., torch.Tensor]) -> Loss | UserLoss:
    """The loss a training or evaluation run calls: a name or a :class:`Loss` through
    :func:`get_loss`, a function wrapped in :class:`UserLoss`.

    Examples
    --------
    >>> resolve_loss("l2")
    Loss(name='squared', task='regression', delta=1.0)
    """
    if isinstance(loss, str | Loss):
        return get_loss(loss)
    if isinstance(loss, UserLoss):
        return loss
    return UserLoss(loss)


def soft_threshold(w: torch.Tensor, threshold: torch.Tensor | float) -> torch.Tensor:
    """Return ``sign(w) * max(|w| - threshold, 0)``, the proximal map of the L1 norm.

    Examples
    --------
    >>> soft_threshold(torch.tensor([-2.0, 0.5, 3.0]), 1.0)
    tensor([-1.,  0.,  2.])
    """
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0)


@dataclass(frozen=True)
class Penalty:
    r"""The elastic-net penalty :math:`\alpha(\rho\|w\|_1 + \frac12(1-\rho)\|w\|_2^2)`.

    ``l1_ratio=0`` is the ridge (L2) penalty, ``l1_ratio=1`` the lasso (L1) penalty.
    :meth:`smooth` is the L2 part, added to the loss before backpropagation;
    :meth:`prox_` applies the L1 part after each optimizer step.

    Parameters
    ----------
    alpha : float, default 0
        Overall strength, >= 0.
    l1_ratio : float, default 0
        The L1 share ``rho`` in [0, 1].

    Examples
    --------
    >>> p = Penalty(alpha=0.5, l1_ratio=1.0)
    >>> w = torch.tensor([2.0, -0.2])
    >>> round(float(p.value([w])), 6)
    1.1
    >>> with torch.no_grad():
    ...     p.prox_([w], lr=1.0)
    >>> w
    tensor([1.5000, -0.0000])
    """

    alpha: float = 0.0
    l1_ratio: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", check_nonnegative_float("alpha", self.alpha))
        ratio = check_nonnegative_float("l1_ratio", self.l1_ratio)
        if ratio > 1:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {ratio!r}")
        object.__setattr__(self, "l1_ratio", ratio)

    @property
    def l1(self) -> float:
        """The L1 strength ``alpha * l1_ratio``."""
        return self.alpha * self.l1_ratio

    @property
    def l2(self) -> float:
        """The L2 strength ``alpha * (1 - l1_ratio)`` (the penalty is half of it times ||w||²)."""
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def active(self) -> bool:
        """Whether the penalty is non-zero."""
        return self.alpha > 0

    def smooth(self, params: Iterable[torch.Tensor]) -> torch.Tensor | None:
        """Return the L2 part ``0.5 * l2 * sum ||w||²`` (differentiable), or ``None`` if zero."""
        if self.l2 == 0:
            return None
        return 0.5 * self.l2 * sum(p.pow(2).sum() for p in params)

    def value(self, params: Iterable[torch.Tensor]) -> torch.Tensor:
        """Return the whole penalty ``P(w)`` as a scalar tensor."""
        params = list(params)
        total = torch.zeros((), dtype=params[0].dtype, device=params[0].device)
        for p in params:
            p = p.detach()
            if self.l1:
                total = total + self.l1 * p.abs().sum()
            if self.l2:
                total = total + 0.5 * self.l2 * p.pow(2).sum()
        return total

    @torch.no_grad()
    def prox_(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        """Apply the L1 proximal step in place: soft-threshold each weight by ``lr * l1``.

        The threshold is scaled as the optimizer scales the gradient in its step, so that
        the iteration's fixed points are the minimisers of loss + penalty: with
        :class:`torch.optim.Adam`, by the preconditioner ``1 / (sqrt(v_hat) + eps)`` of
        each coordinate; with :class:`torch.optim.SGD` and momentum :math:`\\mu`, by the
        step's steady-state gain :math:`(1 - d) / (1 - \\mu)` (dampening :math:`d`; with
        Nesterov's momentum :math:`1 + \\mu (1 - d) / (1 - \\mu)`) — without it the L1
        penalty would act ten times too weakly at momentum 0.9.
        """
        if self.l1 == 0:
            return
        for p in params:
            threshold: torch.Tensor | float = lr * self.l1
            if isinstance(optimizer, torch.optim.Adam):
                threshold = _adam_threshold(optimizer, p, lr * self.l1)
            elif isinstance(optimizer, torch.optim.SGD):
                threshold = lr * self.l1 * _sgd_gain(optimizer, p)
            p.copy_(soft_threshold(p, threshold))


def _sgd_gain(optimizer: torch.optim.SGD, p: torch.Tensor) -> float:
    """How many gradients a step of SGD with momentum moves ``p`` by, once its momentum
    buffer is steady (``buf = (1 - d) g / (1 - mu)``)."""
    group = next(g for g in optimizer.param_groups if any(q is p for q in g["params"]))
    mu, d = float(group.get("momentum", 0.0)), float(group.get("dampening", 0.0))
    if mu == 0:
        return 1.0
    steady = (1 - d) / (1 - mu)
    return 1 + mu * steady if group.get("nesterov", False) else steady


def _adam_threshold(optimizer: torch.optim.Adam, p: torch.Tensor, base: float):
    state = optimizer.state.get(p)
    if not state or "exp_avg_sq" not in state:
        return base
    group = next(g for g in optimizer.param_groups if any(q is p for q in g["params"]))
    _, beta2 = group["betas"]
    step = float(state["step"])
    v_hat = state["exp_avg_sq"] / (1 - beta2**step)
    return base / (v_hat.sqrt() + group["eps"])
