r"""Linear regression with a scikit-learn API: exact least squares, ridge and robust losses.

With sample weights :math:`s_i` (all one by default), the estimator minimises

.. math::

    \sum_{i=1}^n s_i\, \ell(y_i - w^\top x_i - b)
    + \alpha\Big(\rho\,\lVert w\rVert_1 + \tfrac12 (1-\rho)\,\lVert w\rVert_2^2\Big),

with :math:`\ell(r) = \tfrac12 r^2` for ``loss="squared"`` (also :math:`|r|` for ``"l1"`` and
Huber's :math:`H_\delta` for ``"huber"``), :math:`\rho` = ``l1_ratio`` and the intercept
:math:`b` never penalised. For the squared loss with :math:`\rho = 0` this is (twice)
:math:`\lVert y - Xw - b\rVert^2 + \alpha\lVert w\rVert^2`: ``alpha`` means exactly what it
means in scikit-learn's ``Ridge``, and ``alpha=0`` is ordinary least squares.

Solvers
-------
``"auto"`` (default), ``"cholesky"``, ``"qr"``, ``"svd"``
    Exact, for the squared loss with a pure L2 penalty (:mod:`torchlinear.exact`): one
    streaming pass that accumulates the sufficient statistics in float64 chunk by chunk
    (the data are never copied whole). ``"auto"`` uses Cholesky on the centred,
    column-scaled Gram matrix when its reciprocal condition number is at least
    ``RCOND_CHOLESKY = 1e-10``, and otherwise a tall-skinny QR (or an SVD, minimum norm,
    with a warning naming the collinear columns, when the design is rank deficient), then
    refines when the error estimate asks for it. ``"cholesky"``, ``"qr"`` and ``"svd"``
    force a path. ``solver_`` and ``cond_`` record what ran.
``"sgd"``, ``"adam"``, ``"lbfgs"``
    Minibatch SGD (momentum 0.9), Adam, or full-batch L-BFGS through the training engine
    (:func:`torchlinear.estimators._gradient.fit_gradient`), for any loss and elastic-net
    penalty. ``"auto"`` picks L-BFGS for smooth problems (squared or Huber loss without
    L1) and Adam otherwise. The penalty is passed on per unit of sample weight
    (``alpha / sum(s)``), so every solver minimises the same objective. Without a penalty
    the features are standardized inside the model (which only speeds training up); with
    one they are not, as that would change the objective.

Inputs and outputs
------------------
``X`` may be a NumPy array, a pandas DataFrame (its column names become
``feature_names_in_``) or a torch tensor on any device; float32 is fine (statistics are
accumulated in float64). ``y`` of shape ``(n,)`` or ``(n, 1)`` is one target (``coef_`` of
shape ``(d,)``, float ``intercept_``, predictions ``(n,)``); ``(n, k)`` with ``k >= 2`` is
``k`` targets (``coef_`` ``(k, d)``). :meth:`predict` returns a tensor on ``X``'s device (in
``X``'s floating dtype) when ``X`` is a tensor, and a float64 NumPy array otherwise.
``device`` is where the computation runs (default: ``X``'s device).

Streaming: :meth:`partial_fit` accumulates chunks (data larger than memory) and leaves a
usable model after every call. With ``solver="auto"``, ``"qr"`` or ``"svd"`` it keeps the
triangular factor of :math:`[1, X, y]` (one Householder QR per chunk — about twice the cost
of a Gram update, and the same :math:`O(d^2)` memory), which is both the Cholesky factor of
the Gram matrix and the stable fallback, so the streamed model is never less accurate than
QR; ``solver="cholesky"`` keeps only the Gram matrix (fastest; warns if ill-conditioned).
A :meth:`fit` call starts over (its statistics are not kept for later ``partial_fit``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from torchlinear._threads import single_threaded
from torchlinear._validation import (
    as_feature_matrix,
    as_target,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    check_random_state,
    check_same_length,
    check_sample_weight,
    resolve_device,
)
from torchlinear.engine import TrainConfig
from torchlinear.estimators._base import EstimatorInputMixin, assert_finite, object_to_float
from torchlinear.estimators._gradient import (
    FitOptions,
    GradientFit,
    check_convergence,
    fit_gradient,
    fit_gradient_chunks,
)
from torchlinear.estimators.robust import fit_lad
from torchlinear.exact import GramStats, LstsqSolution, TSQRStats, gram_pass, lstsq
from torchlinear.exact.coordinate_descent import enet_path
from torchlinear.exact.driver import LOCAL, Combine, SmallData, solve_exact, solve_statistics
from torchlinear.exact.fold_stats import sparse_gram_stats
from torchlinear.exact.sandwich import meat_pass
from torchlinear.stats import (
    OLSSummary,
    WeightInfo,
    check_cov_type,
    ols_summary,
    prediction_interval,
)

__all__ = ["LinearRegression"]

EXACT_SOLVERS = ("cholesky", "qr", "svd")
GRADIENT_SOLVERS = ("sgd", "adam", "lbfgs")
SOLVERS = ("auto", *EXACT_SOLVERS, "cd", *GRADIENT_SOLVERS)
LOSSES = ("squared", "l1", "huber")
_DEFAULT_EPOCHS = {"sgd": 100, "adam": 100, "lbfgs": 30}


class LinearRegression(EstimatorInputMixin, RegressorMixin, BaseEstimator):
    """Least squares, ridge and robust linear regression (exact or gradient-trained).

    Parameters
    ----------
    fit_intercept : bool, default True
        Fit an (unpenalised) intercept.
    alpha : float, default 0
        Penalty strength (see the module notes; ridge as in scikit-learn's ``Ridge``).
    solver : {"auto", "cholesky", "qr", "svd", "sgd", "adam", "lbfgs"}, default "auto"
        See the module notes. The exact solvers need ``loss="squared"`` and
        ``l1_ratio=0``.
    device : str or torch.device, optional
        Where to compute ("cpu", "cuda", "mps", "auto"); default: ``X``'s device.
    loss : {"squared", "l1", "huber"}, default "squared"
        The loss; anything but squared is fitted by a gradient solver.
    l1_ratio : float, default 0
        L1 share of the elastic-net penalty (0 is ridge, 1 the lasso); > 0 needs a
        gradient solver.
    delta : float, default 1
        Huber's threshold, in units of ``y``.
    max_iter : int, optional
        Epochs for the gradient solvers (default 100 for SGD/Adam, 30 L-BFGS rounds).
    tol : float, default 1e-6
        Gradient solvers stop when the training loss stops improving by this fraction.
    lr : float, optional
        Learning rate of the gradient solvers (their defaults otherwise).
    batch_size : int, default 256
        Minibatch size of SGD/Adam.
    random_state : int, optional
        Seed for the gradient solvers' shuffling.
    chunk_size : int, optional
        Rows per chunk of the exact solvers (default: about 4 MiB of float64).
    progress : bool, default False
        Progress bar for the gradient solvers.
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, default "nonrobust"
        The parameter covariance :meth:`summary` reports by default (exact unpenalised
        fits). A robust (heteroscedasticity-consistent) type makes the fit read the rows
        once more, after the solve, for the meat of the sandwich
        (:mod:`torchlinear.exact.sandwich`), which is saved with the model; every HC type
        is then available to :meth:`summary` and :meth:`predict_interval`.
    copy_X : bool, default True
        scikit-learn's parameter; ``X`` is never modified, so a copy is never needed.
    n_jobs : int, optional
        scikit-learn's parameter; the threads are torch's and NumPy's (one per core,
        capped on small problems), so it has no effect.
    positive : bool, default False
        Constrain the coefficients to be >= 0 (squared loss): non-negative least squares
        (with the ridge/elastic-net penalty, if any), solved exactly by coordinate descent
        on the statistics (``solver_ = "cd"``), as scikit-learn's
        ``LinearRegression(positive=True)``.

    Notes
    -----
    ``X`` may be scipy.sparse (CSR, CSC, COO; arrays or matrices) for the exact and
    coordinate-descent solvers with one target: the statistics are accumulated from
    sparse products (``X`` is never densified) and the answer equals the dense one.
    ``tol`` is the gradient solvers' stopping criterion (relative improvement of the
    training loss), and the duality-gap tolerance (times the variance of ``y``) of
    coordinate descent.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.
    solver_ : str
        The path that ran: "cholesky", "qr", "svd", "sgd", "adam" or "lbfgs".
    cond_ : float
        Condition number of the centred, column-scaled design (``nan`` for gradient fits).
    rank_ : int
        Numerical rank of that design (exact fits).
    n_iter_ : int
        Passes over the data (exact fits: accumulation plus any fallback or refinement
        pass; ``partial_fit``: 1) or epochs run (gradient fits).
    history_ : torch-linear History
        Per-epoch training record (gradient fits only).
    cov_type_ : str
        The covariance type the summary reports by default (exact fits).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.5, -2.0, 0.5]) + 3.0 + 0.1 * rng.normal(size=200)
    >>> model = LinearRegression().fit(X, y)
    >>> np.round(model.coef_, 2), round(model.intercept_, 2), model.solver_
    (array([ 1.49, -2.01,  0.51]), 3.0, 'cholesky')
    >>> round(model.summary().r_squared, 4)
    0.9985
    """

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        alpha: float = 0.0,
        solver: str = "auto",
        device: str | torch.device | None = None,
        loss: str = "squared",
        l1_ratio: float = 0.0,
        delta: float = 1.0,
        max_iter: int | None = None,
        tol: float = 1e-6,
        lr: float | None = None,
        batch_size: int = 256,
        random_state: int | None = None,
        chunk_size: int | None = None,
        progress: bool = False,
        cov_type: str = "nonrobust",
        copy_X: bool = True,
        n_jobs: int | None = None,
        positive: bool = False,
    ) -> None:
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.solver = solver
        self.device = device
        self.loss = loss
        self.l1_ratio = l1_ratio
        self.delta = delta
        self.max_iter = max_iter
        self.tol = tol
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.progress = progress
        self.cov_type = cov_type
        self.copy_X = copy_X
        self.n_jobs = n_jobs
        self.positive = positive

    # ------------------------------------------------------------------ validation

    def _check_params(self) -> dict[str, Any]:
        if not isinstance(self.random_state, np.random.RandomState | np.random.Generator):
            check_random_state("random_state", self.random_state)  # a generator draws later
        if self.solver not in SOLVERS:
            raise ValueError(
                f"solver must be one of {', '.join(map(repr, SOLVERS))}, got {self.solver!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(
                f"loss must be one of {', '.join(map(repr, LOSSES))}, got {self.loss!r}"
            )
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise ValueError(f"fit_intercept must be True or False, got {self.fit_intercept!r}")
        alpha = check_nonnegative_float("alpha", self.alpha)
        l1_ratio = check_nonnegative_float("l1_ratio", self.l1_ratio)
        if l1_ratio > 1:
            raise ValueError(f"l1_ratio must lie in [0, 1], got {self.l1_ratio!r}")
        if not isinstance(self.positive, bool | np.bool_):
            raise ValueError(f"positive must be True or False, got {self.positive!r}")
        positive = bool(self.positive)
        if positive and self.loss != "squared":
            raise ValueError(
                f"positive=True constrains least squares (loss='squared'); got loss={self.loss!r}"
            )
        if positive and self.solver not in ("auto", "cd"):
            raise ValueError(
                "positive=True (non-negative least squares) is solved exactly by coordinate "
                f"descent on the statistics; use solver='auto' or 'cd', not {self.solver!r}"
            )
        exact_problem = self.loss == "squared" and (l1_ratio == 0 or alpha == 0) and not positive
        if self.solver in EXACT_SOLVERS and not exact_problem:
            raise ValueError(
                f"solver={self.solver!r} solves the squared loss with an L2 penalty only "
                f"(got loss={self.loss!r}, l1_ratio={self.l1_ratio!r}); use solver='auto' or "
                "a gradient solver ('sgd', 'adam', 'lbfgs')"
            )
        if self.solver == "lbfgs" and l1_ratio > 0 and alpha > 0:
            raise ValueError(
                "solver='lbfgs' cannot handle an L1 penalty (l1_ratio > 0); use 'sgd' or 'adam'"
            )
        penalized = self.loss == "squared" and ((l1_ratio > 0 and alpha > 0) or positive)
        if self.solver == "cd" and not penalized:
            raise ValueError(
                "solver='cd' (exact coordinate descent) solves the squared loss with an L1 "
                f"penalty (alpha > 0, l1_ratio > 0) or positive=True; got loss={self.loss!r}, "
                f"alpha={self.alpha!r}, l1_ratio={self.l1_ratio!r}"
            )
        exact = self.solver in EXACT_SOLVERS or (self.solver == "auto" and exact_problem)
        cd = self.solver == "cd" or (self.solver == "auto" and penalized)
        # least absolute deviations with at most an L1 penalty: a linear program, solved exactly
        lad = self.solver == "auto" and self.loss == "l1" and (alpha == 0 or l1_ratio == 1)
        if exact or cd or lad:
            optimizer = None
        elif self.solver in GRADIENT_SOLVERS:
            optimizer = self.solver
        else:
            smooth = self.loss in ("squared", "huber") and (l1_ratio == 0 or alpha == 0)
            optimizer = "lbfgs" if smooth else "adam"
        return {
            "positive": positive,
            "exact": exact,
            "cd": cd,
            "lad": lad,
            "optimizer": optimizer,
            "alpha": alpha,
            "l1_ratio": l1_ratio,
            "delta": check_positive_float("delta", self.delta),
            "max_iter": None
            if self.max_iter is None
            else check_positive_int("max_iter", self.max_iter),
            "tol": check_nonnegative_float("tol", self.tol),
            "lr": None if self.lr is None else check_positive_float("lr", self.lr),
            "batch_size": check_positive_int("batch_size", self.batch_size),
            "chunk_size": None
            if self.chunk_size is None
            else check_positive_int("chunk_size", self.chunk_size),
            "cov_type": check_cov_type(self.cov_type),
        }

    def _compute_device(self, X: torch.Tensor) -> torch.device:
        if self.device is None:
            return X.device
        return resolve_device(self.device)

    def _validate_y(self, y: Any, n: int) -> tuple[torch.Tensor, bool, list[str] | None]:
        """Return ``y`` as ``(n, k)`` float tensor, whether it is a single target, names."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        names: list[str] | None = None
        if hasattr(y, "columns"):
            names = [str(c) for c in y.columns]
        elif getattr(y, "name", None) is not None and not isinstance(y, torch.Tensor):
            names = [str(y.name)]
        if isinstance(y, torch.Tensor):
            shape = tuple(y.shape)
        else:
            if not hasattr(y, "columns"):
                y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
                if y.dtype == object:
                    y = object_to_float(y, "y")
            shape = tuple(y.shape)
        if len(shape) == 2 and shape[1] != 1:
            Y, _ = as_feature_matrix(y, name="y")
            single = False
        elif len(shape) in (1, 2):
            Y = as_target(y).reshape(-1, 1)
            single = True
        else:
            raise ValueError(
                f"y must have shape (n,), (n, 1) or (n, k), got {shape}; "
                "flatten the extra dimensions into target columns"
            )
        check_same_length(range(n), Y)
        return Y, single, names

    # ------------------------------------------------------------------ fitting

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, options: FitOptions | None = None
    ) -> LinearRegression:
        """Fit the model; return ``self``.

        Parameters
        ----------
        X : array-like, DataFrame or Tensor, shape (n, d)
            Features; NaN/inf are rejected (counted and located).
        y : array-like or Tensor, shape (n,), (n, 1) or (n, k)
            Targets.
        sample_weight : array-like or Tensor, shape (n,), optional
            Non-negative weights multiplying each squared residual; an integer weight is
            the same as repeating the row.
        options : FitOptions, optional
            Names, and for the gradient solvers validation data, early stopping,
            checkpoints and callbacks (:class:`~torchlinear.estimators.FitOptions`).

        Raises
        ------
        ValueError
            Bad parameters or data (shapes, NaN/inf, non-numeric columns, negative weights).
        """
        params = self._check_params()
        if sp.issparse(X):
            return self._fit_sparse(X, y, sample_weight, params, options or FitOptions())
        with single_threaded():
            # the exact solvers detect NaN/inf from their statistics, without a separate pass
            X_t = self._validate_X(X, reset=True, finite=not (params["exact"] or params["cd"]))
            Y, single, target_names = self._validate_y(y, X_t.shape[0])
            w = check_sample_weight(sample_weight, X_t.shape[0])
        options = options or FitOptions()
        self._use_names(options.feature_names)
        self._stream: GramStats | TSQRStats | None = None
        self._single = single
        self._target_names = target_names
        if options.target_name is not None:
            self._target_names = [str(options.target_name)]
        if params["exact"]:
            solver = "auto" if self.solver == "auto" else self.solver
            sol = lstsq(
                X_t,
                Y,
                sample_weight=w,
                alpha=params["alpha"],
                fit_intercept=bool(self.fit_intercept),
                solver=solver,
                chunk_rows=params["chunk_size"],
                device=self._compute_device(X_t),
                feature_names=self._names(),
            )
            self._store_solution(sol)
            self._weight_info = None if w is None else WeightInfo.of(w)
            # kept (never saved) so that summary() can compute any robust covariance later,
            # as statsmodels' results can; the next fit replaces it
            self._fit_data = (X_t, Y, w, params["chunk_size"])
            if params["cov_type"] != "nonrobust":
                self._meat = self._meat_of_data()
        else:
            if params["cd"]:
                self._fit_coordinate_descent(X_t, Y, w, params)
            elif params["lad"]:
                self._fit_lad(X_t, Y, w, params)
            else:
                self._fit_gradient(X_t, Y, w, params, options)
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearRegression:
        """Add a chunk of rows to the exact statistics and update the model; return ``self``.

        The first call fixes the number of features and targets; the model is usable
        (``coef_``, ``predict``, ``summary``) after every call. Only the exact solvers
        stream (squared loss, pure L2 penalty).
        """
        params = self._check_params()
        if params["cov_type"] != "nonrobust":
            raise ValueError(
                f"partial_fit cannot compute cov_type={self.cov_type!r}: the robust "
                "covariance needs a pass over the rows after the final fit; use fit or "
                "fit_chunks, or cov_type='nonrobust'"
            )
        if not params["exact"]:
            raise ValueError(
                "partial_fit streams the exact solvers only (loss='squared', l1_ratio=0, "
                f"solver in 'auto', 'cholesky', 'qr', 'svd'); got loss={self.loss!r}, "
                f"l1_ratio={self.l1_ratio!r}, solver={self.solver!r}. Use fit instead"
            )
        first = getattr(self, "_stream", None) is None
        with single_threaded():
            X_t = self._validate_X(X, reset=first)
            Y, single, target_names = self._validate_y(y, X_t.shape[0])
            w = check_sample_weight(sample_weight, X_t.shape[0])
        if first:
            dev = self._compute_device(X_t)
            maker = GramStats if self.solver == "cholesky" else TSQRStats
            self._stream = maker.zeros(X_t.shape[1], Y.shape[1], device=dev)
            self._small = SmallData()
            self._single = single
            self._target_names = target_names
            self._stream_weights: WeightInfo | None = None
        else:
            stream = self._stream
            assert stream is not None
            if Y.shape[1] != stream.n_targets or single != self._single:
                raise ValueError(
                    f"y has {Y.shape[1]} column(s) but earlier partial_fit calls had "
                    f"{stream.n_targets}; every chunk must have the same targets"
                )
        stream = self._stream
        assert stream is not None
        stream.update(X_t, Y, w)
        self._small.add(X_t, Y, w)
        if w is not None or self._stream_weights is not None:
            seen = self._stream_weights or WeightInfo(stream.n_samples - X_t.shape[0], 0.0)
            self._stream_weights = seen + (
                WeightInfo.of(w) if w is not None else WeightInfo(X_t.shape[0], 0.0)
            )
        sol = solve_statistics(
            stream,
            alpha=params["alpha"],
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver if self.solver in EXACT_SOLVERS else "auto",
            feature_names=self._names(),
            small=self._small,
        )
        self._store_solution(sol)
        self._weight_info = self._stream_weights
        return self

    def fit_chunks(
        self,
        chunks: Callable[[], Iterable[tuple[Any, ...]]],
        *,
        n_features: int,
        feature_names: Sequence[str] | None = None,
        target_name: str | None = None,
        combine: Combine = LOCAL,
        options: FitOptions | None = None,
        alpha_per_weight: bool = False,
    ) -> LinearRegression:
        """Fit on data that is read in chunks (a file larger than memory, a rank's shard).

        The exact solvers run the same solve as :meth:`fit`
        (:func:`torchlinear.exact.solve_exact`): one pass accumulates the statistics, and
        only an ill-conditioned design asks for another pass (the QR fallback). The
        gradient solvers train on the stream, one pass per epoch after a first pass for
        the standardization (:func:`~torchlinear.estimators._gradient.fit_gradient_chunks`).
        ``chunks`` is called once per pass.

        Parameters
        ----------
        chunks : callable
            Returns a fresh iterable of ``(X, y)`` or ``(X, y, sample_weight)`` chunks
            (arrays or tensors; ``y`` of shape ``(m,)``) in the same order on every call.
            They must be validated already (finite, numeric).
        n_features : int
            The number of columns of ``X``.
        feature_names, target_name : optional
            Names for ``feature_names_in_``, warnings and the summary.
        combine : Combine, default LOCAL
            :data:`torchlinear.distributed.RANKS` inside a process group: each rank passes
            its own rows and all get the exact fit of all the rows.
        options : FitOptions, optional
            For the gradient solvers: validation chunks (``val_data``, a callable like
            ``chunks``), early stopping, checkpoints, callbacks.
        alpha_per_weight : bool, default False
            Exact solvers: read ``alpha`` per unit of sample weight (scikit-learn's
            ``ElasticNet(l1_ratio=0)`` convention); the ridge penalty solved,
            ``alpha`` times the total weight, is ``solution_.alpha``.

        Returns
        -------
        self

        Examples
        --------
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0], [4.0, 1.0]])
        >>> y = X @ [1.0, 2.0] + 3.0
        >>> halves = lambda: [(X[:3], y[:3]), (X[3:], y[3:])]
        >>> model = LinearRegression().fit_chunks(halves, n_features=2)
        >>> model.predict([[1.0, 1.0]]).round(8)
        array([6.])
        """
        params = self._check_params()
        options = options or FitOptions()
        n_features = check_positive_int("n_features", n_features)

        passes = [0]
        # per pass: rows with a positive weight, the sum of their log-weights, weighted rows
        weight_sums = torch.zeros(3, dtype=torch.float64)

        def stream() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
            passes[0] += 1
            sums = torch.zeros(3, dtype=torch.float64)
            for item in chunks():
                X = torch.as_tensor(item[0])
                y = torch.as_tensor(item[1])
                w = None if len(item) < 3 or item[2] is None else torch.as_tensor(item[2])
                if passes[0] <= 2:  # a probe may cut the first pass short
                    info = WeightInfo(X.shape[0], 0.0) if w is None else WeightInfo.of(w)
                    sums += torch.tensor(
                        [info.n_positive, info.log_weight_sum, 0 if w is None else X.shape[0]],
                        dtype=torch.float64,
                    )
                yield X, y, w
            if passes[0] <= 2:  # a complete pass
                weight_sums.copy_(sums)

        n_names = None if feature_names is None else list(feature_names)
        self._single = True
        self._stream = None
        self._target_names = None if target_name is None else [str(target_name)]
        if params["cd"]:
            stats = GramStats.zeros(n_features, 1)
            error: BaseException | None = None
            try:
                for X, y, w in stream():
                    stats.update(X, y.reshape(-1, 1), w)
            except Exception as exc:  # shared with the other ranks before anyone waits
                error = exc
            combine.agree(error, (n_features, 1))
            self._set_n_features(n_features, n_names)
            self._store_coordinate_descent(combine.gram(stats), params)
            return self
        if not params["exact"]:
            if combine is not LOCAL:
                raise ValueError(
                    "gradient training on chunks takes each process's data as a whole; "
                    "pass combine=LOCAL"
                )
            device = resolve_device(self.device)
            fit = fit_gradient_chunks(
                chunks,
                n_features=n_features,
                loss=self.loss,
                delta=params["delta"],
                alpha=params["alpha"],
                penalty_on_sum=True,
                l1_ratio=params["l1_ratio"],
                standardize=params["alpha"] == 0,
                fit_intercept=bool(self.fit_intercept),
                config=options.config(self._train_config(params, device)),
                val_chunks=options.val_data,
                metrics=options.metrics,
                callbacks=options.callbacks,
            )
            self._set_n_features(n_features, n_names)
            self._store_gradient_fit(fit, params["optimizer"])
            return self
        sol = solve_exact(
            stream,
            alpha=params["alpha"],
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver if self.solver in EXACT_SOLVERS else "auto",
            device=None if self.device is None else resolve_device(self.device),
            feature_names=None if feature_names is None else list(feature_names),
            combine=combine,
            shape=(n_features, 1),
            alpha_per_weight=alpha_per_weight,
        )
        self._set_n_features(n_features, n_names)
        self._store_solution(sol)
        sums = combine.sum(weight_sums)
        weighted = float(sums[2]) > 0
        self._weight_info = WeightInfo(int(sums[0]), float(sums[1])) if weighted else None
        if params["cov_type"] != "nonrobust":  # one more pass: the robust covariance's meat
            self._meat = combine.sum(meat_pass(sol, stream(), weighted=weighted))
            self.n_iter_ += 1
        return self

    def _names(self) -> list[str] | None:
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else [str(n) for n in names]

    def _meat_of_data(self) -> torch.Tensor:
        """The robust covariance's meat from the rows kept by :meth:`fit` (one pass)."""
        assert self.solution_ is not None and self._fit_data is not None
        X, Y, w, rows = self._fit_data
        n = X.shape[0]
        step = rows or max(1, (1 << 22) // (8 * (X.shape[1] + 1)))

        def chunks() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
            for start in range(0, n, step):
                stop = start + step
                yield X[start:stop], Y[start:stop], None if w is None else w[start:stop]

        return meat_pass(self.solution_, chunks(), weighted=w is not None)

    def _robust_meat(self, cov_type: str) -> torch.Tensor | None:
        """The stored meat, computed now from the kept rows if needed; None if nonrobust."""
        if cov_type == "nonrobust":
            return None
        if getattr(self, "_meat", None) is None:
            if getattr(self, "_fit_data", None) is None:
                raise ValueError(
                    f"cov_type={cov_type!r} needs the meat matrix of the robust covariance, "
                    "which this model did not keep (fitted with cov_type='nonrobust' by "
                    "partial_fit or fit_chunks, or loaded from a file or a pickle); refit with "
                    f"LinearRegression(cov_type={cov_type!r})"
                )
            self._meat = self._meat_of_data()
        return self._meat

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state = dict(state)
        state.pop("_fit_data", None)  # the training rows are never pickled
        return state

    def _store_solution(self, sol: LstsqSolution) -> None:
        coef = sol.coef.numpy().T.copy()  # (k, d)
        intercept = sol.intercept.numpy().copy()
        if self._single:
            self.coef_ = coef[0]
            self.intercept_ = float(intercept[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept
        self.solver_ = sol.solver
        self.cond_ = float(sol.cond)
        self.rank_ = int(sol.rank)
        self.n_iter_ = int(sol.n_passes)
        self.solution_: LstsqSolution | None = sol
        self.cov_type_ = check_cov_type(self.cov_type)
        self._meat = None
        self._fit_data = None
        self._weight_info = None
        for stale in ("history_", "train_config_"):
            if hasattr(self, stale):
                delattr(self, stale)

    def _fit_lad(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, params: dict[str, Any]
    ) -> None:
        """Least absolute deviations solved to the LP optimum (:func:`fit_lad`).

        Dividing this estimator's objective by twice the weight sum gives the quantile loss
        at 0.5 (half the absolute residual) plus ``alpha * l1_ratio / (2 sum(w))`` times the
        L1 norm: scikit-learn's ``QuantileRegressor`` objective.
        """
        if Y.shape[1] != 1:
            raise ValueError(
                f"loss='l1' with {Y.shape[1]} targets: fit one target at a time, or use "
                "solver='sgd' or 'adam'"
            )
        total = float(X.shape[0]) if w is None else float(w.sum())
        coef, intercept, info = fit_lad(
            X.detach().cpu().to(torch.float64).numpy(),
            Y[:, 0].detach().cpu().to(torch.float64).numpy(),
            sample_weight=None if w is None else w.cpu().numpy(),
            quantile=0.5,
            alpha=params["alpha"] * params["l1_ratio"] / (2 * total),
            fit_intercept=bool(self.fit_intercept),
        )
        self.coef_ = np.asarray(coef, dtype=np.float64) if self._single else np.atleast_2d(coef)
        self.intercept_ = float(intercept) if self._single else np.array([float(intercept)])
        self.solver_ = "lad"
        self.cond_ = math.nan
        if hasattr(self, "rank_"):
            del self.rank_
        self.n_iter_ = int(info.get("n_iter", 0))
        self.converged_ = True
        self.solution_ = None
        for stale in ("history_", "train_config_"):
            if hasattr(self, stale):
                delattr(self, stale)

    def _fit_coordinate_descent(
        self, X: torch.Tensor, Y: torch.Tensor, w: torch.Tensor | None, params: dict[str, Any]
    ) -> None:
        """The exact elastic net from the statistics (:mod:`torchlinear.exact.coordinate_descent`).

        This estimator's penalty is on the *sum* of the weighted squared losses, so
        scikit-learn's ``ElasticNet(alpha=alpha / sum(w))`` minimises the same objective.
        """
        if Y.shape[1] != 1:
            raise ValueError(
                f"an L1 penalty with {Y.shape[1]} targets: fit one target at a time, or use "
                "solver='sgd' or 'adam'"
            )
        stats = gram_pass(X, Y, w, device=self._compute_device(X))
        if not all(bool(torch.isfinite(t).all()) for t in (stats.xtx, stats.xty, stats.yty)):
            assert_finite("X", X)
            assert_finite("y", Y)
        self._store_coordinate_descent(stats, params)

    def _store_coordinate_descent(self, stats: GramStats, params: dict[str, Any]) -> None:
        """Solve the (non-negative) elastic net from ``stats``; store the fit."""
        total = float(stats.weight_sum)
        path = enet_path(
            stats,
            [params["alpha"] / total],
            params["l1_ratio"],
            fit_intercept=bool(self.fit_intercept),
            positive=params["positive"],
            tol=params["tol"],
            max_iter=params["max_iter"] or 1000,
        )
        coef, intercept = path.coefs[0], float(path.intercepts[0])
        self.coef_ = coef.copy() if self._single else coef[None, :].copy()
        self.intercept_ = intercept if self._single else np.array([intercept])
        self.solver_ = "cd"
        self.cond_ = math.nan
        if hasattr(self, "rank_"):
            del self.rank_
        self.n_iter_ = int(path.n_iters[0])
        self.converged_ = bool(path.converged[0])
        self.dual_gap_ = float(path.dual_gaps[0])
        self.solution_ = None
        for stale in ("history_", "train_config_"):
            if hasattr(self, stale):
                delattr(self, stale)

    def _fit_sparse(
        self, X: Any, y: Any, sample_weight: Any, params: dict[str, Any], options: FitOptions
    ) -> LinearRegression:
        """Exact or coordinate-descent fit of scipy.sparse ``X`` from its sparse statistics."""
        from sklearn.utils.validation import check_array

        if not (params["exact"] or params["cd"]):
            raise TypeError(
                "sparse X is fitted by the exact and coordinate-descent solvers (squared loss); "
                f"for loss={self.loss!r} or solver={self.solver!r} convert it with X.toarray()"
            )
        Xs = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
        if not np.isfinite(Xs.data).all():
            raise ValueError("X holds NaN or infinite values; remove or impute them")
        Y, single, target_names = self._validate_y(y, Xs.shape[0])
        if not single:
            raise ValueError(
                f"sparse X with {Y.shape[1]} targets: fit one target at a time, or pass dense X"
            )
        w = check_sample_weight(sample_weight, Xs.shape[0])
        yv = Y[:, 0].double().numpy()
        wn = None if w is None else w.double().numpy()
        stats = sparse_gram_stats(Xs, yv, wn, shift_y=float(np.average(yv, weights=wn)))
        self._check_feature_names(None, reset=True)
        self.n_features_in_ = Xs.shape[1]
        self._use_names(options.feature_names)
        self._stream = None
        self._single, self._target_names = True, target_names
        if options.target_name is not None:
            self._target_names = [str(options.target_name)]
        if params["cd"]:
            self._store_coordinate_descent(stats, params)
            return self
        sol = solve_statistics(
            stats,
            alpha=params["alpha"],
            fit_intercept=bool(self.fit_intercept),
            solver="cholesky",
            feature_names=self._names(),
        )
        self._store_solution(sol)
        return self

    def _train_config(self, params: dict[str, Any], device: torch.device) -> TrainConfig:
        optimizer = params["optimizer"]
        seed = check_random_state("random_state", self.random_state)
        return TrainConfig(
            epochs=params["max_iter"] or _DEFAULT_EPOCHS[optimizer],
            batch_size=params["batch_size"],
            lr=params["lr"],
            optimizer=optimizer,
            tol=params["tol"] if params["tol"] > 0 else None,
            seed=seed,
            device=str(device),
            progress=bool(self.progress),
        )

    def _fit_gradient(
        self,
        X: torch.Tensor,
        Y: torch.Tensor,
        w: torch.Tensor | None,
        params: dict[str, Any],
        options: FitOptions,
    ) -> None:
        total = float(X.shape[0]) if w is None else float(w.sum())
        dev = self._compute_device(X)
        target = Y[:, 0] if self._single else Y
        fit = fit_gradient(
            X.to(dev),
            target.to(device=dev, dtype=X.dtype),
            sample_weight=None if w is None else w.to(device=dev, dtype=X.dtype),
            loss=self.loss,
            delta=params["delta"],
            alpha=params["alpha"] / total,
            l1_ratio=params["l1_ratio"],
            standardize=params["alpha"] == 0,
            fit_intercept=bool(self.fit_intercept),
            config=options.config(self._train_config(params, dev)),
            val_data=options.val_data,
            metrics=options.metrics,
            callbacks=options.callbacks,
        )
        self._store_gradient_fit(fit, params["optimizer"])

    def _store_gradient_fit(self, fit: GradientFit, optimizer: str) -> None:
        assert fit.coef is not None
        coef = fit.coef.detach().to(torch.float64).cpu().numpy()
        k = coef.shape[0]
        intercept = (
            np.zeros(k)
            if fit.intercept is None
            else fit.intercept.detach().to(torch.float64).cpu().numpy()
        )
        if self._single:
            self.coef_ = coef[0].copy()
            self.intercept_ = float(intercept[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept
        self.solver_ = optimizer
        self.cond_ = math.nan
        if hasattr(self, "rank_"):
            del self.rank_
        self.n_iter_ = len(fit.history)
        self.history_ = fit.history
        self.train_config_ = fit.config
        self.converged_ = check_convergence(fit.history, fit.config, optimizer)
        self.solution_ = None

    _special_state = ("solution_",)
    # the robust covariance's meat (exact fits), the rows fit() kept for it (never saved),
    # and what the summary needs of the sample weights
    _meat: torch.Tensor | None = None
    _fit_data: Any = None
    _weight_info: WeightInfo | None = None

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        extra: dict[str, Any] = {"single": self._single, "target_names": self._target_names}
        if self.solution_ is not None:
            sol_tensors, extra["solution"] = self.solution_.to_state()
            tensors.update({f"solution.{k}": v for k, v in sol_tensors.items()})
            if self._meat is not None:
                tensors["meat"] = self._meat.contiguous()
            info = getattr(self, "_weight_info", None)
            if info is not None:
                extra["weight_info"] = [info.n_positive, info.log_weight_sum]
        return tensors, extra

    def _load_extra_state(
        self, tensors: Mapping[str, torch.Tensor], extra: Mapping[str, Any]
    ) -> None:
        self._single = bool(extra.get("single", np.ndim(self.coef_) == 1))
        names = extra.get("target_names")
        self._target_names = None if names is None else [str(n) for n in names]
        self._stream = None
        self.solution_ = None
        self._fit_data = None
        self._meat = tensors["meat"].to(torch.float64) if "meat" in tensors else None
        info = extra.get("weight_info")
        self._weight_info = None if info is None else WeightInfo(int(info[0]), float(info[1]))
        if extra.get("solution") is not None:
            sol_tensors = {k[9:]: v for k, v in tensors.items() if k.startswith("solution.")}
            sol = LstsqSolution.from_state(sol_tensors, extra["solution"])
            if sol.coef.shape[0] != self.n_features_in_:
                raise ValueError(f"the stored solution has {sol.coef.shape[0]} coefficients")
            self.solution_ = sol
        if np.shape(self.coef_)[-1] != self.n_features_in_:
            raise ValueError(
                f"coef_ has shape {np.shape(self.coef_)} for {self.n_features_in_} features"
            )

    # ------------------------------------------------------------------ using the fit

    def predict(self, X: Any) -> np.ndarray | torch.Tensor:
        """Predictions ``X @ coef_.T + intercept_``.

        A tensor ``X`` gives a tensor on its device, in its floating dtype; anything else
        gives a float64 NumPy array. Shape ``(n,)`` for one target, ``(n, k)`` for ``k``.
        """
        check_is_fitted(self, "coef_")
        if sp.issparse(X):
            from sklearn.utils.validation import check_array

            Xs = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
            if Xs.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {Xs.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
            coef = np.atleast_2d(self.coef_)
            pred = np.asarray(Xs @ coef.T) + np.atleast_1d(self.intercept_)
            return pred[:, 0] if np.ndim(self.coef_) == 1 else pred
        is_tensor = isinstance(X, torch.Tensor)
        X_t = self._validate_X(X, reset=False, finite=False)
        out = self._predict_tensor(X_t)
        if is_tensor:
            return out.to(X_t.dtype)
        return out.cpu().numpy()

    def _predict_tensor(self, X_t: torch.Tensor) -> torch.Tensor:
        dev = X_t.device
        coef = torch.as_tensor(np.atleast_2d(self.coef_), dtype=torch.float64, device=dev)
        b = torch.as_tensor(np.atleast_1d(self.intercept_), dtype=torch.float64, device=dev)
        out = torch.addmm(b, X_t.to(torch.float64), coef.T)
        if not bool(torch.isfinite(out).all()):  # NaN/inf in X always reach the output
            assert_finite("X", X_t)
            raise ValueError(
                "predictions overflow float64; X holds values too large for these coefficients"
            )
        return out[:, 0] if np.ndim(self.coef_) == 1 else out

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R² of the predictions (uniform average over targets).

        Computed in float64 on ``X``'s device, so it works for tensors on any device.
        """
        check_is_fitted(self, "coef_")
        if sp.issparse(X):
            from sklearn.metrics import r2_score

            return float(r2_score(y, self.predict(X), sample_weight=sample_weight))
        X_t = self._validate_X(X, reset=False, finite=False)
        Y, _, _ = self._validate_y(y, X_t.shape[0])
        w = check_sample_weight(sample_weight, X_t.shape[0])
        dev = X_t.device
        pred = self._predict_tensor(X_t).reshape(len(Y), -1)
        Yd = Y.to(device=dev, dtype=torch.float64)
        if pred.shape[1] != Yd.shape[1]:
            raise ValueError(
                f"y has {Yd.shape[1]} target column(s) but the model predicts {pred.shape[1]}"
            )
        wd = torch.ones(len(Yd), dtype=torch.float64, device=dev) if w is None else w.to(dev)
        mean = (wd @ Yd) / wd.sum()
        ss_res = wd @ (Yd - pred) ** 2
        ss_tot = wd @ (Yd - mean) ** 2
        r2 = torch.where(
            ss_tot > 0,
            1 - ss_res / torch.where(ss_tot > 0, ss_tot, torch.ones_like(ss_tot)),
            torch.where(ss_res == 0, torch.ones_like(ss_res), torch.zeros_like(ss_res)),
        )
        return float(r2.mean())

    def _exact_solution(self, what: str) -> LstsqSolution:
        check_is_fitted(self, "coef_")
        sol = getattr(self, "solution_", None)
        if sol is None:
            raise ValueError(
                f"{what} needs an exact least-squares fit; this model was fitted with "
                f"solver_={self.solver_!r}. Refit with solver='auto' (squared loss, l1_ratio=0)"
            )
        return sol

    def _target_index(self, sol: LstsqSolution, target: int | None, what: str) -> int:
        k = sol.coef.shape[1]
        if target is None:
            if k > 1:
                raise ValueError(f"this model has {k} targets; pass target=0..{k - 1} to {what}")
            return 0
        return target

    def summary(
        self,
        target: int | None = None,
        confidence: float = 0.95,
        *,
        cov_type: str | None = None,
        weights: str = "analytic",
        use_t: bool | None = None,
    ) -> OLSSummary:
        """Standard errors, t, p-values, confidence intervals, R², F, ... of the fit.

        Available for exact, unpenalised fits (``alpha=0``). ``print(model.summary())``
        shows the table; ``.to_dict()``/``.to_frame()`` give the numbers. For a
        multi-target fit pass ``target`` (the column index).

        Parameters
        ----------
        target : int, optional
            The target column of a multi-target fit.
        confidence : float, default 0.95
            Level of the confidence intervals.
        cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3"}, optional
            The parameter covariance (default: ``cov_type_``, the fit's). A robust type
            after an in-memory :meth:`fit` is computed from the rows the fit kept (one
            pass); after :meth:`fit_chunks` or loading, the fit must have been made with a
            robust ``cov_type``.
        weights : {"analytic", "frequency"}, default "analytic"
            What the fit's ``sample_weight`` means: inverse variances (statsmodels'
            ``WLS``; scaling every weight changes nothing) or counts of repeated rows
            (statsmodels' ``GLM(freq_weights=)``). See :mod:`torchlinear.stats`.
        use_t : bool, optional
            Student's t or the normal distribution for p-values and intervals (default:
            t for "nonrobust", normal for the HC types, as statsmodels).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(100, 2))
        >>> y = X @ [1.0, -1.0] + rng.normal(size=100) * (1 + np.abs(X[:, 0]))
        >>> s = LinearRegression().fit(X, y).summary(cov_type="HC3")
        >>> s.cov_type, s.std_err.round(3)
        ('HC3', array([0.214, 0.283, 0.246]))
        """
        sol = self._exact_solution("summary()")
        target = self._target_index(sol, target, "summary()")
        cov = getattr(self, "cov_type_", "nonrobust") if cov_type is None else cov_type
        cov = check_cov_type(cov)
        names = self._target_names
        return ols_summary(
            sol,
            target=target,
            feature_names=self._names(),
            target_name=None if names is None or target >= len(names) else names[target],
            confidence=confidence,
            cov_type=cov,
            meat=self._robust_meat(cov),
            weights=weights,
            weight_info=getattr(self, "_weight_info", None),
            use_t=use_t,
        )

    def predict_interval(
        self,
        X: Any,
        level: float = 0.95,
        kind: str = "prediction",
        *,
        target: int | None = None,
        cov_type: str | None = None,
        weights: str = "analytic",
        use_t: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predictions with the interval of a new observation or of the mean.

        The same intervals as statsmodels' ``get_prediction(X).summary_frame(alpha)``:
        ``kind="prediction"`` gives ``obs_ci_lower/upper`` (a new observation of weight
        one), ``kind="confidence"`` the mean's ``mean_ci_lower/upper``; see
        :func:`torchlinear.stats.prediction_interval`.

        Parameters
        ----------
        X : array-like, DataFrame or Tensor, shape (m, d)
        level : float, default 0.95
            Coverage, in (0, 1).
        kind : {"prediction", "confidence"}, default "prediction"
        target, cov_type, weights, use_t :
            As for :meth:`summary`.

        Returns
        -------
        prediction, lower, upper : numpy.ndarray of shape (m,)

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
        >>> y = np.array([1.1, 2.9, 5.2, 6.8, 9.1])
        >>> pred, lower, upper = LinearRegression().fit(X, y).predict_interval([[2.0]])
        >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
        (4.3616, 5.6784)
        """
        sol = self._exact_solution("predict_interval()")
        target = self._target_index(sol, target, "predict_interval()")
        cov = getattr(self, "cov_type_", "nonrobust") if cov_type is None else cov_type
        cov = check_cov_type(cov)
        X_t = self._validate_X(X, reset=False)
        return prediction_interval(
            sol,
            X_t,
            target=target,
            level=level,
            kind=kind,
            cov_type=cov,
            meat=self._robust_meat(cov),
            weights=weights,
            weight_info=getattr(self, "_weight_info", None),
            use_t=use_t,
        )

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"multioutput": True, "allow_nan": False}
