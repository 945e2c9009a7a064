"""Every entry point to the exact elastic net gives the same answer.

The same problem goes through ``ElasticNet.fit``, ``fit_chunks`` (the chunk protocol),
the command line's fit on CSV and Parquet, and ``torchrun`` with 2 ranks running
``python -m torchlinear fit`` (each rank reads its share of the file, the exact driver's
combine hook all-reduces the statistics, fold by fold for ``--alpha cv``). The reference
is scikit-learn, fully converged.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import ElasticNetCV as SkElasticNetCV
from sklearn.model_selection import KFold

from torchlinear import ElasticNet, ElasticNetCV
from torchlinear.workflow import fit, load_estimator

TIGHT = dict(tol=1e-12, max_iter=100_000)


def _problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(403, 5)) * [1.0, 3.0, 0.5, 2.0, 1.0] + [0.0, 10.0, -3.0, 0.0, 1e3]
    X[:, 3] += X[:, 0]
    y = X @ [2.0, 0.0, -1.0, 0.5, 0.0] + 4.0 + rng.normal(size=403)
    return X, y


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    X, y = _problem()
    folder = tmp_path_factory.mktemp("enet_entry_points")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    frame["y"] = y
    frame.to_csv(folder / "d.csv", index=False, float_format="%.17g")
    frame.to_parquet(folder / "d.parquet", row_group_size=50)
    return folder, X, y


def test_chunk_protocol_equals_fit_and_scikit_learn(data):
    _, X, y = data
    ref = SkElasticNet(alpha=0.1, l1_ratio=0.5, **TIGHT).fit(X, y)
    whole = ElasticNet(alpha=0.1, l1_ratio=0.5).fit(X, y)
    parts = np.array_split(np.arange(len(X)), 7)
    chunked = ElasticNet(alpha=0.1, l1_ratio=0.5).fit_chunks(
        lambda: [(X[p], y[p]) for p in parts], n_features=5
    )
    for model in (whole, chunked):
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
        assert model.intercept_ == pytest.approx(ref.intercept_, rel=1e-8)
    np.testing.assert_allclose(chunked.coef_, whole.coef_, rtol=1e-10, atol=1e-13)


def test_cv_chunk_protocol_equals_fit_and_scikit_learn(data):
    _, X, y = data
    ref = SkElasticNetCV(l1_ratio=[0.3, 0.8], cv=KFold(4), **TIGHT).fit(X, y)
    parts = np.array_split(np.arange(len(X)), 6)
    chunked = ElasticNetCV(l1_ratio=[0.3, 0.8], cv=4).fit_chunks(
        lambda: [(X[p], y[p], None, p) for p in parts[::-1]],  # any order: rows say where
        n_features=5,
        n_samples=len(X),
    )
    assert chunked.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    assert chunked.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(chunked.mse_path_, ref.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(chunked.coef_, ref.coef_, rtol=1e-6, atol=1e-10)


def test_fit_chunks_refuses_contiguous_folds_without_a_row_count(data):
    _, X, y = data
    with pytest.raises(ValueError, match="n_samples"):
        ElasticNetCV(cv=3).fit_chunks(lambda: [(X, y)], n_features=5)
    with pytest.raises(ValueError, match="cv=3 folds need at least 3 rows"):
        ElasticNetCV(cv=3).fit_chunks(lambda: [(X[:2], y[:2])], n_features=5, n_samples=2)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_command_line_equals_the_estimator(data, tmp_path, ext):
    folder, X, y = data
    result = fit(folder / f"d.{ext}", "y", alpha=0.1, l1_ratio=0.5, val_split=0,
                 batch_rows=17, out=tmp_path / "run")  # fmt: skip
    whole = ElasticNet(alpha=0.1, l1_ratio=0.5).fit(X, y)
    np.testing.assert_allclose(result.estimator.coef_, whole.coef_, rtol=1e-10, atol=1e-13)


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


@pytest.fixture(scope="module", autouse=True)
def launched(request, data, torchrun_soon, tmp_path_factory) -> dict:
    """The torchrun jobs of the selected cases of the last test, started in the background
    as the module begins (most of their time is start-up), so that the in-process tests
    run meanwhile: ``launched[case]`` is the job's future, ``launched[f"{case}.folder"]``
    the folder it writes ``dist`` in."""
    folder = data[0]
    jobs: dict = {}
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module or not hasattr(item, "callspec"):
            continue
        if item.originalname != "test_torchrun_with_two_ranks_equals_one_process":
            continue
        case = item.callspec.id
        cwd = jobs[f"{case}.folder"] = tmp_path_factory.mktemp(f"torchrun_{case}")
        args = ["--target", "y", "--no-progress", "--val-split", "0", "--batch-rows", "31",
                *item.callspec.params["options"]]  # fmt: skip
        jobs[case] = torchrun_soon(
            "-m",
            "torchlinear",
            "fit",
            str(folder / "d.csv"),
            *args,
            "--out",
            "dist",
            cwd=cwd,
            timeout=600,  # a shared, loaded machine can take minutes to start two ranks
        )
    return jobs


@pytest.mark.parametrize(
    "options",
    [
        ("--alpha", "0.1", "--l1-ratio", "0.5"),
        ("--alpha", "cv", "--l1-ratio", "0.3,0.8", "--cv", "4"),
    ],
    ids=["enet", "cv"],
)
def test_torchrun_with_two_ranks_equals_one_process(launched, request, data, options, job_failure):
    folder, X, y = data
    case = request.node.callspec.id
    tmp_path = launched[f"{case}.folder"]
    # the same fit in this process, while the job runs
    single = fit(folder / "d.csv", "y", val_split=0, batch_rows=31, out=tmp_path / "single",
                 alpha=options[1], l1_ratio=options[3],
                 cv=int(options[5]) if len(options) > 4 else 5)  # fmt: skip
    code, output, _ = launched[case].result()
    assert code == 0, job_failure(output)
    assert output.count("Fitted Elastic") == 1  # rank 0 alone prints
    dist = load_estimator(tmp_path / "dist")
    assert _rel(dist.coef_, single.estimator.coef_) < 1e-10
    assert _rel([dist.intercept_], [single.estimator.intercept_]) < 1e-10
    if options[1] == "cv":
        metrics = json.loads((tmp_path / "dist" / "metrics.json").read_text())
        ref = SkElasticNetCV(l1_ratio=[0.3, 0.8], cv=KFold(4), **TIGHT).fit(X, y)
        assert metrics["cross_validation"]["alpha_"] == pytest.approx(ref.alpha_, rel=1e-12)
        assert metrics["cross_validation"]["l1_ratio_"] == ref.l1_ratio_
        assert metrics["data"]["rows"] == len(X)
    else:
        ref = SkElasticNet(alpha=0.1, l1_ratio=0.5, **TIGHT).fit(X, y)
        np.testing.assert_allclose(dist.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
