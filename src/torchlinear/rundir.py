r"""A run folder written as a transaction: staging, a lock, an atomic swap.

A fit never writes into ``out`` itself. Beside it, in the same parent folder, live

``.NAME.lock``
    held (``flock``) for the whole fit: a second fit into the same folder fails at once
    with one line instead of mixing its files with the first one's. The kernel releases
    the lock when the process ends, however it ends.
``.NAME.partial/``
    the staging folder. Everything the fit writes (its checkpoint, then the model,
    metrics, report and figures) goes here; when it is complete it is swapped into
    place with one ``rename`` (an atomic exchange with the previous run where the system
    offers one, ``renameat2(RENAME_EXCHANGE)`` on Linux), and the previous run is deleted.

So ``out`` always holds either the previous complete run or the new complete run. A fit
that fails leaves ``out`` as it was and removes its staging folder; one that is
interrupted (Ctrl-C, SIGTERM, or killed) leaves the staging folder with the last
checkpoint, which ``resume`` continues. A checkpoint belongs to its run: the staging
folder's while the run is under way, ``out/checkpoint`` once it is complete (a complete
run of gradient training can be continued with more epochs).

An existing ``out`` that is not empty is refused unless ``overwrite`` (or ``resume``,
which continues the run it holds); ``overwrite`` replaces the whole folder, so no file of
the previous run survives, and it only ever replaces a run folder (one holding a
torchlinear ``model.json``, or a checkpoint) that holds nothing but what a fit writes
(:data:`RUN_ENTRIES` and the weights), never a folder of other files.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import time
from collections.abc import Collection
from pathlib import Path

from torchlinear._format import format_names
from torchlinear._validation import ParameterError, resolved_path
from torchlinear.io import read_json_bounded

__all__ = ["DemoFolder", "RunFolder", "default_run_dir", "exchange_paths", "run_stamp"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; return False when the system cannot.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "a").mkdir(); (root / "b").mkdir(); (root / "a" / "x").touch()
    >>> exchange_paths(root / "a", root / "b") and (root / "b" / "x").exists()  # doctest: +SKIP
    True
    """
    name = ctypes.util.find_library("c")
    if name is None or not hasattr(os, "fsencode"):
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), str(a))


#: What a fit writes into its run folder: nothing else is ever replaced or deleted.
RUN_ENTRIES = frozenset(
    {
        "model.json",
        "metrics.json",
        "report.md",
        "checkpoint",
        "cv_path.csv",
        "coef_path.csv",
        "loss_curves.png",
        "predicted_vs_actual.png",
        "residuals.png",
        "confusion_matrix.png",
        "weight_templates.png",
        "coefficient_path.png",
        "cv_curve.png",
    }
)
_WEIGHTS = re.compile(r"model(-[0-9a-f]{12})?\.safetensors")
_WRITING = re.compile(r"\..+\.[^.]+\.tmp")  # a file being written (torchlinear.io.atomic_write)


def _is_model_file(path: Path) -> bool:
    """Whether ``path`` is a torchlinear model file (not any file named model.json)."""
    try:
        document = read_json_bounded(path, "model file")
    except (OSError, ValueError):  # a FIFO or device, too large or deep, not JSON
        return False
    return isinstance(document, dict) and document.get("format") == "torchlinear"


def _is_run(folder: Path) -> bool:
    return _is_model_file(folder / "model.json") or _has_checkpoint(folder)


def _has_checkpoint(folder: Path) -> bool:
    return _is_model_file(folder / "checkpoint" / "model.json")


def _checkpoint_damage(folder: Path) -> str | None:
    """Why ``folder``'s checkpoint cannot be resumed, when it has a checkpoint folder whose
    model file is missing or unreadable; ``None`` when it has none (or a good one)."""
    model = folder / "checkpoint" / "model.json"
    if not (folder / "checkpoint").is_dir() or _has_checkpoint(folder):
        return None
    if not model.exists():
        return "it holds no model.json"
    try:
        read_json_bounded(model, "model file")
    except (OSError, ValueError) as exc:
        return str(exc)
    return "its model.json is not a torchlinear model file"


def _foreign(folder: Path) -> list[str]:
    """The entries of a run folder that no fit writes (a replaced run would lose them)."""
    return sorted(
        e.name
        for e in folder.iterdir()
        if e.name not in RUN_ENTRIES and not _WEIGHTS.fullmatch(e.name)
    )


def _written_by_a_fit(folder: Path) -> bool:
    """Whether ``folder`` is a staging or swapped-out run folder: a real folder holding only
    what a fit writes (possibly nothing yet, or a file it was writing when it stopped)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    return all(_WRITING.fullmatch(name) for name in _foreign(folder))


def run_stamp() -> str:
    """The local time to the second, as default run folders are named: ``20250131-235959``."""
    return time.strftime("%Y%m%d-%H%M%S")


def default_run_dir(prefix: str, root: str | os.PathLike[str] = "runs") -> Path:
    """``<root>/<prefix>-<YYYYmmdd-HHMMSS>``: the name a run folder opened with
    ``fresh=True`` starts from (``-2``, ``-3``, ... are appended if it is taken).

    Examples
    --------
    >>> default_run_dir("fit").parent, default_run_dir("fit").name.startswith("fit-2")
    (PosixPath('runs'), True)
    """
    return Path(root) / f"{prefix}-{run_stamp()}"


_MAX_SUFFIX = 10_000


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class RunFolder:
    """The transaction that writes one run folder (see the module notes).

    Parameters
    ----------
    out : path-like
        The run folder.
    overwrite : bool
        Replace a run already in ``out``.
    resume : bool
        Continue the interrupted run in the staging folder, or the complete run in
        ``out``.
    fresh : bool, default False
        ``out`` is a default name (:func:`default_run_dir`) and the run must be new: if
        another run took it (it exists, or another fit holds its lock, as two fits
        started in the same second do), the first free of ``out-2``, ``out-3``, ... is
        used instead, chosen under its lock so that no two fits can take the same one.
        :attr:`path` is the name taken.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> with RunFolder(out, overwrite=False, resume=False) as run:
    ...     _ = (run.staging / "model.json").write_text("{}")
    ...     run.commit()
    >>> sorted(p.name for p in out.iterdir())
    ['model.json']
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        overwrite: bool,
        resume: bool,
        fresh: bool = False,
    ) -> None:
        self.first = Path(out)
        self._name(self.first)
        self.suffix = 1  # the run is out itself; n: it is out-n (a fresh run's name taken)
        self.overwrite, self.resume, self.fresh = overwrite, resume, fresh
        self.created = False  # whether this fit made the staging folder
        self._fd: int | None = None
        self.committed = False

    def _name(self, out: Path) -> None:
        """Point every path of the transaction at the run folder ``out``."""
        self.path = out  # as the user (or the default) wrote it
        self.shown = str(out)  # for the messages
        if out.is_symlink():
            out = resolved_path("out", out)
        self.out = Path(os.path.abspath(out))
        parent, name = self.out.parent, self.out.name
        self.lock_path = parent / f".{name}.lock"
        self.staging = parent / f".{name}.partial"
        self.trash = parent / f".{name}.old"

    def take(self, suffix: int) -> None:
        """Name the run as the process that chose it did (``suffix`` 1: ``out`` itself;
        ``n``: ``out-n``), without opening it (the other ranks of a ``torchrun`` job)."""
        first = self.first
        self._name(first if suffix == 1 else first.with_name(f"{first.name}-{suffix}"))
        self.suffix = suffix

    def acquire(self) -> None:
        """Take the lock, or refuse with one line if another fit holds it (a fresh run:
        take the first free name, see the class notes)."""
        try:
            if self.fresh:
                self._claim()
            elif not self._acquire():
                raise self._busy()
        except OSError as exc:
            raise ParameterError(
                "out",
                "{param} {path!r} is not writable ({reason}); choose another folder",
                path=self.shown,
                reason=exc.strerror or exc,
            ) from exc

    def _claim(self) -> None:
        """Lock the first name of ``out``, ``out-2``, ... that no run has: nothing is at
        it (a run, a staging folder, a swap's leftover) once its lock is held."""
        for n in range(1, _MAX_SUFFIX + 1):
            self.take(n)
            if not self._acquire():
                continue  # another fit, started in the same second, is writing it
            if not any(p.exists() or p.is_symlink() for p in (self.out, self.staging, self.trash)):
                return
            self.release()
        raise ParameterError(
            "out",
            "{param}: {path!r} and the {count:,} names after it are all taken; choose {param}",
            path=str(self.first),
            count=_MAX_SUFFIX - 1,
        )

    def _acquire(self) -> bool:
        """Take the lock; False if another process holds it."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # no flock: an exclusive create (a crash leaves it behind)
            try:
                self._fd = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            except FileExistsError:
                return False
            os.write(self._fd, str(os.getpid()).encode())
            return True
        self._check_lock_file()
        while True:
            fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR | _NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the file may have been removed by its previous holder meanwhile
                same = os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def _check_lock_file(self) -> None:
        """Refuse a lock path that is not a plain file (a link, a folder): taking the lock
        writes this process's id into it, and must never write through a link."""
        lock = self.lock_path
        if lock.is_symlink() or (lock.exists() and not lock.is_file()):
            raise ParameterError(
                "out",
                "{param} {path!r}: {lock!r} is not a lock file of a fit (a link or a folder); "
                "move it away, or choose another {param}",
                path=self.shown,
                lock=str(lock),
            )

    def _check_side_folders(self) -> None:
        """Refuse a staging or swap path (``.NAME.partial``, ``.NAME.old``) that holds
        something no fit wrote: recovering or staging would delete it."""
        for side in (self.staging, self.trash):
            if (side.exists() or side.is_symlink()) and not _written_by_a_fit(side):
                raise ParameterError(
                    "out",
                    "{param} {path!r}: {side!r} holds files that no fit wrote, and a fit into "
                    "{path!r} uses that name; move it away, or choose another {param}",
                    path=self.shown,
                    side=str(side),
                )

    def _busy(self) -> ParameterError:
        try:
            pid = self.lock_path.read_text().strip()
        except OSError:
            pid = ""
        who = f" (process {pid})" if pid.isdigit() else ""
        return ParameterError(
            "out",
            "{param} {path!r} is being written by another fit{who}; wait for it to finish or "
            "choose another {param}",
            path=self.shown,
            who=who,
        )

    def release(self) -> None:
        """Release the lock (and remove its file)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
        os.close(self._fd)
        self._fd = None

    def recover(self) -> None:
        """Undo what a fit killed during its swap left behind (under the lock)."""
        if self.trash.exists():
            if not self.out.exists():
                os.rename(self.trash, self.out)
            else:
                _remove(self.trash)
        if self.staging.exists() and (self.staging / "model.json").exists():
            # a complete run: a swap's leftover (the previous run), or a new run killed
            # just before its swap; ``out`` holds a complete run either way
            _remove(self.staging)

    def check(self) -> None:
        """Refuse what this fit may not do to ``out`` or to an interrupted run."""
        out = self.out
        if out.is_dir() and _is_run(out) and _foreign(out):
            raise ParameterError(
                "out",
                "{param} {path!r} holds a run and also other files ({shown}), which "
                "replacing the run would delete; move them out, or choose another {param}",
                path=self.shown,
                shown=format_names(_foreign(out), 3),
            )
        if self.resume:
            if _has_checkpoint(self.staging):
                return
            if not _has_checkpoint(out):
                for folder in (self.staging, out):
                    damage = _checkpoint_damage(folder)
                    if damage is not None:
                        raise ParameterError(
                            "resume",
                            "{param}: the checkpoint in {path!r} cannot be resumed ({damage}); "
                            "delete that folder and run the fit again without {param}",
                            value=True,
                            path=os.path.join(
                                self.shown if folder is out else str(folder), "checkpoint"
                            ),
                            damage=damage,
                        )
                raise ParameterError(
                    "resume",
                    "{param}: there is no checkpoint to resume from in {path!r} (nor of an "
                    "interrupted fit); run the fit once without {param}",
                    value=True,
                    path=self.shown,
                )
            return
        if _has_checkpoint(self.staging) and not self.overwrite:
            raise ParameterError(
                "out",
                "{param} {path!r}: an interrupted fit left a checkpoint in {staging!r}; "
                "continue it with {0}, or start afresh with {1}",
                path=self.shown,
                staging=str(self.staging),
                suggestions=[("resume", True), ("overwrite", True)],
            )
        if out.is_dir() and any(out.iterdir()):
            if not _is_run(out):
                raise ParameterError(
                    "out",
                    "{param} {path!r} is a folder of other files (no torchlinear model.json); "
                    "choose a new or empty folder",
                    path=self.shown,
                )
            if not self.overwrite:
                raise ParameterError(
                    "out",
                    "{param} {path!r} already holds a run; replace it with {0}, continue it "
                    "with {1}, or choose another {param}",
                    path=self.shown,
                    suggestions=[("overwrite", True), ("resume", True)],
                )

    def prepare(self) -> None:
        """Make the staging folder: resumed, seeded with ``out``'s checkpoint, or new."""
        if self.resume and _has_checkpoint(self.staging):
            for entry in self.staging.iterdir():  # outputs of a fit killed while writing
                if entry.name != "checkpoint":
                    _remove(entry)
            return
        _remove(self.staging)
        self.staging.mkdir()
        self.created = True
        if self.resume:
            shutil.copytree(self.out / "checkpoint", self.staging / "checkpoint")

    def open(self) -> RunFolder:
        """Lock, recover, check and prepare (release the lock on failure)."""
        self.acquire()
        try:
            self._check_side_folders()
            self.recover()
            self.check()
            self.prepare()
        except BaseException:
            self.release()
            raise
        return self

    @property
    def checkpoint(self) -> Path:
        """Where this run's checkpoint lives while the fit runs."""
        return self.staging / "checkpoint"

    def commit(self) -> None:
        """Swap the complete staging folder into place; delete the previous run."""
        _fsync_dir(self.staging)
        if not self.out.exists() and not self.out.is_symlink():
            os.rename(self.staging, self.out)
        elif exchange_paths(self.staging, self.out):
            os.rename(self.staging, self.trash)  # the previous run, now at the staging path
            _remove(self.trash)
        else:
            os.rename(self.out, self.trash)
            os.rename(self.staging, self.out)
            _remove(self.trash)
        _fsync_dir(self.out.parent)
        self.committed = True

    def abort(self, interrupted: bool) -> None:
        """After a failure: keep a resumable checkpoint of an interrupted run (or of a run
        this fit resumed), remove anything else it staged."""
        if self.committed or not self.staging.exists():
            return
        keep = _has_checkpoint(self.staging) and (interrupted or not self.created)
        if not keep:
            _remove(self.staging)

    def __enter__(self) -> RunFolder:
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None:
                self.abort(issubclass(exc_type, KeyboardInterrupt))
        finally:
            self.release()
        if exc is not None and self.named_error(exc) is not exc:
            raise self.named_error(exc) from exc

    def named_error(self, exc: BaseException) -> BaseException:
        """``exc``, or for an ``OSError`` about a file of the staging folder the same error
        naming that file in the run folder, as the user knows it (see :meth:`shown_path`)."""
        if isinstance(exc, OSError) and exc.filename is not None:
            shown = self.shown_path(exc.filename)
            if shown != os.fsdecode(exc.filename):
                return OSError(exc.errno, exc.strerror, shown)
        return exc

    def shown_path(self, path: str | os.PathLike[str]) -> str:
        """``path`` as the user knows it: a file of the staging folder is named in the run
        folder (``out/report.md``), where it would have been; any other path as it is.

        Examples
        --------
        >>> run = RunFolder("runs/houses", overwrite=False, resume=False)
        >>> run.shown_path(run.staging / "report.md")
        'runs/houses/report.md'
        """
        try:
            inside = Path(os.fsdecode(path)).relative_to(self.staging)
        except ValueError:
            return os.fsdecode(path)
        return os.path.join(self.shown, inside)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class DemoFolder(RunFolder):
    """A demo's output folder, written like a fit's run folder (staged beside it under the
    lock, then swapped into place): the previous picture of a demo in the same folder is
    replaced whole, so no stale figure survives; any other non-empty folder (a fit's
    run, a folder of other files) is refused.

    Parameters
    ----------
    out : path-like
        The folder.
    files : collection of str
        Every name a demo may write there.
    fresh : bool, default False
        A default name, to be made unique as :class:`RunFolder` does.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "demo"
    >>> with DemoFolder(out, {"results.json"}) as folder:
    ...     _ = (folder.staging / "results.json").write_text("{}")
    ...     folder.commit()
    >>> sorted(p.name for p in out.iterdir())
    ['results.json']
    """

    def __init__(
        self, out: str | os.PathLike[str], files: Collection[str], *, fresh: bool = False
    ) -> None:
        super().__init__(out, overwrite=True, resume=False, fresh=fresh)
        self.files = frozenset(files) | {"results.json"}

    def check(self) -> None:
        """Refuse a non-empty folder that is not a demo's."""
        if not self.out.is_dir():
            return
        names = {e.name for e in self.out.iterdir()}
        if names and ("results.json" not in names or not names <= self.files):
            others = sorted(names - self.files) or sorted(names)
            raise ParameterError(
                "out",
                "{param} {path!r} holds files that are not a demo's pictures ({shown}); "
                "choose a new or empty folder",
                path=self.shown,
                shown=format_names(others, 3),
            )
