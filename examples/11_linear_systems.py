# %% [markdown]
# # Solving linear systems: inverse, elimination and three iterations
#
# Least squares ends in a linear system (`XᵀX w = Xᵀy`), so it is worth knowing how one is
# solved. This example uses the solvers written from first principles in
# `torchlinear.scratch.linsolve` and checks each against `torch.linalg.solve`:
#
# 1. a two-unknown word problem solved by the **matrix inverse** and by **Gaussian
#    elimination**;
# 2. a larger system solved by three **iterations** — Jacobi, Gauss–Seidel and conjugate
#    gradient — with their residual-vs-iteration curves;
# 3. **when each one converges**: diagonal dominance (Jacobi, Gauss–Seidel), symmetric
#    positive definiteness (Gauss–Seidel, conjugate gradient), and what the solvers say
#    when the condition fails.

# %%
import os
import sys
import warnings
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear.scratch.linsolve import (
    ConvergenceError,
    conjugate_gradient,
    gauss_seidel,
    gaussian_elimination,
    jacobi,
)

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "11_linear_systems"
OUT.mkdir(parents=True, exist_ok=True)
print("figures are saved in", OUT.resolve())


def save(fig, name):
    """Write a figure into the output folder; free it in a script, show it in a notebook."""
    path = OUT / name
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print("saved", path)
    if "ipykernel" not in sys.modules:
        plt.close(fig)
    elif fig.canvas.manager is None:  # built without pyplot (the library's plots): show it
        from IPython.display import display

        display(fig)


# %% [markdown]
# ## 1. Two tickets, two receipts
#
# Adult tickets cost `x₁`, child tickets `x₂`. One family paid 118.4 for 3 adult tickets and
# 3.2 "child-ticket units"; another paid 135.2 for 3.5 and 3.6. In matrix form `A x = b`:
#
# `[[3, 3.2], [3.5, 3.6]] · [x₁, x₂] = [118.4, 135.2]`.

# %%
A = torch.tensor([[3.0, 3.2], [3.5, 3.6]], dtype=torch.float64)
b = torch.tensor([118.4, 135.2], dtype=torch.float64)

# The textbook's formula: x = A⁻¹ b.
x_inverse = torch.linalg.inv(A) @ b
print("by the inverse:            x =", [round(v, 10) for v in x_inverse.tolist()])
print("determinant 3·3.6 − 3.2·3.5 =", round(torch.linalg.det(A).item(), 10), "(non-zero)")

# Gaussian elimination: the larger |entry| of column 0 is 3.5, so the rows are swapped
# first (partial pivoting); then row 2 -= (3 / 3.5) · row 1 leaves one unknown in row 2.
result = gaussian_elimination(A, b)
print("by Gaussian elimination:   x =", [round(v, 10) for v in result.x.tolist()])
print(f"relative residual ‖b − Ax‖ / ‖b‖ = {result.residuals[-1]:.2e}")
reference = torch.linalg.solve(A, b)
assert torch.allclose(x_inverse, reference) and torch.allclose(result.x, reference)
assert torch.allclose(result.x, torch.tensor([16.0, 22.0], dtype=torch.float64))
print("adult ticket 16, child ticket 22")

# %% [markdown]
# Forming the inverse costs about three times the work of elimination and, on badly
# conditioned matrices, loses more digits; solvers never form it. And when there is no
# unique answer, elimination says where it got stuck:

# %%
try:
    gaussian_elimination([[1.0, 2.0], [2.0, 4.0]], [3.0, 6.0])  # row 2 = 2 × row 1
except ValueError as error:
    print("singular matrix ->", error)
try:
    gaussian_elimination(A, torch.ones(3))
except ValueError as error:
    print("wrong shapes    ->", error)

# %% [markdown]
# ## 2. A larger system, three iterations
#
# An iteration starts from a guess (zero) and improves it; each step is cheap (one or two
# matrix-vector products), which is what makes iterations attractive for large, sparse
# systems. We watch the relative residual `‖b − A x‖ / ‖b‖` fall.
#
# First a matrix that is **strictly diagonally dominant** (each `|aᵢᵢ|` exceeds the sum of
# the other `|aᵢⱼ|` in its row) *and* **symmetric positive definite**: every method is
# guaranteed to converge.

# %%
n = 30 if FAST else 60
gen = torch.Generator().manual_seed(0)
M = torch.randn(n, 2 * n, generator=gen, dtype=torch.float64)
spd = M @ M.T / (2 * n)  # symmetric positive definite, not diagonally dominant
rhs = torch.randn(n, generator=gen, dtype=torch.float64)
dominant = spd + torch.diag(spd.abs().sum(dim=1))  # now also strictly dominant


def is_dominant(matrix):
    diagonal = matrix.diagonal().abs()
    return bool((diagonal > matrix.abs().sum(dim=1) - diagonal).all())


def is_spd(matrix):
    symmetric = torch.allclose(matrix, matrix.T)
    return symmetric and bool((torch.linalg.eigvalsh(matrix) > 0).all())


def spectral_radius(matrix):
    return torch.linalg.eigvals(matrix).abs().max().item()


def iteration_radii(matrix):
    """ρ of the matrices that multiply the error each sweep: Jacobi and Gauss–Seidel."""
    D = torch.diag(matrix.diagonal())
    L, U = torch.tril(matrix, -1), torch.triu(matrix, 1)
    return spectral_radius(torch.linalg.solve(D, L + U)), spectral_radius(
        torch.linalg.solve(D + L, U)
    )


print(f"n = {n}: dominant {is_dominant(dominant)}, symmetric positive definite {is_spd(dominant)}")
exact = torch.linalg.solve(dominant, rhs)
easy = {}
for solve in (jacobi, gauss_seidel, conjugate_gradient):
    res = solve(dominant, rhs, tol=1e-12, max_iter=1000)
    easy[solve.__name__] = res.residuals
    print(f"{solve.__name__:>18}: {res.iterations:3d} iterations, converged {res.converged}")
    assert res.converged and torch.allclose(res.x, exact, atol=1e-9)
rho_j, rho_gs = iteration_radii(dominant)
print(f"error shrink factor per sweep: Jacobi ρ = {rho_j:.3f}, Gauss–Seidel ρ = {rho_gs:.3f}")
assert rho_j < 1 and rho_gs < 1

# %% [markdown]
# ## 3. When the guarantees fail
#
# Now the symmetric positive definite matrix *without* the extra diagonal: it is not
# diagonally dominant.
#
# * **Jacobi** multiplies the error by `D⁻¹(L + U)` every sweep. Its spectral radius is
#   above 1 here, so the error grows and the solver stops with an error naming the failed
#   condition.
# * **Gauss–Seidel** converges for every symmetric positive definite matrix (dominance or
#   not) — here more slowly.
# * **Conjugate gradient** needs exactly symmetric positive definite, and then finishes in
#   at most `n` steps in exact arithmetic.

# %%
print(f"dominant {is_dominant(spd)}, symmetric positive definite {is_spd(spd)}")
rho_j, rho_gs = iteration_radii(spd)
print(f"Jacobi ρ = {rho_j:.3f} (> 1: diverges), Gauss–Seidel ρ = {rho_gs:.3f} (< 1)")
assert rho_j > 1 > rho_gs
exact = torch.linalg.solve(spd, rhs)
hard = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        jacobi(spd, rhs, tol=1e-12, max_iter=1000)
        raise AssertionError("Jacobi should not converge on this matrix")
    except ConvergenceError as error:
        print("jacobi ->", error)
        hard["jacobi"] = error.result.residuals
        assert "diagonally dominant" in str(error)
for warning in caught:
    print("warning:", warning.message)
for solve in (gauss_seidel, conjugate_gradient):
    res = solve(spd, rhs, tol=1e-12, max_iter=2000)
    hard[solve.__name__] = res.residuals
    print(f"{solve.__name__:>18}: {res.iterations:3d} iterations, converged {res.converged}")
    assert res.converged and torch.allclose(res.x, exact, atol=1e-8)
assert len(hard["conjugate_gradient"]) - 1 <= n + 5, "CG: about n steps at most"

# %% [markdown]
# And a matrix that is diagonally dominant but **not symmetric**: Jacobi and Gauss–Seidel
# are fine; conjugate gradient refuses it before starting.

# %%
skewed = dominant + 0.3 * torch.triu(spd.abs(), 1)
print(f"dominant {is_dominant(skewed)}, symmetric {torch.allclose(skewed, skewed.T)}")
for solve in (jacobi, gauss_seidel):
    res = solve(skewed, rhs, tol=1e-12)
    assert res.converged and torch.allclose(res.x, torch.linalg.solve(skewed, rhs), atol=1e-9)
    print(f"{solve.__name__:>18}: {res.iterations:3d} iterations, converged")
try:
    conjugate_gradient(skewed, rhs)
    raise AssertionError("CG should refuse a non-symmetric matrix")
except ValueError as error:
    print("conjugate_gradient ->", error)

# %% [markdown]
# ## Residual vs iteration
#
# Left: the dominant SPD matrix — all three converge. The straight lines on the log scale
# mean a constant shrink factor per sweep (`ρ` above); Gauss–Seidel's is the smallest here,
# because it uses each new value at once. Right: the SPD matrix that is not dominant —
# Jacobi diverges, Gauss–Seidel slows down (its `ρ` is closer to 1), and conjugate gradient,
# which does not depend on dominance at all, is now the fastest.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
styles = {"jacobi": "-", "gauss_seidel": "--", "conjugate_gradient": "-."}
for ax, histories, title in [
    (axes[0], easy, "diagonally dominant and SPD"),
    (axes[1], hard, "SPD, not diagonally dominant"),
]:
    for name, history in histories.items():
        ax.semilogy(history, styles[name], label=name.replace("_", " "))
    ax.axhline(1e-12, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("iteration")
    ax.set_title(f"{title} (n = {n})")
    ax.legend()
axes[0].set_ylabel("relative residual ‖b − Ax‖ / ‖b‖")
axes[1].set_ylim(1e-14, 1e9)
save(fig, "residuals.png")
