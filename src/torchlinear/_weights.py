"""Reading a model's safetensors weights in one pass: the whole file is hashed, its header
is checked, and only the tensors asked for are kept.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus ``__metadata__``) and the tensors' bytes, back to back.
:func:`read_weights` reads it once, in order: every byte goes through SHA-256, the bytes
of the selected tensors are kept and become tensors without a copy, the others are
hashed and dropped. So predicting with a model whose d x d factor takes hundreds of
megabytes reads its coefficients only, and yet a file modified anywhere is refused.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torchlinear._memory import format_bytes, memory_budget

__all__ = ["MAX_HEADER_BYTES", "TensorEntry", "Weights", "read_weights"]

MAX_HEADER_BYTES = 100 * 2**20
"""Largest safetensors header that is read."""

#: The safetensors dtypes a model file may hold, as torch dtypes.
_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_BLOCK = 2**20  # bytes hashed at a time between kept tensors


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a weights file's header: its dtype, shape and byte range."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int

    def listing(self) -> dict[str, Any]:
        """The entry as a sidecar lists it (``{"dtype": "float64", "shape": [3]}``)."""
        return {"dtype": str(self.dtype).removeprefix("torch."), "shape": list(self.shape)}


@dataclass
class Weights:
    """What :func:`read_weights` found: the SHA-256 of the whole file, the header's
    ``__metadata__``, every tensor's entry and the selected tensors; or, in ``problem``,
    why the file is not a valid safetensors file (to raise once the hash is compared)."""

    sha256: str
    metadata: dict[str, Any]
    entries: dict[str, TensorEntry]
    tensors: dict[str, torch.Tensor]
    problem: ValueError | None = None


def read_weights(
    path: Path,
    handle: Any,
    size: int,
    parse_header: Callable[[bytes], Any],
    select: Callable[[str], bool] | None = None,
) -> Weights:
    """Read an open safetensors file of ``size`` bytes once, keeping the tensors that
    ``select`` accepts (all by default).

    ``parse_header`` parses the JSON header (bounded). A header that is not a valid
    safetensors layout (unknown dtype, byte ranges that overlap, leave gaps or do not
    match the shapes) is reported in :attr:`Weights.problem`, after the whole file is
    hashed: the caller compares :attr:`Weights.sha256` first, so that a modified file is
    reported as such. Selected tensors beyond half the memory budget are refused before
    they are read.
    """
    where = repr(str(path))
    digest = hashlib.sha256()
    prefix = handle.read(8)
    digest.update(prefix)
    n = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
    problem: ValueError | None = None
    entries: dict[str, TensorEntry] = {}
    metadata: dict[str, Any] = {}
    if n < 2 or n > min(size - 8, MAX_HEADER_BYTES):
        problem = ValueError(f"weights file {where} is not a valid safetensors file")
    else:
        raw = handle.read(n)
        digest.update(raw)
        try:
            entries, metadata = _layout(parse_header(raw), size - 8 - n, where)
        except ValueError as exc:
            problem = exc
    wanted = {k for k in entries if select is None or select(k)}
    needed = sum(entries[k].end - entries[k].begin for k in wanted)
    budget = memory_budget() // 2  # the bytes, and the finiteness check beside them
    if needed > budget:
        problem = ValueError(
            f"weights file {where} holds {format_bytes(needed)} of tensors, more than the "
            f"{format_bytes(budget)} this machine's memory allows loading"
        )
    tensors: dict[str, torch.Tensor] = {}
    for name, entry in sorted(entries.items(), key=lambda item: item[1].begin):
        count = entry.end - entry.begin
        if problem is not None or name not in wanted:
            _hash_through(handle, count, digest)
            continue
        data = bytearray(count)
        got = handle.readinto(data)
        digest.update(memoryview(data)[:got])
        if got != count:
            break  # truncated: the hash says so
        tensors[name] = (
            torch.frombuffer(data, dtype=entry.dtype).reshape(entry.shape)
            if count
            else torch.empty(entry.shape, dtype=entry.dtype)
        )
    _hash_through(handle, None, digest)
    return Weights(digest.hexdigest(), metadata, entries, tensors, problem)


def _hash_through(handle: Any, count: int | None, digest: Any) -> None:
    """Feed ``count`` bytes of ``handle`` (all that remain for None) to ``digest``."""
    left = math.inf if count is None else count
    while left > 0:
        block = handle.read(int(min(left, _BLOCK)))
        if not block:
            return
        digest.update(block)
        left -= len(block)


def _layout(
    header: Any, data_bytes: int, where: str
) -> tuple[dict[str, TensorEntry], dict[str, Any]]:
    """The tensors' entries and the ``__metadata__`` of a parsed header, once the entries
    are known to tile the ``data_bytes`` after the header exactly, in their dtypes and
    shapes."""
    invalid = f"weights file {where} is not a valid safetensors file"
    if not isinstance(header, dict):
        raise ValueError(invalid)
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict):
        raise ValueError(invalid)
    entries: dict[str, TensorEntry] = {}
    for name, item in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(item, dict) or set(item) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{invalid} (tensor {name!r})")
        dtype, shape, offsets = _DTYPES.get(item["dtype"]), item["shape"], item["data_offsets"]
        if (
            dtype is None
            or not isinstance(shape, list)
            or not all(type(v) is int and v >= 0 for v in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(v) is int for v in offsets)
            or not 0 <= offsets[0] <= offsets[1]
            or offsets[1] - offsets[0] != math.prod(shape) * dtype.itemsize
        ):
            raise ValueError(f"{invalid} (tensor {name!r})")
        entries[name] = TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])
    position = 0
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if entry.begin != position:
            raise ValueError(f"{invalid} (its tensors overlap or leave gaps)")
        position = entry.end
    if position != data_bytes:
        raise ValueError(f"{invalid} (its tensors do not fill it)")
    return entries, {str(k): v for k, v in metadata.items()}
