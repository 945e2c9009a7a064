"""Writing a run's results: model, metrics, report and figures."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from torchlinear import __version__
from torchlinear.estimators.persist import save_estimator
from torchlinear.io import atomic_write, ensure_writable_dir
from torchlinear.report import fit_report
from torchlinear.workflow.context import FitContext
from torchlinear.workflow.plan import unused_settings
from torchlinear.workflow.settings import FitResult, Options, Outcome
from torchlinear.workflow.sources import Data


def finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, NumPy values plain Python."""
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def describe_data(result: FitResult, data: Data, ctx: FitContext) -> dict[str, Any]:
    info: dict[str, Any] = {
        "source": data.label,
        "kind": data.kind,
        "target": data.target,
        "n_features": len(data.feature_names),
        "formula": None if data.design is None else data.design.formula,
        "sample_weight": data.weight,
        "rows": result.n_rows,
        "train_rows": result.n_train,
        "validation_rows": result.n_val,
        "rows_dropped": result.n_dropped,
        "streamed": result.streamed,
    }
    if ctx.given_val:
        info["validation"] = f"the test split of the built-in dataset {data.label!r}"
    elif ctx.val_fraction > 0:
        info["validation"] = (
            f"rows whose keyed hash (seed {ctx.opts.seed}) falls below {ctx.val_fraction:g}"
        )
    else:
        info["validation"] = None
    return info


def compact_json(value: Any, indent: int = 0) -> str:
    """JSON with one key per line, but a list of numbers or strings (a confusion matrix
    row, a list of classes) on a single line.

    Examples
    --------
    >>> print(compact_json({"n": 3, "confusion_matrix": [[2, 0], [0, 1]]}))
    {
      "n": 3,
      "confusion_matrix": [
        [2, 0],
        [0, 1]
      ]
    }
    """
    pad = "  " * (indent + 1)
    if isinstance(value, Mapping) and value:
        items = [
            f"{pad}{json.dumps(str(k))}: {compact_json(v, indent + 1)}" for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list | tuple) and any(
        isinstance(v, list | tuple | Mapping) for v in value
    ):
        items = [pad + compact_json(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, allow_nan=False, separators=(", ", ": "))


def without_confusion(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A split's metrics without the confusion matrix (it is written once, in
    ``metrics.json``)."""
    if metrics is None:
        return None
    return {k: v for k, v in metrics.items() if k != "confusion_matrix"}


def cv_summary(cv: Any) -> dict[str, Any] | None:
    """What metrics.json records of a cross-validated path."""
    if cv is None:
        return None
    bi, bj = cv.best_index
    return {
        "alpha_": cv.alpha,
        "l1_ratio_": cv.l1_ratio,
        "alpha_1se": cv.alpha_1se,
        "cv_mse": float(cv.mean_mse[bi, bj]),
        "cv_mse_se": float(cv.se_mse[bi, bj]),
        "n_folds": int(cv.mse_path.shape[2]),
        "n_alphas": int(cv.alphas.shape[1]),
        "l1_ratios": [float(r) for r in cv.l1_ratios],
        "files": ["cv_path.csv", "coef_path.csv"],
    }


def path_tables(cv: Any, feature_names: list[str]) -> dict[str, bytes]:
    """``cv_path.csv`` (mean and s.e. of the CV error, and each fold's, for every
    l1_ratio and alpha) and ``coef_path.csv`` (the all-rows path of the chosen l1_ratio)."""
    mean, se = cv.mean_mse, cv.se_mse
    K = cv.mse_path.shape[2]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["l1_ratio", "alpha", "mse_mean", "mse_se", *[f"mse_fold{k}" for k in range(K)]])
    for i, r in enumerate(cv.l1_ratios):
        for j, a in enumerate(cv.alphas[i]):
            folds = [repr(float(v)) for v in cv.mse_path[i, j]]
            out.writerow([repr(float(r)), repr(float(a)), repr(float(mean[i, j])),
                          repr(float(se[i, j])), *folds])  # fmt: skip
    coef = io.StringIO()
    out = csv.writer(coef, lineterminator="\n")
    out.writerow(["alpha", "intercept", *feature_names])
    path = cv.path
    for j, a in enumerate(path.alphas):
        out.writerow([repr(float(a)), repr(float(path.intercepts[j])),
                      *[repr(float(c)) for c in path.coefs[j]]])  # fmt: skip
    return {
        "cv_path.csv": buf.getvalue().encode("utf-8"),
        "coef_path.csv": coef.getvalue().encode("utf-8"),
    }


def write_outputs(
    result: FitResult,
    outcome: Outcome,
    data: Data,
    opts: Options,
    ctx: FitContext,
    folder: Path | None = None,
) -> list[Path]:
    """Write the run's files into ``folder`` (default ``result.out_dir``); return them."""
    settings = report_settings(result, opts, ctx)
    data_info = describe_data(result, data, ctx)
    metrics_doc = metrics_document(result, outcome, settings, data_info)
    report = fit_report(
        estimator=result.estimator,
        task=result.task,
        metrics=result.metrics,
        settings=settings,
        data_info=data_info,
        history=outcome.history,
        sample=outcome.sample,
        sample_split=outcome.sample_split,
        feature_names=data.feature_names,
        target=data.target,
        image_shape=data.image_shape,
        warnings=result.warnings,
        seconds=result.seconds,
        convergence=result.convergence,
        cross_validation=outcome.cv,
        figures=opts.figures,
    )
    rendered = report.render()  # everything computed before the first byte is written
    if outcome.cv is not None:
        rendered.update(path_tables(outcome.cv, data.feature_names))
    out = ensure_writable_dir(result.out_dir if folder is None else folder, name="out")
    files = []
    for name, blob in rendered.items():
        with atomic_write(out / name, "wb") as handle:
            handle.write(blob)
        files.append(out / name)
    with atomic_write(out / "metrics.json", "w", encoding="utf-8") as handle:
        handle.write(compact_json(metrics_doc) + "\n")
    files.append(out / "metrics.json")
    metadata = model_metadata(result, outcome, data, settings, data_info, metrics_doc)
    sidecar = save_estimator(result.estimator, out, metadata=metadata)  # the commit point
    weights = json.loads(sidecar.read_text(encoding="utf-8"))["weights"]["file"]
    files += [sidecar, out / weights]
    return files


def report_settings(result: FitResult, opts: Options, ctx: FitContext) -> dict[str, Any]:
    """The settings the report and the model file record: those this route used."""
    settings = {
        "task": result.task,
        "model": result.model,
        "estimator": type(result.estimator).__name__,
        "loss": ctx.plan.loss,
        "solver": result.solver,
        "alpha": opts.alpha,
        "l1_ratio": opts.l1_ratio,
        "delta": opts.delta,
        "hidden": opts.hidden,
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "lr": opts.lr,
        "val_split": ctx.val_fraction if not ctx.given_val else None,
        "patience": opts.patience,
        "seed": opts.seed,
        "device": str(ctx.device),
        "drop_na": opts.drop_na,
    }
    if opts.weight is not None:
        settings["sample_weight"] = opts.weight
    for key in unused_settings(ctx.plan):
        settings.pop(key, None)
    if ctx.plan.route == "exact" and not opts.alpha:
        settings["cov_type"] = opts.cov_type
    if ctx.plan.route == "exact":
        settings.pop("l1_ratio")
        if opts.alpha:  # ElasticNet's alpha with l1_ratio 0 is Ridge's alpha / n
            settings["ridge_alpha"] = float(result.estimator.alpha)
    if ctx.plan.route == "enet-cv":
        settings["l1_ratio"] = ", ".join(f"{r:g}" for r in opts.l1_ratios)
        settings["cv"] = (
            f"{opts.cv} hashed folds (seed {opts.seed})"
            if opts.cv_shuffle
            else f"{opts.cv} contiguous folds (as KFold({opts.cv}))"
        )
        settings["alphas"] = (
            ", ".join(f"{a:g}" for a in opts.alphas)
            if opts.alphas is not None
            else f"{opts.n_alphas} (automatic grid)"
        )
    return {k: v for k, v in settings.items() if v is not None}


def training_summary(history: Any) -> dict[str, Any] | None:
    """Epochs run, why training stopped, the best epoch and the final losses."""
    if history is None:
        return None
    h = history
    return {
        "epochs_run": len(h),
        "stop_reason": h.stop_reason,
        "best_epoch": h.best_epoch,
        "final_train_loss": h.train_loss[-1] if h.train_loss else None,
        "final_val_loss": h.val_loss[-1] if h.val_loss else None,
        "seconds": float(sum(h.epoch_time)),
    }


def metrics_document(
    result: FitResult, outcome: Outcome, settings: dict[str, Any], data_info: dict[str, Any]
) -> Any:
    """The content of ``metrics.json`` (JSON-safe)."""
    return finite(
        {
            "format": "torchlinear-metrics",
            "library_version": __version__,
            "task": result.task,
            "model": result.model,
            "estimator": settings["estimator"],
            "solver": result.solver,
            "data": data_info,
            "train": result.metrics["train"],
            "validation": result.metrics["validation"],
            "training": training_summary(outcome.history),
            "fit_seconds": result.seconds,
            "convergence": result.convergence,
            "cross_validation": cv_summary(outcome.cv),
            "warnings": result.warnings,
        }
    )


def model_metadata(
    result: FitResult,
    outcome: Outcome,
    data: Data,
    settings: dict[str, Any],
    data_info: dict[str, Any],
    metrics_doc: Any,
) -> dict[str, Any]:
    """What the model's JSON sidecar records besides the estimator's state: the target,
    settings, metrics, data, scaler, image shape and design (for ``predict``)."""
    metadata = {
        "target": data.target,
        "training": finite(outcome.config) if outcome.config is not None else None,
        "settings": finite(settings),
        "metrics": {
            "train": without_confusion(metrics_doc["train"]),
            "validation": without_confusion(metrics_doc["validation"]),
        },
        "data": finite(data_info),
    }
    if outcome.scaler is not None and result.model != "mlp":
        metadata["scaler"] = {
            "mean": outcome.scaler.mean_.tolist(),
            "scale": outcome.scaler.scale_.tolist(),
        }
    if data.image_shape is not None:
        metadata["image_shape"] = list(data.image_shape)
    if data.design is not None:  # the formula and levels predict applies to raw data
        metadata["design"] = data.design.to_dict()
    return metadata
