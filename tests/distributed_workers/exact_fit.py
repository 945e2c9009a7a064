"""Exact least squares on every rank's share (run on 2 ranks by ``job.py``).

``runs(folder)`` reads ``folder/data.npz`` (the whole data set, the same on every rank),
``table.parquet`` (several row groups), ``one_group.parquet`` (a single row group: one
rank gets nothing) and ``table.csv``, and returns every solution this rank computed.
"""

from pathlib import Path

import numpy as np
import torch

from torchlinear import distributed as tld
from torchlinear.data import TabularSource


def runs(out: Path) -> dict[str, np.ndarray]:
    r = tld.rank()
    with np.load(out / "data.npz") as f:
        data = {k: f[k] for k in f.files}
    X, y, Y2, wt = data["X"], data["y"], data["Y2"], data["w"]
    X_ill, y_ill = data["X_ill"], data["y_ill"]
    results: dict[str, np.ndarray] = {}

    def keep(name, sol):
        results[f"{name}.coef"] = sol.coef.numpy()
        results[f"{name}.intercept"] = sol.intercept.numpy()
        results[f"{name}.solver"] = np.array(sol.solver)
        results[f"{name}.n"] = np.array(sol.n_samples)

    part = tld.shard_rows(len(X))
    keep("contiguous", tld.fit_exact_distributed((X[part], y[part], wt[part])))
    # rank 0 holds every row, the other ranks none
    mine = slice(0, len(X)) if r == 0 else slice(0, 0)
    keep("empty_rank", tld.fit_exact_distributed((X[mine], y[mine])))
    strided = tld.shard_rows(len(X), strided=True)
    keep(
        "ridge_two_targets",
        tld.fit_exact_distributed((torch.from_numpy(X[strided]), Y2[strided]), alpha=0.5),
    )
    keep("no_intercept", tld.fit_exact_distributed((X[part], y[part]), fit_intercept=False))
    keep("qr", tld.fit_exact_distributed((X[part], y[part]), solver="qr"))
    ill = tld.shard_rows(len(X_ill))
    keep("ill_auto", tld.fit_exact_distributed((X_ill[ill], y_ill[ill]), chunk_rows=100))
    for name in ("table.parquet", "one_group.parquet", "table.csv"):
        source = TabularSource(out / name, target="y", batch_rows=97)
        results[f"{name}.rows"] = np.array(tld.shard_source(source).read_all()[0].shape[0])
        keep(name, tld.fit_exact_distributed(source))
    # a chunk source: this rank's rows in chunks of 50
    Xp, yp = X[part], y[part]
    chunks = lambda: ((Xp[i : i + 50], yp[i : i + 50]) for i in range(0, len(Xp), 50))  # noqa: E731
    keep("chunks", tld.fit_exact_distributed(chunks))
    # invalid data on one rank: every rank raises instead of waiting for it
    bad = X[part].copy()
    if r == 1:
        bad[3, 2] = np.nan
    try:
        tld.fit_exact_distributed((bad, y[part]))
        results["bad.error"] = np.array("no error")
    except Exception as exc:
        results["bad.error"] = np.array(f"{type(exc).__name__}: {exc}")
    return results
