"""What kind of file a path names: its format (CSV or Parquet) and compression from its
suffixes, the CSV field separator it implies, and what its first bytes say it really is
(a binary format, or UTF-16/32 text). Shared by the data reader
(:class:`~torchlinear.data.tabular.TabularSource`) and the predictions writer
(:class:`~torchlinear.data.predictions.PredictionWriter`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from torchlinear._validation import ParameterError

__all__ = [
    "COMPRESSIONS",
    "FORMATS",
    "binary_kind",
    "check_delimiter",
    "compression_of",
    "file_format",
    "is_parquet",
    "wide_encoding",
]

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""File suffix -> format; the format of a data or prediction file comes from its suffix."""

#: A data file's last suffix -> the compression pyarrow streams it through (CSV only,
#: ``data.csv.gz``); the codecs this pyarrow build lacks are left out.
COMPRESSIONS: dict[str, str] = {
    suffix: codec
    for suffix, codec in {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}.items()
    if pa.Codec.is_available(codec)
}


def compression_of(path: Path) -> str | None:
    """The compression of a data file named ``*.csv.gz`` and so on, else ``None``."""
    return COMPRESSIONS.get(path.suffix.lower()) if len(path.suffixes) > 1 else None


def file_format(path: Path, what: str) -> str:
    """``"csv"`` or ``"parquet"`` from the file name (``what``: "data" or "predictions").

    Data may be a compressed CSV (``data.csv.gz``); anything else raises ``ValueError``
    listing the suffixes understood.

    Examples
    --------
    >>> file_format(Path("houses.csv.gz"), "data"), file_format(Path("p.parquet"), "data")
    ('csv', 'parquet')
    """
    suffix = path.suffix.lower()
    if what == "data" and compression_of(path) is not None:
        inner = Path(path.stem).suffix.lower()
        if FORMATS.get(inner) == "csv":
            return "csv"
        raise ValueError(
            f"{path}: a compressed data file must be a CSV named like data.csv{suffix}; "
            f"got {inner or 'no inner suffix'!s} (Parquet files compress internally)"
        )
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        raise ValueError(
            f"{path}: spreadsheet workbooks ({suffix}) are not read or written; save the sheet "
            "as CSV (UTF-8) or Parquet"
        )
    if suffix not in FORMATS:
        csv = ", ".join(s for s, f in FORMATS.items() if f == "csv")
        parquet = ", ".join(s for s, f in FORMATS.items() if f == "parquet")
        got = f"suffix {suffix!r}" if suffix else "no suffix"
        raise ValueError(
            f"{path}: cannot tell the {what} format from {got}; name the file with a CSV "
            f"({csv}) or Parquet ({parquet}) suffix"
        )
    return FORMATS[suffix]


#: Two-character spellings of a separator, as typed in a shell: ``\t`` is a tab.
_ESCAPED = {"\\t": "\t"}


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Whether the file's name says Parquet, whose columns need no delimiter.

    Examples
    --------
    >>> is_parquet("a.parquet"), is_parquet("a.csv.gz"), is_parquet("diabetes")
    (True, False, False)
    """
    return FORMATS.get(Path(path).suffix.lower()) == "parquet"


def check_delimiter(delimiter: Any, path: Path) -> str:
    """The CSV field separator: ``delimiter`` checked, or by default tab for ``.tsv``, else
    comma. The two characters ``\\t`` (a backslash and a t, as a shell passes ``'\\t'``)
    mean a tab.

    Raises
    ------
    ParameterError
        Unless ``delimiter`` is one ASCII character other than a quote or a line break.

    Examples
    --------
    >>> check_delimiter(None, Path("a.tsv")), check_delimiter(";", Path("a.csv"))
    ('\\t', ';')
    >>> check_delimiter(r"\\t", Path("a.csv"))
    '\\t'
    """
    if delimiter is None:
        plain = Path(path.stem) if compression_of(path) is not None else path
        return "\t" if plain.suffix.lower() == ".tsv" else ","
    if isinstance(delimiter, str):
        delimiter = _ESCAPED.get(delimiter, delimiter)
    if (
        not isinstance(delimiter, str)
        or len(delimiter) != 1
        or not delimiter.isascii()
        or delimiter in '\r\n"'
    ):
        raise ParameterError(
            "delimiter",
            "{param} must be one ASCII character other than a quote or a line break, e.g. "
            "{0}, {1} or {2} for a tab; got {value!r}",
            value=delimiter,
            suggestions=[("delimiter", ";"), ("delimiter", "|"), ("delimiter", "\t")],
        )
    return delimiter


def wide_encoding(head: bytes) -> bool:
    """Whether ``head`` starts as UTF-16 or UTF-32 text: a byte-order mark, or ASCII
    characters with a zero byte beside each (``b"a\\x00,\\x00"``)."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:4] == b"\x00\x00\xfe\xff":
        return True
    pairs = head[:8]
    if len(pairs) < 8:
        return False
    little = all(pairs[i] and not pairs[i + 1] for i in range(0, 8, 2))
    big = all(not pairs[i] and pairs[i + 1] for i in range(0, 8, 2))
    return little or big


_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx or OpenDocument workbook?), not CSV text; "
     "save the sheet as CSV (UTF-8), or unzip the file"),
    (b"\xd0\xcf\x11\xe0", "an Office document (an Excel .xls workbook?), not CSV text; save "
     "the sheet as CSV (UTF-8)"),
    (b"PAR1", "a Parquet file, not CSV text; name it with a .parquet suffix"),
    (b"\x1f\x8b", "gzip-compressed; name it like data.csv.gz"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed; name it like data.csv.zst"),
    (b"\x04\x22\x4d\x18", "lz4-compressed; name it like data.csv.lz4"),
)  # fmt: skip


def binary_kind(head: bytes) -> str | None:
    r"""What a file that starts with ``head`` is, if its first bytes are those of a binary
    format (an archive, a workbook, Parquet, a compressed stream) rather than text.

    Examples
    --------
    >>> binary_kind(b"PK\x03\x04\x14\x00") is not None, binary_kind(b"PAR1\x15\x04\x15")
    (True, 'a Parquet file, not CSV text; name it with a .parquet suffix')
    >>> binary_kind(b"PAR1,PAR2\n1,2\n"), binary_kind(b"a,b\n1,2\n")
    (None, None)
    """
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            rest = head[len(signature) : len(signature) + 64]
            if signature == b"PAR1" and all(b >= 0x20 or b in b"\t\r\n" for b in rest):
                return None  # text: a header that starts with the name PAR1
            return kind
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        return "bzip2-compressed; name it like data.csv.bz2"
    return None
