r"""The linear-regression demo: one problem, solved from scratch, concisely and exactly.

:func:`run_linreg_demo` draws the textbook data :math:`y = Xw + b + \varepsilon`, fits it
three ways from the same starting point —

* **scratch**: :func:`torchlinear.scratch.train` (hand-written model, loss, SGD, batches);
* **concise**: :func:`torchlinear.concise.train_concise` (``nn.Linear``, ``nn.MSELoss``,
  ``torch.optim.SGD``, ``DataLoader``);
* **exact**: :func:`torchlinear.scratch.closed_form` (least squares, no iterations);

— and returns a :class:`LinregDemoResult` with one table row per method, the loss per
epoch and the figures it wrote. It prints nothing; the command line prints the result.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from torchlinear._format import format_seconds
from torchlinear._validation import (
    ParameterError,
    _as_real,
    check_nonnegative_float,
    check_output_dir,
    check_positive_float,
    check_positive_int,
    check_seed,
    resolve_device,
)
from torchlinear.concise.linreg import half_mse, linreg_net, train_concise
from torchlinear.data.synthetic import synthetic_regression
from torchlinear.demos.defaults import LINREG_DEFAULTS
from torchlinear.io import atomic_write, ensure_writable_dir
from torchlinear.scratch.linreg import closed_form, init_params, train

__all__ = ["DemoRow", "LinregDemoResult", "run_linreg_demo", "default_out_dir", "DEFAULTS"]

DEFAULTS = LINREG_DEFAULTS
"""The demo's default arguments (the textbook problem), by name."""


@dataclass(frozen=True)
class DemoRow:
    """One method's line in the demo's table."""

    method: str
    """``"scratch"``, ``"concise"`` or ``"exact"``."""
    w: list[float]
    """Fitted weights."""
    b: float
    """Fitted bias."""
    w_error: float
    """Euclidean distance to the true weights, ``‖w − w*‖``."""
    b_error: float
    """Distance to the true bias, ``|b − b*|``."""
    final_loss: float
    r"""Training loss :math:`\frac1n \sum \tfrac12 (\hat y - y)^2` of the fitted parameters."""
    seconds: float
    """Wall time of the fit (data generation excluded)."""


@dataclass
class LinregDemoResult:
    """Everything the demo computed and wrote."""

    rows: list[DemoRow]
    """One row per method: scratch, concise, exact."""
    losses: dict[str, list[float]]
    """Training loss of scratch and concise, entry 0 before training, then after each epoch."""
    true_w: list[float]
    true_b: float
    figures: list[Path]
    """The PNG files written (the scatter with fitted lines, the loss curves)."""
    out_dir: Path
    """The folder holding the figures and ``results.json``."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The arguments used, including the seed actually drawn when none was given."""

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Return the headers and formatted cells of the results table.

        Columns: ``method | w | b | ‖w − w*‖ | |b − b*| | final loss | time``.
        """
        headers = ["method", "w", "b", "‖w − w*‖", "|b − b*|", "final loss", "time"]
        cells = [
            [
                row.method,
                "[" + ", ".join(f"{v:.4f}" for v in row.w) + "]",
                f"{row.b:.4f}",
                f"{row.w_error:.2e}",
                f"{row.b_error:.2e}",
                f"{row.final_loss:.3e}",
                format_seconds(row.seconds),
            ]
            for row in self.rows
        ]
        return headers, cells


def default_out_dir(root: str | os.PathLike[str] = "runs") -> Path:
    """Return a fresh ``<root>/demo-<YYYYmmdd-HHMMSS>`` path (not created).

    A suffix ``-2``, ``-3``, … is appended when a run in the same second already took the
    name.

    Examples
    --------
    >>> default_out_dir("runs").name.startswith("demo-")
    True
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"demo-{stamp}"
    suffix = 2
    while path.exists():
        path = Path(root) / f"demo-{stamp}-{suffix}"
        suffix += 1
    return path


def _check_weights(w: Any) -> list[float]:
    if isinstance(w, (str, bytes)) or not isinstance(w, (Sequence, torch.Tensor)):
        raise ParameterError("w", "{param} must be a sequence of numbers, got {value!r}", value=w)
    values = torch.as_tensor(w).reshape(-1).tolist() if isinstance(w, torch.Tensor) else list(w)
    if not values:
        raise ParameterError("w", "{param} must hold at least one weight, got an empty sequence")
    return [_as_real("w", v, "a sequence of finite numbers") for v in values]


def _warm_up() -> None:
    """Pay one-time costs (``torch.optim`` imports its compiler on first use) up front.

    Without this the first optimiser built in the process would add about a second to the
    concise fit's time column.
    """
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_linreg_demo(
    *,
    n: int = DEFAULTS["n"],
    w: Sequence[float] = DEFAULTS["w"],
    b: float = DEFAULTS["b"],
    noise: float = DEFAULTS["noise"],
    lr: float = DEFAULTS["lr"],
    batch_size: int = DEFAULTS["batch_size"],
    epochs: int = DEFAULTS["epochs"],
    seed: int | None = DEFAULTS["seed"],
    out: str | os.PathLike[str] | None = None,
    device: str | torch.device = DEFAULTS["device"],
    progress: bool = False,
) -> LinregDemoResult:
    r"""Solve the textbook's linear regression three ways and write the figures.

    The defaults are the textbook problem: :math:`w^* = (2, -3.4)`, :math:`b^* = 4.2`,
    1000 examples with noise 0.01, learning rate 0.03, batches of 10, three epochs.
    Scratch and concise start from the same initial parameters (their batch orders differ:
    the concise one comes from a ``DataLoader``).

    Every argument is checked before anything runs or is written; the output folder is
    created only once the fits are done, and every file in it is written atomically.

    Parameters
    ----------
    n : int, default 1000
        Number of examples, >= 1.
    w : sequence of float, default (2.0, -3.4)
        True weights (their count is the number of features).
    b : float, default 4.2
        True bias.
    noise : float, default 0.01
        Standard deviation of the label noise, >= 0.
    lr : float, default 0.03
        Learning rate of scratch and concise, > 0.
    batch_size : int, default 10
        Minibatch size, >= 1.
    epochs : int, default 3
        Passes over the data, >= 1.
    seed : int or None, default 0
        Seeds the data, the initial parameters and the shuffles; ``None`` draws a fresh seed
        (recorded in ``settings``).
    out : path, optional
        Folder for the figures; by default a new ``./runs/demo-<timestamp>/``.
    device : str or torch.device, default "cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    progress : bool, default False
        Show a progress bar per epoch (on stderr) with the current loss.

    Returns
    -------
    LinregDemoResult

    Raises
    ------
    ValueError
        Naming the argument and the value, for any argument out of range or an ``out``
        that is a file or not writable.

    Examples
    --------
    >>> import tempfile
    >>> result = run_linreg_demo(out=tempfile.mkdtemp())
    >>> [row.method for row in result.rows]
    ['scratch', 'concise', 'exact']
    >>> all(row.w_error < 0.01 and row.b_error < 0.01 for row in result.rows)
    True
    """
    # --- validate everything before doing anything ---
    n = check_positive_int("n", n)
    w_true = _check_weights(w)
    b_true = _as_real("b", b, "a finite number")
    noise = check_nonnegative_float("noise", noise)
    lr = check_positive_float("lr", lr)
    batch_size = check_positive_int("batch_size", batch_size)
    epochs = check_positive_int("epochs", epochs)
    seed = check_seed("seed", seed)
    dev = resolve_device(device)
    out_dir = check_output_dir("out", out if out is not None else default_out_dir())
    settings = {
        "n": n,
        "w": w_true,
        "b": b_true,
        "noise": noise,
        "lr": lr,
        "batch_size": batch_size,
        "epochs": epochs,
        "seed": seed,
        "device": str(dev),
    }

    # --- the data and a common starting point ---
    X, y, _, _ = synthetic_regression(w_true, b_true, n, noise=noise, seed=seed)
    X, y = X.to(dev), y.to(dev)
    d = X.shape[1]
    w0, b0 = init_params(d, generator=torch.Generator().manual_seed(seed + 1), device=dev)

    def start_loss(w_start: torch.Tensor, b_start: torch.Tensor) -> float:
        with torch.no_grad():
            return float(half_mse(X @ w_start + b_start, y))

    _warm_up()

    # --- scratch ---
    w_s, b_s = w0.detach().clone().requires_grad_(True), b0.detach().clone().requires_grad_(True)
    _sync(dev)
    t0 = time.perf_counter()
    losses_s = train(
        X,
        y,
        w_s,
        b_s,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        generator=torch.Generator().manual_seed(seed + 2),
        progress=progress,
    )
    _sync(dev)
    time_s = time.perf_counter() - t0

    # --- concise ---
    net = linreg_net(d, device=dev)
    with torch.no_grad():
        net[0].weight.copy_(w0.reshape(1, -1))
        net[0].bias.copy_(b0)
    _sync(dev)
    t0 = time.perf_counter()
    losses_c = train_concise(
        net,
        X,
        y,
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        generator=torch.Generator().manual_seed(seed + 3),
        progress=progress,
    )
    _sync(dev)
    time_c = time.perf_counter() - t0

    # --- exact ---
    _sync(dev)
    t0 = time.perf_counter()
    w_e, b_e = closed_form(X, y)
    _sync(dev)
    time_e = time.perf_counter() - t0

    # --- the table ---
    initial = start_loss(w0.detach(), b0.detach())
    X64, y64 = X.double(), y.double()
    w_star = torch.tensor(w_true, dtype=torch.float64, device=dev)
    fitted = {
        "scratch": (w_s.detach().reshape(-1), b_s.detach().reshape(()), time_s),
        "concise": (net[0].weight.detach().reshape(-1), net[0].bias.detach().reshape(()), time_c),
        "exact": (w_e, b_e, time_e),
    }
    rows = []
    for method, (w_fit, b_fit, seconds) in fitted.items():
        w_fit, b_fit = w_fit.double(), b_fit.double()
        loss = float(half_mse(X64 @ w_fit + b_fit, y64))
        rows.append(
            DemoRow(
                method=method,
                w=[float(v) for v in w_fit.cpu()],
                b=float(b_fit),
                w_error=float(torch.linalg.vector_norm(w_fit - w_star)),
                b_error=abs(float(b_fit) - b_true),
                final_loss=loss,
                seconds=seconds,
            )
        )
        if method != "exact" and not (math.isfinite(loss) and loss <= initial):
            warnings.warn(
                f"{method} diverged (loss {initial:.3g} before training, {loss:.3g} after); "
                f"try a smaller lr than {lr:g}",
                RuntimeWarning,
                stacklevel=2,
            )
    losses = {"scratch": [initial, *losses_s], "concise": [initial, *losses_c]}

    # --- the figures, written only now ---
    from torchlinear.plots.landscape import loss_contours
    from torchlinear.plots.regression import loss_curves, scatter_fits

    ensure_writable_dir(out_dir)
    fits = {row.method: (row.w, row.b) for row in rows}
    figures = {
        "scatter.png": scatter_fits(X, y, fits, true_params=(w_true, b_true)),
        "loss.png": loss_curves(losses, reference=rows[-1].final_loss),
    }
    if X.shape[1] == 2:  # the loss surface over (w1, w2), with GD and SGD paths on it
        figures["contours.png"] = loss_contours(X, y, lr=lr, seed=seed)
    paths = []
    for name, fig in figures.items():
        path = out_dir / name
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110)
        paths.append(path)
    result = LinregDemoResult(
        rows=rows,
        losses=losses,
        true_w=w_true,
        true_b=b_true,
        figures=paths,
        out_dir=out_dir,
        settings=settings,
    )
    record = {
        "settings": settings,
        "rows": [asdict(row) for row in rows],
        "losses": losses,
        "figures": [p.name for p in paths],
    }
    with atomic_write(out_dir / "results.json") as handle:
        json.dump(record, handle, indent=2, allow_nan=True)
    return result
