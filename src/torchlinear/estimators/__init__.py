"""scikit-learn-compatible estimators."""

from torchlinear.estimators._gradient import FitOptions
from torchlinear.estimators.linear import LinearRegression
from torchlinear.estimators.mlp import MLPClassifier, MLPRegressor
from torchlinear.estimators.softmax import SoftmaxRegression

__all__ = ["FitOptions", "LinearRegression", "SoftmaxRegression", "MLPRegressor", "MLPClassifier"]
