"""Prediction files: a column CSV cannot hold is refused by name, and nothing is left."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchlinear.data.predictions import PredictionWriter

NESTED = [
    pa.array([[1, 2], [3]]),
    pa.array([{"x": 1}, {"x": 2}]),
    pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
]


@pytest.mark.parametrize("kept", NESTED, ids=["list", "struct", "map"])
def test_a_nested_column_is_refused_for_csv_and_kept_in_parquet(tmp_path, kept):
    columns = {"id": kept, "prediction": np.array([0.5, 1.5])}
    with pytest.raises(ValueError, match=r"p\.csv: column 'id' holds .*, which a CSV file cannot"):
        with PredictionWriter(tmp_path / "p.csv") as writer:
            writer.write(columns)
    assert list(tmp_path.iterdir()) == []
    with PredictionWriter(tmp_path / "p.parquet") as writer:
        writer.write(columns)
    assert pq.read_table(tmp_path / "p.parquet").column("id").to_pylist() == kept.to_pylist()
