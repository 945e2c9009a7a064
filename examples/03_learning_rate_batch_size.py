# %% [markdown]
# # Learning rate, batch size, epochs and iterations
#
# Minibatch stochastic gradient descent has two numbers you choose before training: the
# **learning rate** (how far each step goes) and the **batch size** (how many examples each
# step looks at). You will see, on the textbook's data (1000 examples of
# `y = 2·x1 − 3.4·x2 + 4.2 + noise`):
#
# * the vocabulary: an **iteration** is one step on one minibatch; an **epoch** is one pass
#   over all the data — with 1000 examples and batches of 10, one epoch is 100 iterations;
# * loss curves for a learning rate that is too small (slow), a good one, and one that is too
#   large (the loss grows without bound: divergence);
# * the same steps seen from above: the contours of the loss over `(w1, w2)` with the paths of
#   full-batch gradient descent and minibatch SGD (batch 10 and 256) and the exact solution;
# * loss curves for batch sizes 1, 10, 100 and the full data set, measured per epoch and per
#   iteration.
#
# The training loop is the textbook's, built from `torchlinear.scratch.linreg`:
# `data_iter` (minibatches), `linreg` (the model), `squared_loss` and `sgd` (the step).

# %%
import math
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from torchlinear.data import synthetic_regression
from torchlinear.scratch.linreg import data_iter, init_params, linreg, sgd, squared_loss, train

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "03_learning_rate_batch_size"
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


X, y, true_w, true_b = synthetic_regression([2.0, -3.4], 4.2, n=1000, noise=0.01, seed=0)

# %% [markdown]
# ## Epochs and iterations
#
# `data_iter` yields one epoch of minibatches. Count them: the number of iterations per epoch
# is `n / batch_size`, rounded up (the last batch is shorter when the division is not exact).

# %%
for batch_size in [1, 10, 32, 100, 1000]:
    batches = list(data_iter(batch_size, X, y, torch.Generator().manual_seed(0)))
    expected = math.ceil(len(X) / batch_size)
    print(
        f"{len(X)} samples, batch {batch_size:>4} -> iterations per epoch = {len(batches):>4}"
        f" (last batch: {len(batches[-1][1])} examples)"
    )
    assert len(batches) == expected
    assert sum(len(yb) for _, yb in batches) == len(X), "every example once per epoch"
assert len(list(data_iter(10, X, y))) == 100

# %% [markdown]
# ## A training loop that records the loss after every iteration
#
# This is the textbook's loop (the same as `torchlinear.scratch.linreg.train`), except that
# it also measures the loss on all the data after each step so that we can draw it.


# %%
def train_recording(lr, batch_size, epochs, seed=0):
    """Minibatch SGD; return the full-data loss before training and after each iteration."""
    w, b = init_params(2, generator=torch.Generator().manual_seed(seed))
    shuffle = torch.Generator().manual_seed(seed)

    def full_loss():
        with torch.no_grad():
            return squared_loss(linreg(X, w, b), y).mean().item()

    history = [full_loss()]
    for _ in range(epochs):
        for X_batch, y_batch in data_iter(batch_size, X, y, shuffle):
            l = squared_loss(linreg(X_batch, w, b), y_batch)
            l.sum().backward()
            sgd([w, b], lr, len(y_batch))
            history.append(full_loss())
    return history


# The library's `train` runs exactly this loop: with the same seeds it reports the same
# losses at the end of each epoch.
recorded = train_recording(lr=0.03, batch_size=10, epochs=3)
w, b = init_params(2, generator=torch.Generator().manual_seed(0))
per_epoch = train(
    X, y, w, b, lr=0.03, batch_size=10, epochs=3, generator=torch.Generator().manual_seed(0)
)
print("loss after each epoch, train():            ", [f"{v:.3g}" for v in per_epoch])
print(
    "loss after iterations 100, 200, 300 (ours):", [f"{recorded[i]:.3g}" for i in (100, 200, 300)]
)
assert all(
    math.isclose(a, b, rel_tol=1e-4) for a, b in zip(per_epoch, recorded[100::100], strict=True)
)

# %% [markdown]
# ## The learning rate
#
# Batch size 10, three epochs (300 iterations), three learning rates:
#
# * `0.001`: every step is tiny; after 300 of them the loss has not even halved;
# * `0.03`: the textbook's choice; the loss falls to the noise level (about `½·0.01²`);
# * `3.0`: each step overshoots the minimum by more than it started from, so the error grows
#   by a factor each step: the loss explodes to infinity and then becomes `nan`.

# %%
epochs = 3
curves = {lr: train_recording(lr, batch_size=10, epochs=epochs) for lr in [0.001, 0.03, 3.0]}
for lr, history in curves.items():
    print(
        f"lr = {lr:<6}: loss {history[0]:.3g} at the start, {history[-1]:.3g} after "
        f"{len(history) - 1} iterations"
    )
small, good, large = curves[0.001], curves[0.03], curves[3.0]
assert small[-1] > small[0] / 2, "too small: still far from the minimum"
assert good[-1] < 1e-3, "good: down to the noise level"
assert not math.isfinite(large[-1]) or large[-1] > large[0], "too large: diverges"
first_bad = next(i for i, v in enumerate(large) if not math.isfinite(v) or v > 1e30)
print(f"with lr = 3.0 the loss passes 1e30 (or overflows) at iteration {first_bad}")

first_overflow = next((i for i, v in enumerate(large) if not math.isfinite(v)), None)
if first_overflow is not None:
    print(f"... and overflows to inf / nan at iteration {first_overflow}")

# Plotted as it is, the divergent curve would stretch the y-axis up to 1e35 and squash the
# two curves that matter. So the axis stops at 1000 times the starting loss, and the point
# where the divergent run leaves the picture is marked and labelled with what happens next.
top = 1e3 * good[0]
bottom = 0.3 * min(min(small), min(good))
leaves = next(i for i, v in enumerate(large) if not math.isfinite(v) or v > top)
fig, ax = plt.subplots(figsize=(7, 4))
for (lr, history), label in zip(curves.items(), ["too small", "good", "too large"], strict=True):
    finite = [v if math.isfinite(v) else float("nan") for v in history]
    ax.semilogy(finite, label=f"lr = {lr} ({label})")
ax.set_ylim(bottom, top)
ax.plot([leaves], [top], "^", color="tab:green", ms=10, clip_on=False)
after = f"inf / nan from iteration {first_overflow}" if first_overflow else "keeps growing"
ax.annotate(
    f"lr = 3.0 diverges: loss > {top:.0e} at iteration {leaves},\n"
    f"> 1e30 at iteration {first_bad}, {after}",
    xy=(leaves, top),
    xytext=(leaves + 25, top / 30),
    color="tab:green",
    arrowprops={"arrowstyle": "->", "color": "tab:green"},
)
ax.set_xlabel("iteration (batch size 10: 100 iterations = 1 epoch)")
ax.set_ylabel("squared loss on all the data (log scale)")
ax.set_title("learning rate: slow, good, divergent (axis cut at 1000× the start)")
ax.legend(loc="center right")
assert ax.get_ylim()[1] <= 1e4 * good[0], "the divergent curve must not set the scale"
save(fig, "learning_rates.png")

# %% [markdown]
# ## The loss surface: each step seen from above
#
# Hold the bias at its least-squares value `b*` and the squared loss becomes a bowl over
# `(w1, w2)`. `torchlinear.plots.loss_contours` draws its contour lines, marks the exact
# (least-squares) solution with a star, and draws, from the same start `(0, 0)` with the same
# learning rate and the same number of iterations:
#
# * **full-batch gradient descent** (red): every step goes straight downhill, across the
#   contour lines; the error shrinks by the same factor each step, `e_k = (I − lr·H)^k e_0`
#   with `H = XᵀX/n`;
# * **minibatch SGD, batch 256** (orange, dashed): a quarter of the data gives almost the same
#   gradient, so almost the same path;
# * **minibatch SGD, batch 10** (blue): each step follows the slope of only ten examples, so
#   the path wobbles around the full-batch one.
#
# The second picture raises the learning rate tenfold: the paths get there in a tenth of the
# iterations, and the small batch's wobbles grow with the step.

# %%
from torchlinear.plots import descent_paths, loss_contours  # noqa: E402

Xd, yd = X.double().numpy(), y.double().numpy().reshape(-1)
A = torch.cat([X.double(), torch.ones(len(X), 1, dtype=torch.float64)], dim=1).numpy()
exact = np.linalg.lstsq(A, yd, rcond=None)[0]
H = Xd.T @ Xd / len(Xd)
settings = {"contours_lr_0.03.png": (0.03, 100), "contours_lr_0.3.png": (0.3, 10)}
for name, (lr, steps) in settings.items():
    paths = descent_paths(Xd, yd, lr=lr, batch_sizes=(10, 256), steps=steps, seed=0)
    # Full-batch GD is the linear iteration e_k = (I - lr H)^k e_0 around the exact solution.
    e0 = np.zeros(2) - exact[:2]
    closed_form = [exact[:2] + np.linalg.matrix_power(np.eye(2) - lr * H, k) @ e0 for k in
                   range(steps + 1)]  # fmt: skip
    assert np.allclose(paths["full batch"], closed_form, atol=1e-10)
    distance = {k: np.linalg.norm(p[-1] - exact[:2]) for k, p in paths.items()}
    apart = {k: np.abs(paths[k] - paths["full batch"]).max() for k in ("batch 10", "batch 256")}
    print(
        f"lr = {lr}, {steps} iterations: distance to the exact solution "
        + ", ".join(f"{k} {v:.3g}" for k, v in distance.items())
        + f"; largest gap to the full-batch path: batch 10 {apart['batch 10']:.3f}, "
        f"batch 256 {apart['batch 256']:.3f}"
    )
    assert apart["batch 10"] > 2 * apart["batch 256"], "small batches wander further"
    assert distance["full batch"] < 0.1 * np.linalg.norm(e0)
    fig = loss_contours(Xd, yd, lr=lr, batch_sizes=(10, 256), steps=steps, seed=0)
    assert np.allclose(fig.axes[0].lines[-1].get_xydata()[0], exact[:2]), "star at w*"
    save(fig, name)

# %% [markdown]
# In Jupyter with `ipywidgets` installed (the `notebook` extra), the next cell gives two
# sliders, for the learning rate and the small batch size, and redraws the picture as you
# drag them; elsewhere it does nothing, and the two pictures above are the static version.

# %%
try:
    import ipywidgets
except ImportError:
    ipywidgets = None
if ipywidgets is not None and "ipykernel" in sys.modules:
    from IPython.display import display

    def redraw(lr, batch_size, steps):
        display(loss_contours(Xd, yd, lr=lr, batch_sizes=(batch_size, 256), steps=steps))

    ipywidgets.interact(
        redraw,
        lr=ipywidgets.FloatLogSlider(value=0.03, base=10, min=-3, max=0.3, step=0.1),
        batch_size=ipywidgets.IntSlider(value=10, min=1, max=256),
        steps=ipywidgets.IntSlider(value=100, min=5, max=300, step=5),
    )

# %% [markdown]
# ## The batch size
#
# Same learning rate (0.03), same number of epochs, batch sizes 1, 10, 100 and 1000 (the
# full data: plain gradient descent).
#
# * **Per epoch** (left), small batches win by far: an epoch of batch size 1 takes 1000
#   steps, an epoch of the full batch only one.
# * **Per iteration** (right), the curves nearly coincide: on this easy problem a step makes
#   about the same progress whatever the batch size, and a large batch just spends more
#   arithmetic on it. Small batches pay with noise: batch 1 wobbles a little above the
#   bottom instead of settling. In practice one picks the largest batch the hardware processes
#   in about the same time as a small one, and tunes the learning rate for it.

# %%
epochs = 2 if FAST else 5
batch_sizes = [1, 10, 100, 1000]
runs = {bs: train_recording(0.03, bs, epochs) for bs in batch_sizes}
final = {bs: history[-1] for bs, history in runs.items()}
for bs, history in runs.items():
    print(
        f"batch {bs:>4}: {len(history) - 1:>5} iterations in {epochs} epochs, "
        f"final loss {history[-1]:.3g}"
    )
assert final[1] < final[100] < final[1000] and final[10] < final[100]

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for bs, history in runs.items():
    iters_per_epoch = math.ceil(len(X) / bs)
    steps = torch.arange(len(history))
    axes[0].semilogy(steps / iters_per_epoch, history, label=f"batch {bs}")
    axes[1].loglog(steps[1:], history[1:], label=f"batch {bs}")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("squared loss on all the data")
axes[0].set_title("loss per epoch")
axes[1].set_xlabel("iteration (log scale)")
axes[1].set_title("loss per iteration")
axes[1].legend(loc="lower left")
save(fig, "batch_sizes.png")
