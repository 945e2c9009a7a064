"""Small tables and readers shared by the tabular tests (CSV, Parquet, formulas).

Imported by name: ``tests/data/conftest.py`` puts this folder on the import path.
"""

import numpy as np
import pandas as pd

from torchlinear.data import TabularSource


def numbers(n: int, seed: int = 0) -> pd.DataFrame:
    """Numeric columns of very different scales (1e-5 to 1e12) and a target."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.standard_normal(n),
            "count": rng.integers(-50, 50, n),
            "x3": rng.standard_normal(n) * 1e-5,
            "big": rng.standard_normal(n) * 1e12,
            "y": rng.standard_normal(n),
        }
    )


def mixed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numbers, a text column and a small integer code, with ``y`` linear in them and in
    ``log(x2)`` (for formulas)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.uniform(0.5, 3.0, size=n),
            "color": rng.choice(["red", "green", "blue", "teal"], n),
            "cyl": rng.choice([4, 6, 8], n),
        }
    )
    df["y"] = (
        1.0
        + 2.0 * df.x1
        + np.log(df.x2)
        + 0.5 * (df.color == "red")
        + 0.1 * df.cyl
        + rng.normal(size=n)
    )
    return df


def write_csv(path, frame: pd.DataFrame, **kwargs) -> None:
    frame.to_csv(path, index=False, **kwargs)


def read(source: TabularSource):
    """Every chunk of one pass, and the rows they hold concatenated: ``(chunks, X, y)``."""
    chunks = list(source.iter_chunks())
    X = np.concatenate([X for X, _ in chunks])
    y = None if source.target is None else np.concatenate([y for _, y in chunks])
    return chunks, X, y


def one_line_error(excinfo) -> str:
    """The message of an error caught by ``pytest.raises``, checked to be one line."""
    message = str(excinfo.value)
    assert "\n" not in message
    return message
