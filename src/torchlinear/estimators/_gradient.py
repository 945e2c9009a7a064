r"""Gradient fitting shared by the estimators: standardize, build, train, map back.

The estimators validate their inputs and then call :func:`fit_gradient`, which

1. fits a :class:`~torchlinear.preprocessing.Standardizer` on ``X`` (optional, on by
   default) and puts it *inside* the model (:class:`~torchlinear.models.Standardized`),
   so no standardized copy of ``X`` is made and the trained module predicts from raw
   features;
2. builds the model (linear, softmax head or two-layer MLP) with the weights at zero (the
   linear problems are convex, so the start only affects the path) or seeded random (MLP),
   and the intercept at the target's mean (squared loss), median (L1, Huber) or the log
   class frequencies (cross-entropy);
3. trains with :func:`torchlinear.engine.train`, with the elastic-net penalty on the
   weights (L1 by soft-thresholding);
4. maps the coefficients back to the original features.

With ``standardize=True`` the penalty applies to the coefficients of the *standardized*
features (as in glmnet), which makes ``alpha`` comparable across features of different
units; pass ``standardize=False`` to penalise the original-scale coefficients, which is
the objective scikit-learn's ``Lasso``/``ElasticNet``/``Ridge`` minimise on raw ``X``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from torchlinear._sklearn_protocol import warn_convergence
from torchlinear._validation import check_positive_int, check_sample_weight
from torchlinear.engine import Callback, History, TrainConfig, train
from torchlinear.engine.config import LR_DROP_FACTOR, LR_DROPS
from torchlinear.estimators._target_units import (
    penalty_in_units,
    scaled_targets,
    to_data_units,
    unit_for,
)
from torchlinear.losses import Loss, Penalty, get_loss
from torchlinear.models import MLP, LinearModel, SoftmaxHead, Standardized
from torchlinear.preprocessing import Standardizer

__all__ = [
    "FitOptions",
    "GradientFit",
    "check_convergence",
    "loss_improvement",
    "fit_gradient",
    "fit_gradient_chunks",
    "label_index",
    "logistic_alpha",
]


@dataclass
class FitOptions:
    """What a caller adds to an estimator's own settings when it fits (the command line
    does): names, validation data, early stopping, checkpoints and hooks.

    Parameters
    ----------
    feature_names : sequence of str, optional
        Become ``feature_names_in_`` (arrays carry no column names).
    target_name : str, optional
        The target's name (for the summary).
    val_data : optional
        Held-out data for the per-epoch validation loss: ``(X, y)`` with ``y`` as ``fit``
        takes it (labels for classifiers), or for :meth:`fit_chunks` a callable returning
        fresh ``(X, y)`` chunks.
    patience, checkpoint, checkpoint_every, resume :
        :class:`~torchlinear.engine.TrainConfig`'s settings of the same names.
    metrics : sequence of str, optional
        Extra per-epoch metrics (``"mse"``, ``"mae"``, ``"accuracy"``).
    callbacks : sequence of Callback
        Training hooks.

    Examples
    --------
    >>> FitOptions(patience=3).config(TrainConfig(epochs=5)).patience
    3
    """

    feature_names: Sequence[str] | None = None
    target_name: str | None = None
    val_data: Any = None
    patience: int | None = None
    checkpoint: str | None = None
    checkpoint_every: int | None = None
    resume: bool = False
    metrics: Sequence[str] | None = None
    callbacks: Sequence[Callback] = field(default_factory=tuple)

    def config(self, config: TrainConfig) -> TrainConfig:
        """``config`` with these options' training settings."""
        changes: dict[str, Any] = {"resume": self.resume}
        if self.patience is not None:
            changes["patience"] = self.patience
        if self.checkpoint is not None:
            changes["checkpoint"] = self.checkpoint
            changes["checkpoint_every"] = self.checkpoint_every or max(1, config.epochs // 20)
        return replace(config, **changes)


def loss_improvement(losses: Sequence[float], n_iter_no_change: int) -> tuple[float, int]:
    """The relative improvement of the best training loss of the last ``window`` epochs
    over the best before them, and ``window`` (``n_iter_no_change``, fewer when fewer
    epochs ran; 0 after one epoch, when the improvement is ``inf``: not measurable).

    Examples
    --------
    >>> loss_improvement([1.0, 0.5, 0.25], 2)
    (0.75, 2)
    >>> loss_improvement([1.0], 5)
    (inf, 0)
    """
    window = min(int(n_iter_no_change), len(losses) - 1)
    if window < 1:
        return float("inf"), 0
    before, recent = min(losses[:-window]), min(losses[-window:])
    return max(0.0, before - recent) / max(abs(before), 1e-300), window


UNSTABLE_RISE = 0.1
"""A training loss that stops improving while its last epoch is this much (relative) above
its best epoch has not settled: the steps overshoot, and the fit is not converged."""


def check_convergence(history: History, config: TrainConfig, who: str) -> bool:
    """Whether training met its criterion; a ``ConvergenceWarning`` with the last relative
    improvement when the epochs ran out first (``tol=None``: a fixed number of epochs).

    Early stopping on validation data counts as converged; so does a training loss that
    stopped improving, unless its last epoch ended more than :data:`UNSTABLE_RISE` above
    its best (then the steps are too large, and the warning says so). A minibatch run
    stops on a plateau only after dividing its learning rate by 10 on its first
    :data:`~torchlinear.engine.config.LR_DROPS` plateaus (its noise floors); when the
    epochs run out before that, the warning says how many drops were taken.

    Examples
    --------
    >>> h = History(train_loss=[1.0, 0.5, 0.25])
    >>> h.stop_reason = "completed"
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_convergence(h, TrainConfig(tol=1e-6, n_iter_no_change=2), "sgd")
    False
    >>> str(caught[0].message).split(":")[0]
    'sgd did not converge in 3 epochs'
    """
    if history.stop_reason == "early_stopping":
        return True
    if history.stop_reason == "converged":
        losses = list(history.train_loss)
        best, last = min(losses), losses[-1]
        if last <= best + UNSTABLE_RISE * abs(best):
            return True
        warn_convergence(
            f"{who} stopped after {len(losses)} epochs because the training loss no longer "
            f"improved, but it ended {(last - best) / abs(best):.0%} above its best epoch: "
            "the steps are too large to settle (features of very different scales?); "
            "lower {lr}",
            stacklevel=4,
            params=("lr",),
        )
        return False
    if history.stop_reason == "stalled":
        advice = (
            "use {solver} 'adam' (with the Huber loss, a {delta} far below the spread of "
            "the residuals makes it nearly the absolute loss, which {loss} 'l1' solves "
            "exactly)"
            if who == "lbfgs"
            else "use {solver} 'lbfgs' (smooth losses without L1), or more {max_iter}"
        )
        warn_convergence(
            f"{who} stalled after {len(history)} epochs: the training loss stopped improving "
            "while its gradient was still large, so the fit is not a minimum; rescale the "
            f"features (of very different scales?), or {advice}",
            stacklevel=4,
            params=("solver", "delta", "loss", "max_iter"),
        )
        return False
    if history.stop_reason == "completed" and config.tol is not None:
        losses = list(history.train_loss)
        improvement, window = loss_improvement(losses, config.n_iter_no_change)
        if window == 0:
            reason = (
                "one epoch gives no improvement to compare with tol; run at least 2 "
                "epochs ({max_iter})"
            )
        elif history.lr_drops:
            after = ", ".join(str(e) for e in history.lr_drops)
            reason = (
                f"the training loss stalled at the noise of its minibatch steps and the "
                f"learning rate was divided by {LR_DROP_FACTOR:g} after epoch(s) {after}, but "
                "the epochs ran out before it stalled again at the last rate (a stall is "
                f"convergence after {LR_DROPS} drops, or once a drop no longer lowers the loss "
                f"by more than tol {config.tol:g}); increase {{max_iter}}"
            )
        elif improvement <= config.tol:
            reason = (
                f"the training loss improved by a relative {improvement:.3g} (<= tol "
                f"{config.tol:g}) over the last {window} epoch{'s' * (window != 1)}, but "
                f"converging takes {config.n_iter_no_change} such epochs; increase {{max_iter}}"
            )
        else:
            reason = (
                f"the training loss still improved by a relative {improvement:.3g} over the "
                f"last {window} epochs (> tol {config.tol:g}); increase {{max_iter}} or {{lr}}"
            )
        warn_convergence(
            f"{who} did not converge in {len(losses)} epoch{'s' * (len(losses) != 1)}: {reason}",
            stacklevel=4,
            params=("max_iter", "lr"),
        )
    return False


def label_index(classes: np.ndarray, y: Any) -> np.ndarray:
    """Position of each label in the sorted ``classes``; -1 for labels not among them.

    Examples
    --------
    >>> label_index(np.array(["a", "b"]), ["b", "c", "a"]).tolist()
    [1, -1, 0]
    """
    y = np.asarray(y)
    try:
        index = np.searchsorted(classes, y)
    except TypeError:  # labels of another type than the classes: none matches
        return np.full(len(y), -1, dtype=np.int64)
    index = np.clip(index, 0, len(classes) - 1)
    with np.errstate(all="ignore"):
        equal = np.asarray(classes[index] == y, dtype=bool)
    return np.where(equal, index, -1).astype(np.int64)


@dataclass
class GradientFit:
    """What :func:`fit_gradient` returns.

    Attributes
    ----------
    coef : torch.Tensor or None
        Shape ``(k, d)``, on the original feature scale; ``None`` for the MLP.
    intercept : torch.Tensor or None
        Shape ``(k,)``, on the original scale; ``None`` without intercept or for the MLP
        (whose biases live in ``module``).
    module : torch.nn.Module
        The trained model, standardization included: ``module(X_raw)`` gives predictions
        (regression, shape ``(n,)`` or ``(n, k)``) or class logits ``(n, k)``.
    standardizer : Standardizer or None
        The fitted standardizer (``None`` with ``standardize=False``).
    classes : ndarray or None
        The sorted class labels found by :func:`fit_gradient_chunks` (classification).
    history : History
        Per-epoch losses and metrics.
    config : TrainConfig
        The configuration used.
    loss : Loss
        The loss minimised.
    penalty : Penalty
        The penalty applied.
    """

    coef: torch.Tensor | None
    intercept: torch.Tensor | None
    module: nn.Module
    standardizer: Standardizer | None
    history: History
    config: TrainConfig
    loss: Loss
    penalty: Penalty
    classes: np.ndarray | None = None

    @torch.no_grad()
    def output(self, X: torch.Tensor) -> torch.Tensor:
        """The model's output on raw features: predictions or class logits."""
        was_training = self.module.training
        self.module.eval()
        try:
            p = next(self.module.parameters())
            return self.module(X.to(device=p.device, dtype=p.dtype))
        finally:
            self.module.train(was_training)


def _weighted_median(y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Per-column weighted median of ``y`` (n,) or (n, k)."""
    y2 = y.reshape(len(y), -1).to(torch.float64)
    w = torch.ones(len(y), dtype=torch.float64, device=y.device) if w is None else w.double()
    out = []
    for j in range(y2.shape[1]):
        values, order = torch.sort(y2[:, j])
        cum = torch.cumsum(w[order], dim=0)
        k = int(torch.searchsorted(cum, 0.5 * cum[-1]))
        out.append(values[min(k, len(values) - 1)])
    return torch.stack(out)


def _initial_intercept(
    y: torch.Tensor, w: torch.Tensor | None, loss: Loss, n_classes: int | None
) -> torch.Tensor:
    if loss.task == "classification":
        assert n_classes is not None
        weights = torch.ones(len(y), dtype=torch.float64, device=y.device) if w is None else w
        counts = torch.zeros(n_classes, dtype=torch.float64, device=y.device)
        counts.index_add_(0, y, weights.to(torch.float64))
        return torch.log((counts + 1.0) / (counts.sum() + n_classes))
    if loss.name == "squared":
        y2 = y.reshape(len(y), -1).to(torch.float64)
        if w is None:
            return y2.mean(dim=0)
        return (w.double() @ y2) / w.double().sum()
    return _weighted_median(y, w)


def _mean_one_weights(sample_weight: Any, n: int, like: torch.Tensor) -> torch.Tensor | None:
    """Checked weights rescaled to mean one: the losses' plain mean becomes the weighted mean."""
    w = check_sample_weight(sample_weight, n)
    if w is None:
        return None
    return (w * (n / float(w.sum()))).to(like.device, like.dtype)


def fit_gradient(
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    sample_weight: torch.Tensor | None = None,
    n_classes: int | None = None,
    loss: str | Loss = "squared",
    delta: float = 1.0,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    model: str = "linear",
    hidden: int = 64,
    standardize: bool | str = True,
    fit_intercept: bool = True,
    config: TrainConfig | None = None,
    val_data: Any = None,
    metrics: Sequence[str] | dict[str, Callable] | None = None,
    callbacks: Sequence[Callback] = (),
) -> GradientFit:
    r"""Fit a linear model or two-layer MLP by minibatch gradient descent.

    Minimises ``loss(model(X), y) + alpha * (l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 *
    ||w||_2^2)`` (see :mod:`torchlinear.losses` for each loss's exact scaling).

    Parameters
    ----------
    X : torch.Tensor
        Validated features, shape ``(n, d)``, floating; training runs in its dtype.
    y : torch.Tensor
        Regression targets, floating, shape ``(n,)`` or ``(n, k)``; or, with
        ``loss="ce"``, class indices ``0..n_classes-1`` (int64, shape ``(n,)``).
    sample_weight : torch.Tensor, optional
        Non-negative, shape ``(n,)``; rescaled to mean one so the loss is the weighted mean.
    n_classes : int, optional
        Number of classes for ``"ce"`` (default ``y.max() + 1``).
    loss : {"squared", "l1", "huber", "ce"}, default "squared"
        The loss (``delta`` is Huber's threshold, in units of ``y``).
    alpha, l1_ratio : float
        Elastic-net penalty strength and L1 share (L1 needs the ``"sgd"`` or ``"adam"``
        optimizer; ``"lbfgs"`` takes L2 only).
    model : {"linear", "mlp"}, default "linear"
        ``"mlp"`` is ``Linear(d, hidden) -> ReLU -> Linear(hidden, k)``.
    hidden : int, default 64
        Hidden width of the MLP.
    standardize : bool or "center", default True
        Standardize the features inside the model (the penalty then applies to the
        standardized coefficients; see the module notes); ``"center"`` only subtracts
        their means (the penalty stays on the original coefficients: the intercept takes
        the shift), which keeps a feature of mean 1e6 from stalling the optimizer.
    fit_intercept : bool, default True
        Learn an intercept (without one, features are scaled but not centred).
    config : TrainConfig, optional
        Training settings (optimizer, epochs, lr, ...); ``config.seed`` also seeds the
        MLP's initial weights.
    val_data, metrics, callbacks :
        Passed to :func:`torchlinear.engine.train` (``val_data`` in raw features).
        Classification reports ``"accuracy"`` unless ``metrics`` says otherwise.

    Returns
    -------
    GradientFit

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(300, 3, dtype=torch.float64, generator=g) * torch.tensor([1.0, 10.0, 0.1])
    >>> y = X @ torch.tensor([2.0, 0.0, -30.0], dtype=torch.float64) + 1.0
    >>> cfg = TrainConfig(optimizer="lbfgs", epochs=5, seed=0)
    >>> fit = fit_gradient(X, y, config=cfg)
    >>> [round(v, 4) + 0.0 for v in fit.coef[0].tolist()], round(float(fit.intercept[0]), 4)
    ([2.0, 0.0, -30.0], 1.0)
    """
    config = config if config is not None else TrainConfig()
    loss_fn = get_loss(loss, delta=delta)
    penalty = Penalty(alpha, l1_ratio)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise ValueError(f"X must be floating point, got {X.dtype}")
    n, d = X.shape
    if len(y) != n:
        raise ValueError(f"y has {len(y)} rows but X has {n}")
    if model not in ("linear", "mlp"):
        raise ValueError(f"model must be 'linear' or 'mlp', got {model!r}")
    hidden = check_positive_int("hidden", hidden)
    classification = loss_fn.task == "classification"
    y, n_classes, n_outputs = _checked_target(y, X.dtype, classification, n_classes)
    if classification and metrics is None:
        metrics = ["accuracy"]
    w = _mean_one_weights(sample_weight, n, X)
    unit = unit_for(y.detach().cpu(), loss_fn, model, alpha, val_data)
    train_loss, train_penalty = loss_fn, penalty
    if unit != 1.0:  # trained in units of y (see target_unit), reported in its own
        y, train_loss, val_data = scaled_targets(y, loss_fn, unit, val_data)
        train_penalty = penalty_in_units(alpha, l1_ratio, loss_fn, unit)

    inner = _build(
        model, d, n_outputs, hidden, classification, fit_intercept, y.ndim, config.seed, X.dtype
    )
    if fit_intercept:
        bias = _output_bias(inner)
        with torch.no_grad():
            bias.copy_(_initial_intercept(y, w, loss_fn, n_classes).to(bias.dtype))
    standardizer = None
    module: nn.Module = inner
    if standardize:
        scaled = standardize != "center"
        standardizer = Standardizer(with_mean=fit_intercept, with_std=scaled).fit(X, w)
        module = Standardized(inner, standardizer.mean_, standardizer.scale_)
    data = (X, y) if w is None else (X, y, w)
    history = train(
        module,
        data,
        train_loss,
        config,
        penalty=train_penalty,
        val_data=val_data,
        metrics=metrics,
        callbacks=callbacks,
    )
    to_data_units(inner, unit)
    return _finish(inner, module, standardizer, history, config, loss_fn, penalty)


def _checked_target(
    y: torch.Tensor, dtype: torch.dtype, classification: bool, n_classes: int | None
) -> tuple[torch.Tensor, int | None, int]:
    """``y`` checked (class indices as int64, regression targets floating), the number of
    classes and the number of model outputs."""
    if classification:
        if y.ndim != 1 or y.is_floating_point():
            raise ValueError("with loss='ce', y must hold integer class indices of shape (n,)")
        y = y.to(torch.int64)
        if bool((y < 0).any()):
            raise ValueError("class indices in y must be >= 0")
        n_classes = int(y.max()) + 1 if n_classes is None else n_classes
        n_classes = check_positive_int("n_classes", n_classes)
        if n_classes < 2:
            raise ValueError("classification needs at least 2 classes; y holds only one")
        if int(y.max()) >= n_classes:
            raise ValueError(f"y holds class index {int(y.max())} but n_classes is {n_classes}")
        return y, n_classes, n_classes
    if y.ndim not in (1, 2):
        raise ValueError(f"y must have shape (n,) or (n, k), got {tuple(y.shape)}")
    if not y.is_floating_point():
        y = y.to(dtype)
    return y, n_classes, 1 if y.ndim == 1 else y.shape[1]


def _finish(
    inner: nn.Module,
    module: nn.Module,
    standardizer: Standardizer | None,
    history: History,
    config: TrainConfig,
    loss_fn: Loss,
    penalty: Penalty,
    classes: np.ndarray | None = None,
) -> GradientFit:
    """The trained model's coefficients on the original scale, as a :class:`GradientFit`."""
    coef = intercept = None
    if isinstance(inner, LinearModel):
        coef = inner.coef.clone()
        intercept = None if inner.intercept is None else inner.intercept.clone()
        if isinstance(module, Standardized):
            coef, intercept = _to_original(coef, intercept, module)
    return GradientFit(
        coef, intercept, module, standardizer, history, config, loss_fn, penalty, classes
    )


Chunks = Callable[[], Iterable[tuple[Any, Any]]]


def logistic_alpha(alpha: float, n_classes: int) -> float:
    r"""The L2 strength to put on a softmax head's rows so that, with two classes, the
    penalty is :math:`\tfrac{\alpha}{2}\|v\|^2` on the logistic model's one logit vector
    :math:`v = w_1 - w_0`: ``2 * alpha`` for two classes, ``alpha`` otherwise.

    Two rows started at zero stay opposite (their loss gradients are, and so are the
    penalty's), so :math:`w_1 = -w_0 = v / 2` and
    :math:`\tfrac{2\alpha}{2}(\|w_0\|^2 + \|w_1\|^2) = \tfrac{\alpha}{2}\|v\|^2`.

    Examples
    --------
    >>> logistic_alpha(0.1, 2), logistic_alpha(0.1, 3)
    (0.2, 0.1)
    """
    return 2 * alpha if n_classes == 2 else alpha


def fit_gradient_chunks(
    chunks: Chunks,
    *,
    n_features: int,
    loss: str | Loss = "squared",
    delta: float = 1.0,
    alpha: float = 0.0,
    l1_ratio: float = 0.0,
    model: str = "linear",
    hidden: int = 64,
    standardize: bool | str = True,
    fit_intercept: bool = True,
    config: TrainConfig | None = None,
    val_chunks: Chunks | None = None,
    metrics: Sequence[str] | None = None,
    callbacks: Sequence[Callback] = (),
    dtype: torch.dtype = torch.float64,
    penalty_on_sum: bool = False,
    binary_logistic: bool = False,
) -> GradientFit:
    """:func:`fit_gradient` for data read in chunks, every epoch again (a file).

    A first pass over ``chunks`` counts the rows, fits the standardizer, finds the classes
    (labels of any type, for ``loss="ce"``) and the target's mean (squared loss) or the
    median of a sample of it (robust losses) for the initial intercept; then the model
    trains on the stream with :func:`torchlinear.engine.train`.

    Parameters
    ----------
    chunks : callable
        Returns a fresh iterable of ``(X, y)`` or ``(X, y, sample_weight)`` chunks
        (arrays or tensors; ``y`` of regression targets or class labels) in the same order
        on every call. Weights are rescaled to mean one over the whole stream, as
        :func:`fit_gradient` rescales them: the loss is the weighted mean.
    n_features : int
    val_chunks : callable, optional
        Held-out rows in the same form; labels not seen in training are skipped.
    dtype : torch.dtype, default float64
        The training dtype.
    penalty_on_sum : bool, default False
        ``alpha`` penalises the (weighted) *sum* of the losses (as
        ``LinearRegression``'s): it is divided by the sum of the sample weights (the
        number of rows without weights), known after the first pass.
    binary_logistic : bool, default False
        Classification: when the first pass finds two classes, penalise as the logistic
        model in its one logit vector (:func:`logistic_alpha`), as
        :class:`~torchlinear.SoftmaxRegression` does.
    loss, delta, alpha, l1_ratio, model, hidden, standardize, fit_intercept, config :
        As for :func:`fit_gradient`.
    metrics, callbacks :
        As for :func:`fit_gradient`.

    Returns
    -------
    GradientFit
        With ``classes`` for classification.

    Examples
    --------
    >>> g = np.random.default_rng(0)
    >>> X = g.normal(size=(400, 2))
    >>> y = X @ [1.5, -2.0] + 0.5
    >>> parts = lambda: ((X[i : i + 100], y[i : i + 100]) for i in range(0, 400, 100))
    >>> cfg = TrainConfig(optimizer="lbfgs", epochs=5, seed=0)
    >>> fit = fit_gradient_chunks(parts, n_features=2, config=cfg)
    >>> [round(v, 4) for v in fit.coef[0].tolist()], round(float(fit.intercept[0]), 4)
    ([1.5, -2.0], 0.5)
    """
    config = config if config is not None else TrainConfig()
    loss_fn = get_loss(loss, delta=delta)
    classification = loss_fn.task == "classification"
    d = check_positive_int("n_features", n_features)
    first = _first_pass(chunks, d, classification, standardize, fit_intercept)
    scaler, n, labels, classes = first.scaler, first.n, first.labels, first.classes
    k = 1 if classes is None else len(classes)
    sample = None if classification else np.concatenate(first.y_sample)
    unit = 1.0 if sample is None else unit_for(sample, loss_fn, model, alpha)
    inner = _build(model, d, k, hidden, classification, fit_intercept, 1, config.seed, dtype)
    if fit_intercept:
        bias = _output_bias(inner)
        with torch.no_grad():
            if classes is not None:
                counts_t = torch.tensor([labels[c] for c in classes.tolist()], dtype=torch.float64)
                bias.copy_(torch.log((counts_t + 1.0) / (counts_t.sum() + k)).to(bias.dtype))
            elif loss_fn.name == "squared":
                bias.fill_(first.y_sum / first.w_sum / unit)
            else:
                bias.fill_(float(np.median(np.concatenate(first.y_sample))) / unit)
    module: nn.Module = inner
    standardizer = None
    if standardize:
        standardizer = scaler
        module = Standardized(inner, scaler.mean_, scaler.scale_)

    if metrics is None and classification:
        metrics = ["accuracy"]
    # the loss is the weighted mean (weights rescaled to mean one): a penalty on the
    # weighted sum becomes one per unit of weight
    if binary_logistic:
        alpha = logistic_alpha(alpha, k)
    alpha = alpha / first.w_sum if penalty_on_sum else alpha
    penalty = Penalty(alpha, l1_ratio)
    # trained in units of y (see target_unit), reported in its own
    train_penalty = penalty_in_units(alpha, l1_ratio, loss_fn, unit) if unit != 1 else penalty
    scales = (n / first.w_sum, unit)
    history = train(
        module,
        _mapped(chunks, classes, *scales),
        loss_fn.in_units(unit) if unit != 1 else loss_fn,
        config,
        penalty=train_penalty,
        val_data=None if val_chunks is None else _mapped(val_chunks, classes, *scales),
        metrics=metrics,
        callbacks=callbacks,
    )
    to_data_units(inner, unit)
    return _finish(inner, module, standardizer, history, config, loss_fn, penalty, classes)


@dataclass
class _FirstPass:
    """What :func:`fit_gradient_chunks` learns from a first pass over the chunks."""

    scaler: Standardizer
    n: int
    w_sum: float  # the sum of the weights (n without weights)
    y_sum: float  # weighted
    y_sample: list[np.ndarray]
    labels: dict[Any, float]
    classes: np.ndarray | None


def _first_pass(
    chunks: Chunks, d: int, classification: bool, standardize: bool | str, fit_intercept: bool
) -> _FirstPass:
    """Count the rows, fit the standardizer, and find the classes and their counts
    (classification) or the target's sum and a sample of it (regression)."""
    scaler = Standardizer(with_mean=fit_intercept, with_std=standardize != "center")
    n = 0
    w_sum = y_sum = 0.0
    y_sample: list[np.ndarray] = []
    labels: dict[Any, float] = {}
    for X, y, w in _triples(chunks):
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"a chunk has X of shape {X.shape}; expected {d} feature(s)")
        if not len(X):
            continue
        n += len(X)
        weights = np.ones(len(X)) if w is None else w
        w_sum += float(weights.sum())
        if standardize:
            scaler.partial_fit(X, w)
        if classification:
            values, index = np.unique(y, return_inverse=True)
            counts = np.bincount(index.reshape(-1), weights=weights, minlength=len(values))
            for v, c in zip(values.tolist(), counts.tolist(), strict=True):
                labels[v] = labels.get(v, 0) + c
        else:
            yf = y.astype(np.float64)
            y_sum += float(weights @ yf)
            y_sample.append(yf[:: max(1, len(yf) // 256)])
    if n == 0:
        raise ValueError("the data is empty: there are no rows to train on")
    if not w_sum > 0:
        raise ValueError("every sample weight is zero: there is nothing to train on")
    classes = _sorted_classes(labels) if classification else None
    return _FirstPass(scaler, n, w_sum, y_sum, y_sample, labels, classes)


def _triples(chunks: Chunks) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``(X, y, w)`` as NumPy arrays from chunks of two or three items."""
    for chunk in chunks():
        w = chunk[2] if len(chunk) > 2 else None
        X, y = np.asarray(chunk[0]), np.asarray(chunk[1])
        yield X, y, None if w is None else np.asarray(w, dtype=np.float64).reshape(-1)


def _sorted_classes(labels: dict[Any, float]) -> np.ndarray:
    """The sorted labels (typed when NumPy can type them, else objects); at least two."""
    classes = np.asarray(sorted(labels), dtype=object)
    with contextlib.suppress(TypeError, ValueError):
        typed = np.asarray(sorted(labels))
        if typed.dtype.kind != "U":
            classes = typed
    if len(classes) < 2:
        raise ValueError(
            "the target has only one class in the training rows; a classifier needs at least 2"
        )
    return classes


def _mapped(
    source: Chunks, classes: np.ndarray | None, weight_scale: float = 1.0, unit: float = 1.0
) -> Callable[[], Iterator[tuple[np.ndarray, ...]]]:
    """``source`` with labels as class indices (rows of unknown labels dropped) or
    targets as float64 in units of ``unit``, weights times ``weight_scale`` (mean one over
    the training rows), and empty chunks skipped."""

    def stream() -> Iterator[tuple[np.ndarray, ...]]:
        for X, y, w in _triples(source):
            if classes is not None:
                index = label_index(classes, y)
                known = index >= 0
                X, y = X[known], index[known]
                w = None if w is None else w[known]
            else:
                y = y.astype(np.float64) if unit == 1.0 else y.astype(np.float64) / unit
            if not len(X):
                continue
            X = np.ascontiguousarray(X)
            yield (X, y) if w is None else (X, y, w * weight_scale)

    return stream


def _to_original(
    coef: torch.Tensor, intercept: torch.Tensor | None, module: Standardized
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Undo the standardization with the exact mean and scale the module used (its
    buffers, in the training dtype), so the coefficients reproduce its predictions."""
    mean, scale = module.mean.double(), module.scale.double()
    w = coef.double() / scale
    if intercept is None:
        return w.to(coef.dtype), None
    b = intercept.double() - w @ mean
    return w.to(coef.dtype), b.to(intercept.dtype)


def _build(
    kind: str,
    d: int,
    k: int,
    hidden: int,
    classification: bool,
    fit_intercept: bool,
    y_ndim: int,
    seed: int | None,
    dtype: torch.dtype,
) -> nn.Module:
    squeeze = not classification and y_ndim == 1
    if kind == "linear":
        if classification:
            return SoftmaxHead(d, k, bias=fit_intercept, init="zeros", dtype=dtype)
        return LinearModel(d, k, bias=fit_intercept, squeeze=squeeze, init="zeros", dtype=dtype)
    if not fit_intercept:
        raise ValueError("model='mlp' always has biases; fit_intercept=False is not supported")
    return MLP(d, hidden, k, squeeze=squeeze, seed=seed, dtype=dtype)


def _output_bias(module: nn.Module) -> torch.Tensor:
    if isinstance(module, LinearModel):
        assert module.linear.bias is not None
        return module.linear.bias
    assert isinstance(module, MLP)
    return module.output.bias
