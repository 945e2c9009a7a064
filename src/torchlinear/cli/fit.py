"""``torchlinear fit DATA``: fit a model to a file or a built-in dataset, write a run folder.

The command parses its options, calls :func:`torchlinear.workflow.fit` and prints what it
returns. Under ``torchrun`` every rank fits its share of the data; rank 0 alone writes
and prints.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from torchlinear._format import escape_control, format_number
from torchlinear.cli.base import PROG, print_warnings

__all__ = ["PARAMS", "add_parser", "metric_line", "run"]

PARAMS = (
    "target", "features", "task", "model", "loss", "solver", "alpha", "l1_ratio", "delta",
    "hidden", "epochs", "batch_size", "lr", "val_split", "patience", "seed", "device",
    "drop_na", "delimiter", "out", "overwrite", "resume", "max_classes", "stream", "download",
    "batch_rows", "formula", "max_levels", "memory_limit", "cov_type",
    "cv", "cv_shuffle", "alphas", "n_alphas", "weight", "positive", "figures",
)  # fmt: skip
"""The library parameters the command passes to :func:`torchlinear.workflow.fit`."""

EXAMPLES = """\
examples:
  torchlinear fit houses.csv --target price --out runs/houses
  torchlinear fit houses.parquet --target price --features area,rooms --loss huber
  torchlinear fit houses.csv --formula "price ~ area + np.log(lot) + C(district)"
  torchlinear fit houses.csv --target price --l1-ratio 0.5 --alpha cv --cv 5
  torchlinear fit iris.csv --target species --model mlp --hidden 32 --epochs 200
  torchlinear fit digits --out runs/digits         (a built-in dataset)

DATA is a CSV (.csv, .tsv, .txt; also compressed: .csv.gz, .bz2, .zst, .lz4) or Parquet
(.parquet, .pq) file, or a built-in dataset:
synthetic, diabetes, digits, mnist, fashion-mnist, cifar10. Least squares is fitted
exactly in one streaming pass, so the file may be larger than memory.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``fit``."""
    parser = sub.add_parser(
        "fit",
        help="fit a model to a CSV/Parquet file or built-in dataset; write model, metrics, report",
        description=(
            "Fit a model and write into DIR: the model (model.json + safetensors weights), "
            "metrics.json, and report.md with figures (loss curves; residuals and "
            "predicted-vs-actual, or the confusion matrix; the coefficients or the "
            "statistical summary)."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_arguments(parser)
    _model_arguments(parser)
    _penalty_arguments(parser)
    _training_arguments(parser)
    _run_arguments(parser)
    _resource_arguments(parser)
    parser.set_defaults(run=run, params=PARAMS)


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data: the file or dataset, its target and features (or a formula), the task."""
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument("--target", metavar="COL", help="the target column (needed for files)")
    parser.add_argument(
        "--features", metavar="A,B,C", help="feature columns (default: all but the target)"
    )
    parser.add_argument(
        "--weight",
        metavar="COL",
        help="a column of sample weights (>= 0): weighted least squares, weighted metrics",
    )
    parser.add_argument(
        "--formula",
        metavar="F",
        help='a formula such as "y ~ x1 + np.log(x2) + C(color)" instead of --target and '
        "--features (saved with the model; text columns are one-hot encoded without it)",
    )
    parser.add_argument(
        "--max-levels",
        type=int,
        metavar="N",
        help="refuse a text (categorical) column with more distinct values (default 1000)",
    )
    parser.add_argument(
        "--task",
        choices=("regression", "classification"),
        help="default: classification for a text/boolean target, --model softmax or --loss ce",
    )


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, its loss and the solver."""
    parser.add_argument(
        "--model",
        choices=("linear", "softmax", "mlp"),
        default="linear",
        help="linear (least squares / robust; softmax for classification), softmax, or a "
        "two-layer MLP (default linear)",
    )
    parser.add_argument(
        "--loss",
        choices=("squared", "l1", "huber", "ce"),
        help="default: squared for regression, ce (cross-entropy) for classification",
    )
    parser.add_argument("--delta", type=float, metavar="D", help="Huber's threshold (default 1)")
    parser.add_argument(
        "--solver",
        choices=("auto", "exact", "sgd", "adam", "lbfgs"),
        default="auto",
        help="auto: exact for least squares, L-BFGS or Adam otherwise (default auto)",
    )


def _penalty_arguments(parser: argparse.ArgumentParser) -> None:
    """The penalty, its cross-validation, and the summary's covariance."""
    parser.add_argument(
        "--alpha",
        metavar="A",
        help="penalty strength; for least squares exactly scikit-learn's ElasticNet alpha "
        "(on the mean squared loss / 2), or 'cv' to choose it by cross-validation "
        "(default: 0; 1e-4 for softmax)",
    )
    parser.add_argument(
        "--l1-ratio",
        default="0",
        metavar="R",
        help="L1 share of the elastic-net penalty, 0..1 (default 0: ridge); with --alpha cv "
        "a list such as 0.2,0.5,0.9",
    )
    parser.add_argument(
        "--positive",
        action="store_true",
        help="least squares with coefficients >= 0 (non-negative least squares, with the "
        "--alpha/--l1-ratio penalty if any), solved exactly on the statistics of one pass",
    )
    parser.add_argument(
        "--cv",
        type=int,
        default=5,
        metavar="K",
        help="folds of --alpha cv: contiguous runs of rows, like KFold(K) (default 5)",
    )
    parser.add_argument(
        "--cv-shuffle",
        action="store_true",
        help="--alpha cv: seeded shuffled folds (by --seed) instead of contiguous ones",
    )
    parser.add_argument(
        "--alphas",
        metavar="A,B,...",
        help="--alpha cv: the alphas to try (default: an automatic grid of --n-alphas)",
    )
    parser.add_argument(
        "--n-alphas",
        type=int,
        default=100,
        metavar="N",
        help="--alpha cv: size of the automatic alpha grid (default 100)",
    )
    parser.add_argument(
        "--cov",
        dest="cov_type",
        default="nonrobust",
        metavar="TYPE",
        help="standard errors of the least-squares summary: nonrobust (default) or the "
        "heteroscedasticity-consistent HC0, HC1, HC2, HC3 (one more pass over the data)",
    )


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    """Gradient training: the network, epochs, batches, validation, seed, device."""
    parser.add_argument(
        "--hidden", type=int, metavar="H", help="hidden width of the MLP (default 64)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="E",
        help="training epochs (default 100; 20 for minibatch softmax); sweeps of coordinate "
        "descent for an L1 penalty (default 1000)",
    )
    parser.add_argument("--batch-size", type=int, metavar="B", help="minibatch size (default 256)")
    parser.add_argument("--lr", type=float, metavar="LR", help="learning rate")
    parser.add_argument(
        "--val-split",
        type=float,
        metavar="F",
        help="fraction of rows held out for validation (default: 0 for exact least squares, "
        "which uses every row; 0.2 for gradient training; an image dataset's test split)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        metavar="P",
        help="early stopping: stop after P epochs without a better validation loss",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seeds split, weights, shuffling (0)"
    )
    parser.add_argument(
        "--device", default="auto", metavar="DEV", help="cpu, cuda, cuda:N, mps or auto (auto)"
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    """The run folder and how the data is read into it."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: a new ./runs/fit-<timestamp>/)",
    )
    parser.add_argument(
        "--drop-na", action="store_true", help="skip rows with missing values instead of failing"
    )
    parser.add_argument(
        "--delimiter",
        metavar="C",
        help="CSV field separator, \\t for a tab (default ',', tab for .tsv)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in DIR (the whole folder); without it a non-empty DIR "
        "is refused",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted fit into DIR, or DIR's complete run with a larger "
        "--epochs (same data and settings, checked)",
    )
    parser.add_argument(
        "--max-classes",
        type=int,
        metavar="K",
        help="most distinct target values for classification (default 1000; by default a "
        "target whose values mostly occur once is refused too)",
    )


def _resource_arguments(parser: argparse.ArgumentParser) -> None:
    """Streaming, downloads, chunks, the memory budget and progress bars."""
    parser.add_argument(
        "--stream",
        action="store_true",
        default=None,
        help="stream the file from disk every epoch even if it fits in memory",
    )
    parser.add_argument(
        "--download", action="store_true", help="download missing built-in dataset files"
    )
    parser.add_argument(
        "--batch-rows", type=int, metavar="N", help="rows per chunk read (default: about 4 MB)"
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="memory budget of the fit, e.g. 800M or 2G: files, solvers and tables that "
        "would need more are refused before allocating (default: half the available "
        "memory, or $TORCHLINEAR_MEMORY_LIMIT)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument(
        "--no-figures",
        dest="figures",
        action="store_false",
        help="write the report without its figures (drawing them takes about a second of "
        "a small fit: for many fits in a row)",
    )


_METRIC_LABELS = {"r2": "R²", "rmse": "RMSE", "mse": "MSE", "mae": "MAE", "log_loss": "log-loss"}


def metric_line(values: Mapping[str, Any] | None) -> str:
    """``R² 0.93, RMSE 19929.9, …, n 4001``: one split's metrics on one line.

    Examples
    --------
    >>> metric_line({"n": 10, "r2": 0.123456789, "mse": 4e-7})
    'R² 0.123457, MSE 4e-07, n 10'
    """
    if not values:
        return "-"
    order = ("r2", "rmse", "mse", "mae", "accuracy", "log_loss", "n")
    return ", ".join(
        f"{_METRIC_LABELS.get(k, k)} {format_number(values[k])}" for k in order if k in values
    )


def run(args: argparse.Namespace) -> int:
    """Fit, then print the summary lines (rank 0 of a ``torchrun`` job only)."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear import distributed as tld
    from torchlinear.engine import DivergenceError
    from torchlinear.workflow import TrainingInterrupted, fit, join_group

    kwargs = {name: getattr(args, name) for name in PARAMS}
    for name in ("delta", "hidden", "batch_size"):  # not given: fit()'s own default
        if kwargs[name] is None:
            del kwargs[name]
    if kwargs["device"] == "auto":
        kwargs["device"] = None
    joined = join_group(kwargs["device"])
    main = tld.is_main_process()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fit(args.data, progress=not args.no_progress, **kwargs)
        except TrainingInterrupted as exc:
            print_warnings(caught, "fit")
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 130
        except DivergenceError:
            print_warnings(caught, "fit")  # what led to the divergence, then the error itself
            raise
        finally:
            if joined:
                tld.shutdown()
    if not main:
        return 0
    estimator = type(result.estimator).__name__
    how = {
        "lbfgs": "L-BFGS",
        "adam": "Adam",
        "sgd": "SGD with momentum",
        "cd": "exact coordinate descent",
        "lad": "exact least absolute deviations",
    }.get(result.solver, f"exact least squares, {result.solver}")
    if result.solver == "cd" and getattr(result.estimator, "positive", False):
        how = "exact active set, coefficients >= 0"
    print(
        f"Fitted {estimator} ({result.task}, {how}) on {escape_control(args.data)}: "
        f"target {result.target!r}, {result.estimator.n_features_in_} feature(s), "
        f"{result.n_train:,} training and {result.n_val:,} validation rows "
        f"({result.seconds:.3g} s)"
    )
    if result.n_dropped:
        print(f"  skipped {result.n_dropped:,} row(s) with missing values")
    if result.history is not None:
        h = result.history
        best = f", best validation epoch {h.best_epoch}" if h.best_epoch else ""
        print(f"  {len(h)} epoch(s), stopped: {h.stop_reason}{best}")
    cv = getattr(result.estimator, "cv_results_", None)
    if cv is not None:
        print(
            f"  cross-validated: alpha_ {format_number(cv.alpha)}, l1_ratio_ "
            f"{format_number(cv.l1_ratio)}, alpha_1se {format_number(cv.alpha_1se)} "
            f"({cv.mse_path.shape[2]} folds, {cv.alphas.size} fits per fold)"
        )
    if result.convergence:
        print(f"  solver: {result.convergence}")
    print(f"  training:   {metric_line(result.metrics['train'])}")
    if result.metrics["validation"]:
        print(f"  validation: {metric_line(result.metrics['validation'])}")
    names = ", ".join(p.name for p in result.files if not p.name.endswith(".safetensors"))
    out = escape_control(result.out_dir)
    print(f"Wrote {out}/: {names} (+ weights)")
    print(f"Next: {PROG} predict {out} NEW_DATA -o predictions.csv")
    print_warnings(caught, "fit")
    return 0
