# %% [markdown]
# # Common mistakes: each classic bug reproduced, its symptom, and the fix
#
# Every beginner's linear-regression or softmax script meets some of these. Each section
# below runs the buggy code, shows the symptom (a number, a shape, a warning or a figure),
# then applies the fix and asserts that it worked:
#
# 1. an `(n, 1)` prediction minus an `(n,)` target broadcasts to `(n, n)`;
# 2. a learning rate that is too large: the loss becomes `inf`, then `nan`;
# 3. forgetting `zero_grad`: the gradients pile up and the loss stalls;
# 4. `reduction="sum"`: the step grows with the batch size;
# 5. probabilities passed to `CrossEntropyLoss`, which wants logits;
# 6. the model on one device and the data on another;
# 7. legacy `Variable` and `.data`: gradients silently wrong.

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
from torch import nn

from torchlinear import d2l, scratch

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "12_common_mistakes"
OUT.mkdir(parents=True, exist_ok=True)
print("figures are saved in", OUT.resolve())
torch.manual_seed(0)
features, labels = d2l.synthetic_data(torch.tensor([2, -3.4]), 4.2, 1000)  # labels: (1000, 1)
curves = {}  # name -> (buggy losses, fixed losses), drawn at the end

# %% [markdown]
# ## 1. A column minus a row is a matrix
#
# `nn.Linear` predicts shape `(n, 1)`. If the target is `(n,)`, `y_hat - y` broadcasts to
# `(n, n)`: every prediction is compared with every target. No error; a wrong loss.
# (`nn.MSELoss` at least warns; a hand-written loss says nothing.)

# %%
y_row = labels.reshape(-1)  # (1000,)
y_hat = features @ torch.tensor([[2.0], [-3.4]]) + 4.2  # the true model, (1000, 1)
buggy = ((y_hat - y_row) ** 2 / 2).mean()
fixed = ((y_hat - y_row.reshape(y_hat.shape)) ** 2 / 2).mean()
print("shape of y_hat - y:", tuple((y_hat - y_row).shape))
print(f"loss of the TRUE model: buggy {buggy:.3f}, fixed {fixed:.2e}")
assert (y_hat - y_row).shape == (1000, 1000) and buggy > 10 and fixed < 1e-4
# The fix is in the library's losses: the target is reshaped to the prediction's shape.
assert torch.allclose(scratch.squared_loss(y_hat, y_row).mean(), fixed)

# %% [markdown]
# ## 2. A learning rate that is too large
#
# Each step overshoots the minimum by more than it corrects; the weights grow geometrically,
# overflow to `inf`, and then `inf − inf` gives `nan`. `scratch.train` now says so.

# %%
w, b = scratch.init_params(2, generator=torch.Generator().manual_seed(0))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    big = scratch.train(features, labels, w, b, lr=300.0, epochs=3,
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
print("losses with lr=300:", big)
print("warning:", caught[0].message)
assert all(not torch.isfinite(torch.tensor(v)) for v in big)
assert any(issubclass(c.category, scratch.NonFiniteLossWarning) for c in caught)
w, b = scratch.init_params(2, generator=torch.Generator().manual_seed(0))
good = scratch.train(features, labels, w, b, lr=0.03, epochs=3,
                     generator=torch.Generator().manual_seed(0))  # fmt: skip
print("losses with lr=0.03:", good)
assert good[-1] < 1e-4

# %% [markdown]
# ## 3. Forgetting `zero_grad`
#
# `backward()` *adds* into `.grad`. Without `trainer.zero_grad()` every step uses the sum of
# all past gradients: a momentum without friction. The loss stalls far from the minimum.


# %%
def train_concise(zero_grad, reduction="mean", lr=0.03, batch_size=10, epochs=3):
    torch.manual_seed(1)
    net = nn.Linear(2, 1)
    nn.init.normal_(net.weight, std=0.01)
    nn.init.zeros_(net.bias)
    loss = nn.MSELoss(reduction=reduction)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        for X, y in d2l.load_array((features, labels), batch_size):
            l = loss(net(X), y)
            if zero_grad:
                trainer.zero_grad()
            l.backward()
            trainer.step()
        with torch.no_grad():
            history.append(float(nn.functional.mse_loss(net(features), labels)))
    return history


forgot, remembered = train_concise(zero_grad=False), train_concise(zero_grad=True)
print(f"final loss without zero_grad {forgot[-1]:.3g}, with zero_grad {remembered[-1]:.3g}")
assert forgot[-1] > 100 * remembered[-1]
curves["3. forgetting zero_grad"] = (forgot, remembered)

# %% [markdown]
# ## 4. `reduction="sum"` with the learning rate tuned for the mean
#
# Summing the minibatch loss multiplies the gradient, and so the step, by the batch size.
# lr = 0.03 that is right for the mean becomes 0.3 at batch 10 (noisier) and 3 at batch
# 100, past the divergence threshold `2/λ_max`: the loss explodes.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # overflow warnings from the diverging run
    summed = train_concise(True, reduction="sum", batch_size=100)
averaged = train_concise(True, reduction="mean", batch_size=100)
print(f"batch 100, lr 0.03: sum -> {summed[-1]:.3g}, mean -> {averaged[-1]:.3g}")
assert not (summed[-1] < 1.0) and averaged[-1] < 1.0
curves["4. reduction='sum', batch 100"] = (summed, averaged)

# %% [markdown]
# ## 5. Probabilities passed to `CrossEntropyLoss`
#
# `nn.CrossEntropyLoss` applies log-softmax itself; it wants the *logits*. Feeding it
# `softmax(o)` applies softmax twice: the loss can never fall below `log(1 + (k−1)/e)`
# (1.46 for 10 classes, 0.55 for 3) even for a perfect prediction, so the loss curve
# flattens on a floor and the gradients are squashed.

# %%
k = 10
perfect_probs = torch.eye(k)  # the most confident correct prediction possible
targets = torch.arange(k)
floor = nn.CrossEntropyLoss()(perfect_probs, targets)
print(f"loss of a perfect prediction given as probabilities: {floor:.4f}")
assert torch.isclose(floor, torch.log(torch.tensor(1 + (k - 1) / torch.e)))


def train_softmax(double_softmax, epochs=10):
    torch.manual_seed(0)
    X = torch.randn(500, 5)
    y = (X @ torch.randn(5, 3)).argmax(dim=1)
    net = nn.Linear(5, 3)
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    loss, history = nn.CrossEntropyLoss(), []
    for _ in range(epochs):
        for Xb, yb in d2l.load_array((X, y), 50):
            out = net(Xb)
            l = loss(torch.softmax(out, dim=1) if double_softmax else out, yb)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        with torch.no_grad():  # the loss as the training code computes it
            out = net(X)
            history.append(float(loss(torch.softmax(out, dim=1) if double_softmax else out, y)))
    return history


double, single = train_softmax(True), train_softmax(False)
floor3 = torch.log(torch.tensor(1 + 2 / torch.e)).item()  # 3 classes here
print(
    f"reported loss after training: probabilities {double[-1]:.3f} (floor {floor3:.3f}), "
    f"logits {single[-1]:.3f}"
)
assert min(double) >= floor3 > single[-1]
curves["5. probabilities into CrossEntropyLoss"] = (double, single)

# %% [markdown]
# ## 6. Model on one device, data on another
#
# On a machine with a GPU the classic message is *"Expected all tensors to be on the same
# device"*. We provoke the same error anywhere with the `meta` device; the fix is one
# `device` variable and `.to(device)` for both the model and every batch.

# %%
net = nn.Linear(2, 1, device="meta")
try:
    net(features)
    raise AssertionError("a model and data on different devices must fail")
except RuntimeError as error:
    print("error:", error)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
net = nn.Linear(2, 1).to(device)
assert net(features.to(device)).shape == (1000, 1)

# %% [markdown]
# ## 7. Legacy `Variable` and `.data`
#
# `torch.autograd.Variable(x)` is a no-op since PyTorch 0.4: it returns a plain tensor.
# `.data` still works but hides changes from autograd: modifying a tensor that backward
# needs gives a **silently wrong** gradient. `.detach()` shares the same memory, but autograd
# notices the change and raises an error instead.

# %%
x = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
assert type(torch.autograd.Variable(x)) is torch.Tensor
out = x.sigmoid()  # backward of sigmoid uses its output s: grad = s (1 - s)
out.data.zero_()  # the bug: change s behind autograd's back
out.sum().backward()
true_grad = torch.sigmoid(x.detach()) * (1 - torch.sigmoid(x.detach()))
print("gradient after .data.zero_():", x.grad, "\ntrue gradient:", true_grad)
assert torch.equal(x.grad, torch.zeros(3)) and not torch.allclose(x.grad, true_grad)
x.grad = None
out = x.sigmoid()
try:
    out.detach().zero_()
    out.sum().backward()
    raise AssertionError(".detach() should make backward refuse")
except RuntimeError as error:
    print("with .detach():", str(error).splitlines()[0][:110])

# %% [markdown]
# ## The loss curves, buggy against fixed

# %%
fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4))
for ax, (name, (bad, fix)) in zip(axes, curves.items(), strict=True):
    epochs = range(1, len(bad) + 1)
    finite_bad = [v if abs(v) < 1e30 else float("nan") for v in bad]
    ax.semilogy(epochs, finite_bad, "r-o", ms=3, label="buggy")
    ax.semilogy(epochs, fix, "g-o", ms=3, label="fixed")
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("epoch")
    ax.legend()
axes[0].set_ylabel("training loss")
fig.tight_layout()
fig.savefig(OUT / "buggy_vs_fixed.png", dpi=100)
print("saved", OUT / "buggy_vs_fixed.png")
