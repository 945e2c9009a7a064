"""From a library error to the one line a command-line user reads.

The convention
--------------
The library speaks in its own parameter names. A wrong value for a parameter raises
:class:`torchlinear._validation.ParameterError` (a ``ValueError``), which carries, beside
its message,

* ``param``: the parameter at fault, as the function's signature names it;
* ``value``: the value refused;
* ``suggestions``: settings that would fix it, as ``(parameter, value)`` pairs;
* ``render(name, setting)``: the message with every parameter it mentions spelled by
  ``name(param)`` and every suggestion by ``setting(param, value)``.

Its message is a template whose fields are parameters (``{param}`` for the one at
fault, ``{l1_ratio}`` for another) and suggestions (``{0}``, ``{1}``, …), never prose
to be parsed (see ``docs/errors.md``). The library's own rendering reads
``val_split must lie in [0, 1), got 1.5; pass val_split=0 …``; this module renders the
same error as ``--val-split must lie in [0, 1), got 1.5; pass --val-split 0 …``, from
the one table :data:`FLAGS` that says how the command line spells each parameter.

Any other ``ValueError`` or ``OSError`` is a user mistake shown as it is (first line
only; an ``OSError`` on a path names the path, what went wrong and, for the usual
causes, what to do); a message that already names a flag passes through untouched. Every other
exception is a bug in torchlinear and keeps its traceback.

This module reads the error's attributes and imports nothing from the library: it is
loaded with the parsers, which must start without torch.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

__all__ = ["FLAGS", "MAX_LINE", "Flag", "fail", "is_user_error", "shorten", "spell", "user_message"]

PROG = "torchlinear"


Kind = Literal["option", "switch", "negated", "positional", "env"]


class Flag(NamedTuple):
    """How the command line spells one library parameter.

    ``kind`` is ``"option"`` (``--lr 0.1``), ``"switch"`` (``--download`` sets True),
    ``"negated"`` (``--no-progress`` sets False), ``"positional"`` (``DATA``) or ``"env"``
    (``$TORCHLINEAR_DATA``, an environment variable).

    Examples
    --------
    >>> Flag("--lr").setting(0.1), Flag("--download", "switch").setting(True)
    ('--lr 0.1', '--download')
    """

    text: str
    kind: Kind = "option"

    def setting(self, value: Any) -> str:
        """The command-line spelling of ``parameter = value``."""
        if self.kind == "switch":
            return self.text if value else f"no {self.text}"
        if self.kind == "negated":
            return f"no {self.text}" if value else self.text
        if self.kind == "env":
            return f"{self.text.removeprefix('$')}={_value(value)}"
        if self.kind == "positional":
            return _value(value)
        return f"{self.text} {_value(value)}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text.removesuffix(".0")
    if isinstance(value, list | tuple):
        return ",".join(_value(v) for v in value)
    return shlex.quote(str(value))


FLAGS: dict[str, Flag] = {
    # the data and the model
    "data": Flag("DATA", "positional"),
    "target": Flag("--target"),
    "features": Flag("--features"),
    "formula": Flag("--formula"),
    "weight": Flag("--weight"),
    "sample_weight": Flag("--weight"),  # the values of the weight column
    "max_levels": Flag("--max-levels"),
    "task": Flag("--task"),
    "model": Flag("--model"),
    "predict model": Flag("MODEL", "positional"),
    "evaluate model": Flag("MODEL", "positional"),
    "summary model": Flag("MODEL", "positional"),
    "loss": Flag("--loss"),
    "solver": Flag("--solver"),
    "alpha": Flag("--alpha"),
    "l1_ratio": Flag("--l1-ratio"),
    "positive": Flag("--positive", "switch"),
    "cv": Flag("--cv"),
    "cv_shuffle": Flag("--cv-shuffle", "switch"),
    "alphas": Flag("--alphas"),
    "n_alphas": Flag("--n-alphas"),
    "delta": Flag("--delta"),
    "hidden": Flag("--hidden"),
    # training
    "epochs": Flag("--epochs"),
    "max_iter": Flag("--epochs"),  # the estimators' name for it, in their warnings
    "batch_size": Flag("--batch-size"),
    "lr": Flag("--lr"),
    "val_split": Flag("--val-split"),
    "test_size": Flag("--test-size"),
    "patience": Flag("--patience"),
    "seed": Flag("--seed"),
    "device": Flag("--device"),
    "resume": Flag("--resume", "switch"),
    "progress": Flag("--no-progress", "negated"),
    "figures": Flag("--no-figures", "negated"),
    # reading and writing files
    "drop_na": Flag("--drop-na", "switch"),
    "delimiter": Flag("--delimiter"),
    "stream": Flag("--stream", "switch"),
    "batch_rows": Flag("--batch-rows"),
    "memory_limit": Flag("--memory-limit"),
    # the other commands take the budget from the environment only
    **{
        f"{command} memory_limit": Flag("$TORCHLINEAR_MEMORY_LIMIT", "env")
        for command in ("predict", "evaluate", "summary", "demo")
    },
    "out": Flag("--out"),
    "overwrite": Flag("--overwrite", "switch"),
    "max_classes": Flag("--max-classes"),
    "output": Flag("--output"),
    "proba": Flag("--proba", "switch"),
    "keep": Flag("--keep"),
    "interval": Flag("--interval"),
    "interval_type": Flag("--interval-type"),
    "max_rows": Flag("--max-rows"),
    "json": Flag("--json", "switch"),
    # statistics
    "cov_type": Flag("--cov"),
    # built-in datasets
    "download": Flag("--download", "switch"),
    "root": Flag("$TORCHLINEAR_DATA", "env"),
    # the linear-regression demo's problem
    "n": Flag("--n"),
    "w": Flag("--w"),
    "b": Flag("--b"),
    "noise": Flag("--noise"),
}
"""Library parameter -> its command-line spelling. A key ``"<command> <param>"`` holds a
spelling that only that command uses (``predict``'s ``model`` is the positional MODEL,
``fit``'s is ``--model``)."""


def flag(param: str, command: str | None = None) -> Flag | None:
    """The command line's spelling of ``param`` in ``command``, or None if it has none.

    Examples
    --------
    >>> flag("val_split").text, flag("model", "predict").text, flag("model", "fit").text
    ('--val-split', 'MODEL', '--model')
    """
    return FLAGS.get(f"{command} {param}") or FLAGS.get(param)


def spell(param: str, command: str | None = None) -> str:
    """How the user refers to ``param``: its flag, or the name itself if it has none.

    Examples
    --------
    >>> spell("l1_ratio"), spell("root"), spell("X")
    ('--l1-ratio', '$TORCHLINEAR_DATA', 'X')
    """
    found = flag(param, command)
    return found.text if found else param


def spell_setting(param: str, value: Any, command: str | None = None) -> str:
    """How the user sets ``param`` to ``value``.

    Examples
    --------
    >>> spell_setting("val_split", 0.0), spell_setting("download", True)
    ('--val-split 0', '--download')
    >>> spell_setting("features", ["a", "b"]), spell_setting("root", "/data")
    ('--features a,b', 'TORCHLINEAR_DATA=/data')
    """
    found = flag(param, command)
    return found.setting(value) if found else f"{param}={value!r}"


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a user mistake (one line, exit 2) rather than a bug.

    Examples
    --------
    >>> is_user_error(FileNotFoundError("data.csv")), is_user_error(TypeError("oops"))
    (True, False)
    """
    return (
        isinstance(exc, ValueError | OSError)
        or type(exc).__name__ == "RankFailedError"
        or out_of_memory(exc)
    )


def out_of_memory(exc: BaseException) -> bool:
    """Whether the system refused memory (Python's ``MemoryError``, PyTorch's allocators):
    the budget was set above what the machine, or its limits, give.

    Examples
    --------
    >>> out_of_memory(MemoryError()), out_of_memory(RuntimeError("shape mismatch"))
    (True, False)
    """
    text = str(exc)
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and ("can't allocate memory" in text or type(exc).__name__ == "OutOfMemoryError")
    )


#: What to do about the operating system's usual refusals of a path.
_OS_ADVICE = {
    errno.ENAMETOOLONG: "choose a shorter path (a name has at most 255 bytes on most systems)",
    errno.EACCES: "choose a place you may write to, or change its permissions",
    errno.EPERM: "choose a place you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only: choose a place on a writable one",
    errno.ENOSPC: "free some space, or choose a place on another disk",
    errno.EFBIG: "the file is larger than the file system or the file-size limit (ulimit -f) "
    "allows: choose a place on another file system, or raise the limit",
    errno.EDQUOT: "free some space, or choose a place on another disk",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder: name a file",
    errno.ELOOP: "the path loops through symbolic links: choose another path",
}


def user_message(exc: BaseException, command: str | None = None) -> str:
    """The one line that tells the user what was wrong, in the command line's words: a
    :class:`~torchlinear._validation.ParameterError` rendered with the flags of ``command``;
    any other error's own first line.

    Examples
    --------
    >>> from torchlinear._validation import ParameterError
    >>> user_message(ParameterError("batch_size", "{param} must be >= 1, got {value!r}",
    ...                             value=0), "fit")
    '--batch-size must be >= 1, got 0'
    >>> user_message(ValueError("no column 'price'; use --target y"), "fit")
    "no column 'price'; use --target y"
    >>> import errno
    >>> user_message(OSError(errno.EACCES, "Permission denied", "/srv/out"))
    "'/srv/out': permission denied; choose a place you may write to, or change its permissions"
    """
    render: Callable[..., str] | None = getattr(exc, "render", None)
    if out_of_memory(exc):
        return (
            "the system refused memory that the memory budget allowed (a limit such as "
            f"ulimit -v, or other programs, leave less); lower {spell('memory_limit', command)}"
            f", or free memory"
        )
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        advice = _OS_ADVICE.get(exc.errno or 0, "")
        text = f"{os.fsdecode(exc.filename)!r}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
        text += f"; {advice}" if advice else ""
    elif isinstance(getattr(exc, "param", None), str) and callable(render):
        text = render(
            name=lambda p: spell(p, command),
            setting=lambda p, v: spell_setting(p, v, command),
        )
    else:
        text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first or type(exc).__name__


MAX_LINE = 1000
"""Characters of a message the terminal gets at most: a value quoted from a hostile file
(a megabyte-long label or column name) must not flood it."""


def shorten(text: str, limit: int = MAX_LINE) -> str:
    """``text`` with its middle elided when it is longer than ``limit`` characters; the
    start (what was wrong) and the end (what to do) are kept.

    Examples
    --------
    >>> shorten("no column " + "x" * 50 + "; use --target y", limit=40)
    'no column xxxxxxxxxxxxxx … se --target y'
    """
    if len(text) <= limit:
        return text
    tail = limit // 3
    return f"{text[: limit - tail - 3]} … {text[-tail:]}"


def rank_label() -> str:
    """`` (rank r)`` in a process of a ``torchrun`` job other than rank 0, else nothing."""
    rank = os.environ.get("RANK", "0") if "WORLD_SIZE" in os.environ else "0"
    return "" if rank.strip() in ("", "0") else f" (rank {rank.strip()})"


def fail(exc: BaseException, command: str | None = None) -> int:
    """Print ``exc`` as one line on stderr and return the exit code 2.

    Under ``torchrun``, an error the ranks have shared is printed by rank 0 alone (its own,
    or the first failing rank's, labelled with that rank), so that a job reports a mistake
    once, even when only rank 0's output is shown.
    """
    label = rank_label()
    if type(exc).__name__ == "RankFailedError":
        if label:
            return 2
        failed = getattr(exc, "error", None)
        label = f" (rank {getattr(exc, 'rank', '?')})"
        exc = failed if failed is not None else exc
    elif label and getattr(exc, "torchlinear_reported_by_rank_0", False):
        return 2  # distributed.group.REPORTED_BY_RANK_0: rank 0 prints it
    from torchlinear._format import escape_control

    message = shorten(escape_control(user_message(exc, command)))
    print(f"{PROG}: error{label}: {message}", file=sys.stderr)
    return 2
