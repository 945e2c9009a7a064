r"""Missing values met in a pass over a file, and the one-line errors they lead to.

A pass over a :class:`~torchlinear.data.tabular.TabularSource` (or a
:class:`~torchlinear.data.design.DesignSource` over one) counts the missing or non-finite
cells of every column it reads, with the first row of each. Without ``drop_na`` any of
them is an error that counts them per column and advises ``drop_na``; with it, a pass
that keeps no row is one. A column with no value at all is named as empty instead, since
skipping rows cannot help: it is left out or filled in (an unnamed one, most often, is
made by a delimiter at the end of the header line). So is a column whose every value is
infinite or missing, with some infinite (numbers beyond ±1.8e308 are read as infinite).

Examples
--------
>>> import numpy as np
>>> missing = MissingValues("t.csv", features=["a", "b"], target="y")
>>> missing.add([("b", np.array([True, True]))], np.array([True, True]), 0)
>>> print(*str(missing.error(2)).split("; "), sep="\n")
t.csv: column 'b' is empty (no value in any of the 2 data rows)
fill it in, or leave it out, e.g. features=['a']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from torchlinear._format import format_names
from torchlinear._validation import ParameterError

__all__ = ["MissingValues"]


class MissingValues:
    """Counts of missing or non-finite cells per column over a pass, with the first row
    of each.

    Parameters
    ----------
    label : str
        How messages name the file (or the part of it).
    features : sequence of str
        The feature columns read (the formula's variables with a formula).
    target, weight : str, optional
        The target column and the column of sample weights.
    columns : sequence of str, optional
        Every column of the file, in order: an unnamed last one is a delimiter at the
        end of the header line.
    fixed : bool, default False
        The features are a fitted model's: a message never advises leaving one out.
    formula : str, optional
        The features are read by this formula: one is left out of it, not of ``features``.
    """

    def __init__(
        self,
        label: str,
        features: Sequence[str],
        target: str | None = None,
        weight: str | None = None,
        *,
        columns: Sequence[str] = (),
        fixed: bool = False,
        formula: str | None = None,
    ) -> None:
        self.label = label
        self.features = list(features)
        self.target = target
        self.weight = weight
        self.columns = list(columns)
        self.fixed = fixed
        self.formula = formula
        self.per_column: dict[str, list[int]] = {}  # name -> [count, first row (1-based)]
        self.infinite: dict[str, int] = {}  # name -> cells of +-inf among the count
        self.rows = 0

    def add(
        self,
        columns: Iterable[tuple[str, np.ndarray]],
        row_mask: np.ndarray,
        offset: int,
        infinite: Mapping[str, int] | None = None,
    ) -> None:
        """Count a chunk: ``(name, mask)`` of the missing or non-finite cells of each
        column, the mask of the rows with any, the data row number of the chunk's first
        row minus 1, and how many of a column's cells are infinite (when any are)."""
        for name, mask in columns:
            count = int(mask.sum())
            if count:
                entry = self.per_column.setdefault(name, [0, offset + int(mask.argmax()) + 1])
                entry[0] += count
        for name, count in (infinite or {}).items():
            self.infinite[name] = self.infinite.get(name, 0) + count
        self.rows += int(row_mask.sum())

    def _unusable(self, seen: int) -> ValueError | None:
        """The error for the columns without a finite value in ``seen`` rows, if any."""
        bad = [name for name, (count, _) in self.per_column.items() if seen and count == seen]
        empty = [name for name in bad if not self.infinite.get(name)]
        if empty:
            return self.empty(empty, f"any of the {seen:,} data rows")
        if bad:
            return self.empty(bad, f"any of the {seen:,} data rows", infinite=True)
        return None

    def error(self, seen: int) -> ValueError:
        """The error for the missing values of a pass over ``seen`` rows (without
        ``drop_na``): the columns without a finite value if any, else the counts and
        ``drop_na``."""
        unusable = self._unusable(seen)
        if unusable is not None:
            return unusable
        items = list(self.per_column.items())
        shown = ", ".join(
            f"column {name!r} {count} (first in data row {first})"
            for name, (count, first) in items[:6]
        )
        if len(items) > 6:
            shown += f" and {len(items) - 6} more columns"
        return ParameterError(
            "drop_na",
            "{label}: {rows} row(s) have missing or non-finite values (empty, NA, NaN or "
            "inf): {shown}; pass {0} to skip those rows, or fill them in",
            value=False,
            suggestions=[("drop_na", True)],
            label=self.label,
            rows=self.rows,
            shown=shown,
        )

    def none_left(self, seen: int, message: str) -> ValueError:
        """The error for a pass with ``drop_na`` that kept none of its ``seen`` rows: the
        empty columns if any, else ``message``."""
        unusable = self._unusable(seen)
        return unusable if unusable is not None else ValueError(message)

    def empty(self, names: Sequence[str], rows: str, *, infinite: bool = False) -> ValueError:
        """The error for columns with no value in ``rows`` ("any of the 5 data rows"); with
        ``infinite``, with no finite value there, some of them infinite."""
        label, where, state = self.label, f"no value in {rows}", "empty"
        if infinite:
            state = "not finite"
            where = (
                f"no finite value in {rows}: {sum(self.infinite[n] for n in names):,} are "
                "infinite, numbers beyond ±1.8e308 or inf"
            )
        if self.target in names:
            return ParameterError(
                "target",
                "{label}: the target column {value!r} is {state} ({where}); fill it in, or "
                "choose another {param}",
                value=self.target,
                label=label,
                state=state,
                where=where,
            )
        if self.weight in names:
            return ParameterError(
                "weight",
                "{label}: the weight column {value!r} is {state} ({where}); fill it in, or "
                "leave out {param}",
                value=self.weight,
                label=label,
                state=state,
                where=where,
            )
        names = [n for n in self.features if n in names]
        one = len(names) == 1
        if names == [""]:
            what = "the unnamed column ''"
        else:
            what = f"column {names[0]!r}" if one else f"columns {format_names(names)}"
        it = "it" if one else "them"
        if "" in names and self.columns[-1:] == [""] and not infinite:
            fix = (
                ": the header line ends with a delimiter, which makes an unnamed column; "
                "remove the delimiter at the end of the lines"
            )
        else:
            fix = f"; fill {it} in"
        template = "{label}: {what} {verb} {state} ({where})" + fix
        suggestions: list[tuple[str, Any]] = []
        if self.fixed:  # the model's column: nothing to leave out
            param = "features"
        elif self.formula is not None:
            param = "formula"
            template += f", or take {it} out of {{param}}"
        else:
            rest = [f for f in self.features if f not in names][:8]
            param, suggestions = "features", [("features", rest)] if rest else []
            template += f", or leave {it} out, e.g. {{0}}" if rest else ""
        return ParameterError(
            param,
            template,
            value=self.formula if param == "formula" else self.features,
            suggestions=suggestions,
            label=label,
            what=what,
            verb="is" if one else "are",
            state=state,
            where=where,
        )
