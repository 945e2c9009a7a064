import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from torchlinear.io import load_model, save_model
from torchlinear.preprocessing import Standardizer

RNG = np.random.default_rng(0)


def _X(n=300, dtype=np.float64):
    X = RNG.normal(size=(n, 4)) * [1.0, 50.0, 1e-3, 7.0] + [0.0, -20.0, 3.0, 1e4]
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_sklearn_standard_scaler(dtype):
    X = _X(dtype=dtype)
    ref = StandardScaler().fit(X.astype(np.float64))
    s = Standardizer().fit(torch.from_numpy(X))
    assert s.mean_.dtype == torch.float64  # accumulated in float64 whatever the input
    np.testing.assert_allclose(s.mean_.numpy(), ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(s.var_.numpy(), ref.var_, rtol=1e-10)
    np.testing.assert_allclose(s.scale_.numpy(), ref.scale_, rtol=1e-10)
    Z = s.transform(torch.from_numpy(X))
    assert Z.dtype == torch.from_numpy(X).dtype
    tol = 2e-6 if dtype == np.float32 else 1e-12  # float32: one rounding of z
    np.testing.assert_allclose(Z.numpy(), ref.transform(X.astype(np.float64)), atol=tol)


def test_weighted_matches_sklearn():
    X = _X()
    w = RNG.uniform(0.0, 3.0, size=len(X))
    ref = StandardScaler().fit(X, sample_weight=w)
    s = Standardizer().fit(torch.from_numpy(X), torch.from_numpy(w))
    np.testing.assert_allclose(s.mean_.numpy(), ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(s.scale_.numpy(), ref.scale_, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_streamed_chunks_equal_one_pass(weighted):
    X = torch.from_numpy(_X(n=257))
    w = torch.from_numpy(RNG.uniform(0.1, 2.0, size=257)) if weighted else None
    whole = Standardizer().fit(X, w)
    streamed = Standardizer()
    bounds = [0, 1, 2, 50, 51, 200, 257]  # includes single-row chunks
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        streamed.partial_fit(X[a:b], None if w is None else w[a:b])
    torch.testing.assert_close(streamed.mean_, whole.mean_, rtol=1e-13, atol=0)
    torch.testing.assert_close(streamed.var_, whole.var_, rtol=1e-11, atol=0)
    assert streamed.n_samples_seen_ == pytest.approx(whole.n_samples_seen_)


def test_float32_offset_columns_are_accurate():
    # a float32 column around 1e4 with unit spread: float64 accumulation keeps the variance
    x = (1e4 + RNG.normal(size=(10_000, 1))).astype(np.float32)
    s = Standardizer()
    for chunk in torch.from_numpy(x).split(999):
        s.partial_fit(chunk)
    assert float(s.var_[0]) == pytest.approx(float(x.astype(np.float64).var()), rel=1e-10)


def test_round_trip():
    X = torch.from_numpy(_X())
    s = Standardizer().fit(X)
    Z = s.transform(X)
    torch.testing.assert_close(Z.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(Z.std(0, correction=0), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(s.inverse_transform(Z), X, rtol=1e-13, atol=1e-9)
    torch.testing.assert_close(s.fit_transform(X), Z)


def test_zero_variance_columns_do_not_give_nan():
    X = torch.tensor([[1.0, 0.1, 0.0], [2.0, 0.1, 0.0], [4.0, 0.1, 0.0]], dtype=torch.float32)
    s = Standardizer()
    for row in X.split(1):  # a constant 0.1 streamed row by row: rounding must not matter
        s.partial_fit(row)
    assert s.scale_[1:].tolist() == [1.0, 1.0]
    Z = s.transform(X)
    assert torch.isfinite(Z).all() and Z[:, 1:].abs().max() < 1e-6
    torch.testing.assert_close(s.inverse_transform(Z), X)
    single = Standardizer().fit(torch.tensor([[3.0, -1.0]]))  # a single row: all constant
    assert torch.equal(single.transform(torch.tensor([[3.0, -1.0]])), torch.zeros(1, 2))


def test_coefficients_map_to_original_scale():
    X = torch.from_numpy(_X(n=50))
    s = Standardizer().fit(X)
    W = torch.from_numpy(RNG.normal(size=(3, 4)))
    b = torch.from_numpy(RNG.normal(size=3))
    W0, b0 = s.coef_to_original(W, b)
    # the same predictions from raw features
    torch.testing.assert_close(X @ W0.T + b0, s.transform(X) @ W.T + b, rtol=1e-9, atol=1e-9)
    W1, b1 = s.coef_to_standardized(W0, b0)
    torch.testing.assert_close(W1, W)
    torch.testing.assert_close(b1, b)


def test_no_mean_and_no_std_options():
    X = torch.from_numpy(_X(n=60))
    s = Standardizer(with_mean=False).fit(X)
    assert torch.equal(s.mean_, torch.zeros(4, dtype=torch.float64))
    torch.testing.assert_close(s.transform(X), X / X.std(0, correction=0))
    W0, b0 = s.coef_to_original(torch.ones(1, 4, dtype=torch.float64), None)
    assert b0 is None
    torch.testing.assert_close(W0[0], 1 / X.std(0, correction=0))
    with pytest.raises(ValueError, match="cannot absorb centring"):
        Standardizer().fit(X).coef_to_original(torch.ones(1, 4, dtype=torch.float64), None)
    t = Standardizer(with_std=False).fit(X)
    torch.testing.assert_close(t.transform(X), X - X.mean(0))


def test_state_survives_a_model_file(tmp_path):
    X = torch.from_numpy(_X(n=80))
    s = Standardizer(with_mean=True).fit(X[:40])
    save_model(tmp_path, s.state_dict(), {"kind": "scaler"})
    tensors, _ = load_model(tmp_path)
    restored = Standardizer.from_state_dict(tensors)
    torch.testing.assert_close(restored.transform(X), s.transform(X), rtol=0, atol=0)
    restored.partial_fit(X[40:])  # streaming can continue after a reload
    torch.testing.assert_close(restored.mean_, X.mean(0))


def test_errors():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(torch.zeros(2, 2))
    s = Standardizer().fit(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="X has 3 columns but the standardizer was fitted on 2"):
        s.transform(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="every chunk must have the same columns"):
        s.partial_fit(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="must be 2-D"):
        Standardizer().fit(torch.zeros(3))
    with pytest.raises(ValueError, match="non-negative"):
        Standardizer().fit(torch.zeros(2, 1), torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="missing"):
        Standardizer.from_state_dict({"mean": torch.zeros(1)})
    assert "unfitted" in repr(Standardizer())
