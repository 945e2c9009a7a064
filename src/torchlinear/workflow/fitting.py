"""``fit``: check the options, plan the route, open the data, fit, write the run."""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from torchlinear._validation import (
    ParameterError,
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_output_dir,
    check_positive_float,
    check_positive_int,
    memory_budget,
    resolve_device,
)
from torchlinear._validation import memory_limit as memory_limit_of
from torchlinear.stats import check_cov_type
from torchlinear.workflow.context import FitContext
from torchlinear.workflow.convergence import describe_convergence
from torchlinear.workflow.fingerprint import check_fingerprint, fingerprint, write_fingerprint
from torchlinear.workflow.outputs import write_outputs
from torchlinear.workflow.rundir import RunFolder
from torchlinear.workflow.settings import (
    EXACT_ROUTES,
    LOSSES,
    MODELS,
    SOLVERS,
    TASKS,
    FitResult,
    Options,
    Plan,
)
from torchlinear.workflow.sources import open_data


def plan_route(opts: Options, task: str, streamed: bool) -> Plan:
    model, loss, solver = opts.model, opts.loss, opts.solver
    if task == "classification":
        if model == "linear":
            model = "softmax"
        loss = loss or "ce"
        if loss != "ce":
            raise ParameterError(
                "loss",
                "{param} {value!r} is a regression loss; classification uses 'ce' "
                "(cross-entropy): leave out {param}, or use {0}",
                value=loss,
                suggestions=[("task", "regression")],
            )
        if opts.l1_ratio > 0 and model == "softmax":
            raise ParameterError(
                "l1_ratio",
                "{param}: softmax regression takes an L2 penalty only; use {0} for an "
                "elastic-net penalty, or leave out {param}",
                value=opts.l1_ratio,
                suggestions=[("model", "mlp")],
            )
    else:
        if model == "softmax":
            raise ParameterError(
                "model",
                "{param} 'softmax' is a classifier, but the task is regression; use {0} "
                "(or a text target column), or {1}",
                value="softmax",
                suggestions=[("task", "classification"), ("model", "linear")],
            )
        loss = loss or "squared"
        if loss == "ce":
            raise ParameterError(
                "loss",
                "{param} 'ce' (cross-entropy) is for classification; use {0}",
                value="ce",
                suggestions=[("task", "classification")],
            )
    if opts.alpha_cv:
        if not (task == "regression" and model == "linear" and loss == "squared"):
            raise ParameterError(
                "alpha",
                "{param} 'cv' cross-validates the penalized least-squares path (regression, "
                "linear model, squared loss); this fit is {kind} with model {model_kind!r} "
                "and loss {loss_kind!r}: give {param} a number",
                value="cv",
                kind=task,
                model_kind=model,
                loss_kind=loss,
            )
        if solver not in ("auto", "exact"):
            raise ParameterError(
                "solver",
                "{param} {value!r}: {alpha} cv runs the exact coordinate-descent path from "
                "one pass of fold statistics; use {0}",
                value=solver,
                suggestions=[("solver", "auto")],
            )
        if opts.l1_ratio == 0 and opts.alphas is None:
            raise ParameterError(
                "l1_ratio",
                "{param} 0 (ridge) has no automatic alpha grid (its largest useful alpha is "
                "infinite): give {param} > 0, or the grid with {alphas}",
                value=0.0,
            )
        return Plan(task, model, loss, "enet-cv", "cd", opts.epochs)
    assert not isinstance(opts.alpha, str)
    alpha = opts.alpha or 0.0
    if solver == "exact":
        if not (task == "regression" and model == "linear" and loss == "squared"):
            raise ParameterError(
                "solver",
                "{param} 'exact' solves least squares only (regression, linear model, squared "
                "loss); this fit is {kind} with model {model_kind!r} and loss {loss_kind!r}: "
                "use {param} auto, sgd, adam or lbfgs",
                value="exact",
                kind=task,
                model_kind=model,
                loss_kind=loss,
            )
    if solver == "lbfgs" and opts.l1_ratio > 0 and alpha > 0:
        raise ParameterError(
            "solver",
            "{param} 'lbfgs' cannot handle an L1 penalty ({l1_ratio} > 0); use {param} sgd or adam",
            value="lbfgs",
        )
    if model == "linear":
        exact = loss == "squared" and (opts.l1_ratio == 0 or alpha == 0)
        if solver == "exact" and not exact:  # an L1 part: exact coordinate descent
            return Plan(task, model, loss, "enet", "cd", opts.epochs)
        if solver == "exact" or (solver == "auto" and exact):
            return Plan(task, model, loss, "exact", None, None)
        if solver == "auto" and loss == "squared":  # an L1 part: exact coordinate descent
            return Plan(task, model, loss, "enet", "cd", opts.epochs)
        optimizer = solver
        if solver == "auto":
            smooth = loss == "huber" and (opts.l1_ratio == 0 or alpha == 0)
            optimizer = "lbfgs" if smooth and not streamed else "adam"
            # in memory, least absolute deviations (a linear program) is solved exactly
            if loss == "l1" and (alpha == 0 or opts.l1_ratio == 1) and not streamed:
                optimizer = "auto"
        return Plan(task, model, loss, "linear", optimizer, opts.epochs)
    if model == "softmax":
        if solver in ("auto", "lbfgs") and not streamed:
            return Plan(task, model, loss, "softmax-lbfgs", "lbfgs", opts.epochs)
        optimizer = "adam" if solver == "auto" else solver
        return Plan(task, model, loss, "softmax", optimizer, opts.epochs)
    optimizer = "adam" if solver == "auto" else solver
    return Plan(task, model, loss, "mlp", optimizer, opts.epochs)


def check_options(**kw: Any) -> Options:
    if kw["model"] not in MODELS:
        raise ParameterError(
            "model",
            "{param} must be one of {choices}, got {value!r}",
            value=kw["model"],
            choices=", ".join(MODELS),
        )
    if kw["loss"] is not None and kw["loss"] not in LOSSES:
        raise ParameterError(
            "loss",
            "{param} must be one of {choices}, got {value!r}",
            value=kw["loss"],
            choices=", ".join(LOSSES),
        )
    if kw["solver"] not in SOLVERS:
        raise ParameterError(
            "solver",
            "{param} must be one of {choices}, got {value!r}",
            value=kw["solver"],
            choices=", ".join(SOLVERS),
        )
    if kw["task"] is not None and kw["task"] not in TASKS:
        raise ParameterError(
            "task",
            "{param} must be 'regression' or 'classification', got {value!r}",
            value=kw["task"],
        )
    task = kw["task"]
    if task is None and (kw["model"] == "softmax" or kw["loss"] == "ce"):
        task = "classification"
    elif task is None and kw["loss"] in ("squared", "l1", "huber"):
        task = "regression"
    alpha = check_alpha(kw["alpha"])
    l1_ratios = check_l1_ratios(kw["l1_ratio"])
    if len(l1_ratios) > 1 and alpha != "cv":
        raise ParameterError(
            "l1_ratio",
            "{param} lists {n} values, but only cross-validation chooses among them: add "
            "{0}, or give one value",
            value=kw["l1_ratio"],
            n=len(l1_ratios),
            suggestions=[("alpha", "cv")],
        )
    alphas = check_alpha_grid(kw.get("alphas"))
    if alphas is not None and alpha != "cv":
        raise ParameterError(
            "alphas",
            "{param} is the grid that cross-validation searches; add {0}, or leave out {param}",
            value=kw.get("alphas"),
            suggestions=[("alpha", "cv")],
        )
    cv = kw.get("cv", 5)
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
        raise ParameterError(
            "cv", "{param} must be a whole number of folds >= 2, got {value!r}", value=cv
        )
    n_alphas = check_positive_int("n_alphas", kw.get("n_alphas", 100))
    seed = check_nonnegative_int("seed", kw["seed"])
    if seed >= 2**62:
        raise ParameterError("seed", "{param} must be below 2**62, got {value}", value=seed)
    val_split = kw["val_split"]
    if val_split is not None:
        val_split = check_fraction("val_split", val_split)
    if kw["device"] is not None:
        resolve_device(kw["device"])
    cov_type = check_cov_type(kw.get("cov_type", "nonrobust"))
    return Options(
        target=kw["target"],
        features=kw["features"],
        task=task,
        model=kw["model"],
        loss=kw["loss"],
        solver=kw["solver"],
        alpha=alpha,
        l1_ratio=max(l1_ratios),
        delta=check_positive_float("delta", kw["delta"]),
        hidden=check_positive_int("hidden", kw["hidden"]),
        epochs=None if kw["epochs"] is None else check_positive_int("epochs", kw["epochs"]),
        batch_size=check_positive_int("batch_size", kw["batch_size"]),
        lr=None if kw["lr"] is None else check_positive_float("lr", kw["lr"]),
        val_split=val_split,
        patience=None if kw["patience"] is None else check_positive_int("patience", kw["patience"]),
        seed=seed,
        device=kw["device"],
        drop_na=bool(kw["drop_na"]),
        progress=bool(kw["progress"]),
        resume=bool(kw["resume"]),
        stream=kw["stream"],
        memory_limit=memory_budget(kw["memory_limit"]),
        formula=kw.get("formula"),
        max_levels=None
        if kw.get("max_levels") is None
        else check_positive_int("max_levels", kw["max_levels"]),
        overwrite=bool(kw["overwrite"]),
        max_classes=None
        if kw["max_classes"] is None
        else check_positive_int("max_classes", kw["max_classes"]),
        cov_type=cov_type,
        l1_ratios=l1_ratios,
        cv=int(cv),
        cv_shuffle=bool(kw.get("cv_shuffle", False)),
        alphas=alphas,
        n_alphas=n_alphas,
    )


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
        "max_levels": opts.max_levels,
        "max_classes": opts.max_classes,
    }


def check_alpha(value: Any) -> float | str | None:
    """``None``, a number >= 0, or ``"cv"`` (also as text, as the command line gives it)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "cv":
            return "cv"
        try:
            value = float(text)
        except ValueError:
            raise ParameterError(
                "alpha",
                "{param} must be a number >= 0 or 'cv' (choose it by cross-validation), got "
                "{value!r}",
                value=text,
            ) from None
    return check_nonnegative_float("alpha", value)


def _numbers(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        out = []
        for p in parts:
            try:
                out.append(float(p))
            except ValueError:
                raise ParameterError(
                    name,
                    "{param} must be a number or comma-separated numbers, got {value!r}",
                    value=value,
                ) from None
        return out
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return [value]


def check_l1_ratios(value: Any) -> tuple[float, ...]:
    """One or more L1 shares, each in [0, 1] (``"0.2,0.5"`` or a sequence)."""
    values = _numbers("l1_ratio", value)
    if not values:
        raise ParameterError("l1_ratio", "{param} is empty; give a value in [0, 1]", value=value)
    out = []
    for v in values:
        r = check_nonnegative_float("l1_ratio", v)
        if r > 1:
            raise ParameterError("l1_ratio", "{param} must lie in [0, 1], got {value!r}", value=v)
        out.append(r)
    return tuple(out)


def check_alpha_grid(value: Any) -> tuple[float, ...] | None:
    """The alphas of a cross-validated path: ``None`` (automatic) or numbers >= 0."""
    if value is None:
        return None
    values = [] if isinstance(value, str) and not value.strip() else _numbers("alphas", value)
    if not values:
        raise ParameterError(
            "alphas", "{param} is empty; give at least one alpha, or leave it out", value=value
        )
    return tuple(check_nonnegative_float("alphas", v) for v in values)


def fit(
    data: Any,
    target: str | None = None,
    *,
    formula: str | None = None,
    features: Sequence[str] | str | None = None,
    task: str | None = None,
    model: str = "linear",
    loss: str | None = None,
    solver: str = "auto",
    alpha: float | str | None = None,
    l1_ratio: float | str | Sequence[float] = 0.0,
    delta: float = 1.0,
    hidden: int = 64,
    epochs: int | None = None,
    batch_size: int = 256,
    lr: float | None = None,
    val_split: float | None = None,
    patience: int | None = None,
    seed: int = 0,
    device: str | None = None,
    drop_na: bool = False,
    delimiter: str | None = None,
    out: str | os.PathLike[str] = "torchlinear-model",
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
    delimiter : str, optional
        CSV separator (default ``,``; tab for ``.tsv``).
    out : str or path-like, default "torchlinear-model"
        The run folder. It is written as a whole or not at all: the fit writes into a
        staging folder ``.NAME.partial`` beside it and swaps it into place at the end,
        holding the lock file ``.NAME.lock`` meanwhile (a second fit into the same folder
        is refused). See :mod:`torchlinear.workflow.rundir`.
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
        line, beyond it (default: :func:`torchlinear._validation.memory_budget`, half of
        the available memory unless :func:`~torchlinear._validation.set_memory_limit`
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
        or :class:`~torchlinear.engine.DivergenceError` when training diverges.
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
    from torchlinear import distributed as tld

    start = time.perf_counter()
    opts = check_options(
        target=target,
        features=features,
        task=task,
        model=model,
        loss=loss,
        solver=solver,
        alpha=alpha,
        l1_ratio=l1_ratio,
        delta=delta,
        hidden=hidden,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        val_split=val_split,
        patience=patience,
        seed=seed,
        device=device,
        drop_na=drop_na,
        progress=progress,
        resume=resume,
        stream=stream,
        memory_limit=memory_limit,
        formula=formula,
        max_levels=max_levels,
        overwrite=overwrite,
        max_classes=max_classes,
        cov_type=cov_type,
        cv=cv,
        cv_shuffle=cv_shuffle,
        alphas=alphas,
        n_alphas=n_alphas,
    )
    out_dir = check_output_dir("out", out)
    owns_group = join_group(opts.device)
    try:
        with memory_limit_of(opts.memory_limit):
            return fit_opened(
                data, opts, out_dir, start, delimiter, batch_rows, download, callbacks
            )
    finally:
        if owns_group:
            tld.shutdown()


def join_group(device: str | None) -> bool:
    """Join the process group ``torchrun`` describes (two or more ranks); return whether
    this call initialised it (and so should shut it down)."""
    from torchlinear import distributed as tld

    if tld.is_distributed() or not tld.launched_by_torchrun():
        return False
    if os.environ.get("WORLD_SIZE", "1").strip() in ("0", "1"):
        return False
    return tld.init_from_env(device=resolve_device(device))


def fit_opened(
    data: Any,
    opts: Options,
    out_dir: Path,
    start: float,
    delimiter: str | None,
    batch_rows: int | None,
    download: bool,
    callbacks: Sequence[Any],
) -> FitResult:
    """The body of :func:`fit` once the options are checked (and any process group is up)."""
    from torchlinear import distributed as tld

    main = tld.is_main_process()
    if not main:  # one set of progress bars, from rank 0
        opts = dataclasses.replace(opts, progress=False)
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
    )
    streamed = resolved.source is not None and (
        opts.stream is True
        or (opts.stream is None and resolved.estimated_bytes() > opts.memory_limit // 4)
    )
    plan = plan_route(opts, resolved.task, streamed)
    if plan.route in EXACT_ROUTES:
        streamed = True
    if opts.resume and plan.route in (*EXACT_ROUTES, "softmax-lbfgs"):
        raise ParameterError(
            "resume",
            "{param} continues minibatch training; this fit ({kind}) has no checkpoints: "
            "leave out {param}",
            value=True,
            kind="exact least squares" if plan.route in EXACT_ROUTES else "L-BFGS",
        )
    if opts.cov_type != "nonrobust" and (plan.route != "exact" or (opts.alpha or 0) > 0):
        raise ParameterError(
            "cov_type",
            "{param} {value} (robust standard errors) applies to exact unpenalised least "
            "squares; this fit is {kind}: leave out {param}",
            value=opts.cov_type,
            kind="a ridge fit" if plan.route == "exact" else f"{plan.task} by {plan.route}",
        )
    if opts.patience is not None and plan.route in (*EXACT_ROUTES, "softmax-lbfgs"):
        raise ParameterError(
            "patience",
            "{param} (early stopping) applies to minibatch training only",
            value=opts.patience,
        )
    val_fraction = opts.val_split
    given_val = resolved.X_test is not None and val_fraction is None
    if val_fraction is None:
        # an exact fit has nothing to stop early: its statistics describe every row (and
        # cross-validation is the validation of --alpha cv)
        val_fraction = 0.0 if given_val or plan.route in EXACT_ROUTES else 0.2
    run = RunFolder(out_dir, overwrite=opts.overwrite, resume=opts.resume)
    error = None
    if main:  # rank 0 alone locks and stages the run folder; the others wait for it
        try:
            run.open()
        except Exception as exc:
            error = exc
    tld.exchange_status(error, [])
    try:
        ctx = FitContext(
            resolved, opts, plan, val_fraction, given_val, run.checkpoint, list(callbacks)
        )
        stamp = None
        if plan.route not in ("exact", "softmax-lbfgs"):
            stamp = fingerprint(resolved, run_settings(opts, plan, streamed, ctx, delimiter,
                                                       batch_rows))  # fmt: skip
            if opts.resume:
                check_fingerprint(run.checkpoint, stamp)
            if main:
                write_fingerprint(run.checkpoint, stamp)
        if tld.world_size() > 1 and resolved.source is not None and streamed:
            if plan.route not in EXACT_ROUTES:
                raise ParameterError(
                    "stream",
                    "streamed gradient training is not supported across ranks yet; use {0} (or "
                    "a larger {memory_limit}) so that every rank loads the file, or run a "
                    "single process",
                    value=True,
                    suggestions=[("stream", False)],
                )
            ctx.shard_rows_globally()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = ctx.run(streamed)
        messages = unique_messages(caught)
        seconds = time.perf_counter() - start
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
        if main:  # rank 0 alone writes the output folder: staged, then swapped into place
            written = write_outputs(result, outcome, resolved, opts, ctx, run.staging)
            run.commit()
            result.files = [out_dir / p.relative_to(run.staging) for p in written]
    except BaseException as exc:
        if main:
            run.abort(isinstance(exc, KeyboardInterrupt))
        raise
    finally:
        if main:
            run.release()
    shown: set[str] = set()
    for w in caught:  # once each, now that the report records them
        text = str(w.message).splitlines()[0]
        if text in messages and text not in shown:
            shown.add(text)
            warnings.warn(w.message, w.category, stacklevel=2)
    return result


def unique_messages(caught: list) -> list[str]:
    seen: list[str] = []
    for w in caught:
        text = str(w.message).splitlines()[0]
        if text not in seen and not issubclass(w.category, DeprecationWarning):
            seen.append(text)
    return seen
