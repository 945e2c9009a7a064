"""The scikit-learn estimator protocol without importing scikit-learn (`_sklearn_protocol`)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from torchlinear import ElasticNet, LinearRegression, SoftmaxRegression
from torchlinear._sklearn_protocol import (
    check_class_labels,
    check_is_fitted,
    target_vector,
    warn_convergence,
)

HEAVY = ("sklearn", "pandas", "scipy.stats")


def test_command_line_fit_predict_evaluate_summary_never_import_sklearn(tmp_path):
    """The command line's whole round trip, on a regression and a classification file,
    loads neither scikit-learn nor what it brings (SciPy's statistics, pandas); least
    squares does not load SciPy's optimizers."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    reg, cls = tmp_path / "reg.csv", tmp_path / "cls.csv"
    header = "a,b,c,y\n"
    reg.write_text(header + "".join(f"{a},{b},{c},{a - b + 0.1 * c}\n" for a, b, c in X))
    cls.write_text(header + "".join(f"{a},{b},{c},{'yes' if a > b else 'no'}\n" for a, b, c in X))
    script = textwrap.dedent(
        f"""
        import sys
        from torchlinear import cli
        d = {str(tmp_path)!r}
        for name in ("reg", "cls"):
            data, run = f"{{d}}/{{name}}.csv", f"{{d}}/{{name}}_run"
            for argv in (
                ["fit", data, "--target", "y", "--out", run],
                ["predict", run, data, "-o", f"{{d}}/{{name}}_p.csv"],
                ["evaluate", run, data],
                ["summary", run],
            ):
                assert cli.main(argv) == 0, argv
            if name == "reg":  # least squares needs no optimizer either
                print("optimizer loaded:", "scipy.optimize" in sys.modules)
        heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
        print("heavy:", heavy)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "optimizer loaded: False" in lines and lines[-1] == "heavy: []", lines[-1]


def test_params_repr_and_clone():
    est = ElasticNet(alpha=0.5, l1_ratio=0.2)
    assert repr(est) == "ElasticNet(alpha=0.5, l1_ratio=0.2)"
    assert repr(LinearRegression()) == "LinearRegression()"
    assert est.get_params()["alpha"] == 0.5
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert est.set_params(alpha=2.0) is est and est.alpha == 2.0
    with pytest.raises(ValueError, match="Invalid parameter 'alhpa' for estimator"):
        est.set_params(alhpa=1.0)


def test_nested_parameters_and_grid_search():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.01 * rng.normal(size=60)
    pipe = make_pipeline(StandardScaler(), ElasticNet())
    pipe.set_params(elasticnet__alpha=0.01)
    assert pipe.get_params()["elasticnet__alpha"] == 0.01
    search = GridSearchCV(pipe, {"elasticnet__alpha": [1e-3, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_ == {"elasticnet__alpha": 1e-3}
    assert search.best_score_ == pytest.approx(1.0, abs=1e-3)


def test_estimator_kinds_and_scores():
    assert is_regressor(LinearRegression()) and not is_classifier(LinearRegression())
    assert is_classifier(SoftmaxRegression()) and not is_regressor(SoftmaxRegression())
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0.0, 1.1, 1.9, 3.2])
    model = LinearRegression().fit(X, y)
    residual = y - model.predict(X)
    expected = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    assert model.score(X, y) == pytest.approx(expected, rel=1e-12)
    labels = np.array(["a", "a", "b", "b"])
    clf = SoftmaxRegression().fit(X, labels)
    assert clf.score(X, labels) == 1.0
    assert clf.score(X, labels, sample_weight=[1, 1, 1, 3]) == 1.0


def test_metadata_routing_reaches_sample_weight():
    X = np.arange(12.0).reshape(6, 2) ** 1.5
    y = np.array([1.0, 2.0, 2.5, 5.0, 4.0, 7.0])
    w = np.array([1.0, 2.0, 3.0, 1.0, 5.0, 1.0])
    direct = LinearRegression().fit(X, y, sample_weight=w)
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        LinearRegression().set_fit_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = Pipeline([("m", LinearRegression().set_fit_request(sample_weight=True))])
        routed.fit(X, y, sample_weight=w)
        np.testing.assert_allclose(routed[-1].coef_, direct.coef_, rtol=1e-12)
        with pytest.raises(TypeError, match="unexpected argument"):
            LinearRegression().set_fit_request(weights=True)
        unrequested = Pipeline([("m", LinearRegression())])
        with pytest.raises(ValueError, match="sample_weight"):
            unrequested.fit(X, y, sample_weight=w)
        routing = LinearRegression().set_score_request(sample_weight="w").get_metadata_routing()
        assert routing.consumes("score", ["w"]) == {"w"}
        requested = LinearRegression().set_fit_request(sample_weight=True)
        twin = clone(requested)
        assert twin.get_metadata_routing().consumes("fit", ["sample_weight"]) == {"sample_weight"}
        twin.set_fit_request(sample_weight=False)  # the clone's requests are its own
        assert requested.get_metadata_routing().consumes("fit", ["sample_weight"])
        requested.set_score_request(sample_weight=True)
        search = GridSearchCV(requested, {"alpha": [0.0, 1.0]}, cv=3)
        X2, y2, w2 = np.r_[X, X], np.r_[y, y], np.r_[w, w]
        search.fit(X2, y2, sample_weight=w2)
        refit = LinearRegression(**search.best_params_).fit(X2, y2, sample_weight=w2)
        np.testing.assert_allclose(search.best_estimator_.coef_, refit.coef_, rtol=1e-12)


def test_errors_and_warnings_are_sklearns_classes():
    with pytest.raises(NotFittedError, match="LinearRegression instance is not fitted yet"):
        LinearRegression().predict(np.zeros((1, 1)))
    with pytest.raises(NotFittedError):
        check_is_fitted(LinearRegression())
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        warn_convergence("did not converge")
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        assert target_vector(np.array([[1], [2]])).shape == (2,)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        target_vector(np.eye(2))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([1.0, 2.0, 0.5]), r"^Unknown label type: continuous\. y holds numbers with a "
         r"fractional part \(0\.5 at row 2\), not class labels; a classifier needs whole "
         r"numbers or strings as labels: for a continuous target use a regressor$"),
        (np.array([1.0, np.nan]), "NaN or infinity"),
        (np.array([1, "a"], dtype=object), "mix types"),
        (np.array([1j, 2j]), "Complex"),
    ],
)  # fmt: skip
def test_class_labels_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        check_class_labels(labels)


@pytest.mark.parametrize(
    "labels",
    [np.array([1.0, 2.0, 1.0]), np.array(["x", "y"]), np.array([True, False]),
     np.array([1, 2.0], dtype=object), np.array([3, 1, 2])],
)  # fmt: skip
def test_class_labels_accepted(labels):
    check_class_labels(labels)
