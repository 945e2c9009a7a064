"""The loss-contour picture: its paths follow the gradient-descent recursion, its minimum is
the least-squares solution (numpy.linalg.lstsq), and it rejects data it cannot draw."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from torchlinear.plots import descent_paths, loss_contours, loss_surface


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, X @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.normal(size=n)


def test_full_batch_path_is_the_linear_recursion_to_the_lstsq_solution():
    X, y = _data()
    A = np.hstack([X, np.ones((len(X), 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    paths = descent_paths(X, y, lr=0.1, steps=50, batch_sizes=())
    H = X.T @ X / len(X)
    # error_k = (I - lr H)^k error_0, the closed form of full-batch gradient descent
    e0 = np.zeros(2) - theta[:2]
    expected = theta[:2] + np.linalg.matrix_power(np.eye(2) - 0.1 * H, 50) @ e0
    np.testing.assert_allclose(paths["full batch"][-1], expected, rtol=1e-10, atol=1e-12)
    assert list(paths) == ["full batch"]
    assert paths["full batch"].shape == (51, 2)


def test_minibatch_paths_are_noisier_but_end_near_the_minimum():
    X, y = _data(1000)
    theta = np.linalg.lstsq(np.hstack([X, np.ones((1000, 1))]), y, rcond=None)[0]
    paths = descent_paths(X, y, lr=0.05, steps=400, batch_sizes=(10, 256), seed=1)
    for label in ("batch 10", "batch 256"):
        assert np.linalg.norm(paths[label][-1] - theta[:2]) < 0.05
    # the batch-10 steps wander more around the minimum than the batch-256 ones
    spread = {k: np.linalg.norm(p[-100:] - theta[:2], axis=1).mean() for k, p in paths.items()}
    assert spread["full batch"] < spread["batch 256"] < spread["batch 10"]


def test_figure_marks_the_exact_solution_and_every_path():
    X, y = _data()
    fig = loss_contours(X, y, lr=0.03, batch_sizes=(10, 256))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["full batch", "batch 10", "batch 256", "exact solution"]
    star = [line for line in ax.get_lines() if line.get_label() == "exact solution"][0]
    theta = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), y, rcond=None)[0]
    np.testing.assert_allclose(np.ravel(star.get_xydata()), theta[:2], atol=1e-12)


def test_rejects_data_it_cannot_draw():
    X, y = _data()
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        loss_contours(np.hstack([X, X]), y)
    with pytest.raises(ValueError, match="y has 299 rows but X has 300"):
        loss_contours(X, y[:-1])


def test_loss_surface_is_the_mean_squared_residual_at_each_point():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 2)) * [1.0, 7.0]
    y = X @ [2.0, -3.4] + 4.2 + rng.normal(size=500)
    w1, w2 = np.meshgrid(np.linspace(-3, 5, 9), np.linspace(-9, 2, 8))
    A = np.hstack([X, np.ones((500, 1))])
    b_star = np.linalg.lstsq(A, y, rcond=None)[0][2]
    residual = X @ np.stack([w1.ravel(), w2.ravel()]) + b_star - y[:, None]
    expected = (0.5 * (residual**2).mean(axis=0)).reshape(w1.shape)
    np.testing.assert_allclose(loss_surface(X, y, w1, w2), expected, rtol=1e-12)


def test_contours_of_many_rows_stay_small_in_memory():
    # the surface is a quadratic form: no rows x grid array (2M rows x 14,400 points would
    # be 230 GB), only the paths' passes over the rows
    import resource

    rng = np.random.default_rng(2)
    X = rng.normal(size=(2_000_000, 2))
    y = X @ [2.0, -3.4] + 4.2
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loss_contours(X, y, steps=5, batch_sizes=(10,))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 400, grown_mb
