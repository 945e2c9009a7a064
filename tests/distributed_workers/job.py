"""Worker for tests/test_distributed.py: the exact fits and the data-parallel training.

Run by ``torchrun --nproc-per-node 2 job.py FOLDER``; rank ``r`` saves everything it
computed to ``FOLDER/rank<r>.npz`` (the exact solutions under their names, the trained
models under ``dp.``).
"""

import sys
from pathlib import Path

import dp_train
import exact_fit
import numpy as np

from torchlinear import distributed as tld


@tld.record
def main(folder: str) -> None:
    out = Path(folder)
    assert tld.init_from_env(timeout=60) and tld.world_size() == 2
    results = exact_fit.runs(out)
    trained = dp_train.runs(out)
    trained.update(dp_train.streamed(tld.rank()))
    results.update({f"dp.{k}": v for k, v in trained.items()})
    np.savez(out / f"rank{tld.rank()}.npz", **results)
    tld.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
