"""Synthetic data for the textbook problems."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import NamedTuple

import torch

from torchlinear._memory import check_memory
from torchlinear._validation import (
    ParameterError,
    check_nonnegative_float,
    check_positive_int,
    check_real,
)

__all__ = ["SyntheticRegression", "check_label_scale", "synthetic_regression"]

_FLOAT32_MAX = float(torch.finfo(torch.float32).max)


class SyntheticRegression(NamedTuple):
    """Features, targets and the parameters that generated them."""

    X: torch.Tensor
    """Features, shape ``(n, d)``, float32, drawn from N(0, 1)."""
    y: torch.Tensor
    """Targets, shape ``(n,)``, float32."""
    w: torch.Tensor
    """True weights, shape ``(d,)``."""
    b: float
    """True bias."""


def check_label_scale(w: Sequence[float], b: float, noise: float, limit: float, why: str) -> None:
    r"""Refuse ``w``, ``b`` and ``noise`` whose labels :math:`y = Xw + b + \sigma\varepsilon`
    could pass ``limit`` in size (``why`` says what would then overflow), naming the
    largest of the three parts and the range that works.

    ``X`` and :math:`\varepsilon` are standard normal, beyond 6 in size with probability
    about 2e-9 each: the labels stay below :math:`|b| + 6(\sum_j |w_j| + \sigma)`.

    Examples
    --------
    >>> check_label_scale([2.0, -3.4], 4.2, 0.01, 1e18, "beyond float32")
    >>> check_label_scale([2.0], 4.2, 1e300, 1e18, "beyond float32")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: noise is 1e+300: the labels would reach about ...
    >>> check_label_scale([1e308, 1e308], 0.0, 0.0, 1e18, "beyond float32")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: w is 1e+308, 1e+308: the labels would reach about inf...
    """
    # plain sums: past float64 they are inf (math.fsum raises), and refused below
    parts = {"b": abs(b), "w": 6 * sum(abs(float(v)) for v in w), "noise": 6 * noise}
    total = sum(parts.values())
    if total <= limit:
        return
    param = max(parts, key=lambda p: parts[p])
    value = {"b": b, "w": list(w), "noise": noise}[param]
    shown = f"{value:g}" if param != "w" else ", ".join(f"{v:g}" for v in w)
    raise ParameterError(
        param,
        "{param} is {shown}: the labels would reach about {scale:.0e}, {why}; choose {w}, "
        "{b} and {noise} with |b| + 6 (sum of |w| + noise) below {limit:.0e}",
        value=value,
        shown=shown,
        scale=total,
        why=why,
        limit=limit,
    )


def synthetic_regression(
    w: Sequence[float] | torch.Tensor,
    b: float,
    n: int,
    noise: float = 0.01,
    seed: int | None = None,
) -> SyntheticRegression:
    r"""Draw the textbook linear-regression data set.

    .. math::

        X_{ij} \sim \mathcal N(0, 1), \qquad
        y = X w + b + \varepsilon, \qquad \varepsilon_i \sim \mathcal N(0, \sigma^2)

    Parameters
    ----------
    w : sequence of float or 1-D tensor
        True weights; its length is the number of features ``d``.
    b : float
        True bias.
    n : int
        Number of examples, >= 1.
    noise : float, default 0.01
        Standard deviation ``sigma`` of the Gaussian noise, >= 0.
    seed : int, optional
        Seed of a private generator; the global RNG is never touched.

    Returns
    -------
    SyntheticRegression
        ``(X, y, w, b)`` with ``X`` of shape ``(n, d)`` and ``y`` of shape ``(n,)``, float32.

    Examples
    --------
    >>> X, y, w, b = synthetic_regression([2.0, -3.4], 4.2, n=1000, seed=0)
    >>> X.shape, y.shape
    (torch.Size([1000, 2]), torch.Size([1000]))
    """
    n = check_positive_int("n", n)
    noise = check_nonnegative_float("noise", noise)
    b = check_real("b", b, "a finite number")
    values = (
        w.detach().reshape(-1).cpu().tolist()
        if isinstance(w, torch.Tensor)
        else torch.as_tensor(w, dtype=torch.float64).reshape(-1).tolist()
    )
    if not values:
        raise ValueError("w must hold at least one weight, got an empty sequence")
    values = [check_real("w", v, "a sequence of finite numbers") for v in values]
    check_label_scale(values, b, noise, _FLOAT32_MAX / 10, "beyond float32 (the data's type)")
    w_true = torch.tensor(values, dtype=torch.float32)
    d = w_true.numel()
    check_memory(  # X, y and the noise, float32
        4 * n * (d + 2),
        f"{n:,} examples x {d:,} features",
        "the synthetic data",
        advice="ask for fewer examples ({n})",
    )
    generator = torch.Generator()
    generator.manual_seed(secrets.randbits(63) if seed is None else int(seed))
    X = torch.randn(n, d, generator=generator)
    y = X @ w_true + b + noise * torch.randn(n, generator=generator)
    return SyntheticRegression(X, y, w_true, b)
