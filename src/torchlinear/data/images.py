r"""Image files in their official formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10 batches.

**IDX** is a tiny binary format: a 4-byte magic number ``0x00 0x00 T D`` (``T`` the element
type, ``D`` the number of dimensions), then ``D`` big-endian ``uint32`` sizes, then the
elements in row-major order, big-endian. MNIST and Fashion-MNIST ship four gzipped IDX
files: images with magic ``0x00000803`` (``uint8``, 3 dimensions: ``n × 28 × 28``) and
labels with magic ``0x00000801`` (``uint8``, 1 dimension). :func:`read_idx` reads any IDX
file (gzipped or not), streaming: it reads the header first, refuses a declared size beyond
its cap, then reads exactly the declared bytes; :func:`write_idx` writes one, e.g. to make a
small data set in the same format.

**CIFAR-10** "python version" batches are read by :mod:`torchlinear.data.cifar` (a
restricted unpickler that never runs code from the file); its readers are importable from
here too.

:func:`download_file` fetches a file over HTTP(S) with ``urllib`` and verifies its MD5 before
moving it into place.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from torchlinear._memory import memory_budget
from torchlinear.data.cifar import (
    CIFAR10_BATCHES,
    CIFAR10_FOLDER,
    CIFAR10_MAX_BATCH,
    load_cifar_pickle,
    read_cifar10,
    read_cifar_batch,
    read_cifar_meta,
)
from torchlinear.io import atomic_write, naming_write_errors, open_regular_file

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "IDX_MAX_BYTES",
    "idx_max_bytes",
    "read_idx",
    "write_idx",
    "load_cifar_pickle",
    "read_cifar_batch",
    "read_cifar_meta",
    "read_cifar10",
    "CIFAR10_BATCHES",
    "CIFAR10_FOLDER",
    "CIFAR10_MAX_BATCH",
    "md5sum",
    "download_file",
]

IDX_IMAGES_MAGIC = 0x00000803
"""Magic number of an IDX file of ``uint8`` images: type 0x08, 3 dimensions."""
IDX_LABELS_MAGIC = 0x00000801
"""Magic number of an IDX file of ``uint8`` labels: type 0x08, 1 dimension."""

# IDX element type codes and their big-endian NumPy dtypes.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {f"{dt.kind}{dt.itemsize}": code for code, dt in _IDX_TYPES.items()}


# IDX


_GZIP_MAX_RATIO = 1032
"""Deflate cannot expand data by more than about 1032:1; a gzipped IDX file whose header
announces more than that many times its own size is refused without being inflated."""
_CHUNK = 1 << 20


IDX_MAX_BYTES = 512 * 2**20
"""Ceiling of :func:`idx_max_bytes`: MNIST's largest file holds 47 MB of pixels."""


def idx_max_bytes() -> int:
    """The largest data section :func:`read_idx` accepts by default.

    A quarter of the memory budget (:func:`torchlinear._memory.memory_budget`: the data sets
    turn ``uint8`` pixels into ``float32`` tensors, four times the bytes), and at most
    :data:`IDX_MAX_BYTES`; pass ``max_bytes`` to :func:`read_idx` for a larger file.

    Examples
    --------
    >>> 64 * 2**20 <= idx_max_bytes() <= IDX_MAX_BYTES
    True
    """
    return min(memory_budget() // 4, IDX_MAX_BYTES)


def _read_into(stream: Any, out: np.ndarray) -> int:
    """Fill the 1-D uint8 array ``out`` from ``stream`` in chunks; return the bytes read."""
    view, filled = out.data.cast("B"), 0
    while filled < len(view):
        got = stream.readinto(view[filled : filled + _CHUNK])
        if not got:
            break
        filled += got
    return filled


def read_idx(
    path: str | os.PathLike[str],
    expected_magic: int | None = None,
    *,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a native-endian NumPy array.

    The header is read first, from the (possibly compressed) stream; the data section it
    announces is checked against ``max_bytes`` (and, for a gzipped file, against what so
    many compressed bytes can hold at all) before anything is allocated, then exactly that
    many bytes are read; missing or extra bytes are refused. A small file can therefore
    never inflate into more memory than its header declares and the cap allows.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``. Gzip is detected from the content.
        It must be a regular file (a FIFO or a device is refused).
    expected_magic : int, optional
        Require this magic number, e.g. :data:`IDX_IMAGES_MAGIC` or :data:`IDX_LABELS_MAGIC`.
    max_bytes : int, optional
        Largest data section accepted, in bytes; by default :func:`idx_max_bytes`.

    Returns
    -------
    numpy.ndarray
        Shape given by the header; dtype from the type code (``uint8`` for MNIST).

    Raises
    ------
    ValueError
        Naming the file and what was expected, when the magic number is wrong or unknown,
        the header is short, the data is shorter or longer than the header says, the
        declared size is beyond ``max_bytes``, or the file is not a regular file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path, expected_magic=IDX_LABELS_MAGIC)
    array([3, 1, 4], dtype=uint8)
    """
    path = Path(path)
    limit = idx_max_bytes() if max_bytes is None else int(max_bytes)
    with open_regular_file(path, what="IDX file") as (raw, size):
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            return _read_idx_stream(stream, path, size, gzipped, expected_magic, limit)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(
                f"{path} is a damaged or truncated gzip file ({exc}); delete it and fetch it again"
            ) from exc


def _read_idx_stream(
    stream: Any, path: Path, size: int, gzipped: bool, expected_magic: int | None, limit: int
) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(f"{path} is not an IDX file: it holds {len(head)} bytes, no header")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path} has IDX magic number 0x{magic:08X} but 0x{expected_magic:08X} was expected "
            f"({_describe_magic(expected_magic)}); is it the right file?"
        )
    type_code, ndim = head[2], head[3]
    if head[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path} is not an IDX file: magic number 0x{magic:08X} should be 0x0000TTDD "
            "with a known type code TT (08, 09, 0B, 0C, 0D, 0E) and DD >= 1 dimensions"
        )
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"{path} is truncated: its header announces {ndim} dimensions "
            f"({4 + 4 * ndim} bytes) but the file holds {4 + len(sizes)} bytes"
        )
    shape = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if expected > limit:
        raise ValueError(
            f"{path} declares shape {shape}, {expected:,} bytes of data, beyond the "
            f"{limit:,}-byte limit for one IDX file; it is damaged or not the expected file"
        )
    if gzipped and expected > _GZIP_MAX_RATIO * size + _CHUNK:
        raise ValueError(
            f"{path} declares shape {shape}, {expected:,} bytes of data, more than a "
            f"{size:,}-byte gzip file can hold; it is damaged or crafted"
        )
    if not gzipped and expected != size - 4 - 4 * ndim:
        got = size - 4 - 4 * ndim
        problem = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"{path} is {problem}: shape {shape} needs {expected} bytes of data after the "
            f"header, found {got}; delete it and fetch it again"
        )
    buffer = np.empty(expected, dtype=np.uint8)  # pages are touched only as data arrives
    got = _read_into(stream, buffer)
    if got < expected:
        raise ValueError(
            f"{path} is truncated: shape {shape} needs {expected} bytes of data after the "
            f"header, found {got}; delete it and fetch it again"
        )
    if stream.read(1):
        raise ValueError(
            f"{path} is longer than its header says: shape {shape} needs {expected} bytes of "
            "data after the header, found more; delete it and fetch it again"
        )
    array = buffer.view(dtype).reshape(shape)
    if dtype.byteorder not in ("=", "|") and dtype != dtype.newbyteorder("="):
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _describe_magic(magic: int) -> str:
    if magic == IDX_IMAGES_MAGIC:
        return "uint8 images, 3 dimensions"
    if magic == IDX_LABELS_MAGIC:
        return "uint8 labels, 1 dimension"
    return f"type 0x{(magic >> 8) & 0xFF:02X}, {magic & 0xFF} dimension(s)"


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz``; atomically.

    The element type follows the array's dtype: ``uint8`` (code 0x08), ``int8``, ``int16``,
    ``int32``, ``float32`` or ``float64``. A 3-D ``uint8`` array gives an MNIST-style image
    file (magic ``0x00000803``), a 1-D one a label file (``0x00000801``).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "images-idx3-ubyte"
    >>> write_idx(path, np.zeros((2, 28, 28), dtype=np.uint8))
    >>> path.read_bytes()[:4].hex(), read_idx(path).shape
    ('00000803', (2, 28, 28))
    """
    array = np.asarray(array)
    code = _IDX_CODES.get(f"{array.dtype.kind}{array.dtype.itemsize}")
    if code is None:
        raise ValueError(
            f"array has dtype {array.dtype}; IDX stores uint8, int8, int16, int32, float32 or "
            "float64 — convert it first"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got {array.ndim}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"array shape {array.shape} has a size >= 2**32, which IDX cannot hold")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    payload = header + np.ascontiguousarray(array, dtype=_IDX_TYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    with atomic_write(path, "wb") as handle:
        handle.write(payload)


# Downloads with checksums


def md5sum(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Return the hexadecimal MD5 digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty"
    >>> _ = path.write_bytes(b"")
    >>> md5sum(path)
    'd41d8cd98f00b204e9800998ecf8427e'
    """
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    path: str | os.PathLike[str],
    md5: str | None = None,
    *,
    timeout: float = 60.0,
    opener: Callable[..., Any] | None = None,
) -> Path:
    """Download ``url`` to ``path``, verify its MD5, and only then move it into place.

    The bytes go to a temporary file beside ``path``; on a network error or a checksum
    mismatch it is deleted and ``path`` is left untouched.

    Parameters
    ----------
    url : str
        An ``http://`` or ``https://`` address.
    path : path
        Destination file; its folder is created if needed.
    md5 : str, optional
        Expected hexadecimal MD5 of the file. Without it nothing is verified.
    timeout : float, default 60
        Seconds to wait for the server.
    opener : callable, optional
        Replaces ``urllib.request.urlopen`` (same signature), e.g. to add a proxy.

    Raises
    ------
    OSError
        When the server cannot be reached or the checksum does not match.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url must start with http:// or https://, got {url!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        urlopen = opener or urllib.request.urlopen
        with os.fdopen(fd, "wb") as out, urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                with naming_write_errors(path):  # a full disk: name the file being written
                    out.write(chunk)
        if md5 is not None and digest.hexdigest() != md5.lower():
            raise OSError(
                f"checksum mismatch for {url}: MD5 {digest.hexdigest()}, expected {md5.lower()}; "
                "the download is incomplete or the file has changed"
            )
        os.replace(tmp, path)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OSError(f"could not download {url}: {reason}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
