"""The checks around the learner's functions, kept out of the lines a learner reads.

:func:`guarded_by` wraps a function so that a check runs on its arguments first; the
function's own body stays as short as the textbook's. :func:`warn_if_diverged` is the one
place the trainers turn a diverging loss (``inf``, ``nan``, or a thousand times the loss
they started from) into a :class:`NonFiniteLossWarning`. :func:`check_class_labels` and
:func:`class_vector` keep a column of class labels from broadcasting against the rows of
the predictions, and :func:`check_label_values` keeps a negative, fractional or too large
label from silently picking another class.
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
    "check_class_labels",
    "check_label_values",
    "check_probabilities",
    "check_training_args",
    "class_features",
    "class_vector",
    "epoch_bar",
    "guarded_by",
    "warn_if_diverged",
]

F = TypeVar("F", bound=Callable[..., Any])


class NonFiniteLossWarning(RuntimeWarning):
    """The training loss diverges: it became ``inf`` or ``nan``, or grew a thousandfold.

    The steps overshoot and the weights grow without bound. Almost always the learning rate
    is too large (or the loss is summed where it should be averaged, which multiplies the
    step by the batch size).
    """


# A loss this many times the one training started from is a diverging run: gradient descent
# on the squared loss multiplies the error by the same factor every step, so a learning rate
# past the limit reaches this within an epoch, while a stable one never climbs this far.
GROWTH = 1000.0


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
    loss: float,
    lr: float,
    epoch: int,
    already: bool = False,
    who: str = "scratch",
    start: float | None = None,
) -> bool:
    r"""Warn once that the loss diverges, naming the learning rate; return whether it has.

    The loss diverges when it is ``inf`` or ``nan``, or, given the loss ``start`` before
    training, when it is more than a thousand times that: the weights then grow
    geometrically and reach ``inf`` a few epochs later.

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
    start : float, optional
        The loss of the starting weights, before the first step.

    Returns
    -------
    bool
        ``True`` once the loss has diverged (pass it back as ``already``).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_diverged(float("inf"), lr=3.0, epoch=1)
    True
    >>> str(caught[0].message).split(";")[0]
    'scratch training loss is inf after epoch 1 with lr=3'
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_if_diverged(2.5e5, lr=1.9, epoch=1, start=16.4)
    True
    >>> print(str(caught[0].message).split(";")[0].replace(", ", ",\n"))
    scratch training loss is 2.5e+05 after epoch 1 with lr=1.9,
    over 1000 times the 16.4 it started from
    """
    if already:
        return True
    grew = start is not None and 0 < start < loss / GROWTH
    if math.isfinite(loss) and not grew:
        return False
    shown = f"{loss:.3g}" if math.isfinite(loss) else str(loss)
    since = f", over {GROWTH:g} times the {start:.3g} it started from" if grew else ""
    warnings.warn(
        f"{who} training loss is {shown} after epoch {epoch} with lr={lr:g}{since}; the steps "
        f"overshoot and the weights diverge: lower the learning rate (try lr={lr / 10:g}) and "
        "start again from fresh weights",
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


def check_class_labels(y_hat: torch.Tensor, y: torch.Tensor, *args: Any, **kwargs: Any) -> None:
    r"""One class index per row of the predictions, as a vector of shape ``(n,)``.

    A column of labels, shape ``(n, 1)``, would broadcast against the ``n`` rows: fancy
    indexing picks an ``(n, n)`` matrix of probabilities and ``argmax == y`` compares every
    prediction with every label, so the loss or the accuracy is wrong without an error.

    Examples
    --------
    >>> check_class_labels(torch.zeros(3, 2), torch.tensor([0, 1, 1]))
    >>> try:
    ...     check_class_labels(torch.zeros(3, 2), torch.tensor([[0], [1], [1]]))
    ... except ValueError as error:
    ...     print(str(error).replace("; ", ";\n").replace(": ", ":\n"))
    y has shape (3, 1) but the predictions have 3 rows;
    pass the class indices as a vector of shape (3,), e.g. y.reshape(-1):
    a column would broadcast against the rows into a (3, 3) matrix
    """
    n = y_hat.shape[0] if y_hat.ndim else 1
    k = y_hat.shape[1] if y_hat.ndim == 2 and y_hat.shape[1] > 1 else None
    if y.ndim == 1 and y.shape[0] == n:
        check_label_values(y, k)
        return
    if k is not None and y.shape == y_hat.shape:
        raise ValueError(
            f"y has shape {tuple(y.shape)}, one column per class (one-hot?), but the functions "
            f"take one class index per row: pass y.argmax(dim=1), a vector of shape ({n},)"
        )
    if y.numel() == n:
        raise ValueError(
            f"y has shape {tuple(y.shape)} but the predictions have {n} rows; pass the class "
            f"indices as a vector of shape ({n},), e.g. y.reshape(-1): a column would broadcast "
            f"against the rows into a ({n}, {n}) matrix"
        )
    raise ValueError(
        f"y has shape {tuple(y.shape)} but the predictions have {n} rows; pass one class index "
        f"per row, a vector of shape ({n},)"
    )


def check_probabilities(y_hat: torch.Tensor, y: torch.Tensor) -> None:
    r"""Labels as :func:`check_class_labels` wants them, and probabilities in ``[0, 1]``.

    Logits given where probabilities belong make ``-log`` of a negative number (``nan``)
    or of a number above 1 (a negative loss), without an error.

    Examples
    --------
    >>> try:
    ...     check_probabilities(torch.tensor([[2.0, -1.0]]), torch.tensor([1]))
    ... except ValueError as error:
    ...     print(str(error).split(":")[0])
    y_hat holds 2 (row 0), not a probability
    """
    check_class_labels(y_hat, y)
    bad = (y_hat < 0) | (y_hat > 1)
    if bool(bad.any()):
        row = int(bad.nonzero()[0, 0])
        value = y_hat[bad][0].item()
        raise ValueError(
            f"y_hat holds {value:g} (row {row}), not a probability: cross_entropy takes "
            "softmax(O); pass softmax(O), or give the logits O to softmax_cross_entropy(O, y)"
        )


def check_label_values(y: torch.Tensor, k: int | None = None) -> None:
    r"""Class labels are whole numbers from 0 (and below ``k``, the number of classes).

    A negative label would index the classes from the end and a fraction would be cut to
    its integer part: the loss would be that of another class, without an error.

    Examples
    --------
    >>> check_label_values(torch.tensor([0.0, 2.0]), k=3)
    >>> for y in (torch.tensor([0, -1]), torch.tensor([0.5, 1.0]), torch.tensor([0, 3])):
    ...     try:
    ...         check_label_values(y, k=3)
    ...     except ValueError as error:
    ...         print(str(error).split(";")[0])
    y holds the label -1 (at index 1), but class labels are 0, 1, ..., k-1
    y holds the label 0.5 (at index 0), but class labels are 0, 1, ..., k-1
    y holds the label 3 (at index 1), but the predictions have 3 columns, for labels 0..2
    """
    if y.numel() == 0 or y.dtype == torch.bool:
        return
    bad = y < 0
    if y.is_floating_point():
        bad |= ~torch.isfinite(y) | (y != torch.floor(y))
    if bool(bad.any()):
        at = int(bad.reshape(-1).nonzero()[0, 0])
        value = y.reshape(-1)[at].item()
        raise ValueError(
            f"y holds the label {value:g} (at index {at}), but class labels are 0, 1, ..., "
            "k-1; pass the class indices as whole numbers (e.g. map the classes with "
            "torch.unique(y, return_inverse=True)[1])"
        )
    if k is not None and bool((y >= k).any()):
        at = int((y >= k).reshape(-1).nonzero()[0, 0])
        raise ValueError(
            f"y holds the label {y.reshape(-1)[at].item():g} (at index {at}), but the "
            f"predictions have {k} columns, for labels 0..{k - 1}; give the model one output "
            "per class (num_classes, num_outputs)"
        )


def class_vector(y: torch.Tensor, n: int) -> torch.Tensor:
    """The class labels of ``n`` examples as a vector: ``(n,)`` as it is, ``(n, 1)`` flattened.

    The trainers' boundary: a column of labels (as a data frame's column often comes) is
    accepted there, and everything inside sees the vector the per-example functions need.

    Examples
    --------
    >>> class_vector(torch.tensor([[2], [0]]), 2)
    tensor([2, 0])
    >>> class_vector(torch.tensor([0, 1, 2]), 2)
    Traceback (most recent call last):
    ...
    ValueError: y has 3 rows but X has 2
    """
    if y.shape[0] != n:
        raise ValueError(f"y has {y.shape[0]} rows but X has {n}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 1:
        check_label_values(y)
        return y
    if y.ndim == 2 and bool(((y == 0) | (y == 1)).all() and (y.sum(dim=1) == 1).all()):
        raise ValueError(
            f"y has shape {tuple(y.shape)}, one-hot: one column per class; pass one class "
            f"index per example, a vector of shape ({n},): y.argmax(dim=1)"
        )
    raise ValueError(
        f"y has shape {tuple(y.shape)}; pass one class index per example, a vector of shape ({n},)"
    )


def class_features(
    X: torch.Tensor, dtype: torch.dtype | None = None, name: str = "X"
) -> torch.Tensor:
    """The features of the classifiers' trainers: rows required, integers made floats.

    Integer features (raw ``uint8`` pixels, counts) become ``dtype`` (by default torch's
    default float type), the type of the weights they meet; floats keep their type unless
    ``dtype`` is given.

    Examples
    --------
    >>> class_features(torch.tensor([[0, 255]], dtype=torch.uint8))
    tensor([[  0., 255.]])
    >>> class_features(torch.zeros(0, 3))
    Traceback (most recent call last):
    ...
    ValueError: X has no rows (shape (0, 3)); pass at least one example
    """
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(X.shape)}); pass at least one example")
    if dtype is None and not X.is_floating_point():
        dtype = torch.get_default_dtype()
    return X if dtype is None else X.to(dtype)


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
