"""The parameters of :class:`~torchlinear.LinearRegression`, checked, and the solver path
they choose; its targets, validated at the boundary."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from torchlinear._validation import (
    as_feature_matrix,
    as_target,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_same_length,
)
from torchlinear.estimators._base import object_to_float
from torchlinear.stats import check_cov_type

__all__ = [
    "DEFAULT_EPOCHS",
    "EXACT_SOLVERS",
    "GRADIENT_SOLVERS",
    "LOSSES",
    "SOLVERS",
    "resolve_params",
    "validate_targets",
]

EXACT_SOLVERS = ("cholesky", "qr", "svd")
GRADIENT_SOLVERS = ("sgd", "adam", "lbfgs")
SOLVERS = ("auto", *EXACT_SOLVERS, "cd", *GRADIENT_SOLVERS)
LOSSES = ("squared", "l1", "huber")
DEFAULT_EPOCHS = {"sgd": 100, "adam": 100, "lbfgs": 30}


def resolve_params(est: Any) -> dict[str, Any]:
    """``LinearRegression``'s parameters, checked, and the path they choose: ``exact``
    (least squares or ridge), ``cd`` (coordinate descent), ``lad`` (the LP) or a gradient
    ``optimizer``."""
    if not isinstance(est.random_state, np.random.RandomState | np.random.Generator):
        check_random_state("random_state", est.random_state)  # a generator draws later
    if est.solver not in SOLVERS:
        raise ValueError(
            f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {est.solver!r}"
        )
    if est.loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {est.loss!r}")
    if not isinstance(est.fit_intercept, bool | np.bool_):
        raise ValueError(f"fit_intercept must be True or False, got {est.fit_intercept!r}")
    alpha = check_nonnegative_float("alpha", est.alpha)
    l1_ratio = check_nonnegative_float("l1_ratio", est.l1_ratio)
    if l1_ratio > 1:
        raise ValueError(f"l1_ratio must lie in [0, 1], got {est.l1_ratio!r}")
    if not isinstance(est.positive, bool | np.bool_):
        raise ValueError(f"positive must be True or False, got {est.positive!r}")
    positive = bool(est.positive)
    if positive and est.loss != "squared":
        raise ValueError(
            f"positive=True constrains least squares (loss='squared'); got loss={est.loss!r}"
        )
    if positive and est.solver not in ("auto", "cd"):
        raise ValueError(
            "positive=True (non-negative least squares) is solved exactly by coordinate "
            f"descent on the statistics; use solver='auto' or 'cd', not {est.solver!r}"
        )
    exact_problem = est.loss == "squared" and (l1_ratio == 0 or alpha == 0) and not positive
    if est.solver in EXACT_SOLVERS and not exact_problem:
        raise ValueError(
            f"solver={est.solver!r} solves the squared loss with an L2 penalty only "
            f"(got loss={est.loss!r}, l1_ratio={est.l1_ratio!r}); use solver='auto' or "
            "a gradient solver ('sgd', 'adam', 'lbfgs')"
        )
    if est.solver == "lbfgs" and l1_ratio > 0 and alpha > 0:
        raise ValueError(
            "solver='lbfgs' cannot handle an L1 penalty (l1_ratio > 0); use 'sgd' or 'adam'"
        )
    penalized = est.loss == "squared" and ((l1_ratio > 0 and alpha > 0) or positive)
    if est.solver == "cd" and not penalized:
        raise ValueError(
            "solver='cd' (exact coordinate descent) solves the squared loss with an L1 "
            f"penalty (alpha > 0, l1_ratio > 0) or positive=True; got loss={est.loss!r}, "
            f"alpha={est.alpha!r}, l1_ratio={est.l1_ratio!r}"
        )
    exact = est.solver in EXACT_SOLVERS or (est.solver == "auto" and exact_problem)
    cd = est.solver == "cd" or (est.solver == "auto" and penalized)
    # least absolute deviations with at most an L1 penalty: a linear program, solved exactly
    lad = est.solver == "auto" and est.loss == "l1" and (alpha == 0 or l1_ratio == 1)
    if exact or cd or lad:
        optimizer = None
    elif est.solver in GRADIENT_SOLVERS:
        optimizer = est.solver
    else:
        smooth = est.loss in ("squared", "huber") and (l1_ratio == 0 or alpha == 0)
        optimizer = "lbfgs" if smooth else "adam"
    return {
        "positive": positive,
        "exact": exact,
        "cd": cd,
        "lad": lad,
        "optimizer": optimizer,
        "alpha": alpha,
        "l1_ratio": l1_ratio,
        "delta": check_positive_float("delta", est.delta),
        "max_iter": None if est.max_iter is None else check_positive_int("max_iter", est.max_iter),
        "tol": check_nonnegative_float("tol", est.tol),
        "lr": None if est.lr is None else check_positive_float("lr", est.lr),
        "batch_size": check_positive_int("batch_size", est.batch_size),
        "chunk_size": None
        if est.chunk_size is None
        else check_positive_int("chunk_size", est.chunk_size),
        "cov_type": check_cov_type(est.cov_type),
    }


def validate_targets(y: Any, n: int, who: str) -> tuple[torch.Tensor, bool, list[str] | None]:
    """Return ``y`` as ``(n, k)`` float tensor, whether it is a single target, names."""
    if y is None:
        raise ValueError(f"{who} requires y to be passed, but the target y is None")
    names: list[str] | None = None
    if hasattr(y, "columns"):
        names = [str(c) for c in y.columns]
    elif getattr(y, "name", None) is not None and not isinstance(y, torch.Tensor):
        names = [str(y.name)]
    if isinstance(y, torch.Tensor):
        shape = tuple(y.shape)
    else:
        if not hasattr(y, "columns"):
            y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
            if y.dtype == object:
                y = object_to_float(y, "y")
        shape = tuple(y.shape)
    if len(shape) == 2 and shape[1] != 1:
        Y, _ = as_feature_matrix(y, name="y")
        single = False
    elif len(shape) in (1, 2):
        Y = as_target(y).reshape(-1, 1)
        single = True
    else:
        raise ValueError(
            f"y must have shape (n,), (n, 1) or (n, k), got {shape}; "
            "flatten the extra dimensions into target columns"
        )
    check_same_length(range(n), Y)
    return Y, single, names
