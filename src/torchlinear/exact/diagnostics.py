"""What an exact solve reports about its design: the columns that are constant (and a
refusal of values whose squares underflow float64), the :class:`RankDeficientWarning` that
names the collinear and constant columns, and the :class:`IllConditionedWarning` of a
solution that lost digits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from torchlinear._format import warn_with_params
from torchlinear.exact._linalg import column_names, constant_to_rounding

if TYPE_CHECKING:
    from torchlinear.exact.solution import LstsqSolution

__all__ = [
    "WARN_ABOVE",
    "IllConditionedWarning",
    "RankDeficientWarning",
    "constant_columns",
    "warn_accuracy",
    "warn_rank",
]

#: Estimated relative error above which an IllConditionedWarning is raised.
WARN_ABOVE: float = 1e-8
_TINY: float = float(torch.finfo(torch.float64).tiny)  # the smallest normal float64


class RankDeficientWarning(UserWarning):
    """The design is rank deficient; the minimum-norm solution was returned."""


class IllConditionedWarning(UserWarning):
    """The design is so ill-conditioned that some digits of the solution are lost."""


def constant_columns(
    centred_sq: torch.Tensor,
    raw_sq: torch.Tensor,
    fit_intercept: bool,
    mean: torch.Tensor,
    names: Sequence[str] | None,
    weight_sum: float,
) -> torch.Tensor:
    """The columns that are constant (all zero without an intercept).

    A column of values so small that their squares leave float64's normal range is refused
    instead: its mean square (``raw_sq / weight_sum``) is zero although its mean is not, or
    is subnormal, where a square keeps fewer significant digits the smaller it is (values
    of 1e-158 already cost 8 digits of the coefficients, without any other sign).
    """
    zero = (raw_sq == 0) & (mean == 0)  # a column of zeros is merely constant
    tiny = torch.nonzero((raw_sq / weight_sum < _TINY) & ~zero).flatten().tolist()
    if tiny:
        raise ValueError(
            f"the squares of the values of {column_names(names, tiny)} underflow float64 "
            "(values near 1e-154 or below); rescale X before fitting"
        )
    if fit_intercept:
        return constant_to_rounding(centred_sq, raw_sq)
    return centred_sq <= 0


def warn_rank(
    d: int,
    rank: int,
    collinear: Sequence[int],
    constant: torch.Tensor,
    n_rows: int,
    fit_intercept: bool,
    names: Sequence[str] | None,
    from_gram: bool = False,
) -> None:
    """Warn (:class:`RankDeficientWarning`, at the solver's caller) when ``rank < d``."""
    if rank < d:
        consts = [int(i) for i in torch.nonzero(constant).reshape(-1)]
        message = _rank_message(d, rank, collinear, consts, n_rows, fit_intercept, names, from_gram)
        warn_with_params(RankDeficientWarning, message, ("alpha",), stacklevel=4)


def _rank_message(
    d: int,
    rank: int,
    collinear: Sequence[int],
    constant: Sequence[int],
    n_rows: int,
    fit_intercept: bool,
    names: Sequence[str] | None,
    from_gram: bool = False,
) -> str:
    p = d + int(fit_intercept)
    centred = " after centring" if fit_intercept else ""
    if n_rows < p:
        head = (
            f"X has {n_rows} row(s) but the model has {p} parameters, so the least-squares "
            f"solution is not unique (rank {rank} of {d} columns{centred})"
        )
    elif from_gram:
        head = (
            f"the normal equations are numerically singular (rank {rank} of {d} columns"
            f"{centred} at the precision of the Gram matrix; solver='auto' or 'qr' on data in "
            "memory resolves up to the square root of that precision)"
        )
    else:
        head = f"X is rank deficient: rank {rank} of {d} columns{centred}"
    if n_rows >= p:
        others = [i for i in collinear if i not in set(constant)]
        if others:
            head += f"; collinear columns: {column_names(names, others)}"
        if constant:
            what = "constant (collinear with the intercept)" if fit_intercept else "all zero"
            head += f"; {what}: {column_names(names, list(constant))}"
    return (
        head + ". Returning the minimum-norm least-squares solution; drop or combine "
        "the redundant columns, or use {alpha} > 0."
    )


def warn_accuracy(sol: LstsqSolution) -> None:
    if sol.rank < sol.coef.shape[0]:
        return
    err = sol.est_rel_error
    if math.isfinite(err) and err > WARN_ABOVE:
        digits = max(0.0, -math.log10(err))
        warn_with_params(
            IllConditionedWarning,
            f"the design is ill-conditioned (condition number {sol.cond:.3g} after "
            f"centring and column scaling); the coefficients have only about {digits:.0f} "
            "correct significant digits. Remove or combine nearly collinear columns, or use "
            "{alpha} > 0.",
            ("alpha",),
            stacklevel=3,
        )
