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
        ({"w": [float("nan")]}, "w must be a sequence of finite numbers, got nan"),
        # refused before generating: the float32 labels would overflow (1e39 was called inf)
        ({"w": [1e39, 2.0]}, r"^w is 1e\+39, 2: the labels would reach about 6e\+39, beyond "
         r"float32 \(the data's type\); choose w, b and noise with \|b\| \+ 6 \(sum of \|w\| "
         r"\+ noise\) below 3e\+37$"),
        ({"b": 1e38}, r"^b is 1e\+38: the labels would reach about 1e\+38"),
        ({"noise": 1e300}, r"^noise is 1e\+300: the labels would reach about 6e\+300"),
        (
            {"n": 10**9, "w": [1.0] * 100},
            r"1,000,000,000 examples x 100 features need 408 GB "
            r"for the synthetic data, above the memory budget",
        ),
    ],
)  # fmt: skip
def test_bad_arguments(kwargs, match):
    args = {"w": [1.0], "b": 0.0, "n": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        synthetic_regression(**args)
