"""``torchlinear evaluate MODEL DATA``: score a fitted model on labelled data."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from torchlinear._format import escape_control, format_number

__all__ = ["PARAMS", "add_parser", "run"]

PARAMS = ("model", "data", "drop_na", "delimiter", "download", "weight")
"""The library parameters the command passes to :func:`torchlinear.workflow.evaluate`."""

_LABELS = {
    "r2": "R²",
    "rmse": "RMSE",
    "mse": "MSE",
    "mae": "MAE",
    "accuracy": "accuracy",
    "log_loss": "log-loss",
}

EXAMPLES = """\
examples:
  torchlinear evaluate runs/houses test.csv
  torchlinear evaluate runs/digits digits --json      (the dataset's test split)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``."""
    parser = sub.add_parser(
        "evaluate",
        help="score a fitted model on labelled data",
        description="Score a model written by `torchlinear fit` on data with the target "
        "column: R², RMSE, MSE, MAE (regression) or accuracy, log-loss and the confusion "
        "matrix (classification). DATA is streamed, so it may be of any size.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--drop-na", action="store_true", help="skip rows with missing values")
    parser.add_argument(
        "--weight", metavar="COL", help="a column of sample weights: weighted metrics"
    )
    parser.add_argument("--delimiter", metavar="C", help="CSV field separator, \\t for a tab")
    parser.add_argument(
        "--download", action="store_true", help="download missing built-in dataset files"
    )
    parser.set_defaults(run=run, params=PARAMS)


def run(args: argparse.Namespace) -> int:
    """Score the model and print the metrics (as text or JSON)."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear.workflow import evaluate

    metrics = evaluate(
        args.model,
        args.data,
        drop_na=args.drop_na,
        delimiter=args.delimiter,
        download=args.download,
        weight=args.weight,
    )
    if args.json:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in metrics.items()
        }
        print(json.dumps(clean, indent=2))
        return 0
    data = escape_control(metrics["data"])
    weighted = metrics.get("sample_weight")
    rows = f"{metrics['n']:,} rows" + (
        f", weighted by {escape_control(repr(weighted))}" if weighted else ""
    )
    print(f"{metrics['task'].capitalize()} metrics on {data} ({rows}):")
    for key, label in _LABELS.items():
        if key in metrics:
            print(f"  {label:<9} {format_number(metrics[key])}")
    if metrics.get("unseen_labels"):
        print(f"  {metrics['unseen_labels']} row(s) have labels not seen in training (errors)")
    if metrics.get("rows_dropped"):
        print(f"  skipped {metrics['rows_dropped']:,} row(s) with missing values")
    classes = metrics.get("classes")
    if classes is not None and len(classes) <= 20:
        print("Confusion matrix (rows: true class, columns: predicted):")
        print(confusion_text(classes, metrics["confusion_matrix"]))
    return 0


def confusion_text(classes: list[Any], matrix: list[list[int]]) -> str:
    """The confusion matrix as aligned text, one row and one column per class.

    Examples
    --------
    >>> print(confusion_text(["a", "b"], [[3, 1], [0, 4]]))
                 a      b
      a          3      1
      b          0      4
    """
    labels = [escape_control(c) for c in classes]
    width = max(6, *(len(c) for c in labels))
    lines = [" " * (width + 2) + " ".join(c.rjust(width) for c in labels)]
    for label, row in zip(labels, matrix, strict=True):
        lines.append(f"  {label.ljust(width)}" + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
