r"""Exact least squares and ridge from streamed sufficient statistics.

The problem, for weights :math:`w_i \ge 0`, targets :math:`y_i \in \mathbb R^k` and an
optional intercept :math:`b`, is

.. math::

    \min_{W, b} \; \sum_i w_i \lVert y_i - W^\top x_i - b \rVert^2
    + \alpha \lVert W \rVert_F^2 ,

with the intercept never penalised. Two mergeable summaries of the data solve it exactly,
each built in one pass over row chunks with float64 accumulation:

* :class:`GramStats` keeps :math:`\sum w`, :math:`\sum w u`, :math:`\sum w v`,
  :math:`\sum w u u^\top`, :math:`\sum w u v^\top`, :math:`\sum w v v^\top` for the shifted
  rows :math:`u = x - c_x`, :math:`v = y - c_y` (the shift, taken from the first chunk,
  keeps the later centring free of cancellation). Centring and column scaling
  :math:`D = \operatorname{diag}(\lVert x_j - \bar x_j \rVert_w)` give
  :math:`G_s = D^{-1} X_c^\top W X_c D^{-1}` with unit diagonal, solved by Cholesky.
  The normal equations square the condition number: the relative error is about
  :math:`\kappa(G_s)\,\varepsilon`.
* :class:`TSQRStats` keeps the triangular factor :math:`R` of
  :math:`\sqrt w\,[\,1,\; x - c_x,\; y - c_y\,]`: each chunk is reduced by a Householder QR
  and stacked under the running :math:`R`, which is factorised again (a "tall-skinny QR").
  Its first row carries the means, the trailing block is the :math:`R` of the centred data
  and its last block the residual, so :math:`\lVert R_{yy} \rVert^2` is the residual sum of
  squares. Householder QR is backward stable: the error is about
  :math:`\varepsilon\,\kappa\,(1 + \kappa\,\lVert r\rVert / (\lVert X\rVert \lVert w\rVert))`.

:func:`solve_exact` (in :mod:`torchlinear.exact.driver`) drives them for every entry point
(``solver="auto"``):

1. Gram pass, then Cholesky of :math:`G_s` when its reciprocal condition number
   :math:`\lambda_{\min}/\lambda_{\max}` is at least :data:`RCOND_CHOLESKY` (``1e-10``,
   i.e. :math:`\kappa(X_s) \le 10^5`); when the first chunk is already below it, the Gram
   pass is skipped altogether.
2. Otherwise (or if Cholesky fails) a TSQR pass centred on the exact means; singular values
   of the column-scaled :math:`R` below :math:`10\,p\,\varepsilon\,\sigma_{\max}` mark the
   design as rank deficient, and the SVD then returns the minimum-norm solution (minimum
   norm of the coefficients in the user's units) with a :class:`RankDeficientWarning`
   naming the collinear columns. Both decisions are also made on the scale of the values
   themselves, which are known to a few units in their last place: a column is constant
   when its spread about its mean is within ``ROUNDING_RTOL`` (:math:`3\varepsilon`) of its
   magnitude (``1e15 + k`` for ``k`` in 0..10 is not: its centring is exact), and a
   combination of columns that small next to the columns' magnitudes is a collinearity
   (``1e12 + z`` beside ``z``); a Cholesky solution that meets such a combination is
   handed to the TSQR pass.
3. Accuracy: when the estimated relative error exceeds ``1e-13`` the solution is improved:
   small problems (at most :data:`POLISH_MAX_ELEMENTS` values; judged coefficient by
   coefficient, intercept included, see :meth:`LstsqSolution.coefficient_error`) by iterative
   refinement of the augmented system with residuals in twice the working precision
   (error-free products and sums), which reaches full float64 accuracy while
   :math:`\kappa\,\varepsilon < 1`; larger Cholesky solutions by refinement passes over
   the data (residuals in float64), which bring them to QR accuracy. A remaining estimated
   error above ``1e-8`` raises an :class:`IllConditionedWarning`.

Every path records the solver used, the condition number :math:`\kappa(X_s)` of the centred,
column-scaled design and the error estimate in the returned :class:`LstsqSolution`.
"""

from torchlinear._threads import single_threaded
from torchlinear.exact._linalg import EPS
from torchlinear.exact.diagnostics import (
    WARN_ABOVE,
    IllConditionedWarning,
    RankDeficientWarning,
)
from torchlinear.exact.driver import LOCAL, Combine, lstsq, solve_exact
from torchlinear.exact.refine import polish, refine, residual_moments
from torchlinear.exact.solution import (
    POLISH_MAX_ELEMENTS,
    RCOND_CHOLESKY,
    REFINE_ABOVE,
    LstsqSolution,
)
from torchlinear.exact.stats import (
    GramStats,
    TSQRStats,
    default_chunk_rows,
    gram_chunk_rows,
    gram_pass,
    tsqr_pass,
)

__all__ = [
    "EPS",
    "LOCAL",
    "POLISH_MAX_ELEMENTS",
    "RCOND_CHOLESKY",
    "REFINE_ABOVE",
    "WARN_ABOVE",
    "Combine",
    "GramStats",
    "IllConditionedWarning",
    "LstsqSolution",
    "RankDeficientWarning",
    "TSQRStats",
    "default_chunk_rows",
    "gram_chunk_rows",
    "gram_pass",
    "lstsq",
    "polish",
    "refine",
    "residual_moments",
    "single_threaded",
    "solve_exact",
    "tsqr_pass",
]
