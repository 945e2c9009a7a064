"""The memory budget: one limit for every allocation planned from headers and shapes.

The budget covers the exact solver's d x d statistics, a reader's chunk, parameter
tensors and summary tables; :func:`check_memory` refuses, with one line, what would
exceed it. It is, in order of
precedence: the ``limit`` passed to the call, the module-level setting
(:func:`set_memory_limit`, or :func:`memory_limit` for a block of code), the
``TORCHLINEAR_MEMORY_LIMIT`` environment variable, else :data:`MEMORY_FRACTION` of the
memory available to the process.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from typing import Any

from torchlinear._validation import ParameterError

__all__ = [
    "MEMORY_FRACTION",
    "available_memory",
    "check_memory",
    "format_bytes",
    "memory_budget",
    "memory_limit",
    "parse_memory_size",
    "set_memory_limit",
]

#: Share of the available memory that planned allocations may take when no limit is set.
MEMORY_FRACTION: float = 0.5
_memory_limit_setting: int | None = None
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_memory_size(name: str, value: Any) -> int:
    """A number of bytes from an int or a size such as ``"800M"``, ``"1.5G"`` or ``"2GB"``
    (binary units: K = 1024), or :class:`ParameterError` naming ``name``.

    Examples
    --------
    >>> parse_memory_size("memory_limit", "800M"), parse_memory_size("memory_limit", 4096)
    (838860800, 4096)
    >>> parse_memory_size("memory_limit", "lots")
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: memory_limit must be a positive number of bytes, \
such as 800M or 2G, got 'lots'
    """
    number: float | None = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().removesuffix("ib").removesuffix("b")
        unit = text[-1:] if text[-1:] in _SIZE_UNITS and text[-1:].isalpha() else ""
        try:
            number = float(text[: len(text) - len(unit)]) * _SIZE_UNITS[unit]
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < 1:
        raise ParameterError(
            name,
            "{param} must be a positive number of bytes, such as 800M or 2G, got {value!r}",
            value=value,
        )
    return int(number)


def available_memory() -> int:
    """Bytes of memory available to this process: ``MemAvailable`` of ``/proc/meminfo``
    (else free pages times the page size; else 4 GiB), capped by what ``RLIMIT_AS`` leaves
    of the address space when it is set.

    Examples
    --------
    >>> available_memory() > 0
    True
    """
    found = 4 << 30
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        try:
            found = int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        # POSIX only: the address-space limit (absent on Windows)
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY and soft > 0:
            found = min(found, max(0, int(soft) - _address_space_in_use()))
    except (ImportError, OSError, ValueError):
        pass
    return found


def _address_space_in_use() -> int:
    """Bytes of address space this process holds (its libraries, stacks and heap), which
    an ``RLIMIT_AS`` counts too; 0 where the system does not say."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[0])
        return pages * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def set_memory_limit(limit: int | str | None) -> int | None:
    """Set the memory budget of every later fit and read (``None``: back to the default);
    returns the previous setting.

    Examples
    --------
    >>> previous = set_memory_limit("2G")
    >>> memory_budget()
    2147483648
    >>> set_memory_limit(previous)
    2147483648
    """
    global _memory_limit_setting
    previous = _memory_limit_setting
    _memory_limit_setting = None if limit is None else parse_memory_size("memory_limit", limit)
    return previous


class memory_limit:  # noqa: N801 - used as a function: ``with memory_limit("1G"):``
    """A block of code with its own memory budget (``None`` keeps the current one).

    Examples
    --------
    >>> with memory_limit("256M"):
    ...     memory_budget()
    268435456
    """

    def __init__(self, limit: int | str | None) -> None:
        self.limit = None if limit is None else parse_memory_size("memory_limit", limit)
        self.previous: int | None = None

    def __enter__(self) -> int:
        global _memory_limit_setting
        self.previous = _memory_limit_setting
        if self.limit is not None:
            _memory_limit_setting = self.limit
        return memory_budget()

    def __exit__(self, *exc: object) -> None:
        global _memory_limit_setting
        _memory_limit_setting = self.previous


def memory_budget(limit: int | str | None = None) -> int:
    """The bytes that planned allocations may take: ``limit`` when given, else the
    module-level setting (:func:`set_memory_limit`, :class:`memory_limit`), else
    ``$TORCHLINEAR_MEMORY_LIMIT``, else :data:`MEMORY_FRACTION` of :func:`available_memory`.

    Examples
    --------
    >>> memory_budget(1 << 20), memory_budget("64K")
    (1048576, 65536)
    >>> memory_budget() > 0
    True
    """
    if limit is not None:
        return parse_memory_size("memory_limit", limit)
    if _memory_limit_setting is not None:
        return _memory_limit_setting
    env = os.environ.get("TORCHLINEAR_MEMORY_LIMIT")
    if env:
        try:
            return parse_memory_size("memory_limit", env)
        except ValueError:  # not the parameter's value: name the variable it came from
            raise ValueError(
                "the environment variable TORCHLINEAR_MEMORY_LIMIT must be a positive number "
                f"of bytes, such as 800M or 2G, got {env!r}; correct it or unset it"
            ) from None
    return int(MEMORY_FRACTION * available_memory())


def format_bytes(n: float) -> str:
    """``3.2 GB``: a byte count in decimal units, three significant digits.

    Examples
    --------
    >>> format_bytes(3.2e9), format_bytes(800), format_bytes(123_456_789)
    ('3.2 GB', '800 bytes', '123 MB')
    """
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def check_memory(
    need: int,
    quantity: str,
    what: str,
    *,
    advice: str = "",
    suggestions: Iterable[tuple[str, Any]] = (),
    limit: int | str | None = None,
) -> int:
    """Refuse, before allocating, ``need`` bytes beyond the :func:`memory_budget`.

    The one check behind every planned allocation. The :class:`ParameterError` (a
    ``ValueError`` whose parameter is ``memory_limit``) reads "``quantity`` need
    ``need`` for ``what``, above the memory budget of ...; ``advice``". ``advice`` is a
    :class:`ParameterError` template: ``{0}``, ``{1}``, ... are the ``suggestions``
    (``(parameter, value)`` pairs), ``{solver}`` spells the parameter ``solver``.
    Returns ``need``.

    Examples
    --------
    >>> check_memory(1000, "10 columns", "the statistics", limit=4096)
    1000
    >>> check_memory(3_200_000_000, "20,000 columns", "the exact solver's statistics",
    ...              advice="use {0} or select columns", suggestions=[("solver", "sgd")],
    ...              limit="1G")
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: 20,000 columns need 3.2 GB for the exact solver's \
statistics, above the memory budget of 1.07 GB (memory_limit); use solver='sgd' or select columns
    """
    budget = memory_budget(limit)
    need = int(need)
    if need > budget:
        tail = f"; {advice}" if advice else ""
        raise ParameterError(
            "memory_limit",
            "{quantity} need {need} for {what}, above the memory budget of {budget} "
            "({param})" + tail,
            value=budget,
            suggestions=suggestions,
            quantity=quantity,
            need=format_bytes(need),
            what=what,
            budget=format_bytes(budget),
        )
    return need
