"""The one validation split: a keyed hash of the global row index.

Row :math:`i` (counted from 0 in data order) is held out when :math:`u(s, i) < f`, where
:math:`u` is the SplitMix64 hash of :math:`i` keyed by the seed :math:`s`, read as a number
in :math:`[0, 1)` (:func:`holdout_mask`). The held-out rows are therefore the same however
the data is read — in memory, in chunks of any size, streamed every epoch, sharded across
ranks — and about a fraction :math:`f` of the rows. The training engine
(``TrainConfig(val_split=...)``) and ``torchlinear fit --val-split`` both use it.
:class:`Sample` draws a fixed-size sample of rows spread evenly over the data, also a
fixed function of the row index.
"""

from __future__ import annotations

import numpy as np

from torchlinear._validation import check_fraction

__all__ = ["Sample", "holdout_mask", "keyed_uniform", "sample_keys"]

_MASK64 = (1 << 64) - 1


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser applied to ``z + golden ratio`` (uint64, wrapping)."""
    z = np.asarray(z, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def keyed_uniform(rows: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A number in [0, 1) per row index, a fixed function of (seed, stream, row)."""
    key = _splitmix64(np.array([(2 * int(seed) + stream) & _MASK64], dtype=np.uint64))
    z = _splitmix64(np.asarray(rows, dtype=np.uint64) ^ key[0])
    return (z >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def holdout_mask(start: int, count: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Which of the rows ``start .. start + count - 1`` the validation split holds out.

    Row ``i`` is held out when the SplitMix64 hash of ``i`` keyed by ``seed``, read as a
    number in [0, 1), is below ``fraction``: a fixed function of the row index, so the
    split does not depend on how the data is chunked.

    Examples
    --------
    >>> mask = holdout_mask(0, 10_000, 0.2, seed=0)
    >>> round(float(mask.mean()), 2)
    0.2
    >>> bool((holdout_mask(3_000, 500, 0.2, seed=0) == mask[3_000:3_500]).all())
    True
    """
    fraction = check_fraction("val_split", fraction)
    rows = np.arange(start, start + count, dtype=np.uint64)
    if fraction == 0:
        return np.zeros(count, dtype=bool)
    return keyed_uniform(rows, seed, 0) < fraction


_WEYL = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd


def sample_keys(rows: np.ndarray, seed: int) -> np.ndarray:
    """The key of each row index for :class:`Sample`: ``(i * A + B) mod 2**64`` with ``A``
    the golden-ratio constant and ``B`` a hash of the seed.

    Read as a fraction of :math:`2^{64}` this is the Weyl sequence :math:`\\{i\\varphi^{-1} +
    \\beta\\}`, so the rows with the smallest keys are spread evenly over the data (a
    systematic sample whose spacing does not repeat), and distinct rows have distinct
    keys. One multiply-add per row: a pass over millions of rows costs milliseconds.

    Examples
    --------
    >>> keys = sample_keys(np.arange(1000), seed=0)
    >>> len(np.unique(keys))
    1000
    >>> np.sort(np.argsort(keys)[:5]).tolist() != [0, 1, 2, 3, 4]
    True
    """
    offset = _splitmix64(np.array([(2 * int(seed) + 1) & _MASK64], dtype=np.uint64))[0]
    z = np.asarray(rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        z *= _WEYL
        z += offset
    return z


class Sample:
    """A fixed-size sample of rows for figures of data that is only streamed: the
    ``capacity`` rows with the smallest :func:`sample_keys`, spread evenly over the data.

    It is a fixed function of the row indices seen, so it does not depend on how the rows
    are chunked or in which order the chunks come. A chunk costs one multiply-add and one
    comparison per row once the sample is full; only rows that enter it are copied.

    Examples
    --------
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    >>> a, b = Sample(3, seed=1), Sample(3, seed=1)
    >>> a.add(np.arange(10), X, y)
    >>> for lo in range(0, 10, 4):
    ...     b.add(np.arange(lo, min(lo + 4, 10)), X[lo : lo + 4], y[lo : lo + 4])
    >>> bool((a.arrays()[1] == b.arrays()[1]).all()), len(a.arrays()[1])
    (True, 3)
    """

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity, self.seed = capacity, seed
        self.keys = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def add(self, rows: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        """Offer the rows ``rows`` (global indices) with their ``X`` and ``y``."""
        if self.capacity == 0 or len(rows) == 0:
            return
        keys = sample_keys(rows, self.seed)
        if len(self.keys) >= self.capacity:
            keep = np.flatnonzero(keys < self.keys.max())
            if len(keep) == 0:
                return
            rows, X, y, keys = rows[keep], X[keep], y[keep], keys[keep]
        if len(keys) > self.capacity:  # bound what is copied by the capacity
            best = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            rows, X, y, keys = rows[best], X[best], y[best], keys[best]
        if self.X is None:
            all_keys, all_rows, all_X, all_y = keys, rows, X, y
        else:
            assert self.y is not None
            all_keys = np.concatenate([self.keys, keys])
            all_rows = np.concatenate([self.rows, rows])
            all_X = np.concatenate([self.X, X])
            all_y = np.concatenate([self.y, y])
        if len(all_keys) > self.capacity:
            best = np.argpartition(all_keys, self.capacity - 1)[: self.capacity]
            all_keys, all_rows, all_X, all_y = (a[best] for a in (all_keys, all_rows, all_X, all_y))
        self.keys, self.rows = all_keys, np.asarray(all_rows, dtype=np.int64)
        self.X, self.y = np.array(all_X), np.array(all_y)

    def arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The sampled ``(X, y)`` in row order, or ``None`` before any row."""
        if self.X is None or self.y is None:
            return None
        order = np.argsort(self.rows)
        return self.X[order], self.y[order]
