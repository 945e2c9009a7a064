"""The figure sample of streamed data (``data.split.Sample``): checked against a plain
Python computation of its definition, and independent of the chunking."""

import numpy as np
import pytest

from torchlinear.data.split import Sample, sample_keys

M64 = 2**64


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) % M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % M64
    return z ^ (z >> 31)


def _reference(n: int, capacity: int, seed: int) -> list[int]:
    """The rows with the ``capacity`` smallest keys (i * A + B) mod 2**64, in pure Python."""
    offset = _splitmix64((2 * seed + 1) % M64)
    keys = [((i * 0x9E3779B97F4A7C15) + offset) % M64 for i in range(n)]
    return sorted(sorted(range(n), key=keys.__getitem__)[:capacity])


def _data(n):
    X = np.arange(2.0 * n).reshape(n, 2)
    return X, X[:, 0] * 3.0 + 1.0


@pytest.mark.parametrize("seed", [0, 5])
def test_keys_match_the_definition(seed):
    rows = np.array([0, 1, 2, 10**6, 2**40 + 3])
    offset = _splitmix64((2 * seed + 1) % M64)
    expected = [((int(i) * 0x9E3779B97F4A7C15) + offset) % M64 for i in rows]
    assert sample_keys(rows, seed).tolist() == expected


@pytest.mark.parametrize("chunk", [1, 7, 100, 2_000, 5_000])
def test_sample_is_the_reference_whatever_the_chunking(chunk):
    n, capacity, seed = 5_000, 60, 3
    X, y = _data(n)
    sample = Sample(capacity, seed)
    for lo in range(0, n, chunk):
        rows = np.arange(lo, min(n, lo + chunk))
        sample.add(rows, X[rows], y[rows])
    Xs, ys = sample.arrays()
    expected = _reference(n, capacity, seed)
    np.testing.assert_array_equal(Xs[:, 0] / 2, expected)  # X[i, 0] == 2 i
    np.testing.assert_array_equal(ys, X[expected, 0] * 3.0 + 1.0)


def test_chunk_order_and_row_subsets_do_not_matter():
    n, capacity = 3_000, 40
    X, y = _data(n)
    kept = np.flatnonzero(np.arange(n) % 3 != 0)  # e.g. the rows a validation split keeps
    forward, backward = Sample(capacity, 1), Sample(capacity, 1)
    pieces = np.array_split(kept, 13)
    for rows in pieces:
        forward.add(rows, X[rows], y[rows])
    for rows in reversed(pieces):
        backward.add(rows, X[rows], y[rows])
    np.testing.assert_array_equal(forward.arrays()[0], backward.arrays()[0])
    chosen = forward.arrays()[0][:, 0] / 2
    assert len(chosen) == capacity and set(chosen) <= set(kept)


def test_sample_is_spread_over_the_rows_and_smaller_data_is_kept_whole():
    n, capacity = 100_000, 500
    X, y = _data(n)
    sample = Sample(capacity, 0)
    for lo in range(0, n, 8_192):
        rows = np.arange(lo, min(n, lo + 8_192))
        sample.add(rows, X[rows], y[rows])
    rows = sample.arrays()[0][:, 0] / 2
    gaps = np.diff(np.concatenate([[0], rows, [n]]))
    assert gaps.max() <= 3 * n / capacity  # evenly spread: no large hole
    assert np.histogram(rows, bins=10, range=(0, n))[0].min() >= 0.8 * capacity / 10
    small = Sample(capacity, 0)
    small.add(np.arange(30), X[:30], y[:30])
    np.testing.assert_array_equal(small.arrays()[1], y[:30])
    assert Sample(0, 0).arrays() is None
