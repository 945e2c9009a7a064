# %% [markdown]
# # Linear regression three ways: from scratch, concise, closed form
#
# One problem, three solutions:
#
# 1. **from scratch** — every piece written out (`torchlinear.scratch.linreg`): the model
#    `linreg`, the `squared_loss`, the `sgd` step and the minibatch reader `data_iter`;
# 2. **concise** — the same with PyTorch's building blocks (`torchlinear.concise.linreg`):
#    `nn.Linear`, `nn.MSELoss`, `torch.optim.SGD` and a `DataLoader`;
# 3. **closed form** — no training at all: least squares solved directly
#    (`torchlinear.scratch.linreg.closed_form`, and the practitioner's
#    `torchlinear.LinearRegression`).
#
# You will see that (1) and (2) take *identical* steps when they start at the same point
# and see the same minibatches, and that both approach the answer of (3), which in turn is
# close to the weights that generated the data.

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear import LinearRegression
from torchlinear.concise.linreg import linreg_net, train_concise
from torchlinear.data import synthetic_regression
from torchlinear.plots import loss_curves, scatter_fits
from torchlinear.scratch.linreg import closed_form, data_iter, init_params, train

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "01_linear_regression_three_ways"
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
# ## The data
#
# 1000 examples of `y = 2·x1 − 3.4·x2 + 4.2 + noise`, noise with standard deviation 0.01.

# %%
X, y, true_w, true_b = synthetic_regression([2.0, -3.4], 4.2, n=1000, noise=0.01, seed=0)
print("features", tuple(X.shape), "targets", tuple(y.shape))
print("true w =", [round(v, 4) for v in true_w.tolist()], " true b =", true_b)

# %% [markdown]
# ## 1. From scratch
#
# `init_params` draws small random weights and a zero bias; `train` runs the textbook loop
# (for each minibatch: predict, squared loss, backward, SGD step) and returns the loss on
# all the data after each epoch.

# %%
lr, batch_size, epochs = 0.03, 10, 3
w, b = init_params(2, generator=torch.Generator().manual_seed(0))
w_start = w.detach().clone()
scratch_losses = train(
    X,
    y,
    w,
    b,
    lr=lr,
    batch_size=batch_size,
    epochs=epochs,
    generator=torch.Generator().manual_seed(1),
)
for epoch, loss in enumerate(scratch_losses, 1):
    print(f"scratch  epoch {epoch}: loss {loss:.6f}")

# %% [markdown]
# ## 2. Concise
#
# `linreg_net` is `nn.Sequential(nn.Linear(2, 1))` started the textbook's way, and
# `train_concise` uses `nn.MSELoss` and `torch.optim.SGD`.
#
# To compare step by step we give the concise version the same two things the scratch
# version had: the same starting weights (the same seed draws the same numbers), and the
# same minibatches (we hand `train_concise` a reader that draws its shuffles from a
# generator seeded like the one `train` used).


# %%
class SameBatches:
    """Each pass yields one epoch of data_iter minibatches, shuffled by a shared generator.

    It also notes the network's weights before every step, so that we can draw the path
    SGD takes.
    """

    def __init__(self, seed, net):
        self.generator = torch.Generator().manual_seed(seed)
        self.net = net
        self.path = []

    def __iter__(self):
        for batch in data_iter(batch_size, X, y, self.generator):
            self.path.append(self.net[0].weight.detach().reshape(-1).clone())
            yield batch


net = linreg_net(2, generator=torch.Generator().manual_seed(0))
assert torch.equal(net[0].weight.detach().T, w_start), "same starting point"
batches = SameBatches(1, net)
concise_losses = train_concise(
    net, X, y, lr=lr, batch_size=batch_size, epochs=epochs, loader=batches
)
path = torch.stack([*batches.path, net[0].weight.detach().reshape(-1)])
print(f"the concise model took {len(path) - 1} SGD steps")
for epoch, loss in enumerate(concise_losses, 1):
    print(f"concise  epoch {epoch}: loss {loss:.6f}")

# %% [markdown]
# ## 3. Closed form
#
# Least squares has an exact answer: with a column of ones appended to `X` (for the bias),
# `[w; b]` solves the normal equations `AᵀA θ = Aᵀy`. No learning rate, no epochs.

# %%
w_exact, b_exact = closed_form(X, y)
A = torch.cat([X.double(), torch.ones(len(X), 1, dtype=torch.float64)], dim=1)
theta_normal_eq = torch.linalg.solve(A.T @ A, A.T @ y.double())  # the textbook's formula
assert torch.allclose(theta_normal_eq, torch.cat([w_exact, b_exact.reshape(1)]))

# The same answer from the library's estimator (scikit-learn API; streaming, exact solver):
estimator = LinearRegression().fit(X, y)
print(
    f"LinearRegression ({estimator.solver_}): w = {estimator.coef_.round(6).tolist()}, "
    f"b = {estimator.intercept_:.6f}"
)
assert abs(estimator.coef_ - w_exact.numpy()).max() < 1e-6
assert abs(estimator.intercept_ - b_exact.item()) < 1e-6

# %% [markdown]
# ## Why they agree
#
# * Scratch and concise compute the *same arithmetic*: `nn.Linear` is `X @ Wᵀ + b`,
#   `nn.MSELoss / 2` is the averaged squared loss, `torch.optim.SGD` subtracts
#   `lr × gradient`. Same start + same batches ⇒ the same numbers, up to float rounding.
# * SGD walks downhill on the squared loss; the closed form jumps straight to its lowest
#   point. After a few epochs SGD is within a whisker of it (it keeps jittering by an amount
#   that shrinks with the learning rate).
# * The closed form is not the true `w, b`: it is the best fit to 1000 noisy examples, off
#   by roughly `noise / √n`.

# %%
w_scratch, b_scratch = w.detach().reshape(-1), b.detach().reshape(())
w_concise, b_concise = net[0].weight.detach().reshape(-1), net[0].bias.detach().reshape(())
rows = {
    "true": (true_w, torch.tensor(true_b)),
    "scratch": (w_scratch, b_scratch),
    "concise": (w_concise, b_concise),
    "closed form": (w_exact.float(), b_exact.float()),
}
print(f"{'':>12} {'w1':>10} {'w2':>10} {'b':>10}")
for name, (w_, b_) in rows.items():
    print(f"{name:>12} {w_[0].item():10.6f} {w_[1].item():10.6f} {b_.item():10.6f}")

print("scratch vs concise, largest difference:", (w_scratch - w_concise).abs().max().item())
print("scratch vs closed form, w error:", (w_scratch - w_exact.float()).abs().max().item())
print("closed form vs truth,  w error:", (w_exact.float() - true_w).abs().max().item())
assert torch.allclose(w_scratch, w_concise, atol=1e-6) and torch.allclose(b_scratch, b_concise)
assert all(abs(a - c) < 1e-6 for a, c in zip(scratch_losses, concise_losses, strict=True))
assert torch.allclose(w_scratch, w_exact.float(), atol=2e-3)
assert abs(b_scratch.item() - b_exact.item()) < 2e-3
assert torch.allclose(w_exact.float(), true_w, atol=2e-3)

# %% [markdown]
# ## Pictures
#
# Two figures from `torchlinear.plots`: the loss per epoch of the two trained versions (the
# curves lie on top of each other) with the loss of the closed-form solution, the floor
# neither can go below; and the data against each feature with the three fitted lines.

# %%
exact_loss = 0.5 * (X.double() @ w_exact + b_exact - y.double()).pow(2).mean().item()
curves = {"from scratch": scratch_losses, "concise (nn.Linear)": concise_losses}
save(loss_curves(curves, reference=exact_loss, start_epoch=1), "loss_curves.png")
fits = {name: params for name, params in rows.items() if name != "true"}
save(scatter_fits(X, y, fits, true_params=rows["true"]), "fitted_lines.png")

# %% [markdown]
# And the path itself: contours of the loss over the two weights (the bias held at its best
# value), the weights before every SGD step of the concise run, and where each method ended.

# %%
w1s = torch.linspace(-0.5, 2.5, 121, dtype=torch.float64)
w2s = torch.linspace(-3.9, 0.5, 121, dtype=torch.float64)
W1, W2 = torch.meshgrid(w1s, w2s, indexing="xy")
grid_w = torch.stack([W1.reshape(-1), W2.reshape(-1)])  # (2, cells)
residuals = X.double() @ grid_w + b_exact - y.double()[:, None]
grid_loss = 0.5 * residuals.pow(2).mean(dim=0).reshape(W1.shape)
fig, ax = plt.subplots(figsize=(6, 4.5))
ax.contour(
    W1, W2, grid_loss, levels=torch.logspace(-1.5, 1, 10).tolist(), colors="0.7", linewidths=0.8
)
ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=0.8, label="concise SGD path")
ax.plot(*w_scratch.tolist(), "o", mfc="none", ms=12, label="scratch, final")
ax.plot(*w_exact.tolist(), "k*", ms=12, label="closed form")
ax.plot(*w_start.reshape(-1).tolist(), "s", color="tab:red", label="start")
ax.set_xlabel("w1")
ax.set_ylabel("w2")
ax.set_title("SGD walks downhill to the closed-form point")
ax.legend(loc="upper right")
save(fig, "sgd_path.png")
