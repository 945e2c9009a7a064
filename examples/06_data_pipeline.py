# %% [markdown]
# # A tour of the data pipeline
#
# Training reads the data in minibatches. PyTorch splits that job into three parts:
#
# * a **`Dataset`** answers two questions: how many examples (`__len__`) and what is
#   example `i` (`__getitem__`);
# * a **sampler** decides in which order the indices are visited;
# * a **`DataLoader`** asks the sampler for indices, fetches the examples and stacks them
#   into batches.
#
# You will write a custom `Dataset`, use `TensorDataset` and `DataLoader` (`batch_size`,
# `shuffle`, `drop_last`), split data into train / validation / test with `random_split`
# and `Subset`, join data sets with `ConcatDataset`, draw indices with `RandomSampler`, and
# rebalance an imbalanced data set with `WeightedRandomSampler` (with a histogram of the
# classes it draws). At the end the library's `iter_batches` gathers the same minibatches
# straight from tensors.

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
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)

from torchlinear.data import iter_batches, synthetic_regression

FAST = os.environ.get("TORCHLINEAR_EXAMPLES_FAST", "0") not in ("", "0")
OUT = Path(os.environ.get("TORCHLINEAR_EXAMPLES_OUT", "runs/examples")) / "06_data_pipeline"
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
# ## A custom `Dataset`
#
# The textbook's data: 1000 examples of `y = 2·x1 − 3.4·x2 + 4.2 + noise`. A `Dataset`
# needs only `__len__` and `__getitem__`; here each example is read from two tensors.

# %%
X, y, true_w, true_b = synthetic_regression([2.0, -3.4], 4.2, n=1000, noise=0.01, seed=0)


class LinearData(Dataset):
    """Examples (features, target) of a linear-regression problem."""

    def __init__(self, features, targets):
        assert len(features) == len(targets), "one target per row of features"
        self.features = features
        self.targets = targets

    def __len__(self):
        return len(self.features)

    def __getitem__(self, i):
        return self.features[i], self.targets[i]


data = LinearData(X, y)
x0, y0 = data[0]
print(f"len(data) = {len(data)}; data[0] = (features {x0.tolist()}, target {y0.item():.3f})")
assert len(data) == 1000

# %% [markdown]
# `TensorDataset` is the ready-made version of the class above: example `i` is row `i` of
# every tensor you give it.

# %%
tensor_data = TensorDataset(X, y)
assert len(tensor_data) == len(data)
assert all(torch.equal(a, b) for a, b in zip(tensor_data[7], data[7], strict=True))
print("TensorDataset gives the same examples as the custom class")

# %% [markdown]
# ## `DataLoader`: batch size, shuffling, the last short batch
#
# With 1000 examples and `batch_size=32` there are 31 full batches and one of 8 left over;
# `drop_last=True` throws that one away. `shuffle=True` draws a new order every epoch; a
# seeded `generator` makes that order reproducible.

# %%
loader = DataLoader(
    tensor_data, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)
)
sizes = [len(yb) for _, yb in loader]
print(f"batches per epoch: {len(loader)}; first sizes {sizes[:3]}, last size {sizes[-1]}")
assert len(loader) == 32 and sizes[-1] == 1000 - 31 * 32

loader_drop = DataLoader(tensor_data, batch_size=32, shuffle=True, drop_last=True)
print(f"with drop_last=True: {len(loader_drop)} batches, all of size 32")
assert len(loader_drop) == 31 and all(len(yb) == 32 for _, yb in loader_drop)

xb, yb = next(iter(loader))
print("one batch: features", tuple(xb.shape), "targets", tuple(yb.shape))

# Every example is visited exactly once per epoch, only the order changes.
seen = torch.cat([yb for _, yb in loader])
assert torch.equal(seen.sort().values, y.sort().values)


def first_targets(seed):
    g = torch.Generator().manual_seed(seed)
    return next(iter(DataLoader(tensor_data, batch_size=4, shuffle=True, generator=g)))[1]


assert torch.equal(first_targets(1), first_targets(1)), "same seed, same order"
print("same generator seed, same shuffled order:", [round(v, 3) for v in first_targets(1).tolist()])

# %% [markdown]
# ## Train / validation / test: `random_split` and `Subset`
#
# `random_split` shuffles the indices once and cuts them into pieces of the sizes you ask
# for (counts, or fractions that add up to 1). Each piece is a `Subset`: a view of the
# original data through a list of indices, no copy. You can build a `Subset` yourself, for
# example to keep the last 100 examples as a fixed test set.

# %%
train, valid, test = random_split(
    tensor_data, [0.7, 0.15, 0.15], generator=torch.Generator().manual_seed(0)
)
print(f"train {len(train)}, validation {len(valid)}, test {len(test)}")
assert (len(train), len(valid), len(test)) == (700, 150, 150)
idx_sets = [set(part.indices) for part in (train, valid, test)]
assert not (idx_sets[0] & idx_sets[1] or idx_sets[0] & idx_sets[2] or idx_sets[1] & idx_sets[2])
assert set().union(*idx_sets) == set(range(1000)), "the three parts cover every example once"

last_100 = Subset(tensor_data, range(900, 1000))
assert torch.equal(last_100[0][1], y[900])
print("Subset(data, range(900, 1000))[0] is example 900 of the full data")

# %% [markdown]
# ## `ConcatDataset`: one data set made of several
#
# Indices run through the first data set, then the second.

# %%
more_X, more_y, _, _ = synthetic_regression([2.0, -3.4], 4.2, n=250, noise=0.01, seed=1)
both = ConcatDataset([tensor_data, TensorDataset(more_X, more_y)])
print(f"ConcatDataset of 1000 + 250 examples has length {len(both)}")
assert len(both) == 1250
assert torch.equal(both[999][1], y[999]) and torch.equal(both[1000][1], more_y[0])

# %% [markdown]
# ## Samplers: who picks the indices
#
# `shuffle=True` is shorthand for `sampler=RandomSampler(data)`: a permutation of all
# indices. `RandomSampler(..., replacement=True, num_samples=k)` instead draws `k` indices
# independently, so some repeat and some never appear (the bootstrap).

# %%
perm = list(RandomSampler(range(10), generator=torch.Generator().manual_seed(0)))
print("RandomSampler, a permutation:", perm)
assert sorted(perm) == list(range(10))

boot = list(
    RandomSampler(
        range(10), replacement=True, num_samples=10, generator=torch.Generator().manual_seed(0)
    )
)
print("with replacement:", boot, f"-> {len(set(boot))} distinct of 10")
assert len(boot) == 10

# %% [markdown]
# ## `WeightedRandomSampler` on an imbalanced data set
#
# 900 examples of class 0, 90 of class 1 and 10 of class 2. A plain shuffle shows class 2
# in about 1 batch of 100 examples. Giving every example the weight `1 / (size of its
# class)` makes the sampler draw each class equally often (with replacement: the 10 rare
# examples are drawn many times).

# %%
counts = torch.tensor([900, 90, 10])
labels = torch.cat([torch.full((int(c),), k) for k, c in enumerate(counts)])
imbalanced = TensorDataset(
    torch.randn(len(labels), 2, generator=torch.Generator().manual_seed(2)), labels
)

weights = 1.0 / counts[labels].double()
num_draws = 3000 if FAST else 30000
sampler = WeightedRandomSampler(
    weights, num_samples=num_draws, replacement=True, generator=torch.Generator().manual_seed(0)
)
balanced_loader = DataLoader(imbalanced, batch_size=100, sampler=sampler)
drawn = torch.cat([yb for _, yb in balanced_loader])

original_share = counts / counts.sum()
drawn_share = torch.bincount(drawn, minlength=3) / len(drawn)
print("class shares in the data:   ", [round(v, 3) for v in original_share.tolist()])
print("class shares drawn (weighted):", [round(v, 3) for v in drawn_share.tolist()])
assert (drawn_share - 1 / 3).abs().max() < 0.05, drawn_share

fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=False)
axes[0].bar(["0", "1", "2"], counts.tolist(), color="tab:grey")
axes[0].set_title("classes in the data\n(1000 examples)")
axes[1].bar(["0", "1", "2"], torch.bincount(drawn, minlength=3).tolist(), color="tab:blue")
axes[1].axhline(num_draws / 3, color="black", ls="--", lw=1, label="equal share")
axes[1].set_title(f"drawn by WeightedRandomSampler\n({num_draws} draws)")
axes[1].legend(loc="lower center")
for ax in axes:
    ax.set_xlabel("class")
axes[0].set_ylabel("examples")
save(fig, "weighted_sampler_histogram.png")

# %% [markdown]
# ## The same minibatches without a `Dataset`: `torchlinear.data.iter_batches`
#
# When the data already sits in tensors, a minibatch is just "rows at some indices".
# `iter_batches` draws one permutation per epoch and gathers each batch with a single
# indexing step, instead of calling `__getitem__` once per example and stacking the
# results. The batches hold the same examples; only the bookkeeping is cheaper.

# %%
gen = torch.Generator().manual_seed(0)
batches = list(iter_batches(X, y, 32, generator=gen))
print(f"iter_batches: {len(batches)} batches, last one of {len(batches[-1][1])}")
assert len(batches) == len(loader)
assert torch.equal(torch.cat([yb for _, yb in batches]).sort().values, y.sort().values)


def epoch_seconds(make_batches, repeats=3):
    """Best time of a few passes over one epoch."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _batch in make_batches():
            pass
        best = min(best, time.perf_counter() - start)
    return best


t_loader = epoch_seconds(lambda: DataLoader(tensor_data, batch_size=32, shuffle=True))
t_gather = epoch_seconds(lambda: iter_batches(X, y, 32))
print(f"one epoch: DataLoader {t_loader * 1e3:.2f} ms, iter_batches {t_gather * 1e3:.2f} ms")

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["DataLoader +\nTensorDataset", "iter_batches"], [t_loader * 1e3, t_gather * 1e3])
ax.set_ylabel("ms per epoch (1000 examples, batch 32)")
ax.set_title("same batches, different bookkeeping")
save(fig, "epoch_time.png")
