import pytest
import torch

from torchlinear.data import iter_batches
from torchlinear.data.batching import epoch_permutation, num_batches


def _rows(batches):
    return torch.cat([yb for _, yb, *_ in batches]).tolist()


@pytest.mark.parametrize("n, batch_size", [(1, 1), (10, 3), (10, 5), (7, 100), (257, 32)])
def test_every_index_exactly_once_per_epoch(n, batch_size):
    X = torch.arange(n, dtype=torch.float64).reshape(n, 1).repeat(1, 3)
    y = torch.arange(n)
    g = torch.Generator().manual_seed(5)
    for _ in range(3):  # several epochs from one generator: each is a permutation
        batches = list(iter_batches(X, y, batch_size, generator=g))
        assert len(batches) == num_batches(n, batch_size)
        assert sorted(_rows(batches)) == list(range(n))
        assert all(len(yb) == batch_size for _, yb in batches[:-1])
        for Xb, yb in batches:  # rows stay paired with their targets
            assert torch.equal(Xb[:, 0].long(), yb) and torch.equal(Xb[:, 2].long(), yb)


def test_same_seed_same_order_and_new_epochs_differ():
    X, y = torch.randn(50, 2), torch.arange(50)
    order = [
        _rows(iter_batches(X, y, 8, generator=torch.Generator().manual_seed(s))) for s in (1, 1, 2)
    ]
    assert order[0] == order[1]
    assert order[0] != order[2]
    g = torch.Generator().manual_seed(1)
    first, second = (
        _rows(iter_batches(X, y, 8, generator=g)),
        _rows(iter_batches(X, y, 8, generator=g)),
    )
    assert first == order[0] and second != first


def test_order_matches_torch_randperm():
    # The permutation is torch.randperm driven by the same generator state.
    X, y = torch.randn(20, 2), torch.arange(20)
    expected = torch.randperm(20, generator=torch.Generator().manual_seed(9)).tolist()
    assert _rows(iter_batches(X, y, 6, generator=torch.Generator().manual_seed(9))) == expected


def test_no_shuffle_is_in_order_and_views():
    X, y = torch.randn(10, 2), torch.arange(10)
    batches = list(iter_batches(X, y, 4, shuffle=False))
    assert _rows(batches) == list(range(10))
    assert batches[0][0].data_ptr() == X.data_ptr()  # a view, no copy


def test_drop_last_and_weights():
    X, y, w = torch.randn(10, 2), torch.arange(10), torch.arange(10.0) * 2
    for shuffle in (True, False):
        batches = list(
            iter_batches(
                X,
                y,
                4,
                shuffle=shuffle,
                drop_last=True,
                sample_weight=w,
                generator=torch.Generator().manual_seed(0),
            )
        )
        assert len(batches) == num_batches(10, 4, drop_last=True) == 2
        for Xb, yb, wb in batches:
            assert len(Xb) == 4
            torch.testing.assert_close(wb, yb.double().float() * 2)
            torch.testing.assert_close(Xb, X[yb])
        assert len(set(_rows(batches))) == 8


def test_y_none_and_bad_arguments():
    X = torch.randn(5, 2)
    assert [yb for _, yb in iter_batches(X, None, 2)] == [None, None, None]
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        list(iter_batches(X, None, 0))
    with pytest.raises(ValueError, match="y has 4 rows but X has 5"):
        list(iter_batches(X, torch.zeros(4), 2))
    with pytest.raises(ValueError, match="sample_weight has 3 rows"):
        list(iter_batches(X, torch.zeros(5), 2, sample_weight=torch.ones(3)))


def test_permutation_drawn_on_generator_device():
    g = torch.Generator(device="cpu").manual_seed(3)
    perm = epoch_permutation(6, "cpu", g)
    assert perm.dtype == torch.int64 and sorted(perm.tolist()) == list(range(6))
