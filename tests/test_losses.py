"""Losses and penalties against independent references (NumPy formulas, scikit-learn).

The fitted cross-checks solve the *same* objective in both libraries:

* ``Lasso(alpha)`` minimises (1/(2n))||y - Xw - b||² + alpha ||w||₁: our squared loss is
  (1/n) Σ ½ r², so ``alpha`` and ``l1_ratio=1`` carry over unchanged.
* ``ElasticNet(alpha, l1_ratio)`` adds ½ alpha (1 - l1_ratio) ||w||²: same parameters.
* ``Ridge(a)`` minimises ||y - Xw - b||² + a ||w||²; dividing by 2n gives ours with
  ``alpha = a / n``.
* ``HuberRegressor(epsilon, alpha)`` minimises, jointly over (w, b, sigma),
  Σ (sigma + 2 sigma h_eps(r/sigma)) + alpha ||w||², h the standard Huber function.
  Since sigma h_eps(r/sigma) = h_{eps sigma}(r) / sigma, at its fitted scale sigma* the
  coefficients minimise (2/sigma*) Σ h_{eps sigma*}(r) + alpha ||w||², i.e. ours with
  ``delta = eps sigma*`` and ``alpha = alpha_sk sigma* / n`` (a joint minimum is a minimum in
  w at fixed sigma). We fix sigma = sigma* and compare the coefficients and the objective.
* ``LogisticRegression(C)`` minimises C Σ CE + ½||W||²; dividing by C n gives ours with
  ``alpha = 1 / (C n)``; intercepts are compared up to the softmax's common shift.

Tolerances: the L-BFGS and proximal-gradient fits below converge to ~1e-9; scikit-learn's
own solvers are the looser side (HuberRegressor's L-BFGS-B stops near 1e-4 relative).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import ElasticNet, HuberRegressor, Lasso, LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error
from sklearn.preprocessing import StandardScaler

from torchlinear.engine import TrainConfig, evaluate, train
from torchlinear.estimators._gradient import fit_gradient
from torchlinear.losses import (
    LOSSES,
    Penalty,
    UserLoss,
    absolute_loss,
    cross_entropy_loss,
    get_loss,
    huber_loss,
    match_shapes,
    soft_threshold,
    squared_loss,
)

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _one_thread():
    # The models here are tiny: one intra-op thread avoids OpenMP hand-off costs, which
    # dominate (and vary wildly) when the machine's cores are busy with other work.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(n=40, k=None):
    pred = RNG.normal(size=n) * 3
    target = RNG.normal(size=n) * 3
    weight = RNG.uniform(0.1, 2.0, size=n)
    return pred, target, weight


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


def test_squared_and_absolute_match_sklearn_metrics():
    pred, target, w = _data()
    assert float(squared_loss(_t(pred), _t(target))) == pytest.approx(
        0.5 * mean_squared_error(target, pred), rel=1e-12
    )
    assert float(absolute_loss(_t(pred), _t(target))) == pytest.approx(
        mean_absolute_error(target, pred), rel=1e-12
    )
    # weights normalised to mean one give scikit-learn's weighted mean
    wn = _t(w / w.mean())
    assert float(squared_loss(_t(pred), _t(target), wn)) == pytest.approx(
        0.5 * mean_squared_error(target, pred, sample_weight=w), rel=1e-12
    )
    assert float(absolute_loss(_t(pred), _t(target), wn)) == pytest.approx(
        mean_absolute_error(target, pred, sample_weight=w), rel=1e-12
    )


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_matches_closed_form(delta):
    pred, target, w = _data()
    r = np.abs(pred - target)
    per = np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))
    assert float(huber_loss(_t(pred), _t(target), delta=delta)) == pytest.approx(per.mean())
    wn = w / w.mean()
    got = float(huber_loss(_t(pred), _t(target), _t(wn), delta=delta))
    assert got == pytest.approx((wn * per).mean(), rel=1e-12)
    assert get_loss("huber", delta=delta)(_t(pred), _t(target)).item() == pytest.approx(per.mean())


def test_huber_limits_are_squared_and_scaled_absolute():
    pred, target, _ = _data()
    big = float(huber_loss(_t(pred), _t(target), delta=1e6))
    assert big == pytest.approx(float(squared_loss(_t(pred), _t(target))), rel=1e-12)
    small = float(huber_loss(_t(pred), _t(target), delta=1e-9)) / 1e-9
    assert small == pytest.approx(float(absolute_loss(_t(pred), _t(target))), rel=1e-6)


def test_cross_entropy_matches_sklearn_log_loss():
    logits = RNG.normal(size=(50, 4)) * 2
    y = RNG.integers(0, 4, size=50)
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    got = float(cross_entropy_loss(_t(logits), torch.tensor(y)))
    assert got == pytest.approx(log_loss(y, proba, labels=[0, 1, 2, 3]), rel=1e-10)
    w = RNG.uniform(0.5, 2, size=50)
    got_w = float(cross_entropy_loss(_t(logits), torch.tensor(y), _t(w / w.mean())))
    assert got_w == pytest.approx(log_loss(y, proba, sample_weight=w, labels=[0, 1, 2, 3]))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]])
    value = cross_entropy_loss(logits, torch.tensor([0, 0]))
    assert torch.isfinite(value) and float(value) == pytest.approx(0.0, abs=1e-6)


def test_shape_guard_reshapes_column_and_never_broadcasts():
    target = torch.arange(5.0)
    column = (target + 1).reshape(5, 1)
    # (n, 1) against (n,) is reshaped, giving the same loss as (n,) against (n,) ...
    assert float(squared_loss(column, target)) == pytest.approx(0.5)
    # ... where silent broadcasting to (5, 5) would have given a different number
    assert float(0.5 * ((column - target) ** 2).mean()) != pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"shape \(5, 2\) but the target has shape \(5,\)"):
        squared_loss(torch.zeros(5, 2), target)
    with pytest.raises(ValueError, match="must match"):
        huber_loss(torch.zeros(4), target)
    with pytest.raises(ValueError, match="class indices"):
        cross_entropy_loss(torch.zeros(5), target.long())
    assert match_shapes(torch.zeros(3, 2), torch.zeros(3, 2)).shape == (3, 2)


def test_loss_names():
    assert {get_loss(name).name for name in LOSSES} == {"squared", "l1", "huber", "ce"}
    assert get_loss("ce").task == "classification" and get_loss("l1").task == "regression"
    with pytest.raises(ValueError, match="loss must be one of"):
        get_loss("hinge")
    with pytest.raises(ValueError, match="delta must be"):
        get_loss("huber", delta=0)


def test_penalty_value_and_validation():
    w1, w2 = _t(RNG.normal(size=(2, 3))), _t(RNG.normal(size=4))
    p = Penalty(alpha=0.3, l1_ratio=0.25)
    expected = 0.3 * (
        0.25 * (np.abs(w1.numpy()).sum() + np.abs(w2.numpy()).sum())
        + 0.5 * 0.75 * ((w1.numpy() ** 2).sum() + (w2.numpy() ** 2).sum())
    )
    assert float(p.value([w1, w2])) == pytest.approx(expected, rel=1e-12)
    smooth = p.smooth([w1, w2])
    assert float(smooth) == pytest.approx(0.5 * 0.3 * 0.75 * float((w1**2).sum() + (w2**2).sum()))
    assert Penalty(alpha=1.0, l1_ratio=1.0).smooth([w1]) is None
    assert not Penalty().active
    with pytest.raises(ValueError, match="l1_ratio must lie in"):
        Penalty(alpha=1.0, l1_ratio=1.5)
    with pytest.raises(ValueError, match="alpha must be"):
        Penalty(alpha=-1.0)


def test_soft_threshold_is_the_l1_proximal_map():
    # prox_{t|.|}(v) = argmin_x ½(x - v)² + t|x|, checked by brute force on a fine grid
    grid = np.linspace(-5, 5, 200001)
    for v in (-3.2, -0.4, 0.0, 0.7, 2.9):
        for t in (0.5, 1.0):
            brute = grid[np.argmin(0.5 * (grid - v) ** 2 + t * np.abs(grid))]
            assert float(soft_threshold(torch.tensor(v), t)) == pytest.approx(brute, abs=1e-4)


def test_prox_makes_exact_zeros_and_adam_scales_threshold():
    w = torch.tensor([0.05, -0.02, 1.0, -2.0], requires_grad=True)
    with torch.no_grad():
        Penalty(alpha=0.1, l1_ratio=1.0).prox_([w], lr=1.0)
    assert w.tolist()[:2] == [0.0, 0.0]
    assert w.tolist()[2:] == pytest.approx([0.9, -1.9])
    # Adam: the threshold is lr * l1 / (sqrt(v_hat) + eps) per coordinate
    p = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.tensor([2.0, 0.5])
    opt.step()
    before = p.detach().clone()
    v_hat = torch.tensor([4.0, 0.25])  # after one step v_hat = g²
    with torch.no_grad():
        Penalty(alpha=0.01, l1_ratio=1.0).prox_([p], lr=0.1, optimizer=opt)
    expected = before - 0.1 * 0.01 / (v_hat.sqrt() + 1e-8)
    torch.testing.assert_close(p.detach(), expected)


# ---------------------------------------------------------------- fitted objectives


def _regression(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X -= X.mean(0)  # centred, unit-scale features: proximal gradient converges fast
    w = np.array([1.5, 0.0, -2.0, 0.0, 0.3, 0.0][:d])
    y = X @ w + 0.7 + 0.5 * rng.normal(size=n)
    return X, y


def _ista(n, lipschitz, epochs=800, momentum=0.0):
    # full-batch proximal gradient with step 1/L: converges to the exact minimiser
    return TrainConfig(
        optimizer="sgd",
        momentum=momentum,
        batch_size=n,
        lr=1 / lipschitz,
        epochs=epochs,
        shuffle=False,
        seed=0,
    )


def _lipschitz(X):
    A = np.c_[X, np.ones(len(X))]
    return float(np.linalg.eigvalsh(A.T @ A / len(X)).max())


@pytest.mark.parametrize(
    "make, alpha, l1_ratio",
    [
        (lambda: Lasso(alpha=0.1, tol=1e-12, max_iter=100_000), 0.1, 1.0),
        (lambda: Lasso(alpha=0.4, tol=1e-12, max_iter=100_000), 0.4, 1.0),
        (lambda: ElasticNet(alpha=0.2, l1_ratio=0.5, tol=1e-12, max_iter=100_000), 0.2, 0.5),
    ],
)
def test_l1_and_elastic_net_match_sklearn(make, alpha, l1_ratio):
    X, y = _regression()
    ref = make().fit(X, y)
    fit = fit_gradient(
        _t(X),
        _t(y),
        alpha=alpha,
        l1_ratio=l1_ratio,
        standardize=False,
        config=_ista(len(X), _lipschitz(X)),
    )
    np.testing.assert_allclose(fit.coef[0].numpy(), ref.coef_, atol=1e-7)
    assert float(fit.intercept[0]) == pytest.approx(ref.intercept_, abs=1e-7)
    # L1 gives exact zeros, exactly where scikit-learn's coordinate descent puts them
    assert ((fit.coef[0] == 0).numpy() == (ref.coef_ == 0)).all()
    assert int((fit.coef[0] == 0).sum()) >= 1


@pytest.mark.parametrize("momentum", [0.5, 0.9])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_with_sgd_momentum_reaches_sklearns_minimiser(momentum, l1_ratio):
    # SGD with momentum mu moves the weights by lr / (1 - mu) gradients once its buffer is
    # steady: the soft-threshold must grow by the same factor, or the iteration's fixed
    # point is the minimiser of a penalty (1 - mu) times too weak
    X, y = _regression()
    ref = ElasticNet(alpha=0.2, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000).fit(X, y)
    config = _ista(len(X), _lipschitz(X) / (1 - momentum), epochs=600, momentum=momentum)
    fit = fit_gradient(_t(X), _t(y), alpha=0.2, l1_ratio=l1_ratio, standardize=False, config=config)
    np.testing.assert_allclose(fit.coef[0].numpy(), ref.coef_, atol=1e-7)
    assert ((fit.coef[0] == 0).numpy() == (ref.coef_ == 0)).all()


def test_prox_scales_the_threshold_by_the_sgd_momentum_gain():
    for momentum, dampening, nesterov, gain in [
        (0.0, 0.0, False, 1.0),
        (0.9, 0.0, False, 10.0),
        (0.9, 0.5, False, 5.0),
        (0.5, 0.0, True, 2.0),  # g + mu * g / (1 - mu)
    ]:
        p = torch.nn.Parameter(torch.tensor([1.0, -0.5]))
        opt = torch.optim.SGD(
            [p], lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov
        )
        with torch.no_grad():
            Penalty(alpha=0.02, l1_ratio=1.0).prox_([p], lr=0.1, optimizer=opt)
        expected = torch.tensor([1.0 - 0.1 * 0.02 * gain, -0.5 + 0.1 * 0.02 * gain])
        torch.testing.assert_close(p.detach(), expected)


def test_standardized_lasso_matches_sklearn_on_scaled_features():
    # standardize=True penalises the coefficients of the standardized features: the same
    # problem as scikit-learn's Lasso on StandardScaler output, mapped back to raw units.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 5)) * [1.0, 20.0, 0.1, 3.0, 1.0] + [0, 5, -2, 100, 0]
    y = X @ [1.0, 0.05, 0.0, -0.3, 0.0] + 3 + 0.2 * rng.normal(size=150)
    scaler = StandardScaler().fit(X)
    ref = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(scaler.transform(X), y)
    cfg = TrainConfig(
        optimizer="sgd", momentum=0.0, batch_size=150, lr=0.5, epochs=600, shuffle=False, seed=0
    )
    fit = fit_gradient(_t(X), _t(y), alpha=0.05, l1_ratio=1.0, config=cfg)
    np.testing.assert_allclose(
        fit.coef[0].numpy(), ref.coef_ / scaler.scale_, rtol=1e-7, atol=1e-10
    )
    b = ref.intercept_ - (ref.coef_ / scaler.scale_) @ scaler.mean_
    assert float(fit.intercept[0]) == pytest.approx(b, rel=1e-7)
    assert ((fit.coef[0] == 0).numpy() == (ref.coef_ == 0)).all()


def test_l2_matches_sklearn_ridge():
    X, y = _regression()
    X = X * [1, 2, 3, 1, 1, 0.5] + 4  # uncentred, unequal scales: L-BFGS does not mind
    a = 5.0
    ref = Ridge(alpha=a, solver="cholesky").fit(X, y)
    fit = fit_gradient(
        _t(X),
        _t(y),
        alpha=a / len(X),
        standardize=False,
        config=TrainConfig(optimizer="lbfgs", epochs=5, seed=0),
    )
    np.testing.assert_allclose(fit.coef[0].numpy(), ref.coef_, rtol=1e-6, atol=1e-7)
    assert float(fit.intercept[0]) == pytest.approx(ref.intercept_, rel=1e-7)


def _sk_huber_objective(w, b, sigma, eps, alpha, X, y):
    r = np.abs(y - X @ w - b)
    inl = r <= eps * sigma
    return (
        len(y) * sigma
        + np.sum(r[inl] ** 2) / sigma
        + np.sum(2 * eps * r[~inl] - sigma * eps**2)
        + alpha * w @ w
    )


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_huber_matches_sklearn_huber_regressor(alpha):
    X, y = _regression(seed=2)
    rng = np.random.default_rng(3)
    y[:25] += rng.normal(scale=30, size=25)  # gross outliers
    eps = 1.35
    ref = HuberRegressor(epsilon=eps, alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    sigma = ref.scale_
    fit = fit_gradient(
        _t(X),
        _t(y),
        loss="huber",
        delta=eps * sigma,
        alpha=alpha * sigma / len(X),
        standardize=False,
        config=TrainConfig(optimizer="lbfgs", epochs=10, seed=0),
    )
    coef, b = fit.coef[0].numpy(), float(fit.intercept[0])
    np.testing.assert_allclose(coef, ref.coef_, rtol=1e-3, atol=1e-3)
    assert b == pytest.approx(ref.intercept_, abs=1e-3)
    # at scikit-learn's scale our solution is at least as good on *its* objective
    ours = _sk_huber_objective(coef, b, sigma, eps, alpha, X, y)
    theirs = _sk_huber_objective(ref.coef_, ref.intercept_, sigma, eps, alpha, X, y)
    assert ours <= theirs * (1 + 1e-10)
    assert ours == pytest.approx(theirs, rel=1e-6)
    # and the outliers did not drag it: ordinary least squares is far off
    ols = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    assert np.abs(ols[:-1] - ref.coef_).max() > 10 * np.abs(coef - ref.coef_).max()


def test_cross_entropy_l2_matches_sklearn_logistic_regression():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    W = rng.normal(size=(3, 4))
    logits = X @ W.T
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    C = 0.5
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    fit = fit_gradient(
        _t(X),
        torch.tensor(y),
        loss="ce",
        alpha=1 / (C * len(X)),
        standardize=False,
        config=TrainConfig(optimizer="lbfgs", epochs=10, seed=0),
    )
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, atol=1e-6)
    ours = fit.intercept.numpy()
    np.testing.assert_allclose(
        ours - ours.mean(), ref.intercept_ - ref.intercept_.mean(), atol=1e-6
    )
    assert F.softmax(fit.output(_t(X)), dim=1).numpy() == pytest.approx(
        ref.predict_proba(X), abs=1e-6
    )


@pytest.mark.parametrize("name", ["squared", "l1", "huber", "ce"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("multi", [False, True])
def test_value_and_grad_agree_with_autograd(name, weighted, multi):
    loss = get_loss(name, delta=0.7)
    n = 30
    if name == "ce":
        pred = _t(RNG.normal(size=(n, 4)))
        target = torch.tensor(RNG.integers(0, 4, size=n))
    else:
        shape = (n, 3) if multi else (n,)
        pred, target = _t(RNG.normal(size=shape) * 2), _t(RNG.normal(size=shape))
    w = _t(RNG.uniform(0.2, 2.0, size=n)) if weighted else None
    pred.requires_grad_(True)
    expected = loss(pred, target, w)
    expected.backward()
    value, grad = loss.value_and_grad(pred, target, w)
    assert float(value) == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(grad, pred.grad, rtol=1e-12, atol=1e-15)


def _line_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 3, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) + 0.5
    return X, y


def _own_squared_error(pred, target, sample_weight=None):
    return ((pred - target) ** 2).mean()


@pytest.mark.parametrize("loss", [_own_squared_error, torch.nn.MSELoss()])
def test_a_loss_of_ones_own_sees_a_column_of_predictions_as_the_targets_shape(loss):
    # before: nn.Linear's (n, 1) output minus the (n,) target broadcast to (n, n), and the
    # fit ended at w = [0.10, -0.11, 0.09] (loss 17); nn.MSELoss() raised a TypeError
    X, y = _line_data()
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 1).double()
    cfg = TrainConfig(epochs=200, batch_size=16, seed=0, lr=0.05)
    train(model, (X, y), loss=loss, config=cfg)
    A = torch.cat([X, torch.ones(64, 1, dtype=torch.float64)], dim=1)
    exact = torch.linalg.lstsq(A, y.unsqueeze(1)).solution.reshape(-1)
    fitted = torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])
    torch.testing.assert_close(fitted, exact, atol=1e-6, rtol=0)
    assert evaluate(model, (X, y), loss)["loss"] < 1e-12
    assert float(UserLoss(loss)(torch.zeros(2, 1), torch.tensor([1.0, 3.0]))) == 5.0


def test_a_two_argument_loss_is_refused_with_sample_weights():
    X, y = _line_data()
    with pytest.raises(ValueError, match=r"^the loss MSELoss takes \(pred, target\) but the data"):
        train(torch.nn.Linear(3, 1).double(), (X, y, torch.ones(64)), loss=torch.nn.MSELoss(),
              config=TrainConfig(epochs=1))  # fmt: skip
