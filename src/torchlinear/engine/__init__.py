r"""The one minibatch training loop every gradient-fitted model uses.

One epoch, whatever the data source:

.. math::

    \text{for each batch } \mathcal B: \quad
    \theta \leftarrow \operatorname{step}\Big(\theta,\ \nabla_\theta \big[
        \ell_{\mathcal B}(\theta) + P_{\text{smooth}}(\theta) \big]\Big), \qquad
    w \leftarrow \operatorname{prox}_{\eta \alpha\rho\|\cdot\|_1}(w)

then the validation loss, the learning-rate schedule, early stopping and a checkpoint.

Data sources
------------
* **tensors** ``(X, y)`` or ``(X, y, sample_weight)``: moved to the device once and batched
  by indexing with a shuffled permutation (:func:`~torchlinear.data.batching.iter_batches`)
  — no per-sample ``__getitem__`` and no collate on the hot path;
* a **map-style** :class:`torch.utils.data.Dataset` whose items are ``(x, y)`` or
  ``(x, y, w)``: batched by a :class:`~torch.utils.data.DataLoader` whose sampler draws the
  same permutations as the tensor path, so both see the same batches for the same seed
  (a plain ``TensorDataset`` is unwrapped and takes the tensor path);
* a :class:`~torch.utils.data.DataLoader` you built: used as it is;
* a **chunk source**: a callable returning a fresh iterator of ``(X_chunk, y_chunk)`` (or
  with weights) each time it is called — for data streamed from disk. Each chunk is
  shuffled and batched on its own.

Validation data is held out by the one split rule of the library (``val_split``;
:func:`torchlinear.data.split.holdout_mask`, a keyed hash of the row index, so the same rows
whether the data are tensors, a dataset or chunks of any size) or given as ``val_data`` in
any of the forms above.

Stopping and recovery
---------------------
* Convergence (``tol``): the training loss has not improved on its best by more than
  ``tol`` (relative) for ``n_iter_no_change`` epochs. With minibatches of SGD or Adam a
  fixed learning rate stalls at a noise floor above the optimum (the steps follow noisy
  gradients), so the first three such plateaus divide the learning rate by 10 instead
  (``History.lr_drops`` records after which epochs); a plateau at the thousandth of the
  starting rate, or after a drop that no longer lowered the loss by more than ``tol``,
  stops the run as ``"converged"``. Full-batch steps and L-BFGS have no such noise:
  their first plateau is convergence.
* Divergence: a batch loss that is NaN/inf or above ``divergence_factor`` times the first
  loss raises :class:`DivergenceError` (a ``ValueError``) suggesting a tenth of the
  learning rate; the model keeps its last finite parameters. A NaN/inf loss that comes
  from NaN or inf in the data (training or validation) raises a ``ValueError`` naming the
  array and the first such row instead: no learning rate would help.
* Ctrl-C: the current batch finishes, a checkpoint is written (if ``checkpoint`` is set)
  and :func:`train` *returns* the history with ``stop_reason == "interrupted"``. A second
  Ctrl-C raises ``KeyboardInterrupt`` at once.
* Resume: a checkpoint holds the model, the optimizer and scheduler states, the position
  inside the epoch, the random-generator states and the history, so
  ``resume=True`` continues to exactly the parameters an uninterrupted run reaches.
"""

from __future__ import annotations

from torchlinear.engine.callbacks import Callback
from torchlinear.engine.config import DivergenceError, History, TrainConfig
from torchlinear.engine.evaluation import evaluate
from torchlinear.engine.loop import train
from torchlinear.engine.metrics import METRICS

__all__ = [
    "Callback",
    "DivergenceError",
    "History",
    "METRICS",
    "TrainConfig",
    "evaluate",
    "train",
]
