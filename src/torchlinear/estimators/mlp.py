r"""Two-layer perceptrons with a scikit-learn API: the textbook's next step after linear models.

The model is ``Linear(d, h) -> ReLU -> Linear(h, k)`` (:class:`torchlinear.models.MLP`),
applied to standardized features (the standardization is part of the fitted module, so it
predicts from raw features). :class:`MLPRegressor` minimises a regression loss
(squared, absolute or Huber, on the mean over the samples) and :class:`MLPClassifier` the
mean cross-entropy of the softmax of its ``k`` outputs, both plus the elastic-net penalty

.. math::

    \alpha\Big(\rho\,\lVert W\rVert_1 + \tfrac12 (1-\rho)\,\lVert W\rVert_2^2\Big)

on the two weight matrices (never on the biases), with :math:`\rho` = ``l1_ratio``. Unlike
the linear estimators the problem is not convex: the result depends on the initial
weights, which ``random_state`` fixes.

Training runs through :func:`torchlinear.engine.train` (minibatch Adam by default; SGD
with momentum 0.9, or full-batch L-BFGS), with optional early stopping on a held-out
fraction of the training rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from torchlinear._memory import check_memory
from torchlinear._schema import Bool, Record
from torchlinear._sklearn_protocol import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    check_class_labels,
    check_is_fitted,
    target_vector,
)
from torchlinear._validation import (
    as_feature_matrix,
    as_target,
    check_fraction,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    resolve_device,
)
from torchlinear.engine import TrainConfig
from torchlinear.engine.sources import eval_rows
from torchlinear.estimators._base import EstimatorInputMixin
from torchlinear.estimators._gradient import (
    FitOptions,
    GradientFit,
    check_convergence,
    fit_gradient,
    fit_gradient_chunks,
    label_index,
)
from torchlinear.models import MLP, Standardized
from torchlinear.preprocessing import Standardizer

__all__ = ["MLPRegressor", "MLPClassifier"]

SOLVERS = ("adam", "sgd", "lbfgs")
REGRESSION_LOSSES = ("squared", "l1", "huber")


class _MLPBase(EstimatorInputMixin, BaseEstimator):
    """Parameter checks, input validation and training shared by both estimators."""

    # the constructor's parameters, stored by each subclass's __init__
    alpha: Any
    batch_size: Any
    device: Any
    early_stopping: Any
    hidden: Any
    l1_ratio: Any
    loss: Any
    lr: Any
    max_iter: Any
    n_iter_no_change: Any
    progress: Any
    random_state: Any
    solver: Any
    standardize: Any
    tol: Any
    validation_fraction: Any

    def _check_params(self) -> dict[str, Any]:
        if self.solver not in SOLVERS:
            raise ValueError(
                f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {self.solver!r}"
            )
        alpha = check_nonnegative_float("alpha", self.alpha)
        l1_ratio = check_nonnegative_float("l1_ratio", self.l1_ratio)
        if l1_ratio > 1:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {self.l1_ratio!r}")
        if self.solver == "lbfgs" and l1_ratio > 0 and alpha > 0:
            raise ValueError(
                "solver='lbfgs' cannot handle an L1 penalty (l1_ratio > 0); use 'adam' or 'sgd'"
            )
        if not isinstance(self.standardize, bool | np.bool_):
            raise ValueError(f"standardize must be True or False, got {self.standardize!r}")
        if not isinstance(self.early_stopping, bool | np.bool_):
            raise ValueError(f"early_stopping must be True or False, got {self.early_stopping!r}")
        return {
            "hidden": check_positive_int("hidden", self.hidden),
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "max_iter": check_positive_int("max_iter", self.max_iter),
            "lr": None if self.lr is None else check_positive_float("lr", self.lr),
            "batch_size": check_positive_int("batch_size", self.batch_size),
            "tol": check_nonnegative_float("tol", self.tol),
            "n_iter_no_change": check_positive_int("n_iter_no_change", self.n_iter_no_change),
            "validation_fraction": check_fraction(
                "validation_fraction", self.validation_fraction, inclusive_low=False
            ),
        }

    def _train_config(self, params: dict[str, Any], device: torch.device) -> TrainConfig:
        seed = check_random_state("random_state", self.random_state)
        settings: dict[str, Any] = {
            "epochs": params["max_iter"],
            "batch_size": params["batch_size"],
            "lr": params["lr"],
            "optimizer": self.solver,
            "tol": params["tol"] if params["tol"] > 0 else None,
            "n_iter_no_change": params["n_iter_no_change"],
            "seed": None if seed is None else int(seed),
            "device": str(device),
            "progress": bool(self.progress),
        }
        if self.early_stopping:
            settings["val_split"] = params["validation_fraction"]
            settings["patience"] = params["n_iter_no_change"]
        return TrainConfig(**settings)

    def _device(self, X: Any) -> torch.device:
        if self.device is None and isinstance(X, torch.Tensor):
            return X.device
        return resolve_device(self.device)

    def _train(
        self,
        X: torch.Tensor,
        target: torch.Tensor,
        params: dict[str, Any],
        *,
        loss: str,
        n_classes: int | None,
        options: FitOptions,
        val_data: Any = None,
        sample_weight: Any = None,
    ) -> None:
        device = X.device
        config = options.config(self._train_config(params, device))
        w = check_sample_weight(sample_weight, len(X))
        fit = fit_gradient(
            X,
            target,
            sample_weight=None if w is None else w.to(device),
            n_classes=n_classes,
            loss=loss,
            config=config,
            val_data=val_data,
            **self._network_settings(params, options),
        )
        self._store_fit(fit, config, device)

    def _network_settings(self, params: dict[str, Any], options: FitOptions) -> dict[str, Any]:
        """What both trainers (in memory and on chunks) take from this estimator; first,
        the memory of a minibatch's activations is checked (evaluation takes fewer rows
        at a time: :func:`~torchlinear.engine.loop.eval_rows`)."""
        rows, hidden = int(params.get("batch_size", self.batch_size)), int(params["hidden"])
        check_memory(
            4 * 8 * rows * hidden,  # the hidden layer's outputs, activations and gradients
            f"{rows:,} rows x {hidden:,} hidden units",
            "a minibatch's activations and their gradients",
            advice="lower {batch_size} or {hidden}",
        )
        return {
            "delta": getattr(self, "delta", 1.0),
            "alpha": params["alpha"],
            "l1_ratio": params["l1_ratio"],
            "model": "mlp",
            "hidden": params["hidden"],
            "standardize": bool(self.standardize),
            "metrics": options.metrics,
            "callbacks": options.callbacks,
        }

    def _store_fit(self, fit: GradientFit, config: TrainConfig, device: torch.device) -> None:
        self.module_ = fit.module.eval()
        self.standardizer_ = fit.standardizer
        self.history_ = fit.history
        self.n_iter_ = len(fit.history)
        self.converged_ = check_convergence(
            fit.history, config, f"{type(self).__name__} ({self.solver})"
        )
        self.loss_curve_ = list(fit.history.train_loss)
        self.solver_ = self.solver
        self.device_ = device
        self.train_config_ = config

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, Any]]],
        *,
        n_features: int,
        feature_names: Sequence[str] | None = None,
        options: FitOptions | None = None,
    ) -> _MLPBase:
        """Train on data read in chunks, every epoch again (a file larger than memory).

        A first pass fits the standardizer (and finds the classes); then the network
        trains on the stream. ``chunks`` returns a fresh iterable of ``(X, y)`` chunks in
        the same order on every call; ``options.val_data`` may be such a callable too.
        ``early_stopping``'s random split needs the data in memory: give validation
        chunks and ``options.patience`` instead.

        Examples
        --------
        >>> g = np.random.default_rng(0)
        >>> X = g.normal(size=(200, 2))
        >>> parts = lambda: ((X[i : i + 50], X[i : i + 50, 0]) for i in range(0, 200, 50))
        >>> net = MLPRegressor(hidden=8, max_iter=5, random_state=0)
        >>> net.fit_chunks(parts, n_features=2).predict(X[:3]).shape
        (3,)
        """
        params = self._check_params()
        options = options or FitOptions()
        classifier = isinstance(self, ClassifierMixin)
        device = resolve_device(self.device)
        config = options.config(self._train_config(params, device))
        fit = fit_gradient_chunks(
            chunks,
            n_features=n_features,
            loss="ce" if classifier else self.loss,
            config=config,
            val_chunks=options.val_data,
            **self._network_settings(params, options),
        )
        self._set_n_features(n_features, feature_names)
        if classifier:
            assert fit.classes is not None
            self.classes_ = fit.classes
        else:
            self.n_outputs_ = 1
        self._store_fit(fit, config, device)
        return self

    _special_state = ("module_", "standardizer_")
    _extra_schema = Record({"standardized": Bool()})

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors = {f"module.{k}": v for k, v in self.module_.state_dict().items()}
        if self.standardizer_ is not None:
            scaler = self.standardizer_.state_dict()
            tensors.update({f"scaler.{k}": v for k, v in scaler.items()})
        return tensors, {"standardized": isinstance(self.module_, Standardized)}

    def _load_extra_state(
        self,
        tensors: Mapping[str, torch.Tensor],
        extra: Mapping[str, Any],
        deferred: Any = None,
    ) -> None:
        """Rebuild the network with the architecture its weight shapes imply."""
        state = {k[7:]: v for k, v in tensors.items() if k.startswith("module.")}
        standardized = bool(extra.get("standardized"))
        prefix = "module." if standardized else ""
        hidden_w, output_w = state[f"{prefix}hidden.weight"], state[f"{prefix}output.weight"]
        hidden, d = hidden_w.shape
        k, hidden_out = output_w.shape
        if d != self.n_features_in_ or hidden_out != hidden:
            raise ValueError(
                f"weights of shapes {tuple(hidden_w.shape)} and {tuple(output_w.shape)} do "
                f"not form a network on {self.n_features_in_} features"
            )
        squeeze = not isinstance(self, ClassifierMixin) and k == 1
        inner = MLP(d, hidden, k, squeeze=squeeze, seed=0, dtype=hidden_w.dtype)
        module: torch.nn.Module = inner
        if standardized:
            module = Standardized(inner, state["mean"], state["scale"])
        module.load_state_dict(state)
        self.module_ = module.eval()
        scaler = {k[7:]: v for k, v in tensors.items() if k.startswith("scaler.")}
        self.standardizer_ = Standardizer.from_state_dict(scaler) if scaler else None

    @torch.no_grad()
    def _output(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "module_")
        X_t = self._validate_X(X, reset=False, device=self.device_)
        p = next(self.module_.parameters())
        X_t = X_t.to(device=p.device, dtype=p.dtype)
        rows = eval_rows(self.module_)  # a wide hidden layer: a few rows at a time
        if len(X_t) <= rows:
            return self.module_(X_t)
        return torch.cat([self.module_(X_t[i : i + rows]) for i in range(0, len(X_t), rows)])


class MLPRegressor(RegressorMixin, _MLPBase):
    """Two-layer perceptron for regression: ``Linear -> ReLU -> Linear`` on standardized X.

    Parameters
    ----------
    hidden : int, default 64
        Width of the hidden layer.
    loss : {"squared", "l1", "huber"}, default "squared"
        ``0.5 * r**2``, ``|r|`` or Huber's loss with threshold ``delta`` (in units of ``y``).
    delta : float, default 1
        Huber's threshold.
    alpha : float, default 0
        Penalty strength on the weights (added to the mean loss).
    l1_ratio : float, default 0
        L1 share of the penalty (applied by soft-thresholding; not with ``"lbfgs"``).
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
        Minibatch Adam, minibatch SGD with momentum 0.9, or full-batch L-BFGS.
    max_iter : int, default 100
        Epochs (for L-BFGS: outer steps of up to 20 iterations).
    lr : float, optional
        Learning rate (default 0.001 for Adam, 0.01 for SGD, 1 for L-BFGS).
    batch_size : int, default 256
        Rows per minibatch.
    tol : float, default 1e-5
        The convergence criterion: stop when the training loss has not improved by this
        fraction of its best value for ``n_iter_no_change`` consecutive epochs. With
        minibatches the first three such plateaus divide the learning rate by 10 instead
        (a fixed rate stalls at the noise of its steps; ``history_.lr_drops``). When
        ``max_iter`` comes first, a ``ConvergenceWarning`` gives the last improvement.
        ``0`` turns the criterion off (train exactly ``max_iter`` epochs, no warning,
        ``converged_`` False).
    n_iter_no_change : int, default 10
        See ``tol`` and ``early_stopping``.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the rows (at random, seeded by
        ``random_state``) and stop when their loss has not improved for
        ``n_iter_no_change`` epochs, keeping the best epoch's weights.
    validation_fraction : float, default 0.1
        See ``early_stopping``.
    standardize : bool, default True
        Standardize the features inside the model.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``, ``"auto"``; default: ``X``'s device for a tensor,
        else the best available.
    random_state : int, optional
        Seeds the initial weights, the shuffling and the validation split.
    progress : bool, default False
        Show a progress bar per epoch.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, standardization included (``module_(X)`` predicts).
    standardizer_ : Standardizer or None
        The fitted feature standardizer.
    history_ : torchlinear.engine.History
        Per-epoch losses.
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether training stopped on its criterion (``tol``, or early stopping) rather
        than at ``max_iter``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.
    n_outputs_ : int
        Number of targets.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(400, 1))
    >>> y = np.abs(X[:, 0])  # not linear in x
    >>> model = MLPRegressor(hidden=16, solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    >>> bool(model.score(X, y) > 0.99)
    True
    """

    def __init__(
        self,
        hidden: int = 64,
        *,
        loss: str = "squared",
        delta: float = 1.0,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        solver: str = "adam",
        max_iter: int = 100,
        lr: float | None = None,
        batch_size: int = 256,
        tol: float = 1e-5,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        standardize: bool = True,
        device: str | torch.device | None = None,
        random_state: int | None = None,
        progress: bool = False,
    ) -> None:
        self.hidden = hidden
        self.loss = loss
        self.delta = delta
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.max_iter = max_iter
        self.lr = lr
        self.batch_size = batch_size
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> dict[str, Any]:
        if self.loss not in REGRESSION_LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(map(repr, REGRESSION_LOSSES))}, got {self.loss!r}"
            )
        params = super()._check_params()
        params["delta"] = check_positive_float("delta", self.delta)
        return params

    def _prepare_y(self, y: Any, n: int, dtype: torch.dtype, device: torch.device):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but y is None")
        if hasattr(y, "to_numpy"):
            y = y.to_numpy()
        shape = tuple(y.shape) if hasattr(y, "shape") else np.shape(y)
        if len(shape) == 2 and shape[1] > 1:
            Y, _ = as_feature_matrix(y, name="y", dtype=dtype, device=device)
        else:
            Y = as_target(y, dtype=dtype, device=device)
        if len(Y) != n:
            raise ValueError(f"y has {len(Y)} rows but X has {n}")
        return Y

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, options: FitOptions | None = None
    ) -> MLPRegressor:
        """Fit the network to ``X`` (n, d) and ``y`` (n,) or (n, k), each row weighted by
        ``sample_weight`` (optional, >= 0); return ``self``.

        ``options`` (:class:`~torchlinear.estimators.FitOptions`) adds names, validation
        data, early stopping, checkpoints and callbacks.

        Raises
        ------
        ValueError
            Bad parameters or data (shapes, NaN/inf, non-numeric columns), or
            :class:`~torchlinear.engine.DivergenceError` when training diverges.
        """
        options = options or FitOptions()
        params = self._check_params()
        device = self._device(X)
        X_t = self._validate_X(X, reset=True, device=device)
        self._use_names(options.feature_names)
        Y = self._prepare_y(y, len(X_t), X_t.dtype, X_t.device)
        self.n_outputs_ = 1 if Y.ndim == 1 else int(Y.shape[1])
        val = options.val_data
        if val is not None:
            val = (
                torch.as_tensor(np.asarray(val[0]), dtype=X_t.dtype),
                torch.as_tensor(np.asarray(val[1]), dtype=X_t.dtype),
            )
        self._train(X_t, Y, params, loss=self.loss, n_classes=None, options=options,
                    val_data=val, sample_weight=sample_weight)  # fmt: skip
        return self

    def predict(self, X: Any) -> np.ndarray | torch.Tensor:
        """Predictions, shape ``(n,)`` (or ``(n, k)``); a tensor for a tensor ``X``."""
        out = self._output(X)
        if isinstance(X, torch.Tensor):
            return out
        return out.to(torch.float64).cpu().numpy()

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.multi_output = True
        return tags


class MLPClassifier(ClassifierMixin, _MLPBase):
    """Two-layer perceptron classifier: ``Linear -> ReLU -> Linear -> softmax``.

    Parameters
    ----------
    hidden : int, default 64
        Width of the hidden layer.
    alpha, l1_ratio, solver, max_iter, lr, batch_size, tol, n_iter_no_change
        As for :class:`MLPRegressor`; the loss is the mean cross-entropy.
    early_stopping, validation_fraction, standardize, device, random_state, progress
        As for :class:`MLPRegressor`.

    Attributes
    ----------
    classes_ : numpy.ndarray, shape (k,)
        The sorted class labels (any type).
    module_ : torch.nn.Module
        The trained network (standardization included); its ``k`` outputs are logits.
    standardizer_, history_, loss_curve_, n_iter_, converged_ :
        As for :class:`MLPRegressor`.
    n_features_in_, feature_names_in_ :
        As for :class:`MLPRegressor`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(400, 2))
    >>> y = np.where(X[:, 0] * X[:, 1] > 0, "same", "different")  # XOR: not linear
    >>> clf = MLPClassifier(hidden=16, solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), bool(clf.score(X, y) > 0.95)
    (['different', 'same'], True)
    """

    def __init__(
        self,
        hidden: int = 64,
        *,
        alpha: float = 0.0,
        l1_ratio: float = 0.0,
        solver: str = "adam",
        max_iter: int = 100,
        lr: float | None = None,
        batch_size: int = 256,
        tol: float = 1e-5,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        standardize: bool = True,
        device: str | torch.device | None = None,
        random_state: int | None = None,
        progress: bool = False,
    ) -> None:
        self.hidden = hidden
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.max_iter = max_iter
        self.lr = lr
        self.batch_size = batch_size
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _encode(self, y: Any, n: int) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but y is None")
        y_arr = target_vector(y)
        if len(y_arr) != n:
            raise ValueError(f"y has {len(y_arr)} rows but X has {n}")
        check_class_labels(y_arr)
        self.classes_, index = np.unique(y_arr, return_inverse=True)
        if len(self.classes_) < 2:
            label = self.classes_[0]
            label = label.item() if isinstance(label, np.generic) else label
            raise ValueError(
                f"y has only one class ({label!r}); a classifier needs at least 2 classes"
            )
        return index.reshape(-1)

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, options: FitOptions | None = None
    ) -> MLPClassifier:
        """Fit the network to features ``X`` and labels ``y`` (any type), each row weighted
        by ``sample_weight`` (optional, >= 0); return ``self``.

        ``options`` (:class:`~torchlinear.estimators.FitOptions`) adds names, validation
        data (labels), early stopping, checkpoints and callbacks.

        Raises
        ------
        ValueError
            Bad parameters or data, a single class, or
            :class:`~torchlinear.engine.DivergenceError` when training diverges.
        """
        options = options or FitOptions()
        params = self._check_params()
        device = self._device(X)
        X_t = self._validate_X(X, reset=True, device=device)
        self._use_names(options.feature_names)
        index = self._encode(y, len(X_t))
        target = torch.from_numpy(index.astype(np.int64)).to(X_t.device)
        val = None
        if options.val_data is not None:
            Xv, yv = options.val_data
            known = label_index(self.classes_, np.asarray(yv))
            keep = known >= 0
            val = (torch.as_tensor(np.asarray(Xv)[keep]), torch.from_numpy(known[keep]))
        k = len(self.classes_)
        self._train(X_t, target, params, loss="ce", n_classes=k, options=options, val_data=val,
                    sample_weight=sample_weight)  # fmt: skip
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, k)``, columns ordered like ``classes_``."""
        return torch.softmax(self._output(X).to(torch.float64), dim=1).cpu().numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithms of :meth:`predict_proba`, computed stably from the logits."""
        return torch.log_softmax(self._output(X).to(torch.float64), dim=1).cpu().numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits, shape ``(n, k)``; for two classes, shape ``(n,)``: the log-odds of
        ``classes_[1]`` (its logit minus that of ``classes_[0]``), as scikit-learn's binary
        classifiers return (so ``scoring="roc_auc"`` works)."""
        out = self._output(X).to(torch.float64)
        if out.shape[1] == 2:
            out = out[:, 1] - out[:, 0]
        return out.cpu().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row, shape ``(n,)``."""
        index = self._output(X).argmax(dim=1).cpu().numpy()
        return self.classes_[index]

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
