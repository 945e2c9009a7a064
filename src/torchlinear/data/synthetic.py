"""Synthetic data for the textbook problems."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import NamedTuple

import torch

from torchlinear._memory import check_memory
from torchlinear._validation import check_nonnegative_float, check_positive_int, check_real

__all__ = ["SyntheticRegression", "synthetic_regression"]


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
    w_true = (
        torch.as_tensor(w, dtype=torch.float32).reshape(-1)
        if not isinstance(w, torch.Tensor)
        else w.detach().to(torch.float32).reshape(-1).cpu()
    )
    if w_true.numel() == 0:
        raise ValueError("w must hold at least one weight, got an empty sequence")
    if not torch.isfinite(w_true).all():
        raise ValueError(f"w must be finite, got {w_true.tolist()}")
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
