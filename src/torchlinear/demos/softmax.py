r"""The softmax-regression demo: one image data set, classified three ways.

:func:`run_softmax_demo` splits scikit-learn's bundled 8 × 8 digit images into stratified
train and test sets (fixed seed), fits softmax regression

* **scratch**: :func:`torchlinear.scratch.softmax.train` (hand-written model, the fused
  log-sum-exp cross-entropy, SGD, index batches);
* **concise**: :func:`torchlinear.concise.softmax.train_softmax_concise`
  (``nn.Flatten`` + ``nn.Linear``, ``nn.CrossEntropyLoss``, ``torch.optim.SGD``,
  ``DataLoader``);
* **SoftmaxRegression (lbfgs)**: :class:`torchlinear.SoftmaxRegression`, full-batch
  L-BFGS on the L2-penalised cross-entropy;

times each fit, and writes four figures: the loss and accuracy per epoch of scratch and
concise (training and test split), the confusion matrix and the most telling test images
(misclassified first) of ``SoftmaxRegression``, and its per-class weight templates. It
prints nothing; the command line prints the returned :class:`SoftmaxDemoResult`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from threadpoolctl import threadpool_limits

from torchlinear._format import format_seconds
from torchlinear._validation import (
    check_fraction,
    check_nonnegative_float,
    check_output_dir,
    check_positive_int,
    check_seed,
    resolve_device,
)
from torchlinear.concise.softmax import evaluate_net, softmax_net, train_softmax_concise
from torchlinear.datasets import digits
from torchlinear.demos.common import (
    check_step,
    timed,
    warm_up,
    write_run,
)
from torchlinear.demos.defaults import SOFTMAX_DEFAULTS
from torchlinear.estimators.softmax import SoftmaxRegression
from torchlinear.plots.classification import (
    confusion_matrix_figure,
    image_grid,
    training_curves,
    weight_templates,
)
from torchlinear.rundir import default_run_dir
from torchlinear.scratch.softmax import evaluate, train

__all__ = ["SOFTMAX_DEFAULTS", "SoftmaxDemoRow", "SoftmaxDemoResult", "run_softmax_demo"]


@dataclass(frozen=True)
class SoftmaxDemoRow:
    """One method's line in the demo's table."""

    method: str
    test_accuracy: float
    train_accuracy: float
    test_loss: float
    """Mean cross-entropy on the test split."""
    seconds: float
    """Wall time of the fit."""


@dataclass
class SoftmaxDemoResult:
    """Everything the demo computed and wrote."""

    rows: list[SoftmaxDemoRow]
    histories: dict[str, dict[str, list[float]]]
    """Per-epoch ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (the test split)
    of scratch and concise."""
    figures: list[Path]
    out_dir: Path
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and formatted cells: ``method | test accuracy | time``."""
        headers = ["method", "test accuracy", "time"]
        cells = [
            [row.method, f"{row.test_accuracy:.4f}", format_seconds(row.seconds)]
            for row in self.rows
        ]
        return headers, cells


def _default_out_dir(root: str = "runs") -> Path:
    return default_run_dir("softmax", root)


def run_softmax_demo(
    *,
    epochs: int = SOFTMAX_DEFAULTS["epochs"],
    lr: float = SOFTMAX_DEFAULTS["lr"],
    batch_size: int = SOFTMAX_DEFAULTS["batch_size"],
    alpha: float = SOFTMAX_DEFAULTS["alpha"],
    test_size: float = SOFTMAX_DEFAULTS["test_size"],
    seed: int | None = SOFTMAX_DEFAULTS["seed"],
    out: str | os.PathLike[str] | None = None,
    device: str | torch.device = SOFTMAX_DEFAULTS["device"],
    progress: bool = False,
) -> SoftmaxDemoResult:
    """Classify the digits from scratch, concisely and with ``SoftmaxRegression``.

    Every argument is checked before anything runs; the output folder is created only
    after the fits, and every file is written atomically. The problem is small (1,797
    images of 64 pixels), so on the CPU the fits run on one thread, where extra threads
    would only add synchronisation.

    Parameters
    ----------
    epochs, lr, batch_size : int, float, int
        Minibatch SGD settings of scratch and concise (default 20, 0.3 and 32: on 1,347
        training images the textbook's batch of 256 would give too few steps).
    alpha : float, default 1e-4
        L2 penalty of ``SoftmaxRegression`` (on the mean loss).
    test_size : float, default 0.25
        Held-out fraction, split stratified by class.
    seed : int or None, default 0
        Seeds the split, the initial weights and the shuffles; ``None`` draws one
        (recorded in ``settings``).
    out : path, optional
        Folder for the figures and ``results.json``; by default a new
        ``./runs/softmax-<timestamp>/``.
    device : str, default "cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    progress : bool, default False
        Progress bars for scratch and concise.

    Returns
    -------
    SoftmaxDemoResult

    Examples
    --------
    >>> import tempfile
    >>> result = run_softmax_demo(out=tempfile.mkdtemp(), epochs=5)
    >>> [row.method for row in result.rows]
    ['scratch', 'concise', 'SoftmaxRegression (lbfgs)']
    >>> sorted(path.name for path in result.figures)[:2]
    ['confusion_matrix.png', 'misclassified.png']
    """
    epochs = check_positive_int("epochs", epochs)
    lr = check_step(lr)
    batch_size = check_positive_int("batch_size", batch_size)
    alpha = check_nonnegative_float("alpha", alpha)
    test_size = check_fraction("test_size", test_size, inclusive_low=False)
    seed = check_seed("seed", seed)
    dev = resolve_device(device)
    out_dir = check_output_dir("out", out if out is not None else _default_out_dir())
    fresh = out is None
    settings = {
        "data": "digits (8x8, scikit-learn)",
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "alpha": alpha,
        "test_size": test_size,
        "seed": seed,
        "device": str(dev),
    }

    data = digits(test_size=test_size, seed=seed)
    warm_up()
    limit = threadpool_limits(limits=1) if dev.type == "cpu" else None
    try:
        scratch_row, scratch_history = _fit_scratch(data, dev, settings, progress)
        concise_row, concise_history = _fit_concise(data, dev, settings, progress)
        clf, lbfgs_row = _fit_lbfgs(data, dev, alpha)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    rows = [scratch_row, concise_row, lbfgs_row]
    histories = {"scratch": scratch_history, "concise": concise_history}

    # figures, written only now that every fit has succeeded
    record = {"settings": settings, "rows": [asdict(row) for row in rows], "histories": histories}
    out_dir, paths = write_run(out_dir, _figures(data, histories, clf), 100, record, fresh=fresh)
    return SoftmaxDemoResult(rows, histories, paths, out_dir, settings)


def _fit_scratch(
    data: Any, dev: torch.device, settings: dict[str, Any], progress: bool
) -> tuple[SoftmaxDemoRow, dict[str, list[float]]]:
    """The hand-written model, trained by minibatch SGD; its row and history."""
    X_train, y_train = data.X_train.to(dev), data.y_train.to(dev)
    X_test, y_test = data.X_test.to(dev), data.y_test.to(dev)
    fit, seconds = timed(dev, lambda: train(
        X_train, y_train, X_test, y_test, num_classes=len(data.classes),
        epochs=settings["epochs"], lr=settings["lr"], batch_size=settings["batch_size"],
        seed=settings["seed"], progress=progress,
    ))  # fmt: skip
    test_loss, test_acc = evaluate(fit.W, fit.b, X_test, y_test)
    row = SoftmaxDemoRow("scratch", test_acc, fit.history["train_acc"][-1], test_loss, seconds)
    return row, fit.history


def _fit_concise(
    data: Any, dev: torch.device, settings: dict[str, Any], progress: bool
) -> tuple[SoftmaxDemoRow, dict[str, list[float]]]:
    """``nn.Flatten`` + ``nn.Linear`` trained by ``torch.optim.SGD``; its row and history."""
    X_train, y_train = data.X_train.to(dev), data.y_train.to(dev)
    X_test, y_test = data.X_test.to(dev), data.y_test.to(dev)
    seed = settings["seed"]
    net = softmax_net(
        X_train[0].numel(), len(data.classes), generator=torch.Generator().manual_seed(seed),
        device=dev,
    )  # fmt: skip
    concise, seconds = timed(dev, lambda: train_softmax_concise(
        net, X_train, y_train, X_test, y_test, lr=settings["lr"],
        batch_size=settings["batch_size"], epochs=settings["epochs"],
        generator=torch.Generator().manual_seed(seed), progress=progress,
    ))  # fmt: skip
    test_loss, test_acc = evaluate_net(net, X_test, y_test)
    train_acc = concise.history["train_acc"][-1]
    return SoftmaxDemoRow("concise", test_acc, train_acc, test_loss, seconds), concise.history


def _fit_lbfgs(
    data: Any, dev: torch.device, alpha: float
) -> tuple[SoftmaxRegression, SoftmaxDemoRow]:
    """:class:`SoftmaxRegression` by full-batch L-BFGS; the fitted model and its row."""
    flat_train, flat_test = _flat(data.X_train.to(dev)), _flat(data.X_test.to(dev))
    y_train, y_test = data.y_train.cpu().numpy(), data.y_test.cpu()
    clf = SoftmaxRegression(alpha=alpha, solver="lbfgs", device=str(dev))
    _, seconds = timed(dev, lambda: clf.fit(flat_train, y_train))
    proba = torch.from_numpy(clf.predict_proba(flat_test))
    test_loss = float(-torch.log(proba[torch.arange(len(y_test)), y_test]).mean())
    train_acc = clf.score(flat_train, y_train)
    test_acc = clf.score(flat_test, y_test.numpy())
    return clf, SoftmaxDemoRow("SoftmaxRegression (lbfgs)", test_acc, train_acc, test_loss, seconds)


def _flat(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(len(images), -1)


def _figures(data: Any, histories: dict[str, Any], clf: SoftmaxRegression) -> dict[str, Any]:
    """The training curves of scratch and concise; the confusion matrix, the most telling
    test images and the weight templates of ``SoftmaxRegression``."""
    y_test = data.y_test.cpu()
    y_pred = clf.predict(_flat(data.X_test.to(clf.device)))
    model = f"SoftmaxRegression ({clf.solver_})"
    return {
        "training_curves.png": training_curves(
            histories, title="Digits: scratch and concise (validation = test split)"
        ),
        "confusion_matrix.png": confusion_matrix_figure(
            y_test, y_pred, class_names=data.classes, title=f"{model}, test split"
        ),
        "misclassified.png": image_grid(
            data.X_test.cpu(), y_test, y_pred, class_names=data.classes, n_images=24, title=model
        ),
        "weight_templates.png": weight_templates(
            clf.coef_, data.image_shape, class_names=data.classes, title=model
        ),
    }
