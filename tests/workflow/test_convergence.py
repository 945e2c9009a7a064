"""The one convergence line: "converged" only when the solver's criterion was met."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from torchlinear import ElasticNet, LinearRegression, SoftmaxRegression
from torchlinear.workflow.convergence import describe_convergence


def _numbers(text):
    return [float(v) for v in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def _hard(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 30))
    X[:, 1:] += 0.99 * X[:, [0]]
    return X, X @ rng.normal(size=30) + rng.normal(size=200)


def _caught(fit):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fit()
    return model, [str(w.message).splitlines()[0] for w in caught], caught


def test_coordinate_descent_on_its_sweep_budget():
    X, y = _hard()
    model, lines, caught = _caught(lambda: ElasticNet(alpha=1e-4, max_iter=1).fit(X, y))
    assert not model.converged_
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    line = describe_convergence(model, lines)
    assert line.startswith("did not converge (coordinate descent: duality gap")
    gap, tol = _numbers(line.split("gap", 1)[1])[:2]
    assert gap > tol and gap == pytest.approx(model.dual_gap_, rel=1e-2)
    done = ElasticNet(alpha=1e-2).fit(X, y)
    assert done.converged_ and describe_convergence(done).startswith("converged (")


def test_gradient_training_on_its_epoch_budget():
    X, y = _hard(1)
    model, lines, caught = _caught(
        lambda: LinearRegression(solver="sgd", max_iter=3, lr=1e-6, random_state=0).fit(X, y)
    )
    assert not model.converged_
    line = describe_convergence(model, lines)
    assert line.startswith("did not converge (relative improvement of the training loss")
    crit, tol = _numbers(line.split("loss", 1)[1])[:2]
    assert crit > tol
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_lbfgs_that_meets_its_criterion_says_converged():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3))
    y = X @ [1.0, 2.0, 3.0] + 0.1 * rng.normal(size=100)
    model, lines, _ = _caught(lambda: LinearRegression(loss="huber", solver="lbfgs").fit(X, y))
    line = describe_convergence(model, lines)
    assert model.converged_ == line.startswith("converged (")


def test_softmax_lbfgs_out_of_iterations_is_described_by_its_warning():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    model, lines, _ = _caught(lambda: SoftmaxRegression(max_iter=1).fit(X, y))
    assert not model.converged_
    assert describe_convergence(model, lines).startswith("did not converge (")
    done = SoftmaxRegression().fit(X, y)
    assert done.converged_ and describe_convergence(done).startswith("converged (L-BFGS")


def test_closed_forms_have_no_line_and_the_linear_program_is_exact():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2))
    y = X @ [1.0, -1.0] + rng.standard_t(2, size=60)
    assert describe_convergence(LinearRegression().fit(X, y)) is None
    lad = LinearRegression(loss="l1").fit(X, y)
    assert describe_convergence(lad) == "solved exactly (the linear program's optimum)"
