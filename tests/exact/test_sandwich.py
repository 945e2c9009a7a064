"""The meats of the robust covariances (``meat_pass``) against a direct computation."""

import numpy as np
import pytest
import torch

from torchlinear._memory import set_memory_limit
from torchlinear.exact import lstsq
from torchlinear.exact.sandwich import MEAT_TYPES, meat_pass


def test_meats_equal_the_weighted_outer_products_of_the_centred_rows():
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.normal(size=(40, 3)) + 5.0)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + torch.tensor(rng.normal(size=40))
    sol = lstsq(X, y)
    chunks = [(X[:17], y[:17], None), (X[17:], y[17:], None)]
    meats = meat_pass(sol, chunks, weighted=False)
    A = torch.cat([torch.ones(40, 1, dtype=torch.float64), X - X.mean(0)], dim=1).numpy()
    r = (y - X @ sol.coef[:, 0] - sol.intercept[0]).numpy()
    h = np.einsum("ij,jk,ik->i", A, np.linalg.inv(A.T @ A), A)
    assert len(MEAT_TYPES) == 3  # r^2, r^2 / (1 - h), r^2 / (1 - h)^2
    for t, omega in enumerate((r**2, r**2 / (1 - h), r**2 / (1 - h) ** 2)):
        np.testing.assert_allclose(meats[0, 0, t].numpy(), (A * omega[:, None]).T @ A, rtol=1e-9)


def test_the_sandwich_matrices_are_budgeted():
    # 3,000 columns took 0.8 GB more with --cov HC3, unchecked, under a 500 MB budget
    X = torch.randn(400, 300, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = X.sum(1)
    sol = lstsq(X, y)
    previous = set_memory_limit("8M")  # 8 x 301^2 x (2 x 3 + 2) = 5.8 MB: allowed
    try:
        assert meat_pass(sol, [(X, y, None)], weighted=False).shape == (1, 1, 3, 301, 301)
        with pytest.raises(ValueError, match=r"300 columns need 10.1 MB for the sandwich"):
            meat_pass(sol, [(X, y, torch.ones(400, dtype=torch.float64))], weighted=True)
    finally:
        set_memory_limit(previous)


def test_a_robust_fit_beyond_the_budget_is_refused_before_reading_any_chunk():
    # the meats were checked after the statistics pass, minutes into a large file
    from torchlinear import LinearRegression

    read = []

    def chunks():
        read.append(1)
        yield torch.randn(10, 300, dtype=torch.float64), torch.randn(10, dtype=torch.float64)

    previous = set_memory_limit("5M")  # 8 x 301^2 x (2 x 3 + 2) = 5.8 MB: refused
    try:
        with pytest.raises(ValueError, match=r"300 columns need 5.8 MB for the sandwich") as info:
            LinearRegression(cov_type="HC3").fit_chunks(chunks, n_features=300)
        assert "leave out cov_type" in str(info.value) and read == []
        LinearRegression().fit_chunks(chunks, n_features=300)  # classical errors: no meats
        assert read
    finally:
        set_memory_limit(previous)
