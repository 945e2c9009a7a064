"""scikit-learn-compatible estimators."""

from torchlinear.estimators._gradient import FitOptions
from torchlinear.estimators.linear import LinearRegression
from torchlinear.estimators.mlp import MLPClassifier, MLPRegressor
from torchlinear.estimators.penalized import ElasticNet, ElasticNetCV, Lasso, LassoCV
from torchlinear.estimators.robust import HuberRegressor, QuantileRegressor
from torchlinear.estimators.softmax import SoftmaxRegression

__all__ = [
    "ElasticNet",
    "ElasticNetCV",
    "FitOptions",
    "HuberRegressor",
    "Lasso",
    "LassoCV",
    "LinearRegression",
    "MLPClassifier",
    "MLPRegressor",
    "QuantileRegressor",
    "SoftmaxRegression",
]
