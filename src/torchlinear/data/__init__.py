"""Data sources: synthetic data, tabular files, formulas, image files and in-memory batching."""

from torchlinear.data.batching import iter_batches
from torchlinear.data.design import Design, design
from torchlinear.data.predictions import PredictionWriter, check_columns
from torchlinear.data.synthetic import SyntheticRegression, synthetic_regression
from torchlinear.data.tabular import TabularSource

__all__ = [
    "Design",
    "design",
    "SyntheticRegression",
    "iter_batches",
    "synthetic_regression",
    "TabularSource",
    "PredictionWriter",
    "check_columns",
]
