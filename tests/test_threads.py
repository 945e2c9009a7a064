"""The block pool of ``_threads.parallel``: one pool reused, ordered results, nesting,
concurrent callers, errors, and torch's thread count restored."""

import threading

import pytest
import torch

from torchlinear import _threads


def _blocks(n, k):
    return _threads.row_blocks(n, 1, k)


def test_results_follow_the_blocks_and_match_a_plain_sum():
    blocks = _blocks(1000, 4)
    parts = _threads.parallel(lambda lo, hi: sum(range(lo, hi)), blocks)
    assert len(parts) == len(blocks) == 4
    assert parts == [sum(range(lo, hi)) for lo, hi in blocks]
    assert sum(parts) == 999 * 1000 // 2  # closed form


def test_one_pool_serves_every_call():
    names = set()

    def who(lo, hi):
        names.add(threading.current_thread().name)
        return hi - lo

    for _ in range(50):
        assert _threads.parallel(who, _blocks(20, 2)) == [10, 10]
    pool = _threads._pool(2)
    assert len(names) <= pool._max_workers  # the same threads every time, not 100 new ones
    assert all(name.startswith("torchlinear-block") for name in names)
    assert _threads._pool(2) is pool


def test_a_call_from_inside_a_block_runs_inline():
    def outer(lo, hi):
        inner = _threads.parallel(lambda a, b: b - a, _blocks(hi - lo, 2))
        return sum(inner)

    assert _threads.parallel(outer, _blocks(40, 2)) == [20, 20]  # and no deadlock


def test_concurrent_callers_get_their_own_results():
    out = {}

    def caller(k):
        out[k] = _threads.parallel(lambda lo, hi: k * (hi - lo), _blocks(100, 2))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert out == {k: [50 * k, 50 * k] for k in range(6)}


def test_an_error_in_a_block_is_raised_after_every_block_ended():
    ended = []

    def fn(lo, hi):
        if lo == 0:
            raise ValueError("block 0 failed")
        ended.append(lo)
        return lo

    with pytest.raises(ValueError, match="block 0 failed"):
        _threads.parallel(fn, _blocks(4, 2))
    assert ended == [2]
    assert _threads.parallel(lambda lo, hi: lo, _blocks(4, 2)) == [0, 2]  # pool still usable


def test_blocks_run_single_threaded_and_the_count_is_restored():
    previous = torch.get_num_threads()
    torch.set_num_threads(3)  # not 1 (as under the suite's workers), so the cap shows
    try:
        inside = _threads.parallel(lambda lo, hi: _threads.torch_threads(), _blocks(4, 2))
        assert inside == [3, 3]  # the user's setting, seen through the cap
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(previous)
