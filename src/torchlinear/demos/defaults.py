"""The demos' default settings, as plain constants.

They live apart from the demos so that ``torchlinear demo --help`` can show them without
importing torch: this module imports nothing.

Examples
--------
>>> LINREG_DEFAULTS["w"], LINREG_DEFAULTS["b"]
((2.0, -3.4), 4.2)
>>> SOFTMAX_DEFAULTS["epochs"]
20
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

__all__ = ["LINREG_DEFAULTS", "SOFTMAX_DEFAULTS"]

LINREG_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "n": 1000,
        "w": (2.0, -3.4),
        "b": 4.2,
        "noise": 0.01,
        "lr": 0.03,
        "batch_size": 10,
        "epochs": 3,
        "seed": 0,
        "device": "cpu",
    }
)
"""The textbook's linear-regression problem and training settings, by argument name."""

SOFTMAX_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "epochs": 20,
        "lr": 0.3,
        "batch_size": 32,
        "alpha": 1e-4,
        "test_size": 0.25,
        "seed": 0,
        "device": "cpu",
    }
)
"""The softmax demo's settings on the 8x8 digits, by argument name."""
