# %% [markdown]
# # A computational graph from scratch, and two distributed trainers
#
# `torchlinear.scratch.graph` is autograd in ~200 lines of NumPy: nodes with values and
# parents, one backward rule per operation, and a topological `backward()`. We train linear
# regression with it and check its gradient against torch's. Then
# `torchlinear.scratch.parallel` simulates 4 workers training the same model with a
# **parameter server** and with **ring all-reduce**: both take exactly the steps of
# single-process SGD; they differ in the bytes each worker sends per step, plotted against
# the number of workers.

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

from torchlinear.scratch import graph as g
from torchlinear.scratch.parallel import bytes_per_step, train_data_parallel

OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "13_graph_and_distributed"
OUT.mkdir(parents=True, exist_ok=True)
print("figures are saved in", OUT.resolve())

# %% [markdown]
# ## The graph's gradient against torch autograd

# %%
rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 2))
y = X @ np.array([2.0, -3.4]) + 4.2 + 0.01 * rng.normal(size=1000)
w0 = rng.normal(size=(2, 1))
w, b = g.Node(w0), g.Node(np.zeros(1))
residual = g.add(g.add(g.matmul(g.Node(X), w), b), g.Node(-y[:, None]))
loss = g.scale(g.sum(g.square(residual)), 0.5 / len(y))
loss.backward()
wt = torch.tensor(w0, requires_grad=True)
((torch.tensor(X) @ wt - torch.tensor(y)[:, None] + 0.0) ** 2).sum().mul(0.5 / len(y)).backward()
print("graph:", w.grad.ravel(), " torch:", wt.grad.numpy().ravel())
assert np.allclose(w.grad, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
w_fit, b_fit, losses = g.train_linear(X, y, epochs=3)
print("trained on the graph: w =", np.round(w_fit, 4), "b =", round(b_fit, 4))
assert np.allclose(w_fit, [2.0, -3.4], atol=0.01) and abs(b_fit - 4.2) < 0.01

# %% [markdown]
# ## Four workers, two ways to average their gradients

# %%
reference, _ = train_data_parallel(X, y, method="parameter_server", num_workers=1)
for method in ("parameter_server", "ring"):
    theta, traffic = train_data_parallel(X, y, method=method, num_workers=4)
    print(f"{method:>16}: θ = {np.round(theta, 4)}, bytes sent per worker, step 1: {traffic[0]}")
    assert np.allclose(theta, reference, rtol=0, atol=1e-12)

workers = np.arange(2, 33)
d = 1_000_000  # parameters of a larger model
fig, ax = plt.subplots(figsize=(6, 3.6))
for method, style in (("parameter_server", "o-"), ("ring", "s-")):
    mb = [bytes_per_step(method, d, int(n)) / 1e6 for n in workers]
    ax.plot(workers, mb, style, ms=3, label=method.replace("_", " ") + " (each worker)")
ax.plot(workers, workers * 8 * d / 1e6, "k--", lw=1, label="parameter server (the server receives)")
ax.set_xlabel("number of workers N")
ax.set_ylabel("MB sent per step")
ax.set_yscale("log")
ax.set_title(f"d = {d:,} float64 parameters")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "bytes_per_worker.png", dpi=100)
print("saved", OUT / "bytes_per_worker.png")
# ring: 2(N−1)/N·d·8 bytes → approaches 2·d·8, never more, whatever N
assert bytes_per_step("ring", d, 32) < 2 * 8 * d
