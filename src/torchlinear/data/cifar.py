r"""CIFAR-10 batches in their official "python version" format, read without unpickling code.

CIFAR-10 batches are Python pickles of a ``dict`` with bytes keys ``b"data"`` (a
``10000 × 3072`` ``uint8`` array: 1024 red, then 1024 green, then 1024 blue values of a
32 × 32 image, row by row), ``b"labels"`` (a list of ints in ``0..9``), ``b"batch_label"``
and ``b"filenames"``; ``batches.meta`` holds ``b"label_names"``. Unpickling can run
arbitrary code, so :func:`load_cifar_pickle` uses an unpickler that admits only what those
files contain — one dict of numbers, strings, flat lists and numeric NumPy arrays — checks
every array's shape against the bytes actually stored before allocating it, refuses
repeated references to a container and bounds the number of opcodes: a crafted file can
neither execute anything nor inflate in memory. :func:`read_cifar10` reads the data set
from its folder or straight from the tarball.
"""

from __future__ import annotations

import codecs
import io
import math
import os
import pickle
import re
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from torchlinear.data._parts import first_line
from torchlinear.io import open_regular_file

__all__ = [
    "CIFAR10_BATCHES",
    "CIFAR10_FOLDER",
    "CIFAR10_MAX_BATCH",
    "load_cifar_pickle",
    "read_cifar_batch",
    "read_cifar_meta",
    "read_cifar10",
]

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


_CIFAR_IMAGE_BYTES = 3 * 32 * 32
CIFAR10_MAX_BATCH = 10_000
"""Most images one CIFAR-10 batch may hold (the official batches hold exactly this many)."""
_CIFAR_MAX_FILE_BYTES = 64 * 2**20  # a full batch is 31 MB (47 MB if Python 3 wrote it)
_PICKLE_MAX_OPS = 250_000  # a full batch written by Python 3 takes about 100,000
_TAR_MAX_MEMBERS = 64  # the official archive holds 8
_PICKLE_OPCODES = frozenset(
    getattr(pickle, name)[0]
    for name in (
        "PROTO FRAME STOP MARK POP POP_MARK NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 "
        "LONG LONG1 LONG4 FLOAT BINFLOAT STRING BINSTRING SHORT_BINSTRING UNICODE BINUNICODE "
        "SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8 "
        "EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST LIST APPEND APPENDS EMPTY_DICT DICT "
        "SETITEM SETITEMS GLOBAL STACK_GLOBAL REDUCE BUILD PUT BINPUT LONG_BINPUT MEMOIZE "
        "GET BINGET LONG_BINGET"
    ).split()
)
"""The pickle opcodes a CIFAR-10 file may use. Refused: persistent ids, extension codes,
INST/OBJ/NEWOBJ (class instantiation), sets, out-of-band buffers and DUP."""
_LEAF = (str, bytes, int, float, bool, type(None), np.dtype)


class _Refused(pickle.UnpicklingError):
    """A pickle that asks for something a CIFAR-10 file never holds."""


class _Global:
    """A stand-in for an allowed global that may be named but never called."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NDARRAY = _Global("numpy.ndarray")


class _ArrayStub:
    """What the array reconstructor returns; BUILD replaces it by the checked array."""

    __slots__ = ()


def _text(value: Any) -> Any:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _safe_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    spec = _text(spec)
    if not isinstance(spec, str) or not re.fullmatch(r"[<>|=]?[biuf][1248]", spec):
        raise _Refused(f"dtype {spec!r} is not allowed: CIFAR-10 arrays hold plain numbers")
    return np.dtype(spec)


def _dtype_with_state(dtype: np.dtype, state: Any) -> np.dtype:
    if not isinstance(state, tuple) or len(state) < 2 or any(v is not None for v in state[2:5]):
        raise _Refused("a structured or sub-array dtype is not allowed")
    order = _text(state[1])
    if order not in ("<", ">", "|", "="):
        raise _Refused(f"dtype byte order {order!r} is not allowed")
    return dtype.newbyteorder(order) if order in "<>" and dtype.itemsize > 1 else dtype


def _checked_array(shape: Any, dtype: Any, raw: Any, order: str = "C") -> np.ndarray:
    """An array of ``shape`` and ``dtype`` from ``raw``, refused unless sizes match exactly."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or dtype.fields is not None:
        raise _Refused(f"array dtype {dtype!r} is not allowed: CIFAR-10 arrays hold numbers")
    dtype = np.dtype(dtype.str)
    if (
        not isinstance(shape, tuple)
        or not 1 <= len(shape) <= 4
        or not all(type(n) is int and 0 <= n for n in shape)
    ):
        raise _Refused(f"array shape {shape!r} is not allowed")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > CIFAR10_MAX_BATCH * _CIFAR_IMAGE_BYTES:
        raise _Refused(f"an array of shape {shape} ({nbytes:,} bytes) is larger than a batch")
    if isinstance(raw, pickle.PickleBuffer):
        raw = bytes(raw.raw())
    if not isinstance(raw, bytes | bytearray) or len(raw) != nbytes:
        size = len(raw) if isinstance(raw, bytes | bytearray) else type(raw).__name__
        raise _Refused(f"array data of {size} bytes does not fill shape {shape} of {dtype}")
    if order not in ("C", "F"):
        raise _Refused(f"array order {order!r} is not allowed")
    array = np.frombuffer(raw, dtype=dtype)
    return array.reshape(shape, order="F" if order == "F" else "C").copy(order="C")


def _safe_reconstruct(subtype: Any, shape: Any, code: Any) -> _ArrayStub:
    if subtype is not _NDARRAY:
        raise _Refused(f"an array of type {subtype!r} is not allowed")
    if shape != (0,) or _text(code) != "b":
        raise _Refused(f"an array reconstructed with {shape!r}, {code!r} is not allowed")
    return _ArrayStub()


def _safe_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _checked_array(shape, dtype, buffer, _text(order))


def _latin1_encode(text: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or not isinstance(encoding, str):
        raise _Refused("only latin-1 encoding of a string is allowed")
    if codecs.lookup(encoding).name != "iso8859-1" or errors != "strict":
        raise _Refused("only latin-1 encoding of a string is allowed")
    return text.encode("latin-1")


def _empty_bytes(*args: Any) -> bytes:
    # Python 3 writes b"" into protocol-2 pickles as bytes().
    if args:
        raise _Refused("only bytes() without arguments is allowed")
    return b""


def _allowed_globals() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("__builtin__", "bytes"): _empty_bytes,
        ("builtins", "bytes"): _empty_bytes,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _safe_dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _safe_reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = _safe_frombuffer
    return allowed


def _shareable(value: Any) -> bool:
    """Whether a memoised object may be referenced twice: leaves, allowed globals, and
    tuples of leaves — never a list, dict or array (shared references could expand)."""
    if isinstance(value, _LEAF) or callable(value) or isinstance(value, _Global):
        return not isinstance(value, list | dict | np.ndarray | _ArrayStub)
    return isinstance(value, tuple) and all(isinstance(v, _LEAF) for v in value)


def _refused_opcode(unpickler: Any) -> None:
    raise _Refused("the pickle uses an opcode CIFAR-10 files never contain")


# The standard library's pure-Python unpickler: the only one whose opcodes can be checked
# one by one (the C unpickler lets a subclass see globals only).
_PyUnpickler: Any = pickle._Unpickler  # noqa: SLF001


class _RestrictedUnpickler(_PyUnpickler):
    """Unpickles only what a CIFAR-10 file holds, within fixed limits.

    Only the few globals such a file names resolve (to checked stand-ins); array shapes and
    dtypes are checked against the data actually present before anything is allocated;
    only leaves (numbers, strings) may be referenced twice; at most ``_PICKLE_MAX_OPS``
    opcodes run.
    """

    _allowed = _allowed_globals()
    dispatch: dict[int, Any] = {}

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, encoding="bytes")
        self._ops_left = _PICKLE_MAX_OPS

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(
                f"refusing to load global '{module}.{name}': CIFAR-10 batches hold only "
                "dicts, lists, strings and NumPy arrays"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("persistent references are not allowed")

    def _get(self, index: int) -> None:
        try:
            value = self.memo[index]
        except KeyError:
            raise _Refused(f"memo value {index} not found") from None
        if not _shareable(value):
            raise _Refused(
                f"a shared reference to a {type(value).__name__} is not allowed "
                "(CIFAR-10 files never repeat a container)"
            )
        self.append(value)

    def load_get(self) -> None:
        self._get(int(self.readline()[:-1]))

    def load_binget(self) -> None:
        self._get(self.read(1)[0])

    def load_long_binget(self) -> None:
        self._get(int.from_bytes(self.read(4), "little"))

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, _ArrayStub):
            if isinstance(state, tuple) and len(state) == 5:
                state = state[1:]  # (version, shape, dtype, is_fortran, data)
            if not isinstance(state, tuple) or len(state) != 4:
                raise _Refused("an array state must be (shape, dtype, is_fortran, data)")
            shape, dtype, fortran, raw = state
            if isinstance(raw, str):
                raw = raw.encode("latin-1")
            self.stack[-1] = _checked_array(shape, dtype, raw, "F" if fortran else "C")
        elif isinstance(inst, np.dtype):
            self.stack[-1] = _dtype_with_state(inst, state)
        else:
            raise _Refused(f"setting the state of a {type(inst).__name__} is not allowed")


def _counted(handler: Any) -> Any:
    def run(self: _RestrictedUnpickler) -> None:
        self._ops_left -= 1
        if self._ops_left < 0:
            raise _Refused(f"more than {_PICKLE_MAX_OPS:,} pickle operations")
        handler(self)

    return run


for _code, _handler in _PyUnpickler.dispatch.items():
    _own = {
        pickle.GET[0]: _RestrictedUnpickler.load_get,
        pickle.BINGET[0]: _RestrictedUnpickler.load_binget,
        pickle.LONG_BINGET[0]: _RestrictedUnpickler.load_long_binget,
        pickle.BUILD[0]: _RestrictedUnpickler.load_build,
    }.get(_code, _handler)
    _RestrictedUnpickler.dispatch[_code] = (
        _counted(_own) if _code in _PICKLE_OPCODES else _refused_opcode
    )
del _code, _handler, _own


def _str_key(key: Any) -> Any:
    return key.decode("latin-1") if isinstance(key, bytes) else key


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__


def load_cifar_pickle(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """Unpickle a CIFAR-10 file with a restricted unpickler; keys become ``str``.

    The unpickler runs opcode by opcode and admits only what CIFAR-10 files contain: one
    dict whose values are numbers, strings, flat lists of numbers or strings, and numeric
    NumPy arrays. Only ``numpy.ndarray``, ``numpy.dtype``, NumPy's array reconstructors and
    the latin-1 string encoder may be named, and they resolve to checked stand-ins:
    anything else (``os.system``, ``builtins.eval``, arbitrary classes) raises
    ``ValueError`` before it can run. Every array's shape and dtype must match the bytes
    actually stored in the file, so a small file cannot allocate a large array; a
    container may not be referenced twice (no self-similar expansion), and the number of
    opcodes is bounded. Every refusal is a ``ValueError`` naming ``source``.

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
    if len(data) > _CIFAR_MAX_FILE_BYTES:
        raise ValueError(
            f"{source} is not a valid CIFAR-10 file: it holds {len(data):,} bytes, more than "
            f"a batch of {CIFAR10_MAX_BATCH:,} images needs ({_CIFAR_MAX_FILE_BYTES:,} at most)"
        )
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # hostile bytes: any failure is a refusal, never a crash
        reason = first_line(exc)
        if not isinstance(exc, pickle.UnpicklingError | ValueError | EOFError):
            reason = f"{type(exc).__name__}: {reason}"
        raise ValueError(f"{source} is not a valid CIFAR-10 file: {reason}") from None
    if not isinstance(obj, dict):
        raise ValueError(
            f"{source} is not a valid CIFAR-10 file: expected a pickled dict, "
            f"got {type(obj).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if not isinstance(key, bytes | str):
            raise ValueError(f"{source} is not a valid CIFAR-10 file: a key is a {_describe(key)}")
        flat = isinstance(value, list) and all(
            isinstance(v, int | float | bytes | str) for v in value
        )
        if not (flat or isinstance(value, np.ndarray | int | float | bytes | str | type(None))):
            raise ValueError(
                f"{source} is not a valid CIFAR-10 file: {_str_key(key)!r} holds a nested "
                f"{_describe(value)}; CIFAR-10 files hold numbers, strings, flat lists and "
                "arrays"
            )
        out[_str_key(key)] = value
    return out


_BATCH_KEYS = ("data", "labels", "batch_label", "filenames")
_META_KEYS = ("label_names", "num_cases_per_batch", "num_vis")


def _unexpected_keys(found: dict[str, Any], allowed: tuple[str, ...], source: str, what: str):
    extra = sorted(str(k) for k in found if k not in allowed)
    if extra:
        raise ValueError(
            f"{source} is not {what}: unexpected key(s) {extra}; expected only "
            f"{', '.join(repr(k) for k in allowed)}"
        )


def read_cifar_batch(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decode one CIFAR-10 data batch into images and labels.

    The batch must be a dict of ``'data'`` (an ``n x 3072`` ``uint8`` array, ``n`` at
    most :data:`CIFAR10_MAX_BATCH`), ``'labels'`` (a list of ``n`` ints in ``0..9``) and
    optionally ``'batch_label'`` (a string) and ``'filenames'`` (``n`` strings); nothing
    else.

    Returns
    -------
    images : numpy.ndarray
        ``uint8``, shape ``(n, 3, 32, 32)`` (channels, rows, columns).
    labels : numpy.ndarray
        ``int64``, shape ``(n,)``, values in ``0..9``.

    Raises
    ------
    ValueError
        Naming ``source`` and what was expected when a key is missing or unexpected, or a
        value has the wrong type or shape.

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
    _unexpected_keys(batch, _BATCH_KEYS, source, "a CIFAR-10 data batch")
    images = batch["data"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        raise ValueError(
            f"{source}: 'data' should be an n x 3072 uint8 array, got a {_describe(images)}"
        )
    n = images.shape[0]
    if images.shape[1] != _CIFAR_IMAGE_BYTES:
        raise ValueError(
            f"{source}: 'data' should have 3072 columns (3 x 32 x 32), got {images.shape[1]}"
        )
    if n > CIFAR10_MAX_BATCH:
        raise ValueError(
            f"{source}: 'data' holds {n:,} images; a CIFAR-10 batch holds at most "
            f"{CIFAR10_MAX_BATCH:,}"
        )
    labels = batch["labels"]
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise ValueError(f"{source}: 'labels' should be a list of ints, got a {_describe(labels)}")
    if len(labels) != n:
        raise ValueError(
            f"{source}: 'labels' should hold {n} ints (one per image), got {len(labels)}"
        )
    if labels and (min(labels) < 0 or max(labels) > 9):
        raise ValueError(f"{source}: labels should lie in 0..9, found {min(labels)}..{max(labels)}")
    names = batch.get("filenames", [])
    if not isinstance(names, list) or not all(isinstance(v, bytes | str) for v in names):
        raise ValueError(f"{source}: 'filenames' should be a list of strings")
    if "filenames" in batch and len(names) != n:
        raise ValueError(f"{source}: 'filenames' should hold {n} names, got {len(names)}")
    if not isinstance(batch.get("batch_label", ""), bytes | str):
        raise ValueError(f"{source}: 'batch_label' should be a string")
    return images.reshape(-1, 3, 32, 32), np.array(labels, dtype=np.int64)


def read_cifar_meta(
    data: bytes, source: str = "<bytes>", *, n_classes: int | None = None
) -> list[str]:
    """Decode ``batches.meta`` and return the class names.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        Name of the file, for error messages.
    n_classes : int, optional
        Require exactly this many names (10 for CIFAR-10).

    Examples
    --------
    >>> import pickle
    >>> read_cifar_meta(pickle.dumps({b"label_names": [b"cat", b"dog"]}, 2))
    ['cat', 'dog']
    """
    meta = load_cifar_pickle(data, source)
    names = meta.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, bytes | str) for n in names):
        raise ValueError(
            f"{source} is not CIFAR-10 metadata: expected key 'label_names' with a list of "
            f"strings, found keys {sorted(map(str, meta))}"
        )
    _unexpected_keys(meta, _META_KEYS, source, "CIFAR-10 metadata")
    if n_classes is not None and len(names) != n_classes:
        raise ValueError(
            f"{source} lists {len(names)} class names but CIFAR-10 has {n_classes}; it is "
            "damaged or not the CIFAR-10 metadata"
        )
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: a class name is not UTF-8 text ({exc.reason})") from None


def _cifar_reader(location: Path) -> tuple[Callable[[str], bytes], Callable[[str], str], Any]:
    """Return (read(name) -> bytes, describe(name) -> str, closer) for a folder or a tarball."""
    if location.is_dir():

        def read_file(name: str) -> bytes:
            path = location / name
            try:
                with open_regular_file(path, what="CIFAR-10 file") as (handle, size):
                    if size > _CIFAR_MAX_FILE_BYTES:
                        raise ValueError(
                            f"{path} holds {size:,} bytes, more than a CIFAR-10 batch "
                            f"({_CIFAR_MAX_FILE_BYTES:,} at most); it is not a CIFAR-10 file"
                        )
                    return handle.read(_CIFAR_MAX_FILE_BYTES + 1)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"{path} is missing; expected the CIFAR-10 file {name!r}"
                ) from None

        return read_file, (lambda name: str(location / name)), None
    try:
        archive = tarfile.open(location, "r:*")
        members: dict[str, tarfile.TarInfo] = {}
        for count, member in enumerate(archive, start=1):
            if count > _TAR_MAX_MEMBERS:
                raise ValueError(
                    f"{location} holds more than {_TAR_MAX_MEMBERS} members; it is not the "
                    "CIFAR-10 archive"
                )
            members[member.name] = member
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{location} is not a readable tar archive ({exc})") from exc

    def read(name: str) -> bytes:
        member_name = f"{CIFAR10_FOLDER}/{name}"
        member = members.get(member_name)
        if member is None:
            raise ValueError(f"{location} has no member {member_name!r}")
        if not member.isfile():
            raise ValueError(f"{location}: member {member_name!r} is not a regular file")
        if member.size > _CIFAR_MAX_FILE_BYTES:
            raise ValueError(
                f"{location}: member {member_name!r} holds {member.size:,} bytes, more than a "
                f"CIFAR-10 batch ({_CIFAR_MAX_FILE_BYTES:,} at most)"
            )
        try:
            handle = archive.extractfile(member)
            assert handle is not None
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
    >>> meta = {b"label_names": [f"class {j}".encode() for j in range(10)]}
    >>> _ = (folder / "batches.meta").write_bytes(pickle.dumps(meta, 2))
    >>> X_train, y_train, X_test, y_test, names = read_cifar10(folder)
    >>> X_train.shape, X_test.shape, names[:2]
    ((5, 3, 32, 32), (1, 3, 32, 32), ['class 0', 'class 1'])
    """
    location = Path(location)
    read, describe, closer = _cifar_reader(location)
    try:
        names_train = [f"data_batch_{i}" for i in range(1, 6)]
        train = [read_cifar_batch(read(name), describe(name)) for name in names_train]
        X_test, y_test = read_cifar_batch(read("test_batch"), describe("test_batch"))
        names = read_cifar_meta(read("batches.meta"), describe("batches.meta"), n_classes=10)
    finally:
        if closer is not None:
            closer.close()
    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return X_train, y_train, X_test, y_test, names
