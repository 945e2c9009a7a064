import math

import pytest
import torch
import torch.nn.functional as F

from torchlinear.models import MLP, LinearModel, SoftmaxHead, Standardized, build_model


def _x(n=7, d=3, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_linear_forward_and_shapes():
    model = LinearModel(3, seed=0)
    X = _x()
    expected = X @ model.linear.weight.detach()[0] + model.linear.bias.detach()[0]
    torch.testing.assert_close(model(X), expected)
    assert model(X).shape == (7,)  # one output: the target's shape (n,)
    assert LinearModel(3, squeeze=False, seed=0)(X).shape == (7, 1)
    multi = LinearModel(3, 4, seed=0)
    torch.testing.assert_close(multi(X), F.linear(X, multi.coef, multi.intercept))
    assert multi.coef.shape == (4, 3) and multi.intercept.shape == (4,)
    assert LinearModel(3, bias=False, seed=0).intercept is None


def test_seeded_init_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = LinearModel(50, seed=1), LinearModel(50, seed=1), LinearModel(50, seed=2)
    m1, m2 = MLP(5, 16, seed=3), MLP(5, 16, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.coef, b.coef) and not torch.equal(a.coef, c.coef)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters(), strict=True))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(LinearModel(4, generator=g1).coef, LinearModel(4, generator=g2).coef)


def test_init_distributions():
    big = LinearModel(40_000, seed=0)
    assert big.coef.std().item() == pytest.approx(0.01, rel=0.03)
    assert big.intercept.item() == 0.0
    assert torch.equal(LinearModel(3, init="zeros").coef, torch.zeros(1, 3))
    mlp = MLP(400, hidden=300, n_outputs=2, seed=0)
    assert mlp.hidden.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    assert mlp.output.weight.std().item() == pytest.approx(math.sqrt(1 / 300), rel=0.1)
    assert mlp.hidden.bias.abs().sum() == 0 and mlp.output.bias.abs().sum() == 0


def test_dtype_and_device():
    model = LinearModel(2, seed=0, dtype=torch.float64, device="cpu")
    assert model.linear.weight.dtype == torch.float64
    assert MLP(2, 3, seed=0, dtype=torch.float64).hidden.weight.dtype == torch.float64


def test_softmax_head():
    head = SoftmaxHead(3, 4, seed=0)
    X = _x()
    logits = X @ head.coef.T + head.intercept
    torch.testing.assert_close(head(X), logits)
    torch.testing.assert_close(head.predict_proba(X), torch.softmax(logits, dim=1))
    assert torch.equal(head.predict(X), logits.argmax(1))
    assert head(X[:1]).shape == (1, 4)
    with pytest.raises(ValueError, match="at least 2"):
        SoftmaxHead(3, 1)


def test_mlp_is_linear_relu_linear():
    mlp = MLP(3, hidden=5, seed=0)
    X = _x()
    h = torch.relu(X @ mlp.hidden.weight.T + mlp.hidden.bias)
    torch.testing.assert_close(mlp(X), (h @ mlp.output.weight.T + mlp.output.bias)[:, 0])
    assert MLP(3, 5, 2, seed=0)(X).shape == (7, 2)
    names = {id(p) for p in mlp.penalized_parameters()}
    assert names == {id(mlp.hidden.weight), id(mlp.output.weight)}


def test_penalized_parameters_exclude_biases():
    model = LinearModel(3, seed=0)
    assert [id(p) for p in model.penalized_parameters()] == [id(model.linear.weight)]


def test_standardized_wrapper():
    inner = LinearModel(2, seed=0)
    mean, scale = torch.tensor([1.0, -2.0]), torch.tensor([2.0, 0.5])
    model = Standardized(inner, mean, scale)
    X = _x(d=2)
    torch.testing.assert_close(model(X), inner((X - mean) / scale))
    assert set(model.state_dict()) == {
        "mean",
        "scale",
        "module.linear.weight",
        "module.linear.bias",
    }
    model64 = model.to(torch.float64)
    assert model64.mean.dtype == torch.float64
    assert model.penalized_parameters()[0] is inner.linear.weight


def test_build_model_and_errors():
    assert isinstance(build_model("linear", 3, seed=0), LinearModel)
    assert isinstance(build_model("linear", 3, 3, classification=True, seed=0), SoftmaxHead)
    mlp = build_model("mlp", 3, 3, hidden=4, classification=True, seed=0)
    assert isinstance(mlp, MLP) and mlp(_x()).shape == (7, 3)
    with pytest.raises(ValueError, match="model must be 'linear' or 'mlp'"):
        build_model("tree", 3)
    with pytest.raises(ValueError, match="n_features must be a positive integer"):
        LinearModel(0)
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        MLP(2, hidden=0)
    with pytest.raises(ValueError, match="init must be"):
        LinearModel(2, init="ones")


def test_a_layer_beyond_the_memory_budget_is_refused_before_allocating():
    from torchlinear._memory import memory_limit

    with memory_limit("100M"), pytest.raises(ValueError, match="x 2,000,000,000 outputs need"):
        MLP(2, 2_000_000_000, 1, seed=0)
    with memory_limit("100M"), pytest.raises(ValueError, match="100,000 inputs x 1,000 outputs"):
        SoftmaxHead(100_000, 1_000)
