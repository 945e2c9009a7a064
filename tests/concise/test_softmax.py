"""Concise softmax regression against torch.nn.functional, the closed-form step and scratch."""

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from threadpoolctl import threadpool_limits
from torch import nn

from torchlinear.concise.softmax import evaluate_net, softmax_net, train_softmax_concise
from torchlinear.scratch.softmax import softmax_cross_entropy


@pytest.fixture(autouse=True)
def _one_thread():
    # The problems here are tiny: extra BLAS/OpenMP threads only add spinning.
    with threadpool_limits(limits=1):
        yield


def test_net_is_flatten_then_linear_with_textbook_init():
    net = softmax_net(784, 10, generator=torch.Generator().manual_seed(0))
    assert isinstance(net[0], nn.Flatten) and isinstance(net[1], nn.Linear)
    W, b = net[1].weight.detach(), net[1].bias.detach()
    assert W.shape == (10, 784) and torch.equal(b, torch.zeros(10))
    assert abs(W.mean().item()) < 1e-3
    assert W.std().item() == pytest.approx(0.01, rel=0.05)
    again = softmax_net(784, 10, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[1].weight, net[1].weight)
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(net(images), images.reshape(3, -1) @ W.T + b)


def test_cross_entropy_loss_agrees_with_scratch_fused_loss():
    g = torch.Generator().manual_seed(1)
    O, y = 50 * torch.randn(20, 5, generator=g), torch.randint(0, 5, (20,), generator=g)
    torch.testing.assert_close(nn.CrossEntropyLoss()(O, y), softmax_cross_entropy(O, y).mean())


def test_one_full_batch_epoch_is_one_gradient_step():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=g)
    net = softmax_net(4, 3, generator=g, dtype=torch.float64)
    W0, b0 = net[1].weight.detach().clone(), net[1].bias.detach().clone()
    lr = 0.7
    fit = train_softmax_concise(net, X, y, lr=lr, batch_size=30, epochs=1)
    residual = F.softmax(X @ W0.T + b0, dim=1) - F.one_hot(y, 3).to(X.dtype)
    torch.testing.assert_close(net[1].weight.detach(), W0 - lr * residual.T @ X / 30)
    torch.testing.assert_close(net[1].bias.detach(), b0 - lr * residual.mean(0))
    expected = float(F.cross_entropy(net(X).detach(), y))
    assert fit.history["train_loss"] == [pytest.approx(expected)]


def test_replayed_batches_give_the_same_steps_as_a_manual_loop():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (40,), generator=g)
    batches = [(X[i : i + 8], y[i : i + 8]) for i in range(0, 40, 8)]
    net = softmax_net(3, 4, generator=g, dtype=torch.float64)
    W = net[1].weight.detach().clone()
    b = net[1].bias.detach().clone()
    train_softmax_concise(net, X, y, lr=0.3, epochs=2, loader=batches)
    for _ in range(2):
        for X_batch, y_batch in batches:
            residual = F.softmax(X_batch @ W.T + b, dim=1) - F.one_hot(y_batch, 4).to(X.dtype)
            W = W - 0.3 * residual.T @ X_batch / len(y_batch)
            b = b - 0.3 * residual.mean(0)
    torch.testing.assert_close(net[1].weight.detach(), W)
    torch.testing.assert_close(net[1].bias.detach(), b)


def test_trains_on_digit_images_and_records_validation():
    digits = load_digits()
    X = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (n, 1, 8, 8)
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    X, y = X[perm], y[perm]
    X_tr, y_tr, X_va, y_va = X[:1400], y[:1400], X[1400:], y[1400:]
    net = softmax_net(64, 10, generator=torch.Generator().manual_seed(0))
    fit = train_softmax_concise(
        net, X_tr, y_tr, X_va, y_va, lr=1.0, batch_size=64, epochs=5,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert all(len(v) == 5 for v in fit.history.values())
    with torch.no_grad():
        O = net(X_va)
    assert fit.history["val_loss"][-1] == pytest.approx(float(F.cross_entropy(O, y_va)), rel=1e-5)
    assert fit.history["val_acc"][-1] == pytest.approx(accuracy_score(y_va, O.argmax(1)))
    assert fit.history["val_acc"][-1] > 0.9


def test_evaluate_net_chunks_like_one_pass():
    g = torch.Generator().manual_seed(4)
    X, y = torch.randn(1000, 6, generator=g), torch.randint(0, 3, (1000,), generator=g)
    net = softmax_net(6, 3, sigma=1.0, generator=g)
    loss, acc = evaluate_net(net, X, y, batch_size=128)
    with torch.no_grad():
        O = net(X)
    assert loss == pytest.approx(float(F.cross_entropy(O, y)), rel=1e-5)
    assert acc == pytest.approx(accuracy_score(y, O.argmax(1)))


def test_bad_arguments():
    net = softmax_net(2, 2)
    X, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="y has 2 rows but X has 4"):
        train_softmax_concise(net, X, y[:2])
    with pytest.raises(ValueError, match="batch_size"):
        train_softmax_concise(net, X, y, batch_size=0)
    with pytest.raises(ValueError, match="num_outputs"):
        softmax_net(2, 0)


def test_a_column_of_labels_is_taken_as_the_vector():
    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(120, 4, generator=g), torch.randint(0, 3, (120,), generator=g)
    runs = []
    for labels in (y, y[:, None]):
        net = softmax_net(4, 3, generator=torch.Generator().manual_seed(0))
        fit = train_softmax_concise(
            net, X, labels, X[:40], labels[:40], batch_size=32, epochs=2,
            generator=torch.Generator().manual_seed(1),
        )  # fmt: skip
        runs.append((net[1].weight.detach().clone(), fit.history))
    torch.testing.assert_close(runs[1][0], runs[0][0], rtol=0, atol=0)
    assert runs[1][1] == runs[0][1]
    with torch.no_grad():
        O = net(X)
    loss, acc = evaluate_net(net, X, y[:, None])
    assert loss == pytest.approx(float(F.cross_entropy(O, y)), rel=1e-5)
    assert acc == pytest.approx(accuracy_score(y, O.argmax(1)))
