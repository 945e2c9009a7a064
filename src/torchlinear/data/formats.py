"""What kind of file a path names: its format (CSV or Parquet) and compression from its
suffixes, and the CSV field separator it implies. Shared by the data reader
(:class:`~torchlinear.data.tabular.TabularSource`) and the predictions writer
(:class:`~torchlinear.data.predictions.PredictionWriter`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

__all__ = ["COMPRESSIONS", "FORMATS", "check_delimiter", "compression_of", "file_format"]

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
    if suffix not in FORMATS:
        csv = ", ".join(s for s, f in FORMATS.items() if f == "csv")
        parquet = ", ".join(s for s, f in FORMATS.items() if f == "parquet")
        got = f"suffix {suffix!r}" if suffix else "no suffix"
        raise ValueError(
            f"{path}: cannot tell the {what} format from {got}; name the file with a CSV "
            f"({csv}) or Parquet ({parquet}) suffix"
        )
    return FORMATS[suffix]


def check_delimiter(delimiter: Any, path: Path) -> str:
    """The CSV field separator: ``delimiter`` checked, or by default tab for ``.tsv``, else comma.

    Examples
    --------
    >>> check_delimiter(None, Path("a.tsv")), check_delimiter(";", Path("a.csv"))
    ('\\t', ';')
    """
    if delimiter is None:
        plain = Path(path.stem) if compression_of(path) is not None else path
        return "\t" if plain.suffix.lower() == ".tsv" else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValueError(
            f"delimiter must be a single character such as ',', ';' or '\\t', got {delimiter!r}"
        )
    return delimiter
