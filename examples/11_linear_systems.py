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
#    when the condition fails;
# 4. the **splitting form** `A = S − T` that Jacobi (`S = D`) and Gauss–Seidel (`S = D + L`)
#    share, and its one condition, `ρ(S⁻¹T) < 1` — checked on the museum problem, where it
#    fails until the two equations are swapped;
# 5. **gradient descent on least squares as the same kind of iteration**, diverging exactly
#    when the learning rate exceeds `2 / λ_max(XᵀX / n)`.

# %%
import math
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
# ## 1. Two days at the museum: how many children, how many adults?
#
# The same group visits a museum on two days. On the first day a child ticket costs 3 and an
# adult ticket 3.2, and the group pays 118.4; on the second day the prices are 3.5 and 3.6,
# and it pays 135.2. The unknowns are the **numbers of people**: `x₁` children and `x₂`
# adults. Each receipt is one equation, `price · count` summed over the two kinds of ticket:
#
# `[[3, 3.2], [3.5, 3.6]] · [x₁, x₂] = [118.4, 135.2]`.

# %%
A = torch.tensor([[3.0, 3.2], [3.5, 3.6]], dtype=torch.float64)  # rows: days; columns: prices
b = torch.tensor([118.4, 135.2], dtype=torch.float64)  # what the group paid each day

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
children, adults = result.x.round().long().tolist()
assert (children, adults) == (16, 22)
assert torch.allclose(result.x, torch.tensor([16.0, 22.0], dtype=torch.float64))
# Check the story, not only the algebra: both receipts add up.
assert math.isclose(3 * children + 3.2 * adults, 118.4)
assert math.isclose(3.5 * children + 3.6 * adults, 135.2)
print(f"{children} children and {adults} adults")

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


# %% [markdown]
# ## 4. One form for both iterations: A = S − T
#
# Split the matrix as `A = S − T` with `S` easy to solve with. Then `A x = b` reads
# `S x = T x + b`, which suggests the iteration
#
# `x_{k+1} = S⁻¹ (T x_k + b)`.
#
# Subtract the exact solution (which satisfies the same equation): the error obeys
# `e_{k+1} = S⁻¹T e_k`, so `e_k = (S⁻¹T)ᵏ e_0`. The error goes to zero from *every* start
# exactly when the spectral radius (largest |eigenvalue|) of `S⁻¹T` is below 1. With
# `A = L + D + U` (strictly lower part, diagonal, strictly upper part):
#
# * **Jacobi**: `S = D`, `T = −(L + U)`;
# * **Gauss–Seidel**: `S = D + L`, `T = −U`.
#
# On the museum system the condition fails for both — and swapping the two equations (the
# same system, a different split) makes it hold.


# %%
def split(matrix, method):
    """``(S, T)`` with ``matrix = S − T`` for Jacobi or Gauss–Seidel."""
    D = torch.diag(matrix.diagonal())
    L = torch.tril(matrix, -1)
    S = D if method == "jacobi" else D + L
    return S, S - matrix


def splitting_iteration(S, T, rhs, steps):
    """Every iterate of ``x ← S⁻¹(T x + rhs)`` from x = 0."""
    x, path = torch.zeros_like(rhs), []
    for _ in range(steps):
        x = torch.linalg.solve(S, T @ x + rhs)
        path.append(x)
    return torch.stack(path)


steps = 1000  # 2×2 solves: cheap even in fast mode
swapped, b_swapped = A.flip(0), b.flip(0)  # the second day's receipt first
split_errors = {}
for name, (matrix, rhs) in {"as written": (A, b), "rows swapped": (swapped, b_swapped)}.items():
    for method in ("jacobi", "gauss_seidel"):
        S, T = split(matrix, method)
        assert torch.allclose(S - T, matrix)
        rho = spectral_radius(torch.linalg.solve(S, T))
        path = splitting_iteration(S, T, rhs, steps)
        errors = (path - reference).norm(dim=1)
        split_errors[f"{method}, {name}"] = errors
        print(
            f"{method:>12} {name:>12}: ρ(S⁻¹T) = {rho:.4f}, error after {steps} steps "
            f"{errors[-1].item():.3g}"
        )
        # The error shrinks (or grows) by the factor ρ per step, asymptotically.
        assert (errors[-1] < 1e-6) == (rho < 1) and (errors[-1] > 1e6) == (rho > 1)
        rate = (errors[250] / errors[200]).item() ** (1 / 50)
        assert abs(rate - rho) < 1e-2, (rate, rho)
# Jacobi and Gauss–Seidel from the library agree with the splitting form when ρ < 1.
for solve in (jacobi, gauss_seidel):
    res = solve(swapped, b_swapped, tol=1e-12, max_iter=5000)
    assert res.converged and torch.allclose(res.x, reference, atol=1e-9)
# For a 2×2 system ρ_GS = ρ_J²: Gauss–Seidel is exactly twice as fast in steps.
rho_j, rho_gs = iteration_radii(swapped)
assert math.isclose(rho_gs, rho_j**2, rel_tol=1e-9)

# %% [markdown]
# ## 5. Gradient descent on least squares is the same kind of iteration
#
# Full-batch gradient descent on `L(w) = (1/2n) ‖Xw − y‖²` (a column of ones in `X` carries
# the bias) takes the step
#
# `w_{k+1} = w_k − η H w_k + η Xᵀy / n`, with `H = XᵀX / n`.
#
# That is the splitting iteration for the normal equations `H w = Xᵀy / n` with `S = I / η`
# and `T = I / η − H`: the error is multiplied by `S⁻¹T = I − ηH` each step. Its eigenvalues
# are `1 − η λᵢ`, so `ρ < 1` exactly when `0 < η < 2 / λ_max(H)`. Above that learning rate
# the loss grows without bound — the divergence of example 03, now with its exact
# threshold. Below we run 3% below and 3% above it.

# %%
gen = torch.Generator().manual_seed(3)
n_samples = 200
X_raw = torch.randn(n_samples, 2, generator=gen, dtype=torch.float64) * torch.tensor(
    [1.0, 3.0], dtype=torch.float64
)
X_ls = torch.cat([X_raw, torch.ones(n_samples, 1, dtype=torch.float64)], dim=1)
y_ls = X_ls @ torch.tensor([2.0, -3.4, 4.2], dtype=torch.float64)
y_ls = y_ls + 0.01 * torch.randn(n_samples, generator=gen, dtype=torch.float64)
H = X_ls.T @ X_ls / n_samples
w_star = torch.linalg.solve(H, X_ls.T @ y_ls / n_samples)
lam_max = torch.linalg.eigvalsh(H).max().item()
threshold = 2 / lam_max
print(f"λ_max(XᵀX/n) = {lam_max:.4f}, so gradient descent diverges for lr > {threshold:.4f}")

gd_errors = {}
gd_steps = 300 if FAST else 1000
for factor in (0.97, 1.03):
    lr = factor * threshold
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    errors = []
    for _ in range(gd_steps):
        loss = ((X_ls @ w - y_ls) ** 2).sum() / (2 * n_samples)
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * grad
        errors.append((w.detach() - w_star).norm().item())
    # The same run, as the splitting iteration with S = I/η and T = I/η − H.
    S, T = torch.eye(3, dtype=torch.float64) / lr, torch.eye(3, dtype=torch.float64) / lr - H
    path = splitting_iteration(S, T, X_ls.T @ y_ls / n_samples, gd_steps)
    assert torch.allclose(path[-1], w.detach(), rtol=1e-8, atol=1e-8)
    rho = spectral_radius(torch.linalg.solve(S, T))
    gd_errors[f"lr = {factor:.2f} · 2/λ_max (ρ = {rho:.3f})"] = errors
    print(
        f"lr = {factor} × 2/λ_max = {lr:.4f}: ρ(I − lr·H) = {rho:.4f}, "
        f"error after {gd_steps} steps {errors[-1]:.3g}"
    )
    if factor < 1:
        assert rho < 1 and errors[-1] < 1e-6, "below the threshold gradient descent converges"
    else:
        assert rho > 1 and errors[-1] > 1e3 * errors[0], "above it the error grows"

# %% [markdown]
# Left: the museum system's splitting iterations — diverging as written, converging once the
# rows are swapped, Gauss–Seidel twice as fast in steps. Right: gradient descent just below
# and just above `2 / λ_max`; the straight lines on the log scale are the factor `ρ` per step.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for name, errors in split_errors.items():
    axes[0].semilogy(errors.tolist(), label=name.replace("_", "–"))
axes[0].set_xlabel("iteration")
axes[0].set_ylabel("error ‖x_k − x*‖")
axes[0].set_title("museum system: Jacobi and Gauss–Seidel")
axes[0].legend(fontsize=8)
for name, errors in gd_errors.items():
    axes[1].semilogy(errors, label=name)
axes[1].set_xlabel("gradient-descent step")
axes[1].set_ylabel("error ‖w_k − w*‖")
axes[1].set_title("least squares: lr just below / above 2/λ_max")
axes[1].legend(fontsize=8)
save(fig, "splitting.png")
