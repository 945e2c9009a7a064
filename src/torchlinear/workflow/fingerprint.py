"""What a checkpoint must agree with before a fit may resume from it.

A checkpoint folder holds, beside the training state, ``fingerprint.json``: the data
(path, size, modification time, columns, target, features, and a SHA-256 of the file's
first and last 64 KiB) and every setting that shaped the run so far. ``resume`` compares
it with the command's own; any difference but a larger ``epochs`` is refused with one
line naming it, so a model is never reported as fitted on data it only partly saw.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from torchlinear._validation import ParameterError
from torchlinear.io import atomic_write, read_json_bounded

__all__ = ["FINGERPRINT_FILE", "check_fingerprint", "fingerprint", "write_fingerprint"]

FINGERPRINT_FILE = "fingerprint.json"
EDGE_BYTES = 64 << 10  # bytes digested at each end of a data file

# the settings recorded, in the order a difference is reported
SETTINGS = (
    "task", "model", "loss", "solver", "alpha", "l1_ratio", "delta",
    "hidden", "batch_size", "lr", "val_split", "patience", "seed", "device", "drop_na",
    "stream", "delimiter", "batch_rows", "formula", "weight", "max_levels", "max_classes",
)  # fmt: skip
DATA = ("path", "size", "mtime", "columns", "target", "features", "edges")
DATA_NAMES = {
    "path": "the data file",
    "size": "the data file's size",
    "mtime": "the data file's modification time",
    "columns": "the data's columns",
    "target": "the target",
    "features": "the feature list",
    "edges": "the data file's contents (first or last 64 KiB)",
}


def file_edges(path: Path) -> str:
    """SHA-256 of a file's first and last :data:`EDGE_BYTES` (the whole of a small file).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_text("x,y\\n1,2\\n")
    >>> file_edges(p) == hashlib.sha256(b"x,y\\n1,2\\n").hexdigest()  # a small file: all of it
    True
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(EDGE_BYTES))
        size = os.fstat(f.fileno()).st_size
        if size > EDGE_BYTES:
            f.seek(max(EDGE_BYTES, size - EDGE_BYTES))
            h.update(f.read(EDGE_BYTES))
    return h.hexdigest()


def fingerprint(data: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of a run: its data (a :class:`~torchlinear.workflow.sources.Data`)
    and its ``settings`` (``epochs`` among them)."""
    source = data.source
    info: dict[str, Any] = {
        "target": data.target,
        "features": list(data.feature_names),
    }
    if source is not None and getattr(source, "path", None) is not None:
        path = Path(source.path)
        stat = path.stat()
        info.update(
            path=str(path.resolve()),
            size=stat.st_size,
            mtime=stat.st_mtime_ns,
            columns=list(getattr(source, "columns", []) or []),
            edges=file_edges(path),
        )
    else:  # a built-in dataset, in memory
        info.update(path=data.label, size=None if data.X is None else list(data.X.shape))
    return {"data": info, "settings": dict(settings)}


def write_fingerprint(folder: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as the checkpoint folder's fingerprint (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / FINGERPRINT_FILE, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1, default=str)
        handle.write("\n")


def _shown(value: Any) -> str:
    if value is None:
        return "the default"
    if isinstance(value, list) and len(value) > 4:
        return f"{len(value)} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_fingerprint(folder: Path, current: dict[str, Any]) -> None:
    """Refuse, naming the first difference, a resume whose data or settings differ from
    those the checkpoint in ``folder`` was made with (a larger ``epochs`` is allowed).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> old = {"data": {"target": "y"}, "settings": {"lr": 0.1, "epochs": 10}}
    >>> write_fingerprint(folder, old)
    >>> check_fingerprint(folder, {"data": {"target": "y"},
    ...                            "settings": {"lr": 0.1, "epochs": 20}})  # more epochs: fine
    >>> check_fingerprint(folder, {"data": {"target": "y"},
    ...                            "settings": {"lr": 0.01, "epochs": 10}})
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: resume: lr differs from the checkpoint's (0.1 there, 0.01 now); resume with the same settings, or start afresh with overwrite=True
    """  # noqa: E501
    path = folder / FINGERPRINT_FILE
    try:
        saved = read_json_bounded(path, "fingerprint")
        saved_data, saved_settings = dict(saved["data"]), dict(saved["settings"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ParameterError(
            "resume",
            "{param}: the checkpoint in {folder!r} has no readable {name} (it was not made "
            "by this version's fit); start afresh with {0}",
            value=True,
            folder=str(folder),
            name=FINGERPRINT_FILE,
            suggestions=[("overwrite", True)],
        ) from None
    data, settings = current["data"], current["settings"]
    for key in DATA:
        old, new = saved_data.get(key), data.get(key)
        if old != new and json.loads(json.dumps(new, default=str)) != old:
            raise ParameterError(
                "resume",
                "{param}: {what} differs from the checkpoint's ({old} there, {new} now); "
                "resume on the same, unchanged data, or start afresh with {0}",
                value=True,
                what=DATA_NAMES[key],
                old=_shown(old),
                new=_shown(new),
                suggestions=[("overwrite", True)],
            )
    for key in SETTINGS:
        old, new = saved_settings.get(key), settings.get(key)
        if old != new and json.loads(json.dumps(new, default=str)) != old:
            raise ParameterError(
                "resume",
                "{param}: {" + key + "} differs from the checkpoint's ({old} there, {new} now); "
                "resume with the same settings, or start afresh with {0}",
                value=True,
                old=_shown(old),
                new=_shown(new),
                suggestions=[("overwrite", True)],
            )
    old, new = saved_settings.get("epochs"), settings.get("epochs")
    if old is not None and new is not None and new < old:
        raise ParameterError(
            "resume",
            "{param}: {epochs} {new} is fewer than the {old} the checkpoint's run was started "
            "with; resume with {epochs} {old} or more",
            value=True,
            old=old,
            new=new,
        )
