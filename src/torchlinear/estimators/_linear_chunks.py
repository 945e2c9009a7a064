"""How :meth:`LinearRegression.fit_chunks <torchlinear.LinearRegression.fit_chunks>` reads
its chunks: a re-iterable stream of tensors that records the sample weights it saw, and one
pass of Gram statistics combined over the processes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from torchlinear.exact import GramStats
from torchlinear.exact.driver import Combine
from torchlinear.stats import WeightInfo

__all__ = ["WeightedStream", "gram_of_stream"]


class WeightedStream:
    """A chunk stream (a fresh pass per call) of ``(X, y, sample_weight)`` tensors that
    records, of its first complete pass, the rows with a positive weight, the sum of their
    log-weights and the number of weighted rows (``weight_sums``).

    Examples
    --------
    >>> stream = WeightedStream(lambda: [([[1.0], [2.0]], [1.0, 2.0], [1.0, 0.0])])
    >>> [tuple(X.shape) for X, _, _ in stream()], stream.weight_sums.tolist()
    ([(2, 1)], [1.0, 0.0, 2.0])
    """

    def __init__(self, chunks: Callable[[], Iterable[tuple[Any, ...]]]) -> None:
        self.chunks = chunks
        self.passes = 0
        self.weight_sums = torch.zeros(3, dtype=torch.float64)

    def __call__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        self.passes += 1
        counting = self.passes <= 2  # a probe may cut the first pass short
        sums = torch.zeros(3, dtype=torch.float64)
        for item in self.chunks():
            X = torch.as_tensor(item[0])
            y = torch.as_tensor(item[1])
            w = None if len(item) < 3 or item[2] is None else torch.as_tensor(item[2])
            if counting:
                info = WeightInfo(X.shape[0], 0.0) if w is None else WeightInfo.of(w)
                sums += torch.tensor(
                    [info.n_positive, info.log_weight_sum, 0 if w is None else X.shape[0]],
                    dtype=torch.float64,
                )
            yield X, y, w
        if counting:  # a complete pass
            self.weight_sums.copy_(sums)


def gram_of_stream(stream: WeightedStream, n_features: int, combine: Combine) -> GramStats:
    """The Gram statistics of one pass over ``stream`` (one target), combined over the
    processes; an error is shared with the other ranks before anyone waits.

    Examples
    --------
    >>> from torchlinear.exact import LOCAL
    >>> stream = WeightedStream(lambda: [([[1.0], [2.0]], [1.0, 2.0])])
    >>> gram_of_stream(stream, 1, LOCAL).n_samples
    2
    """
    stats = GramStats.zeros(n_features, 1)
    error: BaseException | None = None
    try:
        for X, y, w in stream():
            stats.update(X, y.reshape(-1, 1), w)
    except Exception as exc:
        error = exc
    combine.agree(error, (n_features, 1))
    return combine.gram(stats)
