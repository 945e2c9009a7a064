"""The checks around the learner's functions, kept out of the lines a learner reads.

:func:`guarded_by` wraps a function so that a check runs on its arguments first; the
function's own body stays as short as the textbook's. :func:`warn_if_diverged` is the one
place the trainers turn a non-finite loss into a :class:`NonFiniteLossWarning`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from torchlinear._validation import (
    as_feature_matrix,
    as_target,
    check_positive_float,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "NonFiniteLossWarning",
    "check_training_args",
    "epoch_bar",
    "guarded_by",
    "warn_if_diverged",
]

F = TypeVar("F", bound=Callable[..., Any])


class NonFiniteLossWarning(RuntimeWarning):
    """The training loss became ``inf`` or ``nan``: the steps overshoot and the weights diverge.

    Almost always the learning rate is too large (or the loss is summed where it should be
    averaged, which multiplies the step by the batch size).
    """


def guarded_by(check: Callable[..., None]) -> Callable[[F], F]:
    """Run ``check(*args, **kwargs)`` before the decorated function.

    Examples
    --------
    >>> def positive(x):
    ...     if x <= 0:
    ...         raise ValueError(f"x must be > 0, got {x}")
    >>> @guarded_by(positive)
    ... def root(x):
    ...     return x**0.5
    >>> root(4.0)
    2.0
    >>> root(-1.0)
    Traceback (most recent call last):
    ...
    ValueError: x must be > 0, got -1.0
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(*args, **kwargs)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def warn_if_diverged(
    loss: float, lr: float, epoch: int, already: bool = False, who: str = "scratch"
) -> bool:
    """Warn once that the loss is not finite, naming the learning rate; return whether it is.

    Parameters
    ----------
    loss : float
        The loss after ``epoch``.
    lr : float
        The learning rate in use.
    epoch : int
        1-based epoch (迭代周期) number.
    already : bool, default False
        Whether this run has already warned (then nothing is said again).
    who : str, default "scratch"
        Which trainer speaks (the message's first word).

    Returns
    -------
    bool
        ``True`` once the loss has been non-finite (pass it back as ``already``).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_diverged(float("inf"), lr=3.0, epoch=1)
    True
    >>> str(caught[0].message).split(";")[0]
    'scratch training loss is inf after epoch 1 with lr=3'
    """
    if already or math.isfinite(loss):
        return already
    warnings.warn(
        f"{who} training loss is {loss} after epoch {epoch} with lr={lr:g}; the steps overshoot "
        f"and the weights diverge: lower the learning rate (try lr={lr / 10:g}) and start "
        "again from fresh weights",
        NonFiniteLossWarning,
        stacklevel=3,
    )
    return True


# --- the checks of scratch.linreg's functions -------------------------------------------


def check_squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> None:
    """One target per prediction (else the reshape would fail or mislead)."""
    if y_hat.numel() != y.numel():
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the predictions have shape {tuple(y_hat.shape)}; "
            "pass one target per prediction"
        )


def check_sgd(params: Any, lr: float, batch_size: int) -> None:
    """Every parameter has a gradient (``params`` must then be a re-iterable collection)."""
    if isinstance(params, list | tuple) and any(p.grad is None for p in params):
        raise ValueError("a parameter has no gradient; call loss.backward() first")


def check_data_iter(
    batch_size: int, X: torch.Tensor, y: torch.Tensor, generator: Any = None
) -> None:
    """A positive batch size, and as many targets as examples."""
    check_positive_int("batch_size", batch_size)
    check_same_length(X, y)


def epoch_bar(desc: str, total: int, enabled: bool) -> Any:
    """A tqdm bar over one epoch's batches (a no-op object when disabled).

    Examples
    --------
    >>> bar = epoch_bar("epoch 1/3", total=4, enabled=False)
    >>> bar.update(4); bar.close()
    """
    return tqdm(total=total, desc=desc, unit="batch", leave=True, disable=not enabled)


def check_training_args(
    X: Any, y: Any, lr: float, batch_size: int, epochs: int, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, float, int, int]:
    """Validate the arguments shared by the training loops; return the cleaned values.

    ``X`` and ``y`` become tensors of ``like``'s dtype and device.

    Examples
    --------
    >>> X, y, lr, b, e = check_training_args([[1.0], [2.0]], [3, 4], 0.1, 2, 1, torch.zeros(1))
    >>> X.shape, y.dtype, lr
    (torch.Size([2, 1]), torch.float32, 0.1)
    >>> try:
    ...     check_training_args([[1.0]], [3], -1, 2, 1, torch.zeros(1))
    ... except ValueError as err:
    ...     print(err)
    lr must be a finite number > 0, got -1.0
    """
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    epochs = check_positive_int("epochs", epochs)
    check_same_length(X, y)
    X, _ = as_feature_matrix(X, dtype=like.dtype, device=like.device)
    y = as_target(y, dtype=like.dtype, device=like.device)
    return X, y, lr, batch_size, epochs
