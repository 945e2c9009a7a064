# %% [markdown]
# # A two-layer MLP beside the linear model
#
# A linear classifier splits the plane with straight lines. When the classes are arranged
# so that no straight line separates them — here: one class inside a disc, the other in a
# ring around it — the linear model cannot do better than guessing the larger class.
#
# A **multilayer perceptron** with one hidden layer, `ReLU(x W₁ᵀ + b₁) W₂ᵀ + b₂`, first
# builds new features (each hidden unit is a bent line) and then classifies linearly in
# them. You will train both on the same data with the same loss (cross-entropy), compare
# their accuracies and draw their decision regions, and see that the linear model also
# succeeds once *we* hand it the right feature (`x1² + x2²`).

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear.losses import get_loss
from torchlinear.models import MLP, SoftmaxHead

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "10_mlp_vs_linear"
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
# ## Data: a disc inside a ring
#
# Class 0: points within radius 1. Class 1: points at radius 1.5 to 2.5. Half of the points
# are kept for training, half for testing.

# %%
gen = torch.Generator().manual_seed(0)
n_per_class = 200 if FAST else 500


def ring(n, r_min, r_max):
    radius = r_min + (r_max - r_min) * torch.rand(n, generator=gen).sqrt()
    angle = 2 * torch.pi * torch.rand(n, generator=gen)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


X = torch.cat([ring(n_per_class, 0.0, 1.0), ring(n_per_class, 1.5, 2.5)])
y = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
order = torch.randperm(len(y), generator=gen)
train_idx, test_idx = order[: len(y) // 2], order[len(y) // 2 :]
X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]
print(f"{len(y_train)} training and {len(y_test)} test points, 2 classes")

# %% [markdown]
# ## Train both models the same way
#
# Both output two class scores (logits); `get_loss("ce")` is the cross-entropy of the
# softmax of those scores. The data set is small, so every step uses all training points.

# %%
cross_entropy = get_loss("ce")
steps = 300 if FAST else 600


def train(model, features):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = cross_entropy(model(features), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model, features, labels):
    return (model(features).argmax(dim=1) == labels).float().mean().item()


linear = SoftmaxHead(2, 2, seed=0)
mlp = MLP(2, hidden=32, n_outputs=2, squeeze=False, seed=0)
linear_losses = train(linear, X_train)
mlp_losses = train(mlp, X_train)

linear_acc, mlp_acc = accuracy(linear, X_test, y_test), accuracy(mlp, X_test, y_test)
majority = max(y_test.float().mean().item(), 1 - y_test.float().mean().item())
print(
    f"test accuracy: linear {linear_acc:.3f}, MLP {mlp_acc:.3f} "
    f"(always guessing the larger class: {majority:.3f})"
)
assert linear_acc < 0.75, "a straight line can only cut a slice off the ring"
assert mlp_acc > 0.95, "one hidden layer is enough to bend the boundary around the disc"

# %% [markdown]
# ## Or hand the linear model the right feature
#
# The classes differ in their distance from the centre. Give the linear model the extra
# feature `x1² + x2²` and a straight line in the new space (a circle in the old one)
# separates them. The MLP's hidden layer learns features like this by itself.


# %%
def with_radius(features):
    return torch.cat([features, features.pow(2).sum(dim=1, keepdim=True)], dim=1)


linear_plus = SoftmaxHead(3, 2, seed=0)
plus_losses = train(linear_plus, with_radius(X_train))
plus_acc = accuracy(linear_plus, with_radius(X_test), y_test)
print(f"linear model with the feature x1² + x2²: test accuracy {plus_acc:.3f}")
assert plus_acc > 0.95

# %% [markdown]
# ## Pictures
#
# The decision regions of the three models over the plane, and the training losses.

# %%
g1, g2 = torch.meshgrid(torch.linspace(-3, 3, 200), torch.linspace(-3, 3, 200), indexing="xy")
grid = torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=1)
panels = [
    (f"linear (test accuracy {linear_acc:.2f})", linear, grid),
    (f"MLP, 32 hidden units ({mlp_acc:.2f})", mlp, grid),
    (f"linear on (x1, x2, x1²+x2²) ({plus_acc:.2f})", linear_plus, with_radius(grid)),
]
fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
for ax, (title, model, features) in zip(axes, panels, strict=False):
    with torch.no_grad():
        prob = torch.softmax(model(features), dim=1)[:, 1].reshape(g1.shape)
    ax.contourf(g1, g2, prob, levels=[0, 0.5, 1], colors=["#cfe0f3", "#f6d5c4"])
    ax.contour(g1, g2, prob, levels=[0.5], colors="black", linewidths=1)
    for k, color in [(0, "tab:blue"), (1, "tab:red")]:
        pts = X_test[y_test == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=5, color=color, label=f"class {k}")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
axes[0].legend(loc="upper right", fontsize=8)
axes[3].plot(linear_losses, label="linear")
axes[3].plot(mlp_losses, label="MLP")
axes[3].plot(plus_losses, label="linear + x1²+x2²")
axes[3].set_xlabel("step")
axes[3].set_ylabel("training cross-entropy")
axes[3].set_title("training loss", fontsize=10)
axes[3].legend()
save(fig, "decision_regions.png")
