"""The book's chapter-3 call sequences, run against ``torchlinear.d2l``.

Each test writes out the calls that one section of 《动手学深度学习》 makes (3.2, 3.3, 3.5, 3.6,
3.7), on small generated data, and checks the numbers against independent references:
NumPy least squares, scikit-learn's accuracy, a log-softmax computed in NumPy, PIL's
bilinear resize, and the bytes of IDX files written here in the official format.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from torchlinear import d2l

N_TRAIN, N_TEST = 600, 200


@pytest.fixture(autouse=True)
def figures_in_tmp(tmp_path: Path):
    d2l.set_figure_dir(tmp_path / "figures")
    yield tmp_path / "figures"
    d2l.set_figure_dir(None)


def _write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 0x00000803, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x00000801, n) + labels.astype(np.uint8).tobytes())


@pytest.fixture
def fashion_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A small Fashion-MNIST in the official IDX format: class pattern plus noise."""
    rng = np.random.default_rng(0)
    patterns = rng.random((10, 28, 28))
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = rng.integers(0, 10, n)
        images = ((0.7 * patterns[labels] + 0.3 * rng.random((n, 28, 28))) * 255).astype(np.uint8)
        _write_idx(folder, split, images, labels)
        arrays[split] = (images, labels)
    monkeypatch.setenv("TORCHLINEAR_DATA", str(tmp_path / "data"))
    return arrays


def _book_data_iter(batch_size, features, labels):
    # The generator of section 3.2, as the book writes it.
    num_examples = len(features)
    indices = list(range(num_examples))
    np.random.default_rng(0).shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def _lstsq(features: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    A = np.hstack([features.double().numpy(), np.ones((len(features), 1))])
    return np.linalg.lstsq(A, labels.double().numpy().ravel(), rcond=None)[0]


def test_synthetic_data_has_the_books_shapes_and_noise() -> None:
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 20000)
    assert features.shape == (20000, 2) and labels.shape == (20000, 1)
    noise = (labels[:, 0] - features @ true_w - true_b).double().numpy()
    assert abs(noise.std() - 0.01) < 3e-4 and abs(noise.mean()) < 3e-4
    assert np.allclose(features.double().numpy().std(axis=0), 1.0, atol=0.03)


def test_section_3_2_linear_regression_from_scratch() -> None:
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 1000)
    batch_size = 10
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr, num_epochs = 0.03, 3
    net, loss = d2l.linreg, d2l.squared_loss
    epoch_losses = []
    for _ in range(num_epochs):
        for X, y in _book_data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)
            l.sum().backward()
            d2l.sgd([w, b], lr, batch_size)
        with torch.no_grad():
            epoch_losses.append(float(loss(net(features, w, b), labels).mean()))
    exact = _lstsq(features, labels)
    assert np.allclose(w.detach().numpy().ravel(), exact[:2], atol=2e-3)
    assert abs(b.item() - exact[2]) < 2e-3
    # The final loss is the least-squares loss: half the noise variance, 0.5e-4.
    assert epoch_losses[0] > epoch_losses[-1] and epoch_losses[-1] < 1e-4


def test_section_3_3_concise_linear_regression() -> None:
    torch.manual_seed(1)
    features, labels = d2l.synthetic_data(torch.tensor([2, -3.4]), 4.2, 1000)
    data_iter = d2l.load_array((features, labels), 10)
    X0, y0 = next(iter(data_iter))
    assert X0.shape == (10, 2) and y0.shape == (10, 1)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    for _ in range(3):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
    exact = _lstsq(features, labels)
    assert np.allclose(net[0].weight.data.numpy().ravel(), exact[:2], atol=2e-3)
    assert abs(net[0].bias.item() - exact[2]) < 2e-3
    ordered = d2l.load_array((features, labels), 300, is_train=False)
    assert [len(y) for _, y in ordered] == [300, 300, 300, 100]
    assert torch.equal(next(iter(ordered))[0], features[:300])


def test_section_3_5_reads_the_idx_files(fashion_files) -> None:
    train_iter, test_iter = d2l.load_data_fashion_mnist(32)
    X, y = next(iter(test_iter))  # the test iterator is not shuffled
    images, labels = fashion_files["t10k"]
    assert X.dtype == torch.float32 and X.shape == (32, 1, 28, 28) and y.dtype == torch.int64
    assert np.allclose(X[:, 0].numpy(), images[:32] / 255.0, atol=1e-7)
    assert np.array_equal(y.numpy(), labels[:32])
    assert sum(len(y) for _, y in train_iter) == N_TRAIN
    assert sum(len(y) for _, y in test_iter) == N_TEST
    assert d2l.get_fashion_mnist_labels([0, 2, 9]) == ["t-shirt", "pullover", "ankle boot"]
    timer = d2l.Timer()
    seen = sum(X.shape[0] for X, _ in train_iter)
    assert seen == N_TRAIN and timer.stop() >= 0 and d2l.get_dataloader_workers() == 0


def test_section_3_5_resize_matches_pil_bilinear(fashion_files) -> None:
    from PIL import Image

    _, test_iter = d2l.load_data_fashion_mnist(8, resize=64)
    X, _ = next(iter(test_iter))
    assert X.shape == (8, 1, 64, 64)
    images, _ = fashion_files["t10k"]
    for i in range(3):
        pil = Image.fromarray(images[i].astype(np.float32) / 255.0, mode="F")
        reference = np.asarray(pil.resize((64, 64), Image.BILINEAR))
        assert np.abs(X[i, 0].numpy() - reference).max() < 1e-3
    _, test_iter = d2l.load_data_fashion_mnist(8, resize=(14, 20))
    assert next(iter(test_iter))[0].shape == (8, 1, 14, 20)


def test_load_data_fashion_mnist_says_where_the_files_go(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        d2l.load_data_fashion_mnist(32, root=tmp_path)


def test_accumulator_and_accuracy_count() -> None:
    rng = np.random.default_rng(0)
    scores = torch.tensor(rng.normal(size=(50, 10)))
    y = torch.tensor(rng.integers(0, 10, 50))
    expected = accuracy_score(y.numpy(), scores.numpy().argmax(axis=1), normalize=False)
    assert d2l.accuracy(scores, y) == float(expected)
    assert d2l.accuracy(scores.argmax(dim=1), y) == float(expected)
    metric = d2l.Accumulator(3)
    for k in range(5):
        metric.add(k, 0.5, 1)
    assert (metric[0], metric[1], metric[2]) == (10.0, 2.5, 5.0)
    metric.reset()
    assert metric.data == [0.0, 0.0, 0.0]


def _book_softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition


def _book_cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


def _numpy_mean_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def test_section_3_6_softmax_from_scratch(fashion_files, figures_in_tmp: Path) -> None:
    torch.manual_seed(0)
    batch_size = 64
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
    num_inputs, num_outputs = 784, 10
    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)

    def net(X):
        return _book_softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    images, labels = fashion_files["t10k"]
    X_test = torch.tensor(images / 255.0, dtype=torch.float32)

    def reference_accuracy() -> float:
        with torch.no_grad():
            predicted = net(X_test).numpy().argmax(axis=1)
        return accuracy_score(labels, predicted)

    assert d2l.evaluate_accuracy(net, test_iter) == pytest.approx(reference_accuracy(), abs=1e-12)

    # One epoch with a zero learning rate measures the loss without moving the weights.
    with torch.no_grad():
        train_images, train_labels = fashion_files["train"]
        logits = torch.tensor(train_images / 255.0, dtype=torch.float32).reshape(-1, 784) @ W + b
    mean_loss, _ = d2l.train_epoch_ch3(
        net, train_iter, _book_cross_entropy, lambda n: d2l.sgd([W, b], 0.0, n)
    )
    expected = _numpy_mean_cross_entropy(logits.double().numpy(), train_labels)
    assert mean_loss == pytest.approx(expected, rel=1e-5)

    lr, num_epochs = 0.1, 5

    def updater(batch_size):
        return d2l.sgd([W, b], lr, batch_size)

    with warnings.catch_warnings():
        warnings.simplefilter("error", d2l.NonFiniteLossWarning)
        train_loss, train_acc, test_acc = d2l.train_ch3(
            net, train_iter, test_iter, _book_cross_entropy, num_epochs, updater
        )
    assert train_loss < 0.5 and train_acc > 0.9
    assert test_acc == pytest.approx(reference_accuracy(), abs=1e-12) and test_acc > 0.9
    preds = d2l.predict_ch3(net, test_iter)
    with torch.no_grad():
        expected_preds = net(X_test[:6]).argmax(axis=1)
    assert preds == d2l.get_fashion_mnist_labels(expected_preds)
    pngs = sorted(p.name for p in figures_in_tmp.glob("*.png"))
    assert any(p.startswith("animator") for p in pngs) and any(p.startswith("images") for p in pngs)
    for png in figures_in_tmp.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_section_3_7_concise_softmax(fashion_files) -> None:
    torch.manual_seed(0)
    train_iter, test_iter = d2l.load_data_fashion_mnist(64)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if type(m) is nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    train_loss, train_acc, test_acc = d2l.train_ch3(net, train_iter, test_iter, loss, 5, trainer)
    images, labels = fashion_files["t10k"]
    with torch.no_grad():
        predicted = net(torch.tensor(images / 255.0, dtype=torch.float32)).numpy().argmax(axis=1)
    assert test_acc == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)
    assert train_loss < 0.5 and test_acc > 0.9


def test_train_ch3_warns_on_a_diverging_loss_and_names_the_learning_rate() -> None:
    torch.manual_seed(0)
    X = torch.randn(200, 4)
    y = (X[:, 0] > 0).long()
    it = d2l.load_array((X, y), 50)
    net = nn.Linear(4, 2)
    trainer = torch.optim.SGD(net.parameters(), lr=1e38)
    with pytest.warns(d2l.NonFiniteLossWarning, match=r"lr=1e\+38") as record:
        d2l.train_ch3(net, it, it, nn.CrossEntropyLoss(reduction="none"), 3, trainer)
    assert len([w for w in record if issubclass(w.category, d2l.NonFiniteLossWarning)]) == 1


def test_animator_records_the_points_and_saves_a_png(tmp_path: Path) -> None:
    animator = d2l.Animator(xlabel="epoch", legend=["a", "b"], path=tmp_path / "curve.png")
    for k in range(1, 4):
        animator.add(k, (1.0 / k, float(k)))
    assert animator.X == [[1.0, 2.0, 3.0]] * 2
    assert animator.Y == [[1.0, 0.5, 1.0 / 3.0], [1.0, 2.0, 3.0]]
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_from_torchlinear_import_d2l() -> None:
    import torchlinear

    assert torchlinear.d2l is d2l
    assert d2l.plt.__name__ == "matplotlib.pyplot"


def test_accuracy_refuses_a_column_of_labels_that_would_broadcast() -> None:
    rng = np.random.default_rng(1)
    scores = torch.tensor(rng.normal(size=(50, 10)))
    y = torch.tensor(rng.integers(0, 10, 50))
    with pytest.raises(ValueError, match=r"y has shape \(50, 1\).*y\.reshape\(-1\)"):
        d2l.accuracy(scores, y[:, None])  # the book's comparison counts up to 50² matches
    expected = accuracy_score(y.numpy(), scores.numpy().argmax(axis=1), normalize=False)
    assert d2l.accuracy(scores.argmax(dim=1, keepdim=True), y) == float(expected)


def test_load_data_fashion_mnist_downloads_when_asked(tmp_path: Path, monkeypatch) -> None:
    # The missing-files message advises download=True: the book's loader takes it.
    served = []

    def fake_server(url, timeout):
        served.append(url)
        return io.BytesIO(b"not the real file")

    monkeypatch.setattr(urllib.request, "urlopen", fake_server)
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        d2l.load_data_fashion_mnist(32, root=tmp_path, download=True)
    assert served and served[0].endswith("-idx3-ubyte.gz")


def test_train_ch3_warns_when_a_stable_loss_explodes_but_stays_finite() -> None:
    # nn.CrossEntropyLoss grows only linearly in the logits: at lr=1e6 the weights fly off
    # while the loss stays finite (about 1e7), so an inf/nan test alone never warned
    torch.manual_seed(0)
    X = 100 * torch.randn(200, 4)
    y = torch.randint(0, 3, (200,))
    it = d2l.load_array((X, y), 50)
    net = nn.Linear(4, 3)
    trainer = torch.optim.SGD(net.parameters(), lr=1e6)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        train_loss, _, _ = d2l.train_ch3(
            net, it, it, nn.CrossEntropyLoss(reduction="none"), 3, trainer
        )
    caught = [w for w in record if issubclass(w.category, d2l.NonFiniteLossWarning)]
    assert math.isfinite(train_loss) and train_loss > 1e5
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "in epoch 1, over 1000 times the" in message and "of the first batch" in message
    assert "lr=1e+06" in message and caught[0].filename == __file__
