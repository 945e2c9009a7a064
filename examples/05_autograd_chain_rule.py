# %% [markdown]
# # Autograd and the chain rule
#
# Training a linear model needs the gradient of the loss with respect to every parameter.
# PyTorch records each operation as it runs and then walks that record backwards, applying
# the chain rule. In this example you will:
#
# 1. build a two-step computation `y1 = x·w1 + b1`, `y2 = y1·w2 + b2` and check that
#    `dy2/dw1 = dy2/dy1 · dy1/dw1`, with the pieces computed by `torch.autograd.grad`;
# 2. see that the gradient of `x.pow(2).sum()` is `2x`, and that gradients add up until
#    you clear them;
# 3. stop a gradient with `detach()`;
# 4. walk `grad_fn.next_functions` to print the graph autograd recorded, and draw it.
#
# Run it as a script (`python examples/05_autograd_chain_rule.py`) or open it as a notebook.

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "05_autograd_chain_rule"
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
# ## 1. The chain rule, one link at a time
#
# Every number below is a tensor that asks autograd to track it (`requires_grad=True`).
# By hand: `dy1/dw1 = x`, `dy2/dy1 = w2`, so `dy2/dw1 = w2 · x`.

# %%
x = torch.tensor(3.0)
w1 = torch.tensor(2.0, requires_grad=True)
b1 = torch.tensor(0.5, requires_grad=True)
w2 = torch.tensor(-1.5, requires_grad=True)
b2 = torch.tensor(4.0, requires_grad=True)

y1 = x * w1 + b1
y2 = y1 * w2 + b2

# torch.autograd.grad(output, input) returns d output / d input without touching .grad.
# retain_graph=True keeps the recorded graph alive so that we may ask several questions.
(dy2_dy1,) = torch.autograd.grad(y2, y1, retain_graph=True)
(dy1_dw1,) = torch.autograd.grad(y1, w1, retain_graph=True)
(dy2_dw1,) = torch.autograd.grad(y2, w1)

chain = dy2_dy1 * dy1_dw1
print(f"dy2/dy1 = {dy2_dy1.item():+.4f}   (by hand: w2 = {w2.item():+.4f})")
print(f"dy1/dw1 = {dy1_dw1.item():+.4f}   (by hand: x  = {x.item():+.4f})")
print(f"dy2/dw1 via chain rule = {chain.item():+.4f}, via autograd = {dy2_dw1.item():+.4f}")
assert torch.allclose(dy2_dy1, w2.detach())
assert torch.allclose(dy1_dw1, x)
assert torch.allclose(chain, dy2_dw1)

# %% [markdown]
# ## The same rule for vectors: multiply Jacobians
#
# With a batch of inputs `X` (n×d), a hidden vector `W1` (d×h) and an output layer `W2`
# (h×1) the chain rule becomes a product of Jacobian matrices:
# `J(y2, W1) = J(y2, y1) · J(y1, W1)`. `torch.autograd.functional.jacobian` computes each
# Jacobian; the product must match the direct one.

# %%
gen = torch.Generator().manual_seed(0)
n, d, h = 4, 3, 2
X = torch.randn(n, d, generator=gen, dtype=torch.float64)
W1 = torch.randn(d, h, generator=gen, dtype=torch.float64)
B1 = torch.randn(h, generator=gen, dtype=torch.float64)
W2 = torch.randn(h, 1, generator=gen, dtype=torch.float64)
B2 = torch.randn(1, generator=gen, dtype=torch.float64)


def layer1(W):
    return X @ W + B1  # (n, h)


def layer2(Y1):
    return Y1 @ W2 + B2  # (n, 1)


J_y1_W1 = torch.autograd.functional.jacobian(layer1, W1).reshape(n * h, d * h)
J_y2_y1 = torch.autograd.functional.jacobian(layer2, layer1(W1)).reshape(n, n * h)
J_direct = torch.autograd.functional.jacobian(lambda W: layer2(layer1(W)), W1).reshape(n, d * h)
J_chain = J_y2_y1 @ J_y1_W1
print("J(y2, W1) from the chain rule:\n", J_chain)
print("largest difference to the direct Jacobian:", (J_chain - J_direct).abs().max().item())
assert torch.allclose(J_chain, J_direct)

# %% [markdown]
# ## 2. The gradient of `x.pow(2).sum()` is `2x`
#
# `backward()` stores the gradient in `x.grad`. Calling it again *adds* the new gradient to
# the old one — the reason every training loop clears gradients before each step.

# %%
x = torch.arange(-3.0, 4.0, requires_grad=True)
y = x.pow(2).sum()
y.backward()
print("x       =", x.detach().tolist())
print("x.grad  =", x.grad.tolist())
print("2 * x   =", (2 * x).detach().tolist())
assert torch.equal(x.grad, 2 * x.detach())

x.pow(2).sum().backward()  # a second backward without clearing
print("after a second backward, x.grad =", x.grad.tolist(), "(= 4x: gradients accumulate)")
assert torch.equal(x.grad, 4 * x.detach())

x.grad.zero_()  # what optimizer.zero_grad() does for every parameter
x.pow(2).sum().backward()
assert torch.equal(x.grad, 2 * x.detach())

# %% [markdown]
# Plot the function and the gradient autograd computed at many points: the gradient is the
# straight line `2x`, the slope of the parabola.

# %%
grid = torch.linspace(-3, 3, 61, requires_grad=True)
grid.pow(2).sum().backward()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(grid.detach(), grid.detach() ** 2, label="f(x) = x²")
ax.plot(grid.detach(), grid.grad, label="autograd f'(x)")
ax.plot(grid.detach()[::6], 2 * grid.detach()[::6], "o", mfc="none", label="2x by hand")
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("x")
ax.legend()
ax.set_title("the gradient of x² is 2x")
save(fig, "square_and_gradient.png")

# %% [markdown]
# ## 3. Stopping a gradient with `detach()`
#
# `u = y.detach()` is a tensor with the same values as `y` that autograd treats as a
# constant. With `y = x²` and `z = u · x`, the gradient `dz/dx` is `u`, not `3x²`.

# %%
x = torch.arange(4.0, requires_grad=True)
y = x * x
u = y.detach()
z = u * x
z.sum().backward()
print("dz/dx with u detached =", x.grad.tolist(), " u =", u.tolist())
assert torch.equal(x.grad, u)

# %% [markdown]
# ## 4. The graph autograd recorded
#
# Every result of a tracked operation has a `grad_fn`: the backward step of the operation
# that produced it. `grad_fn.next_functions` lists the backward steps of its inputs, so
# following it from `y2` walks the whole graph back to the leaves (`AccumulateGrad` nodes,
# which write into `.grad` of `w1`, `b1`, `w2`, `b2`).

# %%
x = torch.tensor(3.0)
w1 = torch.tensor(2.0, requires_grad=True)
b1 = torch.tensor(0.5, requires_grad=True)
w2 = torch.tensor(-1.5, requires_grad=True)
b2 = torch.tensor(4.0, requires_grad=True)
y1 = x * w1 + b1
y2 = y1 * w2 + b2
leaf_names = {id(w1): "w1", id(b1): "b1", id(w2): "w2", id(b2): "b2"}


def label(node):
    """Name a backward node; leaves are named after the parameter they feed."""
    name = type(node).__name__
    if hasattr(node, "variable"):
        return f"{name}({leaf_names.get(id(node.variable), '?')})"
    return name


def walk(node, depth=0, lines=None, edges=None):
    """Depth-first walk of grad_fn.next_functions, collecting printable lines and edges."""
    lines = [] if lines is None else lines
    edges = [] if edges is None else edges
    lines.append("    " * depth + label(node))
    for child, _ in node.next_functions:
        if child is None:  # an input that needs no gradient, like x
            continue
        edges.append((node, child))
        walk(child, depth + 1, lines, edges)
    return lines, edges


lines, edges = walk(y2.grad_fn)
print("\n".join(lines))
leaves = sorted(label(c) for _, c in edges if hasattr(c, "variable"))
assert leaves == [
    "AccumulateGrad(b1)",
    "AccumulateGrad(b2)",
    "AccumulateGrad(w1)",
    "AccumulateGrad(w2)",
], leaves

# %% [markdown]
# Draw the same graph: the output on top, the leaves at the bottom. Gradients flow along
# the arrows.

# %%
depth, order = {}, []


def place(node, level):
    if id(node) not in depth:
        order.append(node)
    depth[id(node)] = max(depth.get(id(node), 0), level)
    for child, _ in node.next_functions:
        if child is not None:
            place(child, level + 1)


place(y2.grad_fn, 0)
rows = {}
for node in order:
    rows.setdefault(depth[id(node)], []).append(node)
pos = {}
for level, nodes in rows.items():
    for i, node in enumerate(nodes):
        pos[id(node)] = ((i + 1) / (len(nodes) + 1), -level)

fig, ax = plt.subplots(figsize=(7, 4))
for parent, child in edges:
    (px0, py0), (px1, py1) = pos[id(parent)], pos[id(child)]
    ax.annotate(
        "",
        xy=(px1, py1 + 0.15),
        xytext=(px0, py0 - 0.15),
        arrowprops={"arrowstyle": "->", "color": "grey"},
    )
for node in order:
    px, py = pos[id(node)]
    ax.text(
        px,
        py,
        label(node),
        ha="center",
        va="center",
        fontsize=8,
        bbox={"boxstyle": "round", "fc": "lightyellow", "ec": "black"},
    )
ax.set_xlim(0, 1)
ax.set_ylim(-max(rows) - 0.5, 0.5)
ax.axis("off")
ax.set_title("backward graph of y2 = (x·w1 + b1)·w2 + b2")
save(fig, "backward_graph.png")
