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
:math:`k_0 = 1` if there is an intercept. Without one, columns that span the constant
(a column of ones, or every level of a categorical variable, as in ``y ~ C(g) - 1``)
make an intercept all the same, so :math:`k_0 = 1` there too: TSS about the mean, and F
tests the model against its constant alone (statsmodels' implicit constant). The
conventions follow statsmodels' ``OLS`` results.

Sample weights
    ``weights="analytic"`` (the default) reads them as inverse variances, like
    statsmodels' ``WLS`` and R's ``lm(weights=)``: :math:`n` is the number of rows with a
    positive weight, and scaling every weight by the same factor changes nothing.
    ``weights="frequency"`` reads them as counts (a weight of 2 is a row seen twice), like
    statsmodels' ``GLM(freq_weights=)``: :math:`n = \sum_i w_i`, so integer weights give the
    table of the repeated rows.

Robust covariances
    ``cov_type="HC0"`` ... ``"HC3"`` replace :math:`\hat\sigma^2 (A^\top W A)^{-1}` by the
    sandwich :math:`B M B` of :mod:`torchlinear.exact.sandwich` (HC1 scaled by
    :math:`n/(n-p)`), whose meat needs one pass over the rows after the fit; t, p-values
    and intervals then use the robust standard errors, and the F statistic is the robust
    Wald test that every coefficient but the intercept is zero (that the fit is the
    constant alone, for columns that span it without an intercept). As in statsmodels, the
    p-values and intervals of a robust covariance use the normal distribution (the
    covariance is asymptotic) unless ``use_t=True``; the classical one uses Student's t
    with :math:`n - p` degrees of freedom.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy import special

from torchlinear._format import (
    escape_control,
    format_count,
    format_number,
    format_p_value,
    free_name,
)
from torchlinear._memory import check_memory
from torchlinear._validation import ParameterError
from torchlinear.exact import LstsqSolution
from torchlinear.exact.sandwich import MEAT_TYPES, WEIGHT_KINDS, centred_bread

__all__ = [
    "COV_TYPES",
    "INTERVAL_KINDS",
    "OLSSummary",
    "WeightInfo",
    "check_cov_type",
    "check_weights",
    "ols_summary",
    "prediction_interval",
]

#: The covariance types of :func:`ols_summary` (statsmodels' names).
COV_TYPES: tuple[str, ...] = ("nonrobust", "HC0", "HC1", "HC2", "HC3")
#: The intervals of :func:`prediction_interval`: a new observation's, or the mean's.
INTERVAL_KINDS: tuple[str, ...] = ("prediction", "confidence")


def check_cov_type(cov_type: Any) -> str:
    """``cov_type`` if it is one of :data:`COV_TYPES` (case of ``hc`` ignored), else a
    ``ValueError`` naming the parameter.

    Examples
    --------
    >>> check_cov_type("hc3")
    'HC3'
    """
    if isinstance(cov_type, str):
        for name in COV_TYPES:
            if cov_type.lower() == name.lower():
                return name
    raise ParameterError(
        "cov_type",
        "{param} must be one of {choices}, got {value!r}",
        value=cov_type,
        choices=", ".join(COV_TYPES),
    )


def check_weights(weights: Any) -> str:
    """``weights`` if it is ``"analytic"`` or ``"frequency"``, else a ``ValueError``."""
    if weights not in WEIGHT_KINDS:
        raise ValueError(f"weights must be 'analytic' or 'frequency', got {weights!r}")
    return str(weights)


@dataclass(frozen=True)
class WeightInfo:
    """What the summary needs to know of a fit's sample weights beyond the statistics.

    Attributes
    ----------
    n_positive : int
        Rows with a positive weight.
    log_weight_sum : float
        The sum of the logarithms of those weights (the weighted log-likelihood's term).

    Examples
    --------
    >>> WeightInfo.of(np.array([1.0, 0.0, np.e]))
    WeightInfo(n_positive=2, log_weight_sum=1.0)
    """

    n_positive: int
    log_weight_sum: float

    @classmethod
    def of(cls, sample_weight: Any) -> WeightInfo:
        """The information of one array (or tensor) of weights."""
        w = np.asarray(
            sample_weight.detach().cpu() if hasattr(sample_weight, "detach") else sample_weight,
            dtype=np.float64,
        ).reshape(-1)
        positive = w[w > 0]
        return cls(int(positive.size), float(np.log(positive).sum()))

    def __add__(self, other: WeightInfo) -> WeightInfo:
        return WeightInfo(
            self.n_positive + other.n_positive, self.log_weight_sum + other.log_weight_sum
        )


@dataclass(frozen=True, eq=False)
class OLSSummary:
    """Inference for one target of an unpenalised least-squares fit.

    ``print(summary)`` shows the table; :meth:`to_dict` and :meth:`to_frame` give the
    numbers. Arrays are ordered like :attr:`terms` (``"const"`` first with an intercept;
    ``"(const)"`` when a feature is named ``const``).
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
    cov_type: str = "nonrobust"
    weights: str = "none"

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
            # pandas is optional: only this method needs it
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

    def as_text(self, max_terms: int | None = None) -> str:
        """The readable table that ``print`` shows.

        Parameters
        ----------
        max_terms : int, optional
            Show at most this many rows of the coefficient table: the intercept and the
            terms of largest ``|t|`` (terms whose ``t`` is undefined last), in their own
            order, with a note saying how many are left out. Default: every term.

        Examples
        --------
        >>> import numpy as np
        >>> from torchlinear import LinearRegression
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 5))
        >>> y = X @ np.array([3.0, 0.0, 0.0, 0.0, -2.0]) + rng.normal(size=100)
        >>> text = LinearRegression().fit(X, y).summary().as_text(max_terms=3)
        >>> [line.split()[0] for line in text.splitlines() if line[:2] in ("co", "x0", "x4")]
        ['const', 'x0', 'x4']
        >>> text.splitlines()[-1]
        'Note: 3 of the 6 terms are shown (the intercept and the largest |t|).'
        """
        width = 78
        left = [
            ("Dep. variable:", escape_control(self.target)),
            ("Solver:", self.solver),
            ("No. observations:", format_count(self.n_obs)),
            ("Df model:", str(self.df_model)),
            ("Df residuals:", format_count(self.df_resid)),
            ("Residual std. error:", format_number(self.resid_std_err, 5)),
            ("Log-likelihood:", format_number(self.log_likelihood, 5)),
            ("Covariance type:", self.cov_type),
        ]
        right = [
            ("R-squared:", format_number(self.r_squared, 4)),
            ("Adj. R-squared:", format_number(self.adj_r_squared, 4)),
            ("F-statistic:", format_number(self.f_statistic, 4)),
            ("Prob (F-statistic):", format_number(self.f_pvalue, 3)),
            ("AIC:", format_number(self.aic, 5)),
            ("BIC:", format_number(self.bic, 5)),
            ("Cond. no. (scaled):", format_number(self.cond, 3)),
            ("Sample weights:", self.weights),
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
        shown = self._shown_terms(max_terms)
        for i in shown:
            term, num = terms[i], format_number
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
        if len(shown) < len(terms):
            which = "the intercept and the largest |t|" if self.has_intercept else "largest |t|"
            notes.append(f"{len(shown):,} of the {len(terms):,} terms are shown ({which}).")
        lines += [f"Note: {n}" for n in notes]
        return "\n".join(lines)

    def _shown_terms(self, max_terms: int | None) -> list[int]:
        """Indices of the rows :meth:`as_text` shows, in table order."""
        n = len(self.terms)
        if max_terms is None or n <= max_terms:
            return list(range(n))
        if max_terms < 1:
            raise ValueError(f"max_terms must be a positive integer; got {max_terms}")
        first = int(self.has_intercept)  # the intercept is always shown
        size = np.abs(np.asarray(self.t[first:], dtype=np.float64))
        size = np.where(np.isnan(size), -1.0, size)  # undefined t: after every defined one
        keep = np.argsort(-size, kind="stable")[: max(max_terms - first, 0)] + first
        return list(range(first)) + sorted(int(i) for i in keep)


def _ci_labels(confidence: float) -> tuple[str, str]:
    a = (1 - confidence) / 2
    return f"[{a:.3g}", f"{1 - a:.3g}]"


@dataclass(frozen=True)
class _Inference:
    """The pieces every statistic of one target is built from."""

    n: float  # observations (rows, weight sum for frequency weights)
    p: int  # parameters estimated
    df_resid: float
    sigma2: float
    cov_centred: np.ndarray | None  # parameter covariance (centred); None: no df left
    weights: str  # "none", "analytic" or "frequency"


def _weighted(solution: LstsqSolution, weight_info: WeightInfo | None) -> bool:
    return weight_info is not None or float(solution.weight_sum) != float(solution.n_samples)


def _inference(
    solution: LstsqSolution,
    target: int,
    cov_type: str,
    meat: Any,
    weights: str,
    weight_info: WeightInfo | None,
) -> _Inference:
    weighted = _weighted(solution, weight_info)
    if not weighted:
        kind = "none"
        n = float(solution.weight_sum)
    elif weights == "frequency":
        kind = "frequency"
        n = float(solution.weight_sum)
    else:
        kind = "analytic"
        n = float(solution.n_samples if weight_info is None else weight_info.n_positive)
    p = solution.rank + int(solution.fit_intercept)
    df_resid = n - p
    rss = float(solution.rss[target])
    sigma2 = rss / df_resid if df_resid > 0 else math.nan
    if df_resid <= 0 and cov_type == "nonrobust":
        # no residual degrees of freedom: no standard errors, and no d x d matrix built
        return _Inference(n, p, df_resid, sigma2, None, kind)
    d = solution.coef.shape[0] + int(solution.fit_intercept)
    check_memory(
        8 * 4 * d * d,
        f"{solution.coef.shape[0]:,} features",
        "the covariance matrix of the summary",
        advice="select fewer columns ({features})",
    )
    bread = centred_bread(solution).numpy()
    if cov_type == "nonrobust":
        bread *= sigma2  # a fresh array: scaled in place
        cov = bread
    else:
        if meat is None:
            raise ValueError(
                f"cov_type={cov_type!r} needs the meat matrix of the robust covariance, "
                "accumulated in a pass over the rows after the fit; fit with "
                f"cov_type={cov_type!r} (or any robust type)"
            )
        meat_t = meat if isinstance(meat, np.ndarray) else meat.detach().cpu().numpy()
        slot = 0 if meat_t.shape[1] == 1 else WEIGHT_KINDS.index(kind)
        M = meat_t[target, slot, MEAT_TYPES.index("HC0" if cov_type == "HC1" else cov_type)]
        cov = bread @ M @ bread
        if cov_type == "HC1":
            cov = cov * (n / df_resid if df_resid > 0 else math.nan)
    return _Inference(n, p, df_resid, sigma2, cov, kind)


def _uncentre(solution: LstsqSolution, cov: np.ndarray) -> np.ndarray:
    """The covariance of ``[intercept, coef]`` from that of the centred parameters, written
    over ``cov``.

    The intercept is ``b0 - m @ coef`` for the centred intercept ``b0`` and the means
    ``m``: ``T cov T^T`` with ``T = [[1, -m], [0, I]]`` changes only the first row and
    column, in ``O(d^2)``.
    """
    if not solution.fit_intercept:
        return cov
    m = solution.mean_x.numpy()
    row = cov[0, :] - m @ cov[1:, :]  # (T cov)[0, :]
    cov[0, :] = row
    cov[:, 0] = row
    cov[0, 0] = row[0] - row[1:] @ m
    return cov


def ols_summary(
    solution: LstsqSolution,
    *,
    target: int = 0,
    feature_names: Sequence[str] | None = None,
    target_name: str | None = None,
    confidence: float = 0.95,
    cov_type: str = "nonrobust",
    meat: Any = None,
    weights: str = "analytic",
    weight_info: WeightInfo | None = None,
    use_t: bool | None = None,
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
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default "nonrobust"
        The parameter covariance (see the module notes).
    meat : Tensor, optional
        The robust covariance's meat, from :func:`torchlinear.exact.sandwich.meat_pass`
        (needed for the HC types).
    weights : {"analytic", "frequency"}, default "analytic"
        What the fit's sample weights mean (see the module notes); no effect without.
    weight_info : WeightInfo, optional
        For a weighted fit: the count of positive weights and the sum of their logarithms
        (:meth:`WeightInfo.of`). Without it, a fit whose weight sum equals its row count
        is taken as unweighted.
    use_t : bool, optional
        Student's t (True) or the normal distribution (False) for p-values and intervals;
        default: t for ``"nonrobust"``, normal for the HC types (statsmodels' defaults).

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
    cov_type = check_cov_type(cov_type)
    weights = check_weights(weights)
    _check_target(solution, target)
    terms, coef = _terms_and_coef(solution, target, feature_names)
    k0 = int(solution.fit_intercept)
    inf = _inference(solution, target, cov_type, meat, weights, weight_info)
    n, p, df_resid, sigma2 = inf.n, inf.p, inf.df_resid, inf.sigma2
    # columns that span the constant without an intercept: the model has one after all,
    # and R², F and their degrees of freedom are judged against it (as statsmodels does)
    implicit = not k0 and solution.centred_tss is not None
    df_model = solution.rank - int(implicit)
    rss = float(solution.rss[target])
    totals = solution.centred_tss if implicit else None
    tss = float((solution.tss if totals is None else totals)[target])
    if inf.cov_centred is None:
        cov = None
        se = np.full_like(coef, math.nan)
    else:
        cov = _uncentre(solution, inf.cov_centred)  # not needed centred any more
        se = np.sqrt(np.clip(np.diagonal(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = coef / se
    pv, q = _p_values(_distribution(cov_type, use_t, df_resid), t, confidence)
    r2 = 1 - rss / tss if tss > 0 else math.nan
    adj = 1 - (n - k0 - int(implicit)) / df_resid * (1 - r2) if df_resid > 0 else math.nan
    if cov_type != "nonrobust" and cov is not None:
        f, fp = _wald_f(*_slopes(solution, coef, cov, implicit), df_resid)
    else:
        f, fp = _f_test(rss, tss, df_model, df_resid)
    llf = _log_likelihood(rss, n, inf.weights, weight_info)
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
        cov_type=cov_type,
        weights=inf.weights,
    )


def _check_target(solution: LstsqSolution, target: int) -> None:
    """``target`` is a column of this fit's targets."""
    k = solution.coef.shape[1]
    if not 0 <= target < k:
        raise ValueError(f"target must be in [0, {k}) for this {k}-target fit, got {target!r}")


def _terms_and_coef(
    solution: LstsqSolution, target: int, feature_names: Sequence[str] | None
) -> tuple[list[str], np.ndarray]:
    """The names of the parameters (``const`` first with an intercept, or ``(const)`` when
    a feature is named ``const``) and their values."""
    d = solution.coef.shape[0]
    names = (
        [f"x{j}" for j in range(d)] if feature_names is None else [str(n) for n in feature_names]
    )
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names but the fit has {d} features")
    coef = solution.coef[:, target].numpy()
    if solution.fit_intercept:
        const = free_name("const", names)  # "(const)" beside a feature named const
        return [const, *names], np.concatenate([[float(solution.intercept[target])], coef])
    return names, coef


def _f_test(rss: float, tss: float, df_model: float, df_resid: float) -> tuple[float, float]:
    """The F test that every slope is zero (classical covariance).

    A target without variation (``tss == 0``: a constant, about its mean with an
    intercept) leaves nothing to explain: F is 0/0, and so is undefined with its p-value,
    as statsmodels gives them for a constant target that its rounding leaves exact.
    """
    if not (df_model > 0 and df_resid > 0 and tss > 0):
        return math.nan, math.nan
    if rss > 0:
        f = ((tss - rss) / df_model) / (rss / df_resid)
        return f, float(special.fdtrc(df_model, df_resid, f))
    return math.inf, 0.0  # a perfect fit of a varying target


def _log_likelihood(rss: float, n: float, weights: str, weight_info: WeightInfo | None) -> float:
    """The Gaussian log-likelihood at the fit (with analytic weights, each row's density
    has variance sigma^2 / w: the log weights enter)."""
    llf = -n / 2 * (math.log(2 * math.pi) + math.log(rss / n) + 1) if rss > 0 else math.inf
    if weights == "analytic":
        llf = llf + 0.5 * weight_info.log_weight_sum if weight_info is not None else math.nan
    return llf


def _p_values(dist: Any, t: np.ndarray, confidence: float) -> tuple[np.ndarray, float]:
    """The two-sided p-values of the t ratios and the quantile of the confidence
    intervals (NaN without a reference distribution)."""
    if dist is None:
        return np.full_like(t, math.nan), math.nan
    return 2 * dist.sf(np.abs(t)), float(dist.ppf(0.5 + confidence / 2))


def _distribution(cov_type: str, use_t: bool | None, df_resid: float) -> Any:
    """The reference distribution of the t ratios (None without residual freedom)."""
    if not df_resid > 0:
        return None
    if use_t is None:
        use_t = cov_type == "nonrobust"
    return _Reference(df_resid if use_t else None)


@dataclass(frozen=True)
class _Reference:
    """Student's t with ``df`` degrees of freedom, or the standard normal (``df=None``):
    the survival function and quantiles, from SciPy's special functions."""

    df: float | None

    def sf(self, x: Any) -> Any:
        x = np.asarray(x, dtype=np.float64)
        return special.ndtr(-x) if self.df is None else special.stdtr(self.df, -x)

    def ppf(self, p: float) -> float:
        return float(special.ndtri(p) if self.df is None else special.stdtrit(self.df, p))


def _slopes(
    solution: LstsqSolution, coef: np.ndarray, cov: np.ndarray, implicit: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The parameters that are zero when the model is its constant alone, and their
    covariance: the slopes after the intercept or, for columns that span the constant
    without one, the coefficients' components orthogonal to ``b1`` (``X b1 = 1``), since
    the constant model is ``coef = c * b1``."""
    if not implicit:
        k0 = int(solution.fit_intercept)
        return coef[k0:], cov[k0:, k0:]
    assert solution.constant_coef is not None
    b1 = solution.constant_coef.numpy()
    Q = np.linalg.svd(b1[:, None])[0][:, 1:]  # an orthonormal basis of b1's complement
    return Q.T @ coef, Q.T @ cov @ Q


def _wald_f(beta: np.ndarray, cov: np.ndarray, df_resid: float) -> tuple[float, float]:
    """The Wald F test that ``beta`` is zero under the covariance ``cov``.

    A singular ``cov`` (collinear columns) tests only the combinations it spans: the
    quadratic form uses its pseudo-inverse and the numerator's degrees of freedom are its
    rank, not ``len(beta)``.
    """
    if len(beta) == 0 or not df_resid > 0:
        return math.nan, math.nan
    evals, evecs = np.linalg.eigh(0.5 * (cov + cov.T))
    keep = evals > max(float(evals.max()), 0.0) * len(beta) * np.finfo(np.float64).eps
    q = int(keep.sum())
    if q == 0:
        return math.nan, math.nan
    f = float(((evecs[:, keep].T @ beta) ** 2 / evals[keep]).sum()) / q
    return f, float(special.fdtrc(q, df_resid, f))


def prediction_interval(
    solution: LstsqSolution,
    X: Any,
    *,
    target: int = 0,
    level: float = 0.95,
    kind: str = "prediction",
    cov_type: str = "nonrobust",
    meat: Any = None,
    weights: str = "analytic",
    weight_info: WeightInfo | None = None,
    use_t: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Predictions with the interval of a new observation or of the mean.

    With :math:`V` the parameter covariance of :func:`ols_summary` (robust for the HC
    types) and :math:`a = [1, x]`, the mean's standard error is
    :math:`\sqrt{a^\top V a}` and a new observation's (of weight one)
    :math:`\sqrt{a^\top V a + \hat\sigma^2}`; the interval is the prediction plus or minus
    :math:`t_{n-p,\,(1+\text{level})/2}` (the normal quantile for a robust covariance,
    unless ``use_t``) times it, as statsmodels' ``get_prediction(x).summary_frame()``
    (``obs_ci_*`` and ``mean_ci_*``).

    Parameters
    ----------
    solution : LstsqSolution
        An unpenalised exact fit.
    X : array-like or Tensor, shape (m, d)
        The rows to predict.
    target : int, default 0
    level : float, default 0.95
        Coverage of the interval, in (0, 1).
    kind : {"prediction", "confidence"}, default "prediction"
        A new observation's interval, or the mean's (the regression line's).
    cov_type, meat, weights, weight_info, use_t :
        As for :func:`ols_summary`.

    Returns
    -------
    prediction, lower, upper : numpy.ndarray
        Float64 arrays of shape ``(m,)``.

    Examples
    --------
    >>> import torch
    >>> from torchlinear.exact import lstsq
    >>> X = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    >>> y = torch.tensor([1.1, 2.9, 5.2, 6.8, 9.1], dtype=torch.float64)
    >>> pred, lo, hi = prediction_interval(lstsq(X, y), [[2.0]], kind="confidence")
    >>> [round(float(v), 4) for v in (pred[0], lo[0], hi[0])]
    [5.02, 4.7512, 5.2888]
    """
    if solution.alpha != 0:
        raise ValueError(
            f"intervals are defined for unpenalised fits; this fit has alpha={solution.alpha!r}"
        )
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"kind must be 'prediction' or 'confidence', got {kind!r}")
    cov_type = check_cov_type(cov_type)
    weights = check_weights(weights)
    _check_target(solution, target)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64) if not torch.is_tensor(X) else X)
    Xt = Xt.detach().to(device="cpu", dtype=torch.float64)
    d = solution.coef.shape[0]
    if Xt.ndim != 2 or Xt.shape[1] != d:
        raise ValueError(f"X must have shape (m, {d}), got {tuple(Xt.shape)}")
    inf = _inference(solution, target, cov_type, meat, weights, weight_info)
    pred = (Xt @ solution.coef[:, target] + solution.intercept[target]).numpy()
    V = inf.cov_centred
    if V is None:  # no residual degrees of freedom: the intervals are unbounded
        return pred, np.full_like(pred, -math.inf), np.full_like(pred, math.inf)
    var = _mean_variance(solution, V, Xt.numpy())
    if kind == "prediction":
        var = var + inf.sigma2
    dist = _distribution(cov_type, use_t, inf.df_resid)
    q = math.nan if dist is None else float(dist.ppf(0.5 + level / 2))
    half = q * np.sqrt(np.clip(var, 0, None))
    return pred, pred - half, pred + half


def _mean_variance(solution: LstsqSolution, V: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The variance of the predicted mean at each row of ``X`` (``a' V a``, with ``V`` the
    covariance of the centred parameters)."""
    if solution.fit_intercept:  # a_c = [1, x - mean]: V_00 + 2 x_c V_10 + x_c^T V_11 x_c
        Xc = X - solution.mean_x.numpy()
        return V[0, 0] + Xc @ (V[1:, 0] + V[0, 1:]) + ((Xc @ V[1:, 1:]) * Xc).sum(1)
    return ((X @ V) * X).sum(1)
