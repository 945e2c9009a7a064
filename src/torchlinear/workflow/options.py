"""The options of :func:`~torchlinear.workflow.fit`, checked once and gathered in
:class:`~torchlinear.workflow.settings.Options`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from torchlinear._memory import memory_budget
from torchlinear._validation import (
    ParameterError,
    check_fraction,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    resolve_device,
)
from torchlinear.stats import check_cov_type
from torchlinear.workflow.settings import LOSSES, MODELS, SOLVERS, TASKS, Options

if TYPE_CHECKING:
    from torchlinear.data.tabular import Task

T = TypeVar("T")


def check_options(**kw: Any) -> Options:
    """Check every option of :func:`fit` (as keywords) and gather them in :class:`Options`."""
    check_choices(kw)
    alpha, l1_ratios, alphas = check_penalty(kw)
    cv = kw.get("cv", 5)
    if isinstance(cv, bool) or not isinstance(cv, int | np.integer) or cv < 2:
        raise ParameterError(
            "cv", "{param} must be a whole number of folds >= 2, got {value!r}", value=cv
        )
    n_alphas = check_positive_int("n_alphas", kw.get("n_alphas", 100))
    seed = check_nonnegative_int("seed", kw["seed"])
    if seed >= 2**62:
        raise ParameterError("seed", "{param} must be below 2**62, got {value}", value=seed)
    val_split = kw["val_split"]
    if val_split is not None:
        val_split = check_fraction("val_split", val_split)
    if kw["device"] is not None:
        resolve_device(kw["device"])
    cov_type = check_cov_type(kw.get("cov_type", "nonrobust"))
    positive = kw.get("positive", False)
    if not isinstance(positive, bool | np.bool_):
        raise ParameterError(
            "positive", "{param} must be True or False, got {value!r}", value=positive
        )
    return Options(
        target=kw["target"],
        features=kw["features"],
        task=infer_task(kw),
        model=kw["model"],
        loss=kw["loss"],
        solver=kw["solver"],
        alpha=alpha,
        l1_ratio=max(l1_ratios),
        delta=check_positive_float("delta", kw["delta"]),
        hidden=check_positive_int("hidden", kw["hidden"]),
        epochs=optional(check_positive_int, "epochs", kw["epochs"]),
        batch_size=check_positive_int("batch_size", kw["batch_size"]),
        lr=optional(check_positive_float, "lr", kw["lr"]),
        val_split=val_split,
        patience=optional(check_positive_int, "patience", kw["patience"]),
        seed=seed,
        device=kw["device"],
        drop_na=bool(kw["drop_na"]),
        progress=bool(kw["progress"]),
        resume=bool(kw["resume"]),
        stream=kw["stream"],
        memory_limit=memory_budget(kw["memory_limit"]),
        formula=kw.get("formula"),
        weight=kw.get("weight"),
        max_levels=optional(check_positive_int, "max_levels", kw.get("max_levels")),
        overwrite=bool(kw["overwrite"]),
        max_classes=optional(check_positive_int, "max_classes", kw["max_classes"]),
        cov_type=cov_type,
        l1_ratios=l1_ratios,
        cv=int(cv),
        cv_shuffle=bool(kw.get("cv_shuffle", False)),
        alphas=alphas,
        n_alphas=n_alphas,
        positive=bool(positive),
        figures=bool(kw.get("figures", True)),
    )


def optional(check: Callable[[str, Any], T], name: str, value: Any) -> T | None:
    """``None`` stays ``None`` (the default); anything else goes through ``check``."""
    return None if value is None else check(name, value)


def check_choices(kw: dict[str, Any]) -> None:
    """The model, loss, solver and task are among their choices."""
    for name, choices, optional_ in (
        ("model", MODELS, False),
        ("loss", LOSSES, True),
        ("solver", SOLVERS, False),
    ):
        if not (optional_ and kw[name] is None) and kw[name] not in choices:
            raise ParameterError(
                name,
                "{param} must be one of {choices}, got {value!r}",
                value=kw[name],
                choices=", ".join(choices),
            )
    if kw["task"] is not None and kw["task"] not in TASKS:
        raise ParameterError(
            "task",
            "{param} must be 'regression' or 'classification', got {value!r}",
            value=kw["task"],
        )


def infer_task(kw: dict[str, Any]) -> Task | None:
    """The task given, or the one the model or loss implies (``None``: the data decides)."""
    task: Task | None = kw["task"]  # checked against TASKS above
    if task is None and (kw["model"] == "softmax" or kw["loss"] == "ce"):
        return "classification"
    if task is None and kw["loss"] in ("squared", "l1", "huber"):
        return "regression"
    return task


def check_penalty(
    kw: dict[str, Any],
) -> tuple[float | str | None, tuple[float, ...], tuple[float, ...] | None]:
    """``alpha``, the ``l1_ratio`` values and the ``alphas`` grid (several values of
    ``l1_ratio`` and a grid are for ``alpha="cv"`` only)."""
    alpha = check_alpha(kw["alpha"])
    l1_ratios = check_l1_ratios(kw["l1_ratio"])
    if len(l1_ratios) > 1 and alpha != "cv":
        raise ParameterError(
            "l1_ratio",
            "{param} lists {n} values, but only cross-validation chooses among them: add "
            "{0}, or give one value",
            value=kw["l1_ratio"],
            n=len(l1_ratios),
            suggestions=[("alpha", "cv")],
        )
    alphas = check_alpha_grid(kw.get("alphas"))
    if alphas is not None and alpha != "cv":
        raise ParameterError(
            "alphas",
            "{param} is the grid that cross-validation searches; add {0}, or leave out {param}",
            value=kw.get("alphas"),
            suggestions=[("alpha", "cv")],
        )
    _check_search_settings(kw, alpha, alphas)
    return alpha, l1_ratios, alphas


def _check_search_settings(
    kw: dict[str, Any], alpha: float | str | None, alphas: tuple[float, ...] | None
) -> None:
    """Refuse a setting of the cross-validated search (``cv``, ``cv_shuffle``,
    ``n_alphas``) that this fit would ignore: without ``alpha="cv"``, or ``n_alphas``
    beside a given grid. A setting left at its default is never refused."""
    given = {
        "cv": kw.get("cv", 5) != 5,
        "cv_shuffle": kw.get("cv_shuffle", False) is True,
        "n_alphas": kw.get("n_alphas", 100) != 100,
    }
    for name in (n for n, changed in given.items() if changed):
        if alpha != "cv":
            raise ParameterError(
                name,
                "{param} sets the cross-validated search of the penalty, which only "
                "{0} runs; add {0}, or leave out {param}",
                value=kw.get(name),
                suggestions=[("alpha", "cv")],
            )
    if given["n_alphas"] and alphas is not None:
        raise ParameterError(
            "n_alphas",
            "{param} sizes the automatic grid of alphas, but {alphas} gives the grid: leave "
            "out one of them",
            value=kw.get("n_alphas"),
        )


def check_alpha(value: Any) -> float | str | None:
    """``None``, a number >= 0, or ``"cv"`` (also as text, as the command line gives it)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == "cv":
            return "cv"
        try:
            value = float(text)
        except ValueError:
            raise ParameterError(
                "alpha",
                "{param} must be a number >= 0 or 'cv' (choose it by cross-validation), got "
                "{value!r}",
                value=text,
            ) from None
    return check_nonnegative_float("alpha", value)


def _numbers(name: str, value: Any) -> list[Any]:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        out = []
        for p in parts:
            try:
                out.append(float(p))
            except ValueError:
                raise ParameterError(
                    name,
                    "{param} must be a number or comma-separated numbers, got {value!r}",
                    value=value,
                ) from None
        return out
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return [value]


def check_l1_ratios(value: Any) -> tuple[float, ...]:
    """One or more L1 shares, each in [0, 1] (``"0.2,0.5"`` or a sequence)."""
    values = _numbers("l1_ratio", value)
    if not values:
        raise ParameterError("l1_ratio", "{param} is empty; give a value in [0, 1]", value=value)
    out = []
    for v in values:
        r = check_nonnegative_float("l1_ratio", v)
        if r > 1:
            raise ParameterError("l1_ratio", "{param} must lie in [0, 1], got {value!r}", value=v)
        out.append(r)
    return tuple(out)


def check_alpha_grid(value: Any) -> tuple[float, ...] | None:
    """The alphas of a cross-validated path: ``None`` (automatic) or numbers >= 0."""
    if value is None:
        return None
    values = [] if isinstance(value, str) and not value.strip() else _numbers("alphas", value)
    if not values:
        raise ParameterError(
            "alphas", "{param} is empty; give at least one alpha, or leave it out", value=value
        )
    return tuple(check_nonnegative_float("alphas", v) for v in values)
