"""Parameter server and ring all-reduce equal single-process SGD; their bytes equal the formula."""

from __future__ import annotations

import numpy as np
import pytest

from torchlinear.scratch.parallel import bytes_per_step, ring_allreduce, train_data_parallel


def _single_process_sgd(X, y, lr, batch_size, epochs, seed):
    # An independent re-statement of minibatch SGD on ½ mean squared error.
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.zeros(A.shape[1])
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(A))
        for start in range(0, len(A) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            theta = theta - lr * A[idx].T @ (A[idx] @ theta - y[idx]) / batch_size
    return theta


@pytest.mark.parametrize("method", ["ring", "parameter_server"])
@pytest.mark.parametrize("d", [1, 3, 12])
def test_updates_equal_single_process_sgd(method, d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(400, d))
    y = X @ rng.normal(size=d) + 1.5 + 0.1 * rng.normal(size=400)
    theta, traffic = train_data_parallel(X, y, method=method, num_workers=4, lr=0.05,
                                         batch_size=40, epochs=3, seed=7)  # fmt: skip
    reference = _single_process_sgd(X, y, 0.05, 40, 3, 7)
    np.testing.assert_allclose(theta, reference, rtol=0, atol=1e-12)
    formula = bytes_per_step(method, d + 1, 4)
    for sent in traffic:
        # every worker sends the formula's bytes on average (exactly when 4 divides d + 1)
        assert sum(sent) == 4 * formula and max(sent) - min(sent) <= 2 * 8
        if method == "parameter_server" or (d + 1) % 4 == 0:
            assert sent == [formula] * 4


@pytest.mark.parametrize("workers", [2, 3, 4, 8])
def test_ring_allreduce_sums_and_counts_bytes(workers):
    rng = np.random.default_rng(workers)
    d = 8 * workers  # divisible: every chunk has d / N values
    vectors = [rng.normal(size=d) for _ in range(workers)]
    sums, sent = ring_allreduce(vectors)
    for s in sums:
        np.testing.assert_allclose(s, np.sum(vectors, axis=0), rtol=0, atol=1e-12)
    assert sent == [2 * (workers - 1) * (d // workers) * 8] * workers
    assert sent[0] == bytes_per_step("ring", d, workers)


def test_rejects_uneven_shares_and_unknown_methods():
    X, y = np.zeros((10, 1)), np.zeros(10)
    with pytest.raises(ValueError, match="not a multiple of 4 workers"):
        train_data_parallel(X, y, batch_size=10)
    with pytest.raises(ValueError, match="method must be"):
        bytes_per_step("gossip", 3, 4)
