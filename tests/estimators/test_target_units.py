"""Training in units of the target: the unit, and the penalty that keeps the objective."""

import numpy as np
import pytest
import torch

from torchlinear.estimators._target_units import penalty_in_units, target_unit
from torchlinear.losses import Penalty, get_loss


def test_target_unit_is_the_power_of_two_nearest_the_spread():
    assert target_unit(np.array([1.0, 2.0, 3.0])) == 2.0  # 1.4826 * MAD 1 -> 2^1
    assert target_unit(np.array([2e5, 3e5, 4.5e5])) == 2.0**17  # 1.4826 * 1e5 -> 2^17
    assert target_unit(np.array([5.0, 5.0, 5.0, 7.0])) == 0.5  # MAD 0: mean deviation
    assert target_unit(np.array([3.0, 3.0])) == 1.0  # constant
    assert target_unit(np.array([np.nan, 1e-30, 3e-30, 2e-30])) == 2.0**-99  # NaN ignored


@pytest.mark.parametrize("loss", ["squared", "huber", "l1"])
def test_penalty_in_units_gives_the_same_objective(loss):
    # objective(s w') = s^p (objective in units)(w') for any coefficients w'
    rng = np.random.default_rng(3)
    s, alpha, ratio = 8.0, 0.3, 0.4
    base = get_loss(loss, delta=1.5)
    scaled = base.in_units(s)
    pred, y = torch.tensor(rng.normal(size=20)), torch.tensor(rng.normal(size=20) * 3)
    coef = torch.tensor(rng.normal(size=5))
    penalty, inner = Penalty(alpha, ratio), penalty_in_units(alpha, ratio, base, s)

    def objective(loss_fn, p, predicted, target, w):
        l1 = p.alpha * p.l1_ratio * w.abs().sum()
        l2 = 0.5 * p.alpha * (1 - p.l1_ratio) * (w * w).sum()
        return float(loss_fn(predicted, target) + l1 + l2)

    whole = objective(base, penalty, s * pred, s * y, s * coef)
    parts = objective(scaled, inner, pred, y, coef) * scaled.value_unit
    assert parts == pytest.approx(whole, rel=1e-12)
