"""Formulas and categorical columns (torchlinear.data.design) against statsmodels' OLS."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.formula.api as smf
from _tables import mixed
from sklearn.preprocessing import OneHotEncoder

from torchlinear import LinearRegression
from torchlinear.data.design import DesignSource, design, learn_design
from torchlinear.data.tabular import TabularSource
from torchlinear.distributed import shard_source
from torchlinear.estimators import FitOptions


def ours(spec, X, y):
    est = LinearRegression(fit_intercept=spec.intercept)
    est.fit(X, y, options=FitOptions(feature_names=spec.columns))
    params = dict(zip(spec.columns, est.coef_, strict=True))
    if spec.intercept:
        params["Intercept"] = float(est.intercept_)
    return params


FORMULAS = [
    "y ~ x1 + np.log(x2) + C(color)",
    "y ~ x1:x2 + x1",
    "y ~ x1*C(color)",
    "y ~ C(cyl) + C(color):x2 + np.log(x2)",
    "np.log(x2) ~ x1 + C(color) + C(cyl)",
    "y ~ x1 + C(color) - 1",
    "y ~ color + I(x1 ** 2)",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_fit_equals_statsmodels_names_included(formula):
    df = mixed()
    spec = design(df, formula=formula)
    X, y = spec.matrices(df)
    params = ours(spec, X, y)
    reference = smf.ols(formula, df).fit().params
    assert sorted(params) == sorted(reference.index)
    for name, value in reference.items():
        assert params[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_automatic_one_hot_is_statsmodels_treatment_coding():
    df = mixed()[["x1", "color", "y"]]
    spec = design(df, target="y")
    assert spec.formula == "y ~ x1 + C(color)"
    assert spec.columns == ["x1", "C(color)[T.green]", "C(color)[T.red]", "C(color)[T.teal]"]
    X, y = spec.matrices(df)
    reference = smf.ols("y ~ x1 + C(color)", df).fit().params
    params = ours(spec, X, y)
    assert sorted(params) == sorted(reference.index)
    for name, value in reference.items():
        assert params[name] == pytest.approx(value, rel=1e-9, abs=1e-9)


def write(df, path):
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=37)
    else:
        df.to_csv(path, index=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streamed_design_in_small_chunks_equals_in_memory(tmp_path, suffix):
    df = mixed(n=500, seed=1)
    path = tmp_path / f"d{suffix}"
    write(df, path)
    formula = "y ~ x1*C(color) + np.log(x2) + C(cyl)"
    raw = TabularSource(path, "y", ["x1", "x2", "color", "cyl"], batch_rows=100, allow_text=True)
    spec = learn_design(raw, formula)
    source = DesignSource(raw, spec)
    chunks = list(source.iter_chunks())
    assert len(chunks) == 5 and max(len(X) for X, _ in chunks) <= 100
    est = LinearRegression().fit_chunks(
        lambda: source.iter_chunks(), n_features=source.n_features, feature_names=spec.columns
    )
    reference = smf.ols(formula, df).fit().params
    params = dict(zip(spec.columns, est.coef_, strict=True), Intercept=float(est.intercept_))
    assert sorted(params) == sorted(reference.index)
    for name, value in reference.items():
        assert params[name] == pytest.approx(value, rel=1e-9, abs=1e-9)


def test_a_level_missing_from_the_first_chunk_is_still_a_column(tmp_path):
    df = mixed(n=60)
    df.loc[:, "color"] = ["red"] * 50 + ["zebra"] * 10  # "zebra" only at the end
    path = tmp_path / "late.csv"
    write(df, path)
    raw = TabularSource(path, "y", allow_text=True, batch_rows=8)
    spec = learn_design(raw)
    assert "C(color)[T.zebra]" in spec.columns
    X, _ = DesignSource(raw, spec).read_all()
    assert X[:, spec.columns.index("C(color)[T.zebra]")].sum() == 10


def test_an_identifier_column_is_refused_with_its_count():
    df = mixed(n=200)
    df["id"] = [f"u{i}" for i in range(200)]
    with pytest.raises(ValueError, match=r"column 'id' has 200 distinct values.*identifier"):
        design(df, target="y")
    with pytest.raises(ValueError, match=r"column 'color' has 4 distinct values"):
        design(df.drop(columns="id"), target="y", max_levels=3)


def test_missing_values_are_counted_or_dropped(tmp_path):
    df = mixed(n=40)
    df["color"] = df["color"].astype(object)
    df.loc[[3, 10], "color"] = None
    df.loc[5, "x1"] = np.nan
    path = tmp_path / "gaps.csv"
    write(df, path)
    raw = TabularSource(path, "y", allow_text=True, batch_rows=7)
    spec = learn_design(raw)
    message = r"3 row\(s\) have missing.*'color' 2 \(first in data row 4"
    with pytest.raises(ValueError, match=message):
        DesignSource(raw, spec).read_all()
    raw = TabularSource(path, "y", allow_text=True, batch_rows=7, drop_na=True)
    source = DesignSource(raw, learn_design(raw))
    X, y = source.read_all()
    assert len(X) == 37 and source.n_dropped == 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_parts_of_a_sharded_design_source_make_the_whole(tmp_path, suffix):
    df = mixed(n=200, seed=2)
    path = tmp_path / f"d{suffix}"
    write(df, path)
    raw = TabularSource(path, "y", allow_text=True, batch_rows=50)
    source = DesignSource(raw, learn_design(raw, "y ~ x1 + C(color) + C(cyl)"))
    X, y = source.read_all()
    parts = [shard_source(source, r, 3).read_all() for r in range(3)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), X)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), y)
    assert len(X) == 200


def _levels_frame(k: int, levels: int, n: int, seed: int = 0) -> pd.DataFrame:
    """``k`` text columns of ``levels`` levels each (every level present), and a target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {f"t{j}": [f"L{c:04d}" for c in rng.permutation(np.arange(n) % levels)] for j in range(k)}
    )
    frame["y"] = rng.normal(size=n)
    return frame


def test_text_columns_are_encoded_without_formulaic_for_each_chunk(tmp_path, monkeypatch):
    # 3 columns of 300 levels: formulaic's pandas frame of 897 columns cost about 0.3 s a
    # chunk, whatever its rows; the design is now written directly
    import formulaic

    frame = _levels_frame(3, 300, 1000)
    path = tmp_path / "levels.csv"
    frame.to_csv(path, index=False)
    raw = TabularSource(path, "y", allow_text=True, batch_rows=64)
    source = DesignSource(raw, learn_design(raw))

    def refuse(*args, **kwargs):
        raise AssertionError("formulaic encoded a chunk")

    monkeypatch.setattr(formulaic.ModelSpec, "get_model_matrix", refuse)
    X, y = source.read_all()
    encoder = OneHotEncoder(categories=[sorted(set(frame[c])) for c in ["t0", "t1", "t2"]],
                            drop="first")  # fmt: skip
    expected = encoder.fit_transform(frame[["t0", "t1", "t2"]]).toarray()
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(y, frame["y"].to_numpy())


def test_a_design_of_many_columns_is_formulaics_design_of_the_whole_formula():
    # built a group of variables at a time: the same columns, names and values as
    # formulaic's model matrix of the one automatic formula
    import formulaic

    rng = np.random.default_rng(1)
    n = 30
    frame = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(90)})
    for j in range(60):
        frame[f"t {j}" if j % 2 else f"t{j}"] = rng.choice(["b", "a", "é", "c d"], size=n)
    frame["y"] = rng.normal(size=n)
    spec = design(frame, target="y")
    X, y = spec.matrices(frame)
    reference = formulaic.model_matrix(spec.formula.split("~", 1)[1], frame)
    names = [c for c in reference.columns if c != "Intercept"]
    assert spec.columns == names
    np.testing.assert_array_equal(X, reference[names].to_numpy(dtype=float))
    again = type(spec).from_dict(spec.to_dict())  # as a saved model's design is rebuilt
    assert again.columns == spec.columns
    np.testing.assert_array_equal(again.matrices(frame)[0], X)


def test_a_formula_making_a_non_finite_value_names_its_column_and_row(tmp_path):
    path = tmp_path / "logs.csv"
    path.write_text("a,b,y\n1,2,3\n4,0,5\n2,3,1\n")
    raw = TabularSource(path, "y", ["a", "b"], batch_rows=2)
    with pytest.raises(ValueError) as info:
        DesignSource(raw, learn_design(raw, "y ~ a + np.log(b)")).read_all()
    assert str(info.value) == (
        f"{path}: the formula's column 'np.log(b)' is not finite in data row 2 (e.g. the log "
        "of 0); fix the data or the formula"
    )


def test_large_finite_values_whose_sum_overflows_are_not_called_non_finite(tmp_path):
    # 1.5e308 + 1.7e308 overflows: the check must look at the values, not at their sum
    path = tmp_path / "large.csv"
    path.write_text("a,b,y\n1.5e308,1,2\n1.7e308,2,3\n1e308,3,5\n")
    raw = TabularSource(path, "y", ["a", "b"])
    X, y = DesignSource(raw, learn_design(raw, "y ~ a + b")).read_all()
    assert X[:, 0].tolist() == [1.5e308, 1.7e308, 1e308] and y.tolist() == [2, 3, 5]
