r"""The meat of heteroscedasticity-consistent ("sandwich") covariances: one pass over the rows.

For least squares with design rows :math:`a_i` (``[1, x_i]`` with an intercept), weights
:math:`w_i` and residuals :math:`e_i`, the robust covariance of the coefficients is

.. math::

    \widehat{\mathrm{Cov}}(\hat\beta) = B\,M\,B,\qquad B = (A^\top W A)^{+},\qquad
    M = \sum_i \omega_i\, a_i a_i^\top ,

with :math:`B` (the *bread*) read from the stored factorisation of the fit and :math:`M`
(the *meat*) accumulated here in one pass, for every HC type at once:

=======  =====================================================
HC0      :math:`\omega_i = \tilde e_i^2`
HC1      HC0 times :math:`n / (n - p)` (applied by the summary)
HC2      :math:`\omega_i = \tilde e_i^2 / (1 - h_i)`
HC3      :math:`\omega_i = \tilde e_i^2 / (1 - h_i)^2`
=======  =====================================================

The leverage :math:`h_i = a_i^\top B a_i` and the residual term depend on what the
weights mean. *Analytic* (inverse-variance) weights whiten each row by :math:`\sqrt{w_i}`:
:math:`\tilde e_i^2 = w_i^2 e_i^2` and :math:`h_i = w_i\, a_i^\top B a_i`. *Frequency*
weights count each row :math:`w_i` times: :math:`\tilde e_i^2 = w_i e_i^2` and
:math:`h_i = a_i^\top B a_i` (so integer weights give the meat of the repeated rows).
Without weights both are the same.

The meat is accumulated in the centred parameterisation :math:`a_i = [1, x_i - \bar x]`
(the fit's weighted means), where the bread is block-diagonal,
:math:`\mathrm{diag}(1/\sum w, (X_c^\top W X_c)^{+})`; :mod:`torchlinear.stats` maps the
sandwich back to the intercept and coefficients of the fit.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from torchlinear._memory import check_memory
from torchlinear.exact.solution import LstsqSolution

__all__ = [
    "MEAT_TYPES",
    "WEIGHT_KINDS",
    "centred_bread",
    "check_meat_memory",
    "leverage_terms",
    "meat_pass",
]

#: The meats stored, in this order (HC1 is HC0 rescaled).
MEAT_TYPES: tuple[str, ...] = ("HC0", "HC2", "HC3")
#: What the weights mean, in the order of the meat's second axis.
WEIGHT_KINDS: tuple[str, ...] = ("analytic", "frequency")


def centred_bread(solution: LstsqSolution) -> torch.Tensor:
    r""":math:`(A_c^\top W A_c)^{+}` in the centred parameterisation (``p x p``, float64).

    Examples
    --------
    >>> from torchlinear.exact import lstsq
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    >>> centred_bread(lstsq(X, 2 * X[:, 0] + torch.tensor([0.1, -0.1, 0.0, 0.1])))
    tensor([[0.2500, 0.0000],
            [0.0000, 0.2000]], dtype=torch.float64)
    """
    C = solution.centred_inverse()
    if not solution.fit_intercept:
        return C
    d = C.shape[0]
    out = torch.zeros(d + 1, d + 1, dtype=torch.float64)
    out[0, 0] = 1.0 / solution.weight_sum
    out[1:, 1:] = C
    return out


def leverage_terms(solution: LstsqSolution, X: torch.Tensor, bread: torch.Tensor) -> torch.Tensor:
    r""":math:`a_i^\top B a_i` of the rows of ``X`` (float64, on ``X``'s device), with
    ``bread`` from :func:`centred_bread`. Multiply by the row's weight for analytic weights."""
    dev = X.device
    Xc = X.to(torch.float64)
    if solution.fit_intercept:
        Xc = Xc - solution.mean_x.to(dev)
        C = bread[1:, 1:].to(dev)
        return ((Xc @ C) * Xc).sum(1) + bread[0, 0].item()
    return ((Xc @ bread.to(dev)) * Xc).sum(1)


def check_meat_memory(d: int, k: int = 1, *, fit_intercept: bool, weighted: bool) -> None:
    """Refuse (one line, before any pass) the meats of :func:`meat_pass` for ``d`` columns
    and ``k`` targets when they exceed the memory budget.

    Examples
    --------
    >>> check_meat_memory(3, fit_intercept=True, weighted=False)  # 1.1 kB: within any budget
    """
    p = d + int(fit_intercept)
    kinds = len(WEIGHT_KINDS) if weighted else 1
    # the running sum and a chunk's part (k x kinds x 3 meats each), the bread and a product
    check_memory(
        8 * p * p * (2 * k * kinds * len(MEAT_TYPES) + 2),
        f"{d:,} columns",
        "the sandwich matrices of the robust (HC) covariances",
        advice="leave out {cov_type} (classical standard errors), or select fewer columns",
    )


def meat_pass(
    solution: LstsqSolution,
    chunks: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
    *,
    weighted: bool,
) -> torch.Tensor:
    """Accumulate the meats of every HC type over ``chunks`` (one pass).

    Parameters
    ----------
    solution : LstsqSolution
        The fit (its coefficients give the residuals, its factor the leverages).
    chunks : iterable of (X, Y, sample_weight)
        The rows the fit was computed from, in chunks (``Y`` of shape ``(m,)`` or
        ``(m, k)``, weights ``(m,)`` or None), on any device.
    weighted : bool
        Whether the fit had sample weights: then the meats of both meanings of the weights
        (:data:`WEIGHT_KINDS`) are accumulated, else one.

    Returns
    -------
    torch.Tensor
        Float64 CPU tensor of shape ``(k, 2 if weighted else 1, 3, p, p)``: per target,
        weight meaning and :data:`MEAT_TYPES`, in the centred parameterisation. Sum it
        over processes to combine shards.

    Examples
    --------
    >>> from torchlinear.exact import lstsq
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    >>> y = torch.tensor([0.0, 1.0, 1.0, 3.0], dtype=torch.float64)
    >>> sol = lstsq(X, y)
    >>> meat_pass(sol, [(X, y, None)], weighted=False).shape
    torch.Size([1, 1, 3, 2, 2])
    """
    coef, intercept = solution.coef, solution.intercept
    d, k = coef.shape
    check_meat_memory(d, k, fit_intercept=solution.fit_intercept, weighted=weighted)
    p = d + int(solution.fit_intercept)
    kinds = len(WEIGHT_KINDS) if weighted else 1
    bread = centred_bread(solution)
    total: torch.Tensor | None = None
    for X, Y, w in chunks:
        if X.shape[0] == 0:
            continue
        dev = X.device
        Xd = X.to(torch.float64)
        Yd = Y.to(device=dev, dtype=torch.float64).reshape(X.shape[0], -1)
        E = Yd - (Xd @ coef.to(dev) + intercept.to(dev))
        q = leverage_terms(solution, Xd, bread)
        if solution.fit_intercept:
            A = torch.cat([torch.ones_like(Xd[:, :1]), Xd - solution.mean_x.to(dev)], dim=1)
        else:
            A = Xd
        wd = None if w is None else w.to(device=dev, dtype=torch.float64)
        part = torch.zeros(k, kinds, len(MEAT_TYPES), p, p, dtype=torch.float64, device=dev)
        for kind in range(kinds):
            analytic = WEIGHT_KINDS[kind] == "analytic"
            if wd is None:
                base, h = E * E, q
            elif analytic:
                base, h = (wd * wd)[:, None] * E * E, wd * q
            else:
                base, h = wd[:, None] * E * E, q
            one_minus = 1.0 - h
            for j in range(k):
                omegas = (base[:, j], base[:, j] / one_minus, base[:, j] / (one_minus * one_minus))
                for t, omega in enumerate(omegas):
                    part[j, kind, t] = (A * omega[:, None]).T @ A
        part = part.cpu()
        total = part if total is None else total + part
    if total is None:
        total = torch.zeros(k, kinds, len(MEAT_TYPES), p, p, dtype=torch.float64)
    assert total.shape[-1] == p == d + int(solution.fit_intercept)
    return total
