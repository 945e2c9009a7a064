"""Demos: library functions that run a whole worked example and return what they found.

The demos import torch, so they are loaded on first use: the command line imports
:mod:`torchlinear.demos.defaults` for its ``--help`` and must not pay for torch there.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "DemoRow": "torchlinear.demos.linreg",
    "LinregDemoResult": "torchlinear.demos.linreg",
    "run_linreg_demo": "torchlinear.demos.linreg",
    "SoftmaxDemoResult": "torchlinear.demos.softmax",
    "run_softmax_demo": "torchlinear.demos.softmax",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchlinear.demos' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
