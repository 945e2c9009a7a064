import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from torchlinear.data import synthetic_regression
from torchlinear.scratch import (
    SGD,
    LinearRegressionScratch,
    closed_form,
    data_iter,
    init_params,
    linreg,
    linreg_grad,
    sgd,
    squared_loss,
    train,
    train_module,
)

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def textbook():
    return synthetic_regression(TRUE_W, TRUE_B, n=1000, noise=0.01, seed=0)


# --- the textbook problem ---------------------------------------------------------------


def test_train_recovers_textbook_parameters(textbook):
    X, y, w_true, b_true = textbook
    w, b = init_params(2, generator=gen(1))
    losses = train(X, y, w, b, lr=0.03, batch_size=10, epochs=3, generator=gen(2))
    assert len(losses) == 3
    assert torch.allclose(w.detach().reshape(-1), w_true, atol=0.01)
    assert abs(b.item() - b_true) < 0.01
    # the reported loss is the mean of 1/2 (y_hat - y)^2, computed independently here
    expected = 0.5 * ((X @ w.detach().reshape(-1) + b.detach() - y) ** 2).mean().item()
    assert losses[-1] == pytest.approx(expected, rel=1e-5)
    # noise 0.01 -> the optimum's loss is about 0.01^2 / 2
    assert losses[-1] < 1e-3


def test_closed_form_recovers_textbook_parameters(textbook):
    X, y, w_true, b_true = textbook
    w, b = closed_form(X, y)
    assert w.dtype == torch.float64 and w.shape == (2,) and b.shape == ()
    assert torch.allclose(w.float(), w_true, atol=0.01)
    assert abs(b.item() - b_true) < 0.01


def test_module_flavour_matches_functional_flavour(textbook):
    X, y, _, _ = textbook
    w, b = init_params(2, generator=gen(5))
    model = LinearRegressionScratch(2, generator=gen(5))
    assert torch.equal(model.w.detach(), w.detach()) and torch.equal(model.b.detach(), b.detach())
    losses_f = train(X, y, w, b, epochs=2, generator=gen(6))
    losses_m = train_module(model, X, y, epochs=2, generator=gen(6))
    torch.testing.assert_close(model.w.detach(), w.detach(), atol=1e-6, rtol=0)
    torch.testing.assert_close(model.b.detach(), b.detach(), atol=1e-6, rtol=0)
    assert losses_m == pytest.approx(losses_f, rel=1e-4)
    assert torch.allclose(model.w.detach().reshape(-1), torch.tensor(TRUE_W), atol=0.01)


def test_target_shape_n_and_n1_give_identical_fits(textbook):
    X, y, _, _ = textbook
    fits = []
    for target in (y, y.reshape(-1, 1)):
        w, b = init_params(2, generator=gen(3))
        losses = train(X, target, w, b, epochs=1, generator=gen(4))
        fits.append((w.detach().clone(), b.detach().clone(), losses))
    assert torch.equal(fits[0][0], fits[1][0]) and torch.equal(fits[0][1], fits[1][1])
    assert fits[0][2] == fits[1][2]
    w1, b1 = closed_form(X, y)
    w2, b2 = closed_form(X, y.reshape(-1, 1))
    assert torch.equal(w1, w2) and torch.equal(b1, b2)


# --- closed form against independent references -----------------------------------------


@pytest.mark.parametrize("n, d", [(50, 3), (200, 7), (5, 1)])
def test_closed_form_matches_sklearn(n, d):
    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 1.5 + rng.normal(size=n)
    w, b = closed_form(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(w.numpy(), ref.coef_, atol=1e-10)
    assert b.item() == pytest.approx(ref.intercept_, abs=1e-10)


def test_closed_form_float32_input_is_solved_in_float64():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) - 0.25 + 0.1 * rng.normal(size=300)
    w32, b32 = closed_form(torch.tensor(X, dtype=torch.float32), torch.tensor(y))
    ref = np.linalg.lstsq(np.c_[X.astype(np.float32).astype(np.float64), np.ones(300)], y)[0]
    np.testing.assert_allclose(w32.numpy(), ref[:-1], atol=1e-10)
    assert b32.item() == pytest.approx(ref[-1], abs=1e-10)


def test_closed_form_collinear_columns_gives_minimum_norm_solution():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 1))
    X = np.hstack([x, 2 * x])  # rank 1
    y = 3 * x[:, 0] + 1
    w, b = closed_form(X, y)
    ref = np.linalg.pinv(np.c_[X, np.ones(40)]) @ y
    np.testing.assert_allclose(np.r_[w.numpy(), b.item()], ref, atol=1e-8)


# --- the analytic gradient ---------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
    column=st.booleans(),
)
def test_linreg_grad_equals_autograd(n, d, seed, column):
    g = gen(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) * 3
    y = torch.randn(n, generator=g, dtype=torch.float64) * 5
    w = torch.randn((d, 1) if column else (d,), generator=g, dtype=torch.float64)
    b = torch.randn(1, generator=g, dtype=torch.float64)
    w.requires_grad_(True)
    b.requires_grad_(True)
    squared_loss(linreg(X, w, b), y).mean().backward()
    grad_w, grad_b = linreg_grad(X, y, w.detach(), b.detach())
    assert grad_w.shape == w.shape and grad_b.shape == b.shape
    torch.testing.assert_close(grad_w, w.grad, atol=1e-6, rtol=0)
    torch.testing.assert_close(grad_b, b.grad, atol=1e-6, rtol=0)


def test_linreg_grad_with_python_float_bias_and_column_target():
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[1.0], [2.0], [0.0]], dtype=torch.float64)
    w = torch.tensor([[0.5], [-1.0]], dtype=torch.float64)
    grad_w, grad_b = linreg_grad(X, y, w, 0.25)
    # residuals by hand: [0.5+0.25-1, -2+0.25-2, 0.5-1+0.25-0] = [-0.25, -3.75, -0.25]
    r = torch.tensor([-0.25, -3.75, -0.25], dtype=torch.float64)
    torch.testing.assert_close(grad_w, (X.T @ r / 3).reshape(2, 1))
    assert grad_b.shape == () and grad_b.item() == pytest.approx(-4.25 / 3)


# --- data_iter ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, batch_size", [(100, 10), (103, 10), (7, 3), (5, 8), (1, 1)])
def test_data_iter_visits_every_index_once_per_epoch(n, batch_size):
    X = torch.arange(2 * n, dtype=torch.float32).reshape(n, 2)
    y = torch.arange(n, dtype=torch.float32)
    g = gen(0)
    for _ in range(2):  # two epochs from the same generator
        batches = list(data_iter(batch_size, X, y, g))
        seen = torch.cat([yb for _, yb in batches]).long()
        assert sorted(seen.tolist()) == list(range(n))
        sizes = [len(yb) for _, yb in batches]
        assert sizes[:-1] == [batch_size] * (len(sizes) - 1)
        assert sizes[-1] == (n % batch_size or batch_size) if n >= batch_size else sizes == [n]
        for Xb, yb in batches:  # features stay with their targets
            assert torch.equal(Xb[:, 0], 2 * yb) and torch.equal(Xb[:, 1], 2 * yb + 1)


def test_data_iter_order_depends_only_on_seed():
    X, y = torch.zeros(50, 1), torch.arange(50.0)

    def order(seed):
        return torch.cat([yb for _, yb in data_iter(7, X, y, gen(seed))]).tolist()

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert order(1) != list(range(50))


def test_data_iter_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        next(data_iter(0, torch.zeros(3, 1), torch.zeros(3)))
    with pytest.raises(ValueError, match="y has 2 rows but X has 3"):
        next(data_iter(1, torch.zeros(3, 1), torch.zeros(2)))


# --- loss, optimiser, init ---------------------------------------------------------------


def test_squared_loss_never_broadcasts_a_column_against_a_row():
    y_hat = torch.tensor([[1.0], [2.0], [4.0]])
    y = torch.tensor([1.5, 2.0, 1.0])
    loss = squared_loss(y_hat, y)
    assert loss.shape == (3, 1)
    torch.testing.assert_close(loss.reshape(-1), torch.tensor([0.125, 0.0, 4.5]))
    # consistent with torch's own MSE (which has no 1/2)
    mse = torch.nn.functional.mse_loss(y_hat.reshape(-1), y)
    torch.testing.assert_close(2 * loss.mean(), mse)
    with pytest.raises(ValueError, match=r"y has shape \(2,\) but the predictions have shape"):
        squared_loss(y_hat, torch.zeros(2))


def test_sgd_takes_the_averaged_step_and_zeroes_the_gradients():
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = torch.tensor([0.0, 1.0])
    squared_loss(linreg(X, w, b), y).sum().backward()
    grad_w, grad_b = linreg_grad(X, y, w.detach(), b.detach())  # gradient of the mean
    w0, b0 = w.detach().clone(), b.detach().clone()
    sgd([w, b], lr=0.1, batch_size=2)
    torch.testing.assert_close(w.detach(), w0 - 0.1 * grad_w)
    torch.testing.assert_close(b.detach(), b0 - 0.1 * grad_b)
    assert torch.count_nonzero(w.grad) == 0 and torch.count_nonzero(b.grad) == 0
    with pytest.raises(ValueError, match="no gradient"):
        sgd([torch.zeros(1, requires_grad=True)], 0.1, 1)


def test_sgd_class_step_and_zero_grad():
    model = LinearRegressionScratch(2, generator=gen(0))
    opt = SGD(model.parameters(), lr=0.5)
    X, y = torch.tensor([[1.0, 2.0]]), torch.tensor([3.0])
    model.loss(model(X), y).backward()
    grad_w, grad_b = linreg_grad(X, y, model.w.detach(), model.b.detach())
    w0, b0 = model.w.detach().clone(), model.b.detach().clone()
    opt.step()
    torch.testing.assert_close(model.w.detach(), w0 - 0.5 * grad_w)
    torch.testing.assert_close(model.b.detach(), b0 - 0.5 * grad_b)
    opt.zero_grad()
    assert model.w.grad is None and model.b.grad is None
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1.0"):
        SGD(model.parameters(), lr=-1.0)


def test_init_params_distribution_and_reproducibility():
    w, b = init_params(20_000, generator=gen(0))
    assert w.shape == (20_000, 1) and b.shape == (1,)
    assert w.requires_grad and b.requires_grad and w.is_leaf and b.is_leaf
    assert b.item() == 0.0
    assert abs(w.std().item() - 0.01) < 0.0005 and abs(w.mean().item()) < 0.0005
    w2, _ = init_params(20_000, generator=gen(0))
    assert torch.equal(w, w2)
    w64, b64 = init_params(3, dtype=torch.float64, generator=gen(0))
    assert w64.dtype == b64.dtype == torch.float64


def test_module_state_dict_holds_the_parameters():
    model = LinearRegressionScratch(3, generator=gen(0))
    assert set(model.state_dict()) == {"w", "b"}
    assert [p.shape for p in model.parameters()] == [(3, 1), (1,)]


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": 0.0}, "lr must be a finite number > 0, got 0.0"),
        ({"lr": -0.1}, "lr must be a finite number > 0, got -0.1"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ],
)
def test_train_rejects_bad_hyperparameters(kwargs, match):
    w, b = init_params(1, generator=gen(0))
    with pytest.raises(ValueError, match=match):
        train(torch.zeros(4, 1), torch.zeros(4), w, b, **kwargs)
    with pytest.raises(ValueError, match=match):
        train_module(LinearRegressionScratch(1), torch.zeros(4, 1), torch.zeros(4), **kwargs)


def test_length_mismatch_names_both_lengths():
    X, y = torch.zeros(10, 2), torch.zeros(9)
    w, b = init_params(2)
    for call in (
        lambda: train(X, y, w, b),
        lambda: train_module(LinearRegressionScratch(2), X, y),
        lambda: closed_form(X, y),
        lambda: linreg_grad(X, y, w.detach(), b.detach()),
    ):
        with pytest.raises(ValueError, match="y has 9 rows but X has 10"):
            call()


def test_train_rejects_feature_count_mismatch_and_bad_targets():
    w, b = init_params(3)
    with pytest.raises(ValueError, match="X has 2 features but w has 3 rows"):
        train(torch.zeros(4, 2), torch.zeros(4), w, b)
    with pytest.raises(ValueError, match=r"y must have shape \(n,\) or \(n, 1\)"):
        train(torch.zeros(4, 3), torch.zeros(4, 2), w, b)
    with pytest.raises(ValueError, match="NaN"):
        closed_form(torch.tensor([[1.0], [float("nan")]]), torch.zeros(2))


@pytest.mark.parametrize("name", ["w", "b"])
def test_train_names_a_parameter_created_without_requires_grad(name):
    # before: torch's "element 0 of tensors does not require grad and does not have a grad_fn"
    params = {"w": torch.zeros(2, 1, requires_grad=True), "b": torch.zeros(1, requires_grad=True)}
    params[name] = params[name].detach()
    with pytest.raises(
        ValueError,
        match=rf"^{name} does not record gradients, so nothing can train it; create it with "
        rf"requires_grad=True \(init_params does\), e.g. {name}.requires_grad_\(True\)$",
    ):
        train(torch.ones(4, 2), torch.ones(4), params["w"], params["b"], epochs=1)


def test_train_progress_bar_goes_to_stderr(capsys):
    X, y, _, _ = synthetic_regression([1.0], 0.0, n=30, seed=0)
    w, b = init_params(1, generator=gen(0))
    train(X, y, w, b, batch_size=10, epochs=2, generator=gen(0), progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "scratch 1/2" in captured.err and "scratch 2/2" in captured.err
    assert "loss=" in captured.err
