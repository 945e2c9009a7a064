r"""Classical inference for an ordinary (or weighted) least-squares fit.

From an exact solution (:class:`torchlinear.exact.LstsqSolution`) with residual sum of
squares :math:`\mathrm{RSS}`, :math:`n = \sum_i w_i` observations and :math:`p` estimated
parameters (the rank of :math:`[1, X]`):

.. math::

    \hat\sigma^2 = \frac{\mathrm{RSS}}{n - p}, \qquad
    \widehat{\mathrm{Cov}}(\hat\beta) = \hat\sigma^2 (A^\top W A)^{-1},\qquad
    t_j = \frac{\hat\beta_j}{\mathrm{se}_j}, \qquad
    p_j = 2\,P(T_{n-p} > |t_j|),

the confidence interval :math:`\hat\beta_j \pm t_{n-p,\,1-a/2}\,\mathrm{se}_j`,
:math:`R^2 = 1 - \mathrm{RSS}/\mathrm{TSS}` (TSS about the mean with an intercept, about
zero without), :math:`\bar R^2 = 1 - \frac{n - k_0}{n - p}(1 - R^2)` and
:math:`F = \frac{(\mathrm{TSS} - \mathrm{RSS})/(p - k_0)}{\mathrm{RSS}/(n - p)}` with
:math:`k_0 = 1` if there is an intercept. Sample weights are treated as frequency weights
(a weight of 2 counts a row twice), so integer weights give the same table as repeated
rows. The conventions follow statsmodels' ``OLS``/``WLS`` results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from torchlinear._format import escape_control, format_count, format_number, format_p_value
from torchlinear._validation import check_memory
from torchlinear.exact import LstsqSolution

__all__ = ["OLSSummary", "ols_summary"]


@dataclass(frozen=True, eq=False)
class OLSSummary:
    """Inference for one target of an unpenalised least-squares fit.

    ``print(summary)`` shows the table; :meth:`to_dict` and :meth:`to_frame` give the
    numbers. Arrays are ordered like :attr:`terms` (``"const"`` first with an intercept).
    """

    terms: tuple[str, ...]
    coef: np.ndarray
    std_err: np.ndarray
    t: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    confidence: float
    r_squared: float
    adj_r_squared: float
    f_statistic: float
    f_pvalue: float
    resid_std_err: float
    n_obs: float
    n_rows: int
    df_model: int
    df_resid: float
    rss: float
    tss: float
    log_likelihood: float
    aic: float
    bic: float
    cond: float
    rank: int
    solver: str
    target: str
    has_intercept: bool

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python values (lists for the per-term columns)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, np.ndarray):
                out[key] = value.tolist()
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out

    def to_frame(self) -> Any:
        """The coefficient table as a pandas ``DataFrame`` indexed by term (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is installed in tests
            raise ImportError("to_frame() needs pandas; use to_dict() without it") from exc
        lo, hi = _ci_labels(self.confidence)
        return pd.DataFrame(
            {
                "coef": self.coef,
                "std_err": self.std_err,
                "t": self.t,
                "p_value": self.p_value,
                lo: self.ci_low,
                hi: self.ci_high,
            },
            index=pd.Index(list(self.terms), name="term"),
        )

    def __str__(self) -> str:
        return self.as_text()

    def as_text(self) -> str:
        """The readable table that ``print`` shows."""
        width = 78
        left = [
            ("Dep. variable:", escape_control(self.target)),
            ("Solver:", self.solver),
            ("No. observations:", format_count(self.n_obs)),
            ("Df model:", str(self.df_model)),
            ("Df residuals:", format_count(self.df_resid)),
            ("Residual std. error:", format_number(self.resid_std_err, 5)),
            ("Log-likelihood:", format_number(self.log_likelihood, 5)),
        ]
        right = [
            ("R-squared:", format_number(self.r_squared, 4)),
            ("Adj. R-squared:", format_number(self.adj_r_squared, 4)),
            ("F-statistic:", format_number(self.f_statistic, 4)),
            ("Prob (F-statistic):", format_number(self.f_pvalue, 3)),
            ("AIC:", format_number(self.aic, 5)),
            ("BIC:", format_number(self.bic, 5)),
            ("Cond. no. (scaled):", format_number(self.cond, 3)),
        ]
        lines = ["Least-squares regression".center(width), "=" * width]
        for (lk, lv), (rk, rv) in zip(left, right, strict=True):
            lines.append(f"{lk:<21}{lv:>17}   {rk:<20}{rv:>17}")
        lines.append("=" * width)
        lo, hi = _ci_labels(self.confidence)
        terms = [escape_control(t) for t in self.terms]
        name_w = max([10, *(len(t) for t in terms)])
        head = (
            f"{'':<{name_w}} {'coef':>11} {'std err':>10} {'t':>8} {'P>|t|':>7} {lo:>11} {hi:>11}"
        )
        lines.append(head)
        lines.append("-" * max(width, len(head)))
        for i, term in enumerate(terms):
            num = format_number
            lines.append(
                f"{term:<{name_w}} {num(self.coef[i], 5):>11} {num(self.std_err[i], 4):>10}"
                f" {num(self.t[i], 4):>8} {format_p_value(self.p_value[i]):>7}"
                f" {num(self.ci_low[i], 5):>11} {num(self.ci_high[i], 5):>11}"
            )
        lines.append("=" * max(width, len(head)))
        notes = []
        if self.rank < len(self.terms) - int(self.has_intercept):
            notes.append(
                "The design is rank deficient: the minimum-norm coefficients are shown and "
                "their standard errors use the pseudo-inverse."
            )
        if self.df_resid <= 0:
            notes.append("No residual degrees of freedom: standard errors are undefined.")
        lines += [f"Note: {n}" for n in notes]
        return "\n".join(lines)


def _ci_labels(confidence: float) -> tuple[str, str]:
    a = (1 - confidence) / 2
    return f"[{a:.3g}", f"{1 - a:.3g}]"


def ols_summary(
    solution: LstsqSolution,
    *,
    target: int = 0,
    feature_names: Sequence[str] | None = None,
    target_name: str | None = None,
    confidence: float = 0.95,
) -> OLSSummary:
    """Standard errors, t, p-values, confidence intervals and fit statistics.

    Parameters
    ----------
    solution : LstsqSolution
        An unpenalised exact fit (``alpha == 0``).
    target : int, default 0
        Which target column to describe for a multi-output fit.
    feature_names : sequence of str, optional
        Names of the features (default ``x0, x1, ...``).
    target_name : str, optional
        Name of the target (default ``"y"``).
    confidence : float, default 0.95
        Level of the confidence intervals, in (0, 1).

    Returns
    -------
    OLSSummary

    Examples
    --------
    >>> import torch
    >>> from torchlinear.exact import lstsq
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    >>> y = torch.tensor([1.1, 2.9, 5.2, 6.8, 9.1], dtype=torch.float64)
    >>> s = ols_summary(lstsq(X, y))
    >>> s.terms, round(float(s.coef[1]), 4), round(float(s.std_err[1]), 4), s.df_resid
    (('const', 'x0'), 1.99, 0.0597, 3.0)
    """
    if solution.alpha != 0:
        raise ValueError(
            f"summary statistics are defined for unpenalised fits; this fit has "
            f"alpha={solution.alpha!r}. Refit with alpha=0 for standard errors and p-values"
        )
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    k = solution.coef.shape[1]
    if not 0 <= target < k:
        raise ValueError(f"target must be in [0, {k}) for this {k}-target fit, got {target!r}")
    d = solution.coef.shape[0]
    names = (
        [f"x{j}" for j in range(d)] if feature_names is None else [str(n) for n in feature_names]
    )
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names but the fit has {d} features")
    k0 = int(solution.fit_intercept)
    terms = (["const"] if k0 else []) + names
    coef = solution.coef[:, target].numpy()
    if k0:
        coef = np.concatenate([[float(solution.intercept[target])], coef])
    n = float(solution.weight_sum)
    p = solution.rank + k0
    df_resid = n - p
    df_model = solution.rank
    rss = float(solution.rss[target])
    tss = float(solution.tss[target])
    sigma2 = rss / df_resid if df_resid > 0 else math.nan
    if df_resid > 0:  # no residual degrees of freedom: no standard errors, no d x d matrix
        p_all = d + k0
        check_memory(
            8 * 4 * p_all * p_all,
            f"{d:,} features",
            "the covariance matrix of the summary",
            advice="select fewer columns ({features})",
        )
        cov = solution.covariance_unscaled().numpy() * sigma2
        se = np.sqrt(np.clip(np.diagonal(cov), 0, None))
    else:
        se = np.full_like(coef, math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = coef / se
    if df_resid > 0:
        pv = 2 * sps.t.sf(np.abs(t), df_resid)
        q = float(sps.t.ppf(0.5 + confidence / 2, df_resid))
    else:
        pv = np.full_like(coef, math.nan)
        q = math.nan
    r2 = 1 - rss / tss if tss > 0 else math.nan
    adj = 1 - (n - k0) / df_resid * (1 - r2) if df_resid > 0 else math.nan
    if df_model > 0 and df_resid > 0 and rss > 0:
        f = ((tss - rss) / df_model) / (rss / df_resid)
        fp = float(sps.f.sf(f, df_model, df_resid))
    elif df_model > 0 and df_resid > 0:
        f, fp = math.inf, 0.0
    else:
        f, fp = math.nan, math.nan
    llf = -n / 2 * (math.log(2 * math.pi) + math.log(rss / n) + 1) if rss > 0 else math.inf
    return OLSSummary(
        terms=tuple(terms),
        coef=coef,
        std_err=se,
        t=t,
        p_value=pv,
        ci_low=coef - q * se,
        ci_high=coef + q * se,
        confidence=float(confidence),
        r_squared=r2,
        adj_r_squared=adj,
        f_statistic=float(f),
        f_pvalue=fp,
        resid_std_err=math.sqrt(sigma2) if sigma2 == sigma2 else math.nan,
        n_obs=n,
        n_rows=solution.n_samples,
        df_model=df_model,
        df_resid=df_resid,
        rss=rss,
        tss=tss,
        log_likelihood=llf,
        aic=-2 * llf + 2 * p,
        bic=-2 * llf + math.log(n) * p,
        cond=float(solution.cond),
        rank=solution.rank,
        solver=solution.solver,
        target=target_name if target_name is not None else "y",
        has_intercept=bool(k0),
    )
