"""Opening the data of a command (torchlinear.workflow.sources)."""

from pathlib import Path

import pytest

from torchlinear._validation import ParameterError
from torchlinear.workflow.sources import check_delimiter_applies, check_download_applies


@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("sales.parquet", "sales.parquet is a Parquet file"),
        (Path("d/sales.PQ"), "d/sales.PQ is a Parquet file"),
        ("diabetes", "'diabetes' is a built-in dataset"),
    ],
)
def test_a_delimiter_with_no_csv_text_to_separate_is_refused(data, what):
    with pytest.raises(ParameterError) as info:
        check_delimiter_applies("\t", data)
    assert info.value.param == "delimiter"
    assert str(info.value) == (
        f"delimiter '\\t' separates the fields of CSV text; {what}, which has none: leave "
        "out delimiter"
    )


@pytest.mark.parametrize("data", ["sales.csv", "sales.csv.gz", Path("a.tsv"), "diabetes"])
def test_no_delimiter_or_csv_text_is_accepted(data):
    check_delimiter_applies(None, data)
    if data != "diabetes":
        check_delimiter_applies(";", data)


@pytest.mark.parametrize("data", ["sales.csv", Path("sales.parquet")])
def test_download_for_a_file_of_ones_own_is_refused(data):
    with pytest.raises(ParameterError) as info:
        check_download_applies(True, data)
    assert info.value.param == "download"
    assert str(info.value) == (
        f"download fetches the files of a built-in image dataset; {data} is a file of your "
        "own: leave out download"
    )
    check_download_applies(False, data)
    check_download_applies(True, "cifar10")  # a built-in dataset: what it is for
