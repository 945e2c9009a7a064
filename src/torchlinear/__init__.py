"""torchlinear: linear neural networks in PyTorch, from scratch, concise and exact.

The public API is re-exported here; submodules hold one concept each.
"""

from torchlinear.data import synthetic_regression

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "synthetic_regression",
]
