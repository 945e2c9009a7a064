"""Where batches come from: tensors, datasets, loaders and chunk streams; the validation
split (the library's one rule, :func:`torchlinear.data.split.holdout_mask`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler, Subset, TensorDataset

from torchlinear._validation import ParameterError
from torchlinear.data.batching import epoch_permutation, iter_batches, num_batches
from torchlinear.data.split import holdout_mask
from torchlinear.engine.config import EVAL_BATCH, TrainConfig


class Cast:
    """Moves a batch to the training device and dtype."""

    def __init__(self, device: torch.device, dtype: torch.dtype, target_dtype: torch.dtype | None):
        self.device, self.dtype, self.target_dtype = device, dtype, target_dtype

    def x(self, X: Any) -> torch.Tensor:
        X = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
        return X.to(device=self.device, dtype=self.dtype, non_blocking=True)

    def y(self, y: Any) -> torch.Tensor:
        y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
        if self.target_dtype is not None:
            dtype = self.target_dtype
        else:  # an unknown loss: floating targets follow the model, integers stay
            dtype = self.dtype if y.is_floating_point() else y.dtype
        return y.to(device=self.device, dtype=dtype, non_blocking=True)

    def w(self, w: Any) -> torch.Tensor | None:
        if w is None:
            return None
        w = w if isinstance(w, torch.Tensor) else torch.as_tensor(np.asarray(w))
        return w.to(device=self.device, dtype=self.dtype, non_blocking=True).reshape(-1)

    def batch(self, item: Sequence[Any]) -> tuple:
        if not isinstance(item, list | tuple) or len(item) not in (2, 3):
            raise ValueError(
                "each batch or chunk must be (X, y) or (X, y, sample_weight), got "
                f"{type(item).__name__}"
                + (f" of length {len(item)}" if isinstance(item, list | tuple) else "")
            )
        X, y = self.x(item[0]), self.y(item[1])
        w = self.w(item[2]) if len(item) == 3 else None
        if len(X) != len(y) or (w is not None and len(w) != len(X)):
            raise ValueError(f"a batch has {len(X)} rows of X but {len(y)} targets")
        return (X, y, w)


class Source:
    """An epoch of batches; ``skip`` drops the first batches while consuming the generator
    exactly as a full epoch would, so a resumed epoch continues the same order."""

    n_batches: int | None = None
    # Data-parallel training (torchlinear.distributed.DataParallel, set by the trainer):
    # a "replicated" source holds the same rows on every rank, which then takes its part
    # of each global batch (a part may be empty); other sources are each rank's own rows.
    dp: Any = None
    replicated = False

    def batches(self, generator: torch.Generator, skip: int = 0) -> Iterator[tuple]:
        raise NotImplementedError

    def eval_batches(self) -> Iterator[tuple]:
        raise NotImplementedError

    def data_row(self, position: int) -> int | None:
        """The index, in the data as given, of row ``position`` of :meth:`eval_batches`
        (``None`` when a split leaves it unknown)."""
        return position


class TensorSource(Source):
    replicated = True

    def __init__(self, X, y, w, indices, cfg: TrainConfig, cast: Cast) -> None:
        self.X, self.y, self.w = cast.x(X), cast.y(y), cast.w(w)
        self.indices = None if indices is None else indices.to(self.X.device)
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        n = len(self.X) if self.indices is None else len(self.indices)
        self.n = n
        self.n_batches = num_batches(n, self.batch_size, self.drop_last)

    def batches(self, generator, skip=0):
        bs = self.batch_size
        if self.indices is None and skip == 0 and self.dp is None:  # the hot path
            for batch in iter_batches(
                self.X,
                self.y,
                bs,
                shuffle=self.shuffle,
                generator=generator,
                drop_last=self.drop_last,
                sample_weight=self.w,
            ):
                yield batch if len(batch) == 3 else (*batch, None)
            return
        positions = (
            torch.arange(self.n, device=self.X.device) if self.indices is None else self.indices
        )
        order = iter_batches(
            positions,
            None,
            bs,
            shuffle=self.shuffle,
            generator=generator,
            drop_last=self.drop_last,
        )
        for idx, _ in itertools.islice(order, skip, None):
            if self.dp is not None:  # data parallel: this rank's part of the global batch
                idx = idx[self.dp.part(len(idx))]
            w = None if self.w is None else self.w.index_select(0, idx)
            yield (self.X.index_select(0, idx), self.y.index_select(0, idx), w)

    def data_row(self, position: int) -> int | None:
        return position if self.indices is None else int(self.indices[position])

    def eval_batches(self, rows: int = EVAL_BATCH):
        if self.indices is not None:  # gathered rows are copies: keep them small
            rows = min(rows, EVAL_BATCH)
        for start in range(0, self.n, rows):
            stop = min(start + rows, self.n)
            if self.dp is not None:  # data parallel: this rank's part, others are summed
                part = self.dp.part(stop - start)
                start, stop = start + part.start, start + part.stop
                if start == stop:
                    continue
            if self.indices is None:
                sl = slice(start, stop)
                yield (self.X[sl], self.y[sl], None if self.w is None else self.w[sl])
            else:
                idx = self.indices[start:stop]
                w = None if self.w is None else self.w.index_select(0, idx)
                yield (self.X.index_select(0, idx), self.y.index_select(0, idx), w)


class PermutationSampler(Sampler[int]):
    """Yields ``epoch_permutation(n)`` from ``start`` on: the tensor path's order."""

    def __init__(self, n: int, generator: torch.Generator, shuffle: bool, start: int) -> None:
        self.n, self.generator, self.shuffle, self.start = n, generator, shuffle, start

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            order = epoch_permutation(self.n, "cpu", self.generator)
        else:
            order = torch.arange(self.n)
        return iter(order[self.start :].tolist())

    def __len__(self) -> int:
        return self.n - self.start


class DatasetSource(Source):
    replicated = True

    def __init__(
        self,
        dataset: Dataset,
        cfg: TrainConfig,
        cast: Cast,
        seed: int,
        rows: torch.Tensor | None = None,
    ) -> None:
        self.dataset, self.cast = dataset, cast
        self.rows = rows  # which rows of the data given ``dataset`` holds (a split's part)
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        self.num_workers = cfg.num_workers
        self.seed = seed
        try:
            self.n = len(dataset)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(
                "a Dataset source must define __len__ (map-style); pass an iterable dataset "
                "as a DataLoader or as a chunk source instead"
            ) from exc
        if self.n == 0:
            raise ValueError("the training Dataset is empty")
        self.n_batches = num_batches(self.n, self.batch_size, self.drop_last)

    def _loader(self, sampler: Sampler, batch_size: int, drop_last: bool) -> DataLoader:
        # The loader's own generator only seeds workers; the order comes from the sampler.
        if self.dp is not None:  # data parallel: a part may be empty, collated to None
            from torchlinear.distributed import RankBatchSampler, collate_or_none

            parts = RankBatchSampler(
                sampler,
                batch_size,
                drop_last=drop_last,
                rank=self.dp.rank,
                world_size=self.dp.world_size,
            )
            return DataLoader(
                self.dataset,
                batch_sampler=parts,
                collate_fn=collate_or_none,
                num_workers=self.num_workers,
                generator=torch.Generator().manual_seed(self.seed),
            )
        return DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def batches(self, generator, skip=0):
        sampler = PermutationSampler(self.n, generator, self.shuffle, skip * self.batch_size)
        for item in self._loader(sampler, self.batch_size, self.drop_last):
            yield None if item is None else self.cast.batch(item)

    def data_row(self, position: int) -> int | None:
        return position if self.rows is None else int(self.rows[position])

    def eval_batches(self):
        sampler = PermutationSampler(self.n, torch.Generator(), False, 0)
        for item in self._loader(sampler, min(self.n, 4096), False):
            if item is not None:
                yield self.cast.batch(item)


class LoaderSource(Source):
    """A DataLoader given by the user: its batching and order are used as they are."""

    def __init__(self, loader: DataLoader, cast: Cast) -> None:
        self.loader, self.cast = loader, cast
        try:
            self.n_batches = len(loader)
        except TypeError:
            self.n_batches = None

    def batches(self, generator, skip=0):
        for item in itertools.islice(iter(self.loader), skip, None):
            yield self.cast.batch(item)

    def eval_batches(self):
        for item in self.loader:
            yield self.cast.batch(item)


class ChunkSource(Source):
    """Chunks from a callable; optionally keeps only the training or the validation rows.

    Whether a row is held out is the library's one split rule,
    :func:`~torchlinear.data.split.holdout_mask` of its index among all the rows streamed,
    so the same rows are held out in every epoch, whatever the chunk sizes, without storing
    anything.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        cfg: TrainConfig,
        cast: Cast,
        *,
        val_fraction: float = 0.0,
        keep: str = "all",
        seed: int = 0,
    ) -> None:
        self.factory, self.cast = factory, cast
        self.batch_size, self.shuffle, self.drop_last = cfg.batch_size, cfg.shuffle, cfg.drop_last
        self.val_fraction, self.keep, self.seed = val_fraction, keep, seed
        self.n_batches = None

    def chunks(self) -> Iterator[tuple]:
        iterator = self.factory()
        if not hasattr(iterator, "__next__"):
            iterator = iter(iterator)
        offset = kept = 0
        for item in iterator:
            X, y, w = self.cast.batch(item)
            if self.keep != "all":
                mask = holdout_mask(offset, len(X), self.val_fraction, self.seed)
                offset += len(X)
                held_out = torch.from_numpy(mask).to(X.device)
                rows = held_out if self.keep == "val" else ~held_out
                X, y = X[rows], y[rows]
                w = None if w is None else w[rows]
            kept += len(X)
            if len(X):
                yield X, y, w
        if self.keep != "all" and offset and not kept:
            raise ParameterError(
                "val_split",
                "{param}={value} of {rows} rows leaves no {part} rows; pass {0} to train on "
                "every row, another {param}, or more rows",
                value=self.val_fraction,
                suggestions=[("val_split", 0)],
                rows=offset,
                part="validation" if self.keep == "val" else "training",
            )

    def batches(self, generator, skip=0):
        done = 0
        for X, y, w in self.chunks():
            count = num_batches(len(X), self.batch_size, self.drop_last)
            if done + count <= skip:  # replay the generator draw of a skipped chunk
                if self.shuffle:
                    epoch_permutation(len(X), X.device, generator)
                done += count
                continue
            batches = iter_batches(
                X,
                y,
                self.batch_size,
                shuffle=self.shuffle,
                generator=generator,
                drop_last=self.drop_last,
                sample_weight=w,
            )
            for i, batch in enumerate(batches):
                if done + i >= skip:
                    yield batch if len(batch) == 3 else (*batch, None)
            done += count

    def data_row(self, position: int) -> int | None:
        return position if self.keep == "all" else None

    def eval_batches(self):
        yield from self.chunks()


def is_array(value: Any) -> bool:
    return isinstance(value, torch.Tensor | np.ndarray) or hasattr(value, "__array__")


def build_sources(
    data: Any,
    val_data: Any,
    cfg: TrainConfig,
    cast: Cast,
    seed: int,
) -> tuple[Source, Source | None]:
    if val_data is not None and cfg.val_split:  # a mistake in the call: before any split
        raise ValueError("give either val_split or val_data, not both")
    if type(data) is TensorDataset and len(data.tensors) in (2, 3):
        data = data.tensors  # already tensors: index them directly, no per-sample fetch
    if isinstance(data, list | tuple) and len(data) in (2, 3) and all(is_array(v) for v in data):
        X, y = data[0], data[1]
        w = data[2] if len(data) == 3 else None
        n = len(X)
        if len(y) != n or (w is not None and len(w) != n):
            raise ValueError(f"y has {len(y)} rows but X has {n}")
        if cfg.val_split:
            train_idx, val_idx = split_indices(n, cfg.val_split, seed)
            train = TensorSource(X, y, w, train_idx, cfg, cast)
            val = TensorSource(train.X, train.y, train.w, val_idx, cfg, cast)
        else:
            train, val = TensorSource(X, y, w, None, cfg, cast), None
    elif isinstance(data, DataLoader):
        if cfg.val_split:
            raise ValueError(
                "val_split needs tensors, a Dataset or a chunk source; with a "
                "DataLoader pass val_data instead"
            )
        train, val = LoaderSource(data, cast), None
    elif isinstance(data, Dataset):
        if cfg.val_split:
            n = len(data)  # type: ignore[arg-type]
            train_idx, val_idx = split_indices(n, cfg.val_split, seed)
            train_set, val_set = Subset(data, train_idx.tolist()), Subset(data, val_idx.tolist())
            train = DatasetSource(train_set, cfg, cast, seed, rows=train_idx)
            val = DatasetSource(val_set, cfg, cast, seed, rows=val_idx)
        else:
            train, val = DatasetSource(data, cfg, cast, seed), None
    elif callable(data):
        if cfg.val_split:
            train = ChunkSource(
                data, cfg, cast, val_fraction=cfg.val_split, keep="train", seed=seed
            )
            val = ChunkSource(data, cfg, cast, val_fraction=cfg.val_split, keep="val", seed=seed)
        else:
            train, val = ChunkSource(data, cfg, cast), None
    else:
        raise ValueError(
            "data must be (X, y) or (X, y, sample_weight) arrays, a torch Dataset, a DataLoader "
            f"or a callable returning an iterator of chunks, got {type(data).__name__}"
        )
    if val_data is not None:
        no_split = dataclasses.replace(cfg, val_split=0.0, shuffle=False)
        val, _ = build_sources(val_data, None, no_split, cast, seed)
    return train, val


def split_indices(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and validation row indices by the one split rule
    (:func:`torchlinear.data.split.holdout_mask`)."""
    held = holdout_mask(0, n, fraction, seed)
    if held.all() or not held.any():
        raise ValueError(
            f"val_split={fraction} of {n} rows leaves no training data or no validation data "
            f"({int(held.sum())} row(s) held out); use another val_split or more rows"
        )
    return torch.from_numpy(np.flatnonzero(~held)), torch.from_numpy(np.flatnonzero(held))


def rows_at_most(batches: Iterable[tuple], rows: int) -> Iterator[tuple]:
    """``batches`` cut into parts of at most ``rows`` rows (views, no copy): a wide model's
    activations of a whole evaluation batch (65,536 rows x 30,000 hidden units) would not
    fit in memory.

    Examples
    --------
    >>> X = torch.arange(10.0).reshape(5, 2)
    >>> [len(part[0]) for part in rows_at_most([(X, X[:, 0], None)], 2)]
    [2, 2, 1]
    """
    for batch in batches:
        n = len(batch[0])
        if n <= rows:
            yield batch
            continue
        for start in range(0, n, rows):
            yield tuple(None if v is None else v[start : start + rows] for v in batch)


ACTIVATION_BYTES = 64 << 20
"""The activations an evaluation pass may hold at once: wide models evaluate fewer rows."""


def eval_rows(model: nn.Module) -> int:
    """Rows per evaluation step such that the layers' outputs (and, in the full-batch
    closure, their gradients) stay within :data:`ACTIVATION_BYTES`.

    Examples
    --------
    >>> eval_rows(nn.Linear(3, 1)), eval_rows(nn.Sequential(nn.Linear(4, 30_000), nn.ReLU()))
    (65536, 279)
    """
    width = sum(m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    item = max((p.element_size() for p in model.parameters()), default=8)
    return int(min(EVAL_BATCH, max(1, ACTIVATION_BYTES // (2 * item * max(width, 1)))))
