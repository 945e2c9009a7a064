"""Arrow columns to NumPy arrays and back, through their buffers.

pyarrow's own conversions (``Array.to_numpy``, ``pa.array`` of NumPy or Python values)
import pandas the first time they run: about 0.3 s and 40 MB, more than a whole
Parquet fit's pass over 1,000 rows. The readers and the prediction writer only move
numbers, booleans and strings, whose Arrow layouts are simple: a validity bitmap, then
values (numbers), bits (booleans), or offsets into UTF-8 bytes (strings). These two
functions read and write those layouts directly and never load pandas; any other type
goes through pyarrow.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["to_arrow", "to_numpy"]


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column as NumPy, as ``to_numpy(zero_copy_only=False)`` gives it.

    Integers are int64 (float64 with NaN where null), floating point numbers float64
    (NaN where null), booleans bool (object with None where null), strings an object
    array of str (None where null).

    Examples
    --------
    >>> to_numpy(pa.chunked_array([[1, 2], [None]]))
    array([ 1.,  2., nan])
    >>> to_numpy(pa.array(["a", None, "b"])).tolist()
    ['a', None, 'b']
    """
    if isinstance(column, pa.ChunkedArray):
        chunks = column.chunks
        if not chunks:
            return _values(pa.array([], type=column.type))
        if len(chunks) > 1:
            parts = [_values(c) for c in chunks]
            kinds = {p.dtype for p in parts}
            if len(kinds) > 1:  # integers with and without nulls
                parts = [p.astype(np.float64) if p.dtype.kind in "iu" else p for p in parts]
            return np.concatenate(parts)
        column = chunks[0]
    return _values(column)


def _values(a: pa.Array) -> np.ndarray:
    t, n, nulls = a.type, len(a), a.null_count
    if pa.types.is_dictionary(t):
        return _values(a.cast(t.value_type))
    if pa.types.is_integer(t) and not nulls and t != pa.uint64():
        return _buffer(a.cast(pa.int64()), np.int64)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        a = a.cast(pa.float64(), safe=False)  # integers beyond 2**53 round, as in NumPy
        values = _buffer(a, np.float64)
        if nulls:
            values = values.copy()
            values[~_valid(a)] = np.nan
        return values
    if pa.types.is_boolean(t):
        bits = _bits(a.buffers()[1], a.offset, n)
        if not nulls:
            return bits
        out = bits.astype(object)
        out[~_valid(a)] = None
        return out
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        encoded = pc.dictionary_encode(a)
        words = np.array(encoded.dictionary.to_pylist() + [None], dtype=object)
        codes = _buffer(encoded.indices.cast(pa.int64()), np.int64).copy()
        if nulls:
            codes[~_valid(encoded.indices)] = len(words) - 1
        return words[codes]
    return a.to_numpy(zero_copy_only=False)


def _buffer(a: pa.Array, dtype: type) -> np.ndarray:
    """The values of a primitive array, null slots included (a read-only view, as
    pyarrow's zero-copy conversion gives)."""
    return np.frombuffer(a.buffers()[1], dtype=dtype, count=a.offset + len(a))[a.offset :]


def _bits(buffer: pa.Buffer, offset: int, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + n].astype(bool)


def _valid(a: pa.Array) -> np.ndarray:
    validity = a.buffers()[0]
    if validity is None:
        return np.ones(len(a), dtype=bool)
    return _bits(validity, a.offset, len(a))


def to_arrow(values: np.ndarray | pa.Array) -> pa.Array:
    """A 1-D NumPy array as an Arrow array: numbers (NaN stays NaN, not null), booleans,
    and strings (``None`` is null); other objects go through ``pa.array``.

    Examples
    --------
    >>> to_arrow(np.array([1.5, 2.0]))
    <pyarrow.lib.DoubleArray object at ...>
    [
      1.5,
      2
    ]
    >>> to_arrow(np.array(["yes", "no", "yes"], dtype=object)).to_pylist()
    ['yes', 'no', 'yes']
    """
    if isinstance(values, pa.Array):
        return values
    values = np.asarray(values)
    n = len(values)
    kind = values.dtype.kind
    if kind == "b":
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bits)])
    if kind in "iu":
        data = np.ascontiguousarray(values, dtype=np.int64)
        return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(data)])
    if kind == "f":
        data = np.ascontiguousarray(values, dtype=np.float64)
        return pa.Array.from_buffers(pa.float64(), n, [None, pa.py_buffer(data)])
    if kind == "U" or (
        kind == "O" and all(v is None or isinstance(v, str) for v in values.tolist())
    ):
        return _strings(values)
    return pa.array(values)  # other objects: pyarrow infers their type


def _text(value: object) -> bool:
    return value is None or isinstance(value, str)


def _strings(values: np.ndarray) -> pa.Array:
    """Strings from a NumPy array of labels, built from UTF-8 bytes and offsets."""
    values = values.astype(object)  # NumPy's fixed-width strings drop trailing NULs
    missing = np.array([v is None for v in values.tolist()], dtype=bool)
    labels, codes = np.unique(np.where(missing, "", values), return_inverse=True)
    encoded = [str(label).encode("utf-8") for label in labels]
    lengths = np.array([len(e) for e in encoded], dtype=np.int64)[codes.reshape(-1)]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded[c] for c in codes.reshape(-1).tolist()))
    validity = None
    if missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    array = pa.Array.from_buffers(
        pa.large_string(), len(values), [validity, pa.py_buffer(offsets), data]
    )
    return array.cast(pa.string()) if offsets[-1] < 2**31 else array
