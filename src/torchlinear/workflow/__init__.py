r"""Fit, predict, evaluate and describe models on the user's own data: what the CLI runs.

Every ``torchlinear`` command is one function here; the command line only parses its
arguments and prints what these return.

:func:`fit`
    Data (a CSV or Parquet file, a built-in dataset name or a
    :class:`~torchlinear.data.tabular.TabularSource`) and a target column in; a folder out
    with the model files (safetensors weights and a JSON sidecar), ``metrics.json`` and
    ``report.md`` with its figures.
:func:`predict`, :func:`evaluate`, :func:`model_summary`, :func:`summary_json`
    Use a saved model on new data (with intervals and kept ID columns), score it,
    describe it (as text, or the statistical summary as JSON).
:func:`save_estimator`, :func:`load_estimator`
    Persist any fitted torchlinear estimator; loading never unpickles.

How a fit runs
--------------
*Least squares* (regression, ``model="linear"``, squared loss, no L1 penalty, solver
``"auto"`` or ``"exact"``) is always streamed: one pass over the data in chunks
accumulates the sufficient statistics (:class:`~torchlinear.exact.GramStats`, float64),
then a Cholesky solve; should the centred, scaled design be ill-conditioned
(:math:`\kappa > 10^5`), a second pass accumulates a tall-skinny QR instead. Memory is
O(chunk + d²) whatever the number of rows, so a file larger than memory is fitted exactly.
The training metrics (R², MSE, RMSE) come from the same statistics, and so do the
validation metrics, from a second set of statistics of the held-out rows.

*Gradient training* (robust losses, L1 penalties, softmax and MLP models, or an explicit
``"sgd"``/``"adam"``/``"lbfgs"`` solver) loads the data into memory when it is small
enough (``memory_limit``) and otherwise streams every epoch from the file; per-epoch
training and validation losses, early stopping (``patience``), checkpoints and
``resume`` come from :func:`torchlinear.engine.train`. Softmax regression with the
``"auto"`` solver on data in memory is fitted by full-batch L-BFGS
(:class:`~torchlinear.estimators.SoftmaxRegression`).

Parameters mean what they mean on the estimators: ``alpha`` is
:class:`~torchlinear.estimators.LinearRegression`'s penalty for linear regression (on
the *sum* of the losses, as in scikit-learn's ``Ridge``/``HuberRegressor``), and the
penalty added to the *mean* loss for softmax regression and the MLP.

The validation split
--------------------
With ``val_split = f``, row :math:`i` (counted from 0 over the rows that are used, in file
order, after ``drop_na``) is held out when :math:`u(s, i) < f`, where :math:`u` is the
SplitMix64 hash of :math:`i` keyed by the seed :math:`s`, read as a number in
:math:`[0, 1)` (:func:`holdout_mask`). The held-out rows are therefore the same however
the data is read (chunk size, streamed or in memory) and in every epoch, and about a
fraction :math:`f` of the rows. The image datasets (digits, mnist, fashion-mnist,
cifar10) come with a test split, which is the validation data unless ``val_split`` is
given.
"""

from __future__ import annotations

from torchlinear.data.split import holdout_mask
from torchlinear.estimators.persist import MODEL_KIND, load_estimator, save_estimator
from torchlinear.workflow.fitting import fit, join_group
from torchlinear.workflow.settings import FitResult, TrainingInterrupted
from torchlinear.workflow.summary import model_summary, summary_json
from torchlinear.workflow.use import PredictResult, evaluate, predict

__all__ = [
    "MODEL_KIND",
    "FitResult",
    "PredictResult",
    "TrainingInterrupted",
    "evaluate",
    "fit",
    "holdout_mask",
    "join_group",
    "load_estimator",
    "model_summary",
    "predict",
    "save_estimator",
    "summary_json",
]
