# %% [markdown]
# # The normal distribution and squared loss
#
# Why squared loss? Suppose the targets are a line plus Gaussian noise,
# `y = x·w + b + ε` with `ε ~ N(0, σ²)`. Then the probability of seeing `y` given `x` is
# `p(y | x) = exp(−(y − x·w − b)² / 2σ²) / √(2πσ²)`, and the negative log-likelihood of the
# whole data set is
#
# `−log P(y | X) = (n/2)·log(2πσ²) + (1 / 2σ²) · Σᵢ (yᵢ − xᵢ·w − b)²`.
#
# The first term does not depend on `w, b`; the second is the sum of squared errors times
# a positive number. So the `w, b` that **minimise squared loss** are the `w, b` that
# **maximise the Gaussian likelihood**. You will:
#
# 1. plot normal densities and check the formula against `torch.distributions.Normal`;
# 2. check that the negative log-likelihood is exactly a shifted, scaled squared loss;
# 3. minimise both objectives separately and get the same `w, b` (and the closed form);
# 4. estimate the noise `σ` by maximum likelihood as well.

# %%
import math
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear.data import synthetic_regression
from torchlinear.scratch.linreg import closed_form, linreg, squared_loss

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "02_normal_distribution_squared_loss"
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
# ## 1. The normal density
#
# `p(x) = exp(−(x − μ)² / 2σ²) / √(2πσ²)`. Changing `μ` slides the bell; a larger `σ` makes
# it wider and flatter (the area under it stays 1).


# %%
def normal_pdf(x, mu, sigma):
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / math.sqrt(2 * math.pi * sigma**2)


x = torch.linspace(-7, 7, 1401, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(6, 3.5))
for mu, sigma in [(0, 1), (0, 2), (3, 1)]:
    p = normal_pdf(x, mu, sigma)
    reference = torch.distributions.Normal(mu, sigma).log_prob(x).exp()
    area = torch.trapezoid(p, x).item()
    print(f"mean {mu}, std {sigma}: area under the curve = {area:.6f}")
    assert torch.allclose(p, reference) and abs(area - 1) < 1e-3
    ax.plot(x, p, label=f"mean {mu}, std {sigma}")
ax.set_xlabel("x")
ax.set_ylabel("p(x)")
ax.legend()
ax.set_title("normal densities")
save(fig, "normal_densities.png")

# %% [markdown]
# ## 2. Data with Gaussian noise
#
# The textbook's line, `y = 2·x1 − 3.4·x2 + 4.2`, with noise of standard deviation 0.5 so
# that the noise is easy to see. We work in float64 to compare solutions to many digits.

# %%
n = 200 if FAST else 1000
noise = 0.5
X, y, true_w, true_b = synthetic_regression([2.0, -3.4], 4.2, n=n, noise=noise, seed=0)
X, y = X.double(), y.double()


def mse(w, b):
    """Squared loss, averaged over the examples: (1/n) Σ ½ (x·w + b − y)²."""
    return squared_loss(linreg(X, w, b), y).mean()


def neg_log_likelihood(w, b, sigma):
    """−log P(y | X) under y ~ N(x·w + b, σ²), summed over the examples."""
    return -torch.distributions.Normal(linreg(X, w, b), sigma).log_prob(y).sum()


# %% [markdown]
# ## The likelihood is a rescaled squared loss
#
# At any `w, b` (here: random ones) and any fixed `σ`,
# `NLL = (n/2)·log(2πσ²) + (n/σ²) · MSE`, with `MSE` the averaged ½-squared loss above.

# %%
gen = torch.Generator().manual_seed(1)
for _ in range(3):
    w = torch.randn(2, generator=gen, dtype=torch.float64) * 3
    b = torch.randn(1, generator=gen, dtype=torch.float64) * 3
    sigma = 0.2 + torch.rand(1, generator=gen, dtype=torch.float64).item()
    nll = neg_log_likelihood(w, b, sigma)
    rebuilt = n / 2 * math.log(2 * math.pi * sigma**2) + n / sigma**2 * mse(w, b)
    print(f"σ = {sigma:.3f}: NLL = {nll.item():12.4f}, rebuilt from MSE = {rebuilt.item():12.4f}")
    assert torch.allclose(nll, rebuilt)

# %% [markdown]
# ## 3. Minimise each objective on its own
#
# L-BFGS is a standard optimiser that needs no learning rate; we run it once on the squared
# loss and once on the negative log-likelihood (with `σ` fixed at 0.3, deliberately not the
# true 0.5: the minimiser in `w, b` does not depend on `σ`).


# %%
def minimise(objective, num_params=3):
    theta = torch.zeros(num_params, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1,
        max_iter=200,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = objective(theta)
        value.backward()
        return value

    opt.step(closure)
    return theta.detach()


theta_mse = minimise(lambda t: mse(t[:2], t[2:3]))
theta_mle = minimise(lambda t: neg_log_likelihood(t[:2], t[2:3], 0.3))
w_exact, b_exact = closed_form(X, y)
theta_exact = torch.cat([w_exact, b_exact.reshape(1)])

print("                         w1         w2          b")
print("true              ", " ".join(f"{v:10.6f}" for v in [*true_w.tolist(), true_b]))
print("w from MSE        ", " ".join(f"{v:10.6f}" for v in theta_mse.tolist()))
print("w from max lik.   ", " ".join(f"{v:10.6f}" for v in theta_mle.tolist()))
print("closed form       ", " ".join(f"{v:10.6f}" for v in theta_exact.tolist()))
assert torch.allclose(theta_mse, theta_mle, atol=1e-6)
assert torch.allclose(theta_mse, theta_exact, atol=1e-6)

# %% [markdown]
# ## 4. Estimating the noise too
#
# Now let the likelihood choose `σ` as well (we optimise `log σ` so that `σ` stays
# positive). The `w, b` do not move, and the best `σ²` is the average squared residual —
# which is why the fitted residuals tell you how noisy the data is.

# %%
theta_full = minimise(lambda t: neg_log_likelihood(t[:2], t[2:3], t[3].exp()), num_params=4)
sigma_hat = theta_full[3].exp().item()
residual = y - linreg(X, w_exact, b_exact)
print(f"w, b with σ estimated: {[round(v, 6) for v in theta_full[:3].tolist()]}")
print(
    f"σ by maximum likelihood = {sigma_hat:.5f}; √(mean squared residual) = "
    f"{residual.pow(2).mean().sqrt().item():.5f}; true noise = {noise}"
)
assert torch.allclose(theta_full[:3], theta_exact, atol=1e-6)
assert abs(sigma_hat - residual.pow(2).mean().sqrt().item()) < 1e-6

# %% [markdown]
# ## Pictures
#
# Left: along the first weight (the others held at their best values) the squared loss and
# the negative log-likelihood, each on its own axis. Their values differ by a shift and a
# scale, so once each axis is stretched to fit, the two curves lie on top of each other and
# have their lowest point at the same `w1`. Right: the residuals of the fit, with the normal
# density of the estimated `σ` on top.

# %%
w1_grid = torch.linspace(theta_exact[0] - 1, theta_exact[0] + 1, 201, dtype=torch.float64)
mse_curve, nll_curve = [], []
for w1 in w1_grid:
    w = torch.stack([w1, theta_exact[1]])
    mse_curve.append(mse(w, theta_exact[2:3]).item())
    nll_curve.append(neg_log_likelihood(w, theta_exact[2:3], sigma_hat).item())
assert w1_grid[torch.tensor(mse_curve).argmin()] == w1_grid[torch.tensor(nll_curve).argmin()]

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
ax = axes[0]
ax.plot(w1_grid, mse_curve, color="tab:blue")
ax.set_ylabel("mean squared loss", color="tab:blue")
ax.set_xlabel("w1")
twin = ax.twinx()
twin.plot(w1_grid, nll_curve, color="tab:red", ls="--")
twin.set_ylabel("negative log-likelihood", color="tab:red")
ax.axvline(theta_exact[0].item(), color="black", lw=0.8)
ax.set_title(
    "NLL = constant + constant × MSE: the curves coincide,\nso the lowest point is the same"
)

ax = axes[1]
ax.hist(residual.numpy(), bins=30, density=True, alpha=0.6, label="residuals")
r = torch.linspace(residual.min().item(), residual.max().item(), 200, dtype=torch.float64)
ax.plot(r, normal_pdf(r, 0.0, sigma_hat), color="black", label=f"N(0, {sigma_hat:.3f}²)")
ax.set_xlabel("y − ŷ")
ax.legend()
ax.set_title("residuals look like the noise")
save(fig, "mse_vs_likelihood.png")
