"""Writing files safely, and model files: safetensors weights plus a JSON sidecar.

Every file torchlinear writes appears whole or not at all (:func:`atomic_write`).

A saved model is two files in one folder:

``model.json``
    The sidecar, human-readable: the file format and its version, the library version,
    the name, size and SHA-256 of the weights file, the dtype and shape of every tensor,
    and whatever metadata the caller passes (model kind, feature names, classes, scaler,
    training configuration, metrics, ...).
``model-<first 12 hex digits of the SHA-256>.safetensors``
    The tensors, in the safetensors format (a JSON header and raw bytes: loading it
    executes nothing, unlike a pickle). Its header metadata records the SHA-256 of the
    sidecar's canonical JSON (sorted keys, no spaces; the weights file's own name, size
    and SHA-256 left out).

The two files vouch for each other: the sidecar records the weights' SHA-256, and the
weights record the digest of everything else in the sidecar. Loading checks both, so an
edit of any byte that shapes predictions — a feature name, the class order, a scaler, a
parameter, a future field — is refused, and so is a weights file that was truncated,
modified or taken from another model. Reformatting the JSON (indentation, key order) is
harmless and accepted. Loading also bounds what it reads: the sidecar's size, nesting
depth and number of values, and the weights' size (checked on the open file before
reading), and both must be regular files (the weights one inside the folder, not a link),
so a FIFO, a device or a crafted JSON cannot hang, crash or exhaust memory (the JSON is
parsed within its bounds by :mod:`torchlinear.json_codec`). See ``docs/security.md`` for
the threat model.

The weights file is named by its content and written first; replacing the sidecar is the
single atomic step that switches from the previous model to the new one. A crash at any
moment therefore leaves either the previous pair or the new pair, never a mixture.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import torch
from safetensors.torch import save as safetensors_bytes

from torchlinear import __version__
from torchlinear._validation import ParameterError, check_output_dir, resolved_path
from torchlinear._weights import MAX_HEADER_BYTES, Weights, read_weights
from torchlinear.json_codec import SIDECAR_MAX_BYTES, json_default, parse_json_bounded

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DeferredTensors",
    "atomic_write",
    "ensure_writable_dir",
    "document_digest",
    "load_model",
    "naming_write_errors",
    "open_regular_file",
    "read_json_bounded",
    "save_model",
]

FORMAT_NAME = "torchlinear"
"""The ``format`` field of every sidecar."""

FORMAT_VERSION = 2
"""The model-file format this version writes and reads. Format 2 checksums the whole
sidecar; files of format 1 (torchlinear 0.1, weights checksummed alone) and of newer
formats are refused with one line naming the version."""

_T = TypeVar("_T")


@contextlib.contextmanager
def open_regular_file(
    path: str | os.PathLike[str], *, what: str = "file", follow_symlinks: bool = True
) -> Iterator[tuple[IO[bytes], int]]:
    """Open ``path`` for reading only if it is a regular file; yield ``(handle, size)``.

    A FIFO, a device (``/dev/zero``), a socket or a folder is refused with a ``ValueError``
    before a byte is read, so a reader can never block on a pipe or read without end; with
    ``follow_symlinks=False`` a symbolic link is refused too. The size comes from the open
    file itself, so it cannot change between the check and the read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f.bin"
    >>> _ = path.write_bytes(b"abc")
    >>> with open_regular_file(path) as (handle, size):
    ...     handle.read(), size
    (b'abc', 3)
    >>> with open_regular_file("/dev/zero") as (handle, size):
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: file '/dev/zero' is a character device, not a regular file; pass the file itself
    """

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise ValueError(
                    f"{what} {str(path)!r} is a symbolic link; it must be a regular file "
                    "inside the folder (copy the file itself)"
                )
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ValueError(f"{what} {str(path)!r} cannot be opened ({exc.strerror})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kinds = {
                stat.S_ISFIFO: "a FIFO (named pipe)",
                stat.S_ISCHR: "a character device",
                stat.S_ISBLK: "a block device",
                stat.S_ISSOCK: "a socket",
                stat.S_ISDIR: "a folder",
            }
            kind = next((k for test, k in kinds.items() if test(info.st_mode)), "special")
            raise ValueError(
                f"{what} {str(path)!r} is {kind}, not a regular file; pass the file itself"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle, info.st_size


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any
) -> Iterator[IO[Any]]:
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
        with naming_write_errors(path):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
            with os.fdopen(fd, mode, **open_kwargs) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def naming_write_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raise an ``OSError`` that names no file (a write refused for a full disk or a
    file too large, as ``write``, ``fsync`` and pyarrow's writers report it) as one naming
    ``path``, the file being written, with the system's reason for its number.

    Examples
    --------
    >>> import errno
    >>> try:
    ...     with naming_write_errors("out.csv"):
    ...         raise OSError(errno.ENOSPC, "Error writing bytes to file")
    ... except OSError as error:
    ...     print(error.filename, error.strerror)
    out.csv No space left on device
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        reason = os.strerror(exc.errno) if exc.errno else str(exc).splitlines()[0]
        raise OSError(exc.errno, reason, os.fspath(path)) from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ensure_writable_dir(path: str | os.PathLike[str], name: str = "out") -> Path:
    """Create ``path`` (and parents) if needed and check that files can be written in it.

    Raises :class:`~torchlinear._validation.ParameterError` naming ``name`` when ``path`` is
    a file or is not writable (:func:`torchlinear._validation.check_output_dir` checks the
    same before any work starts, creating nothing).

    Examples
    --------
    >>> import tempfile
    >>> ensure_writable_dir(tempfile.mkdtemp()).is_dir()
    True
    """
    path = check_output_dir(name, path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ParameterError(
            name,
            "{param} {path!r} is not writable ({reason}); choose another folder",
            path=str(path),
            reason=exc.strerror or exc,
        ) from exc
    return path


# Model files

_RESERVED = ("format", "format_version", "library_version", "weights")
_DEFAULT_STEM = "model"


def _sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar's path: ``path`` itself if it ends in ``.json``, else ``path/model.json``."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return path
    return path / f"{_DEFAULT_STEM}.json"


def read_json_bounded(
    path: str | os.PathLike[str], what: str, *, max_bytes: int = SIDECAR_MAX_BYTES
) -> Any:
    """The JSON document in the regular file ``path``, read and parsed within bounds.

    A FIFO, a device or a folder (:func:`open_regular_file`), a file larger than
    ``max_bytes`` or a document beyond :func:`parse_json_bounded`'s limits is refused with
    a ``ValueError`` naming ``what`` and the path, before it is read or parsed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "doc.json"
    >>> _ = path.write_text('{"a": [1, 2]}')
    >>> read_json_bounded(path, "document")
    {'a': [1, 2]}
    >>> _ = path.write_text("[" * 100 + "]" * 100)
    >>> read_json_bounded(path, "document")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: document '...doc.json' nests JSON 100 levels deep, more than the 64 ...
    """
    where = f"{what} {str(path)!r}"
    with open_regular_file(path, what=what) as (handle, size):
        if size > max_bytes:
            raise ValueError(f"{where} holds {size:,} bytes, more than the {max_bytes:,} read")
        data = handle.read(max_bytes + 1)
    return parse_json_bounded(data, where, max_bytes=max_bytes)


_UNSIGNED_WEIGHTS_FIELDS = ("file", "sha256", "bytes")


def document_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of a sidecar's canonical JSON, without the weights file's name, size and hash.

    Canonical: keys sorted, no whitespace, ASCII escapes; so re-indenting or reordering
    the file leaves the digest unchanged while any change of a value, key or list order
    changes it. The weights file's name, size and SHA-256 are left out because the weights
    file itself stores this digest (its own hash cannot be inside what it hashes); they
    are checked against the weights file directly.

    Examples
    --------
    >>> a = document_digest({"classes": [0, 1], "weights": {"sha256": "x", "tensors": {}}})
    >>> b = document_digest({"weights": {"tensors": {}, "sha256": "y"}, "classes": [0, 1]})
    >>> a == b, a == document_digest({"classes": [1, 0], "weights": {"tensors": {}}})
    (True, False)
    """
    core = dict(document)
    weights = core.get("weights")
    if isinstance(weights, Mapping):
        core["weights"] = {k: v for k, v in weights.items() if k not in _UNSIGNED_WEIGHTS_FIELDS}
    text = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def save_model(
    path: str | os.PathLike[str],
    tensors: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save tensors and metadata as a safetensors file plus a JSON sidecar, atomically.

    Parameters
    ----------
    path : str or path-like
        A folder (created if needed; the files are ``model.json`` and
        ``model-<hash>.safetensors``) or the sidecar's own path ending in ``.json``
        (``name.json`` and ``name-<hash>.safetensors`` beside it).
    tensors : mapping of str to torch.Tensor
        The weights (any device; stored from the CPU).
    metadata : mapping, optional
        JSON-serialisable facts about the model (NumPy values, tensors and paths are
        converted). The keys ``format``, ``format_version``, ``library_version`` and
        ``weights`` are reserved.

    Returns
    -------
    pathlib.Path
        The sidecar's path; pass it (or the folder) to :func:`load_model`.

    Examples
    --------
    >>> import tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> sidecar = save_model(folder, {"w": torch.tensor([1.0, 2.0])}, {"kind": "demo"})
    >>> tensors, meta = load_model(folder)
    >>> tensors["w"], meta["kind"], meta["format_version"]
    (tensor([1., 2.]), 'demo', 2)
    """

    sidecar = _sidecar_path(path)
    ensure_writable_dir(sidecar.parent, name="model folder")
    metadata = dict(metadata or {})
    clash = [k for k in _RESERVED if k in metadata]
    if clash:
        raise ValueError(f"metadata keys {clash} are reserved by the model file format")
    prepared: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"tensor names must be non-empty strings, got {name!r}")
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"tensors[{name!r}] must be a torch.Tensor, got {type(value).__name__}"
            )
        tensor = value.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage()
        whole = storage.nbytes() == tensor.numel() * tensor.element_size()
        if storage.data_ptr() in storages or not whole:  # safetensors refuses shared memory
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        prepared[name] = tensor  # a large factor is serialised without a copy of its own
    listing = {
        k: {"dtype": str(v.dtype).removeprefix("torch."), "shape": list(v.shape)}
        for k, v in prepared.items()
    }
    draft = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "weights": {"tensors": listing},
        **metadata,
    }
    # the digest is taken of exactly what a reader will parse back
    document = json.loads(json.dumps(draft, default=json_default))
    signature = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "sidecar_sha256": document_digest(document),
    }
    blob = safetensors_bytes(prepared, metadata=signature)
    digest = hashlib.sha256(blob).hexdigest()
    stem = sidecar.stem
    weights = sidecar.with_name(f"{stem}-{digest[:12]}.safetensors")
    document["weights"] = {
        "file": weights.name,
        "sha256": digest,
        "bytes": len(blob),
        "tensors": document["weights"]["tensors"],
    }
    text = json.dumps(document, indent=2) + "\n"
    previous = _referenced_weights(sidecar)
    with atomic_write(weights, "wb") as handle:
        handle.write(blob)
    with atomic_write(sidecar, "w", encoding="utf-8") as handle:  # the commit point
        handle.write(text)
    _remove_stale_weights(sidecar, keep=weights, previous=previous)
    return sidecar


def _referenced_weights(sidecar: Path) -> Path | None:
    try:
        with open_regular_file(sidecar) as (handle, _):
            data = handle.read(SIDECAR_MAX_BYTES + 1)
        name = parse_json_bounded(data, str(sidecar))["weights"]["file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sidecar.with_name(name) if isinstance(name, str) and Path(name).name == name else None


def _remove_stale_weights(sidecar: Path, keep: Path, previous: Path | None) -> None:
    """Delete the previous weights and leftovers of interrupted saves of the same stem."""
    pattern = re.compile(re.escape(sidecar.stem) + r"-[0-9a-f]{12}\.safetensors")
    stale = {p for p in sidecar.parent.iterdir() if pattern.fullmatch(p.name)}
    if previous is not None:
        stale.add(previous)
    for p in stale - {keep}:
        with contextlib.suppress(OSError):
            p.unlink()


def _locate_sidecar(path: str | os.PathLike[str]) -> Path:
    resolved_path("model", path)  # an empty path is no model, not the current folder
    path = Path(path)
    if path.is_dir():
        sidecar = path / f"{_DEFAULT_STEM}.json"
        if not sidecar.exists():
            raise ValueError(
                f"folder {str(path)!r} holds no {sidecar.name}; pass the folder a model was "
                "saved to, or its .json file"
            )
        return sidecar
    if not path.exists():
        raise ValueError(f"model file {str(path)!r} does not exist; check the path")
    if path.suffix.lower() != ".json":
        raise ValueError(
            f"{str(path)!r} is not a model sidecar; pass the model's folder or its .json file "
            "(the .safetensors file alone has no metadata)"
        )
    return path


def load_model(
    path: str | os.PathLike[str],
    *,
    device: str | Any = "cpu",
    select: Callable[[str], bool] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load a model saved by :func:`save_model`, checking its format and both checksums.

    The weights file is read once: all of it is hashed and checked against the sidecar
    (every tensor's dtype and shape too), but only the tensors ``select`` accepts are
    kept, so the memory taken is theirs.

    Parameters
    ----------
    path : str or path-like
        The model's folder or its ``.json`` sidecar.
    device : str or torch.device, default "cpu"
        Where to put the tensors.
    select : callable, optional
        Given a tensor's name, whether to load it (default: every tensor).

    Returns
    -------
    tensors : dict of str to torch.Tensor
        The selected tensors.
    metadata : dict
        The whole sidecar: the caller's metadata plus ``format``, ``format_version``,
        ``library_version`` and ``weights``.

    Raises
    ------
    ValueError
        One line naming the file and what to do, when the path holds no model; the
        sidecar is not valid JSON, too large or too deeply nested, or lacks a field; the
        format version is not the one this library reads; the weights file is missing,
        not a regular file in the folder, too large, truncated or modified; the
        sidecar was edited after it was saved; or a tensor holds NaN or infinite values
        (no fit saves those). Nothing is ever unpickled.
    """

    sidecar = _locate_sidecar(path)
    where = repr(str(sidecar))
    with open_regular_file(sidecar, what="model file") as (handle, size):
        if size > SIDECAR_MAX_BYTES:
            raise ValueError(
                f"model file {where} holds {size:,} bytes, more than the "
                f"{SIDECAR_MAX_BYTES:,} a model sidecar may have; it was not written by "
                "torchlinear"
            )
        data = handle.read(SIDECAR_MAX_BYTES + 1)
    document = parse_json_bounded(data, f"model file {where}")
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"{where} is not a {FORMAT_NAME} model file")
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"model file {where} has an invalid format_version {version!r}; re-save it"
        )
    written = document.get("library_version", "?")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"model file {where} has format version {version} (written by torchlinear "
            f"{written}), newer than this torchlinear {__version__} reads (format "
            f"{FORMAT_VERSION}); upgrade torchlinear"
        )
    if version < FORMAT_VERSION:
        raise ValueError(
            f"model file {where} has format version {version} (written by torchlinear "
            f"{written}), whose metadata is not checksummed; this torchlinear reads format "
            f"{FORMAT_VERSION} only: fit the model again"
        )
    info: Any = document.get("weights")
    for key, kind in (("file", str), ("sha256", str), ("bytes", int), ("tensors", dict)):
        if not isinstance(info, dict) or not isinstance(info.get(key), kind):
            raise ValueError(f"model file {where} is missing 'weights.{key}'; re-save the model")
    name = info["file"]
    if Path(name).name != name or not name.endswith(".safetensors") or name.startswith("."):
        raise ValueError(f"model file {where} names an invalid weights file {name!r}")
    weights = sidecar.with_name(name)
    found = _read_weights(weights, where, info, select)
    if found.metadata.get("sidecar_sha256") != document_digest(document):
        raise ValueError(
            f"model file {where} does not match the SHA-256 of its contents recorded in "
            f"weights file {str(weights)!r}: it was edited after it was saved, or is "
            "inconsistent with those weights; re-save or re-train the model"
        )
    listed = info["tensors"]
    if set(listed) != set(found.entries):
        missing = sorted(set(listed) - set(found.entries))
        raise ValueError(
            f"weights file {str(weights)!r} lacks tensors {missing}; re-save the model"
        )
    for key, entry in found.entries.items():
        actual = entry.listing()
        if listed[key] != actual:
            raise ValueError(
                f"tensor {key!r} in {str(weights)!r} is {actual['dtype']} of shape "
                f"{actual['shape']} but {where} lists {listed[key]}; re-save the model"
            )
    tensors = found.tensors
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ValueError(
                f"tensor {key!r} in {str(weights)!r} holds NaN or infinite values: the model "
                "is corrupt; re-train it"
            )
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors, document


class DeferredTensors:
    """Tensors of a model file that :func:`load_model` was told to leave unread
    (``select``), read when they are first needed.

    Reading them reads the file again with every check of :func:`load_model`, and refuses
    it if its weights are no longer those first loaded.

    Parameters
    ----------
    path : str or path-like
        The model's folder or sidecar, as given to :func:`load_model`.
    document : dict
        The sidecar :func:`load_model` returned.
    names : iterable of str
        The tensors left unread.

    Examples
    --------
    >>> import tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_model(folder, {"w": torch.ones(2), "big": torch.zeros(3, 3)})
    >>> tensors, meta = load_model(folder, select=lambda name: name != "big")
    >>> later = DeferredTensors(folder, meta, ["big"])
    >>> sorted(tensors), later.shapes, later.read(lambda t: t["big"].sum().item())
    (['w'], {'big': (3, 3)}, 0.0)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        document: Mapping[str, Any],
        names: Iterable[str],
        *,
        prefix: str = "",
    ) -> None:
        self.path = path
        self.sha256 = str(document["weights"]["sha256"])
        self.listing = document["weights"]["tensors"]
        self.names = frozenset(n for n in names if n.startswith(prefix))
        self.prefix = prefix
        #: The shape of each tensor left unread, by its name without ``prefix``.
        self.shapes = {
            n[len(prefix) :]: tuple(self.listing[n]["shape"]) for n in sorted(self.names)
        }

    def __contains__(self, name: object) -> bool:
        return name in self.shapes

    def within(self, prefix: str) -> DeferredTensors:
        """The tensors whose names (without this one's prefix) start with ``prefix``."""
        document = {"weights": {"sha256": self.sha256, "tensors": self.listing}}
        return DeferredTensors(self.path, document, self.names, prefix=self.prefix + prefix)

    def read(self, use: Callable[[dict[str, torch.Tensor]], _T]) -> _T:
        """Read the tensors and pass them, by their names without the prefix, to ``use``.

        Raises
        ------
        ValueError
            One line naming the file: when it fails :func:`load_model`'s checks or was
            replaced since it was loaded, or when ``use`` refuses the tensors (their
            values contradict the rest of the model).
        """
        where = repr(str(self.path))
        tensors, document = load_model(self.path, select=self.names.__contains__)
        if document["weights"]["sha256"] != self.sha256:
            raise ValueError(
                f"model file {where} was replaced after the model was loaded from it; load "
                "the model again"
            )
        own = {k[len(self.prefix) :]: v for k, v in tensors.items()}
        try:
            return use(own)
        except Exception as exc:  # a file's content, whatever it is, is refused in one line
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"model file {where} is inconsistent ({reason}); re-save or re-train the model"
            ) from None


def _read_weights(
    weights: Path, where: str, info: Mapping[str, Any], select: Callable[[str], bool] | None
) -> Weights:
    """The weights file read once (:func:`torchlinear._weights.read_weights`), once it is
    known to be a regular file of the saved size and whole bytes match the saved SHA-256."""
    declared = info["bytes"]

    def header(raw: bytes) -> Any:
        return parse_json_bounded(raw, f"weights file {str(weights)!r}", max_bytes=MAX_HEADER_BYTES)

    try:
        with open_regular_file(weights, what="weights file", follow_symlinks=False) as (
            handle,
            size,
        ):
            if size != declared:
                raise ValueError(
                    f"weights file {str(weights)!r} does not match the SHA-256 recorded in "
                    f"{where} (it holds {size:,} bytes, {declared:,} were saved: truncated or "
                    "modified); re-save or re-train the model"
                )
            found = read_weights(weights, handle, size, header, select)
    except FileNotFoundError as exc:
        raise ValueError(
            f"weights file {str(weights)!r} named by {where} is missing; copy it next to the "
            "sidecar or re-save the model"
        ) from exc
    if found.sha256 != info["sha256"]:
        raise ValueError(
            f"weights file {str(weights)!r} does not match the SHA-256 recorded in {where} "
            "(truncated or modified); re-save or re-train the model"
        )
    if found.problem is not None:
        raise found.problem
    return found
