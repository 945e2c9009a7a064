"""The ``torchlinear`` command line: argument parsing and printing only.

Every subcommand parses its arguments, calls the library and prints what it returns.
A user mistake (any ``ValueError``/``OSError`` raised by the library at its boundary)
becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Collection, Sequence

__all__ = ["main", "build_parser"]

PROG = "torchlinear"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are a single line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table with padded columns."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _as_option_error(exc: ValueError, options: Collection[str]) -> ValueError:
    """Name the option as typed: ``"batch_size must be …"`` -> ``"--batch-size must be …"``."""
    message = str(exc)
    first = message.split(" ", 1)[0]
    if first in options:
        message = "--" + first.replace("_", "-") + message[len(first) :]
    return ValueError(message)


def _fail(message: str) -> int:
    print(f"{PROG}: error{_rank_label()}: {message}", file=sys.stderr)
    return 2


def _rank_label() -> str:
    """`` (rank r)`` in a process of a ``torchrun`` job other than rank 0, else nothing."""
    rank = os.environ.get("RANK", "0") if "WORLD_SIZE" in os.environ else "0"
    return "" if rank.strip() in ("", "0") else f" (rank {rank.strip()})"


# ---------------------------------------------------------------------------------------
# Subcommands. Each ``_add_<name>`` adds its parser and sets ``run`` to a function that
# takes the parsed namespace and returns the exit code.
# ---------------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def subcommand(adder: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one subcommand's parser."""
    SUBCOMMANDS.append(adder)
    return adder


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every registered subcommand."""
    parser = _Parser(
        prog=PROG,
        description="Linear neural networks in PyTorch: learn them, then use them.",
    )
    from torchlinear import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for adder in SUBCOMMANDS:
        adder(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    torchlinear 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # torchlinear.distributed.RankFailedError: one line too
        if type(exc).__name__ != "RankFailedError":
            raise
        # another rank failed and printed its own error; rank 0 repeats it
        return 2 if _rank_label() else _fail(str(exc).splitlines()[0])
    except (ValueError, OSError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


# ---------------------------------------------------------------------------------------
# (subcommands are defined below this line, one section each, before main's guard)
# ---------------------------------------------------------------------------------------

# --- demo -------------------------------------------------------------------------------
# ``torchlinear demo [TOPIC] [options]``: worked examples. With no topic it runs linear
# regression three ways (the same as ``torchlinear demo linreg``). Further topics register
# a function that adds their sub-parser with ``@demo_topic``.

DEMO_TOPICS: list[Callable[[argparse._SubParsersAction], None]] = []


def demo_topic(adder: Callable[[argparse._SubParsersAction], None]):
    """Register a function that adds one ``torchlinear demo <topic>`` parser."""
    DEMO_TOPICS.append(adder)
    return adder


def _float_list(text: str) -> list[float]:
    """Parse ``"2,-3.4"`` (or one number of a space-separated list) into floats."""
    values = []
    for part in text.split(","):
        try:
            values.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected numbers separated by commas (e.g. --w=2,-3.4), got {text!r}"
            ) from None
    return values


def _add_linreg_demo_options(parser: argparse.ArgumentParser) -> None:
    """The linear-regression demo's options (no argparse defaults: see ``_run_linreg_demo``)."""
    from torchlinear.demos.linreg import DEFAULTS as defaults

    w_default = ",".join(f"{v:g}" for v in defaults["w"])
    sup = argparse.SUPPRESS
    parser.add_argument(
        "--n",
        type=int,
        default=sup,
        metavar="N",
        help=f"number of examples (default {defaults['n']})",
    )
    parser.add_argument(
        "--w",
        type=_float_list,
        nargs="+",
        default=sup,
        metavar="W",
        help=f"true weights, comma- or space-separated; write a leading negative as "
        f"--w=-2,3.4 (default {w_default})",
    )
    parser.add_argument(
        "--b",
        type=float,
        default=sup,
        metavar="B",
        help=f"true bias (default {defaults['b']:g})",
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=sup,
        metavar="SIGMA",
        help=f"standard deviation of the label noise (default {defaults['noise']:g})",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=sup,
        metavar="LR",
        help=f"learning rate of scratch and concise SGD (default {defaults['lr']:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=sup,
        metavar="B",
        help=f"minibatch size (default {defaults['batch_size']})",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=sup,
        metavar="E",
        help=f"passes over the data (default {defaults['epochs']})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=sup,
        metavar="S",
        help=f"seeds the data, the initial parameters and the shuffles "
        f"(default {defaults['seed']})",
    )
    parser.add_argument(
        "--out",
        default=sup,
        metavar="DIR",
        help="folder for the figures (default: a new ./runs/demo-<timestamp>/)",
    )
    parser.add_argument(
        "--device",
        default=sup,
        metavar="DEV",
        help=f"cpu, cuda, cuda:N, mps or auto (default {defaults['device']})",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        default=sup,
        help="hide the per-epoch progress bars",
    )
    parser.set_defaults(run=_run_linreg_demo)


def _run_linreg_demo(args: argparse.Namespace) -> int:
    import warnings

    from torchlinear.demos.linreg import run_linreg_demo

    # Options not given are absent from the namespace (argparse.SUPPRESS), so options typed
    # before and after the topic combine, and the library's defaults fill in the rest.
    names = ["n", "w", "b", "noise", "lr", "batch_size", "epochs", "seed", "out", "device"]
    kwargs = {name: getattr(args, name) for name in names if hasattr(args, name)}
    if "w" in kwargs:
        kwargs["w"] = [v for group in kwargs["w"] for v in group]
    progress = not getattr(args, "no_progress", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = run_linreg_demo(progress=progress, **kwargs)
        except ValueError as exc:
            raise _as_option_error(exc, names) from None
    s = result.settings
    print(
        f"Linear regression three ways: n={s['n']}, w*={s['w']}, b*={s['b']:g}, "
        f"noise={s['noise']:g}, lr={s['lr']:g}, batch size {s['batch_size']}, "
        f"{s['epochs']} epoch(s), seed {s['seed']}, device {s['device']}"
    )
    print()
    _print_table(*result.table())
    print()
    files = ", ".join(p.name for p in result.figures)
    print(f"Figures written to {result.out_dir}/: {files} (numbers in results.json)")
    for warning in caught:
        print(f"{PROG}: warning: {str(warning.message).splitlines()[0]}", file=sys.stderr)
    return 0


@subcommand
def _add_demo(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="worked examples (default: linear regression from scratch, concise and exact)",
        description=(
            "Run a worked example. With no TOPIC: linear regression on the textbook data "
            "(w = [2, -3.4], b = 4.2), fitted from scratch, with torch.nn and in closed form; "
            "prints a comparison table and writes figures."
        ),
    )
    _add_linreg_demo_options(parser)
    topics = parser.add_subparsers(dest="topic", metavar="[TOPIC]", parser_class=_Parser)
    for adder in DEMO_TOPICS:
        adder(topics)


@demo_topic
def _add_linreg_topic(topics: argparse._SubParsersAction) -> None:
    parser = topics.add_parser(
        "linreg",
        help="linear regression from scratch, concise and exact (the default)",
        description="Linear regression three ways on the textbook data; the same as "
        "`torchlinear demo` with no topic.",
    )
    _add_linreg_demo_options(parser)


# --- demo softmax -----------------------------------------------------------------------
# ``torchlinear demo softmax``: softmax regression on the digits, from scratch, concise and
# with SoftmaxRegression (L-BFGS); prints ``method | test accuracy | time``.

_SOFTMAX_OPTIONS = ("epochs", "lr", "batch_size", "alpha", "test_size", "seed", "out", "device")


@demo_topic
def _add_softmax_topic(topics: argparse._SubParsersAction) -> None:
    from torchlinear.demos.softmax import SOFTMAX_DEFAULTS as defaults

    parser = topics.add_parser(
        "softmax",
        help="softmax regression on 8x8 digit images: scratch, concise and SoftmaxRegression",
        description=(
            "Softmax regression on scikit-learn's 8x8 digit images (stratified train/test "
            "split with a fixed seed): from scratch, with torch.nn, and with "
            "SoftmaxRegression (L-BFGS). Prints the test accuracy and time of each and "
            "writes the training curves, confusion matrix, misclassified images and weight "
            "templates."
        ),
    )
    sup = argparse.SUPPRESS
    parser.add_argument(
        "--epochs", type=int, default=sup, metavar="E",
        help=f"passes over the data for scratch and concise (default {defaults['epochs']})",
    )  # fmt: skip
    parser.add_argument(
        "--lr", type=float, default=sup, metavar="LR",
        help=f"learning rate of scratch and concise SGD (default {defaults['lr']:g})",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=sup, metavar="B",
        help=f"minibatch size (default {defaults['batch_size']})",
    )  # fmt: skip
    parser.add_argument(
        "--alpha", type=float, default=sup, metavar="A",
        help=f"L2 penalty of SoftmaxRegression (default {defaults['alpha']:g})",
    )  # fmt: skip
    parser.add_argument(
        "--test-size", type=float, default=sup, metavar="F",
        help=f"held-out fraction of the images (default {defaults['test_size']:g})",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=sup, metavar="S",
        help=f"seeds the split, the initial weights and the shuffles (default {defaults['seed']})",
    )  # fmt: skip
    parser.add_argument(
        "--out", default=sup, metavar="DIR",
        help="folder for the figures (default: a new ./runs/softmax-<timestamp>/)",
    )  # fmt: skip
    parser.add_argument(
        "--device", default=sup, metavar="DEV",
        help=f"cpu, cuda, cuda:N, mps or auto (default {defaults['device']})",
    )  # fmt: skip
    parser.add_argument(
        "--no-progress", action="store_true", default=sup, help="hide the progress bars"
    )
    parser.set_defaults(run=_run_softmax_demo)


def _run_softmax_demo(args: argparse.Namespace) -> int:
    from torchlinear.demos.softmax import run_softmax_demo

    kwargs = {name: getattr(args, name) for name in _SOFTMAX_OPTIONS if hasattr(args, name)}
    try:
        result = run_softmax_demo(progress=not getattr(args, "no_progress", False), **kwargs)
    except ValueError as exc:
        raise _as_option_error(exc, _SOFTMAX_OPTIONS) from None
    s = result.settings
    print(
        f"Softmax regression on {s['data']}: test size {s['test_size']:g}, seed {s['seed']}; "
        f"scratch/concise: lr={s['lr']:g}, batch size {s['batch_size']}, {s['epochs']} "
        f"epoch(s); SoftmaxRegression: alpha={s['alpha']:g}; device {s['device']}"
    )
    print()
    _print_table(*result.table())
    print()
    files = ", ".join(p.name for p in result.figures)
    print(f"Pictures written to {result.out_dir}/: {files} (numbers in results.json)")
    return 0


# --- fit, predict, evaluate, summary ----------------------------------------------------
# The practitioner's commands, on the user's own files (or a built-in dataset): each parses
# its options, calls one function of ``torchlinear.workflow`` and prints what it returns.

_FIT_OPTIONS = (
    "target", "features", "task", "model", "loss", "solver", "alpha", "l1_ratio", "delta",
    "hidden", "epochs", "batch_size", "lr", "val_split", "patience", "seed", "device",
    "drop_na", "delimiter", "out", "resume", "stream", "download", "batch_rows",
)  # fmt: skip

_FIT_EXAMPLES = """\
examples:
  torchlinear fit houses.csv --target price --out runs/houses
  torchlinear fit houses.parquet --target price --features area,rooms --loss huber
  torchlinear fit iris.csv --target species --model mlp --hidden 32 --epochs 200
  torchlinear fit digits --out runs/digits         (a built-in dataset)

DATA is a CSV (.csv, .tsv, .txt) or Parquet (.parquet, .pq) file, or a built-in dataset:
synthetic, diabetes, digits, mnist, fashion-mnist, cifar10. Least squares is fitted
exactly in one streaming pass, so the file may be larger than memory.
"""

_PREDICT_EXAMPLES = """\
examples:
  torchlinear predict runs/houses new_houses.csv -o predictions.csv
  torchlinear predict runs/iris flowers.parquet -o predictions.parquet --proba

MODEL is the folder a fit wrote (or its model.json). DATA needs the model's feature
columns; a column with the target is allowed and ignored. The output has one row per
input row, in order.
"""

_EVALUATE_EXAMPLES = """\
examples:
  torchlinear evaluate runs/houses test.csv
  torchlinear evaluate runs/digits digits --json      (the dataset's test split)
"""

_SUMMARY_EXAMPLES = """\
examples:
  torchlinear summary runs/houses
  torchlinear summary runs/houses/model.json --max-rows 20
"""


def _option_message(message: str, names: Sequence[str]) -> str:
    """Name the option as typed: ``"val_split must …"`` -> ``"--val-split must …"``."""
    import re

    first = message.split(" ", 1)[0]
    bare = first.rstrip(":")
    if bare in names:
        message = "--" + bare.replace("_", "-") + message[len(bare) :]
    # the library's advice names its arguments; on the command line only the options count
    message = re.sub(r"\w+=\S+ \((--[\w-]+[^)]*)\)", r"\1", message)  # x=1 (--x 1)
    message = re.sub(r" \(\w+=\[[^\]]*\]\)", "", message)  # --features a,b (features=[...])
    message = message.replace("point root= / $TORCHLINEAR_DATA", "point $TORCHLINEAR_DATA")
    message = message.replace("pass download=True", "pass --download")
    return message.replace("e.g. lr=", "e.g. --lr ")


def _print_warnings(caught: list) -> None:
    seen = set()
    for w in caught:
        text = str(w.message).splitlines()[0]
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.add(text)
            print(f"{PROG}: warning: {text}", file=sys.stderr)


def _fmt_metric(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _metric_line(values: dict | None) -> str:
    if not values:
        return "-"
    order = ("r2", "rmse", "mse", "mae", "accuracy", "log_loss", "n")
    labels = {"r2": "R²", "rmse": "RMSE", "mse": "MSE", "mae": "MAE", "log_loss": "log-loss"}
    parts = [f"{labels.get(k, k)} {_fmt_metric(values[k])}" for k in order if k in values]
    return ", ".join(parts)


@subcommand
def _add_fit(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "fit",
        help="fit a model to a CSV/Parquet file or built-in dataset; write model, metrics, report",
        description=(
            "Fit a model and write into DIR: the model (model.json + safetensors weights), "
            "metrics.json, and report.md with figures (loss curves; residuals and "
            "predicted-vs-actual, or the confusion matrix; the coefficients or the "
            "statistical summary)."
        ),
        epilog=_FIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument("--target", metavar="COL", help="the target column (needed for files)")
    parser.add_argument(
        "--features", metavar="A,B,C", help="feature columns (default: all but the target)"
    )
    parser.add_argument(
        "--task",
        choices=("regression", "classification"),
        help="default: classification for a text/boolean target, --model softmax or --loss ce",
    )
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
    parser.add_argument(
        "--delta", type=float, default=1.0, metavar="D", help="Huber's threshold (default 1)"
    )
    parser.add_argument(
        "--solver",
        choices=("auto", "exact", "sgd", "adam", "lbfgs"),
        default="auto",
        help="auto: exact for least squares, L-BFGS or Adam otherwise (default auto)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        metavar="A",
        help="penalty strength, as the estimator's alpha (default: 0; 1e-4 for softmax)",
    )
    parser.add_argument(
        "--l1-ratio",
        type=float,
        default=0.0,
        metavar="R",
        help="L1 share of the elastic-net penalty, 0..1 (default 0: ridge)",
    )
    parser.add_argument(
        "--hidden", type=int, default=64, metavar="H", help="hidden width of the MLP (default 64)"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="E",
        help="training epochs (default 100; 20 for minibatch softmax)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, metavar="B", help="minibatch size (default 256)"
    )
    parser.add_argument("--lr", type=float, metavar="LR", help="learning rate")
    parser.add_argument(
        "--val-split",
        type=float,
        metavar="F",
        help="fraction of rows held out for validation (default 0.2; an image dataset's "
        "test split); 0 for none",
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
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: a new ./runs/fit-<timestamp>/)",
    )
    parser.add_argument(
        "--drop-na", action="store_true", help="skip rows with missing values instead of failing"
    )
    parser.add_argument(
        "--delimiter", metavar="C", help="CSV field separator (default ',', tab for .tsv)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue training from the checkpoint in DIR/checkpoint (same settings)",
    )
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
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(run=_run_fit)


def _run_fit(args: argparse.Namespace) -> int:
    import time
    import warnings

    from torchlinear import distributed as tld
    from torchlinear.engine import DivergenceError
    from torchlinear.workflow import TrainingInterrupted, _join_group, fit

    kwargs = {name: getattr(args, name) for name in _FIT_OPTIONS}
    if kwargs["out"] is None:
        kwargs["out"] = f"runs/fit-{time.strftime('%Y%m%d-%H%M%S')}"
    if kwargs["device"] == "auto":
        kwargs["device"] = None
    # under torchrun every rank fits (on its share of the data); rank 0 alone writes and prints
    joined = _join_group(kwargs["device"])
    main = tld.is_main_process()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fit(args.data, progress=not args.no_progress, **kwargs)
        except TrainingInterrupted as exc:
            _print_warnings(caught)
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 130
        except DivergenceError as exc:
            _print_warnings(caught)
            raise ValueError(_option_message(str(exc), _FIT_OPTIONS)) from None
        except (ValueError, OSError) as exc:
            raise ValueError(_option_message(str(exc), _FIT_OPTIONS)) from None
        finally:
            if joined:
                tld.shutdown()
    if not main:
        return 0
    estimator = type(result.estimator).__name__
    how = {"lbfgs": "L-BFGS", "adam": "Adam", "sgd": "SGD with momentum"}.get(
        result.solver, f"exact least squares, {result.solver}"
    )
    print(
        f"Fitted {estimator} ({result.task}, {how}) on {args.data}: "
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
    print(f"  training:   {_metric_line(result.metrics['train'])}")
    if result.metrics["validation"]:
        print(f"  validation: {_metric_line(result.metrics['validation'])}")
    names = ", ".join(p.name for p in result.files if not p.name.endswith(".safetensors"))
    print(f"Wrote {result.out_dir}/: {names} (+ weights)")
    print(f"Next: {PROG} predict {result.out_dir} NEW_DATA -o predictions.csv")
    _print_warnings(caught)
    return 0


@subcommand
def _add_predict(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "predict",
        help="predict with a fitted model, writing a CSV or Parquet file",
        description="Predict with a model written by `torchlinear fit`, streaming DATA in "
        "chunks (any size) and writing the predictions atomically.",
        epilog=_PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="predictions file (.csv/.parquet)"
    )
    parser.add_argument("--proba", action="store_true", help="add a proba_<class> column per class")
    parser.add_argument(
        "--drop-na", action="store_true", help="skip rows with missing values (fewer rows out)"
    )
    parser.add_argument("--delimiter", metavar="C", help="CSV field separator")
    parser.add_argument(
        "--download", action="store_true", help="download missing built-in dataset files"
    )
    parser.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from torchlinear.workflow import predict

    try:
        result = predict(
            args.model,
            args.data,
            args.output,
            proba=args.proba,
            drop_na=args.drop_na,
            delimiter=args.delimiter,
            download=args.download,
        )
    except (ValueError, OSError) as exc:
        raise ValueError(_option_message(str(exc), ("proba", "delimiter"))) from None
    print(
        f"Wrote {result.n_rows:,} prediction(s) to {result.path} "
        f"(columns: {', '.join(result.columns)})"
    )
    if result.n_dropped:
        print(
            f"  skipped {result.n_dropped:,} row(s) with missing values: the file has one row "
            "per remaining input row"
        )
    return 0


@subcommand
def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="score a fitted model on labelled data",
        description="Score a model written by `torchlinear fit` on data with the target "
        "column: R², RMSE, MSE, MAE (regression) or accuracy, log-loss and the confusion "
        "matrix (classification). DATA is streamed, so it may be of any size.",
        epilog=_EVALUATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a dataset name")
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--drop-na", action="store_true", help="skip rows with missing values")
    parser.add_argument("--delimiter", metavar="C", help="CSV field separator")
    parser.add_argument(
        "--download", action="store_true", help="download missing built-in dataset files"
    )
    parser.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json
    import math

    from torchlinear.workflow import evaluate

    try:
        metrics = evaluate(
            args.model,
            args.data,
            drop_na=args.drop_na,
            delimiter=args.delimiter,
            download=args.download,
        )
    except (ValueError, OSError) as exc:
        raise ValueError(_option_message(str(exc), ("delimiter",))) from None
    if args.json:
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in metrics.items()
        }
        print(json.dumps(clean, indent=2))
        return 0
    print(f"{metrics['task'].capitalize()} metrics on {metrics['data']} ({metrics['n']:,} rows):")
    names = {"r2": "R²", "rmse": "RMSE", "mse": "MSE", "mae": "MAE", "accuracy": "accuracy"}
    names["log_loss"] = "log-loss"
    for key, label in names.items():
        if key in metrics:
            print(f"  {label:<9} {_fmt_metric(metrics[key])}")
    if metrics.get("unseen_labels"):
        print(f"  {metrics['unseen_labels']} row(s) have labels not seen in training (errors)")
    if metrics.get("rows_dropped"):
        print(f"  skipped {metrics['rows_dropped']:,} row(s) with missing values")
    classes = metrics.get("classes")
    if classes is not None and len(classes) <= 20:
        labels = [str(c) for c in classes]
        width = max(6, *(len(c) for c in labels))
        print("Confusion matrix (rows: true class, columns: predicted):")
        print(" " * (width + 2) + " ".join(c.rjust(width) for c in labels))
        for label, row in zip(labels, metrics["confusion_matrix"], strict=True):
            print(f"  {label.ljust(width)}" + " ".join(str(v).rjust(width) for v in row))
    return 0


@subcommand
def _add_summary(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "summary",
        help="describe a fitted model: settings, metrics, coefficients or statistical summary",
        description="Describe a model written by `torchlinear fit`: what was fitted, its "
        "metrics, and the statistical summary (standard errors, t, p-values, confidence "
        "intervals; as statsmodels' OLS) of an unpenalised least-squares fit, else the "
        "coefficient table.",
        epilog=_SUMMARY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="the fit's folder or its model.json")
    parser.add_argument(
        "--max-rows", type=int, default=50, metavar="N", help="features shown at most (50)"
    )
    parser.set_defaults(run=_run_summary)


def _run_summary(args: argparse.Namespace) -> int:
    from torchlinear._validation import check_positive_int
    from torchlinear.workflow import model_summary

    try:
        max_rows = check_positive_int("max_rows", args.max_rows)
    except ValueError as exc:
        raise ValueError(_option_message(str(exc), ("max_rows",))) from None
    print(model_summary(args.model, max_rows=max_rows))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
