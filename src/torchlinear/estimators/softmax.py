r"""Softmax (multinomial logistic) regression with a scikit-learn API.

For ``n`` samples with sample weights :math:`s_i` (all one by default), labels
:math:`y_i \in \{1..k\}` and class weights :math:`c_j` (``class_weight``), the estimator
minimises

.. math::

    L(W, b) = \frac{1}{\sum_i s_i} \sum_{i=1}^{n} s_i\, c_{y_i}\,
        \Big(\log \sum_{j=1}^{k} e^{o_{ij}} - o_{i y_i}\Big)
        + \frac{\alpha}{2} \|W\|_F^2,
    \qquad o_i = W x_i + b,

the weighted mean cross-entropy plus an L2 penalty on the weights (never on the
intercept). ``alpha`` is on the scale of a *mean* loss, like the textbook's weight decay.
scikit-learn's ``LogisticRegression(C=C)`` minimises
:math:`C \sum_i s_i c_{y_i} \mathrm{CE}_i + \tfrac12 \|W\|^2`; dividing by
:math:`C \sum_i s_i` shows the two have the same minimiser when

.. math::

    \alpha = \frac{1}{C \sum_i s_i} \quad (\,= 1 / (C n) \text{ without sample weights}).

Two classes
-----------
With two classes the model is logistic regression: one logit vector :math:`w` and
intercept :math:`b` give the log-odds :math:`w^\top x + b` of ``classes_[1]`` (``coef_`` has
shape (1, d), ``intercept_`` (1,), as in scikit-learn), the loss is the cross-entropy above
with :math:`o_i = (0, w^\top x_i + b)` and the penalty :math:`\tfrac{\alpha}{2}\|w\|^2`, so
``alpha = 1 / (C * sum(sample_weight))`` is exactly ``LogisticRegression(C=C)``.

Solvers
-------
``"lbfgs"``
    Full batch: L-BFGS-B (SciPy) on the objective and its exact gradient, both computed
    by torch in float64 on ``device``. It works on standardized features (each column
    centred and divided by its standard deviation, without copying ``X``) and maps the
    result back, with the penalty kept on the original-scale coefficients: the same
    minimiser, reached in far fewer iterations on raw features of mixed units. It stops
    when every gradient component (with respect to the standardized-feature parameters)
    is at most ``tol``, or when the objective no longer decreases by 64 machine epsilons,
    relative; otherwise it warns (``precision="float32"`` does
    the two products with ``X`` in float32: about twice as fast, and within about 1e-3,
    relative, of the float64 coefficients).
    The default whenever a float64 copy of ``X`` fits in 1 GiB.
``"sgd"``, ``"adam"``
    Minibatch, through :func:`torchlinear.engine.train` (SGD with momentum 0.9, or Adam),
    for ``max_iter`` epochs, on the raw features (the penalty must stay on the
    original-scale coefficients). They stop when the training loss has not improved by a
    relative ``tol`` for 5 epochs, and warn when ``max_iter`` comes first. The first
    three such plateaus are the noise floor of the fixed-rate steps, not the optimum:
    each divides the rate by 10 instead (a drop that no longer lowers the loss ends the
    fit as converged).
    ``sampling="weighted"`` draws each minibatch with a
    :class:`torch.utils.data.WeightedRandomSampler` (probability proportional to
    :math:`s_i c_{y_i}`, with replacement) and an unweighted loss instead of weighting the
    loss — the same objective in expectation, with every class seen equally often under
    ``class_weight="balanced"``.

With three or more classes, softmax is unchanged when the same vector is added to every
class's parameters, so the fitted ``intercept_`` is centred (it sums to zero over the
classes), and so is ``coef_`` (automatically when ``alpha > 0``, by centring when
``alpha = 0``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, TensorDataset, WeightedRandomSampler

from torchlinear._memory import check_memory
from torchlinear._sklearn_protocol import (
    BaseEstimator,
    ClassifierMixin,
    check_class_labels,
    check_is_fitted,
    target_vector,
    warn_convergence,
)
from torchlinear._validation import (
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_sample_weight,
    resolve_device,
)
from torchlinear.engine import History, TrainConfig, train
from torchlinear.estimators._base import EstimatorInputMixin
from torchlinear.estimators._gradient import (
    FitOptions,
    check_convergence,
    fit_gradient,
    fit_gradient_chunks,
    label_index,
    logistic_alpha,
)
from torchlinear.estimators._softmax_lbfgs import SoftmaxObjective, lbfgs_solve
from torchlinear.losses import Penalty
from torchlinear.models import SoftmaxHead

__all__ = ["SoftmaxRegression"]

SOLVERS = ("auto", "lbfgs", "sgd", "adam")
SAMPLING = ("uniform", "weighted")
PRECISIONS = ("float64", "float32")
_LBFGS_MAX_BYTES = 1 << 30
_SMALL_PROBLEM = 1 << 23  # n * d * k below which L-BFGS runs single-threaded
_DEFAULT_MAX_ITER = {"lbfgs": 1000, "sgd": 20, "adam": 20}


class SoftmaxRegression(EstimatorInputMixin, ClassifierMixin, BaseEstimator):
    r"""Softmax regression classifier: L2-penalised multinomial logistic regression in torch.

    Parameters
    ----------
    alpha : float, default 1e-4
        L2 penalty :math:`\tfrac{\alpha}{2}\|W\|^2` added to the *mean* loss;
        ``alpha = 1 / (C * n)`` reproduces scikit-learn's ``LogisticRegression(C=C)``.
        ``0`` is the textbook's unpenalised model (its infimum lies at infinity when the
        classes are separable: the solver then stops where the gradient has fallen below
        ``tol``, with large coefficients, or warns at ``max_iter``).
    fit_intercept : bool, default True
        Learn a per-class intercept (never penalised).
    solver : {"auto", "lbfgs", "sgd", "adam"}, default "auto"
        ``"auto"`` is ``"lbfgs"`` when a float64 copy of ``X`` takes at most 1 GiB, else
        ``"adam"``. See the module notes.
    class_weight : None, "balanced" or dict, default None
        Multiplies each sample's loss by its class's weight. ``"balanced"`` gives class
        ``j`` the weight ``n / (k * n_j)``, counting rows in units of ``sample_weight``
        (``n`` the total weight, ``n_j`` class ``j``'s); a dict maps labels to weights
        (missing labels weigh 1).
    max_iter : int, optional
        L-BFGS iterations (default 1000) or epochs of ``"sgd"``/``"adam"`` (default 20).
    tol : float, default 1e-6
        L-BFGS stops when every component of the gradient (with respect to the
        standardized-feature parameters) is at most ``tol`` in absolute value (small
        problems then take Newton steps to a gradient of 1e-10); the minibatch solvers
        stop when the training loss has not improved by a relative ``tol`` for 5 epochs,
        after dividing their learning rate by 10 on the first three such plateaus.
    lr : float, optional
        Learning rate of ``"sgd"``/``"adam"`` (default 0.01 and 0.001).
    batch_size : int, default 256
        Minibatch size of ``"sgd"``/``"adam"``.
    sampling : {"uniform", "weighted"}, default "uniform"
        How ``"sgd"``/``"adam"`` draw minibatches: shuffled epochs with weighted losses, or
        a ``WeightedRandomSampler`` with unweighted losses (for imbalanced classes).
    precision : {"float64", "float32"}, default "float64"
        Arithmetic of L-BFGS's two products with ``X`` (per-sample terms and sums are
        always float64). ``"float32"`` is about twice as fast on CPUs and far faster on
        GPUs; it stops when the objective no longer improves by a relative 1e-9, typically
        within about 1e-3 (relative) of the float64 coefficients — plenty for prediction.
        ``"float64"`` converges to ``tol``. The minibatch solvers train in ``X``'s dtype.
    device : str, optional
        ``"cpu"``, ``"cuda"``, ``"mps"``...; by default cuda, then mps, then cpu. On MPS,
        which has no float64, L-BFGS runs in float32.
    random_state : int, optional
        Seeds the minibatch order of ``"sgd"``/``"adam"``.
    progress : bool, default False
        Show a progress bar while ``"sgd"``/``"adam"`` train.

    Attributes
    ----------
    classes_ : numpy.ndarray, shape (k,)
        The sorted class labels (any type: ints, strings, bools...).
    coef_ : numpy.ndarray, shape (k, d), or (1, d) for two classes
        Weights :math:`W`, one row per class; for two classes the one logit vector.
    intercept_ : numpy.ndarray, shape (k,), or (1,) for two classes
        Intercepts :math:`b` (zeros with ``fit_intercept=False``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    class_weight_ : numpy.ndarray, shape (k,)
        The class weights used.
    solver_ : str
        The solver used (``"auto"`` resolved).
    n_iter_ : int
        L-BFGS iterations, or epochs run.
    converged_ : bool
        Whether the solver met its stopping criterion (see ``tol``) before ``max_iter``.
    loss_curve_ : list of float
        The objective after each L-BFGS iteration, or the mean training loss per epoch.
    history_ : torchlinear.engine.History or None
        The minibatch solvers' per-epoch record (``None`` for L-BFGS).
    device_ : torch.device
        Where the computations ran.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> names = np.array(["setosa", "versicolor", "virginica"])[y]
    >>> clf = SoftmaxRegression(alpha=1e-3, device="cpu").fit(X, names)
    >>> clf.classes_.tolist()
    ['setosa', 'versicolor', 'virginica']
    >>> clf.coef_.shape, round(clf.score(X, names), 2)
    ((3, 4), 0.99)
    >>> clf.predict(X[:2]).tolist(), clf.predict_proba(X[:2]).shape
    (['setosa', 'setosa'], (2, 3))
    """

    def __init__(
        self,
        *,
        alpha: float = 1e-4,
        fit_intercept: bool = True,
        solver: str = "auto",
        class_weight: None | str | dict = None,
        max_iter: int | None = None,
        tol: float = 1e-6,
        lr: float | None = None,
        batch_size: int = 256,
        sampling: str = "uniform",
        precision: str = "float64",
        device: str | None = None,
        random_state: int | None = None,
        progress: bool = False,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.lr = lr
        self.batch_size = batch_size
        self.sampling = sampling
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> dict[str, Any]:
        if not isinstance(self.random_state, np.random.RandomState | np.random.Generator):
            check_random_state("random_state", self.random_state)  # a generator draws later
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise ValueError(f"fit_intercept must be True or False, got {self.fit_intercept!r}")
        return {
            "alpha": check_nonnegative_float("alpha", self.alpha),
            "tol": check_nonnegative_float("tol", self.tol),
            "max_iter": None
            if self.max_iter is None
            else check_positive_int("max_iter", self.max_iter),
            "lr": None if self.lr is None else check_positive_float("lr", self.lr),
            "batch_size": check_positive_int("batch_size", self.batch_size),
        }

    def _class_weights(self, y_index: np.ndarray, s: np.ndarray) -> np.ndarray:
        k = len(self.classes_)
        cw = self.class_weight
        if cw is None:
            return np.ones(k)
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
            # counts in units of sample weight, so that a weight of 2 is a repeated row
            counts = np.bincount(y_index, s, minlength=k)
            balanced = np.ones(k)
            np.divide(s.sum(), k * counts, out=balanced, where=counts > 0)
            return balanced
        if isinstance(cw, dict):
            weights = np.ones(k)
            lookup = {_label_key(c): j for j, c in enumerate(self.classes_)}
            unknown = [label for label in cw if _label_key(label) not in lookup]
            if unknown:
                raise ValueError(
                    f"class_weight names label(s) {unknown} that are not in y; "
                    f"the classes are {self.classes_.tolist()}"
                )
            for label, weight in cw.items():
                value = weight
                if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
                    raise ValueError(
                        f"class_weight[{label!r}] must be a finite number >= 0, got {value!r}"
                    )
                weights[lookup[_label_key(label)]] = float(value)
            return weights
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, options: FitOptions | None = None
    ) -> SoftmaxRegression:
        """Fit the model to features ``X`` and labels ``y``; return ``self``.

        Parameters
        ----------
        X : array-like, DataFrame or Tensor, shape (n, d)
            Features; NaN/inf are rejected (counted and located).
        y : array-like, shape (n,)
            Class labels of any type; at least two classes.
        sample_weight : array-like, shape (n,), optional
            Non-negative weights; a weight of 2 counts a sample twice.
        options : FitOptions, optional
            Names, and for the minibatch solvers validation data, early stopping,
            checkpoints and callbacks (:class:`~torchlinear.estimators.FitOptions`).

        Raises
        ------
        ValueError
            For a single class, NaN/inf in ``X``, mismatched lengths, negative weights, or
            invalid parameters.
        """
        params = self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        options = options or FitOptions()
        device = resolve_device(self.device)
        X_t = self._validate_X(X, reset=True, device=device)
        self._use_names(options.feature_names)
        n, d = X_t.shape
        y_arr = target_vector(y)
        if len(y_arr) != n:
            raise ValueError(f"y has {len(y_arr)} rows but X has {n}")
        check_class_labels(y_arr)
        self.classes_, y_index = np.unique(y_arr, return_inverse=True)
        y_index = y_index.reshape(-1)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(
                f"y has only one class ({_label_key(self.classes_[0])!r}); "
                "a classifier needs at least 2 classes"
            )
        w = check_sample_weight(sample_weight, n)
        s = np.ones(n) if w is None else w.numpy()
        self.class_weight_ = self._class_weights(y_index, s)
        per_sample = s * self.class_weight_[y_index]
        weighted_classes = np.flatnonzero(np.bincount(y_index, per_sample, minlength=k) > 0)
        if len(weighted_classes) < 2:
            raise ValueError(
                "only one class has positive total weight (sample_weight * class_weight); "
                "a classifier needs at least 2 classes with positive weight"
            )
        solver = self.solver
        if solver == "auto":
            solver = "lbfgs" if n * d * 8 <= _LBFGS_MAX_BYTES else "adam"
        self.solver_ = solver
        self.device_ = device
        max_iter = params["max_iter"] or _DEFAULT_MAX_ITER[solver]
        y_t = torch.from_numpy(y_index.astype(np.int64)).to(device)
        # On small problems, starting and synchronising threads costs more than the
        # arithmetic (and threads that spin-wait are ruinous on a busy machine).
        small = device.type == "cpu" and n * d * k <= _SMALL_PROBLEM
        with threadpool_limits(limits=1) if small else contextlib.nullcontext():
            if solver == "lbfgs":
                W, b = self._fit_lbfgs(X_t, y_t, s, per_sample, params, max_iter, k)
                self.history_ = None
            else:
                W, b = self._fit_minibatch(
                    X_t, y_t, s, per_sample, params, max_iter, k, solver, options
                )
        self._set_coefficients(W, b, k, params["alpha"])
        return self

    def _set_coefficients(self, W: np.ndarray, b: np.ndarray, k: int, alpha: float) -> None:
        """Store the fitted weights, with the softmax's free shift removed."""
        if not self.fit_intercept:
            b = np.zeros(len(b))
        if k > 2:
            b = b - b.mean()
            if alpha == 0:
                W = W - W.mean(axis=0, keepdims=True)
        self.coef_, self.intercept_ = W, b

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, Any]]],
        *,
        n_features: int,
        feature_names: Sequence[str] | None = None,
        options: FitOptions | None = None,
    ) -> SoftmaxRegression:
        """Fit by minibatch training on data read in chunks, every epoch again (a file).

        A first pass finds the classes; then the model trains on the stream with the
        minibatch solver (``"auto"`` means ``"adam"``). ``class_weight`` and ``sampling``
        need the data in memory (:meth:`fit`).

        Parameters
        ----------
        chunks : callable
            Returns a fresh iterable of ``(X, y)`` chunks (``y`` class labels of any type),
            in the same order on every call.
        n_features : int
        feature_names : sequence of str, optional
        options : FitOptions, optional
            Validation chunks (``val_data``, a callable like ``chunks``), early stopping,
            checkpoints, callbacks.

        Examples
        --------
        >>> g = np.random.default_rng(0)
        >>> X = g.normal(size=(300, 2))
        >>> y = np.where(X[:, 0] > 0, "pos", "neg")
        >>> parts = lambda: ((X[i : i + 100], y[i : i + 100]) for i in range(0, 300, 100))
        >>> clf = SoftmaxRegression(max_iter=30, lr=0.1).fit_chunks(parts, n_features=2)
        >>> clf.classes_.tolist(), clf.score(X, y) > 0.95
        (['neg', 'pos'], True)
        """
        params = self._check_params()
        if self.class_weight is not None or self.sampling != "uniform":
            raise ValueError(
                "class_weight and sampling='weighted' need the data in memory; use fit"
            )
        options = options or FitOptions()
        solver = "adam" if self.solver in ("auto", "lbfgs") else self.solver
        device = resolve_device(self.device)
        max_iter = params["max_iter"] or _DEFAULT_MAX_ITER[solver]
        config = self._minibatch_config(params, max_iter, solver, device, options)
        fit = fit_gradient_chunks(
            chunks,
            n_features=n_features,
            loss="ce",
            alpha=params["alpha"],
            standardize=False,
            fit_intercept=self.fit_intercept,
            config=config,
            val_chunks=options.val_data,
            metrics=options.metrics,
            callbacks=options.callbacks,
            binary_logistic=True,
        )
        assert fit.classes is not None and fit.coef is not None
        self.classes_ = fit.classes
        k = len(fit.classes)
        self._set_n_features(n_features, feature_names)
        self.class_weight_ = np.ones(k)
        self.solver_ = solver
        self.device_ = device
        W, b = self._from_history(fit.history, fit.coef, fit.intercept, solver, config, k)
        self._set_coefficients(W, b, k, params["alpha"])
        return self

    def _fit_lbfgs(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        s: np.ndarray,
        per_sample: np.ndarray,
        params: dict[str, Any],
        max_iter: int,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full-batch L-BFGS (``_softmax_lbfgs``); the weights, on the original scale."""
        alpha, fit_intercept = params["alpha"], self.fit_intercept
        check_memory(  # every row's logits, probabilities and gradient at once
            4 * 8 * len(X) * k,
            f"{len(X):,} rows x {k:,} classes",
            "full-batch L-BFGS",
            advice="use minibatches ({0}) or a target with fewer classes",
            suggestions=[("solver", "adam")],
        )
        objective = SoftmaxObjective(X, y, s, per_sample, alpha, k, fit_intercept, self.precision)
        result, curve = lbfgs_solve(objective, y, per_sample, params["tol"], max_iter)
        self.n_iter_ = int(result.nit)
        self.converged_ = bool(result.success)
        self.loss_curve_ = curve
        if not result.success:
            criterion = float(np.max(np.abs(result.jac))) if len(result.jac) else 0.0
            hint = (
                "increase {max_iter} or raise {alpha}"
                if result.nit >= max_iter or objective.matmul_dtype == torch.float64
                else "float32 precision limits the accuracy: use precision='float64'"
            )
            warn_convergence(
                f"L-BFGS did not converge in {result.nit} iterations: the largest gradient "
                f"component is {criterion:.3g} > tol {params['tol']:g} ({result.message}); "
                f"{hint}",
                stacklevel=3,
                params=("max_iter", "alpha"),
            )
        W_t, b_t = objective.parts(torch.from_numpy(result.x).to(X.device, objective.exact))
        W = W_t.cpu().numpy().astype(np.float64)
        b = np.zeros(objective.rows) if b_t is None else b_t.cpu().numpy().astype(np.float64)
        return W, b

    def _fit_minibatch(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        s: np.ndarray,
        per_sample: np.ndarray,
        params: dict[str, Any],
        max_iter: int,
        k: int,
        solver: str,
        options: FitOptions,
    ) -> tuple[np.ndarray, np.ndarray]:
        # The trainer's loss is the mean over the weights s_i c_i (it rescales them to
        # mean one, and the weighted sampler draws in proportion to them), while the module
        # notes divide by sum(s_i): multiplying their objective by sum(s) / sum(s c) gives
        # the trainer's, with alpha scaled by the same factor.
        # With two classes, the logistic model's penalty on its one logit vector v = w1 - w0
        # (the two rows are collapsed into it below).
        alpha = logistic_alpha(params["alpha"] * s.sum() / per_sample.sum(), k)
        config = self._minibatch_config(params, max_iter, solver, X.device, options)
        if self.sampling == "uniform":
            weights = None if np.all(per_sample == 1) else torch.from_numpy(per_sample)
            fit = fit_gradient(
                X,
                y,
                sample_weight=weights,
                n_classes=k,
                loss="ce",
                alpha=alpha,
                standardize=False,
                fit_intercept=self.fit_intercept,
                config=config,
                val_data=_index_labels(self.classes_, options.val_data),
                metrics=options.metrics,
                callbacks=options.callbacks,
            )
            W, b, history = fit.coef, fit.intercept, fit.history
        else:
            generator = torch.Generator()
            seed = check_random_state("random_state", self.random_state)
            generator.manual_seed(secrets.randbits(63) if seed is None else seed)
            sampler = WeightedRandomSampler(
                torch.from_numpy(per_sample), len(per_sample), replacement=True, generator=generator
            )
            loader = DataLoader(TensorDataset(X, y), params["batch_size"], sampler=sampler)
            model = SoftmaxHead(X.shape[1], k, bias=self.fit_intercept, init="zeros", dtype=X.dtype)
            history = train(
                model,
                loader,
                "ce",
                config,
                penalty=Penalty(alpha, 0.0),
                val_data=_index_labels(self.classes_, options.val_data),
                metrics=options.metrics,
                callbacks=options.callbacks,
            )
            W, b = model.coef, model.intercept
        return self._from_history(history, W, b, solver, config, k)

    def _minibatch_config(
        self,
        params: dict[str, Any],
        max_iter: int,
        solver: str,
        device: torch.device,
        options: FitOptions,
    ) -> TrainConfig:
        config = TrainConfig(
            epochs=max_iter,
            batch_size=params["batch_size"],
            lr=params["lr"],
            optimizer=solver,
            tol=params["tol"] if params["tol"] > 0 else None,
            seed=check_random_state("random_state", self.random_state),
            device=str(device),
            progress=bool(self.progress),
        )
        return options.config(config)

    def _from_history(
        self,
        history: History,
        W: torch.Tensor,
        b: torch.Tensor | None,
        solver: str,
        config: TrainConfig,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Record the training history and convergence; the weights as NumPy arrays (for
        two classes, the one logit vector)."""
        self.history_ = history
        self.train_config_ = config
        self.n_iter_ = len(history)
        self.loss_curve_ = list(history.train_loss)
        self.converged_ = check_convergence(history, config, solver)
        W_np = W.detach().to(torch.float64).cpu().numpy()
        b_np = np.zeros(k) if b is None else b.detach().to(torch.float64).cpu().numpy()
        if k == 2:
            return W_np[1:] - W_np[:1], b_np[1:] - b_np[:1]
        return W_np, b_np

    def _logits(self, X: Any) -> torch.Tensor:
        """Logits of every class, shape (n, k) (for two classes: 0 and the log-odds)."""
        check_is_fitted(self, "coef_")
        X_t = self._validate_X(X, reset=False, device=self.device_)
        dtype = X_t.dtype
        W = torch.from_numpy(np.asarray(self.coef_, dtype=np.float64)).to(self.device_, dtype)
        b = torch.from_numpy(np.asarray(self.intercept_, dtype=np.float64))
        O = torch.addmm(b.to(self.device_, dtype), X_t, W.T)
        if O.shape[1] == 1:  # binary: one logit vector, the log-odds of classes_[1]
            O = torch.cat([torch.zeros_like(O), O], dim=1)
        return O

    def decision_function(self, X: Any) -> np.ndarray:
        """Class scores (logits) ``X @ coef_.T + intercept_``.

        Returns shape ``(n, k)``; with two classes, shape ``(n,)``: the log-odds of
        ``classes_[1]`` (positive means ``classes_[1]``), as scikit-learn's binary
        classifiers do.
        """
        O = self._logits(X)
        if O.shape[1] == 2:
            O = O[:, 1] - O[:, 0]
        return O.cpu().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``softmax(X @ coef_.T + intercept_)``, shape ``(n, k)``."""
        return torch.softmax(self._logits(X), dim=1).cpu().numpy()

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithms of :meth:`predict_proba`, computed stably from the logits."""
        return torch.log_softmax(self._logits(X), dim=1).cpu().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row, shape ``(n,)``."""
        index = self._logits(X).argmax(dim=1).cpu().numpy()
        return self.classes_[index]


def _label_key(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _index_labels(classes: np.ndarray, val_data: Any) -> Any:
    """Validation ``(X, labels)`` as ``(X, class indices)``, unknown labels dropped."""
    if val_data is None:
        return None
    X, y = val_data
    index = label_index(classes, np.asarray(y))
    known = index >= 0
    return torch.as_tensor(np.asarray(X)[known]), torch.from_numpy(index[known])
