"""File formats, compressions and the CSV field separator (torchlinear.data.formats)."""

from pathlib import Path

import pytest

from torchlinear._validation import ParameterError
from torchlinear.data.formats import check_delimiter


@pytest.mark.parametrize(
    ("given", "expected"), [(";", ";"), ("\t", "\t"), ("\\t", "\t"), (None, ",")]
)
def test_the_two_characters_backslash_t_are_a_tab(given, expected):
    assert check_delimiter(given, Path("data.csv")) == expected


@pytest.mark.parametrize("given", ["é", ";;", "", '"', "\n", "\\n", 9])
def test_a_delimiter_that_is_not_one_ascii_character_is_refused_with_examples(given):
    with pytest.raises(ParameterError) as info:
        check_delimiter(given, Path("data.csv"))
    assert info.value.param == "delimiter"
    assert str(info.value) == (
        "delimiter must be one ASCII character other than a quote or a line break, e.g. "
        f"delimiter=';', delimiter='|' or delimiter='\\t' for a tab; got {given!r}"
    )


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".ods"])
def test_a_workbook_is_to_be_saved_as_csv_not_renamed(suffix):
    from torchlinear.data.formats import file_format

    with pytest.raises(ValueError, match=r"workbooks \(\.\w+\) are not read or written; save "):
        file_format(Path(f"book{suffix}"), "data")
