"""Worker for tests/test_distributed.py: rank 1 raises in the middle of an epoch.

Run by ``torchrun --nproc-per-node 2 failing.py``: both ranks train data-parallel on
their own chunk stream; rank 1's stream breaks in the second epoch. The job must stop
with a non-zero exit code and rank 1's error in the output, while rank 0 waits in a
collective.
"""

import torch

from torchlinear import distributed as tld
from torchlinear.engine import TrainConfig, train
from torchlinear.models import LinearModel


class BrokenStream(RuntimeError):
    pass


@tld.record
def main() -> None:
    assert tld.init_from_env(timeout=60)
    g = torch.Generator().manual_seed(tld.rank())
    X = torch.randn(400, 3, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 1.0
    epoch = {"n": 0}

    def chunks():
        epoch["n"] += 1
        for k, start in enumerate(range(0, len(X), 50)):
            if tld.rank() == 1 and epoch["n"] == 2 and k == 3:
                raise BrokenStream("rank 1 lost its input file in epoch 2, chunk 4")
            yield X[start : start + 50], y[start : start + 50]

    train(LinearModel(3, seed=0), chunks, "squared", TrainConfig(epochs=5, batch_size=20, seed=0))


if __name__ == "__main__":
    main()
