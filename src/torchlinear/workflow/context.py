"""One fit: the data, the options and the route, run through the estimators."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from torchlinear import distributed as tld
from torchlinear._sklearn_protocol import target_vector
from torchlinear._threads import single_threaded
from torchlinear._validation import ParameterError, resolve_device
from torchlinear.data.split import Sample, holdout_mask, keyed_uniform
from torchlinear.estimators import (
    ElasticNet,
    ElasticNetCV,
    FitOptions,
    LinearRegression,
    MLPClassifier,
    MLPRegressor,
    SoftmaxRegression,
)
from torchlinear.exact import LOCAL, Combine
from torchlinear.exact.fold_stats import HashedKFold
from torchlinear.workflow.metrics import (
    ClassificationMeter,
    HeldOutRows,
    RegressionMeter,
    gram_metrics,
    log_proba_chunk,
    merged_moments,
    plain,
    predict_chunk,
    row_chunks,
    score_chunks,
)
from torchlinear.workflow.settings import (
    EXACT_ROUTES,
    MAX_CLASSES,
    SAMPLE_BYTES,
    SAMPLE_ROWS,
    Options,
    Outcome,
    Plan,
    TrainingInterrupted,
)
from torchlinear.workflow.sources import Data


def count_data_lines(path: Path, offset: int | None) -> int:
    """Lines from byte ``offset`` to the end of the file (a last line without a line break
    counts): at least the rows a CSV parser finds there (empty lines and line breaks
    inside quoted fields only add to it).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_bytes(b"x,y\\n1,2\\n3,4")
    >>> count_data_lines(path, 4)
    2
    """
    count, last = 0, b"\n"
    with open(path, "rb") as fh:
        fh.seek(offset or 0)
        while block := fh.read(1 << 24):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


class FitContext:
    """One fit: the data, the options and the chosen route."""

    def __init__(self, data, opts, plan, val_fraction, given_val, checkpoint, callbacks):
        self.data: Data = data
        self.opts: Options = opts
        self.plan: Plan = plan
        self.val_fraction: float = val_fraction
        self.given_val: bool = given_val
        self.checkpoint: Path = checkpoint
        self.callbacks = callbacks
        self.device = resolve_device(opts.device)
        self.row_offset = 0  # the global index of this rank's first row
        self.total_rows: int | None = None  # rows of every rank together, once counted

    def shard_rows_globally(self) -> None:
        """Read only this rank's part of the file, numbering its rows globally.

        Each rank counts the rows of its part (one pass, after ``drop_na``) and the ranks
        exchange the counts, so that row ``i`` of the file has index ``i`` on whichever
        rank reads it: the validation split and the figure sample are the single-process
        ones.
        """
        count, error = 0, None
        try:
            self.data.source = tld.shard_source(self.data.source)
            for chunk in self.data.source.iter_chunks():
                count += len(chunk[0])
        except Exception as exc:  # shared with the other ranks before anyone waits
            error = exc
        counts = tld.exchange_status(error, [count])
        self.row_offset = sum(c[0] for c in counts[: tld.rank()])
        self.total_rows = sum(c[0] for c in counts)

    def _combine(self, *stats: Any) -> list[Any]:
        """The statistics of every rank's rows together (the same on every rank)."""
        if tld.world_size() == 1:
            return list(stats)
        return [None if s is None else tld.allreduce_gram(s) for s in stats]

    def split_chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray, Any, Any, np.ndarray]]:
        """``(rows, X, y, w, held_out)`` per chunk of the data, rows numbered globally
        (``w`` the sample weights, or None)."""
        seen = self.row_offset
        for X, y, w in self.data.chunks():
            m = len(X)
            rows = np.arange(seen, seen + m, dtype=np.int64)
            held = holdout_mask(seen, m, self.val_fraction, self.opts.seed)
            seen += m
            yield rows, X, y, w, held

    def progress_bar(self, desc: str) -> Any:
        """A progress bar over the rows of the data (shown with ``progress``)."""
        total = None if self.data.source is None else self.data.source.n_rows
        if self.data.X is not None:
            total = len(self.data.X)
        return tqdm(
            total=total,
            unit=" rows",
            unit_scale=True,
            desc=desc,
            disable=None if self.opts.progress else True,  # None: off when not a terminal
            leave=False,
        )

    def check_rows(self, n_train: int, n_val: int) -> None:
        """Refuse a fit with fewer than two rows, or a split that leaves fewer than two
        for training."""
        label = self.data.label
        total = n_train + n_val
        if total < 2:
            raise ValueError(
                f"{label}: only {total} data row(s) to fit; a model needs at least 2 rows"
            )
        if n_train < 2:
            raise ParameterError(
                "val_split",
                "{label}: {param}={value:g} left {n_train} of {total} rows for training; use a "
                "smaller {param} or more data",
                value=self.val_fraction,
                label=label,
                n_train=n_train,
                total=total,
            )

    def check_classes(self, k: int, n_rows: int, at_least: bool = False) -> None:
        """Refuse a classification target with too many distinct values (``k`` of them in
        ``n_rows`` rows; ``at_least`` when counting stopped early): more than
        ``max_classes`` (default :data:`MAX_CLASSES`), or, by default, more than 20 that
        are over half as many as the rows (an ID column)."""
        limit = self.opts.max_classes
        too_many = k > (MAX_CLASSES if limit is None else limit)
        mostly_once = limit is None and k > 20 and 2 * k > n_rows
        if not (too_many or mostly_once):
            return
        why = (
            f"the limit is {MAX_CLASSES if limit is None else limit:,}"
            if too_many
            else "most of its values occur once"
        )
        raise ParameterError(
            "max_classes",
            "{label}: the target {column!r} has {k} distinct values in {n} rows: too many "
            "classes for classification ({why}; is it an ID column?); choose another "
            "{target}, use {0}, or raise {param}",
            value=limit,
            label=self.data.label,
            column=self.data.target,
            k=("over " if at_least else "") + f"{k:,}",
            n=f"{n_rows:,}",
            why=why,
            suggestions=[("task", "regression")],
        )

    def run(self, streamed: bool) -> Outcome:
        if self.plan.route in EXACT_ROUTES:
            return self.fit_exact()
        if streamed:
            return self.fit_streamed()
        # On small problems, starting and synchronising threads costs more than the
        # arithmetic (and threads that wait for each other are ruinous on a busy machine).
        width = self.opts.hidden if self.plan.route == "mlp" else 10
        small = self.device.type == "cpu" and self.data.estimated_bytes() // 8 * width < 1 << 23
        with single_threaded() if small else contextlib.nullcontext():
            return self.fit_in_memory()

    def _gather_counts(
        self, n_train: int, n_val: int, sample: Sample, targets: tuple[float, float, float]
    ) -> tuple[int, int, Sample, tuple[float, float, float]]:
        """Row counts, rows dropped, the figure sample and the training targets' moments
        of every rank together."""
        if tld.world_size() == 1:
            return n_train, n_val, sample, targets
        dropped = int(self.data.source.n_dropped or 0) if self.data.source is not None else 0
        parts: list[Any] = [None] * tld.world_size()
        torch.distributed.all_gather_object(
            parts, (n_train, n_val, dropped, sample.rows, sample.X, sample.y, targets)
        )
        merged = Sample(sample.capacity, sample.seed)
        for _, _, _, rows, X, y, _ in parts:  # in rank order: the single-process sample
            if X is not None:
                merged.add(rows, X, y)
        self.data.dropped_total = sum(p[2] for p in parts)
        moments = merged_moments([p[6] for p in parts])
        return sum(p[0] for p in parts), sum(p[1] for p in parts), merged, moments

    def fit_exact(self) -> Outcome:
        """The exact fit: :func:`~torchlinear.exact.solve_exact` over the training rows.

        The first pass also accumulates the validation rows' statistics and the figure
        sample; a pass the driver asks for later (the QR fallback, refinement) re-reads
        the file.
        """
        d = len(self.data.feature_names)
        one_process = tld.world_size() == 1

        def new_held_out() -> HeldOutRows | None:
            if self.val_fraction <= 0:
                return None
            return HeldOutRows(d, self.device, keep_rows=one_process)

        def new_sample() -> Sample:
            return Sample(sample_capacity(d), self.opts.seed)

        rows = TrainingRows(self, new_held_out, new_sample, one_process)
        alpha = 0.0 if isinstance(self.opts.alpha, str) else self.opts.alpha or 0.0
        est = self.exact_estimator(rows, alpha, LOCAL if one_process else tld.RANKS)
        held_out, sample = rows.held_out, rows.sample
        if held_out is not None and held_out.stats is not None:
            (held_out.stats,) = self._combine(held_out.stats)
        n_train, n_val, sample, targets = self._gather_counts(
            rows.counts[0], rows.counts[1], sample, rows.targets.moments()
        )
        self.check_rows(n_train, n_val)
        coef, intercept = est.coef_, float(est.intercept_)
        if self.plan.route == "exact":
            train_metrics, config = exact_metrics(est.solution_, n_train, alpha, targets[2])
        else:
            train_metrics = gram_metrics(est.statistics(), coef, intercept)
            train_metrics["n"] = n_train
            config = {"solver": "cd", "alpha": float(getattr(est, "alpha_", alpha)), "passes": 1}
        val_metrics = None
        if held_out is not None and n_val > 0:
            val_metrics = held_out.metrics(coef, intercept)
        figure_rows = sample.arrays()
        figures = None
        if figure_rows is not None:
            Xs, ys = figure_rows
            figures = (ys, predict_chunk(est, Xs))
        return Outcome(
            est,
            train_metrics,
            val_metrics,
            None,
            n_train,
            n_val,
            figures,
            "validation" if val_metrics is not None else "training",
            config=config,
            cv=est.cv_results_ if self.plan.route == "enet-cv" else None,
        )

    def exact_estimator(self, rows: TrainingRows, alpha: float, combine: Combine) -> Any:
        """The estimator of an exact route, fitted from the stream of training rows:
        least squares or ridge, the elastic net, or its cross-validated path."""
        d, names = len(self.data.feature_names), self.data.feature_names
        intercept = self.data.fit_intercept
        if self.plan.route == "exact":
            exact = LinearRegression(
                alpha=alpha,
                device=self.opts.device,
                fit_intercept=intercept,
                cov_type=self.opts.cov_type,
            ).fit_chunks(
                rows,
                n_features=d,
                feature_names=names,
                target_name=self.data.target,
                combine=combine,
                alpha_per_weight=True,  # --alpha is ElasticNet's (l1_ratio 0): per row
            )
            # the model as fitted: Ridge's alpha, on the sum of squares
            solved = exact.solution_
            assert solved is not None  # every fit sets it
            return exact.set_params(alpha=float(solved.alpha))
        if self.plan.route == "enet":
            est = ElasticNet(
                **self._cd_settings(),
                alpha=alpha,
                l1_ratio=self.opts.l1_ratio,
                fit_intercept=intercept,
                positive=self.opts.positive,
            )
            return est.fit_chunks(rows, n_features=d, feature_names=names, combine=combine)
        if not self.opts.cv_shuffle:  # KFold(K) of the training rows: number them
            rows.number_training_rows = True
        return self._cv_estimator().fit_chunks(
            rows,
            n_features=d,
            n_samples=None if self.opts.cv_shuffle else self._training_row_count(),
            feature_names=names,
            combine=combine,
        )

    def _cv_estimator(self) -> ElasticNetCV:
        opts = self.opts
        cv: Any = HashedKFold(opts.cv, seed=opts.seed) if opts.cv_shuffle else opts.cv
        alphas: Any = list(opts.alphas) if opts.alphas is not None else opts.n_alphas
        ratios = list(opts.l1_ratios)
        return ElasticNetCV(
            **self._cd_settings(),
            fit_intercept=self.data.fit_intercept,
            l1_ratio=ratios if len(ratios) > 1 else ratios[0],
            alphas=alphas,
            cv=cv,
            positive=opts.positive,
        )

    def _cd_settings(self) -> dict[str, Any]:
        """``--epochs`` caps the sweeps of coordinate descent (its ``max_iter``)."""
        return {} if self.plan.epochs is None else {"max_iter": self.plan.epochs}

    def _row_count(self) -> int:
        """Rows of the data (every rank's together) before the pass, for contiguous folds:
        arrays and Parquet know it; a CSV's data lines are counted by a scan for line
        breaks, which reads the bytes without parsing them."""
        if self.total_rows is not None:
            n = self.total_rows
        elif self.data.X is not None:
            n = len(self.data.X)
        elif self.data.source.n_rows is not None:
            n = int(self.data.source.n_rows)
        else:
            n = count_data_lines(self.data.source.path, self.data.source.data_offset)
            self.total_rows = n
        return n

    def training_rows_before(self, row: int) -> int:
        """How many of the rows before global row ``row`` are training rows (not held out
        by the keyed hash of ``--val-split``): one vectorised hash of their numbers."""
        if self.val_fraction <= 0 or self.given_val:
            return row
        held, count = 0, 0
        for start in range(0, row, 1 << 22):  # a few MB at a time
            m = min(1 << 22, row - start)
            held += int(holdout_mask(start, m, self.val_fraction, self.opts.seed).sum())
            count += m
        return count - held

    def _training_row_count(self) -> int:
        """The training rows of the data (for ``KFold(K)`` folds of them); too few for the
        folds is refused."""
        rows = self._row_count()
        n = self.training_rows_before(rows)
        if n < self.opts.cv:
            held = " training rows after {val_split} holds some out" if n < rows else ""
            raise ParameterError(
                "cv",
                "{param} {value} folds need at least {value} rows, but {label} has {n}"
                + held
                + ": lower {param}",
                value=self.opts.cv,
                label=self.data.label,
                n=n,
            )
        return n

    def _memory_split(self) -> tuple[tuple[Any, Any, Any], tuple[Any, Any, Any] | None]:
        """The training and validation rows as ``(X, y, w)`` (no validation: None)."""
        X, y, w = self.data.read_all()
        if self.plan.task == "classification" and y is not None:
            self.check_classes(len(np.unique(np.asarray(y))), len(X))
        if self.given_val:
            return (X, y, w), (self.data.X_test, self.data.y_test, None)
        held = holdout_mask(0, len(X), self.val_fraction, self.opts.seed)
        if not held.any():
            return (X, y, w), None
        keep = ~held
        train = (X[keep], y[keep], None if w is None else w[keep])
        return train, (X[held], y[held], None if w is None else w[held])

    def _check_interrupt(self, history: Any) -> None:
        if history is not None and history.stop_reason == "interrupted":
            raise TrainingInterrupted(
                f"training interrupted after {len(history)} epoch(s); a checkpoint is saved in "
                f"{str(self.checkpoint)!r}: run the same command with --resume to continue"
            )

    def fit_in_memory(self) -> Outcome:
        (Xtr, ytr, wtr), validation = self._memory_split()
        Xv, yv, wv = validation or (None, None, None)
        n_train, n_val = len(Xtr), 0 if Xv is None else len(Xv)
        self.check_rows(n_train, n_val)
        plan, opts = self.plan, self.opts
        names = self.data.feature_names
        classification = plan.task == "classification"
        if classification:
            ytr = target_vector(ytr)
            classes = np.unique(ytr)
            if len(classes) < 2:
                raise ValueError(
                    f"{self.data.label}: the target {self.data.target!r} has only one class "
                    f"({plain(classes[0])!r}) in the training rows; a classifier needs at "
                    "least 2"
                )
        else:
            ytr = np.asarray(ytr, dtype=np.float64)
        val_data = None
        if Xv is not None and len(Xv):
            yv_fit = np.asarray(yv) if classification else np.asarray(yv, np.float64)
            val_data = (Xv, yv_fit)
        est = self._estimator(len(Xtr) if wtr is None else float(np.sum(wtr)))
        options = self._options(val_data)
        if plan.route == "softmax-lbfgs":
            options = FitOptions(feature_names=names)
        if wtr is None:
            est.fit(Xtr, ytr, options=options)
        else:
            est.fit(Xtr, ytr, sample_weight=wtr, options=options)
        history = getattr(est, "history_", None)
        self._check_interrupt(history)
        scaler = getattr(est, "standardizer_", None)
        config = (
            {"solver": "lbfgs", "max_iter": est.max_iter, "alpha": est.alpha}
            if plan.route == "softmax-lbfgs"
            else self._config_of(est)
        )
        train_metrics = self._score(est, Xtr, ytr, wtr)
        val_metrics = None if Xv is None or not len(Xv) else self._score(est, Xv, yv, wv)
        if Xv is not None and len(Xv):
            sample_X, sample_y, split = Xv, yv, "validation"
        else:
            sample_X, sample_y, split = Xtr, ytr, "training"
        sample_X, sample_y = subsample(sample_X, sample_y, SAMPLE_ROWS, opts.seed)
        figures = (sample_y, model_output(est, sample_X, classification))
        return Outcome(
            est,
            train_metrics,
            val_metrics,
            history,
            n_train,
            n_val,
            figures,
            split,
            config=config,
            scaler=scaler,
        )

    def _score(self, est: Any, X: np.ndarray, y: Any, w: Any = None) -> dict[str, Any]:
        return score_chunks(est, self.plan.task, row_chunks(X, np.asarray(y), w))

    def _estimator(self, weight: float) -> Any:
        """The estimator this fit's plan calls for: the command's settings, and for what the
        command leaves unset the estimator's own defaults (one definition of each).
        ``weight`` is the training rows' total weight (their number without weights): the
        penalty of ``--alpha`` is per unit of it, as on the exact route."""
        plan, opts = self.plan, self.opts
        if not self.data.fit_intercept and plan.route != "linear":
            raise ParameterError(
                "formula",
                "{param} {value!r} has no intercept, which only linear regression supports; "
                "keep the intercept (leave out '- 1' or '0 +')",
                value=opts.formula,
            )
        given = {
            "alpha": opts.alpha,
            "max_iter": plan.epochs,
            "lr": opts.lr,
            "batch_size": opts.batch_size,
            "random_state": opts.seed,
            "device": str(self.device),
            "progress": opts.progress,
        }
        if plan.route == "softmax-lbfgs":
            return _build(SoftmaxRegression, given, solver="lbfgs")
        optimizer = plan.optimizer
        assert optimizer is not None
        if plan.route == "mlp":
            if plan.task == "classification":
                return _build(MLPClassifier, given, hidden=opts.hidden, l1_ratio=opts.l1_ratio,
                              solver=optimizer)  # fmt: skip
            return _build(MLPRegressor, given, hidden=opts.hidden, l1_ratio=opts.l1_ratio,
                          solver=optimizer, loss=plan.loss, delta=opts.delta)  # fmt: skip
        if plan.route == "linear":
            if plan.loss == "squared" and opts.alpha:  # ElasticNet's alpha, per unit weight
                given["alpha"] = float(opts.alpha) * weight
            return _build(LinearRegression, given, loss=plan.loss, l1_ratio=opts.l1_ratio,
                          delta=opts.delta, solver=optimizer,
                          fit_intercept=self.data.fit_intercept)  # fmt: skip
        return _build(SoftmaxRegression, given, solver=optimizer)

    def _options(self, val_data: Any) -> FitOptions:
        metrics = ["mse", "mae"] if self.plan.task == "regression" else None
        return FitOptions(
            feature_names=self.data.feature_names,
            target_name=self.data.target,
            val_data=val_data,
            patience=self.opts.patience,
            checkpoint=str(self.checkpoint),
            resume=self.opts.resume,
            metrics=metrics,
            callbacks=tuple(self.callbacks),
        )

    @staticmethod
    def _config_of(est: Any) -> dict[str, Any] | None:
        config = getattr(est, "train_config_", None)
        if config is not None:
            return config.to_dict()
        history = getattr(est, "history_", None)
        return None if history is None else {"solver": est.solver_, "max_iter": est.max_iter}

    def fit_streamed(self) -> Outcome:
        """Gradient training that reads the file again every epoch (the estimator's
        ``fit_chunks``), then one pass for the final model's metrics."""
        plan = self.plan
        d = len(self.data.feature_names)
        n_train, n_val, weight = self.count_streamed_rows()
        if plan.route == "linear" and plan.loss == "l1":
            warnings.warn(
                "least absolute deviations on data streamed from disk (larger than the "
                f"memory limit) is fitted by a gradient method ({plan.optimizer}): the result "
                "is approximate, not the exact optimum that the in-memory linear program "
                "reaches",
                UserWarning,
                stacklevel=2,
            )
        est = self._estimator(weight)
        options = self._options(self.streamed_part(True) if n_val else None)
        est.fit_chunks(self.streamed_part(False), n_features=d,
                       feature_names=self.data.feature_names, options=options)  # fmt: skip
        history = est.history_
        self._check_interrupt(history)
        train_metrics, val_metrics, figures = self.score_streamed(est, n_val)
        return Outcome(
            est,
            train_metrics,
            val_metrics,
            history,
            n_train,
            n_val,
            figures,
            "validation" if n_val else "training",
            config=self._config_of(est),
            scaler=getattr(est, "standardizer_", None),
        )

    def streamed_part(self, validation: bool) -> Callable[[], Iterator[tuple[np.ndarray, Any]]]:
        """The training (or validation) rows, as a stream read again on every call."""
        classification = self.plan.task == "classification"

        def chunks() -> Iterator[tuple[Any, ...]]:
            for _, X, y, w, held in self.split_chunks():
                rows = held if validation else ~held
                if not rows.any():
                    continue
                if not rows.all():
                    X, y, w = X[rows], np.asarray(y)[rows], None if w is None else w[rows]
                y = np.asarray(y) if classification else np.asarray(y, dtype=np.float64)
                yield (X, y) if w is None else (X, y, w)

        return chunks

    def count_streamed_rows(self) -> tuple[int, int, float]:
        """One pass to count the training and validation rows and the classes (refusing a
        split that leaves too few rows, or a target with too many classes); with the
        training rows' total weight (their number without weights)."""
        classification = self.plan.task == "classification"
        labels: set[Any] = set()
        cap = 100 * (self.opts.max_classes or MAX_CLASSES)
        n_train = n_val = 0
        weight = 0.0
        for _, _, y, w, held in self.split_chunks():
            n_train += int((~held).sum())
            n_val += int(held.sum())
            weight += float((~held).sum()) if w is None else float(np.asarray(w)[~held].sum())
            if classification and len(labels) <= cap:
                labels.update(np.unique(np.asarray(y)).tolist())
        if classification:
            self.check_classes(len(labels), n_train + n_val, at_least=len(labels) > cap)
        self.check_rows(n_train, n_val)
        return n_train, n_val, weight

    def score_streamed(
        self, est: Any, n_val: int
    ) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:
        """A last pass: the training and validation metrics of the final model, and the
        figure sample (validation rows when there are some)."""
        classification = self.plan.task == "classification"
        sample = Sample(sample_capacity(len(self.data.feature_names)), self.opts.seed)
        meters: dict[bool, Any] = {}
        for flag in (False, True):
            meters[flag] = ClassificationMeter(est.classes_) if classification else None
            meters[flag] = meters[flag] or RegressionMeter()
        with self.progress_bar("reading (metrics)") as bar:
            for rows, X, y, w, held in self.split_chunks():
                y = np.asarray(y) if classification else np.asarray(y, dtype=np.float64)
                out = model_output(est, X, classification)
                for flag in (False, True):
                    select = held if flag else ~held
                    if select.any():
                        meters[flag].update(
                            y[select], out[select], None if w is None else w[select]
                        )
                eligible = held if n_val else ~held
                sample.add(rows[eligible], X[eligible], y[eligible])
                bar.update(len(rows))
        figure_rows = sample.arrays()
        figures = None
        if figure_rows is not None:
            Xs, ys = figure_rows
            figures = (ys, model_output(est, Xs, classification))
        return meters[False].result(), meters[True].result() if n_val else None, figures


def _build(cls: type, given: dict[str, Any], **settings: Any) -> Any:
    """``cls`` with ``settings`` and the ``given`` values that are not None."""
    return cls(**{k: v for k, v in given.items() if v is not None}, **settings)


def subsample(X: np.ndarray, y: Any, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if len(X) <= limit:
        return X, y
    keys = keyed_uniform(np.arange(len(X)), seed, 1)
    keep = np.sort(np.argpartition(keys, limit - 1)[:limit])
    return X[keep], y[keep]


def model_output(est: Any, X: np.ndarray, classification: bool) -> np.ndarray:
    """What the metrics and figures read: log-probabilities (classification) or
    predictions."""
    return log_proba_chunk(est, X) if classification else predict_chunk(est, X)


def sample_capacity(n_features: int) -> int:
    """Rows of the figure sample: at most :data:`SAMPLE_ROWS` and :data:`SAMPLE_BYTES` of
    ``X`` (at least 200 rows)."""
    return int(min(SAMPLE_ROWS, max(200, SAMPLE_BYTES // (8 * n_features))))


def exact_metrics(
    solution: Any, n_train: int, alpha: float, centred_tss: float | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The training metrics and the settings of an exact least-squares solve, from its
    statistics. R² is centred, as on validation rows and in ``evaluate``: without an
    intercept the solution's total sum of squares is about 0, so ``centred_tss`` (the
    training targets' sum of squares about their mean) is used."""
    rss, tss, W = float(solution.rss[0]), float(solution.tss[0]), float(solution.weight_sum)
    if not solution.fit_intercept and centred_tss is not None:
        tss = centred_tss
    mse = rss / W
    train_metrics = {
        "n": n_train,
        "r2": 1 - rss / tss if tss > 0 else math.nan,
        "mse": mse,
        "rmse": math.sqrt(mse),
    }
    config = {"solver": solution.solver, "alpha": alpha, "passes": solution.n_passes}
    return train_metrics, config


class TrainingRows:
    """The training rows of an exact fit as the driver's stream of chunks (one call per
    pass). The first pass that reads every row also accumulates the held-out rows'
    statistics, the figure sample and the row counts, and checks them: a pass the driver
    stops early (its probe found the normal equations wanting) leaves them to the next."""

    def __init__(
        self,
        ctx: FitContext,
        new_held_out: Callable[[], HeldOutRows | None],
        new_sample: Callable[[], Sample],
        one_process: bool,
    ) -> None:
        self.ctx = ctx
        self.new_held_out, self.new_sample = new_held_out, new_sample
        self.number_training_rows = False  # rows numbered among the training rows alone
        self.held_out = new_held_out()
        self.sample = new_sample()
        self.one_process = one_process
        self.counts = [0, 0]  # training and validation rows (of the complete pass)
        self.targets = RegressionMeter()  # the training targets' moments: a centred R²
        self.passes = 0
        self.complete = False  # whether a pass has read every row

    def __call__(
        self,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, np.ndarray]]:
        self.passes += 1
        first = not self.complete
        if first and self.passes > 1:  # the pass before stopped early: start over
            self.held_out, self.sample = self.new_held_out(), self.new_sample()
            self.counts = [0, 0]
            self.targets = RegressionMeter()
        desc = "reading (exact fit)" if self.passes == 1 else f"reading (pass {self.passes})"
        ordinal = self.ctx.training_rows_before(self.ctx.row_offset)
        with self.ctx.progress_bar(desc) as bar:
            for rows, X, y, w, held in self.ctx.split_chunks():
                y = np.asarray(y, dtype=np.float64)
                if first:
                    self.first_pass(rows, X, y, w, held)
                if held.any():
                    keep = ~held
                    X, y, rows = X[keep], y[keep], rows[keep]
                    w = None if w is None else w[keep]
                bar.update(len(held))
                if self.number_training_rows:  # the training rows' own numbers
                    rows = np.arange(ordinal, ordinal + len(X), dtype=np.int64)
                    ordinal += len(X)
                if len(X):
                    w_t = None if w is None else torch.from_numpy(w)
                    yield torch.from_numpy(X), torch.from_numpy(y), w_t, rows
        self.complete = True
        if first and self.one_process:
            self.ctx.check_rows(self.counts[0], self.counts[1])

    def first_pass(
        self, rows: np.ndarray, X: np.ndarray, y: np.ndarray, w: Any, held: np.ndarray
    ) -> None:
        """Count a chunk's rows; add its held-out rows to their statistics and the sample
        (or its rows, when nothing is held out)."""
        if held.any():
            assert self.held_out is not None
            Xv, yv = X[held], y[held]
            self.held_out.update(Xv, yv, None if w is None else w[held])
            self.sample.add(rows[held], Xv, yv)
        elif self.held_out is None:
            self.sample.add(rows, X, y)
        train = ~held
        # the targets' moments serve the R² of a fit without an intercept (a centred total
        # sum of squares); a fit with one has it in its statistics, and skips the work
        if not self.ctx.data.fit_intercept and y.ndim == 1 and train.any():
            y_t = y[train]
            self.targets.update(y_t, y_t, None if w is None else np.asarray(w)[train])
        self.counts[0] += int(train.sum())
        self.counts[1] += int(held.sum())
