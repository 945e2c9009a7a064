# %% [markdown]
# # Vectorization: one tensor operation instead of a Python loop
#
# A linear model does the same arithmetic for every example: `ŷᵢ = xᵢ·w + b`. Written as a
# Python loop, each step pays the interpreter's overhead; written as one tensor operation
# (`X @ w + b`), the whole batch runs in optimised native code. You will time:
#
# 1. adding two vectors element by element vs `a + b`;
# 2. the predictions of a linear model, example by example vs `X @ w + b`;
# 3. the gradient of the squared loss, summed example by example vs `Xᵀ(Xw + b − y) / n`;
#
# check that both ways give the same numbers, and plot how the time grows with the size.
# The times depend on your machine; the ratio is what to look at.

# %%
import os
import sys
import time
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from torchlinear.data import synthetic_regression

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "04_vectorization"
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


def best_time(fn, repeats=3):
    """Run fn a few times and keep the fastest wall-clock time, in seconds.

    The fastest run is the one least disturbed by whatever else the machine was doing.
    """
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# %% [markdown]
# ## 1. Adding two vectors

# %%
n = 2_000 if FAST else 10_000
a = torch.ones(n)
b = torch.arange(n, dtype=torch.float32)


def add_loop():
    c = torch.zeros(n)
    for i in range(n):
        c[i] = a[i] + b[i]
    return c


def add_vectorized():
    return a + b


assert torch.equal(add_loop(), add_vectorized())
t_loop, t_vec = best_time(add_loop), best_time(add_vectorized)
print(f"n = {n}: loop {t_loop * 1e3:.2f} ms, vectorized {t_vec * 1e3:.4f} ms")
print(f"the vectorized sum is {t_loop / t_vec:.0f} times faster here")

# %% [markdown]
# ## 2. Predictions of a linear model
#
# The textbook's data: `y = 2·x1 − 3.4·x2 + 4.2 + noise`.

# %%
X, y, w, b_true = synthetic_regression([2.0, -3.4], 4.2, n=n, seed=0)
b = torch.tensor(b_true)


def predict_loop():
    y_hat = torch.zeros(len(X))
    for i in range(len(X)):
        y_hat[i] = sum(X[i, j] * w[j] for j in range(len(w))) + b
    return y_hat


def predict_vectorized():
    return X @ w + b


assert torch.allclose(predict_loop(), predict_vectorized(), atol=1e-5)
t_pred_loop, t_pred_vec = best_time(predict_loop, 1), best_time(predict_vectorized)
print(f"predictions: loop {t_pred_loop * 1e3:.1f} ms, X @ w + b {t_pred_vec * 1e3:.4f} ms")

# %% [markdown]
# ## 3. The gradient of the squared loss
#
# For `L = (1/2n) Σᵢ (xᵢ·w + b − yᵢ)²` the gradient is the average over examples of
# `(xᵢ·w + b − yᵢ)·xᵢ`. The loop adds those up one example at a time; the vectorized form
# is a single matrix product, `Xᵀ r / n` with the residual vector `r = Xw + b − y`. We use a
# guess `w = 0, b = 0`, so the gradient is large and easy to compare.

# %%
w0, b0 = torch.zeros(2), torch.tensor(0.0)


def grad_loop():
    g_w, g_b = torch.zeros(2), torch.tensor(0.0)
    for i in range(len(X)):
        r = X[i] @ w0 + b0 - y[i]
        g_w += r * X[i]
        g_b += r
    return g_w / len(X), g_b / len(X)


def grad_vectorized():
    r = X @ w0 + b0 - y
    return X.T @ r / len(X), r.mean()


(gw_loop, gb_loop), (gw_vec, gb_vec) = grad_loop(), grad_vectorized()
print("gradient (loop)      :", gw_loop.tolist(), gb_loop.item())
print("gradient (vectorized):", gw_vec.tolist(), gb_vec.item())
assert torch.allclose(gw_loop, gw_vec, atol=1e-4) and torch.allclose(gb_loop, gb_vec, atol=1e-4)

# autograd agrees with the formula too
w_ad = w0.clone().requires_grad_()
b_ad = b0.clone().requires_grad_()
((X @ w_ad + b_ad - y) ** 2 / 2).mean().backward()
assert torch.allclose(w_ad.grad, gw_vec, atol=1e-5) and torch.allclose(b_ad.grad, gb_vec, atol=1e-5)
t_grad_loop, t_grad_vec = best_time(grad_loop, 1), best_time(grad_vectorized)
print(f"gradient: loop {t_grad_loop * 1e3:.1f} ms, vectorized {t_grad_vec * 1e3:.4f} ms")

# %% [markdown]
# ## How the time grows with the size
#
# The loop's time grows in proportion to `n` from the start. The vectorized time barely
# moves until the arithmetic itself, not the Python overhead, becomes the cost.

# %%
sizes = [100, 300, 1_000, 3_000] if FAST else [100, 300, 1_000, 3_000, 10_000, 30_000]
loop_ms, vec_ms = [], []
for m in sizes:
    Xm, ym, _, _ = synthetic_regression([2.0, -3.4], 4.2, n=m, seed=1)

    def loop(Xm=Xm):
        out = torch.zeros(len(Xm))
        for i in range(len(Xm)):
            out[i] = Xm[i] @ w + b
        return out

    loop_ms.append(best_time(loop, 1) * 1e3)
    vec_ms.append(best_time(lambda Xm=Xm: Xm @ w + b) * 1e3)
    print(f"n = {m:>6}: loop {loop_ms[-1]:9.2f} ms   vectorized {vec_ms[-1]:.4f} ms")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
labels = ["a + b", "X @ w + b", "gradient"]
axes[0].bar(
    [x - 0.2 for x in range(3)],
    [t_loop * 1e3, t_pred_loop * 1e3, t_grad_loop * 1e3],
    width=0.4,
    label="Python loop",
)
axes[0].bar(
    [x + 0.2 for x in range(3)],
    [t_vec * 1e3, t_pred_vec * 1e3, t_grad_vec * 1e3],
    width=0.4,
    label="vectorized",
)
axes[0].set_xticks(range(3), labels)
axes[0].set_yscale("log")
axes[0].set_ylabel("milliseconds (log scale)")
axes[0].set_title(f"n = {n}")
axes[0].legend(loc="center right")
axes[1].loglog(sizes, loop_ms, "o-", label="Python loop")
axes[1].loglog(sizes, vec_ms, "s-", label="vectorized")
axes[1].set_xlabel("number of examples n")
axes[1].set_ylabel("milliseconds")
axes[1].set_title("time of the predictions X @ w + b")
axes[1].legend()
save(fig, "loop_vs_vectorized.png")
