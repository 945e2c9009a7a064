"""One line on whether a fit's iterative solver met its stated criterion.

The command prints it and the report writes it: ``converged (…)`` only when the criterion
was met, ``did not converge (criterion … > tol …)`` when the solver stopped on its
iteration budget first. Closed-form fits (the exact least-squares solve) have no line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torchlinear._format import format_number
from torchlinear.engine.config import LR_DROP_FACTOR
from torchlinear.estimators._gradient import loss_improvement

__all__ = ["describe_convergence"]


def _gap(est: Any) -> str | None:
    """Coordinate descent (the active set of a positive fit): the duality gap against
    ``tol`` times the variance of y."""
    try:
        stats = est.statistics()
    except (AttributeError, ValueError):
        return None
    C = stats.system(bool(est.fit_intercept))[2]
    variance = max(float(C[0, 0]) / float(stats.weight_sum), 0.0)
    tol = float(est.tol) * variance
    gap = float(est.dual_gap_)
    positive = bool(getattr(est, "positive", False))
    method, steps = ("active set", "steps") if positive else ("coordinate descent", "sweeps")
    if est.converged_:
        return f"converged ({method}: duality gap {gap:.3g} <= tol {tol:.3g})"
    return (
        f"did not converge ({method}: duality gap {gap:.3g} > tol {tol:.3g} after "
        f"{est.n_iter_} {steps})"
    )


def _epochs(est: Any) -> str:
    """Gradient training: the relative improvement of the training loss over the last
    ``n_iter_no_change`` epochs against ``tol``."""
    h, cfg = est.history_, est.train_config_
    reason = h.stop_reason
    losses = list(h.train_loss)
    tol = getattr(cfg, "tol", None)
    improvement, window = loss_improvement(losses, getattr(cfg, "n_iter_no_change", 1))
    crit = f"relative improvement of the training loss {improvement:.3g}"
    span = f"over the last {window} epoch(s)"
    drops = list(getattr(h, "lr_drops", []))
    dropped = (
        f", learning rate divided by {LR_DROP_FACTOR:g} after epoch(s) "
        f"{', '.join(str(e) for e in drops)}"
        if drops
        else ""
    )
    if reason == "converged":
        return f"converged ({crit} <= tol {format_number(tol)} {span}{dropped})"
    if reason == "early_stopping":
        return (
            f"stopped early on the validation loss after {len(losses)} epoch(s) (best epoch "
            f"{h.best_epoch}); the training criterion was not reached"
        )
    if reason == "stalled":
        return (
            f"did not converge (stalled after {len(losses)} epochs: the training loss stopped "
            "improving while its gradient was still large)"
        )
    if reason != "completed":
        return f"did not converge (stopped: {reason})"
    if tol is None:
        return f"ran the fixed {len(losses)} epoch(s); no convergence criterion was set"
    needed = getattr(cfg, "n_iter_no_change", 1)
    if drops:  # stopped between two drops of the learning rate
        return (
            f"did not converge (the training loss stalled at the noise of its minibatch "
            f"steps{dropped}, but the epochs ran out before it stalled again at the lower rate; "
            f"{len(losses)} epochs)"
        )
    if improvement <= tol and window < needed:  # too few epochs
        return (
            f"did not converge ({crit} <= tol {format_number(tol)} {span}, but convergence "
            f"takes {needed}; {len(losses)} epochs)"
        )
    return f"did not converge ({crit} > tol {format_number(tol)} {span}, {len(losses)} epochs)"


def describe_convergence(estimator: Any, warnings: Sequence[str] = ()) -> str | None:
    """``"converged (…)"``, ``"did not converge (… > tol …)"``, or ``None`` for a fit with
    no iterations (the exact least-squares solve).

    ``warnings`` are the fit's warning lines: a solver that keeps no record of its final
    criterion (L-BFGS of softmax regression) is described by its ConvergenceWarning.

    Examples
    --------
    >>> import numpy as np
    >>> from torchlinear import ElasticNet
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> describe_convergence(ElasticNet(alpha=0.1).fit(X, X[:, 0])).split(" (")[0]
    'converged'
    """
    if hasattr(estimator, "dual_gap_") and hasattr(estimator, "converged_"):
        line = _gap(estimator)
        if line is not None:
            return line
    if getattr(estimator, "history_", None) is not None and hasattr(estimator, "train_config_"):
        return _epochs(estimator)
    solver = getattr(estimator, "solver_", None)
    if solver == "lad":
        return "solved exactly (the linear program's optimum)"
    if not hasattr(estimator, "converged_"):
        return None
    if estimator.converged_:
        tol = getattr(estimator, "tol", None)
        if tol is None:
            return "converged"
        if getattr(estimator, "loss_curve_", None) is not None:  # softmax regression's L-BFGS
            return f"converged (L-BFGS: largest gradient component <= tol {format_number(tol)})"
        return f"converged (criterion <= tol {format_number(tol)})"
    for text in warnings:
        if "did not converge" in text:
            head, _, detail = text.partition(": ")
            return f"did not converge ({detail or head})"
    return "did not converge"
