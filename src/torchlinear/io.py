"""Writing files safely: every file torchlinear writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "ensure_writable_dir"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success move it over ``path`` atomically.

    If the block raises, the temporary file is removed and ``path`` keeps its previous
    contents (or stays absent), so a crash never leaves a half-written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(folder / "hello.txt") as f:
    ...     _ = f.write("hi")
    >>> (folder / "hello.txt").read_text()
    'hi'
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def ensure_writable_dir(path: str | os.PathLike[str], name: str = "out") -> Path:
    """Create ``path`` (and parents) if needed and check that files can be written in it.

    Raises ``ValueError`` naming ``name`` when ``path`` is a file or is not writable.

    Examples
    --------
    >>> import tempfile
    >>> ensure_writable_dir(tempfile.mkdtemp()).is_dir()
    True
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a file, not a folder; choose a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(
            f"{name} {str(path)!r} is not writable ({exc.strerror}); choose another folder"
        ) from exc
    return path
