r"""Image files in their official formats: IDX (MNIST, Fashion-MNIST) and CIFAR-10 batches.

**IDX** is a tiny binary format: a 4-byte magic number ``0x00 0x00 T D`` (``T`` the element
type, ``D`` the number of dimensions), then ``D`` big-endian ``uint32`` sizes, then the
elements in row-major order, big-endian. MNIST and Fashion-MNIST ship four gzipped IDX
files: images with magic ``0x00000803`` (``uint8``, 3 dimensions: ``n × 28 × 28``) and
labels with magic ``0x00000801`` (``uint8``, 1 dimension). :func:`read_idx` reads any IDX
file (gzipped or not) and checks its size; :func:`write_idx` writes one, e.g. to make a
small data set in the same format.

**CIFAR-10** "python version" batches are Python pickles of a ``dict`` with bytes keys
``b"data"`` (a ``10000 × 3072`` ``uint8`` array: 1024 red, then 1024 green, then 1024 blue
values of a 32 × 32 image, row by row), ``b"labels"`` (a list of ints in ``0..9``),
``b"batch_label"`` and ``b"filenames"``; ``batches.meta`` holds ``b"label_names"``.
Unpickling can run arbitrary code, so :func:`load_cifar_pickle` uses an unpickler that
admits only what those files contain — dicts, lists, strings, bytes, numbers and NumPy
arrays — and refuses every other global. A crafted file cannot execute anything.

:func:`download_file` fetches a file over HTTP(S) with ``urllib`` and verifies its MD5 before
moving it into place.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from torchlinear.io import atomic_write

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "read_idx",
    "write_idx",
    "load_cifar_pickle",
    "read_cifar_batch",
    "read_cifar_meta",
    "read_cifar10",
    "CIFAR10_BATCHES",
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

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_BATCHES = (
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
    "batches.meta",
)
"""The files of the CIFAR-10 python version, inside the folder ``cifar-10-batches-py``."""


# --------------------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------------------


def _read_maybe_gzipped(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(
            f"{path} is a damaged or truncated gzip file ({exc}); delete it and fetch it again"
        ) from exc


def read_idx(path: str | os.PathLike[str], expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a native-endian NumPy array.

    Parameters
    ----------
    path : str or path-like
        The file, e.g. ``train-images-idx3-ubyte.gz``. Gzip is detected from the content.
    expected_magic : int, optional
        Require this magic number, e.g. :data:`IDX_IMAGES_MAGIC` or :data:`IDX_LABELS_MAGIC`.

    Returns
    -------
    numpy.ndarray
        Shape given by the header; dtype from the type code (``uint8`` for MNIST).

    Raises
    ------
    ValueError
        Naming the file and what was expected, when the magic number is wrong or unknown,
        the header is short, or the data is shorter or longer than the header says.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path, expected_magic=IDX_LABELS_MAGIC)
    array([3, 1, 4], dtype=uint8)
    """
    path = Path(path)
    data = _read_maybe_gzipped(path)
    if len(data) < 4:
        raise ValueError(f"{path} is not an IDX file: it holds {len(data)} bytes, no header")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path} has IDX magic number 0x{magic:08X} but 0x{expected_magic:08X} was expected "
            f"({_describe_magic(expected_magic)}); is it the right file?"
        )
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise ValueError(
            f"{path} is not an IDX file: magic number 0x{magic:08X} should be 0x0000TTDD "
            "with a known type code TT (08, 09, 0B, 0C, 0D, 0E) and DD >= 1 dimensions"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path} is truncated: its header announces {ndim} dimensions "
            f"({header} bytes) but the file holds {len(data)} bytes"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        problem = "truncated" if got < expected else "longer than its header says"
        raise ValueError(
            f"{path} is {problem}: shape {shape} needs {expected} bytes of data after the "
            f"header, found {got}; delete it and fetch it again"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


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


# --------------------------------------------------------------------------------------
# CIFAR-10 pickles, loaded with a restricted unpickler
# --------------------------------------------------------------------------------------


def _numpy_attr(module: str, name: str) -> Any:
    core = getattr(np, "_core", None) or np.core
    return getattr(getattr(core, module), name)


def _safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"an array of type {subtype!r} is not allowed")
    return _numpy_attr("multiarray", "_reconstruct")(np.ndarray, shape, dtype)


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError("only latin-1 encoding of a string is allowed")
    return text.encode("latin-1", errors)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _safe_reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = _numpy_attr("numeric", "_frombuffer")
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the few globals a CIFAR-10 batch refers to."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global '{module}.{name}': CIFAR-10 batches hold only "
                "dicts, lists, strings and NumPy arrays"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent references are not allowed")


def _str_key(key: Any) -> Any:
    return key.decode("latin-1") if isinstance(key, bytes) else key


def load_cifar_pickle(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """Unpickle a CIFAR-10 batch with a restricted unpickler; keys become ``str``.

    Only ``numpy.ndarray``, ``numpy.dtype``, NumPy's array reconstructors and the latin-1
    string encoder may be referenced; anything else (``os.system``, ``builtins.eval``,
    arbitrary classes) raises ``ValueError`` before it can run. Object arrays are refused.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        Name of the file, for error messages.

    Returns
    -------
    dict
        With ``str`` keys (``"data"``, ``"labels"``, ...).

    Examples
    --------
    >>> import pickle, numpy as np
    >>> blob = pickle.dumps({b"labels": [1, 2], b"data": np.zeros((2, 3), np.uint8)}, 2)
    >>> sorted(load_cifar_pickle(blob))
    ['data', 'labels']
    >>> load_cifar_pickle(pickle.dumps(print))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: <bytes> is not a valid CIFAR-10 file: refusing to load global 'builtins.print'...
    """
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"{source} is not a valid CIFAR-10 file: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(
            f"{source} is not a valid CIFAR-10 file: expected a pickled dict, "
            f"got {type(obj).__name__}"
        )
    out = {_str_key(k): v for k, v in obj.items()}
    for key, value in out.items():
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise ValueError(f"{source} is not a valid CIFAR-10 file: {key!r} holds objects")
    return out


def read_cifar_batch(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR-10 data batch into images and labels.

    Returns
    -------
    images : numpy.ndarray
        ``uint8``, shape ``(n, 3, 32, 32)`` (channels, rows, columns).
    labels : numpy.ndarray
        ``int64``, shape ``(n,)``, values in ``0..9``.

    Raises
    ------
    ValueError
        Naming ``source`` and what was expected when a key is missing or a value has the
        wrong type or shape.

    Examples
    --------
    >>> import pickle, numpy as np
    >>> blob = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 9],
    ...                      b"batch_label": b"x", b"filenames": [b"a.png", b"b.png"]}, 2)
    >>> images, labels = read_cifar_batch(blob)
    >>> images.shape, labels.tolist()
    ((2, 3, 32, 32), [0, 9])
    """
    batch = load_cifar_pickle(data, source)
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise ValueError(
            f"{source} is not a CIFAR-10 data batch: key(s) {missing} missing; expected "
            f"'data' (n x 3072 uint8) and 'labels' (n ints), found {sorted(map(str, batch))}"
        )
    images = batch["data"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        desc = (
            f"{images.dtype} array of shape {images.shape}"
            if isinstance(images, np.ndarray)
            else type(images).__name__
        )
        raise ValueError(f"{source}: 'data' should be an n x 3072 uint8 array, got a {desc}")
    if images.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{source}: 'data' should have 3072 columns (3 x 32 x 32), got {images.shape[1]}"
        )
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: 'labels' should be a list of ints: {exc}") from exc
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"{source}: 'labels' should hold {images.shape[0]} ints (one per image), "
            f"got shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"{source}: labels should lie in 0..9, found {labels.min()}..{labels.max()}"
        )
    return images.reshape(-1, 3, 32, 32), labels


def read_cifar_meta(data: bytes, source: str = "<bytes>") -> list[str]:
    """Decode ``batches.meta`` and return the ten class names.

    Examples
    --------
    >>> import pickle
    >>> read_cifar_meta(pickle.dumps({b"label_names": [b"cat", b"dog"]}, 2))
    ['cat', 'dog']
    """
    meta = load_cifar_pickle(data, source)
    names = meta.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise ValueError(
            f"{source} is not CIFAR-10 metadata: expected key 'label_names' with a list of "
            f"strings, found keys {sorted(map(str, meta))}"
        )
    return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]


def _cifar_reader(location: Path) -> tuple[Callable[[str], bytes], Callable[[str], str], Any]:
    """Return (read(name) -> bytes, describe(name) -> str, closer) for a folder or a tarball."""
    if location.is_dir():

        def read_file(name: str) -> bytes:
            path = location / name
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing; expected the CIFAR-10 file {name!r}")
            return path.read_bytes()

        return read_file, (lambda name: str(location / name)), None
    try:
        archive = tarfile.open(location, "r:*")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{location} is not a readable tar archive ({exc})") from exc

    def read(name: str) -> bytes:
        member_name = f"{CIFAR10_FOLDER}/{name}"
        try:
            member = archive.getmember(member_name)
            handle = archive.extractfile(member)
        except KeyError:
            raise ValueError(f"{location} has no member {member_name!r}") from None
        if handle is None:
            raise ValueError(f"{location}: member {member_name!r} is not a regular file")
        try:
            return handle.read()
        except (EOFError, OSError, zlib.error, tarfile.TarError) as exc:
            raise ValueError(f"{location} is truncated or damaged ({exc})") from exc

    return read, (lambda name: f"{location}:{CIFAR10_FOLDER}/{name}"), archive


def read_cifar10(
    location: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read the CIFAR-10 python version from its folder or straight from the tarball.

    Parameters
    ----------
    location : path
        Either the folder ``cifar-10-batches-py`` (holding ``data_batch_1`` .. ``5``,
        ``test_batch`` and ``batches.meta``) or the archive ``cifar-10-python.tar.gz``,
        whose members are read in memory (nothing is extracted to disk).

    Returns
    -------
    X_train, y_train, X_test, y_test, class_names
        ``uint8`` images ``(n, 3, 32, 32)``, ``int64`` labels, and the ten class names.

    Examples
    --------
    >>> import pickle, tempfile, pathlib, numpy as np
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in CIFAR10_BATCHES[:-1]:
    ...     blob = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
    ...             b"batch_label": name.encode(), b"filenames": [b"x.png"]}
    ...     _ = (folder / name).write_bytes(pickle.dumps(blob, 2))
    >>> _ = (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"]}, 2))
    >>> X_train, y_train, X_test, y_test, names = read_cifar10(folder)
    >>> X_train.shape, X_test.shape, names
    ((5, 3, 32, 32), (1, 3, 32, 32), ['a'])
    """
    location = Path(location)
    read, describe, closer = _cifar_reader(location)
    try:
        names_train = [f"data_batch_{i}" for i in range(1, 6)]
        train = [read_cifar_batch(read(name), describe(name)) for name in names_train]
        X_test, y_test = read_cifar_batch(read("test_batch"), describe("test_batch"))
        names = read_cifar_meta(read("batches.meta"), describe("batches.meta"))
    finally:
        if closer is not None:
            closer.close()
    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return X_train, y_train, X_test, y_test, names


# --------------------------------------------------------------------------------------
# Downloads with checksums
# --------------------------------------------------------------------------------------


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
