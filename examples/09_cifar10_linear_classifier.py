# %% [markdown]
# # A linear classifier on CIFAR-10
#
# CIFAR-10 holds 60,000 colour photos of 32×32 pixels in 10 classes (airplane, automobile,
# bird, …). A linear classifier treats each photo as a row of 3·32·32 = 3072 numbers and
# gives each class a score `o = x·w_class + b_class`: softmax regression, exactly as for
# the digits, only wider. It cannot see shapes — only "which colours where" — so expect
# about 40 % accuracy on real CIFAR-10 (chance is 10 %), far below a convolutional network.
#
# You will standardize the pixels (`torchlinear.preprocessing.Standardizer`), train the
# model (`torchlinear.scratch.softmax.train`), and draw the test accuracy, the confusion
# matrix and the learned weights of each class as a colour image (its "template").
#
# The official files are read by `torchlinear.datasets.cifar10()` from
# `$TORCHLINEAR_DATA/cifar10/` (or `~/.cache/torchlinear/cifar10/`); `download=True`
# fetches them. **When they are absent, the example runs on a small synthetic stand-in**
# (coloured blobs, one pattern per class) and says so: the code path is the same, the
# numbers are not CIFAR's.

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

from torchlinear import datasets
from torchlinear.plots import (
    confusion_counts,
    confusion_matrix_figure,
    image_grid,
    training_curves,
    weight_templates,
)
from torchlinear.preprocessing import Standardizer
from torchlinear.scratch.softmax import accuracy, softmax_logits, train

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples"))
OUT = OUT / "09_cifar10_linear_classifier"
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
# ## The data: CIFAR-10, or a stand-in
#
# The stand-in's images are blurry colour fields that differ between classes only in a faint
# pattern, shifted around and covered in pixel noise: hard to tell apart by eye, but a
# linear model finds the pattern with enough examples. Same shapes and class names as
# CIFAR-10; with 10,000 images it is easier than the real thing.

# %%
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def stand_in(n, seed):
    """Synthetic 3×32×32 images in [0, 1] with labels 0..9.

    Every class has a smooth colour pattern: one background shared by all classes plus a
    faint class-specific part. An image is a randomly shifted 32×32 window of its class's
    pattern, with a random brightness and pixel noise on top.
    """
    fixed = torch.Generator().manual_seed(1234)  # the same patterns for every call
    background = torch.rand(1, 3, 4, 4, generator=fixed)
    specific = 0.1 * (torch.rand(10, 3, 4, 4, generator=fixed) - 0.5)
    patterns = F.interpolate(background + specific, size=(40, 40), mode="bicubic")
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    dx, dy = torch.randint(0, 9, (2, n), generator=g).tolist()
    images = torch.stack(
        [patterns[k, :, y : y + 32, x : x + 32] for k, x, y in zip(labels, dx, dy, strict=True)]
    )
    brightness = 0.1 * torch.randn(n, 1, 1, 1, generator=g)
    noise = 0.15 * torch.randn(n, 3, 32, 32, generator=g)
    return (images + brightness + noise).clamp(0, 1), labels


try:
    cifar = datasets.cifar10()
    X_train, y_train, X_test, y_test = cifar.X_train, cifar.y_train, cifar.X_test, cifar.y_test
    classes, source = cifar.classes, "CIFAR-10"
    if FAST:  # a slice is enough to check that everything runs
        X_train, y_train, X_test, y_test = (
            X_train[:5000],
            y_train[:5000],
            X_test[:1000],
            y_test[:1000],
        )
except FileNotFoundError as missing:
    print("CIFAR-10 files not found, so this run uses a SYNTHETIC STAND-IN, not CIFAR-10.")
    print(f"  ({missing})")
    X_train, y_train = stand_in(2000 if FAST else 10000, seed=0)
    X_test, y_test = stand_in(500 if FAST else 2000, seed=1)
    classes, source = CIFAR10_CLASSES, "synthetic stand-in"
print(
    f"{source}: {len(X_train)} training and {len(X_test)} test images of shape "
    f"{tuple(X_train.shape[1:])}"
)

fig, axes = plt.subplots(2, 10, figsize=(12, 2.8))
for k, column in enumerate(axes.T):
    examples = X_train[y_train == k][:2]
    for ax, image in zip(column, examples, strict=False):
        ax.imshow(image.permute(1, 2, 0))  # channels last for imshow
        ax.axis("off")
    column[0].set_title(classes[k], fontsize=8)
fig.suptitle(f"two training images per class ({source})")
save(fig, "samples.png")

# %% [markdown]
# ## Standardize, then train
#
# Each of the 3072 inputs is shifted and scaled to mean 0 and standard deviation 1 over the
# training images (the statistics are computed on the training set only and reused for the
# test set). Pixel values then share one scale, and one learning rate suits all weights.

# %%
flat_train = X_train.reshape(len(X_train), -1)
flat_test = X_test.reshape(len(X_test), -1)
scaler = Standardizer().fit(flat_train)
Z_train, Z_test = scaler.transform(flat_train), scaler.transform(flat_test)
print(f"after standardizing: mean {Z_train.mean():.2e}, std {Z_train.std():.3f}")

epochs = 5 if FAST else 10
fit = train(Z_train, y_train, Z_test, y_test, lr=0.005, batch_size=256, epochs=epochs, seed=0)
for epoch, (train_acc, test_acc) in enumerate(
    zip(fit.history["train_acc"], fit.history["val_acc"], strict=True), 1
):
    print(f"epoch {epoch:2d}: train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")
predicted = softmax_logits(Z_test, fit.W, fit.b).argmax(dim=1)
test_acc = accuracy(predicted, y_test)
print(f"{source}: test accuracy {test_acc:.3f} (chance: 0.100)")
assert test_acc > 0.2, "a linear classifier does far better than chance"

# %% [markdown]
# ## Pictures: learning curves, confusion matrix, predictions, templates
#
# All drawn by `torchlinear.plots`. A template is the column of `W` for one class, reshaped
# to 3×32×32 and stretched to the range [0, 1] so it can be shown as a colour image. On real
# CIFAR-10 they look like blurry averages: a blue background for airplanes and ships, a
# green one for frogs and deer — a linear model scores colours by position, and that is all
# it can do.

# %%
save(training_curves({source: fit.history}, title=f"linear classifier on {source}"), "accuracy.png")

matrix = confusion_counts(y_test, predicted, len(classes))
assert matrix.sum() == len(y_test) and matrix.trace() == (predicted == y_test).sum().item()
per_class = matrix.diagonal() / matrix.sum(axis=1)
best, worst = int(per_class.argmax()), int(per_class.argmin())
print(
    f"best recognised: {classes[best]} ({per_class[best]:.2f}), "
    f"worst: {classes[worst]} ({per_class[worst]:.2f})"
)
save(confusion_matrix_figure(y_test, predicted, class_names=classes), "confusion.png")
save(image_grid(X_test, y_test, predicted, class_names=classes), "predictions.png")
save(weight_templates(fit.W, (3, 32, 32), class_names=classes), "templates.png")
