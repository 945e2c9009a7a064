"""``model_summary`` (the ``summary`` command) of every estimator saved from the API."""

import numpy as np
import pytest

import torchlinear as tl
from torchlinear.workflow import model_summary, save_estimator

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = X @ np.array([1.0, 2.0, 0.0]) + 0.5 + 0.1 * RNG.normal(size=60)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int)

ESTIMATORS = {
    "LinearRegression": (lambda: tl.LinearRegression(), Y, "least squares"),
    "Lasso": (lambda: tl.Lasso(alpha=0.01), Y, "l1_ratio=1"),
    "ElasticNet": (lambda: tl.ElasticNet(alpha=0.01, l1_ratio=0.5), Y, "l1_ratio=0.5"),
    "LassoCV": (lambda: tl.LassoCV(cv=3), Y, "l1_ratio=1 (by cross-validation)"),
    "ElasticNetCV": (
        lambda: tl.ElasticNetCV(cv=3, l1_ratio=0.5),
        Y,
        "l1_ratio=0.5 (by cross-validation)",
    ),
    "HuberRegressor": (lambda: tl.HuberRegressor(), Y, "Huber"),
    "QuantileRegressor": (lambda: tl.QuantileRegressor(alpha=0.0), Y, "quantile"),
    "SoftmaxRegression": (lambda: tl.SoftmaxRegression(), LABELS, "softmax"),
    "MLPRegressor": (lambda: tl.MLPRegressor(4, max_iter=2), Y, "two-layer MLP 3 -> 4 -> 1"),
    "MLPClassifier": (lambda: tl.MLPClassifier(4, max_iter=2), LABELS, "MLP 3 -> 4 -> 2"),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_model_saved_from_the_api_is_summarised_without_a_target_name(name, tmp_path):
    make, y, kind = ESTIMATORS[name]
    save_estimator(make().fit(X, y), tmp_path / "m")
    first = model_summary(tmp_path / "m").splitlines()[0]
    assert first.startswith(f"{name} (")
    assert kind.lower() in first.lower()
    assert first.endswith(") on 3 features")  # no "of None": the model names no target
