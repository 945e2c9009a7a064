"""Data sources: synthetic data, tabular files, image files and in-memory batching."""

from torchlinear.data.synthetic import SyntheticRegression, synthetic_regression

__all__ = ["SyntheticRegression", "synthetic_regression"]
