"""What the demos share: a fresh run folder, timing on a device, writing the figures and
the record of a run (each file atomically)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch

from torchlinear._validation import ParameterError, check_positive_float
from torchlinear.io import atomic_write
from torchlinear.rundir import DemoFolder

__all__ = [
    "check_step",
    "sync",
    "timed",
    "warm_up",
    "write_run",
]

_MAX_STEP = float(torch.finfo(torch.float32).max)  # the parameters are float32


def check_step(lr: Any) -> float:
    """The learning rate, refused unless > 0 and small enough to apply to float32
    parameters (a larger step overflows before the first update)."""
    lr = check_positive_float("lr", lr)
    if lr >= _MAX_STEP:
        raise ParameterError(
            "lr", "{param} must be below 3.4e38 (the float32 parameters), got {value!r}", value=lr
        )
    return lr


T = TypeVar("T")


def warm_up() -> None:
    """Pay one-time costs (``torch.optim`` imports its compiler on first use) up front.

    Without this the first optimiser built in the process would add about a second to the
    time of the first fit that builds one.
    """
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so that a clock read
    next measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work: Callable[[], T]) -> tuple[T, float]:
    """``work()`` and its wall time in seconds, the device synchronised on both sides.

    Examples
    --------
    >>> value, seconds = timed(torch.device("cpu"), lambda: 6 * 7)
    >>> value, seconds >= 0
    (42, True)
    """
    sync(device)
    start = time.perf_counter()
    value = work()
    sync(device)
    return value, time.perf_counter() - start


#: Every file a demo writes (either demo may reuse a folder the other wrote).
DEMO_FILES = frozenset(
    {
        "results.json",
        "scatter.png",
        "loss.png",
        "contours.png",
        "training_curves.png",
        "confusion_matrix.png",
        "misclassified.png",
        "weight_templates.png",
    }
)


def write_run(
    out_dir: Path,
    figures: Mapping[str, Any],
    dpi: int,
    record: Mapping[str, Any],
    *,
    fresh: bool = False,
) -> tuple[Path, list[Path]]:
    """Write a demo's figures (PNGs named by their keys) and ``results.json`` (``record``
    with the figures' names) as one folder: staged beside ``out_dir`` under a lock, then
    swapped into place, so that it holds one whole run (a demo's earlier one is replaced,
    any other non-empty folder refused). ``fresh``: ``out_dir`` is a default name, made
    unique (``-2``, ``-3``, ...) if another run took it. Returns the folder written and
    the figures' paths."""
    with DemoFolder(out_dir, DEMO_FILES, fresh=fresh) as folder:
        for name, figure in figures.items():
            with atomic_write(folder.staging / name, "wb") as handle:
                figure.savefig(handle, format="png", dpi=dpi)
        with atomic_write(folder.staging / "results.json") as handle:
            json.dump({**record, "figures": list(figures)}, handle, indent=2)
        folder.commit()
    return folder.path, [folder.path / name for name in figures]
