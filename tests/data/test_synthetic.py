import pytest
import torch

from torchlinear.data import synthetic_regression


def test_shapes_dtypes_and_model():
    X, y, w, b = synthetic_regression([2.0, -3.4], 4.2, n=1000, noise=0.0, seed=1)
    assert X.shape == (1000, 2) and y.shape == (1000,)
    assert X.dtype == y.dtype == torch.float32
    torch.testing.assert_close(y, X @ torch.tensor([2.0, -3.4]) + 4.2)
    assert b == 4.2 and w.tolist() == pytest.approx([2.0, -3.4])


def test_noise_level_and_seed():
    d1 = synthetic_regression([1.0], 0.0, n=20000, noise=0.5, seed=3)
    d2 = synthetic_regression([1.0], 0.0, n=20000, noise=0.5, seed=3)
    assert torch.equal(d1.X, d2.X) and torch.equal(d1.y, d2.y)
    resid = d1.y - d1.X[:, 0]
    assert abs(resid.std().item() - 0.5) < 0.02
    assert abs(d1.X.std().item() - 1.0) < 0.02


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n must be"),
        ({"n": -5}, "n must be"),
        ({"noise": -1.0}, "noise must be"),
        ({"w": []}, "w must hold"),
        ({"w": [float("nan")]}, "w must be finite"),
        (
            {"n": 10**9, "w": [1.0] * 100},
            r"1,000,000,000 examples x 100 features need 408 GB "
            r"for the synthetic data, above the memory budget",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"w": [1.0], "b": 0.0, "n": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        synthetic_regression(**args)
