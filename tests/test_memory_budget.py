"""The one memory budget: its sources, its check, and the allocations that honour it."""

from __future__ import annotations

import numpy as np
import pytest

from torchlinear import _memory as v
from torchlinear._memory import (
    check_memory,
    memory_budget,
    memory_limit,
    parse_memory_size,
    set_memory_limit,
)
from torchlinear._validation import ParameterError


@pytest.mark.parametrize(
    ("text", "size"),
    [("800M", 800 << 20), ("2G", 2 << 30), ("1.5GB", int(1.5 * (1 << 30))), ("64k", 65536),
     ("4096", 4096), (" 3 MiB ", 3 << 20), (1e6, 1_000_000)],
)  # fmt: skip
def test_sizes(text: object, size: int) -> None:
    assert parse_memory_size("memory_limit", text) == size


@pytest.mark.parametrize("bad", ["", "lots", "-1G", "0", "nanM", True, None, "1X"])
def test_bad_sizes_name_the_parameter(bad: object) -> None:
    with pytest.raises(ParameterError, match="memory_limit must be a positive number of bytes"):
        parse_memory_size("memory_limit", bad)


def test_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHLINEAR_MEMORY_LIMIT", raising=False)
    available = v.available_memory()  # it moves with the machine's other processes: held
    monkeypatch.setattr(v, "available_memory", lambda: available)
    default = memory_budget()
    assert default == int(v.MEMORY_FRACTION * available)
    monkeypatch.setenv("TORCHLINEAR_MEMORY_LIMIT", "3M")
    assert memory_budget() == 3 << 20
    with memory_limit("5M"):
        assert memory_budget() == 5 << 20
        assert memory_budget(7) == 7  # an explicit limit wins
    assert memory_budget() == 3 << 20
    previous = set_memory_limit("9M")
    try:
        assert memory_budget() == 9 << 20
    finally:
        set_memory_limit(previous)
    monkeypatch.delenv("TORCHLINEAR_MEMORY_LIMIT")
    assert memory_budget() == default


def test_a_bad_environment_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # as a ParameterError of memory_limit, the command line blamed --memory-limit, which
    # fit's user never typed
    monkeypatch.setenv("TORCHLINEAR_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="variable TORCHLINEAR_MEMORY_LIMIT must be") as err:
        memory_budget()
    assert not isinstance(err.value, ParameterError) and "got 'lots'" in str(err.value)
    assert memory_budget("2M") == 2 << 20  # an explicit limit does not read it


def test_check_memory_message_and_rendering() -> None:
    with pytest.raises(ParameterError) as err:
        check_memory(
            3_200_000_000,
            "20,000 columns",
            "the exact solver's statistics",
            advice="use {0} or select columns",
            suggestions=[("solver", "sgd")],
            limit=10**9,
        )
    assert err.value.param == "memory_limit"
    flag = err.value.render(
        name=lambda p: "--" + p.replace("_", "-"), setting=lambda p, x: f"--{p} {x}"
    )
    assert flag == (
        "20,000 columns need 3.2 GB for the exact solver's statistics, above the memory "
        "budget of 1 GB (--memory-limit); use --solver sgd or select columns"
    )
    assert check_memory(10**9, "x", "y", limit=10**9) == 10**9


def test_models_are_checked_before_building() -> None:
    from torchlinear.models import build_model

    with memory_limit("1M"), pytest.raises(ValueError, match=r"parameters, gradients"):
        build_model("linear", 10_000, 10, classification=True)
    # (10,000 + 1) x 10 float64 parameters x 4 copies = 3.2 MB
    with memory_limit("4M"):
        build_model("linear", 10_000, 10, classification=True)


def test_summary_skips_the_covariance_without_residual_degrees_of_freedom() -> None:
    import warnings

    from torchlinear.exact import lstsq
    from torchlinear.stats import ols_summary

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 3000)), rng.normal(size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = lstsq(X, y)
        with memory_limit("8M"):  # a 3001 x 3001 covariance would need 72 MB
            summary = ols_summary(sol)
    assert len(summary.coef) == 3001 and np.isnan(summary.std_err).all()
    np.testing.assert_array_equal(summary.coef[1:], sol.coef[:, 0].numpy())
