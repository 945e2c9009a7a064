"""The shape of a JSON document, declared once and checked in one pass.

A model file's sidecar is read by many hands: the estimators rebuild themselves from it,
``predict``, ``evaluate`` and ``summary`` read what the fit recorded. Its checksums prove
that nobody changed it by accident, not that whoever wrote it wrote what a fit writes, so
every field is checked for its type and range before anything reads it. The parts of the
document are declared beside the code that writes them
(:data:`torchlinear.estimators.persist.MODEL_FILE`, an estimator's ``state_schema()``,
``LstsqSolution.STATE``, ``Design.SCHEMA``, ``History.SCHEMA``, the workflow's
``FIT_METADATA``) with the few types below, and :func:`check_document` walks a document
against them, so that a wrong value fails with one line naming its field, never half-way
through a command. A training checkpoint is checked the same way
(:data:`torchlinear.engine.checkpoint.CHECKPOINT`).

Examples
--------
>>> spec = Record({"rank": Int(low=0), "names": ListOf(Str())})
>>> check_document({"rank": 2, "names": ["a"]}, spec)
>>> check_document({"rank": None, "names": ["a"]}, spec)
Traceback (most recent call last):
...
torchlinear._schema.SchemaError: 'rank' must be an integer >= 0, got None
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Anything",
    "Bool",
    "Either",
    "Int",
    "ListOf",
    "MapOf",
    "Maybe",
    "Null",
    "Num",
    "Record",
    "SchemaError",
    "Spec",
    "Str",
    "Switch",
    "Tagged",
    "check_document",
]

Path = tuple[str | int, ...]


class SchemaError(ValueError):
    """A field of a document that is not what its declaration says.

    ``field`` is the field's dotted path (``"estimator.extra.solution.rank"``), ``str()``
    the one-line message: what the field must be and what it holds, after ``where`` (the
    document's name) and followed by ``advice`` when they are given.
    """

    def __init__(
        self, path: Path, expected: str, value: Any, *, where: str = "", advice: str = ""
    ) -> None:
        self.path, self.expected, self.value = path, expected, value
        self.where, self.advice = where, advice
        self.field = dotted(path)
        name = repr(self.field) if path else self.field
        text = f"{name} must be {expected}, got {shown(value)}"
        text = f"{where}: {text}" if where else text
        super().__init__(f"{text}; {advice}" if advice else text)

    def located(self, where: str, advice: str = "") -> SchemaError:
        """The same error, its message naming the document and saying what to do."""
        return SchemaError(self.path, self.expected, self.value, where=where, advice=advice)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole to the other torchrun ranks
        return _schema_error, (self.path, self.expected, self.value, self.where, self.advice)


def _schema_error(path: Path, expected: str, value: Any, where: str, advice: str) -> SchemaError:
    return SchemaError(path, expected, value, where=where, advice=advice)


def dotted(path: Path) -> str:
    """``("a", 0, "b")`` as ``"a[0].b"``; the empty path is ``"the document"``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the document"


def shown(value: Any, limit: int = 60) -> str:
    """A short ``repr`` of a value for a message (containers by their size)."""
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        names = ", ".join(shown(k, 20) for k in list(value)[:3])
        return f"an object with field(s) {names}" + (", ..." if len(value) > 3 else "")
    if isinstance(value, list):
        return f"a list of {len(value)} value(s)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Spec:
    """What a value must be: :meth:`check` raises :class:`SchemaError` if it is not."""

    #: The value's description in a message ("an integer >= 0").
    expected = "a value"

    def check(self, value: Any, path: Path) -> None:
        if not self.accepts(value):
            raise SchemaError(path, self.expected, value)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` itself (not its members) is of this kind."""
        return True


@dataclass(frozen=True)
class Anything(Spec):
    """Any JSON value."""

    expected: str = "a JSON value"


@dataclass(frozen=True)
class Null(Spec):
    """``null`` alone."""

    expected: str = "null"

    def accepts(self, value: Any) -> bool:
        return value is None


@dataclass(frozen=True)
class Bool(Spec):
    """``true`` or ``false``."""

    expected: str = "true or false"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)


def _bounds(low: float | None, high: float | None, above: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if above else '>='} {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    return " " + " and ".join(parts) if parts else ""


@dataclass(frozen=True)
class Int(Spec):
    """An integer (not a boolean) in ``[low, high]``."""

    low: int | None = None
    high: int | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "an integer" + _bounds(self.low, self.high, False)

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
        )


@dataclass(frozen=True)
class Num(Spec):
    """A number (an integer or a float, not a boolean) in ``[low, high]`` (``(low, high]``
    with ``above``); ``nan`` (JSON's ``NaN``) only with ``nan``; infinities only within
    the bounds, and never when ``finite``."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    nan: bool = False
    finite: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        kind = "a finite number" if self.finite else "a number"
        return kind + _bounds(self.low, self.high, self.above) + (" or NaN" if self.nan else "")

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if math.isnan(value):
            return self.nan
        if self.finite and math.isinf(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high


@dataclass(frozen=True)
class Str(Spec):
    """A string, one of ``choices`` when they are given."""

    choices: tuple[str, ...] | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.choices is None:
            return "a string"
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and (self.choices is None or value in self.choices)


@dataclass(frozen=True)
class Maybe(Spec):
    """``null`` or a value of ``spec``."""

    spec: Spec

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.spec.expected} or null"

    def check(self, value: Any, path: Path) -> None:
        if value is not None:
            if not self.spec.accepts(value):
                raise SchemaError(path, self.expected, value)
            self.spec.check(value, path)


@dataclass(frozen=True)
class Either(Spec):
    """A value of the first of ``specs`` whose kind it is (then checked in full);
    ``called`` names the union in messages (default: its kinds joined by "or")."""

    specs: tuple[Spec, ...]
    called: str = ""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.called or " or ".join(s.expected for s in self.specs)

    def accepts(self, value: Any) -> bool:
        return any(s.accepts(value) for s in self.specs)

    def check(self, value: Any, path: Path) -> None:
        for spec in self.specs:
            if spec.accepts(value):
                spec.check(value, path)
                return
        raise SchemaError(path, self.expected, value)


@dataclass(frozen=True)
class ListOf(Spec):
    """A list of values of ``item``, of ``min_len`` to ``max_len`` values."""

    item: Spec = field(default_factory=Anything)
    min_len: int = 0
    max_len: int | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.min_len == self.max_len:
            size = f" ({self.min_len})"
        elif self.max_len is None:
            size = f" (at least {self.min_len})" if self.min_len else ""
        else:
            size = f" ({self.min_len} to {self.max_len})"
        return f"a list of {_plural(self.item.expected)}{size}"

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, list)
            and len(value) >= self.min_len
            and (self.max_len is None or len(value) <= self.max_len)
        )

    def check(self, value: Any, path: Path) -> None:
        super().check(value, path)
        for i, item in enumerate(value):
            self.item.check(item, (*path, i))


def _plural(expected: str) -> str:
    """``an integer >= 0`` -> ``integers >= 0`` (for "a list of ...")."""
    words = expected.split(" ", 2)
    if words[0] in ("a", "an") and len(words) > 1:
        rest = f" {words[2]}" if len(words) > 2 else ""
        return f"{words[1]}s{rest}"
    return expected


@dataclass(frozen=True)
class MapOf(Spec):
    """An object whose every field holds a value of ``value``."""

    value: Spec = field(default_factory=Anything)

    expected: str = "an object"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: Path) -> None:
        super().check(value, path)
        for key, item in value.items():
            self.value.check(item, (*path, key))


@dataclass(frozen=True)
class Record(Spec):
    """An object with the declared ``fields``: each required unless in ``optional``;
    others refused unless ``others`` gives their kind (e.g. :class:`Anything`)."""

    fields: Mapping[str, Spec]
    optional: Iterable[str] = ()
    others: Spec | None = None

    expected: str = "an object"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: Path) -> None:
        super().check(value, path)
        optional = set(self.optional)
        for key, spec in self.fields.items():
            if key in value:
                spec.check(value[key], (*path, key))
            elif key not in optional:
                raise SchemaError((*path, key), spec.expected, _MISSING)
        for key, item in value.items():
            if key not in self.fields:
                if self.others is None:
                    where = repr(dotted(path)) if path else "the document"
                    raise SchemaError((*path, key), f"absent (not a field of {where})", item)
                self.others.check(item, (*path, key))


class _Missing:
    def __repr__(self) -> str:
        return "nothing (the field is missing)"


_MISSING = _Missing()


@dataclass(frozen=True)
class Switch(Spec):
    """An object checked against the spec that the value of its field ``key`` selects
    (``cases[value]``); a value not in ``cases`` is refused."""

    key: str
    cases: Mapping[str, Spec] | Callable[[], Mapping[str, Spec]]

    expected: str = "an object"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict)

    def check(self, value: Any, path: Path) -> None:
        super().check(value, path)
        cases = self.cases() if callable(self.cases) else self.cases
        tag = value.get(self.key, _MISSING)
        if not isinstance(tag, str) or tag not in cases:
            raise SchemaError((*path, self.key), Str(tuple(cases)).expected, tag)
        cases[tag].check(value, path)


@dataclass(frozen=True)
class Tagged(Spec):
    """An object that holds exactly one of the keys of ``cases`` (its kind, as in
    ``{"value": 1.5}`` or ``{"tensor": "coef"}``), checked against that key's spec."""

    cases: Mapping[str, Spec]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "an object with one of the fields " + ", ".join(repr(k) for k in self.cases)

    def accepts(self, value: Any) -> bool:
        return isinstance(value, dict) and sum(k in value for k in self.cases) == 1

    def check(self, value: Any, path: Path) -> None:
        super().check(value, path)
        kind = next(k for k in self.cases if k in value)
        self.cases[kind].check(value, path)


def check_document(document: Any, spec: Spec) -> None:
    """Check ``document`` against ``spec``; raise :class:`SchemaError` at the first field
    that does not match (see the module notes)."""
    spec.check(document, ())
