import pytest
import torch
from torch.utils.data import DataLoader

from torchlinear.concise import half_mse, linreg_net, train_concise
from torchlinear.data import synthetic_regression
from torchlinear.scratch import closed_form, data_iter, init_params, train

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def textbook():
    return synthetic_regression(TRUE_W, TRUE_B, n=1000, noise=0.01, seed=0)


class Replay:
    """Re-iterable minibatches drawn like ``data_iter`` from a seeded generator."""

    def __init__(self, batch_size, X, y, seed):
        self.args = (batch_size, X, y)
        self.generator = gen(seed)

    def __iter__(self):
        return data_iter(*self.args, self.generator)


def test_concise_recovers_textbook_parameters(textbook):
    X, y, w_true, b_true = textbook
    net = linreg_net(2, generator=gen(1))
    losses = train_concise(net, X, y, lr=0.03, batch_size=10, epochs=3, generator=gen(2))
    assert len(losses) == 3
    assert torch.allclose(net[0].weight.detach().reshape(-1), w_true, atol=0.01)
    assert abs(net[0].bias.item() - b_true) < 0.01
    # the reported loss is half the MSE over all the data, checked with torch's own mse_loss
    y_hat = net(X).detach().reshape(-1)
    assert losses[-1] == pytest.approx(0.5 * torch.nn.functional.mse_loss(y_hat, y).item())


def test_scratch_and_concise_agree_with_same_start_and_batch_order(textbook):
    X, y, _, _ = textbook
    w, b = init_params(2, generator=gen(7))
    net = linreg_net(2)
    with torch.no_grad():
        net[0].weight.copy_(w.reshape(1, -1))
        net[0].bias.copy_(b)
    losses_s = train(X, y, w, b, lr=0.03, batch_size=10, epochs=3, generator=gen(8))
    losses_c = train_concise(
        net, X, y, lr=0.03, batch_size=10, epochs=3, loader=Replay(10, X, y, seed=8)
    )
    torch.testing.assert_close(
        net[0].weight.detach().reshape(-1), w.detach().reshape(-1), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(net[0].bias.detach(), b.detach(), atol=1e-4, rtol=0)
    assert losses_c == pytest.approx(losses_s, rel=1e-3, abs=1e-7)


def test_same_seed_gives_same_init_for_scratch_and_concise():
    # (d, 1) and (1, d) are filled in the same order from the same stream
    w, _ = init_params(5, generator=gen(3))
    net = linreg_net(5, generator=gen(3))
    assert torch.equal(net[0].weight.detach(), w.detach().reshape(1, -1))


def test_concise_partial_last_batch_matches_scratch():
    X, y, _, _ = synthetic_regression([1.0, 0.5, -2.0], 0.3, n=103, seed=4)
    w, b = init_params(3, generator=gen(0))
    net = linreg_net(3, generator=gen(0))
    train(X, y, w, b, lr=0.05, batch_size=10, epochs=4, generator=gen(1))
    train_concise(net, X, y, lr=0.05, batch_size=10, epochs=4, loader=Replay(10, X, y, 1))
    torch.testing.assert_close(
        net[0].weight.detach().reshape(-1), w.detach().reshape(-1), atol=1e-5, rtol=0
    )


def test_linreg_net_init_uses_only_the_given_generator():
    state = torch.get_rng_state()
    net = linreg_net(20_000, generator=gen(0))
    assert torch.equal(torch.get_rng_state(), state), "the global RNG must stay untouched"
    layer = net[0]
    assert isinstance(net, torch.nn.Sequential) and isinstance(layer, torch.nn.Linear)
    assert layer.weight.shape == (1, 20_000) and layer.bias.tolist() == [0.0]
    assert abs(layer.weight.std().item() - 0.01) < 0.0005
    assert torch.equal(linreg_net(20_000, generator=gen(0))[0].weight, layer.weight)
    assert linreg_net(2, dtype=torch.float64)[0].weight.dtype == torch.float64


def test_target_shape_n_and_n1_give_identical_fits(textbook):
    X, y, _, _ = textbook
    weights = []
    for target in (y, y.reshape(-1, 1)):
        net = linreg_net(2, generator=gen(0))
        train_concise(net, X, target, epochs=1, generator=gen(1))
        weights.append(torch.cat([net[0].weight.detach().reshape(-1), net[0].bias.detach()]))
    assert torch.equal(weights[0], weights[1])


def test_concise_dataloader_order_follows_generator(textbook):
    X, y, _, _ = textbook
    fits = []
    for seed in (5, 5, 6):
        net = linreg_net(2, generator=gen(0))
        train_concise(net, X[:100], y[:100], epochs=1, generator=gen(seed))
        fits.append(net[0].weight.detach().clone())
    assert torch.equal(fits[0], fits[1])
    assert not torch.equal(fits[0], fits[2])


def test_converged_concise_fit_matches_closed_form():
    X, y, _, _ = synthetic_regression([0.7, -1.2, 2.5], -0.4, n=400, noise=0.5, seed=2)
    net = linreg_net(3, dtype=torch.float64, generator=gen(0))
    # full-batch gradient descent (one batch per epoch) converges to least squares
    X, y = X.double(), y.double()
    train_concise(net, X, y, lr=0.5, epochs=300, loader=[(X, y)])
    w, b = closed_form(X, y)
    torch.testing.assert_close(net[0].weight.detach().reshape(-1), w, atol=1e-8, rtol=0)
    assert net[0].bias.item() == pytest.approx(b.item(), abs=1e-8)


def test_half_mse_shape_guard():
    y_hat = torch.tensor([[1.0], [2.0], [4.0]])
    y = torch.tensor([1.5, 2.0, 1.0])
    expected = 0.5 * torch.nn.functional.mse_loss(y_hat.reshape(-1), y)
    torch.testing.assert_close(half_mse(y_hat, y), expected)
    torch.testing.assert_close(half_mse(y_hat, y.reshape(-1, 1)), expected)
    with pytest.raises(ValueError, match=r"y has shape \(4,\) but the predictions have shape"):
        half_mse(y_hat, torch.zeros(4))


def test_net_with_wrong_output_width_is_rejected():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="pass one target per prediction"):
        train_concise(net, torch.zeros(4, 2), torch.zeros(4), batch_size=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": 0}, "lr must be a finite number > 0, got 0"),
        ({"lr": float("nan")}, "lr must be a finite number > 0, got nan"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"batch_size": -3}, "batch_size must be a positive integer, got -3"),
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ],
)
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_concise(linreg_net(1), torch.zeros(4, 1), torch.zeros(4), **kwargs)


def test_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match="y has 999 rows but X has 1000"):
        train_concise(linreg_net(2), torch.zeros(1000, 2), torch.zeros(999))


def test_default_loader_is_a_shuffling_dataloader(textbook, monkeypatch):
    made = []
    original = DataLoader.__init__

    def spy(self, *args, **kwargs):
        made.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(DataLoader, "__init__", spy)
    X, y, _, _ = textbook
    train_concise(linreg_net(2), X[:20], y[:20], batch_size=5, epochs=1)
    assert made and made[0]["shuffle"] is True
