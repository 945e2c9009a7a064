"""Tests for the from-scratch linear-system solvers.

References are independent of the code under test: ``torch.linalg.solve`` (LAPACK),
``torch.linalg.solve_triangular``, 50-digit ``mpmath`` arithmetic and hand-derived
closed forms.
"""

import warnings

import mpmath
import numpy as np
import pytest
import torch

from torchlinear.scratch import (
    ConvergenceError,
    ConvergenceWarning,
    SolveResult,
    conjugate_gradient,
    gauss_seidel,
    gaussian_elimination,
    jacobi,
)

ALL = [gaussian_elimination, jacobi, gauss_seidel, conjugate_gradient]
ITERATIVE = [jacobi, gauss_seidel, conjugate_gradient]


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _dominant(n: int, seed: int) -> torch.Tensor:
    """A random strictly row-diagonally-dominant matrix (margin >= 1 in every row)."""
    A = torch.randn(n, n, generator=_generator(seed), dtype=torch.float64)
    off = A.abs().sum(dim=1) - A.diagonal().abs()
    signs = torch.where(A.diagonal() >= 0, 1.0, -1.0).to(torch.float64)
    return A + torch.diag(signs * (off + 1.0) - A.diagonal())


def _spd(n: int, seed: int, condition: float = 50.0) -> torch.Tensor:
    """A random symmetric positive definite matrix with eigenvalues in [1, condition]."""
    g = _generator(seed)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    eigenvalues = torch.linspace(1.0, condition, n, dtype=torch.float64)
    A = Q @ torch.diag(eigenvalues) @ Q.T
    return (A + A.T) / 2


def _rhs(n: int, k: int | None, seed: int) -> torch.Tensor:
    shape = (n,) if k is None else (n, k)
    return torch.randn(*shape, generator=_generator(seed), dtype=torch.float64)


def _relres(A, x, b) -> float:
    return float(torch.linalg.vector_norm(b - A @ x) / torch.linalg.vector_norm(b))


# --- the worked example ------------------------------------------------------------------


def test_ticket_price_system_by_elimination():
    A = torch.tensor([[3.0, 3.2], [3.5, 3.6]], dtype=torch.float64)
    b = torch.tensor([118.4, 135.2], dtype=torch.float64)
    result = gaussian_elimination(A, b)
    torch.testing.assert_close(result.x, torch.tensor([16.0, 22.0], dtype=torch.float64))
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b))
    assert isinstance(result, SolveResult)
    assert result.iterations == 1 and result.converged
    assert result.residuals[0] == pytest.approx(1.0) and result.residuals[1] < 1e-14


def test_ticket_price_system_defeats_the_iterations_with_a_clear_reason():
    A = [[3.0, 3.2], [3.5, 3.6]]
    b = [118.4, 135.2]
    # rho(D^-1 R) = sqrt(3.2/3 * 3.5/3.6) > 1: Jacobi diverges (slowly).
    with pytest.raises(ConvergenceError, match=r"not strictly diagonally dominant \(row 0:"):
        jacobi(A, b)
    with pytest.raises(ConvergenceError, match="neither is necessary"):
        gauss_seidel(A, b)
    with pytest.raises(ValueError, match=r"not symmetric: a\[0, 1\] = 3.2 while a\[1, 0\] = 3.5"):
        conjugate_gradient(A, b)


# --- agreement with LAPACK -----------------------------------------------------------------


@pytest.mark.parametrize("solve", ALL)
@pytest.mark.parametrize("k", [None, 3])
def test_random_diagonally_dominant_spd_system_matches_torch(solve, k):
    # Dominant with a positive diagonal and symmetric: every method applies.
    A = _dominant(12, seed=1)
    A = (A + A.T) / 2
    A = A + torch.diag(A.abs().sum(dim=1))  # restore dominance after symmetrising
    b = _rhs(12, k, seed=2)
    result = solve(A, b)
    assert result.converged
    assert result.x.shape == b.shape
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("solve", [gaussian_elimination, jacobi, gauss_seidel])
@pytest.mark.parametrize("k", [None, 2])
def test_random_nonsymmetric_dominant_system_matches_torch(solve, k):
    A = _dominant(15, seed=3)
    b = _rhs(15, k, seed=4)
    result = solve(A, b)
    assert result.converged and result.residuals[-1] <= 1e-10
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("k", [None, 4])
def test_conjugate_gradient_on_random_spd_matches_torch(k):
    A = _spd(20, seed=5, condition=200.0)
    b = _rhs(20, k, seed=6)
    result = conjugate_gradient(A, b)
    assert result.converged
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b), rtol=1e-7, atol=1e-8)
    # The recursively updated residual tracks the true one.
    assert _relres(A, result.x, b) < 1e-8


def test_gauss_seidel_converges_on_spd_that_is_not_dominant():
    A = _spd(8, seed=7, condition=30.0)
    b = _rhs(8, None, seed=8)
    rows = (A.diagonal().abs() <= A.abs().sum(dim=1) - A.diagonal().abs()).nonzero()
    assert len(rows) > 0  # the test needs a non-dominant matrix
    result = gauss_seidel(A, b, max_iter=5000)
    assert result.converged
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b), rtol=1e-7, atol=1e-8)


def test_jacobi_can_converge_without_dominance():
    # Row 0 is not dominant (1.5 > 1), yet rho(D^-1 R) = sqrt(1.5 * 0.2) < 1:
    # dominance is sufficient, not necessary.
    A = torch.tensor([[1.0, 1.5], [0.2, 1.0]], dtype=torch.float64)
    b = torch.tensor([2.0, -1.0], dtype=torch.float64)
    result = jacobi(A, b)
    assert result.converged
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b))


# --- Gaussian elimination: pivoting and singularity ----------------------------------------


def test_zero_in_the_corner_needs_pivoting():
    A = torch.tensor([[0.0, 2.0, 1.0], [1.0, 1.0, 1.0], [2.0, 1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    result = gaussian_elimination(A, b)
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b))


def test_tiny_pivot_is_avoided():
    # Without row exchanges the multiplier 1e20 wipes out the second equation and gives
    # x_0 = 0; with partial pivoting x = (1, 1) to machine precision.
    A = torch.tensor([[1e-20, 1.0], [1.0, 1.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    result = gaussian_elimination(A, b)
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b))
    torch.testing.assert_close(result.x, torch.tensor([1.0, 1.0], dtype=torch.float64))


def test_random_system_with_pivoting_matches_torch_for_many_rhs():
    A = torch.randn(25, 25, generator=_generator(9), dtype=torch.float64)
    A[0, 0] = 0.0
    B = _rhs(25, 6, seed=10)
    result = gaussian_elimination(A, B)
    torch.testing.assert_close(result.x, torch.linalg.solve(A, B), rtol=1e-9, atol=1e-10)


def test_hilbert_system_against_50_digit_arithmetic():
    n = 7
    mpmath.mp.dps = 50
    H = mpmath.matrix(n, n)
    for i in range(n):
        for j in range(n):
            H[i, j] = mpmath.mpf(1) / (i + j + 1)
    rhs = mpmath.matrix([1] * n)
    exact = mpmath.lu_solve(H, rhs)
    reference = np.array([float(v) for v in exact])

    A = torch.tensor([[1.0 / (i + j + 1) for j in range(n)] for i in range(n)], dtype=torch.float64)
    x = gaussian_elimination(A, torch.ones(n, dtype=torch.float64)).x.numpy()
    # cond(H_7) ~ 5e8, so expect about 16 - 9 = 7 correct digits.
    assert np.max(np.abs(x - reference)) / np.max(np.abs(reference)) < 1e-6


@pytest.mark.parametrize(
    "A, column",
    [
        ([[1.0, 2.0], [2.0, 4.0]], 1),
        ([[0.0, 0.0], [0.0, 0.0]], 0),
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], 2),  # singular, rounding aside
        ([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]], 1),
    ],
)
def test_singular_matrix_names_the_pivot_column(A, column):
    b = [1.0] * len(A)
    with pytest.raises(ValueError, match=rf"singular.*no usable pivot in column {column} ") as info:
        gaussian_elimination(A, b)
    assert "\n" not in str(info.value)


def test_pivot_tolerance_is_relative_to_the_matrix_scale():
    A = torch.tensor([[1e-30, 0.0], [0.0, 1e-30]], dtype=torch.float64)
    x = gaussian_elimination(A, [1e-30, 2e-30]).x  # well-conditioned, just small
    torch.testing.assert_close(x, torch.tensor([1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="column 1"):
        gaussian_elimination([[1.0, 0.0], [0.0, 1e-9]], [1.0, 1.0], tol=1e-6)


# --- the iterations, step by step ----------------------------------------------------------


def test_one_jacobi_sweep_is_d_inverse_b():
    A = _dominant(6, seed=11)
    b = _rhs(6, None, seed=12)
    with pytest.warns(ConvergenceWarning):
        result = jacobi(A, b, max_iter=1)
    torch.testing.assert_close(result.x, b / A.diagonal())


def test_one_gauss_seidel_sweep_is_a_forward_substitution():
    A = _dominant(6, seed=13)
    b = _rhs(6, 2, seed=14)
    with pytest.warns(ConvergenceWarning):
        result = gauss_seidel(A, b, max_iter=1)
    # From x = 0 one sweep solves (D + L) x = b.
    expected = torch.linalg.solve_triangular(torch.tril(A), b, upper=False)
    torch.testing.assert_close(result.x, expected)


def test_gauss_seidel_beats_jacobi_on_a_dominant_tridiagonal_matrix():
    n = 10
    A = 4 * torch.eye(n, dtype=torch.float64)
    A += torch.diag(-torch.ones(n - 1, dtype=torch.float64), 1)
    A += torch.diag(-torch.ones(n - 1, dtype=torch.float64), -1)
    b = torch.ones(n, dtype=torch.float64)
    j, gs = jacobi(A, b), gauss_seidel(A, b)
    assert gs.iterations < j.iterations
    # For consistently ordered matrices rho_GS = rho_J^2: about half the sweeps.
    assert gs.iterations <= j.iterations // 2 + 2


def test_residual_history_is_the_true_relative_residual():
    A = _dominant(9, seed=15)
    b = _rhs(9, None, seed=16)
    for solve in (jacobi, gauss_seidel):
        result = solve(A, b)
        assert len(result.residuals) == result.iterations + 1
        assert result.residuals[0] == pytest.approx(1.0)  # x0 = 0
        assert result.residuals[-1] == pytest.approx(_relres(A, result.x, b), rel=1e-6)
        assert result.residuals[-1] <= 1e-10 < result.residuals[-2]


def test_starting_at_the_solution_takes_no_iterations():
    A = _dominant(5, seed=17)
    b = _rhs(5, None, seed=18)
    x = torch.linalg.solve(A, b)
    for solve in (jacobi, gauss_seidel):
        result = solve(A, b, x0=x)
        assert result.iterations == 0 and result.converged and len(result.residuals) == 1


def test_zero_right_hand_side_column():
    A = _dominant(4, seed=19)
    B = torch.zeros(4, 2, dtype=torch.float64)
    B[:, 1] = 1.0
    for solve in ALL[:-1]:
        result = solve(A, B)
        torch.testing.assert_close(result.x, torch.linalg.solve(A, B), rtol=1e-8, atol=1e-12)


# --- conjugate gradients -------------------------------------------------------------------


def test_conjugate_gradient_finishes_within_n_steps():
    n = 6
    A = _spd(n, seed=20, condition=10.0)
    b = _rhs(n, None, seed=21)
    result = conjugate_gradient(A, b, tol=1e-12)
    assert result.converged and result.iterations <= n
    torch.testing.assert_close(result.x, torch.linalg.solve(A, b))


def test_conjugate_gradient_steps_equal_number_of_distinct_eigenvalues():
    g = _generator(22)
    Q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    A = Q @ torch.diag(torch.tensor([2.0] * 5 + [7.0] * 3, dtype=torch.float64)) @ Q.T
    A = (A + A.T) / 2
    b = _rhs(8, None, seed=23)
    result = conjugate_gradient(A, b, tol=1e-12)
    assert result.converged and result.iterations == 2


def test_conjugate_gradient_first_step_is_exact_line_search():
    # x_1 = alpha_0 b with alpha_0 = b^T b / b^T A b, derived by hand.
    A = _spd(5, seed=24)
    b = _rhs(5, None, seed=25)
    with pytest.warns(ConvergenceWarning):
        result = conjugate_gradient(A, b, max_iter=1)
    torch.testing.assert_close(result.x, (b @ b) / (b @ A @ b) * b)


def test_conjugate_gradient_detects_indefinite_matrix():
    A = torch.diag(torch.tensor([3.0, 1.0, -2.0], dtype=torch.float64))
    b = torch.ones(3, dtype=torch.float64)
    with pytest.raises(ConvergenceError, match=r"non-positive curvature p\^T A p = .* <= 0") as e:
        conjugate_gradient(A, b)
    assert "not positive definite" in str(e.value)
    assert e.value.result.residuals[0] == pytest.approx(1.0)


def test_conjugate_gradient_refuses_nonsymmetric_matrix():
    A = _dominant(4, seed=26)
    with pytest.raises(ValueError, match="not symmetric"):
        conjugate_gradient(A, torch.ones(4, dtype=torch.float64))


def test_conjugate_gradient_accepts_float32_rounding_asymmetry():
    M = torch.randn(6, 6, generator=_generator(27))
    A = M @ M.T + 6 * torch.eye(6)  # float32; symmetric up to rounding
    result = conjugate_gradient(A, torch.ones(6))
    assert result.x.dtype == torch.float32 and result.converged


# --- failure modes of the splitting methods ------------------------------------------------


@pytest.mark.parametrize("solve", [jacobi, gauss_seidel])
def test_divergence_is_detected_and_explained(solve):
    # rho(D^-1 R) = sqrt(6) for Jacobi and 6 for Gauss-Seidel: both blow up fast.
    A = [[1.0, 2.0], [3.0, 1.0]]
    with pytest.raises(ConvergenceError, match=r"diverged.*rows 0, 1: \|a_ii\| <= ") as info:
        solve(A, [1.0, 1.0])
    message = str(info.value)
    assert "not strictly diagonally dominant" in message and "sufficient" in message
    history = info.value.result.residuals
    assert history[-1] > 1e8 and all(b > a for a, b in zip(history[1:-1], history[2:], strict=True))
    assert info.value.result.converged is False


@pytest.mark.parametrize("solve", ITERATIVE)
def test_too_few_iterations_warns_with_the_history(solve):
    A = _spd(6, seed=28)
    A = A + torch.diag(A.abs().sum(dim=1))  # dominant and SPD
    b = _rhs(6, None, seed=29)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = solve(A, b, max_iter=2, tol=1e-14)
    (warning,) = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert "did not converge" in str(warning.message) and "max_iter=2" in str(warning.message)
    assert warning.message.result.residuals == result.residuals
    assert result.converged is False and result.iterations == 2 and len(result.residuals) == 3
    if solve is not conjugate_gradient:
        assert "is strictly diagonally dominant" in str(warning.message)


def test_non_dominant_slow_iteration_says_so():
    # Not dominant in row 0, but convergent (rho = sqrt(0.3)): stopped early it warns,
    # and the message says dominance is only sufficient.
    A = [[1.0, 1.5], [0.2, 1.0]]
    with pytest.warns(ConvergenceWarning, match="sufficient, not necessary"):
        jacobi(A, [1.0, 1.0], max_iter=3)


def test_zero_diagonal_is_refused_by_splitting_methods():
    for solve in (jacobi, gauss_seidel):
        with pytest.raises(ValueError, match=r"a_ii = 0 in row 1"):
            solve([[1.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 3.0]], [1.0, 1.0, 1.0])


# --- input validation ----------------------------------------------------------------------


@pytest.mark.parametrize("solve", ALL)
@pytest.mark.parametrize(
    "A, b, match",
    [
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [1.0, 2.0], r"A must be a square matrix.*\(2, 3\)"),
        ([1.0, 2.0], [1.0, 2.0], r"A must be a square matrix"),
        (np.zeros((0, 0)), np.zeros(0), "A is empty"),
        ([[2.0, 0.0], [0.0, 2.0]], [1.0, 2.0, 3.0], r"b must have shape \(2,\) or \(2, k\)"),
        ([[2.0, 0.0], [0.0, 2.0]], np.ones((2, 1, 1)), r"b must have shape"),
        ([[2.0, 0.0], [0.0, 2.0]], np.ones((2, 0)), r"b must have shape"),
        ([[2.0, np.nan], [0.0, 2.0]], [1.0, 2.0], "A has 1 NaN/inf"),
        ([[2.0, 0.0], [0.0, 2.0]], [np.inf, 2.0], "b has 1 NaN/inf"),
        ([["a", "b"], ["c", "d"]], [1.0, 2.0], "A must be numeric"),
        (np.eye(2) * (1 + 1j), [1.0, 2.0], "A must be real-valued"),
    ],
)
def test_invalid_input_is_a_one_line_value_error(solve, A, b, match):
    with pytest.raises(ValueError, match=match) as info:
        solve(A, b)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("solve", ITERATIVE)
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tol": 0.0}, "tol must be"),
        ({"tol": -1.0}, "tol must be"),
        ({"max_iter": 0}, "max_iter must be"),
        ({"max_iter": 2.5}, "max_iter must be"),
        ({"x0": [1.0, 2.0, 3.0]}, r"x0 must have the shape of b"),
        ({"x0": [np.nan, 0.0]}, "x0 has 1 NaN/inf"),
    ],
)
def test_invalid_options(solve, kwargs, match):
    with pytest.raises(ValueError, match=match):
        solve([[2.0, 0.0], [0.0, 2.0]], [1.0, 2.0], **kwargs)


def test_gaussian_elimination_rejects_negative_tolerance():
    with pytest.raises(ValueError, match="tol must be"):
        gaussian_elimination([[1.0]], [1.0], tol=-1.0)


@pytest.mark.parametrize("solve", ALL)
def test_output_dtype_follows_the_input(solve):
    A64 = [[4.0, 1.0], [1.0, 3.0]]
    assert solve(torch.tensor(A64), torch.tensor([1.0, 2.0])).x.dtype == torch.float32
    assert solve(np.array([[4, 1], [1, 3]]), [1, 2]).x.dtype == torch.float64
    expected = torch.linalg.solve(
        torch.tensor(A64, dtype=torch.float64), torch.tensor([1.0, 2.0]).double()
    )
    torch.testing.assert_close(solve(np.array([[4, 1], [1, 3]]), [1, 2]).x, expected)


def test_one_by_one_system():
    for solve in ALL:
        torch.testing.assert_close(
            solve([[4.0]], [2.0]).x, torch.tensor([0.5], dtype=torch.float64)
        )
