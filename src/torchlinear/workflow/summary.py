"""The summary of a saved model: what it is, its settings and metrics, its coefficients or
statistical table (``torchlinear summary``, :func:`model_summary`, :func:`summary_json`)."""

from __future__ import annotations

import math
import os
from typing import Any

from torchlinear._format import escape_control
from torchlinear._validation import ParameterError
from torchlinear.estimators.persist import describe
from torchlinear.report import coefficient_text
from torchlinear.stats import check_cov_type
from torchlinear.workflow.metrics import plain
from torchlinear.workflow.use import load_fitted, model_kind

__all__ = ["model_summary", "summary_json"]


def model_summary(
    model_path: str | os.PathLike[str], *, max_rows: int = 50, cov_type: str | None = None
) -> str:
    """A plain-text description of a saved model.

    What was fitted (estimator, task, target, features, training settings), its metrics,
    and its parameters: the statistical summary (standard errors, t, p-values, confidence
    intervals, R², F, as statsmodels' OLS reports them) for an unpenalised exact linear
    fit, else the coefficient table (at most ``max_rows`` features) or the MLP's layers.
    ``cov_type`` overrides the covariance the fit chose (``fit(cov_type=...)``); a robust
    type needs a fit made with a robust type, which saved the meat of the sandwich.

    Examples
    --------
    >>> import tempfile
    >>> from torchlinear.workflow import fit
    >>> folder = tempfile.mkdtemp()
    >>> _ = fit("diabetes", out=folder, val_split=0)
    >>> print(model_summary(folder).splitlines()[0])
    LinearRegression (regression, least squares) of 'progression' on 10 features
    """
    est, meta = load_fitted(model_path)
    model, task = describe(est)
    names = meta.get("feature_names") or [f"x{j}" for j in range(est.n_features_in_)]
    what = model_kind(est, model, meta.get("settings"))
    target = meta.get("target")
    of = "" if target is None else f" of {target!r}"  # a model saved without a target name
    lines = [
        f"{type(est).__name__} ({task}, {what}){of} on {len(names)} features",
        *model_lines(est, meta, task),
        "",
    ]
    if _has_statistics(est):
        lines.append(str(_statistics(est, cov_type)))
    elif cov_type is not None:
        raise ParameterError(
            "cov_type",
            "{param}: standard errors need an exact unpenalised least-squares fit; this "
            "model is a {what}",
            value=cov_type,
            what=what,
        )
    else:
        lines.append(coefficient_text(est, names, max_rows=max_rows))
    # column names, class labels and paths come from the user's files: no control
    # character of theirs reaches the terminal
    return "\n".join(escape_control(line) for line in "\n".join(lines).split("\n"))


def model_lines(est: Any, meta: dict[str, Any], task: str) -> list[str]:
    """The model file, design, settings, classes and metrics of a saved model."""
    lines = [
        f"model file: {meta.get('format', '?')} format {meta.get('format_version', '?')}, "
        f"written by torchlinear {meta.get('library_version', '?')}",
    ]
    design = meta.get("design")
    if design:
        how = "text columns one-hot encoded" if design.get("automatic") else "formula"
        lines.append(f"{how}: {design.get('formula')}")
    settings = meta.get("settings")
    if settings:
        shown = ", ".join(f"{k}={v}" for k, v in settings.items() if k not in ("task", "model"))
        lines.append(f"settings: {shown}")
    if task == "classification":
        classes = [plain(c) for c in est.classes_.tolist()]
        lines.append(f"classes ({len(classes)}): {', '.join(map(str, classes[:20]))}")
    metrics = meta.get("metrics") or {}
    for split in ("train", "validation"):
        values = metrics.get(split)
        if values:
            shown = ", ".join(
                f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in values.items()
                if k != "confusion_matrix"
            )
            lines.append(f"{split}: {shown}")
    return lines


def _has_statistics(est: Any) -> bool:
    return getattr(est, "solution_", None) is not None and getattr(est, "alpha", 0) == 0


def _statistics(est: Any, cov_type: str | None) -> Any:
    """The estimator's summary, its errors in the words of ``cov_type``."""
    cov = None if cov_type is None else check_cov_type(cov_type)
    try:
        return est.summary(cov_type=cov)
    except ValueError as exc:
        if cov is None or "meat" not in str(exc):
            raise
        raise ParameterError(
            "cov_type",
            "{param} {value}: this model keeps no meat matrix for robust standard errors; "
            "fit it with {param} {value} (or another HC type), or leave out {param}",
            value=cov,
        ) from None


def summary_json(
    model_path: str | os.PathLike[str], *, cov_type: str | None = None
) -> dict[str, Any]:
    """The statistical summary of a saved least-squares fit as plain JSON-ready values.

    Keys: ``n_obs``, ``df_model``, ``df_resid``, ``r_squared``, ``adj_r_squared``,
    ``f_statistic``, ``f_pvalue``, ``cov_type`` and ``terms``, a list of ``{name, coef,
    std_err, t, p_value, ci_low, ci_high}`` (95% intervals; ``"const"`` first with an
    intercept, ``"(const)"`` when a feature is named ``const``). Numbers that are not
    finite are ``None``: a constant target, for one, has no R², F or F p-value.

    Parameters
    ----------
    model_path : str or path-like
        The fit's output folder or its ``model.json``; an exact unpenalised
        least-squares fit.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, optional
        As for :func:`model_summary`.

    Examples
    --------
    >>> import tempfile
    >>> from torchlinear.workflow import fit
    >>> folder = tempfile.mkdtemp()
    >>> _ = fit("diabetes", out=folder)
    >>> doc = summary_json(folder)
    >>> doc["n_obs"], doc["cov_type"], doc["terms"][0]["name"], round(doc["r_squared"], 4)
    (442, 'nonrobust', 'const', 0.5177)
    """
    est, meta = load_fitted(model_path)
    if not _has_statistics(est):
        raise ParameterError(
            "model",
            "{param} {path!r} is a fit of {estimator} ({what}), which has no statistical "
            "summary; standard errors need an exact unpenalised least-squares fit ({0}, no "
            "{alpha})",
            value=str(model_path),
            path=str(model_path),
            estimator=type(est).__name__,
            what=model_kind(est, describe(est)[0], meta.get("settings")),
            suggestions=[("solver", "exact")],
        )
    s = _statistics(est, cov_type)
    terms = [
        {
            "name": str(name),
            "coef": number(s.coef[i]),
            "std_err": number(s.std_err[i]),
            "t": number(s.t[i]),
            "p_value": number(s.p_value[i]),
            "ci_low": number(s.ci_low[i]),
            "ci_high": number(s.ci_high[i]),
        }
        for i, name in enumerate(s.terms)
    ]
    return {
        "n_obs": count(s.n_obs),
        "df_model": count(s.df_model),
        "df_resid": count(s.df_resid),
        "r_squared": number(s.r_squared),
        "adj_r_squared": number(s.adj_r_squared),
        "f_statistic": number(s.f_statistic),
        "f_pvalue": number(s.f_pvalue),
        "cov_type": s.cov_type,
        "terms": terms,
    }


def number(value: Any) -> float | None:
    """A float for JSON, ``None`` when it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else None


def count(value: Any) -> int | float | None:
    """A count for JSON: an int when whole, ``None`` when not finite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() else value
