"""What kind of file a path names: its format (CSV or Parquet) and compression from its
suffixes, and the CSV field separator it implies. Shared by the data reader
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
    "check_delimiter",
    "compression_of",
    "file_format",
    "is_parquet",
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
