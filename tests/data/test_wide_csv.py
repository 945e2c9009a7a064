"""Tests for torchlinear.data.wide_csv: files of thousands of columns read cell by cell.

The reference for every type and value is pyarrow's own CSV reader on the same text.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from torchlinear.data.wide_csv import WIDE_COLUMNS, numeric_block, read_head, split_rows

# cells whose inferred type a column of them alone (with a second, plain cell) must get
CELLS = [
    "1", "-0", "007", "+1", "1.", ".5", "-.5", "1e5", "1E+5", "-1.5e-3", "1e500", "00.5",
    "9223372036854775807", "9223372036854775808", "123456789012345678", "", "NA", "nan",
    "null", "N/A", "inf", "-inf", "Infinity", "true", "False", "0x1A", "1_000", " 1", "1 ",
    "2020-01-02", "12:30:00", "x", "1.5e", "e5", "١", "1d5", "#N/A",
]  # fmt: skip


def _pyarrow(text: bytes) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(text),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=len(text) + 2),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )


def _wide_text(columns: list[list[str]]) -> bytes:
    header = ",".join(f"c{j}" for j in range(len(columns)))
    rows = [",".join(col[i] for col in columns) for i in range(len(columns[0]))]
    return ("\n".join([header, *rows]) + "\n").encode()


def test_the_types_of_the_first_rows_are_those_pyarrow_infers() -> None:
    # every cell alone, and next to a number, a missing value and a text, in one file
    partners = ["2", "", "NA", "2.5", "x"]
    columns = [[a, b] for a in CELLS for b in partners]
    columns += [["1", "2"]] * (WIDE_COLUMNS - len(columns))
    text = _wide_text(columns)
    head = read_head(text, ",")
    assert head is not None
    expected = _pyarrow(text)
    assert head.columns == expected.column_names
    assert [head.types[c] for c in head.columns] == expected.schema.types
    # the sample holds the columns that are not all numbers, with pyarrow's values
    for name in head.sample.column_names:
        assert head.sample.column(name).equals(expected.column(name)), name
    numeric = {c for c, t in head.types.items() if t in (pa.int64(), pa.float64(), pa.null())}
    assert head.numeric <= numeric and set(head.sample.column_names) == set(head.columns) - (
        head.numeric
    )


def test_a_column_of_empty_cells_alone_in_a_group_keeps_its_rows() -> None:
    # a group of one text column whose cell is empty: a line of empty cells, not skipped
    columns = [["1", "2"]] * (WIDE_COLUMNS - 1) + [["x", ""]]
    text = _wide_text(columns)
    head = read_head(text, ",")
    assert head is not None
    assert head.sample.column(f"c{WIDE_COLUMNS - 1}").to_pylist() == ["x", None]


@pytest.mark.parametrize(
    "text",
    [
        b'a,b\n"1",2\n',  # a quote
        b"\xef\xbb\xbfa,b\n1,2\n",  # a byte-order mark
        b"a,b\n1,2,3\n",  # a row longer than the header
        b"a,b\n",  # no data row
        b"a,\xff\n1,2\n",  # a name that is not UTF-8
    ],
)
def test_text_pyarrow_must_read_is_left_to_it(text: bytes) -> None:
    assert read_head(text, ",") is None


def test_blank_lines_are_skipped_as_pyarrow_skips_them() -> None:
    assert split_rows(b"a,b\r\n\n\r\n1,2\r\n", ",") == [[b"a", b"b"], [b"1", b"2"]]
    assert split_rows(b"a;b\n1;2\n", ";") == [[b"a", b"b"], [b"1", b"2"]]


def test_numbers_are_read_to_the_float64_pyarrow_reads() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 400)) * 10.0 ** rng.integers(-300, 300, size=(3, 400))
    cells = [[repr(float(v)) for v in row] for row in values]
    cells[0][:6] = ["1e500", "-1e-500", "+.5", "7.", "0004.50", "4.9406564584124654e-324"]
    cells[1][:2] = ["", "NA"]  # missing: NaN, as pyarrow's nulls become
    text = "\n".join(",".join(row) for row in cells).encode() + b"\n"
    got = numeric_block(text, ",", 400, list(range(400)))
    names = [f"c{j}" for j in range(400)]
    expected = pacsv.read_csv(
        io.BytesIO(text),
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
    )
    reference = np.column_stack([expected.column(n).to_numpy(zero_copy_only=False) for n in names])
    assert got is not None
    np.testing.assert_array_equal(got, reference)
    assert np.isnan(got[1, :2]).all()
    wanted = [399, 3, 0]  # a selection, in the caller's order
    np.testing.assert_array_equal(numeric_block(text, ",", 400, wanted), reference[:, wanted])


@pytest.mark.parametrize(
    "cell", ["x", "inf", " 1", "1_000", "0x1A", '"1"', "1,5"]
)  # spellings pyarrow reads otherwise, or rejects with its own message
def test_a_cell_that_is_not_plainly_a_number_is_left_to_pyarrow(cell: str) -> None:
    text = f"1,2\n3,{cell}\n".encode()
    assert numeric_block(text, ",", 2, [0, 1]) is None
    if "," not in cell and '"' not in cell:
        assert numeric_block(text, ",", 2, [0]) is not None  # only wanted cells are read
