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
    one they are only centred (scaling them would change the objective; centring moves
    the unpenalised intercept alone).

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

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch

from torchlinear._schema import Bool, ListOf, Maybe, Num, Record, Str
from torchlinear._sklearn_protocol import (
    BaseEstimator,
    RegressorMixin,
    check_is_fitted,
)
from torchlinear._threads import single_threaded
from torchlinear._validation import (
    check_positive_int,
    check_sample_weight,
    resolve_device,
)
from torchlinear.estimators._base import LinearPredictionMixin
from torchlinear.estimators._gradient import FitOptions
from torchlinear.estimators._linear_chunks import WeightedStream, gram_of_stream
from torchlinear.estimators._linear_iterative import IterativeFitMixin
from torchlinear.estimators._linear_params import (
    EXACT_SOLVERS,
    GRADIENT_SOLVERS,
    LOSSES,
    SOLVERS,
    resolve_params,
    validate_targets,
)
from torchlinear.estimators.linear_inference import ExactInferenceMixin
from torchlinear.exact import REFINE_ABOVE, GramStats, LstsqSolution, TSQRStats, lstsq
from torchlinear.exact.driver import LOCAL, Combine, SmallData, solve_exact, solve_statistics
from torchlinear.exact.fold_stats import sparse_gram_stats, sparse_moments
from torchlinear.exact.sandwich import MEAT_TYPES, check_meat_memory, meat_pass
from torchlinear.stats import WeightInfo, check_cov_type

if TYPE_CHECKING:
    from torchlinear.io import DeferredTensors

# SOLVERS, LOSSES, ...: the choices, kept importable from here
__all__ = [
    "EXACT_SOLVERS",
    "GRADIENT_SOLVERS",
    "LOSSES",
    "SOLVERS",
    "LinearRegression",
]


_DEFERRED = ("coef_", "intercept_", "solution_")  # what a deferred polish sets


class LinearRegression(
    ExactInferenceMixin, IterativeFitMixin, LinearPredictionMixin, RegressorMixin, BaseEstimator
):
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
        Gradient solvers stop when the training loss stops improving by this fraction
        for 5 epochs; SGD and Adam first divide their learning rate by 10 on each of
        their first three such plateaus (the noise of their minibatch steps; the
        epochs of the drops are ``history_.lr_drops``), so that a fit that says it
        converged is at the optimum, not at the noise floor of its rate.
    lr : float, optional
        Learning rate of the gradient solvers (their defaults otherwise). They train on
        standardized features with the target in units of its spread (a power of two,
        for the Huber loss no coarser than ``delta``), so a step means the same for ``y``
        in metres or in nanometres; losses and coefficients are reported in ``y``'s own
        units.
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
        (with the ridge/elastic-net penalty, if any), solved exactly on the statistics by
        the active-set method of :mod:`torchlinear.exact.nnqp` (``solver_ = "cd"``, the
        penalized route; ``converged_``: the KKT conditions hold to rounding; ``n_iter_``:
        passive-set solves), as scikit-learn's ``LinearRegression(positive=True)``.

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

    def _check_params(self) -> dict[str, Any]:
        return resolve_params(self)

    def _validate_y(self, y: Any, n: int) -> tuple[torch.Tensor, bool, list[str] | None]:
        """Return ``y`` as ``(n, k)`` float tensor, whether it is a single target, names."""
        return validate_targets(y, n, type(self).__name__)

    def _compute_device(self, X: torch.Tensor) -> torch.device:
        if self.device is None:
            return X.device
        return resolve_device(self.device)

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
        solve = functools.partial(
            solve_statistics,
            stream,
            alpha=params["alpha"],
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver if self.solver in EXACT_SOLVERS else "auto",
            feature_names=self._names(),
            small=self._small,
        )
        sol = solve(per_coefficient=False)
        self._store_solution(sol)
        self._weight_info = self._stream_weights
        if self._small.parts is not None and not sol.refinement_steps:
            if sol.coefficient_error() > REFINE_ABOVE:
                # polishing every kept row after every call would cost O(rows) a call:
                # it waits for the first read of the coefficients (__getattr__)
                for name in _DEFERRED:
                    delattr(self, name)
                self._deferred_solve = solve
        return self

    def __getattr__(self, name: str) -> Any:
        # only called for an attribute not set: the coefficients of a deferred polish
        solve = self.__dict__.get("_deferred_solve") if name in _DEFERRED else None
        if solve is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # partial_fit has already warned
            sol = solve()
        del self._deferred_solve
        self._set_answer(sol)
        return self.__dict__[name]

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
        n_names = None if feature_names is None else list(feature_names)
        self._single = True
        self._stream = None
        self._target_names = None if target_name is None else [str(target_name)]
        stream = WeightedStream(chunks)
        if params["cd"]:
            self._store_coordinate_descent(gram_of_stream(stream, n_features, combine), params)
        elif params["exact"]:
            self._fit_exact_stream(stream, (n_features, n_names), combine, params, alpha_per_weight)
        else:
            self._fit_gradient_chunks(chunks, n_features, params, options, combine)
        self._set_n_features(n_features, n_names)
        return self

    def _fit_exact_stream(
        self,
        stream: WeightedStream,
        columns: tuple[int, list[str] | None],
        combine: Combine,
        params: dict[str, Any],
        alpha_per_weight: bool,
    ) -> None:
        """The exact solve of :meth:`fit_chunks`; for a robust ``cov_type``, one more pass
        for the meat of the covariance."""
        n_features, names = columns
        if params["cov_type"] != "nonrobust":  # refused before the passes, not after them
            check_meat_memory(n_features, fit_intercept=bool(self.fit_intercept), weighted=False)
        sol = solve_exact(
            stream,
            alpha=params["alpha"],
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver if self.solver in EXACT_SOLVERS else "auto",
            device=None if self.device is None else resolve_device(self.device),
            feature_names=names,
            combine=combine,
            shape=(n_features, 1),
            alpha_per_weight=alpha_per_weight,
        )
        self._store_solution(sol)
        sums = combine.sum(stream.weight_sums)
        weighted = float(sums[2]) > 0
        self._weight_info = WeightInfo(int(sums[0]), float(sums[1])) if weighted else None
        if params["cov_type"] != "nonrobust":
            self._meat = combine.sum(meat_pass(sol, stream(), weighted=weighted))
            self.n_iter_ += 1

    def _finish_fit(self) -> None:
        if "_deferred_solve" in self.__dict__:
            self.__getattr__("coef_")

    def __getstate__(self) -> dict[str, Any]:
        self._finish_fit()  # pickle the finished answer
        self._stored_meat()  # and the meat, not a path to the file it is in
        state = dict(self.__dict__)
        state.pop("_fit_data", None)  # the training rows are never pickled
        return state

    def _set_answer(self, sol: LstsqSolution) -> None:
        """The coefficients, intercept and solution of ``sol``."""
        coef = sol.coef.numpy().T.copy()  # (k, d)
        intercept = sol.intercept.numpy().copy()
        if self._single:
            self.coef_ = coef[0]
            self.intercept_ = float(intercept[0])
        else:
            self.coef_ = coef
            self.intercept_ = intercept
        self.solution_: LstsqSolution | None = sol

    def _store_solution(self, sol: LstsqSolution) -> None:
        self.__dict__.pop("_deferred_solve", None)
        self._set_answer(sol)
        self.solver_ = sol.solver
        self.cond_ = float(sol.cond)
        self.rank_ = int(sol.rank)
        self.n_iter_ = int(sol.n_passes)
        self.cov_type_ = check_cov_type(self.cov_type)
        self._meat = None
        self._meat_file = None
        self._fit_data = None
        self._weight_info = None
        for stale in ("history_", "train_config_"):
            if hasattr(self, stale):
                delattr(self, stale)

    def _fit_sparse(
        self, X: Any, y: Any, sample_weight: Any, params: dict[str, Any], options: FitOptions
    ) -> LinearRegression:
        """Exact or coordinate-descent fit of scipy.sparse ``X`` from its sparse statistics."""
        if not (params["exact"] or params["cd"]):
            raise TypeError(
                "sparse X is fitted by the exact and coordinate-descent solvers (squared loss); "
                f"for loss={self.loss!r} or solver={self.solver!r} convert it with X.toarray()"
            )
        from sklearn.utils.validation import check_array  # X is sparse: SciPy's world

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
            moments=sparse_moments(Xs, yv, wn),
        )
        self._store_solution(sol)
        return self

    _special_state = ("solution_",)
    _extra_schema = Record(
        {
            "single": Bool(),
            "target_names": Maybe(ListOf(Str())),
            "solution": Maybe(LstsqSolution.STATE),
            "weight_info": ListOf(Num(low=0, high=math.inf), min_len=2, max_len=2),
        },
        optional=("target_names", "solution", "weight_info"),
    )
    _sparse_input = True
    # the factor of the Gram matrix and the robust covariance's meat, d x d each: only a
    # summary and intervals read them
    inference_state = ("extra.meat", "extra.solution._factor", "extra.solution._factor_s")

    def _extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        tensors: dict[str, torch.Tensor] = {}
        extra: dict[str, Any] = {"single": self._single, "target_names": self._target_names}
        if self.solution_ is not None:
            sol_tensors, extra["solution"] = self.solution_.to_state()
            tensors.update({f"solution.{k}": v for k, v in sol_tensors.items()})
            meat = self._stored_meat()
            if meat is not None:
                tensors["meat"] = meat.contiguous()
            info = getattr(self, "_weight_info", None)
            if info is not None:
                extra["weight_info"] = [info.n_positive, info.log_weight_sum]
        return tensors, extra

    def _load_extra_state(
        self,
        tensors: Mapping[str, torch.Tensor],
        extra: Mapping[str, Any],
        deferred: DeferredTensors | None = None,
    ) -> None:
        self._single = bool(extra.get("single", np.ndim(self.coef_) == 1))
        names = extra.get("target_names")
        self._target_names = None if names is None else [str(n) for n in names]
        self._stream = None
        self.solution_ = None
        self._fit_data = None
        self._meat = tensors["meat"].to(torch.float64) if "meat" in tensors else None
        self._meat_file = deferred if deferred is not None and "meat" in deferred else None
        shape = self._meat_file.shapes["meat"] if self._meat_file is not None else None
        shape = tuple(self._meat.shape) if self._meat is not None else shape
        if shape is not None and extra.get("solution") is not None:
            k, p = np.shape(np.atleast_2d(self.coef_))[0], self.n_features_in_
            p += int(extra["solution"]["fit_intercept"])
            if shape not in [(k, n, len(MEAT_TYPES), p, p) for n in (1, 2)]:
                raise ValueError(f"the stored meat has shape {list(shape)}")
        info = extra.get("weight_info")
        self._weight_info = None if info is None else WeightInfo(int(info[0]), float(info[1]))
        if extra.get("solution") is not None:
            sol_tensors = {k[9:]: v for k, v in tensors.items() if k.startswith("solution.")}
            source = None if deferred is None else deferred.within("solution.")
            sol = LstsqSolution.from_state(sol_tensors, extra["solution"], factor_source=source)
            if sol.coef.shape[0] != self.n_features_in_:
                raise ValueError(f"the stored solution has {sol.coef.shape[0]} coefficients")
            if sol.fit_intercept != self.fit_intercept or (sol.alpha == 0) != (self.alpha == 0):
                raise ValueError(
                    f"the stored solution (fit_intercept={sol.fit_intercept}, alpha="
                    f"{sol.alpha}) is not the fit of these parameters"
                )
            self.solution_ = sol
        if np.shape(self.coef_)[-1] != self.n_features_in_:
            raise ValueError(
                f"coef_ has shape {np.shape(self.coef_)} for {self.n_features_in_} features"
            )

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R² of the predictions (uniform average over targets).

        Computed in float64 on ``X``'s device, so it works for tensors on any device.
        """
        check_is_fitted(self, "coef_")
        if sp.issparse(X):
            return super().score(X, y, sample_weight)
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

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
