"""Arrow <-> NumPy through buffers (`data/arrow_numpy.py`), against pyarrow's own
conversions, and without loading pandas."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchlinear.data.arrow_numpy import to_arrow, to_numpy


def _same(ours: np.ndarray, theirs: np.ndarray) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours.tolist(), theirs.tolist(), strict=True):
        if a is None or b is None:
            if a is not b:
                return False
        elif isinstance(a, float) and np.isnan(a):
            if not (isinstance(b, float) and np.isnan(b)):
                return False
        elif a != b or type(a) is not type(b):
            return False
    return True


COLUMNS = {
    "int": pa.chunked_array([[1, 2], [3]]),
    "int with null": pa.chunked_array([[1, None], [3]]),
    "int8 slice": pa.array([1, 2, 3, 4, 5], type=pa.int8()).slice(2, 2),
    "float with null and nan": pa.chunked_array([[1.5, None, float("nan")], [2.0]]),
    "float slice": pa.array([1.0, None, 3.0]).slice(1),
    "float32": pa.array([0.5, 1.5], type=pa.float32()),
    "bool": pa.array([True, False, True]),
    "bool with null, sliced across a byte": pa.array([True, None, False] * 5).slice(3, 9),
    "string with null": pa.array(["a", None, "b", "a"]),
    "large string": pa.array(["é", "x"], type=pa.large_string()),
    "string slice": pa.array(["x", "y", "z"]).slice(1),
    "dictionary": pa.array(["a", "b", "a"]).dictionary_encode(),
    "empty chunked": pa.chunked_array([], type=pa.float64()),
    "decimal": pa.array([1, 2], type=pa.decimal128(5, 2)),
}


@pytest.mark.parametrize("name", COLUMNS)
def test_to_numpy_matches_pyarrow(name):
    column = COLUMNS[name]
    ours = to_numpy(column)
    theirs = column.to_numpy(zero_copy_only=False)
    if theirs.dtype.kind in "iuf":  # int64 and float64, whatever the width
        theirs = theirs.astype(np.float64 if theirs.dtype.kind == "f" else np.int64)
    if theirs.dtype == object and name == "decimal":
        theirs = theirs.astype(np.float64)
    assert ours.dtype == theirs.dtype
    assert _same(ours, theirs)


def test_chunks_with_and_without_nulls_agree_on_float():
    column = pa.chunked_array([[1, 2], [None, 4]])
    np.testing.assert_array_equal(to_numpy(column), [1.0, 2.0, np.nan, 4.0])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=40),
    st.integers(0, 5),
)
def test_strings_round_trip(values, start):
    array = to_arrow(np.array(values, dtype=object))
    assert array.to_pylist() == values
    column = pa.array(values, type=pa.string()).slice(min(start, len(values)))
    assert to_numpy(column).tolist() == values[min(start, len(values)) :]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.booleans()), max_size=40),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40),
    st.integers(0, 9),
)
def test_numbers_and_booleans_match_pyarrow(flags, numbers, start):
    for array in (pa.array(flags, type=pa.bool_()), pa.array(numbers, type=pa.float64())):
        sliced = array.slice(min(start, len(array)))
        assert _same(to_numpy(sliced), sliced.to_numpy(zero_copy_only=False))
    plain = np.array([f is True for f in flags])
    assert to_arrow(plain).to_pylist() == plain.tolist()
    floats = np.array(numbers, dtype=np.float64)
    back = to_numpy(to_arrow(floats))
    np.testing.assert_array_equal(back, floats)  # NaN stays NaN, not null


def test_other_objects_go_through_pyarrow():
    assert to_arrow(np.array([1, None, 2.5], dtype=object)).to_pylist() == [1.0, None, 2.5]
    assert to_arrow(np.array([3, 4], dtype=np.int16)).type == pa.int64()


def test_conversions_do_not_load_pandas():
    code = (
        "import io, sys, numpy as np, pyarrow.csv as pacsv\n"
        "from torchlinear.data.arrow_numpy import to_arrow, to_numpy\n"
        "table = pacsv.read_csv(io.BytesIO(b'a,b,c\\n1.5,x,true\\n,,false\\n'))\n"
        "for column in table.columns: to_numpy(column)\n"
        "to_numpy(to_arrow(np.array(['a', None], dtype=object)))\n"
        "to_numpy(to_arrow(np.array([True, False])))\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
