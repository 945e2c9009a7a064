"""Regression metrics over chunks (``RegressionMeter``) against scikit-learn's."""

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from torchlinear.workflow.metrics import RegressionMeter


@pytest.mark.parametrize("scale", [1e-300, 1e-100, 1.0, 1e150, 1e300])
def test_chunked_weighted_metrics_equal_scikit_learns_at_any_scale(scale):
    # values near the float64 limits: the sums are kept in units of the largest value,
    # so R² and RMSE stay finite and exact (r * r overflowed to inf / inf = nan before)
    rng = np.random.default_rng(2)
    y, w = rng.normal(size=101), rng.uniform(0.1, 2.0, size=101)
    pred = y + 0.3 * rng.normal(size=101)
    meter = RegressionMeter()
    for start in range(0, 101, 17):  # chunks whose largest values grow and shrink
        part = slice(start, start + 17)
        meter.update(y[part] * scale, pred[part] * scale, w[part])
    got = meter.result()
    assert got["n"] == 101
    assert got["r2"] == pytest.approx(r2_score(y, pred, sample_weight=w), rel=1e-12)
    rmse = np.sqrt(mean_squared_error(y, pred, sample_weight=w))
    assert got["rmse"] / scale == pytest.approx(rmse, rel=1e-12)
    assert got["mae"] / scale == pytest.approx(
        mean_absolute_error(y, pred, sample_weight=w), rel=1e-12
    )
    if 1e-150 < scale < 1e150:  # the MSE itself is representable
        assert got["mse"] / scale**2 == pytest.approx(rmse**2, rel=1e-12)


def test_no_rows_and_zero_weights():
    meter = RegressionMeter()
    assert meter.result() == {"n": 0}
    meter.update(np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2))
    result = meter.result()
    assert result["n"] == 2 and np.isnan(result["r2"]) and np.isnan(result["mse"])
