import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

import torchlinear
from torchlinear import SoftmaxRegression
from torchlinear.engine import DivergenceError, TrainConfig
from torchlinear.estimators._gradient import (
    GradientFit,
    fit_gradient,
    loss_improvement,
)
from torchlinear.io import load_model, save_model
from torchlinear.models import MLP, Standardized


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one intra-op thread avoids OpenMP hand-off costs on a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _regression(n=300, seed=0, scales=(1.0, 100.0, 0.01, 5.0), offset=(0.0, 50.0, -1.0, 1e3)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(scales))) * scales + offset
    w = np.array([1.0, 0.02, 30.0, -0.5])[: len(scales)]
    y = X @ w + 3.0 + 0.1 * rng.normal(size=n)
    return torch.tensor(X), torch.tensor(y)


LBFGS = TrainConfig(optimizer="lbfgs", epochs=5, seed=0)


def _lstsq(X, y, intercept=True, w=None):
    A = np.c_[X.numpy(), np.ones(len(X))] if intercept else X.numpy()
    yy = y.numpy()
    if w is not None:
        s = np.sqrt(w)
        A, yy = (
            A * (s[:, None] if yy.ndim == 1 else s[:, None]),
            yy * (s if yy.ndim == 1 else s[:, None]),
        )
    return np.linalg.lstsq(A, yy, rcond=None)[0]


def test_standardized_fit_reports_original_scale_coefficients():
    # features on wildly different scales and offsets: standardization makes it well
    # conditioned, and the coefficients come back in the original units
    X, y = _regression()
    fit = fit_gradient(X, y, config=LBFGS)
    ref = _lstsq(X, y)
    np.testing.assert_allclose(fit.coef[0].numpy(), ref[:-1], rtol=1e-7)
    # the intercept cancels terms of size |w_j mean_j| (~500 here): judge it on that scale
    scale = abs(ref[:-1] * X.mean(0).numpy()).sum()
    assert float(fit.intercept[0]) == pytest.approx(ref[-1], abs=1e-8 * scale)
    assert isinstance(fit, GradientFit) and fit.coef.shape == (1, 4) and fit.intercept.shape == (1,)
    # the module predicts from raw features, and agrees with the reported coefficients
    expected = X @ fit.coef[0] + fit.intercept[0]
    torch.testing.assert_close(fit.output(X), expected, rtol=1e-10, atol=1e-8)
    assert isinstance(fit.module, Standardized)
    torch.testing.assert_close(fit.standardizer.mean_, X.mean(0))


def test_sgd_minibatch_fit_with_standardization():
    X, y = _regression()
    cfg = TrainConfig(epochs=40, batch_size=32, lr=0.05, seed=0)
    fit = fit_gradient(X, y, config=cfg)
    ref = _lstsq(X, y)
    pred_ref = X.numpy() @ ref[:-1] + ref[-1]
    # SGD with a constant step hovers near the optimum: judged by the predictions
    assert np.abs(fit.output(X).numpy() - pred_ref).max() < 0.05 * y.std().item()


def test_float32_training():
    X, y = _regression(offset=(0.0, 0.0, 0.0, 0.0))
    fit = fit_gradient(X.float(), y.float(), config=LBFGS)
    assert fit.coef.dtype == torch.float32
    np.testing.assert_allclose(fit.coef[0].numpy(), _lstsq(X, y)[:-1], rtol=1e-3, atol=1e-4)


def test_without_standardization_or_intercept():
    X, y = _regression(scales=(1.0, 2.0), offset=(0.0, 0.0))
    fit = fit_gradient(X, y, standardize=False, config=LBFGS)
    assert fit.standardizer is None and not isinstance(fit.module, Standardized)
    np.testing.assert_allclose(fit.coef[0].numpy(), _lstsq(X, y)[:-1], rtol=1e-8)
    fit = fit_gradient(X, y, fit_intercept=False, config=LBFGS)
    assert fit.intercept is None
    np.testing.assert_allclose(fit.coef[0].numpy(), _lstsq(X, y, intercept=False), rtol=1e-8)
    assert torch.equal(fit.standardizer.mean_, torch.zeros(2, dtype=torch.float64))


def test_sample_weights_equal_sklearn_and_repeated_rows():
    X, y = _regression(n=80)
    w = np.random.default_rng(1).integers(1, 4, size=80).astype(float)
    fit = fit_gradient(X, y, sample_weight=torch.tensor(w), config=LBFGS)
    ref = LinearRegression().fit(X.numpy(), y.numpy(), sample_weight=w)
    np.testing.assert_allclose(fit.coef[0].numpy(), ref.coef_, rtol=1e-7)
    scale = abs(ref.coef_ * X.mean(0).numpy()).sum()  # see the test above
    assert float(fit.intercept[0]) == pytest.approx(ref.intercept_, abs=1e-8 * scale)
    reps = torch.tensor(w, dtype=torch.int64)
    repeated = fit_gradient(
        X.repeat_interleave(reps, 0), y.repeat_interleave(reps, 0), config=LBFGS
    )
    np.testing.assert_allclose(fit.coef.numpy(), repeated.coef.numpy(), rtol=1e-7)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
def test_streamed_penalty_on_the_weighted_sum_is_per_unit_of_weight(l1_ratio):
    # LinearRegression's alpha penalises the weighted sum of the losses; the trainer's loss
    # is the weighted mean, so the chunked route must divide alpha by the weights' total
    # (as the in-memory route does), not by the number of rows
    from scipy import optimize

    from torchlinear import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.standard_t(2, size=200) + 1
    s = rng.integers(0, 4, size=200).astype(float)

    def objective(t):  # sum of weighted Huber losses (delta 1) + alpha * penalty
        r = np.abs(y - X @ t[:3] - t[3])
        huber = np.where(r <= 1, 0.5 * r * r, r - 0.5)
        penalty = l1_ratio * np.abs(t[:3]).sum() + 0.5 * (1 - l1_ratio) * t[:3] @ t[:3]
        return s @ huber + 10.0 * penalty

    options = {"xtol": 1e-10, "ftol": 1e-14, "maxiter": 100_000}
    ref = optimize.minimize(objective, np.zeros(4), method="Powell", options=options).x
    params = {"loss": "huber", "alpha": 10.0, "l1_ratio": l1_ratio, "random_state": 0}
    if l1_ratio == 0:
        params |= {"solver": "lbfgs", "max_iter": 100}
        parts = [(X[:120], y[:120], s[:120]), (X[120:], y[120:], s[120:])]
    else:  # full-batch proximal gradient: one chunk, one batch per epoch
        params |= {"solver": "sgd", "batch_size": 200, "lr": 0.02, "max_iter": 1500, "tol": 0}
        parts = [(X, y, s)]
    streamed = LinearRegression(**params).fit_chunks(lambda: parts, n_features=3)
    in_memory = LinearRegression(**params).fit(X, y, sample_weight=s)
    for model in (streamed, in_memory):
        np.testing.assert_allclose(np.r_[model.coef_, model.intercept_], ref, atol=1e-6)


def test_multi_output_regression():
    X, y = _regression(n=100)
    Y = torch.stack([y, -2 * y + X[:, 0]], dim=1)
    fit = fit_gradient(X, Y, config=LBFGS)
    ref = _lstsq(X, Y)
    assert fit.coef.shape == (2, 4) and fit.intercept.shape == (2,)
    np.testing.assert_allclose(fit.coef.numpy(), ref[:-1].T, rtol=1e-6)
    assert fit.output(X).shape == (100, 2)


def test_l1_minibatch_gives_exact_zeros_for_noise_features():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 10))
    y = X[:, 0] * 3 - X[:, 1] * 2 + 0.5 * rng.normal(size=500)
    cfg = TrainConfig(epochs=30, batch_size=50, lr=0.02, momentum=0.0, seed=0)
    fit = fit_gradient(torch.tensor(X), torch.tensor(y), alpha=0.1, l1_ratio=1.0, config=cfg)
    coef = fit.coef[0]
    assert (coef[2:] == 0).sum() >= 6  # exact zeros, not just small values
    assert coef[0] > 2.5 and coef[1] < -1.5
    cfg_adam = TrainConfig(epochs=30, batch_size=50, lr=0.01, optimizer="adam", seed=0)
    adam = fit_gradient(torch.tensor(X), torch.tensor(y), alpha=0.1, l1_ratio=1.0, config=cfg_adam)
    assert (adam.coef[0, 2:] == 0).sum() >= 6


def test_huber_resists_outliers():
    X, y = _regression(n=300, scales=(1.0, 1.0), offset=(0.0, 0.0))
    y_bad = y.clone()
    y_bad[:30] += 200.0
    ref = _lstsq(X, y)
    huber = fit_gradient(X, y_bad, loss="huber", delta=0.3, config=LBFGS)
    squared = fit_gradient(X, y_bad, loss="squared", config=LBFGS)
    err_h = np.abs(huber.coef[0].numpy() - ref[:-1]).max()
    err_s = np.abs(squared.coef[0].numpy() - ref[:-1]).max()
    assert err_h < 0.1 and err_s > 10 * err_h


def test_absolute_loss_is_median_regression():
    # with one constant feature only, the L1 fit's intercept is the median of y
    rng = np.random.default_rng(3)
    y = torch.tensor(rng.standard_exponential(201) ** 3)
    X = torch.zeros(201, 1, dtype=torch.float64)
    fit = fit_gradient(X, y, loss="l1", config=TrainConfig(epochs=1, seed=0))
    assert float(fit.intercept[0]) == pytest.approx(float(y.median()), rel=1e-12)


def test_softmax_classification():
    rng = np.random.default_rng(4)
    centers = np.array([[0, 0], [4, 0], [0, 4]])
    y = rng.integers(0, 3, size=300)
    X = centers[y] + rng.normal(size=(300, 2))
    fit = fit_gradient(
        torch.tensor(X),
        torch.tensor(y),
        loss="ce",
        config=TrainConfig(epochs=15, batch_size=32, lr=0.1, seed=0, val_split=0.2),
    )
    assert fit.coef.shape == (3, 2) and fit.intercept.shape == (3,)
    logits = fit.output(torch.tensor(X))
    torch.testing.assert_close(logits, torch.tensor(X) @ fit.coef.T + fit.intercept)
    assert (logits.argmax(1).numpy() == y).mean() > 0.9
    assert fit.history.metrics["val_accuracy"][-1] > 0.85


def _xor(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=g) * 2 - 1
    X = X + 0.3 * torch.sign(X)  # keep the quadrants apart
    y = (X[:, 0] * X[:, 1] > 0).long()
    return X, y


def test_mlp_learns_xor_that_a_linear_model_cannot():
    X, y = _xor()
    cfg = TrainConfig(epochs=60, batch_size=32, lr=0.01, optimizer="adam", seed=0)
    linear = fit_gradient(X, y, loss="ce", config=cfg)
    mlp = fit_gradient(X, y, loss="ce", model="mlp", hidden=16, config=cfg)
    acc_linear = (linear.output(X).argmax(1) == y).double().mean().item()
    acc_mlp = (mlp.output(X).argmax(1) == y).double().mean().item()
    # a line gets at most three of the four quadrants right: 75 %
    assert acc_linear <= 0.8 and acc_mlp > 0.97
    assert mlp.coef is None and isinstance(mlp.module.module, MLP)
    # the same for regression on the ±1 target
    target = (2 * y - 1).to(torch.float32)
    reg_lin = fit_gradient(X, target, config=cfg)
    reg_mlp = fit_gradient(X, target, model="mlp", hidden=16, config=cfg)
    mse_lin = ((reg_lin.output(X) - target) ** 2).mean().item()
    mse_mlp = ((reg_mlp.output(X) - target) ** 2).mean().item()
    assert mse_lin > 0.9 and mse_mlp < 0.1


def test_trained_module_survives_a_model_file(tmp_path):
    X, y = _xor(n=100)
    cfg = TrainConfig(epochs=5, batch_size=16, optimizer="adam", lr=0.01, seed=0)
    fit = fit_gradient(X, y, loss="ce", model="mlp", hidden=8, config=cfg)
    save_model(tmp_path, fit.module.state_dict(), {"kind": "mlp", "config": cfg.to_dict()})
    tensors, meta = load_model(tmp_path)
    fresh = Standardized(MLP(2, 8, 2, squeeze=False, seed=123), torch.zeros(2), torch.ones(2))
    fresh.load_state_dict(tensors)
    torch.testing.assert_close(fresh(X), fit.output(X), rtol=0, atol=0)
    assert TrainConfig.from_dict(meta["config"]) == cfg


def test_divergence_message_from_the_helper():
    X, y = _regression()
    with pytest.raises(DivergenceError, match=r"lr=1 \(one tenth of 10\)"):
        fit_gradient(X, y, config=TrainConfig(lr=10, epochs=5, seed=0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "ce"}, "integer class indices"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"alpha": 1.0, "l1_ratio": 0.5, "config": LBFGS}, "cannot apply an L1 penalty"),
        ({"model": "tree"}, "model must be 'linear' or 'mlp'"),
        ({"model": "mlp", "fit_intercept": False}, "fit_intercept=False is not supported"),
        ({"sample_weight": -torch.ones(10)}, "sample_weight must be >= 0"),
        ({"sample_weight": torch.zeros(10)}, "sums to zero"),
        ({"sample_weight": torch.ones(3)}, r"sample_weight must have shape \(10,\)"),
        ({"alpha": -1.0}, "alpha must be"),
        ({"hidden": 0, "model": "mlp"}, "hidden must be"),
    ],
)
def test_errors(kwargs, match):
    X = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = X[:, 0].clone()
    with pytest.raises(ValueError, match=match):
        fit_gradient(X, y, **kwargs)


def test_classification_errors():
    X = torch.zeros(6, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_gradient(X, torch.zeros(6, dtype=torch.int64), loss="ce")
    with pytest.raises(ValueError, match="n_classes is 2"):
        fit_gradient(X, torch.tensor([0, 1, 2, 0, 1, 2]), loss="ce", n_classes=2)
    with pytest.raises(ValueError, match="y has 5 rows but X has 6"):
        fit_gradient(X, torch.zeros(5))


def test_one_epoch_says_the_criterion_needs_two():
    """After one epoch there is no improvement to compare with tol: the warning says so
    instead of reporting an infinite improvement over zero epochs."""
    X, y = make_classification(200, 4, n_informative=2, n_redundant=0, random_state=1)
    with pytest.warns(ConvergenceWarning, match=r"did not converge in 1 epoch: .*at least 2"):
        SoftmaxRegression(solver="sgd", max_iter=1, random_state=0, device="cpu").fit(X, y)


def test_loss_improvement_against_a_direct_computation():
    losses = [4.0, 3.0, 3.5, 2.0, 2.5, 2.2]
    for window in range(1, 6):
        before, recent = min(losses[:-window]), min(losses[-window:])
        expected = max(0.0, before - recent) / before
        assert loss_improvement(losses, window) == (expected, window)
    assert loss_improvement(losses, 99)[1] == 5  # at most the epochs before the last


def test_a_loss_that_stops_improving_while_rising_is_not_converged():
    from torchlinear.engine import History
    from torchlinear.estimators._gradient import check_convergence

    config = TrainConfig(tol=1e-6, n_iter_no_change=3)
    settled = History(train_loss=[2.0, 1.0, 1.02, 0.99, 1.05])  # noise around its best
    settled.stop_reason = "converged"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_convergence(settled, config, "sgd") is True
    rising = History(train_loss=[2.0, 1.0, 1.1, 1.25, 1.4])  # overshooting steps
    rising.stop_reason = "converged"
    with pytest.warns(ConvergenceWarning, match=r"ended 40% above its best epoch.*lower lr"):
        assert check_convergence(rising, config, "sgd") is False


def test_sgd_on_badly_scaled_features_does_not_claim_convergence():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) * np.logspace(-2, 2, 3)
    y = X @ rng.normal(size=3) + 1 + rng.standard_t(3, size=500)
    s = rng.uniform(0.1, 3, 500)
    model = torchlinear.LinearRegression(loss="huber", alpha=1.0, solver="sgd", random_state=0)
    # the loss falls too slowly at the lower rates on features of scales 0.01 to 100 (the
    # objective ends 8 times the minimum): its plateau is not a minimum, the gradient says
    with pytest.warns(ConvergenceWarning, match="sgd stalled after .* gradient was still large"):
        model.fit(X, y, sample_weight=s)
    assert model.converged_ is False and model.history_.stop_reason == "stalled"


def test_convergence_warning_tells_a_short_plateau_from_a_loss_still_falling():
    from torchlinear.engine import History
    from torchlinear.estimators._gradient import check_convergence

    config = TrainConfig(tol=1e-6, n_iter_no_change=5)
    flat = History(train_loss=[1.0, 1.0])  # no gain in the last epoch, but only one epoch
    flat.stop_reason = "completed"
    with pytest.warns(ConvergenceWarning) as caught:
        assert check_convergence(flat, config, "sgd") is False
    text = str(caught[0].message)
    assert "relative 0 (<= tol 1e-06) over the last 1 epoch" in text
    assert "converging takes 5 such epochs; increase max_iter" in text
    falling = History(train_loss=[2.0, 1.0, 0.5])
    falling.stop_reason = "completed"
    with pytest.warns(ConvergenceWarning, match=r"still improved by a relative 0\.75 .*> tol"):
        check_convergence(falling, config, "sgd")


# --- training in units of the target ------------------------------------------------------


@pytest.mark.parametrize(
    ("solver", "loss"), [("lbfgs", "squared"), ("lbfgs", "huber"), ("adam", "squared"),
                         ("sgd", "huber"), ("adam", "l1")],
)  # fmt: skip
def test_gradient_fits_are_equivariant_in_the_scale_of_y(solver, loss):
    # y times 2^k (and Huber's delta with it) gives coefficients times 2^k and losses
    # times 4^k: the same steps, in the units of y (before, Adam stopped at the start with
    # converged_=True for y ~ 1e4, and L-BFGS for y ~ 1e-8)
    X, y = _regression(n=200, seed=4)
    fits = {}
    for k in (-40, 0, 30):
        est = torchlinear.LinearRegression(loss=loss, delta=0.5 * 2.0**k, solver=solver,
                                           max_iter=60, random_state=0)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits[k] = est.fit(X.numpy(), y.numpy() * 2.0**k)
    base = fits[0]
    for k in (-40, 30):
        np.testing.assert_allclose(fits[k].coef_ / 2.0**k, base.coef_, rtol=1e-9, atol=1e-12)
        assert fits[k].intercept_ / 2.0**k == pytest.approx(base.intercept_, rel=1e-9)
        assert fits[k].converged_ == base.converged_
        power = 1 if loss == "l1" else 2
        np.testing.assert_allclose(
            np.array(fits[k].history_.train_loss) / 2.0 ** (power * k),
            base.history_.train_loss,
            rtol=1e-9,
        )


@pytest.mark.parametrize("scale", [1e-20, 1e-8, 3e5, 1e20])
def test_lbfgs_least_squares_is_exact_at_any_scale_of_y(scale):
    X, y = _regression(n=200, seed=5)
    ref = _lstsq(X, y * scale)
    est = torchlinear.LinearRegression(solver="lbfgs").fit(X.numpy(), y.numpy() * scale)
    assert est.converged_
    np.testing.assert_allclose(est.coef_, ref[:-1], rtol=1e-8)


def test_adam_on_targets_in_dollars_does_not_claim_convergence_at_its_start():
    # house prices: Adam moved its coefficients by lr=0.001 dollars a step and reported
    # converged_=True after 6 epochs with every coefficient still ~0
    X, y = _regression(n=200, seed=6)
    est = torchlinear.LinearRegression(solver="adam", max_iter=100, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X.numpy(), 3e5 + 1e5 * y.numpy())
    ref = _lstsq(X, 3e5 + 1e5 * y)
    error = np.abs(est.coef_ - ref[:-1]).max() / np.abs(ref[:-1]).max()
    assert (
        error < 1e-3
        if est.converged_
        else any("did not converge" in str(w.message) for w in caught)
    )
    # the same fit of y in units of 1e5 takes the same steps
    small = torchlinear.LinearRegression(solver="adam", max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small.fit(X.numpy(), 3.0 + y.numpy())
    assert small.converged_ == est.converged_


def test_lbfgs_that_cannot_move_says_it_stalled():
    # Huber with delta 1 on targets ~1e20 is the absolute loss in all but name; L-BFGS
    # sees no curvature and stops at its start: not converged, and the warning says why
    X, y = _regression(n=200, seed=7)
    est = torchlinear.LinearRegression(loss="huber", solver="lbfgs")
    with pytest.warns(ConvergenceWarning, match="stalled after .* gradient was still large"):
        est.fit(X.numpy(), y.numpy() * 1e20)
    assert not est.converged_ and est.history_.stop_reason == "stalled"
