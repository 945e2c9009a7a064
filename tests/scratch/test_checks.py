"""The divergence warning of every trainer, and the guards kept outside the lean functions."""

from __future__ import annotations

import importlib
import inspect
import math
import warnings

import pytest
import torch

from torchlinear.concise import linreg_net, train_concise
from torchlinear.concise.softmax import softmax_net, train_softmax_concise
from torchlinear.data import synthetic_regression
from torchlinear.scratch import (
    LinearRegressionScratch,
    NonFiniteLossWarning,
    data_iter,
    init_params,
    linreg,
    sgd,
    squared_loss,
    train,
    train_module,
)

# `torchlinear.scratch.softmax` is also the name of a function that the package re-exports.
scratch_softmax = importlib.import_module("torchlinear.scratch.softmax")


def _regression():
    X, y, _, _ = synthetic_regression([2.0, -3.4], 4.2, n=200, noise=0.01, seed=0)
    return X, y


def _diverging_warnings(run) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [w for w in caught if issubclass(w.category, NonFiniteLossWarning)]


def test_scratch_train_warns_once_naming_the_learning_rate():
    X, y = _regression()
    w, b = init_params(2, generator=torch.Generator().manual_seed(0))
    losses, caught = _diverging_warnings(
        lambda: train(X, y, w, b, lr=300.0, batch_size=10, epochs=3,
                      generator=torch.Generator().manual_seed(0))
    )  # fmt: skip
    assert not any(math.isfinite(v) for v in losses), losses  # the [inf, nan, nan] of the issue
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "lr=300" in message and "lr=30" in message and message.startswith("scratch")


def test_a_good_learning_rate_does_not_warn():
    X, y = _regression()
    w, b = init_params(2, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteLossWarning)
        losses = train(X, y, w, b, lr=0.03, epochs=15, generator=torch.Generator().manual_seed(0))
    assert losses[-1] < 1e-3


def test_concise_trainers_warn_on_a_non_finite_loss():
    X, y = _regression()
    net = linreg_net(2, generator=torch.Generator().manual_seed(0))
    losses, caught = _diverging_warnings(
        lambda: train_concise(net, X, y, lr=300.0, epochs=3,
                              generator=torch.Generator().manual_seed(0))
    )  # fmt: skip
    assert not math.isfinite(losses[-1]) and len(caught) == 1
    assert str(caught[0].message).startswith("concise") and "lr=300" in str(caught[0].message)

    Xc = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    yc = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))  # not separable
    net = softmax_net(3, 3, generator=torch.Generator().manual_seed(0))
    fit, caught = _diverging_warnings(
        lambda: train_softmax_concise(net, Xc, yc, lr=1e38, batch_size=16, epochs=2)
    )
    assert not math.isfinite(fit.history["train_loss"][-1]) and len(caught) == 1
    assert "lr=1e+38" in str(caught[0].message)


def test_scratch_softmax_train_warns_on_a_non_finite_loss():
    Xc = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    yc = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))  # not separable
    fit, caught = _diverging_warnings(
        lambda: scratch_softmax.train(Xc, yc, lr=1e38, batch_size=16, epochs=2)
    )
    assert not math.isfinite(fit.history["train_loss"][-1]) and len(caught) == 1


@pytest.mark.parametrize(
    ("func", "max_lines"),
    [(linreg, 1), (squared_loss, 1), (sgd, 4), (data_iter, 5),
     (scratch_softmax.softmax, 3), (scratch_softmax.cross_entropy, 1)],
)  # fmt: skip
def test_the_functions_a_learner_reads_are_as_short_as_the_books(func, max_lines):
    source = inspect.getsource(inspect.unwrap(func))
    body = source.split('"""')[-1].strip().splitlines()
    assert len(body) <= max_lines, f"{func.__name__} has {len(body)} lines of code:\n{source}"
    assert "raise" not in "\n".join(body) and "tqdm" not in "\n".join(body)


def _book_problem():
    X, y, _, _ = synthetic_regression([2.0, -3.4], 4.2, n=1000, noise=0.01, seed=0)
    return X, y


def test_a_loss_that_explodes_but_stays_finite_warns_too():
    # lr=1.9 is just past 2/λ_max ≈ 1.84 of the book's problem: the loss grows a
    # thousandfold per epoch (about 1e5, 1e9, 1e15) and never reaches inf in three epochs.
    X, y = _book_problem()
    w, b = init_params(2, generator=torch.Generator().manual_seed(0))
    losses, caught = _diverging_warnings(
        lambda: train(X, y, w, b, lr=1.9, epochs=3, generator=torch.Generator().manual_seed(0))
    )
    assert all(math.isfinite(v) for v in losses) and losses[-1] > 1e9, losses
    assert len(caught) == 1
    message = str(caught[0].message)
    assert (
        message.startswith("scratch training loss is ") and "after epoch 1 with lr=1.9" in message
    )
    assert "over 1000 times the" in message and "try lr=0.19" in message


@pytest.mark.parametrize("flavour", ["module", "concise"])
def test_every_regression_trainer_warns_on_an_exploding_finite_loss(flavour):
    X, y = _book_problem()
    start = torch.Generator().manual_seed(0)
    if flavour == "module":
        model = LinearRegressionScratch(2, generator=start)
        trainer, fitted = train_module, model
    else:
        trainer, fitted = train_concise, linreg_net(2, generator=start)
    losses, caught = _diverging_warnings(
        lambda: trainer(fitted, X, y, lr=1.9, epochs=3, generator=torch.Generator().manual_seed(0))
    )
    assert all(math.isfinite(v) for v in losses) and losses[-1] > 1e9, losses
    assert len(caught) == 1 and "over 1000 times the" in str(caught[0].message)


def test_a_learning_rate_close_to_the_limit_does_not_warn():
    # lr=1.5 is stable but noisy: the loss wanders between 1e-4 and 1e-3, far below the start.
    X, y = _book_problem()
    w, b = init_params(2, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteLossWarning)
        losses = train(X, y, w, b, lr=1.5, epochs=3, generator=torch.Generator().manual_seed(0))
    assert losses[-1] < 1e-2


def _classes():
    X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))
    return X, y


@pytest.mark.parametrize("flavour", ["scratch", "concise"])
def test_every_softmax_trainer_warns_on_an_exploding_finite_loss(flavour):
    # the stable cross-entropy grows only linearly in the logits: it stays finite (about
    # 1e9 here) however far the weights fly, so the inf/nan test alone never fired
    X, y = _classes()
    X = 100 * X
    if flavour == "scratch":
        run = lambda: scratch_softmax.train(X, y, lr=1e6, batch_size=16, epochs=2)  # noqa: E731
    else:
        net = softmax_net(3, 3, generator=torch.Generator().manual_seed(0))
        run = lambda: train_softmax_concise(  # noqa: E731
            net, X, y, lr=1e6, batch_size=16, epochs=2, generator=torch.Generator().manual_seed(0)
        )
    fit, caught = _diverging_warnings(run)
    losses = fit.history["train_loss"]
    assert all(math.isfinite(v) for v in losses) and losses[0] > 1e6, losses
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{flavour} training loss is ") and "over 1000 times the" in message


def test_a_good_softmax_learning_rate_does_not_warn():
    X, y = _classes()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteLossWarning)
        fit = scratch_softmax.train(X, y, lr=0.5, batch_size=16, epochs=5)
    assert fit.history["train_loss"][-1] < math.log(3)


LABEL_FUNCTIONS = [
    scratch_softmax.cross_entropy,
    scratch_softmax.softmax_cross_entropy,
    scratch_softmax.accuracy,
]


@pytest.mark.parametrize("func", LABEL_FUNCTIONS)
@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([0, 1, -1, 2], r"y holds the label -1 \(at index 2\), but class labels are 0, 1"),
        ([0.0, 1.5, 2.0, 1.0], r"y holds the label 1.5 \(at index 1\), but class labels are"),
        ([0, 1, 3, 2], r"label 3 \(at index 2\), but the predictions have 3 columns, for labels"),
    ],
)
def test_a_label_that_would_pick_another_class_is_refused(func, labels, message):
    # before: cross_entropy indexed the last class for -1 (a finite, wrong loss) and
    # softmax_cross_entropy cut 1.5 to class 1; labels past k raised torch's IndexError
    O = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 3.0], [0.0, 0.0, 0.0]])
    P = scratch_softmax.softmax(O)
    with pytest.raises(ValueError, match=message):
        func(O if func is scratch_softmax.softmax_cross_entropy else P, torch.tensor(labels))


@pytest.mark.parametrize("func", LABEL_FUNCTIONS)
def test_one_hot_labels_are_refused_naming_argmax(func):
    O = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    one_hot = torch.eye(3)[[0, 2, 1, 2]]
    with pytest.raises(ValueError, match=r"\(4, 3\), one column per class .*y.argmax\(dim=1\)"):
        func(O, one_hot)


def test_whole_float_labels_are_class_indices():
    P = scratch_softmax.softmax(torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]))
    expected = -torch.log(torch.stack([P[0, 2], P[1, 1]]))
    got = scratch_softmax.cross_entropy(P, torch.tensor([2.0, 1.0]))  # was an IndexError
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("flavour", ["scratch", "concise"])
def test_softmax_trainers_check_labels_and_features_at_their_boundary(flavour):
    X, y = _classes()

    def fit(X_, y_, *val):
        if flavour == "scratch":
            return scratch_softmax.train(X_, y_, *val, lr=0.5, batch_size=16, epochs=2).history
        net = softmax_net(3, 3, generator=torch.Generator().manual_seed(0))
        return train_softmax_concise(
            net, X_, y_, *val, lr=0.5, batch_size=16, epochs=2,
            generator=torch.Generator().manual_seed(0),
        ).history  # fmt: skip

    with pytest.raises(ValueError, match=r"label 0.5 \(at index 0\)"):
        fit(X, torch.cat([torch.tensor([0.5]), y[1:].float()]))
    with pytest.raises(ValueError, match=r"label -1 \(at index 0\)"):
        fit(X, torch.cat([torch.tensor([-1]), y[1:]]))
    with pytest.raises(ValueError, match=r"\(64, 3\), one-hot: one column per class.*argmax"):
        fit(X, torch.eye(3)[y])
    with pytest.raises(ValueError, match=r"X has no rows \(shape \(0, 3\)\)"):
        fit(X[:0], y[:0])
    # integer features (raw pixels, counts) train as the same numbers in floating point
    counts = torch.randint(0, 4, (64, 3), generator=torch.Generator().manual_seed(2))
    assert fit(counts, y) == fit(counts.float(), y)


def test_scratch_softmax_train_names_validation_features_of_another_width():
    X, y = _classes()
    with pytest.raises(ValueError, match="X_val has 2 features per example but X has 3"):
        scratch_softmax.train(X, y, X[:, :2], y, epochs=1)


def test_concise_softmax_names_a_label_past_the_networks_outputs():
    X, y = _classes()
    net = softmax_net(3, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"the predictions have 2 columns, for labels 0..1"):
        train_softmax_concise(net, X, y, epochs=1)


def test_logits_given_to_cross_entropy_are_refused_naming_the_fused_loss():
    # before: -log of a logit, nan for -1.0 and a negative loss for 3.0, without an error
    O = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    y = torch.tensor([1, 2])
    with pytest.raises(
        ValueError,
        match=r"^y_hat holds 2 \(row 0\), not a probability: cross_entropy takes softmax\(O\); "
        r"pass softmax\(O\), or give the logits O to softmax_cross_entropy\(O, y\)$",
    ):
        scratch_softmax.cross_entropy(O, y)
    P = scratch_softmax.softmax(O)
    expected = torch.nn.functional.cross_entropy(O, y, reduction="none")
    torch.testing.assert_close(scratch_softmax.cross_entropy(P, y), expected)
    # a probability that overflowed to nan stays the symptom the examples show
    assert torch.isnan(scratch_softmax.cross_entropy(torch.full((1, 2), float("nan")), y[:1]))[0]
