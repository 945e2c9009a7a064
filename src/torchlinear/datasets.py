"""Named data sets: the textbook's synthetic data, scikit-learn's bundled sets and image sets.

==================  ===========================================  ==========================
name                what                                         source
==================  ===========================================  ==========================
``synthetic``       linear-regression data, ``y = Xw + b + ε``   generated
``diabetes``        442 patients × 10 features, regression       bundled with scikit-learn
``digits``          1,797 images 8 × 8, 10 classes               bundled with scikit-learn
``mnist``           70,000 images 28 × 28, handwritten digits    official IDX files
``fashion-mnist``   70,000 images 28 × 28, clothing              official IDX files
``cifar10``         60,000 colour images 32 × 32                 official python version
==================  ===========================================  ==========================

``digits`` needs no files and is the offline default. The others read the official files
from ``root`` — by default the folder :func:`data_home` names (``$TORCHLINEAR_DATA``, else
``~/.cache/torchlinear``), one subfolder per data set:

* ``mnist/`` and ``fashion-mnist/``: ``train-images-idx3-ubyte.gz``,
  ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
  ``t10k-labels-idx1-ubyte.gz`` (gzipped or not);
* ``cifar10/``: ``cifar-10-python.tar.gz`` (read in place) or its extracted folder
  ``cifar-10-batches-py/``.

``download=True`` fetches missing files from the official addresses and checks each
against its published MD5 before using it. Images come back as the textbook's
``ToTensor`` makes them: ``float32`` in ``[0, 1]`` (``uint8 / 255``), shape
``(n, C, H, W)``, or ``(n, C·H·W)`` with ``flatten=True``.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from torchlinear._validation import ParameterError, check_fraction
from torchlinear.data.images import (
    CIFAR10_FOLDER,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    download_file,
    md5sum,
    read_cifar10,
    read_idx,
)
from torchlinear.data.synthetic import SyntheticRegression, synthetic_regression

__all__ = [
    "DATASETS",
    "ImageDataset",
    "TabularDataset",
    "data_home",
    "load",
    "synthetic",
    "diabetes",
    "digits",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "verify_checksums",
]

DATASETS = ("synthetic", "diabetes", "digits", "mnist", "fashion-mnist", "cifar10")
"""The names :func:`load` knows."""

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""MNIST's four files and their published MD5 digests."""
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
"""Fashion-MNIST's four files and their published MD5 digests."""
FASHION_MNIST_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


@dataclass(frozen=True)
class ImageDataset:
    """An image classification data set split into train and test."""

    name: str
    X_train: torch.Tensor
    """Training images, float32 in [0, 1], ``(n, C, H, W)`` or ``(n, C·H·W)``."""
    y_train: torch.Tensor
    """Training labels, int64 class indices."""
    X_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    """Class names; label ``j`` is ``classes[j]``."""
    image_shape: tuple[int, int, int]
    """``(C, H, W)`` of one image, to undo ``flatten``."""

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, train={tuple(self.X_train.shape)}, "
            f"test={tuple(self.X_test.shape)}, classes={len(self.classes)})"
        )


@dataclass(frozen=True)
class TabularDataset:
    """A regression data set: features, targets and the feature names."""

    name: str
    X: torch.Tensor
    y: torch.Tensor
    feature_names: tuple[str, ...]


def data_home(root: str | os.PathLike[str] | None = None) -> Path:
    """Where data files live: ``root``, else ``$TORCHLINEAR_DATA``, else the user cache.

    The user cache is ``$XDG_CACHE_HOME/torchlinear`` or ``~/.cache/torchlinear``. The
    folder is not created here.

    Examples
    --------
    >>> data_home("/data").as_posix()
    '/data'
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("TORCHLINEAR_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "torchlinear"


def _to_image_tensor(images: np.ndarray, scale: float, flatten: bool) -> torch.Tensor:
    X = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(scale)
    return X.reshape(X.shape[0], -1) if flatten else X


# Generated and bundled data


def synthetic(
    w: Sequence[float] | torch.Tensor = (2.0, -3.4),
    b: float = 4.2,
    n: int = 1000,
    noise: float = 0.01,
    seed: int | None = 0,
) -> SyntheticRegression:
    """The textbook's synthetic regression data (see :func:`torchlinear.data.synthetic_regression`).

    Examples
    --------
    >>> synthetic(n=5).X.shape
    torch.Size([5, 2])
    """
    return synthetic_regression(w, b, n, noise=noise, seed=seed)


def diabetes(scaled: bool = True) -> TabularDataset:
    """scikit-learn's bundled diabetes regression data: 442 × 10, float64.

    Examples
    --------
    >>> data = diabetes()
    >>> tuple(data.X.shape), data.feature_names[:3]
    ((442, 10), ('age', 'sex', 'bmi'))
    """
    # scikit-learn (about 1 s) only for the datasets it ships
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=scaled)
    return TabularDataset(
        "diabetes",
        torch.from_numpy(bunch.data.astype(np.float64)),
        torch.from_numpy(bunch.target.astype(np.float64)),
        tuple(bunch.feature_names),
    )


def digits(*, test_size: float = 0.25, seed: int = 0, flatten: bool = False) -> ImageDataset:
    """scikit-learn's bundled 8 × 8 digit images, split stratified into train and test.

    The pixels are integers ``0..16``; they are divided by 16 (the analogue of
    ``ToTensor``'s division by 255 for this 4-bit data), giving float32 in ``[0, 1]``.

    Parameters
    ----------
    test_size : float, default 0.25
        Fraction of the 1,797 images held out, in (0, 1); every class keeps its share.
    seed : int, default 0
        Seed of the split.
    flatten : bool, default False
        Return ``(n, 64)`` rows instead of ``(n, 1, 8, 8)`` images.

    Examples
    --------
    >>> data = digits()
    >>> tuple(data.X_train.shape), tuple(data.X_test.shape), data.classes[:3]
    ((1347, 1, 8, 8), (450, 1, 8, 8), ('0', '1', '2'))
    """
    # scikit-learn (about 1 s) only for the datasets it ships
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = check_fraction("test_size", test_size, inclusive_low=False)
    bunch = load_digits()
    images, labels = bunch.images[:, None, :, :], bunch.target.astype(np.int64)
    check_stratified_split(test_size, len(labels), len(bunch.target_names))
    X_train, X_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_size, stratify=labels, random_state=seed
    )
    return ImageDataset(
        "digits",
        _to_image_tensor(X_train, 16.0, flatten),
        torch.from_numpy(y_train),
        _to_image_tensor(X_test, 16.0, flatten),
        torch.from_numpy(y_test),
        tuple(str(c) for c in bunch.target_names),
        (1, 8, 8),
    )


def check_stratified_split(test_size: float, n: int, classes: int) -> None:
    """Refuse a ``test_size`` that leaves fewer training or test rows than ``classes``
    (a stratified split gives every class at least one row on each side), saying which
    sizes work.

    The split is scikit-learn's: ``ceil(test_size * n)`` test rows, the rest for training.

    Examples
    --------
    >>> check_stratified_split(0.25, 1797, 10)
    >>> check_stratified_split(0.999, 1797, 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    torchlinear._validation.ParameterError: test_size 0.999 leaves 1 of the 1797 rows for ...
    """
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if min(n_train, n_test) >= classes:
        return
    low = math.ceil(1000 * classes / n) / 1000
    high = math.floor(1000 * (n - classes) / n) / 1000
    side, rows = ("training", n_train) if n_train < classes else ("testing", n_test)
    raise ParameterError(
        "test_size",
        "{param} {value:g} leaves {rows} of the {n} rows for {side}, fewer than the {classes} "
        "classes (a stratified split keeps a row of every class on each side); use {param} "
        "from {low:g} to {high:g}, e.g. {0}",
        value=test_size,
        suggestions=[("test_size", 0.25)],
        rows=rows,
        n=n,
        side=side,
        classes=classes,
        low=low,
        high=high,
    )


# Official files


def _missing_files_error(
    title: str, folder: Path, files: Sequence[str], source: str, why: str = ""
) -> FileNotFoundError:
    listed = ", ".join(files)
    prefix = f"{why}; " if why else f"{title} files not found; "
    return FileNotFoundError(
        f"{prefix}place {listed} in {folder} (from {source}), or point $TORCHLINEAR_DATA "
        f"(root= in Python) at the folder that holds a {folder.name}/ subfolder with them, "
        "or download them (download=True; --download on the command line)"
    )


def _fetch(
    title: str, folder: Path, names: Sequence[str], mirrors: Sequence[str], md5: dict[str, str]
) -> None:
    for name in names:
        errors = []
        for mirror in mirrors:
            try:
                download_file(mirror + name, folder / name, md5[name])
                break
            except OSError as exc:
                errors.append(str(exc))
        else:
            raise _missing_files_error(title, folder, names, mirrors[0], errors[-1])


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_set(
    title: str,
    subfolder: str,
    files: dict[str, str],
    mirrors: Sequence[str],
    classes: tuple[str, ...],
    root: str | os.PathLike[str] | None,
    download: bool,
    flatten: bool,
) -> ImageDataset:
    folder = data_home(root) / subfolder
    missing = [name for name in files if _find_idx(folder, name) is None]
    if missing and download:
        _fetch(title, folder, missing, mirrors, files)
    elif missing:
        raise _missing_files_error(title, folder, missing, mirrors[0])
    parts, shapes = [], []
    for split in ("train", "t10k"):
        images_path = _find_idx(folder, f"{split}-images-idx3-ubyte.gz")
        labels_path = _find_idx(folder, f"{split}-labels-idx1-ubyte.gz")
        images = read_idx(images_path, expected_magic=IDX_IMAGES_MAGIC)
        labels = read_idx(labels_path, expected_magic=IDX_LABELS_MAGIC)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                f"{labels.shape[0]} labels; they should match: delete both and fetch them "
                "again (download=True; --download on the command line)"
            )
        if images.shape[0] == 0:
            raise ValueError(
                f"{images_path} holds no images; the file is incomplete: delete it and "
                "download it again"
            )
        if labels.size and labels.max() >= len(classes):
            raise ValueError(
                f"{labels_path} holds label {labels.max()} but {title} has {len(classes)} "
                f"classes (0 to {len(classes) - 1}); it is not this data set's label file: "
                "delete it and fetch it again (download=True; --download on the command line)"
            )
        parts.append((_to_image_tensor(images[:, None], 255.0, flatten), labels.astype(np.int64)))
        shapes.append(images.shape[1:])
    if shapes[0] != shapes[1]:
        raise ValueError(
            f"{title} training images are {shapes[0]} but test images are {shapes[1]}; "
            "they should have the same size"
        )
    (X_train, y_train), (X_test, y_test) = parts
    height, width = shapes[0]
    return ImageDataset(
        subfolder,
        X_train,
        torch.from_numpy(y_train),
        X_test,
        torch.from_numpy(y_test),
        classes,
        (1, int(height), int(width)),
    )


def mnist(
    root: str | os.PathLike[str] | None = None, *, download: bool = False, flatten: bool = False
) -> ImageDataset:
    """MNIST handwritten digits from the four official IDX files in ``root/mnist``.

    Parameters
    ----------
    root : path, optional
        Folder holding ``mnist/``; by default :func:`data_home`.
    download : bool, default False
        Fetch missing files (MD5-checked) from the official mirrors.
    flatten : bool, default False
        Return ``(n, 784)`` rows instead of ``(n, 1, 28, 28)`` images.

    Raises
    ------
    FileNotFoundError
        Listing the files to place in which folder, when they are missing and cannot be
        downloaded.
    ValueError
        Naming the file, when a file is truncated or is not the expected IDX file.
    """
    classes = tuple(str(d) for d in range(10))
    return _load_idx_set(
        "MNIST", "mnist", MNIST_FILES, MNIST_MIRRORS, classes, root, download, flatten
    )


def fashion_mnist(
    root: str | os.PathLike[str] | None = None, *, download: bool = False, flatten: bool = False
) -> ImageDataset:
    """Fashion-MNIST from the four official IDX files in ``root/fashion-mnist``.

    Ten classes of clothing: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
    Sneaker, Bag, Ankle boot. Parameters and errors as for :func:`mnist`.
    """
    return _load_idx_set(
        "Fashion-MNIST",
        "fashion-mnist",
        FASHION_MNIST_FILES,
        FASHION_MNIST_MIRRORS,
        FASHION_MNIST_CLASSES,
        root,
        download,
        flatten,
    )


def cifar10(
    root: str | os.PathLike[str] | None = None, *, download: bool = False, flatten: bool = False
) -> ImageDataset:
    """CIFAR-10 from the official python version in ``root/cifar10``.

    Reads ``cifar-10-batches-py/`` if present, else ``cifar-10-python.tar.gz`` in place
    (its members are decoded in memory, nothing is extracted). The batches are pickles;
    they are loaded with a restricted unpickler that cannot run code (see
    :func:`torchlinear.data.images.load_cifar_pickle`).

    Parameters
    ----------
    root : path, optional
        Folder holding ``cifar10/``; by default :func:`data_home`.
    download : bool, default False
        Fetch the archive (MD5-checked) when neither form is present.
    flatten : bool, default False
        Return ``(n, 3072)`` rows instead of ``(n, 3, 32, 32)`` images.

    Raises
    ------
    FileNotFoundError
        Saying where to place the archive, when neither form is present and it cannot be
        downloaded; or naming the missing file of an incomplete folder.
    ValueError
        Naming the file and what is wrong with it (truncated, not a CIFAR-10 batch, labels
        that do not match the images), and how to fetch it again.
    """
    folder = data_home(root) / "cifar10"
    extracted, archive = folder / CIFAR10_FOLDER, folder / CIFAR10_ARCHIVE
    if extracted.is_dir():
        location = extracted
    else:
        if not archive.is_file():
            if not download:
                raise _missing_files_error("CIFAR-10", folder, [CIFAR10_ARCHIVE], CIFAR10_URL)
            try:
                download_file(CIFAR10_URL, archive, CIFAR10_MD5)
            except OSError as exc:
                raise _missing_files_error(
                    "CIFAR-10", folder, [CIFAR10_ARCHIVE], CIFAR10_URL, str(exc)
                ) from exc
        location = archive
    try:
        X_train, y_train, X_test, y_test, names = read_cifar10(location)
    except (ValueError, FileNotFoundError) as exc:
        # the reader says what is wrong with which file; only here is known what to do
        damaged = location if location == archive else f"the folder {location}"
        raise type(exc)(
            f"{exc}; delete {damaged} and fetch {CIFAR10_ARCHIVE} again "
            "(download=True; --download on the command line)"
        ) from None
    return ImageDataset(
        "cifar10",
        _to_image_tensor(X_train, 255.0, flatten),
        torch.from_numpy(y_train),
        _to_image_tensor(X_test, 255.0, flatten),
        torch.from_numpy(y_test),
        tuple(names),
        (3, 32, 32),
    )


_LOADERS = {
    "synthetic": synthetic,
    "diabetes": diabetes,
    "digits": digits,
    "mnist": mnist,
    "fashion-mnist": fashion_mnist,
    "cifar10": cifar10,
}


def load(name: str, **kwargs: Any) -> ImageDataset | TabularDataset | SyntheticRegression:
    """Load a data set by name; keyword arguments go to its function.

    Names are case-insensitive and ``_`` may stand for ``-`` (``fashion_mnist``).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.

    Examples
    --------
    >>> load("digits").name
    'digits'
    >>> load("digts")
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'digts' (did you mean 'digits'?); known datasets: synthetic, diabetes, digits, mnist, fashion-mnist, cifar10
    """  # noqa: E501
    key = str(name).strip().lower().replace("_", "-")
    key = {"cifar-10": "cifar10", "fashionmnist": "fashion-mnist"}.get(key, key)
    if key not in _LOADERS:
        close = difflib.get_close_matches(key, DATASETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown dataset {name!r}{hint}; known datasets: {', '.join(DATASETS)}")
    return _LOADERS[key](**kwargs)


def verify_checksums(root: str | os.PathLike[str] | None = None) -> dict[str, bool]:
    """Check the MD5 of every official file present under ``root``; return name → ok.

    Keys look like ``"fashion-mnist/train-images-idx3-ubyte.gz"``. Only the gzipped files
    and the CIFAR-10 archive have published digests; other files are not listed.

    Examples
    --------
    >>> import tempfile
    >>> verify_checksums(tempfile.mkdtemp())
    {}
    """
    home = data_home(root)
    result = {}
    tables = {"mnist": MNIST_FILES, "fashion-mnist": FASHION_MNIST_FILES}
    tables["cifar10"] = {CIFAR10_ARCHIVE: CIFAR10_MD5}
    for subfolder, table in tables.items():
        for name, expected in table.items():
            path = home / subfolder / name
            if path.is_file():
                result[f"{subfolder}/{name}"] = md5sum(path) == expected
    return result
