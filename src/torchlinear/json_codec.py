"""The JSON of model files and checkpoints: parsing it within bounds, making values
JSON-able, and nested states (an optimizer's, a scheduler's) as JSON plus tensors, so that
nothing needs a pickle.

:func:`parse_json_bounded` counts a document's nesting and values before the parser runs,
so a crafted file is refused in one line rather than exhausting the stack or memory;
:func:`flatten_state` and :func:`unflatten_state` split a state into a JSON document and
named tensors and rebuild it exactly.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = [
    "SIDECAR_MAX_BYTES",
    "SIDECAR_MAX_DEPTH",
    "SIDECAR_MAX_ITEMS",
    "flatten_state",
    "json_default",
    "parse_json_bounded",
    "unflatten_state",
]

SIDECAR_MAX_BYTES = 32 * 2**20
"""Largest model sidecar (``model.json``) that is read."""
SIDECAR_MAX_DEPTH = 64
"""Deepest nesting of JSON arrays and objects accepted in a sidecar."""
SIDECAR_MAX_ITEMS = 2_000_000
"""Most JSON values (separators plus containers) accepted in a sidecar; with the size cap
this bounds the memory parsing it takes to a few hundred MB at worst."""


def json_default(value: Any) -> Any:
    """Make NumPy values, tensors, paths, dtypes and tuples JSON-serialisable."""

    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, torch.dtype | torch.device):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON-serialisable")


class _Duplicate(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Duplicate(f"key {key!r} appears twice in one object")
    return out


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?')


def parse_json_bounded(
    data: bytes,
    where: str,
    *,
    max_bytes: int = SIDECAR_MAX_BYTES,
    max_depth: int = SIDECAR_MAX_DEPTH,
    max_items: int = SIDECAR_MAX_ITEMS,
) -> Any:
    """Parse JSON whose size, nesting depth and number of values are bounded first.

    Before the parser runs, strings are blanked out and the brackets and separators that
    remain are counted, so a deeply nested or value-dense document is refused with a
    ``ValueError`` instead of a ``RecursionError`` or gigabytes of small objects. A key
    repeated within one object is refused too (a parser would keep one of the two
    silently).

    Parameters
    ----------
    data : bytes
        UTF-8 JSON text.
    where : str
        Name of the file, for error messages.
    max_bytes, max_depth, max_items : int
        The limits; by default :data:`SIDECAR_MAX_BYTES`, :data:`SIDECAR_MAX_DEPTH` and
        :data:`SIDECAR_MAX_ITEMS`.

    Examples
    --------
    >>> parse_json_bounded(b'{"a": [1, 2, {"b": null}]}', "x.json")
    {'a': [1, 2, {'b': None}]}
    >>> parse_json_bounded(b"[" * 100 + b"]" * 100, "x.json")
    Traceback (most recent call last):
    ...
    ValueError: x.json nests JSON 100 levels deep, more than the 64 allowed; it was not written by torchlinear
    """  # noqa: E501

    if len(data) > max_bytes:
        raise ValueError(
            f"{where} holds {len(data):,} bytes, more than the {max_bytes:,} a model file may "
            "have; it was not written by torchlinear"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not text; it is corrupt — re-save the model") from exc
    skeleton = _JSON_STRING.sub("0", text).encode("ascii", "replace")
    del text
    counts = {c: skeleton.count(c) for c in (b"[", b"{", b"]", b"}", b",", b":")}
    items = sum(counts.values())
    if items > max_items:
        raise ValueError(
            f"{where} holds {items:,} JSON values, more than the {max_items:,} a model file "
            "may have; it was not written by torchlinear"
        )
    if counts[b"["] + counts[b"{"]:
        codes = np.frombuffer(skeleton, dtype=np.uint8)
        brackets = codes[np.isin(codes, np.frombuffer(b"[{]}", dtype=np.uint8))]
        steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
        depth = int(np.cumsum(steps, dtype=np.int32).max())
        if depth > max_depth:
            raise ValueError(
                f"{where} nests JSON {depth} levels deep, more than the {max_depth} allowed; "
                "it was not written by torchlinear"
            )
    text = data.decode("utf-8")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except _Duplicate as exc:
        raise ValueError(f"{where} is not a valid model file: {exc}; re-save the model") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}); it is "
            "truncated or was edited — re-save the model"
        ) from None
    except (RecursionError, ValueError) as exc:  # numbers too long, and the like
        raise ValueError(f"{where} is not valid JSON ({exc}); re-save the model") from None


def flatten_state(state: Any, prefix: str = "state") -> tuple[Any, dict[str, Any]]:
    """Split a nested state (dicts, lists, tuples, tensors, scalars) into JSON and tensors.

    Every tensor is replaced by ``{"__tensor__": key}`` and collected under ``key``;
    tuples and dicts with non-string keys (an optimizer's parameter indices) are tagged so
    :func:`unflatten_state` rebuilds them exactly.

    Examples
    --------
    >>> import torch
    >>> doc, tensors = flatten_state({"state": {0: {"step": torch.tensor(3.0)}}, "b": (0.9, 0.99)})
    >>> unflatten_state(doc, tensors)
    {'state': {0: {'step': tensor(3.)}}, 'b': (0.9, 0.99)}
    """

    tensors: dict[str, torch.Tensor] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            key = f"{prefix}.{len(tensors)}"
            tensors[key] = value.detach()
            return {"__tensor__": key}
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: encode(v) for k, v in value.items()}
            return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {"__tuple__": [encode(v) for v in value]}
        if isinstance(value, list):
            return [encode(v) for v in value]
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        return json_default(value)

    return encode(state), tensors


def unflatten_state(document: Any, tensors: Mapping[str, Any]) -> Any:
    """Rebuild a state split by :func:`flatten_state`."""

    def decode(value: Any) -> Any:
        if isinstance(value, dict):
            if "__tensor__" in value:
                key = value["__tensor__"]
                if key not in tensors:
                    raise ValueError(f"saved state refers to a missing tensor {key!r}")
                return tensors[key]
            if "__dict__" in value:
                return {decode(k): decode(v) for k, v in value["__dict__"]}
            if "__tuple__" in value:
                return tuple(decode(v) for v in value["__tuple__"])
            if "__float__" in value:
                return float(value["__float__"])
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(document)
