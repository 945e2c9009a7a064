"""``torchlinear predict MODEL DATA -o FILE``: predictions of a fitted model, as a file."""

from __future__ import annotations

import argparse

from torchlinear._format import escape_control

__all__ = ["PARAMS", "add_parser", "run"]

PARAMS = (
    "model", "data", "proba", "keep", "interval", "interval_type", "drop_na", "delimiter",
    "download",
)  # fmt: skip
"""The library parameters of :func:`torchlinear.workflow.predict` whose names can open a
plain ``ValueError`` message (``output`` is called "output folder" in those)."""

EXAMPLES = """\
examples:
  torchlinear predict runs/houses new_houses.csv -o predictions.csv
  torchlinear predict runs/houses new_houses.csv -o out.parquet --keep id,date --interval 0.95
  torchlinear predict runs/houses new.csv -o out.csv --interval 0.9 --interval-type confidence
  torchlinear predict runs/iris flowers.parquet -o predictions.parquet --proba

MODEL is the folder a fit wrote (or its model.json). DATA needs the model's feature
columns; its other columns are ignored unless --keep copies them. The output has one
row per input row, in order: the --keep columns, prediction, then lower and upper
(--interval) or proba_<class> per class (--proba). Its format follows its suffix.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``predict``."""
    parser = sub.add_parser(
        "predict",
        help="predict with a fitted model, writing a CSV or Parquet file",
        description="Predict with a model written by `torchlinear fit`, streaming DATA in "
        "chunks (any size) and writing the predictions atomically.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="predictions file (.csv/.parquet)"
    )
    parser.add_argument("--proba", action="store_true", help="add a proba_<class> column per class")
    parser.add_argument(
        "--keep",
        metavar="A,B",
        help="copy these columns of DATA into the output, first and in this order (e.g. id,date)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        metavar="LEVEL",
        help="add lower and upper bounds of an interval of this level, e.g. 0.95 "
        "(exact least-squares fits)",
    )
    parser.add_argument(
        "--interval-type",
        choices=("prediction", "confidence"),
        help="prediction: where a new observation falls (default); confidence: where the "
        "mean response lies",
    )
    parser.add_argument(
        "--drop-na", action="store_true", help="skip rows with missing values (fewer rows out)"
    )
    parser.add_argument("--delimiter", metavar="C", help="CSV field separator, \\t for a tab")
    parser.add_argument(
        "--download", action="store_true", help="download missing built-in dataset files"
    )
    parser.set_defaults(run=run, params=PARAMS)


def run(args: argparse.Namespace) -> int:
    """Predict and say what was written."""
    # imported when the command runs: building the parser never imports torch (fast --help)
    from torchlinear.workflow import predict

    result = predict(
        args.model,
        args.data,
        args.output,
        proba=args.proba,
        keep=args.keep,
        interval=args.interval,
        interval_type=args.interval_type,
        drop_na=args.drop_na,
        delimiter=args.delimiter,
        download=args.download,
    )

    columns = escape_control(", ".join(result.columns))
    path = escape_control(result.path)
    print(f"Wrote {result.n_rows:,} prediction(s) to {path} (columns: {columns})")
    if result.n_dropped:
        print(
            f"  skipped {result.n_dropped:,} row(s) with missing values: the file has one row "
            "per remaining input row"
        )
    return 0
