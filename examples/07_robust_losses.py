# %% [markdown]
# # Robust losses: squared vs L1 vs Huber on data with outliers
#
# Squared loss is the right choice when the noise is Gaussian (see example 02). But a few
# wild points — a sensor glitch, a typo — cost the squared loss `r²`, so a residual 10 times
# larger pulls 100 times harder, and the fitted line bends towards the outliers.
#
# * **L1 loss** `|r|` pulls with the same force however far a point is (its fit is the
#   median line);
# * **Huber loss** is `½r²` for small residuals and `δ(|r| − ½δ)` beyond `δ`: squared
#   near the line, L1 far from it.
#
# You will fit the same linear model with the three losses from `torchlinear.losses`, check
# each fit against an independent solver, repeat the fits with the library's
# `LinearRegression(loss=...)`, see the lines on one plot, and plot how hard each loss pulls
# on a point as a function of its residual.

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.linear_model import QuantileRegressor

from torchlinear import LinearRegression
from torchlinear.losses import get_loss
from torchlinear.models import LinearModel
from torchlinear.scratch.linreg import closed_form

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "07_robust_losses"
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
# ## Data: a line, a little noise, and a cluster of outliers
#
# 100 points on `y = 1.5·x + 2` with noise of standard deviation 0.5, plus 12 points at the
# right end that sit 15 below the line. Those are the worst kind: far out in `x` as well,
# so they have a long lever on the slope.

# %%
gen = torch.Generator().manual_seed(0)
true_slope, true_intercept = 1.5, 2.0
x_clean = torch.rand(100, generator=gen) * 10
y_clean = true_slope * x_clean + true_intercept + 0.5 * torch.randn(100, generator=gen)
x_out = 8 + 2 * torch.rand(12, generator=gen)
y_out = true_slope * x_out + true_intercept - 15 + torch.randn(12, generator=gen)
X = torch.cat([x_clean, x_out]).unsqueeze(1)  # (n, 1): one feature
y = torch.cat([y_clean, y_out])
print(f"{len(y)} points, {len(y_out)} of them outliers")

# %% [markdown]
# ## Fit the same model with each loss
#
# `LinearModel(1)` is `ŷ = w·x + b`; `get_loss(name)` returns the averaged loss. The data
# set is small, so each step uses all of it (full-batch gradient descent with Adam, its
# learning rate shrinking to zero over the run so the last steps settle).

# %%
steps = 300


def fit(loss_name, delta=1.0):
    model = LinearModel(1, seed=0)
    loss_fn = get_loss(loss_name, delta=delta)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.coef.item(), model.intercept.item()


fits = {name: fit(name) for name in ["squared", "l1", "huber"]}
print(f"{'loss':>8} {'slope':>8} {'intercept':>10}")
print(f"{'truth':>8} {true_slope:8.3f} {true_intercept:10.3f}")
for name, (slope, intercept) in fits.items():
    print(f"{name:>8} {slope:8.3f} {intercept:10.3f}")

# %% [markdown]
# ## Check each fit with an independent solver
#
# * squared loss: the closed-form least-squares solution;
# * L1 loss: scikit-learn's `QuantileRegressor` at the median, solved exactly as a linear
#   program;
# * Huber loss: SciPy's BFGS on the Huber objective written out in NumPy.

# %%
w_ls, b_ls = closed_form(X, y)
lad = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X.numpy(), y.numpy())
x_np, y_np = X.numpy()[:, 0].astype(np.float64), y.numpy().astype(np.float64)


def huber_objective(theta, delta=1.0):
    r = np.abs(theta[0] * x_np + theta[1] - y_np)
    return np.mean(np.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)))


huber_ref = minimize(huber_objective, x0=np.zeros(2), method="BFGS").x
references = {
    "squared": (w_ls.item(), b_ls.item()),
    "l1": (float(lad.coef_[0]), float(lad.intercept_)),
    "huber": (float(huber_ref[0]), float(huber_ref[1])),
}
for name, (slope, intercept) in fits.items():
    ref_slope, ref_intercept = references[name]
    print(
        f"{name:>8}: ours {slope:.4f} / {intercept:.4f}   reference "
        f"{ref_slope:.4f} / {ref_intercept:.4f}"
    )
    assert abs(slope - ref_slope) < 5e-3 and abs(intercept - ref_intercept) < 2e-2, name

# %% [markdown]
# ## The same fits with the library's estimator
#
# For day-to-day use, `torchlinear.LinearRegression` takes the loss as a parameter and has
# the scikit-learn API (`fit`, `predict`, `coef_`, `intercept_`). The squared loss is solved
# exactly, Huber by L-BFGS; the L1 loss is not smooth, so it is trained by minibatch Adam —
# on a data set this small, give it small batches, a modest learning rate and enough epochs.

# %%
estimators = {
    "squared": LinearRegression(),
    "huber": LinearRegression(loss="huber", delta=1.0),
    "l1": LinearRegression(loss="l1", lr=0.01, batch_size=16, max_iter=500, random_state=0),
}
for name, estimator in estimators.items():
    estimator.fit(X, y)
    slope, intercept = float(estimator.coef_[0]), float(estimator.intercept_)
    ref_slope, ref_intercept = references[name]
    label = f"LinearRegression(loss={name!r})"
    print(f"{label:32} solver {estimator.solver_:8}: slope {slope:.4f}, intercept {intercept:.4f}")
    assert abs(slope - ref_slope) < 5e-3 and abs(intercept - ref_intercept) < 2e-2, name

# %% [markdown]
# ## The point: the outliers drag the squared-loss line, not the robust ones

# %%
errors = {name: abs(slope - true_slope) for name, (slope, _) in fits.items()}
print("slope error:", {name: round(err, 3) for name, err in errors.items()})
assert errors["squared"] > 0.4, "squared loss is pulled far off by the outliers"
assert errors["l1"] < 0.15 and errors["huber"] < 0.15, "robust losses stay near the truth"

fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(x_clean, y_clean, s=12, color="grey", label="data")
ax.scatter(x_out, y_out, s=24, marker="x", color="tab:red", label="outliers")
grid = torch.linspace(0, 10, 2)
ax.plot(grid, true_slope * grid + true_intercept, "k:", label="true line")
for (name, (slope, intercept)), style in zip(fits.items(), ["-", "--", "-."], strict=True):
    ax.plot(grid, slope * grid + intercept, style, lw=2, label=f"{name} (slope {slope:.2f})")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("12 outliers bend the squared-loss fit")
ax.legend()
save(fig, "fitted_lines.png")

# %% [markdown]
# ## How hard does each loss pull?
#
# The pull of one point on the fit is the derivative of its loss with respect to its
# residual (here computed by autograd). For the squared loss it grows without limit; for
# L1 it is always ±1; Huber follows the squared loss up to `δ` and then stays at `±δ`.

# %%
r = torch.linspace(-4, 4, 401, requires_grad=True)
zero = torch.zeros_like(r)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name in ["squared", "l1", "huber"]:
    loss_fn = get_loss(name, delta=1.0)
    # the library's losses are means; times n gives each residual's own loss
    per_point = loss_fn(r, zero) * len(r)
    (pull,) = torch.autograd.grad(per_point, r)
    per_point_values = [loss_fn(v.reshape(1), torch.zeros(1)).item() for v in r.detach()]
    axes[0].plot(r.detach(), per_point_values, label=name)
    axes[1].plot(r.detach(), pull, label=name)
    if name == "huber":
        assert pull.abs().max() <= 1.0 + 1e-6
    if name == "squared":
        assert torch.allclose(pull, r.detach())
axes[0].set_ylim(0, 5)
axes[0].set_xlabel("residual r")
axes[0].set_title("loss of one point")
axes[1].set_xlabel("residual r")
axes[1].set_title("its pull on the fit (derivative)")
for ax in axes:
    ax.axvline(-1, color="grey", lw=0.5, ls=":")
    ax.axvline(1, color="grey", lw=0.5, ls=":")
    ax.legend()
save(fig, "loss_and_pull.png")
