r"""Two distributed trainers simulated in one process: a parameter server and ring all-reduce.

Each of ``N`` simulated workers holds an equal share of every minibatch and computes the
gradient of the mean squared loss on it; the trainers differ only in how the ``N`` gradients
become one average, and in the bytes each worker sends per step (``d`` parameters of
``itemsize`` bytes):

* **parameter server**: every worker sends its gradient to the server (``d`` values) and
  receives the updated parameters; a worker sends :math:`d \cdot \text{itemsize}` bytes,
  independent of ``N`` — but the server receives ``N`` times that.
* **ring all-reduce**: the gradient is cut into ``N`` chunks; ``N − 1`` reduce-scatter steps
  and ``N − 1`` all-gather steps pass one chunk to the right neighbour each, so a worker
  sends :math:`2\frac{N-1}{N} d \cdot \text{itemsize}` bytes, and no node is a bottleneck.

With equal shares the average of the workers' mean gradients is the minibatch's mean
gradient, so both trainers take exactly the steps of single-process minibatch SGD.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bytes_per_step", "ring_allreduce", "train_data_parallel"]


def _grad(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of the mean of ½(Xθ − y)² (the bias is a column of ones in ``X``)."""
    return X.T @ (X @ theta - y) / len(y)


def ring_allreduce(vectors: list[np.ndarray]) -> tuple[list[np.ndarray], list[int]]:
    """Sum ``vectors`` (one per worker) around a ring; return every worker's sum and bytes sent.

    Examples
    --------
    >>> sums, sent = ring_allreduce([np.arange(4.0), np.ones(4), 2 * np.ones(4), np.zeros(4)])
    >>> sums[2].tolist(), sent
    ([3.0, 4.0, 5.0, 6.0], [48, 48, 48, 48])
    """
    n = len(vectors)
    chunks = [np.array_split(v.astype(np.float64), n) for v in vectors]
    sent = [0] * n
    for step in range(n - 1):  # reduce-scatter: worker i passes chunk (i - step) to i + 1
        outgoing = [(i, (i - step) % n, chunks[i][(i - step) % n].copy()) for i in range(n)]
        for i, c, data in outgoing:
            chunks[(i + 1) % n][c] = chunks[(i + 1) % n][c] + data
            sent[i] += data.nbytes
    for step in range(n - 1):  # all-gather: worker i passes its finished chunk (i + 1 - step)
        outgoing = [(i, (i + 1 - step) % n, chunks[i][(i + 1 - step) % n].copy()) for i in range(n)]
        for i, c, data in outgoing:
            chunks[(i + 1) % n][c] = data
            sent[i] += data.nbytes
    return [np.concatenate(c) for c in chunks], sent


def bytes_per_step(method: str, d: int, num_workers: int, itemsize: int = 8) -> float:
    """Bytes one worker sends per step: ``d·itemsize`` (server) or ``2(N−1)/N·d·itemsize`` (ring).

    Examples
    --------
    >>> bytes_per_step("ring", 1000, 4), bytes_per_step("parameter_server", 1000, 4)
    (12000.0, 8000.0)
    """
    if method == "ring":
        return 2 * (num_workers - 1) / num_workers * d * itemsize
    if method == "parameter_server":
        return float(d * itemsize)
    raise ValueError(f"method must be 'ring' or 'parameter_server', got {method!r}")


def train_data_parallel(
    X: np.ndarray, y: np.ndarray, *, method: str = "ring", num_workers: int = 4,
    lr: float = 0.03, batch_size: int = 40, epochs: int = 2, seed: int = 0,
) -> tuple[np.ndarray, list[list[int]]]:  # fmt: skip
    """Minibatch SGD on linear regression with ``num_workers`` simulated workers.

    Each minibatch is split into ``num_workers`` equal shares (``batch_size`` must be a
    multiple of it; a shorter last batch is dropped). ``seed`` fixes the batch order, the
    same as single-process SGD with that seed. Returns the parameters (weights, then bias)
    and, per step, the bytes each worker sent (for the ring they average to
    :func:`bytes_per_step`; they are all equal to it when ``N`` divides ``d``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> theta, sent = train_data_parallel(X, X @ [2.0, -3.4] + 4.2, lr=0.1, epochs=20)
    >>> np.round(theta, 3).tolist(), sent[0], bytes_per_step("ring", 3, 4)
    ([2.0, -3.4, 4.2], [32, 40, 40, 32], 36.0)
    """
    if batch_size % num_workers:
        raise ValueError(f"batch_size {batch_size} is not a multiple of {num_workers} workers")
    A = np.hstack([np.asarray(X, dtype=np.float64), np.ones((len(X), 1))])
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    theta = np.zeros(A.shape[1])
    rng = np.random.default_rng(seed)
    traffic: list[list[int]] = []
    for _ in range(epochs):
        order = rng.permutation(len(A))
        for start in range(0, len(A) - batch_size + 1, batch_size):
            shares = np.split(order[start : start + batch_size], num_workers)
            grads = [_grad(A[s], y[s], theta) for s in shares]
            if method == "ring":
                sums, sent = ring_allreduce(grads)
                theta = theta - lr * sums[0] / num_workers
            elif method == "parameter_server":
                sent = [g.nbytes for g in grads]  # each worker pushes its gradient
                theta = theta - lr * np.sum(grads, axis=0) / num_workers  # the server's step
            else:
                raise ValueError(f"method must be 'ring' or 'parameter_server', got {method!r}")
            traffic.append(sent)
    return theta, traffic
