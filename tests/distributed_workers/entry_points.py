"""Worker for tests/exact/test_entry_points.py: each problem on 2 ranks.

Run by ``torchrun --nproc-per-node 2 entry_points.py FOLDER``. For every problem
``FOLDER/<name>.npz`` (X, y, w, alpha) it fits the rank's share of the arrays, the CSV file
and the Parquet file with :func:`torchlinear.distributed.fit_exact_distributed`; rank 0
saves the coefficients and warnings to ``FOLDER/torchrun.npz``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

from torchlinear import distributed as tld
from torchlinear.data import TabularSource


@tld.record
def main(folder: str) -> None:
    out = Path(folder)
    assert tld.init_from_env(timeout=60) and tld.world_size() == 2
    results = {}
    for problem in sorted(out.glob("*.npz")):
        if problem.stem == "torchrun":
            continue
        with np.load(problem) as f:
            X, y, w, alpha = f["X"], f["y"], f["w"], float(f["alpha"])
        part = tld.shard_rows(len(X))
        mine = (X[part], y[part], None if w.size == 0 else w[part])
        runs = {"arrays": (mine, {"chunk_rows": 5})}
        weight = None if w.size == 0 else "w"  # a column of the files
        for ext in ("csv", "parquet"):
            path = out / f"{problem.stem}.{ext}"
            runs[ext] = (TabularSource(path, target="y", batch_rows=7, weight=weight), {})
        for how, (data, options) in runs.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol = tld.fit_exact_distributed(data, alpha=alpha, **options)
            key = f"{problem.stem}.{how}"
            results[f"{key}.coef"] = sol.coef[:, 0].numpy()
            results[f"{key}.intercept"] = sol.intercept.numpy()
            results[f"{key}.warnings"] = np.array(sorted({c.category.__name__ for c in caught}))
    if tld.rank() == 0:
        np.savez(out / "torchrun.npz", **results)
    tld.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
