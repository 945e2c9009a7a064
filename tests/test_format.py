"""The one number formatter and table renderer."""

import math

import numpy as np
import pytest

from torchlinear._format import (
    escape_control,
    format_count,
    format_number,
    format_p_value,
    format_seconds,
    markdown_table,
    text_table,
)

VALUES = [0.5, -2.0, 1 / 3, 123456.789, 1234567.0, 9.99999e-5, 1e-4, -7.25e-12, 6.02e23, 1.0]


@pytest.mark.parametrize("digits", [3, 4, 5, 6])
@pytest.mark.parametrize("value", VALUES)
def test_format_number_keeps_the_requested_significant_digits(value, digits):
    text = format_number(value, digits)
    # reading the text back is within half a unit of the last significant digit
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    assert abs(float(text) - value) <= unit / 2 * (1 + 1e-9)
    mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    assert len(mantissa) <= digits  # trailing zeros are dropped, never padded
    if abs(float(text)) >= 10**digits or abs(float(text)) < 1e-4:
        assert "e" in text


def test_format_number_special_values():
    assert format_number(0.0) == "0" and format_number(-0.0) == "0"
    assert [format_number(v) for v in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]
    assert format_number(None) == "–"
    assert format_number(np.int64(1234567)) == "1234567" and format_number(True) == "True"
    assert format_number(np.float32(0.1)) == "0.1"


def test_format_count_p_value_seconds():
    assert format_count(1234567.0) == "1234567" and format_count(np.float64(2.5)) == "2.5"
    assert format_p_value(0.0004) == "<0.001" and format_p_value(0.0456) == "0.046"
    assert format_seconds(0.0123) == "12.3 ms" and format_seconds(3.0) == "3.00 s"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("tab\there", "tab\\there"),
        ("line\r\nbreak", "line\\r\\nbreak"),
        ("bell\x07", "bell\\x07"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b2J", "c1\\x9b2J"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("sep\u2028x", "sep\\u2028x"),
        ("lone\ud800surrogate", "lone\\ud800surrogate"),  # cannot be written as UTF-8
        ("plain é ² – ‖", "plain é ² – ‖"),
    ],
)
def test_escape_control(raw, shown):
    assert escape_control(raw) == shown
    assert escape_control(raw).isprintable() or "\u202e" not in escape_control(raw)


def _split(line):
    return [c.strip() for c in line.strip()[1:-1].split(" | ")]


def test_markdown_table_pads_escapes_and_keeps_cells():
    headers = ["term", "a|b", "x\x1b[2J"]
    rows = [["(intercept)", "1", "2.5"], ["w", "-0.25", "1e-07"]]
    lines = markdown_table(headers, rows).splitlines()
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert _split(lines[0]) == ["term", "a\\|b", "x\\x1b[2J"]
    assert set(lines[1]) <= {"|", "-"}
    assert [_split(line) for line in lines[2:]] == rows
    terminal = markdown_table(headers, rows, escape_pipes=False).splitlines()[0]
    assert "a|b" in terminal and "\x1b" not in terminal


def test_text_table_alignment():
    text = text_table(["term", "coefficient"], [["(intercept)", "1"], ["long\nname", "-22.5"]])
    lines = text.splitlines()
    assert lines[1] == "-" * len(lines[0])
    assert lines[2] == "(intercept)            1"
    assert lines[3] == "long\\nname         -22.5"  # the newline cannot break the table
    assert len({len(line) for line in lines}) == 1


def test_ragged_rows_are_refused():
    with pytest.raises(ValueError, match="row 1 has 1 cells but there are 2 headers"):
        markdown_table(["a", "b"], [["1", "2"], ["3"]])


def test_report_and_summary_escape_column_names():
    import pandas as pd

    from torchlinear import LinearRegression
    from torchlinear.report import coefficient_text

    names = ["area\x1b[2J", "rooms\u202e"]
    X = pd.DataFrame([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0], [1.0, 3.0]], columns=names)
    y = X.to_numpy() @ [2.0, -1.0] + 0.5 + np.array([0.01, -0.02, 0.0, 0.01, 0.0])
    model = LinearRegression().fit(X, y)
    text = coefficient_text(model, names)
    assert "\x1b" not in text and "\u202e" not in text and "area\\x1b[2J" in text
    shown = str(model.summary())
    assert "\x1b" not in shown and "\u202e" not in shown and "rooms\\u202e" in shown
