"""Every entry point to the exact solve gives the same answer.

The same problems go through ``LinearRegression.fit``, ``partial_fit`` in chunks, the
command line's fit (the library function behind ``torchlinear fit``) on CSV and on
Parquet, ``python -m torchlinear fit`` itself, and ``torchrun`` with 2 ranks (arrays, CSV,
Parquet). Coefficients must agree with the API to 1e-12 relative and raise the same
warnings; the references are exact rational solutions of the normal equations.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from torchlinear import LinearRegression
from torchlinear.workflow import fit, load_estimator


def _exact(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, alpha: float) -> np.ndarray:
    """Intercept and coefficients solving the normal equations in rational arithmetic."""
    n, d = X.shape
    A = [[Fraction(1)] + [Fraction(float(v)) for v in row] for row in X]
    ws = [Fraction(1)] * n if w is None else [Fraction(float(v)) for v in w]
    ys = [Fraction(float(v)) for v in y]
    p = d + 1
    M = [[sum(ws[i] * A[i][a] * A[i][b] for i in range(n)) for b in range(p)] for a in range(p)]
    r = [sum(ws[i] * A[i][a] * ys[i] for i in range(n)) for a in range(p)]
    for j in range(1, p):
        M[j][j] += Fraction(alpha)
    for c in range(p):  # Gauss-Jordan, exact
        piv = next(i for i in range(c, p) if M[i][c] != 0)
        M[c], M[piv], r[c], r[piv] = M[piv], M[c], r[piv], r[c]
        for i in range(p):
            if i != c and M[i][c] != 0:
                f = M[i][c] / M[c][c]
                M[i] = [a - f * b for a, b in zip(M[i], M[c], strict=True)]
                r[i] -= f * r[c]
    return np.array([float(r[i] / M[i][i]) for i in range(p)])


def _problems() -> dict[str, dict]:
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    x = np.arange(21.0)
    poly = np.c_[x, x**2, x**3, x**4, x**5]
    xf = np.linspace(-8.78, -3.13, 82)  # a degree-10 polynomial over Filip's range of x
    poly10 = np.c_[tuple(xf**k for k in range(1, 11))]
    longley = sm.datasets.longley.load_pandas()
    t = rng.normal(size=300)
    near = np.c_[t, t + 1e-6 * rng.normal(size=300), rng.normal(size=300)]
    a, b = rng.normal(size=(2, 60))
    deficient = np.c_[a, b, a + b]
    scales = rng.normal(size=(400, 4)) * np.logspace(-4, 4, 4)  # one column explains little
    offset = rng.normal(size=(300, 3)) + [1e6, 0.0, 0.0]  # the intercept is far from the data
    wide = rng.normal(size=(6, 8))
    # columns far from zero with small integer spreads: exact in float64, and so is their
    # centring; none is constant (1e15 + k was once taken for a constant column)
    k1, k2 = rng.integers(0, 11, size=(2, 200)).astype(float)
    z = rng.normal(size=200)
    big = np.c_[1e15 + k1, z]
    bigger = np.c_[4e15 + k1, 1e12 + 10 * k2, z]
    copy = np.c_[k1, 1e15 + k1, z]  # collinear after centring
    Xr = rng.normal(size=(80, 4))
    Xw = rng.normal(size=(90, 3))
    return {
        "poly5": dict(X=poly, y=1 + poly.sum(1), w=None, alpha=0.0),
        "poly10": dict(
            X=poly10, y=1 + poly10.sum(1) + 1e-3 * rng.normal(size=82), w=None, alpha=0.0
        ),
        "longley": dict(X=longley.exog.to_numpy(), y=longley.endog.to_numpy(), w=None, alpha=0.0),
        "near_collinear": dict(
            X=near, y=near @ [1.0, 1.0, -2.0] + 0.01 * rng.normal(size=300), w=None, alpha=0.0
        ),
        "rank_deficient": dict(
            X=deficient,
            y=deficient @ [1.0, 2.0, 0.0] + 0.1 * rng.normal(size=60),
            w=None,
            alpha=0.0,
        ),
        "scales": dict(
            X=scales,
            y=scales @ [1.0, -2.0, 0.5, 3.0] + 0.5 + 0.01 * rng.normal(size=400),
            w=None,
            alpha=0.0,
        ),
        "offset": dict(
            X=offset, y=offset @ [1.0, 2.0, 3.0] + 1e-3 * rng.normal(size=300), w=None, alpha=0.0
        ),
        "ridge_scales": dict(
            X=scales[:200],
            y=scales[:200] @ [1.0, -2.0, 0.5, 3.0] + 0.5 + 0.01 * rng.normal(size=200),
            w=rng.integers(0, 4, size=200).astype(float),
            alpha=0.3,
        ),
        "wide_ridge": dict(  # fewer rows than columns: the n x n side of the solve
            X=wide, y=wide @ rng.normal(size=8) + 1.0, w=None, alpha=0.5
        ),
        "offset_1e15": dict(
            X=big, y=2 * k1 + 3 * z + 0.01 * rng.normal(size=200), w=None, alpha=0.0
        ),
        "offset_4e15_weighted": dict(
            X=bigger,
            y=2 * k1 - k2 + 3 * z + 0.01 * rng.normal(size=200),
            w=rng.integers(0, 4, size=200).astype(float),
            alpha=0.0,
        ),
        "offset_ridge": dict(X=big, y=2 * k1 + 3 * z + rng.normal(size=200), w=None, alpha=0.5),
        "offset_copy": dict(
            X=copy, y=2 * k1 + 3 * z + 0.01 * rng.normal(size=200), w=None, alpha=0.0
        ),
        "ridge": dict(X=Xr, y=Xr @ [1.0, -2.0, 0.5, 3.0] + rng.normal(size=80), w=None, alpha=2.5),
        "weighted": dict(
            X=Xw,
            y=Xw @ [2.0, 0.0, -1.0] + rng.normal(size=90),
            w=rng.integers(0, 4, size=90).astype(float),
            alpha=0.0,
        ),
    }


PROBLEMS = _problems()


def _api(p: dict) -> tuple[np.ndarray, set[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LinearRegression(alpha=p["alpha"]).fit(p["X"], p["y"], sample_weight=p["w"])
    return np.r_[model.intercept_, model.coef_], {c.category.__name__ for c in caught}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("entry_points")
    for name, p in PROBLEMS.items():
        w = np.array([]) if p["w"] is None else p["w"]
        np.savez(out / f"{name}.npz", X=p["X"], y=p["y"], w=w, alpha=p["alpha"])
        frame = pd.DataFrame(p["X"], columns=[f"x{j}" for j in range(p["X"].shape[1])])
        frame["y"] = p["y"]
        if p["w"] is not None:  # the weights are a column of the file
            frame.insert(1, "w", p["w"])
        frame.to_csv(out / f"{name}.csv", index=False, float_format="%.17g")
        frame.to_parquet(out / f"{name}.parquet", row_group_size=7)
    return out


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_api_reaches_the_exact_solution(name):
    p = PROBLEMS[name]
    theta, _ = _api(p)
    if name in ("rank_deficient", "offset_copy"):  # minimum norm: the pseudo-inverse's
        X = p["X"] - [0.0, 1e15, 0.0] if name == "offset_copy" else p["X"]  # (exact)
        A = np.c_[np.ones(len(X)), X - X.mean(0)]
        ref = np.linalg.pinv(A, rcond=1e-10) @ p["y"]
        np.testing.assert_allclose(theta[1:], ref[1:], rtol=1e-10)
        return
    reference = _exact(p["X"], p["y"], p["w"], p["alpha"])
    np.testing.assert_allclose(theta, reference, rtol=1e-12, atol=0)
    if name == "poly5":  # every coefficient is 1: at least 12 correct digits each
        assert np.all(np.abs(theta - 1) <= 1e-12)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_partial_fit_in_chunks_equals_fit(name):
    p = PROBLEMS[name]
    theta, warned = _api(p)
    model = LinearRegression(alpha=p["alpha"])
    n = len(p["X"])
    for rows in np.array_split(np.arange(n), 3):
        w = None if p["w"] is None else p["w"][rows]
        with warnings.catch_warnings(record=True) as caught:  # about the rows so far
            warnings.simplefilter("always")
            model.partial_fit(p["X"][rows], p["y"][rows], sample_weight=w)
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_], theta, rtol=1e-12)
    assert {c.category.__name__ for c in caught} == warned


@pytest.mark.parametrize("ext", ["csv", "parquet"])
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_command_line_fit_equals_fit(folder, tmp_path, name, ext):
    p = PROBLEMS[name]
    theta, warned = _api(p)
    # the command line's alpha is ElasticNet's (per unit of weight): Ridge's over the total
    alpha = p["alpha"] / (len(p["X"]) if p["w"] is None else p["w"].sum()) or None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(
            folder / f"{name}.{ext}",
            "y",
            val_split=0,
            alpha=alpha,
            batch_rows=7,
            out=tmp_path / "run",
            weight=None if p["w"] is None else "w",
            figures=False,  # the coefficients are compared
        )
    est = result.estimator
    np.testing.assert_allclose(np.r_[est.intercept_, est.coef_], theta, rtol=1e-12)
    assert {c.category.__name__ for c in caught} == warned


@pytest.fixture(scope="module", autouse=True)
def launched(request, folder, torchrun_soon, tmp_path_factory) -> Iterator[dict]:
    """The command and the torchrun job of the selected tests below, started in the
    background as the module begins (most of their time is start-up), so that the
    in-process tests run meanwhile."""
    names = {
        item.originalname
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    }
    jobs: dict = {}
    if "test_the_command_itself_gives_the_estimators_answer" in names:
        out = jobs["command.out"] = tmp_path_factory.mktemp("command") / "poly"
        cmd = [
            sys.executable,
            "-m",
            "torchlinear",
            "fit",
            str(folder / "poly5.csv"),
            "--target",
            "y",
            "--val-split",
            "0",
            "--out",
            str(out),
            "--no-progress",
        ]
        jobs["command"] = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    if "test_torchrun_with_two_ranks_equals_fit" in names:
        jobs["torchrun"] = torchrun_soon("entry_points.py", str(folder))
    yield jobs
    if "command" in jobs and jobs["command"].poll() is None:
        jobs["command"].kill()
        jobs["command"].communicate()


def test_the_command_itself_gives_the_estimators_answer(launched):
    out, command = launched["command.out"], launched["command"]
    try:
        _, stderr = command.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        command.kill()
        command.communicate()
        raise
    assert command.returncode == 0, stderr
    est = load_estimator(out)
    theta = np.r_[est.intercept_, est.coef_]
    np.testing.assert_allclose(theta, _api(PROBLEMS["poly5"])[0], rtol=1e-12)
    assert np.all(np.abs(theta - 1) <= 1e-12)


def test_torchrun_with_two_ranks_equals_fit(launched, folder, job_failure):
    code, output, _ = launched["torchrun"].result()
    assert code == 0, job_failure(output)
    with np.load(folder / "torchrun.npz") as f:
        got = {k: f[k] for k in f.files}
    checked = 0
    for name, p in PROBLEMS.items():
        theta, warned = _api(p)
        for how in ("arrays", "csv", "parquet"):
            key = f"{name}.{how}"
            if f"{key}.coef" not in got:
                continue
            ranks = np.r_[got[f"{key}.intercept"], got[f"{key}.coef"]]
            np.testing.assert_allclose(ranks, theta, rtol=1e-12, err_msg=key)
            assert set(got[f"{key}.warnings"].tolist()) == warned, key
            checked += 1
    assert checked == len(PROBLEMS) * 3
