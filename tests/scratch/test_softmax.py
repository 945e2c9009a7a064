"""From-scratch softmax regression against torch.nn.functional, autograd and closed forms."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from threadpoolctl import threadpool_limits

from torchlinear.scratch.softmax import (
    accuracy,
    cross_entropy,
    evaluate,
    log_softmax,
    log_sum_exp,
    softmax,
    softmax_cross_entropy,
    softmax_logits,
    softmax_regression,
    train,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # The problems here are tiny: extra BLAS/OpenMP threads only add spinning.
    with threadpool_limits(limits=1):
        yield


def _logits(n=64, k=7, scale=3.0, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, k, generator=g, dtype=dtype)


def _labels(n=64, k=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, k, (n,), generator=g)


def _extreme_logits(dtype=torch.float32):
    # Entries of +-1e4 and 0: a naive exp overflows, a naive log of softmax underflows.
    g = torch.Generator().manual_seed(2)
    signs = torch.randint(-1, 2, (50, 6), generator=g).to(dtype)
    return 1e4 * signs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_matches_functional(dtype):
    O = _logits(dtype=dtype)
    torch.testing.assert_close(softmax(O), F.softmax(O, dim=1), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_finite_and_correct_for_huge_logits(dtype):
    O = _extreme_logits(dtype)
    P = softmax(O)
    assert torch.isfinite(P).all()
    torch.testing.assert_close(P, F.softmax(O, dim=1), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(P.sum(dim=1), torch.ones(O.shape[0], dtype=dtype))
    # A naive exp / sum(exp) overflows to inf / inf = nan on the same input.
    naive = torch.exp(O) / torch.exp(O).sum(dim=1, keepdim=True)
    assert torch.isnan(naive).any()


@pytest.mark.parametrize("O", [_logits(), _extreme_logits(torch.float64)])
def test_log_sum_exp_and_log_softmax_match_torch(O):
    torch.testing.assert_close(log_sum_exp(O), torch.logsumexp(O, dim=1), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(log_softmax(O), F.log_softmax(O, dim=1), atol=1e-6, rtol=1e-6)


def test_cross_entropy_on_probabilities_matches_nll():
    O, y = _logits(), _labels()
    expected = F.nll_loss(F.log_softmax(O, dim=1), y, reduction="none")
    torch.testing.assert_close(cross_entropy(softmax(O), y), expected, atol=1e-6, rtol=1e-6)


def test_cross_entropy_matches_hand_computed_values():
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]], dtype=torch.float64)
    got = cross_entropy(y_hat, torch.tensor([0, 2]))
    torch.testing.assert_close(got, torch.tensor([-np.log(0.1), -np.log(0.5)], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_loss_matches_functional_cross_entropy(dtype):
    O, y = _logits(dtype=dtype), _labels()
    expected = F.cross_entropy(O, y, reduction="none")
    torch.testing.assert_close(softmax_cross_entropy(O, y), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_loss_finite_for_huge_logits(dtype):
    O = _extreme_logits(dtype)
    y = _labels(n=O.shape[0], k=O.shape[1])
    fused = softmax_cross_entropy(O, y)
    assert torch.isfinite(fused).all()
    torch.testing.assert_close(fused, F.cross_entropy(O, y, reduction="none"), atol=1e-6, rtol=1e-6)
    # The unfused textbook loss hits log(0) = -inf for the same logits.
    assert torch.isinf(cross_entropy(softmax(O), y)).any()


def test_fused_gradient_equals_autograd_of_unfused_loss():
    O, y = _logits(), _labels()
    weights = torch.rand(O.shape[0], dtype=O.dtype, generator=torch.Generator().manual_seed(3))
    O1 = O.clone().requires_grad_(True)
    (weights * softmax_cross_entropy(O1, y)).sum().backward()
    O2 = O.clone().requires_grad_(True)
    unfused = cross_entropy(softmax(O2), y)
    assert torch.isfinite(unfused).all()
    (weights * unfused).sum().backward()
    torch.testing.assert_close(O1.grad, O2.grad, atol=1e-10, rtol=1e-8)


def test_fused_gradient_closed_form_and_gradcheck():
    O, y = _logits(n=8, k=4), _labels(n=8, k=4)
    O.requires_grad_(True)
    softmax_cross_entropy(O, y).mean().backward()
    expected = (F.softmax(O.detach(), dim=1) - F.one_hot(y, 4).to(O.dtype)) / 8
    torch.testing.assert_close(O.grad, expected)
    assert torch.autograd.gradcheck(
        lambda t: softmax_cross_entropy(t, y), (O.detach().clone().requires_grad_(True),)
    )


def test_fused_gradient_finite_for_huge_logits():
    O = _extreme_logits(torch.float64)
    y = _labels(n=O.shape[0], k=O.shape[1])
    O1 = O.clone().requires_grad_(True)
    softmax_cross_entropy(O1, y).sum().backward()
    O2 = O.clone().requires_grad_(True)
    F.cross_entropy(O2, y, reduction="sum").backward()
    assert torch.isfinite(O1.grad).all()
    torch.testing.assert_close(O1.grad, O2.grad)


def test_model_and_accuracy():
    g = torch.Generator().manual_seed(4)
    X, W, b = (
        torch.randn(30, 5, generator=g),
        torch.randn(5, 3, generator=g),
        torch.randn(3, generator=g),
    )
    torch.testing.assert_close(softmax_logits(X, W, b), X @ W + b)
    torch.testing.assert_close(softmax_regression(X, W, b), F.softmax(X @ W + b, dim=1))
    y = torch.randint(0, 3, (30,), generator=g)
    P = softmax_regression(X, W, b)
    expected = accuracy_score(y.numpy(), P.argmax(1).numpy())
    assert accuracy(P, y) == pytest.approx(expected)
    assert accuracy(P.argmax(1), y) == pytest.approx(expected)


def test_evaluate_matches_functional():
    g = torch.Generator().manual_seed(5)
    X, W, b = (
        torch.randn(1000, 4, generator=g),
        torch.randn(4, 3, generator=g),
        torch.randn(3, generator=g),
    )
    y = torch.randint(0, 3, (1000,), generator=g)
    loss, acc = evaluate(W, b, X, y, batch_size=300)
    O = X @ W + b
    assert loss == pytest.approx(float(F.cross_entropy(O, y)), rel=1e-5)
    assert acc == pytest.approx(accuracy_score(y.numpy(), O.argmax(1).numpy()))


def test_one_full_batch_epoch_is_one_gradient_step():
    g = torch.Generator().manual_seed(6)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (40,), generator=g)
    lr, sigma, seed = 0.5, 0.01, 11
    fit = train(X, y, epochs=1, lr=lr, batch_size=40, sigma=sigma, seed=seed)
    W0 = sigma * torch.randn(
        3, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    residual = F.softmax(X @ W0, dim=1) - F.one_hot(y, 4).to(X.dtype)  # b0 = 0
    torch.testing.assert_close(fit.W, W0 - lr * X.T @ residual / 40)
    torch.testing.assert_close(fit.b, -lr * residual.mean(0))
    expected_loss = float(F.cross_entropy(X @ fit.W + fit.b, y))
    assert fit.history["train_loss"][0] == pytest.approx(expected_loss)


def test_train_learns_digits_and_records_validation():
    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    X, y = X[perm], y[perm]
    X_tr, y_tr, X_va, y_va = X[:1400], y[:1400], X[1400:], y[1400:]
    fit = train(X_tr, y_tr, X_va, y_va, epochs=5, lr=1.0, batch_size=64, seed=0)
    assert set(fit.history) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(v) == 5 for v in fit.history.values())
    O = X_va @ fit.W + fit.b
    assert fit.history["val_loss"][-1] == pytest.approx(float(F.cross_entropy(O, y_va)), rel=1e-5)
    assert fit.history["val_acc"][-1] == pytest.approx(accuracy_score(y_va, O.argmax(1)))
    assert fit.history["val_acc"][-1] > 0.9
    assert fit.history["train_loss"][-1] < fit.history["train_loss"][0]


def test_train_is_reproducible_with_a_seed():
    g = torch.Generator().manual_seed(7)
    X, y = torch.randn(100, 3, generator=g), torch.randint(0, 3, (100,), generator=g)
    a = train(X, y, epochs=2, batch_size=16, seed=3)
    b = train(X, y, epochs=2, batch_size=16, seed=3)
    torch.testing.assert_close(a.W, b.W)


def test_train_rejects_bad_arguments():
    X, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="y has 3 rows but X has 4"):
        train(X, y[:3])
    with pytest.raises(ValueError, match="lr"):
        train(X, y, lr=-1.0)
    with pytest.raises(ValueError, match="X_val"):
        train(X, y, X_val=X)


@pytest.mark.parametrize("func", [cross_entropy, softmax_cross_entropy, accuracy])
def test_a_column_of_labels_is_refused_instead_of_broadcast(func):
    # y[:, None] against 64 rows: fancy indexing would pick a (64, 64) matrix and
    # argmax == y would compare every prediction with every label.
    O, y = _logits(), _labels()
    with pytest.raises(ValueError, match=r"y has shape \(64, 1\) but the predictions have 64 rows"):
        func(softmax(O), y[:, None])
    with pytest.raises(ValueError, match=r"e\.g\. y\.reshape\(-1\).*\(64, 64\) matrix"):
        func(O, y[:, None])
    with pytest.raises(ValueError, match=r"y has shape \(63,\) .*one class index per row"):
        func(O, y[:63])


def test_accuracy_of_predicted_classes_as_a_column():
    O, y = _logits(), _labels()
    expected = accuracy_score(y.numpy(), O.argmax(1).numpy())
    assert accuracy(O.argmax(1, keepdim=True), y) == pytest.approx(expected)


def test_trainers_accept_a_column_of_labels_as_the_vector():
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(120, 4, generator=g), torch.randint(0, 3, (120,), generator=g)
    flat = train(X, y, X[:40], y[:40], epochs=2, batch_size=32, seed=0)
    column = train(X, y[:, None], X[:40], y[:40, None], epochs=2, batch_size=32, seed=0)
    torch.testing.assert_close(column.W, flat.W, rtol=0, atol=0)
    assert column.history == flat.history
    assert evaluate(flat.W, flat.b, X, y[:, None]) == evaluate(flat.W, flat.b, X, y)
    with pytest.raises(ValueError, match=r"y has shape \(120, 2\); pass one class index"):
        train(X, torch.stack([y, y], 1))
