# %% [markdown]
# # Softmax regression on images of digits
#
# Softmax regression is linear regression with one output per class, `O = XW + b`, whose
# scores (logits) are turned into probabilities by `softmax(o)ⱼ = exp(oⱼ) / Σₗ exp(oₗ)` and
# trained with the cross-entropy loss `−log p(true class)`. You will:
#
# * train it from scratch (`torchlinear.scratch.softmax`) and the concise way
#   (`torchlinear.concise`: `nn.Linear`, `nn.CrossEntropyLoss`, `torch.optim.SGD`) on the
#   8×8 digit images bundled with scikit-learn, then fit it exactly with the library's
#   `SoftmaxRegression` estimator and check that against scikit-learn's
#   `LogisticRegression`;
# * look at a grid of test images with their predictions, the confusion matrix (which
#   digits get mixed up), and the weights of each class drawn as an image (a "template");
# * see why `exp` must never meet large logits directly: the naive softmax overflows to
#   `nan`, the stable one (subtract the largest logit first) does not;
# * repeat on Fashion-MNIST (28×28 clothing images) when its files are present.

# %%
import os
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # a plain script: draw into files, open no window
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from torchlinear import SoftmaxRegression, datasets
from torchlinear.concise import softmax_net, train_softmax_concise
from torchlinear.plots import (
    confusion_counts,
    confusion_matrix_figure,
    image_grid,
    training_curves,
    weight_templates,
)
from torchlinear.scratch.softmax import (
    accuracy,
    cross_entropy,
    softmax,
    softmax_cross_entropy,
    softmax_logits,
    train,
)

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "08_softmax_regression"
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
# 1797 grey images of 8×8 pixels, values scaled to [0, 1]; a quarter is held out for
# testing (stratified: every digit keeps its share).

# %%
data = datasets.digits()
print(data)
n_classes = len(data.classes)
n_pixels = data.X_train[0].numel()

# %% [markdown]
# ## Train from scratch and the concise way
#
# The scratch `train` flattens each image to a row of 64 pixels, computes `O = XW + b`,
# the stable cross-entropy, and takes a plain SGD step; the concise version puts
# `nn.Flatten` and `nn.Linear` in an `nn.Sequential` and uses `nn.CrossEntropyLoss` with
# `torch.optim.SGD`. Same learning rate, batch size and number of epochs.

# %%
lr, batch_size, epochs = 0.5, 32, (10 if FAST else 20)
fit = train(
    data.X_train,
    data.y_train,
    data.X_test,
    data.y_test,
    lr=lr,
    batch_size=batch_size,
    epochs=epochs,
    seed=0,
)
net = softmax_net(n_pixels, n_classes, generator=torch.Generator().manual_seed(0))
concise = train_softmax_concise(
    net,
    data.X_train,
    data.y_train,
    data.X_test,
    data.y_test,
    lr=lr,
    batch_size=batch_size,
    epochs=epochs,
    generator=torch.Generator().manual_seed(0),
)
scratch_acc, concise_acc = fit.history["val_acc"][-1], concise.history["val_acc"][-1]
print(f"test accuracy after {epochs} epochs: scratch {scratch_acc:.3f}, concise {concise_acc:.3f}")
assert scratch_acc > 0.93 and abs(scratch_acc - concise_acc) < 0.03
save(training_curves({"scratch": fit.history, "concise": concise.history}), "digits_training.png")

# %% [markdown]
# ## The exact fit, and an independent check
#
# Minibatch SGD stops after a fixed number of epochs. `SoftmaxRegression` (scikit-learn
# API) minimises the same cross-entropy, plus a small penalty `α/2·‖W‖²`, to convergence
# with L-BFGS. scikit-learn's `LogisticRegression(C=1/(α·n))` minimises the same objective
# by its own code, so the two must find the same weights.

# %%
flat_train = data.X_train.reshape(len(data.X_train), -1)
flat_test = data.X_test.reshape(len(data.X_test), -1)
alpha = 1e-3
exact = SoftmaxRegression(alpha=alpha, device="cpu").fit(flat_train, data.y_train)
reference = LogisticRegression(C=1 / (alpha * len(flat_train)), max_iter=5000, tol=1e-10)
reference.fit(flat_train.numpy(), data.y_train.numpy())
exact_acc = exact.score(flat_test, data.y_test)
sklearn_acc = reference.score(flat_test.numpy(), data.y_test.numpy())
weight_gap = abs(exact.coef_ - reference.coef_).max()
print(f"SoftmaxRegression: test accuracy {exact_acc:.3f} after {exact.n_iter_} L-BFGS steps")
print(
    f"scikit-learn:      test accuracy {sklearn_acc:.3f}; largest weight difference "
    f"{weight_gap:.1e} (weights up to {abs(reference.coef_).max():.1f})"
)
assert weight_gap < 1e-2 and exact_acc == sklearn_acc
assert abs(scratch_acc - exact_acc) < 0.04, "SGD gets close to the exact fit"

# %% [markdown]
# ## What the model gets right and wrong
#
# Three pictures from `torchlinear.plots`, used again for Fashion-MNIST below: a grid of
# test images titled "true → predicted", mistakes first and in red; the confusion matrix
# (row = true class, column = predicted class: the diagonal counts the hits); and the
# weight templates (each class's weights drawn as an image: red pixels vote for the class,
# blue against it).

# %%
predicted = softmax_logits(data.X_test, fit.W, fit.b).argmax(dim=1)
assert accuracy(predicted, data.y_test) == scratch_acc
matrix = confusion_counts(data.y_test, predicted, n_classes)
assert (matrix == sklearn_confusion_matrix(data.y_test, predicted)).all()
assert matrix.trace() == (predicted == data.y_test).sum().item()
off_diagonal = matrix.copy()
off_diagonal[range(n_classes), range(n_classes)] = 0
i, j = divmod(int(off_diagonal.argmax()), n_classes)
print(
    f"most frequent mistake: {data.classes[i]} taken for {data.classes[j]} "
    f"({int(off_diagonal[i, j])} times)"
)

names = data.classes
save(image_grid(data.X_test, data.y_test, predicted, class_names=names), "digits_predictions.png")
save(confusion_matrix_figure(data.y_test, predicted, class_names=names), "digits_confusion.png")
save(weight_templates(fit.W, data.image_shape, class_names=names), "digits_weight_templates.png")

# %% [markdown]
# ## Overflow: why softmax subtracts the largest logit
#
# In float32, `exp(x)` is `inf` for `x` above about 88.7. The naive softmax then computes
# `inf / inf = nan`. Subtracting the row's largest logit first changes nothing
# mathematically (the factor `exp(−max)` cancels) but keeps every exponent at most 0.


# %%
def naive_softmax(O):
    E = torch.exp(O)
    return E / E.sum(dim=1, keepdim=True)


logits = torch.tensor([[1000.0, 0.0, -1000.0], [3.0, 1.0, 0.2]])
naive, stable = naive_softmax(logits), softmax(logits)
print("naive softmax: ", [[round(v, 4) for v in row] for row in naive.tolist()])
print("stable softmax:", [[round(v, 4) for v in row] for row in stable.tolist()])
assert torch.isnan(naive[0]).any(), "the naive version overflows"
assert torch.allclose(stable, torch.softmax(logits, dim=1)), "the stable one is right"
assert torch.allclose(naive[1], stable[1]), "for small logits both agree"

# The same trap in the loss: log(softmax) of a tiny probability is log 0 = −inf.
labels = torch.tensor([2, 0])
print(
    "cross-entropy from probabilities:",
    [round(v, 4) for v in cross_entropy(stable, labels).tolist()],
)
print(
    "fused, log-sum-exp cross-entropy: ",
    [round(v, 4) for v in softmax_cross_entropy(logits, labels).tolist()],
)
assert torch.isinf(cross_entropy(stable, labels)[0])
fused = softmax_cross_entropy(logits, labels)
assert torch.allclose(fused, F.cross_entropy(logits, labels, reduction="none"))

scales = torch.linspace(1, 120, 240)
row = torch.tensor([1.0, 0.5, 0.0])
naive_p = torch.stack([naive_softmax(s * row[None])[0, 0] for s in scales])
stable_p = torch.stack([softmax(s * row[None])[0, 0] for s in scales])
overflow_at = scales[torch.isnan(naive_p)].min().item()
print(f"naive softmax of s·[1, 0.5, 0] turns nan from s ≈ {overflow_at:.1f} (exp(88.7) = inf)")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(scales, stable_p, lw=3, alpha=0.5, label="stable softmax")
ax.plot(scales, naive_p, "--", label="naive softmax (nan → gap)")
ax.axvline(overflow_at, color="tab:red", lw=0.8, ls=":")
ax.set_xlabel("scale s of the logits s·[1, 0.5, 0]")
ax.set_ylabel("probability of class 0")
ax.set_title("float32 overflow in exp")
ax.legend()
save(fig, "softmax_overflow.png")

# %% [markdown]
# ## Fashion-MNIST, when its files are present
#
# `torchlinear.datasets.fashion_mnist()` reads the four official files from
# `$TORCHLINEAR_DATA/fashion-mnist/` (or `~/.cache/torchlinear/fashion-mnist/`). If they
# are not there, this part is skipped with a note; `fashion_mnist(download=True)` fetches
# them. The textbook's settings: learning rate 0.1, batch size 256, 10 epochs.

# %%
try:
    fashion = datasets.fashion_mnist()
except FileNotFoundError as missing:
    fashion = None
    print("Fashion-MNIST skipped:", missing)

if fashion is not None:
    X_train, y_train = fashion.X_train, fashion.y_train
    if FAST:  # a slice is enough to check that everything runs
        X_train, y_train = X_train[:5000], y_train[:5000]
    fashion_fit = train(
        X_train,
        y_train,
        fashion.X_test,
        fashion.y_test,
        lr=0.1,
        batch_size=256,
        epochs=2 if FAST else 10,
        seed=0,
    )
    fashion_pred = softmax_logits(fashion.X_test, fashion_fit.W, fashion_fit.b).argmax(dim=1)
    fashion_acc = accuracy(fashion_pred, fashion.y_test)
    print(f"Fashion-MNIST test accuracy: {fashion_acc:.3f} (10 classes: chance is 0.1)")
    assert fashion_acc > 0.5
    names = fashion.classes
    save(
        image_grid(fashion.X_test, fashion.y_test, fashion_pred, class_names=names),
        "fashion_predictions.png",
    )
    save(
        confusion_matrix_figure(fashion.y_test, fashion_pred, class_names=names),
        "fashion_confusion.png",
    )
    save(
        weight_templates(fashion_fit.W, fashion.image_shape, class_names=names),
        "fashion_weight_templates.png",
    )
