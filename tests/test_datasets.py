"""Named data sets: loaders round-trip tiny files in the official formats; helpful errors."""

import gzip
import io
import pickle
import re
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits

from torchlinear import datasets
from torchlinear.data.synthetic import synthetic_regression

OFFICIAL_IDX = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def idx_file(array: np.ndarray) -> bytes:
    """A uint8 IDX file, gzipped, assembled with struct."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def make_idx_set(folder, n_train=6, n_test=4, size=28, seed=0, gzipped=True):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        blob = idx_file(array)
        if gzipped:
            (folder / name).write_bytes(blob)
        else:
            (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress(blob))
    return arrays


# ------------------------------------------------------------------ bundled and generated


def test_digits_is_a_stratified_scaled_split_of_sklearn_digits():
    data = datasets.digits(test_size=0.25, seed=0)
    reference = load_digits()
    assert data.X_train.shape == (1347, 1, 8, 8) and data.X_test.shape == (450, 1, 8, 8)
    assert data.X_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.classes == tuple(str(d) for d in range(10)) and data.image_shape == (1, 8, 8)
    # Same multiset of (image, label) pairs as scikit-learn's data divided by 16.
    ours = np.concatenate([data.X_train.reshape(-1, 64), data.X_test.reshape(-1, 64)]) * 16
    ours = np.column_stack([ours, np.concatenate([data.y_train, data.y_test])])
    theirs = np.column_stack([reference.data, reference.target])
    sort = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    np.testing.assert_allclose(sort(ours), sort(theirs), atol=1e-5)
    # Stratified: every class holds its share of the test set to within one image.
    full = np.bincount(reference.target) * 0.25
    assert np.abs(np.bincount(data.y_test.numpy()) - full).max() <= 1
    assert float(data.X_train.min()) >= 0 and float(data.X_train.max()) <= 1


def test_digits_seed_and_flatten():
    a, b = datasets.digits(seed=1, flatten=True), datasets.digits(seed=1)
    assert a.X_train.shape == (1347, 64)
    torch.testing.assert_close(a.X_train, b.X_train.reshape(1347, 64))
    assert not torch.equal(datasets.digits(seed=2).y_test, b.y_test)
    with pytest.raises(ValueError, match="test_size"):
        datasets.digits(test_size=1.5)


@pytest.mark.parametrize(("test_size", "n_test"), [(0.006, 11), (0.994, 1787)])
def test_digits_refuses_a_split_without_every_class_on_both_sides(test_size, n_test):
    # the edges that work keep 10 or more rows on each side; a step beyond is refused
    assert len(datasets.digits(test_size=test_size).y_test) == n_test
    beyond = 0.005 if test_size < 0.5 else 0.995
    with pytest.raises(ValueError) as info:
        datasets.digits(test_size=beyond)
    side = "testing" if test_size < 0.5 else "training"
    assert str(info.value).startswith(f"test_size {beyond:g} leaves ")
    assert f"rows for {side}, fewer than the 10 classes" in str(info.value)
    assert str(info.value).endswith("use test_size from 0.006 to 0.994, e.g. test_size=0.25")


def test_synthetic_and_diabetes():
    got = datasets.load("synthetic", n=50, seed=3)
    want = synthetic_regression([2.0, -3.4], 4.2, 50, seed=3)
    torch.testing.assert_close(got.X, want.X)
    torch.testing.assert_close(got.y, want.y)
    data = datasets.load("diabetes")
    ref = load_diabetes()
    np.testing.assert_array_equal(data.X.numpy(), ref.data)
    np.testing.assert_array_equal(data.y.numpy(), ref.target)
    assert data.feature_names == tuple(ref.feature_names)


def test_unknown_name_lists_the_known_ones():
    message = "known datasets: synthetic, diabetes, digits, mnist, fashion-mnist, cifar10"
    with pytest.raises(ValueError, match=message):
        datasets.load("imagenet")
    with pytest.raises(ValueError, match="did you mean 'fashion-mnist'"):
        datasets.load("fashion-mnst")


# ------------------------------------------------------------------ IDX data sets


@pytest.mark.parametrize(
    ("loader", "subfolder", "classes0"),
    [(datasets.mnist, "mnist", "0"), (datasets.fashion_mnist, "fashion-mnist", "T-shirt/top")],
)
def test_idx_sets_round_trip_official_files(tmp_path, loader, subfolder, classes0):
    arrays = make_idx_set(tmp_path / subfolder)
    data = loader(root=tmp_path)
    images = arrays["train-images-idx3-ubyte.gz"]
    assert data.X_train.shape == (6, 1, 28, 28) and data.X_test.shape == (4, 1, 28, 28)
    expected = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)
    torch.testing.assert_close(data.X_train, expected, rtol=0, atol=0)
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert data.classes[0] == classes0 and len(data.classes) == 10
    flat = loader(root=tmp_path, flatten=True)
    assert flat.X_test.shape == (4, 784) and flat.image_shape == (1, 28, 28)


@pytest.mark.parametrize("split", ["train", "test"])
def test_an_idx_file_of_no_images_is_refused_in_one_line(tmp_path, split):
    make_idx_set(tmp_path / "mnist", n_train=0 if split == "train" else 6,
                 n_test=0 if split == "test" else 4)  # fmt: skip
    with pytest.raises(ValueError, match=r"holds no images; the file is incomplete"):
        datasets.mnist(root=tmp_path)


def test_uncompressed_idx_files_and_env_root(tmp_path, monkeypatch):
    arrays = make_idx_set(tmp_path / "fashion-mnist", gzipped=False)
    monkeypatch.setenv("TORCHLINEAR_DATA", str(tmp_path))
    data = datasets.load("fashion_mnist")
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert datasets.data_home() == tmp_path


def test_missing_files_say_which_files_go_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        datasets.fashion_mnist(root=tmp_path)
    message = str(info.value)
    for name in OFFICIAL_IDX:
        assert name in message
    assert str(tmp_path / "fashion-mnist") in message and "download=True" in message

    make_idx_set(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"place t10k-labels-idx1-ubyte\.gz in "):
        datasets.mnist(root=tmp_path)


def test_download_without_network_explains_manual_placement(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError) as info:
        datasets.fashion_mnist(root=tmp_path, download=True)
    message = str(info.value)
    assert "could not download" in message and "Name or service not known" in message
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path / "fashion-mnist") in message
    with pytest.raises(FileNotFoundError, match=r"cifar-10-python\.tar\.gz"):
        datasets.cifar10(root=tmp_path, download=True)


def test_download_checks_the_published_md5(tmp_path, monkeypatch):
    served = []

    def fake_server(url, timeout):
        served.append(url)
        return io.BytesIO(b"not the real file")  # a context manager, like a response

    monkeypatch.setattr(urllib.request, "urlopen", fake_server)
    with pytest.raises(FileNotFoundError, match="checksum mismatch"):
        datasets.mnist(root=tmp_path, download=True)
    assert served and served[0].endswith("train-images-idx3-ubyte.gz")
    assert not any((tmp_path / "mnist").iterdir())


def test_verify_checksums_reports_present_files(tmp_path):
    make_idx_set(tmp_path / "mnist")
    report = datasets.verify_checksums(tmp_path)
    assert set(report) == {f"mnist/{name}" for name in OFFICIAL_IDX}
    assert not any(report.values())  # tiny stand-ins, not the official bytes


def test_wrong_magic_or_truncated_file_named(tmp_path):
    arrays = make_idx_set(tmp_path / "mnist")
    folder = tmp_path / "mnist"
    (folder / "train-images-idx3-ubyte.gz").write_bytes(
        idx_file(arrays["train-labels-idx1-ubyte.gz"])
    )
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte\.gz has IDX magic number 0x00000801"
    ):
        datasets.mnist(root=tmp_path)
    blob = gzip.decompress(idx_file(arrays["train-images-idx3-ubyte.gz"]))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(blob[:-100]))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz is truncated"):
        datasets.mnist(root=tmp_path)
    make_idx_set(folder, n_train=6)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(idx_file(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match="holds 6 images but .* holds 5 labels"):
        datasets.mnist(root=tmp_path)


def test_labels_that_do_not_fit_the_images_say_to_fetch_the_files_again(tmp_path):
    folder = tmp_path / "fashion-mnist"
    make_idx_set(folder, n_train=6)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(idx_file(np.zeros(5, np.uint8)))
    with pytest.raises(ValueError, match=r"they should match: delete both and fetch them again"):
        datasets.fashion_mnist(root=tmp_path)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(idx_file(np.full(6, 12, np.uint8)))
    with pytest.raises(
        ValueError,
        match=r"holds label 12 but Fashion-MNIST has 10 classes \(0 to 9\); it is not this "
        r"data set's label file: delete it and fetch it again \(download=True",
    ):
        datasets.fashion_mnist(root=tmp_path)


# ------------------------------------------------------------------ CIFAR-10


def write_cifar(folder, n=2, seed=0):
    rng = np.random.default_rng(seed)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [b"x.png"] * n,
        }
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    folder.mkdir(parents=True)
    for name, batch in batches.items():
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return batches


def test_cifar10_round_trip_from_folder_and_archive(tmp_path):
    batches = write_cifar(tmp_path / "a" / "cifar10" / "cifar-10-batches-py")
    data = datasets.cifar10(root=tmp_path / "a")
    assert data.X_train.shape == (10, 3, 32, 32) and data.X_test.shape == (2, 3, 32, 32)
    assert data.classes[3] == "cat" and data.image_shape == (3, 32, 32)
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    torch.testing.assert_close(
        data.X_train.reshape(10, -1), torch.from_numpy(expected / 255).float()
    )
    labels = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert data.y_train.tolist() == labels

    archive_root = tmp_path / "b" / "cifar10"
    archive_root.mkdir(parents=True)
    with tarfile.open(archive_root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "a" / "cifar10" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    from_archive = datasets.load("CIFAR-10", root=tmp_path / "b", flatten=True)
    torch.testing.assert_close(from_archive.X_train, data.X_train.reshape(10, -1))
    assert from_archive.X_train.shape == (10, 3072)


def test_cifar10_missing_key_names_the_file(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    batches = write_cifar(folder)
    broken = dict(batches["test_batch"])
    del broken[b"data"]
    (folder / "test_batch").write_bytes(pickle.dumps(broken, protocol=2))
    with pytest.raises(ValueError, match=r"test_batch is not a CIFAR-10 data batch: .*'data'"):
        datasets.cifar10(root=tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "labels", "missing"])
def test_a_damaged_cifar10_folder_says_what_to_do(tmp_path, damage):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    batches = write_cifar(folder)
    path = folder / "data_batch_3"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-50])
        what = r"data_batch_3 is not a valid CIFAR-10 file"
    elif damage == "labels":
        broken = {**batches["data_batch_3"], b"labels": [1]}
        path.write_bytes(pickle.dumps(broken, protocol=2))
        what = r"data_batch_3: 'labels' should hold 2 ints \(one per image\), got 1"
    else:
        path.unlink()
        what = r"data_batch_3 is missing"
    remedy = (
        rf"; delete the folder {re.escape(str(folder))} and fetch cifar-10-python\.tar\.gz "
        r"again \(download=True; --download on the command line\)$"
    )
    with pytest.raises((ValueError, FileNotFoundError), match=what + ".*" + remedy) as info:
        datasets.cifar10(root=tmp_path)
    assert "\n" not in str(info.value)


def test_a_damaged_cifar10_archive_says_to_fetch_it_again(tmp_path):
    write_cifar(tmp_path / "src")
    archive = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src", arcname="cifar-10-batches-py")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"; delete {re.escape(str(archive))} and fetch"):
        datasets.cifar10(root=tmp_path)
