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

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from torchlinear._format import format_seconds
from torchlinear._memory import check_memory
from torchlinear._validation import (
    ParameterError,
    check_nonnegative_float,
    check_output_dir,
    check_positive_int,
    check_real,
    check_seed,
    resolve_device,
)
from torchlinear.concise.linreg import half_mse, linreg_net, train_concise
from torchlinear.data.synthetic import check_label_scale, synthetic_regression
from torchlinear.demos.common import (
    check_step,
    timed,
    warm_up,
    write_run,
)
from torchlinear.demos.defaults import LINREG_DEFAULTS
from torchlinear.plots.landscape import loss_contours
from torchlinear.plots.regression import loss_curves, scatter_fits
from torchlinear.rundir import default_run_dir
from torchlinear.scratch import NonFiniteLossWarning
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
    """Return ``<root>/demo-<YYYYmmdd-HHMMSS>`` (not created), the default folder.

    The demo writes there, or, when a run in the same second already took the name, to
    the first free of ``...-2``, ``...-3``, … (chosen under the folder's lock).

    Examples
    --------
    >>> default_out_dir("runs").name.startswith("demo-")
    True
    """
    return default_run_dir("demo", root)


def _check_weights(w: Any) -> list[float]:
    if isinstance(w, (str, bytes)) or not isinstance(w, (Sequence, torch.Tensor)):
        raise ParameterError("w", "{param} must be a sequence of numbers, got {value!r}", value=w)
    values = torch.as_tensor(w).reshape(-1).tolist() if isinstance(w, torch.Tensor) else list(w)
    if not values:
        raise ParameterError("w", "{param} must hold at least one weight, got an empty sequence")
    return [check_real("w", v, "a sequence of finite numbers") for v in values]


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
    settings = _check_settings(
        n=n, w=w, b=b, noise=noise, lr=lr, batch_size=batch_size, epochs=epochs, seed=seed,
        device=device,
    )  # fmt: skip
    out_dir = check_output_dir("out", out if out is not None else default_out_dir())
    fresh = out is None
    n, d = settings["n"], len(settings["w"])
    check_memory(  # the data, the fits' copies of it (float64 for the exact one), the figures
        48 * n * (d + 1),
        f"{n:,} examples x {d:,} features",
        "the demo's data, its copies and figures",
        advice="ask for fewer examples ({n})",
    )
    dev = torch.device(settings["device"])
    w_true, b_true, seed = settings["w"], settings["b"], settings["seed"]

    X, y, _, _ = synthetic_regression(w_true, b_true, settings["n"], noise=settings["noise"],
                                      seed=seed)  # fmt: skip
    X, y = X.to(dev), y.to(dev)
    w0, b0 = init_params(X.shape[1], generator=torch.Generator().manual_seed(seed + 1), device=dev)
    warm_up()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonFiniteLossWarning)
        fitted, losses = _fit_three_ways(X, y, w0, b0, settings, progress)
    for said in caught:  # passed on; a trainer that warned is not warned about again below
        warnings.warn_explicit(said.message, said.category, said.filename, said.lineno)
    warned = {str(m.message).split()[0] for m in caught if m.category is NonFiniteLossWarning}
    with torch.no_grad():  # the loss at the common starting point
        initial = float(half_mse(X @ w0.detach() + b0.detach(), y))
    rows = _table(fitted, X, y, w_true, b_true, initial, settings["lr"], warned)
    losses = {method: [initial, *values] for method, values in losses.items()}

    # the figures, written only now
    figures = {
        "scatter.png": scatter_fits(
            X, y, {row.method: (row.w, row.b) for row in rows}, true_params=(w_true, b_true)
        ),
        "loss.png": loss_curves(losses, reference=rows[-1].final_loss),
    }
    if X.shape[1] == 2:  # the loss surface over (w1, w2), with GD and SGD paths on it
        figures["contours.png"] = loss_contours(X, y, lr=settings["lr"], seed=seed)
    record = {"settings": settings, "rows": [asdict(row) for row in rows], "losses": losses}
    out_dir, paths = write_run(out_dir, figures, 110, record, fresh=fresh)
    return LinregDemoResult(
        rows=rows,
        losses=losses,
        true_w=w_true,
        true_b=b_true,
        figures=paths,
        out_dir=out_dir,
        settings=settings,
    )


def _check_settings(**given: Any) -> dict[str, Any]:
    """Every argument checked before anything runs (a fresh seed drawn for ``None``), as
    the run records them."""
    n, w = check_positive_int("n", given["n"]), _check_weights(given["w"])
    b = check_real("b", given["b"], "a finite number")
    noise = check_nonnegative_float("noise", given["noise"])
    # the training sums the squared errors of the n examples in float32
    limit = float(f"{math.sqrt(torch.finfo(torch.float32).max / n) / 10:.1g}")
    check_label_scale(
        w, b, noise, limit, f"whose squares, summed over {n:,} examples, overflow float32"
    )
    return {
        "n": n,
        "w": w,
        "b": b,
        "noise": noise,
        "lr": check_step(given["lr"]),
        "batch_size": check_positive_int("batch_size", given["batch_size"]),
        "epochs": check_positive_int("epochs", given["epochs"]),
        "seed": check_seed("seed", given["seed"]),
        "device": str(resolve_device(given["device"])),
    }


def _fit_three_ways(
    X: torch.Tensor,
    y: torch.Tensor,
    w0: torch.Tensor,
    b0: torch.Tensor,
    settings: dict[str, Any],
    progress: bool,
) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor, float]], dict[str, list[float]]]:
    """Scratch and concise from the same start ``(w0, b0)``, and the closed form: each
    method's fitted ``(w, b, seconds)``, and the per-epoch losses of the two trained ones."""
    dev, seed = X.device, settings["seed"]
    lr, batch_size, epochs = settings["lr"], settings["batch_size"], settings["epochs"]
    w_s, b_s = w0.detach().clone().requires_grad_(True), b0.detach().clone().requires_grad_(True)
    losses_s, time_s = timed(dev, lambda: train(
        X, y, w_s, b_s, lr=lr, batch_size=batch_size, epochs=epochs,
        generator=torch.Generator().manual_seed(seed + 2), progress=progress,
    ))  # fmt: skip
    net = linreg_net(X.shape[1], device=dev)
    with torch.no_grad():
        net[0].weight.copy_(w0.reshape(1, -1))
        net[0].bias.copy_(b0)
    losses_c, time_c = timed(dev, lambda: train_concise(
        net, X, y, lr=lr, batch_size=batch_size, epochs=epochs,
        generator=torch.Generator().manual_seed(seed + 3), progress=progress,
    ))  # fmt: skip
    (w_e, b_e), time_e = timed(dev, lambda: closed_form(X, y))
    fitted = {
        "scratch": (w_s.detach().reshape(-1), b_s.detach().reshape(()), time_s),
        "concise": (net[0].weight.detach().reshape(-1), net[0].bias.detach().reshape(()), time_c),
        "exact": (w_e, b_e, time_e),
    }
    return fitted, {"scratch": losses_s, "concise": losses_c}


_RISE = 0.1  # a trained loss this far above its start has diverged


def _table(
    fitted: dict[str, tuple[torch.Tensor, torch.Tensor, float]],
    X: torch.Tensor,
    y: torch.Tensor,
    w_true: list[float],
    b_true: float,
    initial: float,
    lr: float,
    warned: set[str],
) -> list[DemoRow]:
    """One row per method: its parameters, their errors, its loss (in float64) and time.
    A trained method whose loss ended more than 10% above its start (or not finite) is
    warned about, unless its trainer has already said so (the methods in ``warned``)."""
    X64, y64 = X.double(), y.double()
    w_star = torch.tensor(w_true, dtype=torch.float64, device=X.device)
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
    # clearly above its start: where the noise dominates, the start is already close to
    # the least loss there is, and minibatch SGD ends a little above or below it
    bound = initial * (1 + _RISE)
    for row in rows[:-1]:
        if row.method not in warned and not (
            math.isfinite(row.final_loss) and row.final_loss <= bound
        ):
            warnings.warn(
                f"{row.method} diverged (loss {initial:.3g} before training, "
                f"{row.final_loss:.3g} after); try a smaller lr than {lr:g}",
                RuntimeWarning,
                stacklevel=3,
            )
    return rows
