"""The report of a fit: ``report.md`` with its figures, and the coefficient tables.

:func:`fit_report` gathers what a fit produced (settings, data, metrics, history, a sample
of predictions) into a :class:`Report`: Markdown text plus figures. Nothing is written
until :meth:`Report.write` (or rendered until :meth:`Report.render`), so a caller can
compute everything first and then write every file atomically.

Figures (built with :class:`matplotlib.figure.Figure`, no pyplot, no global backend):

* ``loss_curves.png``: training (and validation) loss per epoch of a gradient fit, with
  accuracy for classifiers; the objective per iteration of an L-BFGS softmax fit;
* ``predicted_vs_actual.png`` and ``residuals.png`` (regression);
* ``confusion_matrix.png`` (classification);
* ``weight_templates.png``: each class's weights drawn as an image (softmax regression on
  an image dataset).
"""

from __future__ import annotations

import importlib
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from torchlinear._format import (
    escape_control,
    figure_text,
    format_number,
    free_name,
    markdown_table,
    text_table,
)
from torchlinear.io import atomic_write, ensure_writable_dir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Report",
    "coefficient_rows",
    "coefficient_text",
    "fit_report",
    "plots",
    "predicted_vs_actual_figure",
    "residuals_figure",
]


def plots() -> ModuleType:
    """:mod:`torchlinear.plots`, imported when the first figure is drawn.

    matplotlib takes about 0.5 s and 25 MB to import, which the commands that draw nothing
    (``predict``, ``evaluate``, ``summary``) do not pay.
    """
    return importlib.import_module("torchlinear.plots")


def _figure(**kwargs: Any) -> Figure:
    return importlib.import_module("matplotlib.figure").Figure(**kwargs)


def _margins(fig: Figure, *, left: float, bottom: float, top: float, wspace: float = 0.0) -> None:
    """Fixed margins, in inches, for the figures of every run folder: room for tick labels
    of up to 7 characters (matplotlib switches to an offset beyond), an axis label and a
    title. A constrained layout finds the same room by measuring every text twice, which
    made up half of the figures' drawing time."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1 - 0.25 / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=wspace,
    )


_MAX_POINTS = 5000
CONFUSION_FIGURE_CLASSES = 100  # the confusion matrix is drawn up to this many classes
SUMMARY_TERMS = 50  # rows of the statistical summary in the report (all: `summary RUN`)


def _as_float(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y, p = _as_float(y_true), _as_float(y_pred)
    if len(y) != len(p):
        raise ValueError(f"y_pred has {len(p)} values but y_true has {len(y)}")
    if len(y) == 0:
        raise ValueError("y_true is empty; a figure needs at least one point")
    return y, p


def _thin(n: int, limit: int) -> np.ndarray | slice:
    if n <= limit:
        return slice(None)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def _named(what: str, target: str | None) -> str:
    return f"{what} {figure_text(target)}" if target else what


def predicted_vs_actual_figure(
    y_true: Any, y_pred: Any, *, title: str | None = None, target: str | None = None
) -> Figure:
    """Predictions against the true values, with the line ``predicted = actual``.

    Points on the diagonal are predicted exactly; the R² of the points is in the title.
    ``target`` names the axes (``actual price``, ``predicted price``).

    Examples
    --------
    >>> fig = predicted_vs_actual_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.2], target="price")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('actual price', 'predicted price')
    """
    y, p = _pair(y_true, y_pred)
    shown = _thin(len(y), _MAX_POINTS)
    fig = _figure(figsize=(5.6, 5.0))
    _margins(fig, left=1.0, bottom=0.6, top=0.6)
    ax = fig.add_subplot()
    ax.scatter(y[shown], p[shown], **_markers(len(y)))
    lo = float(min(y.min(), p.min()))
    hi = float(max(y.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1.0, label="predicted = actual")
    ax.set_xlabel(_named("actual", target))
    ax.set_ylabel(_named("predicted", target))
    ax.legend(loc="upper left", fontsize="small")
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - p) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan
    stats = f"n = {len(y):,}, R² = {r2:.4f}"
    ax.set_title(f"{title}\n{stats}" if title else f"Predicted vs actual ({stats})", fontsize=10)
    return fig


def _markers(n: int) -> dict[str, Any]:
    """Scatter markers that stay readable: large and opaque for a few points, smaller for many."""
    size = 28 if n <= 500 else 14 if n <= 5_000 else 8
    alpha = 0.85 if n <= 500 else 0.6 if n <= 5_000 else 0.45
    return {
        "s": size,
        "alpha": alpha,
        "color": "tab:blue",
        "edgecolors": "white",
        "linewidths": 0.3,
    }


def residuals_figure(
    y_true: Any, y_pred: Any, *, title: str | None = None, target: str | None = None
) -> Figure:
    """Residuals ``actual - predicted``: against the prediction (left) and their
    histogram (right). A good linear fit shows a structureless band around zero.

    Examples
    --------
    >>> fig = residuals_figure([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.9])
    >>> len(fig.axes), fig.axes[0].get_ylabel()
    (2, 'residual (actual − predicted)')
    """
    y, p = _pair(y_true, y_pred)
    r = y - p
    shown = _thin(len(y), _MAX_POINTS)
    fig = _figure(figsize=(10.0, 4.4))
    _margins(fig, left=1.05, bottom=0.6, top=0.75 if title else 0.4, wspace=0.3)
    left, right = fig.subplots(1, 2)
    left.scatter(p[shown], r[shown], **_markers(len(y)))
    left.axhline(0.0, color="black", linewidth=1.0)
    left.set_xlabel(_named("predicted", target))
    left.set_ylabel(_named("residual", target) + " (actual − predicted)")
    left.set_title("Residuals vs predicted")
    bins = int(min(60, max(10, math.sqrt(len(r)))))
    if np.ptp(r) <= 1e-9 * max(1.0, float(np.abs(r).max())):
        bins = 1  # (almost) equal residuals: one bar, not bins narrower than rounding
    right.hist(r, bins=bins, color="tab:blue", alpha=0.85, edgecolor="white", linewidth=0.4)
    right.axvline(0.0, color="black", linewidth=1.0)
    right.set_xlabel(_named("residual", target))
    right.set_ylabel("count")
    right.set_title(f"Residual distribution (sd {float(r.std()):.4g})")
    if title:
        fig.suptitle(title)
    return fig


# Coefficient tables


def coefficient_rows(
    estimator: Any, feature_names: Sequence[str], *, max_rows: int = 50
) -> tuple[list[str], list[list[str]], int]:
    """The coefficient table of a linear or softmax model as ``(headers, rows, hidden)``.

    One row per feature (the intercept first, named ``(intercept)``, or
    ``((intercept))`` when a feature has that name), one value column for a regression and one
    per class for softmax regression. With more than ``max_rows`` features only those
    with the largest absolute coefficients are listed, in feature order; ``hidden``
    counts the others. Coefficients are on the original feature scale; exact zeros (an
    L1 penalty's work) show as ``0``.

    Examples
    --------
    >>> from torchlinear import LinearRegression
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> model = LinearRegression().fit(X, X @ [2.0, -1.0] + 0.5)
    >>> headers, rows, hidden = coefficient_rows(model, ["a", "b"])
    >>> headers, rows
    (['term', 'coefficient'], [['(intercept)', '0.5'], ['a', '2'], ['b', '-1']])
    """
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    names = [str(n) for n in feature_names]
    if coef.shape[1] != len(names):
        raise ValueError(f"{len(names)} feature names for {coef.shape[1]} coefficients")
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        headers = (
            ["term", "coefficient"]
            if coef.shape[0] == 1
            else ["term"] + [f"target {j}" for j in range(coef.shape[0])]
        )
    else:
        labels = [str(c.item() if isinstance(c, np.generic) else c) for c in classes]
        # two classes: one logit vector, the log-odds of the second class
        headers = ["term"] + ([f"log-odds of {labels[1]}"] if coef.shape[0] == 1 else labels)
    keep = np.arange(coef.shape[1])
    hidden = 0
    if coef.shape[1] > max_rows:
        size = np.abs(coef).max(axis=0)
        keep = np.sort(np.argsort(-size, kind="stable")[:max_rows])
        hidden = coef.shape[1] - max_rows
    rows = [[free_name("(intercept)", names)] + [format_number(v) for v in intercept]]
    rows += [[names[j]] + [format_number(v) for v in coef[:, j]] for j in keep]
    return headers, rows, hidden


def _mlp_description(estimator: Any) -> tuple[list[str], list[list[str]]]:
    rows = []
    total = 0
    for name, p in estimator.module_.named_parameters():
        rows.append([name.removeprefix("module."), "x".join(map(str, p.shape)), str(p.numel())])
        total += p.numel()
    rows.append(["total", "", str(total)])
    return ["parameter", "shape", "values"], rows


def coefficient_text(estimator: Any, feature_names: Sequence[str], *, max_rows: int = 50) -> str:
    """:func:`coefficient_rows` as aligned plain text (the MLP: its layers' shapes).

    Examples
    --------
    >>> from torchlinear import LinearRegression
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> print(coefficient_text(LinearRegression().fit(X, 2 * X[:, 0] + 1), ["x"]))
    term         coefficient
    ------------------------
    (intercept)            1
    x                      2
    """
    if hasattr(estimator, "module_"):
        return text_table(*_mlp_description(estimator))
    headers, rows, hidden = coefficient_rows(estimator, feature_names, max_rows=max_rows)
    text = text_table(headers, rows)
    if hidden:
        text += f"\n({hidden} more features with smaller coefficients not shown)"
    return text


# The report


@dataclass
class Report:
    """Markdown text and the figures it links to (file name -> Figure)."""

    markdown: str
    figures: dict[str, Figure] = field(default_factory=dict)
    name: str = "report.md"

    def render(self, dpi: int = 100) -> dict[str, bytes]:
        """Every file's bytes: the PNG figures, then the Markdown."""
        files = {}
        for name, fig in self.figures.items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
            files[name] = buf.getvalue()
        files[self.name] = self.markdown.encode("utf-8")
        return files

    def write(self, folder: str | os.PathLike[str], dpi: int = 100) -> list[Path]:
        """Render everything, then write each file atomically into ``folder``."""
        rendered = self.render(dpi)
        out = ensure_writable_dir(folder, name="report folder")
        paths = []
        for name, blob in rendered.items():
            with atomic_write(out / name, "wb") as handle:
                handle.write(blob)
            paths.append(out / name)
        return paths


_METRIC_NAMES = {
    "n": "rows",
    "r2": "R²",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "accuracy": "accuracy",
    "log_loss": "log-loss (cross-entropy)",
    "unseen_labels": "rows with labels unseen in training",
}


def _metrics_table(metrics: Mapping[str, Any]) -> str:
    train = metrics.get("train") or {}
    val = metrics.get("validation") or {}
    keys = [k for k in _METRIC_NAMES if k in train or k in val]
    rows = [
        [_METRIC_NAMES[k], format_number(train.get(k)), format_number(val.get(k))] for k in keys
    ]
    headers = ["metric", "training", "validation"] if val else ["metric", "training"]
    if not val:
        rows = [r[:2] for r in rows]
    return markdown_table(headers, rows)


def _history_table(history: Any, limit: int = 12) -> str:
    rows = history.rows()
    if len(rows) > limit:
        half = limit // 2
        rows = rows[:half] + [None] + rows[-half:]
    keys = [k for k in (rows[0] or {}) if k != "epoch_time"]
    lines = []
    for row in rows:
        if row is None:
            lines.append(["…"] * len(keys))
        else:
            lines.append([format_number(row[k]) for k in keys])
    return markdown_table(keys, lines)


def _class_index(classes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    index = np.searchsorted(classes, labels)
    index = np.clip(index, 0, len(classes) - 1)
    return np.where(classes[index] == labels, index, -1)


def fit_report(
    *,
    estimator: Any,
    task: str,
    metrics: Mapping[str, Any],
    settings: Mapping[str, Any],
    data_info: Mapping[str, Any],
    history: Any = None,
    sample: tuple[Any, Any] | None = None,
    sample_split: str = "validation",
    feature_names: Sequence[str] = (),
    target: str | None = None,
    image_shape: Sequence[int] | None = None,
    warnings: Sequence[str] = (),
    seconds: float | None = None,
    convergence: str | None = None,
    cross_validation: Any = None,
    figures: bool = True,
) -> Report:
    """Build the report of a fit (nothing is written; see :meth:`Report.write`).

    Parameters
    ----------
    estimator : fitted estimator
    task : {"regression", "classification"}
    metrics : mapping
        ``{"train": {...}, "validation": {...} or None}``.
    settings : mapping
        The options of the fit, shown as a table.
    data_info : mapping
        Facts about the data (``source``, ``rows``, ``train_rows``, ``validation_rows``,
        ``rows_dropped``, ``validation``, ``streamed``).
    history : torchlinear.engine.History, optional
        Per-epoch record of gradient training (the loss curves).
    sample : (y_true, output), optional
        Rows for the figures: true values and predictions (regression) or true labels and
        log-probabilities of shape ``(n, k)`` (classification).
    sample_split : str
        Which rows the sample comes from ("validation" or "training").
    feature_names, target, image_shape :
        Names for the tables; ``image_shape`` (C, H, W) adds weight templates for softmax
        regression on images.
    warnings : sequence of str
        Shown in a section of their own.
    seconds : float, optional
        The fit's wall time.
    convergence : str, optional
        Whether the iterative solver met its criterion (one line, shown under the
        settings).
    cross_validation : CVPathResult, optional
        The cross-validated elastic-net path (``ElasticNetCV.cv_results_``): adds its
        section and two figures, ``coefficient_path.png`` and ``cv_curve.png``.
    figures : bool, default True
        Draw the figures; ``False``: the text and tables alone (matplotlib is not
        imported), and the report says that its figures were not drawn.

    Returns
    -------
    Report

    Examples
    --------
    >>> from torchlinear import LinearRegression
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> y = X @ [1.0, -2.0] + 0.1
    >>> model = LinearRegression().fit(X, y)
    >>> report = fit_report(estimator=model, task="regression", metrics={"train": {"n": 50}},
    ...                     settings={"solver": "cholesky"}, data_info={"source": "demo"},
    ...                     sample=(y, model.predict(X)), feature_names=["a", "b"], target="y")
    >>> sorted(report.figures), report.markdown.splitlines()[0]
    (['predicted_vs_actual.png', 'residuals.png'], '# LinearRegression on demo')
    """
    name = type(estimator).__name__
    drawn: dict[str, Figure] = {}
    md = _overview(name, task, metrics, settings, data_info, feature_names, target, seconds,
                   convergence)  # fmt: skip
    if cross_validation is not None:
        md += _cv_section(cross_validation, feature_names, drawn if figures else None)
    figure_lines = []
    if figures:
        figure_lines += _loss_section(name, estimator, task, history, drawn)
        if sample is not None and len(sample[0]):
            figure_lines += _sample_section(
                name, estimator, task, sample, sample_split, target, drawn
            )
        if image_shape is not None and hasattr(estimator, "coef_") and task == "classification":
            figure_lines += _templates_section(name, estimator, image_shape, drawn)
    else:
        figure_lines.append("Not drawn: this fit was asked for no figures.")
    if figure_lines:
        md += ["## Figures", ""]
        for line in figure_lines:
            md += [line, ""]
    md += _parameters_section(estimator, feature_names)
    if history is not None and len(history):
        md += ["## Training history", ""]
        md.append(
            f"{len(history)} epoch(s), stopped: {history.stop_reason}"
            + (f", best validation epoch {history.best_epoch}" if history.best_epoch else "")
            + "."
        )
        md += ["", _history_table(history), ""]
    if warnings:
        md += ["## Warnings", ""]
        md += [f"- {w}" for w in warnings]
        md.append("")
    return Report("\n".join(md).rstrip() + "\n", drawn)


def _overview(
    name: str,
    task: str,
    metrics: Mapping[str, Any],
    settings: Mapping[str, Any],
    data_info: Mapping[str, Any],
    feature_names: Sequence[str],
    target: str | None,
    seconds: float | None,
    convergence: str | None,
) -> list[str]:
    """The title, the facts about the data, the settings and the metrics."""
    source = escape_control(data_info.get("source", "the data"))
    md: list[str] = [f"# {name} on {source}", ""]
    rows = data_info.get("rows")
    facts = []
    if target is not None:
        facts.append(f"target `{escape_control(target)}`")
    if feature_names:
        facts.append(f"{len(feature_names)} feature(s)")
    if rows is not None and not data_info.get("validation_rows"):
        facts.append(f"all {rows} rows used for the fit (no validation split)")
    elif rows is not None:
        facts.append(
            f"{rows} rows: {data_info.get('train_rows')} for training, "
            f"{data_info.get('validation_rows')} for validation"
        )
    md.append(f"A {task} model: {', '.join(facts)}.")
    if data_info.get("validation"):
        md.append(f"Validation rows: {data_info['validation']}.")
    if data_info.get("rows_dropped"):
        md.append(f"{data_info['rows_dropped']} row(s) with missing values were skipped.")
    if data_info.get("streamed"):
        md.append("The data was streamed in chunks, never loaded whole into memory.")
    if seconds is not None:
        md.append(f"Fitted in {seconds:.3g} s.")
    md += ["", "## Settings", ""]
    md.append(markdown_table(["setting", "value"], [[k, str(v)] for k, v in settings.items()]))
    if convergence:
        md += ["", f"Solver: {convergence}."]
    md += ["", "## Metrics", "", _metrics_table(metrics), ""]
    if task == "regression" and "mae" not in (metrics.get("train") or {}):
        md.append(
            "The exact fit's metrics come from the sufficient statistics of its single pass "
            "over the data; `torchlinear evaluate` also reports the MAE."
        )
        md.append("")
    return md


def _loss_section(
    name: str, estimator: Any, task: str, history: Any, figures: dict[str, Figure]
) -> list[str]:
    """The loss curve (titled with the model's name), added to ``figures``."""
    curve = _loss_figure(estimator, task, history)
    if curve is None:
        return []
    if curve.get_suptitle():  # the model's name on the figure: in the one title there is
        curve.suptitle(f"{name}: {curve.get_suptitle()}")
    else:
        ax = curve.axes[0]
        ax.set_title(f"{name}: {ax.get_title()[:1].lower()}{ax.get_title()[1:]}")
    figures["loss_curves.png"] = curve
    return ["![Loss per epoch](loss_curves.png)"]


def _sample_section(
    name: str,
    estimator: Any,
    task: str,
    sample: tuple[Any, Any],
    split: str,
    target: str | None,
    figures: dict[str, Figure],
) -> list[str]:
    """The figures of the sample rows: predicted vs actual and residuals (regression), the
    confusion matrix (classification)."""
    y_true, output = sample
    if task == "regression":
        figures["predicted_vs_actual.png"] = predicted_vs_actual_figure(
            y_true, output, title=f"{name}: predicted vs actual, {split} rows", target=target
        )
        figures["residuals.png"] = residuals_figure(
            y_true, output, title=f"{name}: residuals, {split} rows", target=target
        )
        return [
            "![Predicted vs actual](predicted_vs_actual.png)",
            "![Residuals](residuals.png)",
        ]
    classes = np.asarray(estimator.classes_)
    index = _class_index(classes, np.asarray(y_true))
    known = index >= 0
    pred = np.asarray(output).argmax(axis=1)
    if len(classes) > CONFUSION_FIGURE_CLASSES:
        return [
            f"No confusion matrix: {len(classes)} classes (drawn up to {CONFUSION_FIGURE_CLASSES})."
        ]
    if not known.any():
        return []
    fig = plots().confusion_matrix_figure(
        index[known], pred[known], class_names=_class_names(classes), title=f"{name}, {split} rows"
    )
    figures["confusion_matrix.png"] = fig
    return ["![Confusion matrix](confusion_matrix.png)"]


def _class_names(classes: Any) -> list[str]:
    return [str(c.item() if isinstance(c, np.generic) else c) for c in classes]


def _templates_section(
    name: str, estimator: Any, image_shape: Sequence[int], figures: dict[str, Figure]
) -> list[str]:
    """The weight templates of softmax regression on images, added to ``figures``."""
    names = _class_names(estimator.classes_)
    if np.ndim(estimator.coef_) == 2 and np.shape(estimator.coef_)[0] == 1:
        names = [f"log-odds of {names[-1]}"]  # two classes: one weight vector
    figures["weight_templates.png"] = plots().weight_templates(
        estimator.coef_, tuple(image_shape), class_names=names, title=name
    )
    return ["![Weight templates](weight_templates.png)"]


def _parameters_section(estimator: Any, feature_names: Sequence[str]) -> list[str]:
    """The statistical summary of an unpenalised exact fit, else the network's layers or
    the coefficient table."""
    if getattr(estimator, "solution_", None) is not None and getattr(estimator, "alpha", 1) == 0:
        table = estimator.summary().as_text(max_terms=SUMMARY_TERMS)
        return ["## Summary", "", "```text", table, "```", ""]
    if hasattr(estimator, "module_"):
        return ["## Network", "", markdown_table(*_mlp_description(estimator)), ""]
    if not hasattr(estimator, "coef_"):
        return []
    headers, rows, hidden = coefficient_rows(estimator, feature_names)
    md = ["## Coefficients", "", "On the original scale of the features.", ""]
    md.append(markdown_table(headers, rows))
    if hidden:
        md.append("")
        md.append(
            f"{hidden} more features with smaller coefficients are not shown (all are in "
            "the model files)."
        )
    coef = np.asarray(estimator.coef_)
    zeros = int((coef == 0).all(axis=0).sum()) if coef.ndim == 2 else int((coef == 0).sum())
    if zeros:
        md += ["", f"{zeros} coefficient(s) are exactly zero (the L1 penalty removed them)."]
    md.append("")
    return md


def _cv_section(
    cv: Any, feature_names: Sequence[str], figures: dict[str, Figure] | None
) -> list[str]:
    """The cross-validation section, and its two figures added to ``figures`` (none when
    ``figures`` is ``None``; the path and the CV errors are in ``coef_path.csv`` and
    ``cv_path.csv`` still)."""
    bi, bj = cv.best_index
    mean, se = cv.mean_mse, cv.se_mse
    K = cv.mse_path.shape[2]
    md = ["## Cross-validation", ""]
    md.append(
        f"{K}-fold cross-validation over {cv.alphas.shape[1]} alphas"
        + (f" and {len(cv.l1_ratios)} l1_ratios" if len(cv.l1_ratios) > 1 else "")
        + ", every fold's statistics from the same single pass over the data."
    )
    md.append("")
    rows = [
        ["alpha_ (smallest mean CV error)", format_number(cv.alpha)],
        ["l1_ratio_", format_number(cv.l1_ratio)],
        ["alpha_1se (largest alpha within 1 s.e.)", format_number(cv.alpha_1se)],
        ["mean CV MSE at alpha_", f"{format_number(mean[bi, bj])} ± {format_number(se[bi, bj])}"],
    ]
    md += [markdown_table(["", "value"], rows), ""]
    if figures is None:
        return md
    ratio = f", l1_ratio {format_number(cv.l1_ratio)}"
    figures["coefficient_path.png"] = plots().coefficient_path(
        cv.path.alphas,
        cv.path.coefs,
        alpha=cv.alpha,
        alpha_1se=cv.alpha_1se,
        feature_names=list(feature_names) or None,
        title=f"Coefficient path (all rows{ratio})",
    )
    figures["cv_curve.png"] = plots().cv_curve(
        cv.alphas[bi],
        cv.mse_path[bi],
        alpha_min=cv.alpha,
        alpha_1se=cv.alpha_1se,
        title=f"{K}-fold CV error ± 1 s.e.{ratio}",
    )
    md += ["![Coefficients against log alpha](coefficient_path.png)", ""]
    md += ["![CV error against log alpha](cv_curve.png)", ""]
    return md


def _loss_figure(estimator: Any, task: str, history: Any) -> Figure | None:
    if history is not None and len(history):
        if task == "classification":
            return plots().training_curves(history, title="Loss and accuracy per epoch")
        series = {"training": list(history.train_loss)}
        if history.val_loss:
            series["validation"] = list(history.val_loss)
        return plots().loss_curves(series, start_epoch=1, ylabel="loss (mean over rows)")
    curve = getattr(estimator, "loss_curve_", None)
    if curve:
        fig = plots().loss_curves({"objective": list(curve)}, start_epoch=1, ylabel="objective")
        fig.axes[0].set_xlabel("L-BFGS iteration")
        fig.axes[0].set_title("Objective per iteration")
        return fig
    return None
