"""``fit``: check the options, plan the route, open the data, fit, write the run.

The steps live beside this module: :mod:`~torchlinear.workflow.options` checks the
options, :mod:`~torchlinear.workflow.plan` chooses the route, :mod:`.sources` opens the
data, :mod:`.context` fits, :mod:`.outputs` writes the run folder that :mod:`torchlinear.rundir`
stages and swaps into place.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchlinear import distributed as tld
from torchlinear._format import render_warning
from torchlinear._memory import memory_limit as memory_limit_of
from torchlinear._validation import ParameterError, check_output_dir, resolve_device
from torchlinear.rundir import RunFolder, default_run_dir
from torchlinear.workflow.context import FitContext
from torchlinear.workflow.convergence import describe_convergence
from torchlinear.workflow.fingerprint import check_fingerprint, fingerprint, write_fingerprint
from torchlinear.workflow.options import check_options
from torchlinear.workflow.outputs import write_outputs
from torchlinear.workflow.plan import check_route_options, plan_route
from torchlinear.workflow.settings import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DELTA,
    DEFAULT_HIDDEN,
    EXACT_ROUTES,
    FitResult,
    Options,
    Outcome,
    Plan,
)
from torchlinear.workflow.sources import Data, open_data

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task

#: The parameters of :func:`fit` that :func:`check_options` checks (the rest say where the
#: data and the run folder are, and how to read them).
OPTION_NAMES = (
    "target", "features", "task", "model", "loss", "solver", "alpha", "l1_ratio", "delta",
    "hidden", "epochs", "batch_size", "lr", "val_split", "patience", "seed", "device",
    "drop_na", "progress", "resume", "stream", "memory_limit", "formula", "max_levels",
    "overwrite", "max_classes", "cov_type", "cv", "cv_shuffle", "alphas", "n_alphas", "weight",
    "positive", "figures",
)  # fmt: skip


def run_settings(
    opts: Options,
    plan: Plan,
    streamed: bool,
    ctx: FitContext,
    delimiter: str | None,
    batch_rows: int | None,
) -> dict[str, Any]:
    """Every setting that shapes a gradient-trained run, as its checkpoint records them."""
    return {
        "task": plan.task,
        "model": plan.model,
        "loss": plan.loss,
        "solver": opts.solver,
        "alpha": opts.alpha,
        "l1_ratio": opts.l1_ratio,
        "delta": opts.delta if plan.loss == "huber" else None,
        "hidden": opts.hidden if plan.model == "mlp" else None,
        "epochs": opts.epochs,
        "batch_size": opts.batch_size,
        "lr": opts.lr,
        "val_split": None if ctx.given_val else ctx.val_fraction,
        "patience": opts.patience,
        "seed": opts.seed,
        "device": str(ctx.device),
        "drop_na": opts.drop_na,
        "stream": streamed,
        "delimiter": delimiter,
        "batch_rows": batch_rows,
        "formula": opts.formula,
        "weight": opts.weight,
        "max_levels": opts.max_levels,
        "max_classes": opts.max_classes,
    }


def fit(
    data: Any,
    target: str | None = None,
    *,
    formula: str | None = None,
    features: Sequence[str] | str | None = None,
    task: Task | None = None,
    model: str = "linear",
    loss: str | None = None,
    solver: str = "auto",
    alpha: float | str | None = None,
    l1_ratio: float | str | Sequence[float] = 0.0,
    delta: float = DEFAULT_DELTA,
    hidden: int = DEFAULT_HIDDEN,
    epochs: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lr: float | None = None,
    val_split: float | None = None,
    patience: int | None = None,
    seed: int = 0,
    device: str | None = None,
    drop_na: bool = False,
    delimiter: str | None = None,
    out: str | os.PathLike[str] | None = "torchlinear-model",
    overwrite: bool = False,
    resume: bool = False,
    max_classes: int | None = None,
    progress: bool = False,
    stream: bool | None = None,
    memory_limit: int | str | None = None,
    batch_rows: int | None = None,
    download: bool = False,
    callbacks: Sequence[Any] = (),
    max_levels: int | None = None,
    cov_type: str = "nonrobust",
    cv: int = 5,
    cv_shuffle: bool = False,
    alphas: Sequence[float] | str | None = None,
    n_alphas: int = 100,
    weight: str | None = None,
    positive: bool = False,
    figures: bool = True,
) -> FitResult:
    """Fit a model to a file or built-in dataset and write the model, metrics and report.

    Parameters
    ----------
    data : str, path-like or TabularSource
        A CSV (``.csv``, ``.tsv``, ``.txt``) or Parquet (``.parquet``, ``.pq``) file, a
        built-in dataset name (``synthetic``, ``diabetes``, ``digits``, ``mnist``,
        ``fashion-mnist``, ``cifar10``) or an open
        :class:`~torchlinear.data.tabular.TabularSource`.
    target : str, optional
        The target column (needed for files unless ``formula`` names it; the built-in
        datasets know theirs).
    formula : str, optional
        A formula such as ``"y ~ x1 + np.log(x2) + C(color)"`` (formulaic's syntax, as
        statsmodels'): the target is its left-hand side, ``X`` the columns of its
        right-hand side (:mod:`torchlinear.data.design`). The formula and the levels of
        its categorical variables are saved with the model, so :func:`predict` applies
        them to new raw data. Without a formula, text columns are one-hot encoded
        (treatment coding, the first level in sorted order as the reference, columns
        named like ``C(color)[T.red]``).
    features : list of str or comma-separated str, optional
        Feature columns; by default every other column (not with ``formula``).
    task : {"regression", "classification"}, optional
        By default classification for ``model="softmax"``, ``loss="ce"`` or a target of
        text or booleans, else regression.
    model : {"linear", "softmax", "mlp"}, default "linear"
        ``"linear"`` is least squares/robust linear regression, or softmax regression for
        classification; ``"mlp"`` a two-layer perceptron.
    loss : {"squared", "l1", "huber", "ce"}, optional
        Default ``"squared"`` for regression, ``"ce"`` for classification.
    solver : {"auto", "exact", "sgd", "adam", "lbfgs"}, default "auto"
        ``"auto"``: exact for least squares, L-BFGS for smooth problems in memory, Adam
        otherwise (see the module notes).
    alpha : float or "cv", optional
        Penalty strength. For least squares (regression, linear model, squared loss) it
        means exactly scikit-learn's ``ElasticNet(alpha, l1_ratio)``: a penalty on the
        *mean* squared loss over two (``docs/alpha.md``); with an L1 part the fit is the
        exact coordinate descent (:class:`~torchlinear.ElasticNet`), without one the
        exact ridge solve. ``"cv"`` chooses ``alpha`` (and ``l1_ratio``) by K-fold
        cross-validation from one pass of fold statistics
        (:class:`~torchlinear.ElasticNetCV`). Other models: the estimator's ``alpha``
        (default 0, 1e-4 for softmax regression).
    l1_ratio : float, comma-separated str or sequence, default 0
        L1 share of the elastic-net penalty, in [0, 1]; several values only with
        ``alpha="cv"``.
    delta : float, default 1
        Huber's threshold, in units of the target.
    hidden : int, default 64
        Hidden width of the MLP.
    epochs : int, optional
        Training epochs (default 100 for linear and MLP, 20 for minibatch softmax; L-BFGS
        iterations for softmax with L-BFGS).
    batch_size : int, default 256
        Minibatch size.
    lr : float, optional
        Learning rate (the optimizer's default otherwise).
    val_split : float, optional
        Fraction of rows held out for validation (see the module notes). Default: 0 for
        exact least squares (the fit, its metrics and its summary use every row), 0.2 for
        gradient training (where the validation loss drives early stopping), or the test
        split of an image dataset. 0 disables validation.
    patience : int, optional
        Early stopping: stop when the validation loss has not improved for this many
        epochs and keep the best epoch's parameters.
    seed : int, default 0
        Seeds the validation split, the initial weights and the shuffling.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"`` (default: the best available).
    drop_na : bool, default False
        Skip rows with missing values instead of refusing them.
    weight : str, optional
        A column of sample weights (numbers >= 0) of a CSV or Parquet file: each row
        counts in the loss, and in the metrics, in proportion to its weight (an exact
        fit is weighted least squares; its summary uses analytic weights).
    delimiter : str, optional
        CSV separator (default ``,``; tab for ``.tsv``).
    out : str or path-like or None, default "torchlinear-model"
        The run folder. It is written as a whole or not at all: the fit writes into a
        staging folder ``.NAME.partial`` beside it and swaps it into place at the end,
        holding the lock file ``.NAME.lock`` meanwhile (a second fit into the same folder
        is refused). See :mod:`torchlinear.rundir`. ``None``: a new folder
        ``runs/fit-<YYYYmmdd-HHMMSS>``, or ``...-2``, ``...-3`` when another fit took
        that name in the same second (``FitResult.out_dir`` is the one taken).
    overwrite : bool, default False
        Replace the run already in ``out`` (the whole folder: no file of it survives).
        Without it a non-empty ``out`` is refused.
    resume : bool, default False
        Continue gradient training from the checkpoint of an interrupted fit (in the
        staging folder) or of the complete run in ``out`` (with a larger ``epochs``). The
        data and every setting but a larger ``epochs`` must be those the checkpoint was
        made with (see :mod:`torchlinear.workflow.fingerprint`); then the result equals an
        uninterrupted run.
    max_classes : int, optional
        The most distinct target values a classification may have. By default 1,000, and
        a target whose values mostly occur once (more than 20 distinct values, over half
        as many as rows: an ID column) is refused too; an explicit value lifts that rule.
    progress : bool, default False
        Show progress bars on stderr.
    stream : bool, optional
        Stream a file from disk every epoch instead of loading it (default: stream when
        its float64 size exceeds a quarter of ``memory_limit``). Least squares always
        streams.
    memory_limit : int or str, optional
        The memory budget of the whole fit, in bytes or as ``"800M"``/``"2G"``: every
        reader, solver and table estimates what it will allocate and refuses, with one
        line, beyond it (default: :func:`torchlinear._memory.memory_budget`, half of
        the available memory unless :func:`~torchlinear._memory.set_memory_limit`
        or ``$TORCHLINEAR_MEMORY_LIMIT`` says otherwise).
    batch_rows : int, optional
        Rows per chunk read from the file.
    download : bool, default False
        Download missing files of the built-in image datasets.
    callbacks : sequence of torchlinear.engine.Callback
        Extra hooks for gradient training.
    max_levels : int, optional
        Refuse a categorical column with more distinct values (default 1000).
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default "nonrobust"
        The parameter covariance of the statistical summary of an exact unpenalised
        least-squares fit. A robust (heteroscedasticity-consistent) type reads the
        training rows once more after the solve, for the meat of the sandwich, which is
        saved with the model (so ``summary`` and ``predict``'s intervals use it).
    cv : int, default 5
        Folds of ``alpha="cv"``: contiguous runs of rows by their number in the data,
        like scikit-learn's ``KFold(cv)`` (the validation split defaults to 0 then).
    cv_shuffle : bool, default False
        Seeded shuffled folds instead (row number hashed with ``seed``).
    alphas : sequence of float or comma-separated str, optional
        The grid of ``alpha="cv"`` (default: ``n_alphas`` values log-spaced from the
        smallest alpha that zeroes every coefficient down to 1e-3 times it).
    n_alphas : int, default 100
        Size of the automatic grid.
    positive : bool, default False
        Constrain the coefficients of least squares to be >= 0: non-negative least
        squares (with the ``alpha``/``l1_ratio`` penalty, if any; ``alpha="cv"``
        cross-validates the non-negative path), solved exactly from the statistics by the
        active-set method of :mod:`torchlinear.exact.nnqp`, as
        ``LinearRegression(positive=True)`` and ``ElasticNet(positive=True)``.
    figures : bool, default True
        Draw the report's figures (PNG files beside ``report.md``). Drawing them takes
        about a second of a small fit (matplotlib's import included): ``False`` writes the
        report's text, tables and metrics alone, for many fits in a row.

    Returns
    -------
    FitResult
        Under ``torchrun`` (two or more ranks) every rank fits and returns the same model;
        least squares reads only this rank's share of a file, with rows numbered as in the
        whole file (so the validation split is the single-process one), and gradient
        training on data in memory is data-parallel. Rank 0 alone writes ``out``; on the
        other ranks ``files`` is empty. A process group that this call initialised is shut
        down on return.

    Raises
    ------
    ValueError
        One line for any problem with the options or the data (nothing is written then),
        including a setting this fit would ignore (``lr``, ``epochs`` or ``batch_size`` on
        a fit solved exactly, ``hidden`` without ``model="mlp"``, ``delta`` without
        ``loss="huber"``, ``l1_ratio`` without ``alpha``); or
        :class:`~torchlinear.engine.DivergenceError` when training diverges.
    TrainingInterrupted
        On Ctrl-C (or SIGTERM) during gradient training, after saving a checkpoint in
        the staging folder; ``out`` is left as it was.

    Examples
    --------
    >>> import tempfile
    >>> result = fit("diabetes", out=tempfile.mkdtemp())
    >>> result.solver, result.n_train + result.n_val
    ('cholesky', 442)
    >>> sorted(p.name for p in result.files if p.suffix != ".safetensors")[:3]
    ['metrics.json', 'model.json', 'predicted_vs_actual.png']
    """

    arguments = locals()  # the parameters, by name (nothing else is defined yet)
    start = time.perf_counter()
    opts = check_options(**{name: arguments[name] for name in OPTION_NAMES})
    fresh = out is None
    out_dir = check_output_dir("out", default_run_dir("fit") if out is None else out)
    owns_group = join_group(opts.device)
    try:
        with memory_limit_of(opts.memory_limit):
            return fit_opened(
                data, opts, (out_dir, fresh), start, delimiter, batch_rows, download, callbacks
            )
    finally:
        if owns_group:
            tld.shutdown()


def join_group(device: str | None) -> bool:
    """Join the process group ``torchrun`` describes (two or more ranks); return whether
    this call initialised it (and so should shut it down)."""
    if tld.is_distributed() or not tld.launched_by_torchrun():
        return False
    if os.environ.get("WORLD_SIZE", "1").strip() in ("0", "1"):
        return False
    return tld.init_from_env(device=resolve_device(device))


def fit_opened(
    data: Any,
    opts: Options,
    out: tuple[Path, bool],
    start: float,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    callbacks: Sequence[Any],
) -> FitResult:
    """The body of :func:`fit` once the options are checked (and any process group is up);
    ``out`` is the run folder and whether it is a fresh default name."""
    main = tld.is_main_process()
    if not main:  # one set of progress bars, from rank 0
        opts = dataclasses.replace(opts, progress=False)
    error = None
    try:  # every rank opens the data: a mistake is reported once (see exchange_status)
        resolved = open_data(
            data,
            opts.target,
            opts.features,
            opts.task,
            drop_na=opts.drop_na,
            delimiter=delimiter,
            batch_rows=batch_rows,
            download=download,
            formula=opts.formula,
            max_levels=opts.max_levels,
            weight=opts.weight,
        )
        streamed = is_streamed(resolved, opts)
        plan = plan_route(opts, resolved.task, streamed)
        if plan.route in EXACT_ROUTES:
            streamed = True
        check_route_options(opts, plan)
        val_fraction, given_val = validation_share(opts, plan, resolved)
    except Exception as exc:
        error = exc
    if tld.world_size() > 1 or error is not None:
        tld.exchange_status(error, [])
    run = RunFolder(out[0], overwrite=opts.overwrite, resume=opts.resume, fresh=out[1])
    open_run(run, main)
    out_dir = run.path
    try:
        ctx = FitContext(
            resolved, opts, plan, val_fraction, given_val, run.checkpoint, list(callbacks)
        )
        if plan.route not in ("exact", "softmax-lbfgs"):
            stamp = fingerprint(resolved, run_settings(opts, plan, streamed, ctx, delimiter,
                                                       batch_rows))  # fmt: skip
            if opts.resume:
                check_fingerprint(run.checkpoint, stamp)
            if main:
                write_fingerprint(run.checkpoint, stamp)
        if tld.world_size() > 1 and resolved.source is not None and streamed:
            check_streamed_ranks(plan)
            ctx.shard_rows_globally()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = ctx.run(streamed)
        messages = unique_messages(caught)
        seconds = time.perf_counter() - start
        result = fit_result(outcome, resolved, plan, out_dir, streamed, seconds, messages)
        if main:  # rank 0 alone writes the output folder: staged, then swapped into place
            written = write_outputs(result, outcome, resolved, opts, ctx, run.staging)
            run.commit()
            result.files = [out_dir / p.relative_to(run.staging) for p in written]
    except BaseException as exc:
        if main:
            run.abort(isinstance(exc, KeyboardInterrupt))
        shown = run.named_error(exc)
        if shown is not exc:  # a file of the staging folder, named where it would have been
            raise shown from exc
        raise
    finally:
        if main:
            run.release()
    reissue(caught, messages)
    return result


def is_streamed(resolved: Data, opts: Options) -> bool:
    """Whether a file is streamed every epoch: when asked, or when by default its float64
    size exceeds a quarter of the memory budget."""
    return resolved.source is not None and (
        opts.stream is True
        or (opts.stream is None and resolved.estimated_bytes() > opts.memory_limit // 4)
    )


def validation_share(opts: Options, plan: Plan, resolved: Data) -> tuple[float, bool]:
    """The fraction of rows held out, and whether the data came with its validation rows."""
    val_fraction = opts.val_split
    given_val = resolved.X_test is not None and val_fraction is None
    if val_fraction is None:
        # an exact fit has nothing to stop early: its statistics describe every row (and
        # cross-validation is the validation of --alpha cv)
        val_fraction = 0.0 if given_val or plan.route in EXACT_ROUTES else 0.2
    return val_fraction, given_val


def open_run(run: RunFolder, main: bool) -> None:
    """Rank 0 alone locks and stages the run folder; the others wait for it (and raise its
    error, if it failed) and learn the name it took."""
    error = None
    if main:
        try:
            run.open()
        except Exception as exc:
            error = exc
    suffix = tld.exchange_status(error, [run.suffix])[0][0]
    if not main:
        run.take(suffix)  # the name rank 0 took (a fresh run's -2, -3, ...)


def check_streamed_ranks(plan: Plan) -> None:
    """Across ranks, only the exact routes stream a file (each rank reads its share)."""
    if plan.route not in EXACT_ROUTES:
        raise ParameterError(
            "stream",
            "streamed gradient training is not supported across ranks yet; use {0} (or "
            "a larger {memory_limit}) so that every rank loads the file, or run a "
            "single process",
            value=True,
            suggestions=[("stream", False)],
        )


def fit_result(
    outcome: Outcome,
    resolved: Data,
    plan: Plan,
    out_dir: Path,
    streamed: bool,
    seconds: float,
    messages: list[str],
) -> FitResult:
    """What :func:`fit` returns, before the files are written."""
    result = FitResult(
        estimator=outcome.estimator,
        out_dir=out_dir,
        model_path=out_dir / "model.json",
        files=[],
        target=resolved.target,
        task=plan.task,
        model=plan.model,
        solver=str(getattr(outcome.estimator, "solver_", plan.optimizer)),
        metrics={"train": outcome.train_metrics, "validation": outcome.val_metrics},
        history=outcome.history,
        n_rows=outcome.n_train + outcome.n_val,
        n_train=outcome.n_train,
        n_val=outcome.n_val,
        n_dropped=resolved.n_rows_dropped,
        streamed=streamed,
        seconds=seconds,
        warnings=messages,
        convergence=describe_convergence(outcome.estimator, messages),
    )
    if streamed and plan.route == "linear" and plan.loss == "l1":
        result.convergence = (
            f"approximate: least absolute deviations by {plan.optimizer} on streamed "
            f"data; {result.convergence}"
        )
    return result


def reissue(caught: list[warnings.WarningMessage], messages: list[str]) -> None:
    """Warn once for each message, now that the report records them."""
    shown: set[str] = set()
    for w in caught:
        text = first_line(w)
        if text in messages and text not in shown:
            shown.add(text)
            warnings.warn(w.message, w.category, stacklevel=3)


#: An estimator's parameter -> the option of :func:`fit` that sets it, for the advice a
#: warning gives ("increase max_iter" is "increase epochs" here).
ESTIMATOR_OPTIONS = {"max_iter": "epochs"}


def first_line(w: warnings.WarningMessage) -> str:
    """A warning's first line, naming :func:`fit`'s options rather than the estimators'."""
    text = render_warning(w.message, lambda p: ESTIMATOR_OPTIONS.get(p, p))
    return (text.splitlines() or [w.category.__name__])[0]


def unique_messages(caught: list) -> list[str]:
    """The first line of each warning caught, once each, in order (not deprecations)."""
    seen: list[str] = []
    for w in caught:
        text = first_line(w)
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.append(text)
    return seen
