"""The design matrix of numeric columns and one-hot encoded categories, written directly.

A design without a formula (text columns one-hot encoded with treatment coding, numeric
columns as they are; see :mod:`torchlinear.data.design`) is simple enough to be written
straight into a NumPy array: a numeric column is copied, a categorical one sets a single
1 per row in the column of its level (none for the reference level). formulaic builds the
same matrix through a pandas frame whose cost grows with the number of columns, about half
a second for a chunk of a design of a few thousand columns whatever its rows; written
directly, it costs the zeros and one write per row and column read.

A :class:`OneHotPlan` is only used once it has been checked to give exactly formulaic's
matrix on the prototype frame the design was built from (every level of every category,
distinct numbers in every numeric column): any other formula keeps formulaic's encoding.

Examples
--------
>>> plan = OneHotPlan([("x", None), ("color", 3)])
>>> plan.n_columns
3
>>> plan.encode({"x": np.array([1.5, 2.5]), "color": np.array([2, 0])}, 2).tolist()
[[1.5, 0.0, 1.0], [2.5, 0.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["OneHotPlan"]


class OneHotPlan:
    """Where each raw column goes in the design matrix.

    Parameters
    ----------
    terms : sequence of (str, int or None)
        In the order of the design's columns: a numeric variable (``None``: one column,
        its values) or a categorical one with its number of levels (one column per level
        after the first, the reference, which is all zeros).
    """

    def __init__(self, terms: Sequence[tuple[str, int | None]]) -> None:
        self.terms = [(str(name), levels) for name, levels in terms]
        self.offsets: list[int] = []
        width = 0
        for _, levels in self.terms:
            self.offsets.append(width)
            width += 1 if levels is None else max(0, levels - 1)
        self.n_columns = width

    def encode(self, values: Mapping[str, np.ndarray], n_rows: int) -> np.ndarray:
        """The ``(n_rows, n_columns)`` float64 design matrix (C order) of ``values``: float
        numbers for a numeric variable, level codes for a categorical one (``0`` the
        reference, ``-1`` no level: a row of zeros)."""
        X = np.zeros((n_rows, self.n_columns))
        rows = np.arange(n_rows)
        for (name, levels), offset in zip(self.terms, self.offsets, strict=True):
            column = values[name]
            if levels is None:
                X[:, offset] = column
                continue
            codes = np.asarray(column, dtype=np.int64)
            hit = codes > 0
            X[rows[hit], offset + codes[hit] - 1] = 1.0
        return X

    @classmethod
    def checked(
        cls,
        terms: Sequence[tuple[str, int | None]],
        prototype: Mapping[str, np.ndarray],
        n_rows: int,
        expected: np.ndarray,
    ) -> OneHotPlan | None:
        """The plan of ``terms`` if it writes exactly ``expected`` (formulaic's matrix of
        the ``prototype`` values, without the intercept); otherwise None.

        >>> proto = {"c": np.array([0, 1, 2])}
        >>> OneHotPlan.checked([("c", 3)], proto, 3, np.array([[0, 0], [1, 0], [0, 1.0]]))
        ... # doctest: +ELLIPSIS
        <...OneHotPlan object at ...>
        >>> OneHotPlan.checked([("c", 3)], proto, 3, np.eye(3)) is None
        True
        """
        plan = cls(terms)
        if expected.shape != (n_rows, plan.n_columns):
            return None
        if not np.array_equal(plan.encode(prototype, n_rows), expected):
            return None
        return plan
