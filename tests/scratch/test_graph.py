"""The NumPy graph's gradients equal torch autograd's to 1e-10 in float64 on random problems."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchlinear.scratch import graph as g

shapes = st.tuples(st.integers(1, 12), st.integers(1, 6), st.integers(2, 5), st.integers(0, 10**6))


@settings(max_examples=30, deadline=None)
@given(shapes)
def test_linear_regression_loss_gradients_match_torch(shape):
    n, d, _, seed = shape
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=(n, 1)) * 3
    w0, b0 = rng.normal(size=(d, 1)), rng.normal(size=1)
    w, b = g.Node(w0), g.Node(b0)
    loss = g.scale(g.sum(g.square(g.add(g.add(g.matmul(g.Node(X), w), b), g.Node(-y)))), 0.5 / n)
    loss.backward()
    wt = torch.tensor(w0, requires_grad=True)
    bt = torch.tensor(b0, requires_grad=True)
    lt = ((torch.tensor(X) @ wt + bt - torch.tensor(y)) ** 2).sum() * 0.5 / n
    lt.backward()
    assert abs(loss.value.item() - lt.item()) <= 1e-10 * max(1.0, abs(lt.item()))
    np.testing.assert_allclose(w.grad, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(shapes, st.floats(0.1, 50.0))
def test_softmax_cross_entropy_gradients_match_torch(shape, spread):
    n, d, k, seed = shape
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)) * spread, rng.integers(0, k, n)
    W0, b0 = rng.normal(size=(d, k)), rng.normal(size=k)
    W, b = g.Node(W0), g.Node(b0)
    loss = g.softmax_cross_entropy(g.add(g.matmul(g.Node(X), W), b), y)
    loss.backward()
    Wt = torch.tensor(W0, requires_grad=True)
    bt = torch.tensor(b0, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(torch.tensor(X) @ Wt + bt, torch.tensor(y))
    lt.backward()
    assert abs(loss.value.item() - lt.item()) <= 1e-10 * max(1.0, abs(lt.item()))
    np.testing.assert_allclose(W.grad, Wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_a_node_used_twice_gets_both_gradients():
    x = g.Node(np.array([3.0]))
    y = g.add(g.square(x), x)  # x² + x, derivative 2x + 1 = 7
    g.sum(y).backward()
    assert x.grad.tolist() == [7.0]


def test_training_reaches_the_least_squares_and_separating_solutions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    y = X @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.normal(size=500)
    w, b, losses = g.train_linear(X, y, epochs=10)
    exact = np.linalg.lstsq(np.hstack([X, np.ones((500, 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[w, b], exact, atol=2e-3)
    assert losses[-1] < 1e-4
    labels = (X @ np.array([1.0, -1.0]) > 0).astype(int)
    W, bb, losses = g.train_softmax(X, labels, 2, lr=0.5, batch_size=50, epochs=20)
    assert ((X @ W + bb).argmax(axis=1) == labels).mean() > 0.97 and losses[-1] < losses[0]
