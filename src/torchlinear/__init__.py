"""torchlinear: linear neural networks in PyTorch, from scratch, concise and exact.

The public API is re-exported here; submodules hold one concept each. Everything here is
imported on first use, so that ``import torchlinear`` (and the command line's ``--help``)
does not pay for torch and scikit-learn until they are needed.

Examples
--------
>>> import torchlinear
>>> X, y, w, b = torchlinear.synthetic_regression([2.0, -3.4], 4.2, n=100, seed=0)
>>> model = torchlinear.LinearRegression().fit(X, y)
>>> [round(v, 2) for v in model.coef_.tolist()], round(float(model.intercept_), 2)
([2.0, -3.4], 4.2)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "synthetic_regression": "torchlinear.data.synthetic",
    "LinearRegression": "torchlinear.estimators.linear",
    "SoftmaxRegression": "torchlinear.estimators.softmax",
    "MLPRegressor": "torchlinear.estimators.mlp",
    "MLPClassifier": "torchlinear.estimators.mlp",
    "Lasso": "torchlinear.estimators.penalized",
    "ElasticNet": "torchlinear.estimators.penalized",
    "LassoCV": "torchlinear.estimators.penalized",
    "ElasticNetCV": "torchlinear.estimators.penalized",
    "QuantileRegressor": "torchlinear.estimators.robust",
    "HuberRegressor": "torchlinear.estimators.robust",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "d2l":  # the textbook's helper names, `from torchlinear import d2l`
        return import_module("torchlinear.d2l")
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'torchlinear' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, "d2l", *(k for k in globals() if k.startswith("__"))})
