"""The one validation split: a keyed hash of the global row index.

Row :math:`i` (counted from 0 in data order) is held out when :math:`u(s, i) < f`, where
:math:`u` is the SplitMix64 hash of :math:`i` keyed by the seed :math:`s`, read as a number
in :math:`[0, 1)` (:func:`holdout_mask`). The held-out rows are therefore the same however
the data is read — in memory, in chunks of any size, streamed every epoch, sharded across
ranks — and about a fraction :math:`f` of the rows. The training engine
(``TrainConfig(val_split=...)``) and ``torchlinear fit --val-split`` both use it.
:class:`Sample` draws a fixed-size uniform sample of rows by the same hash.
"""

from __future__ import annotations

import numpy as np

from torchlinear._validation import check_fraction

__all__ = ["Sample", "holdout_mask", "keyed_uniform"]

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



class Sample:
    """A fixed-size uniform sample of rows (the ``capacity`` smallest keyed hashes), for
    figures of data that is only streamed. It does not depend on the chunking."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity, self.seed = capacity, seed
        self.keys = np.empty(0)
        self.rows = np.empty(0, dtype=np.int64)
        self.X: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def add(self, rows: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        if self.capacity == 0 or len(rows) == 0:
            return
        keys = keyed_uniform(rows, self.seed, 1)
        if len(self.keys) >= self.capacity:
            keep = keys < self.keys.max()
            if not keep.any():
                return
            rows, X, y, keys = rows[keep], X[keep], y[keep], keys[keep]
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
        self.keys, self.rows = all_keys, all_rows
        self.X, self.y = np.array(all_X), np.array(all_y)

    def arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.X is None or self.y is None:
            return None
        order = np.argsort(self.rows)
        return self.X[order], self.y[order]
