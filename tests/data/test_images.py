"""IDX and CIFAR-10 readers against files built byte by byte in the official formats."""

import gzip
import hashlib
import io
import pickle
import struct
import tarfile

import numpy as np
import pytest

from torchlinear.data.images import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    download_file,
    load_cifar_pickle,
    md5sum,
    read_cifar10,
    read_cifar_batch,
    read_cifar_meta,
    read_idx,
    write_idx,
)

# ------------------------------------------------------------------ reference writers


def idx_bytes(array: np.ndarray, type_code: int, fmt: str) -> bytes:
    """An IDX file assembled with struct, independently of write_idx."""
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    body = struct.pack(f">{array.size}{fmt}", *array.ravel().tolist())
    return header + body


class _Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` opcodes, as the official CIFAR-10 files do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Py2StylePickler(buffer, protocol=2).dump(obj)
    # Python 2 NumPy named its reconstructor's module numpy.core.multiarray.
    return buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def cifar_batch(n: int, seed: int, label_offset: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [int((i + label_offset) % 10) for i in range(n)],
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)],
    }


# ------------------------------------------------------------------ IDX


@pytest.mark.parametrize(
    ("dtype", "code", "fmt"),
    [
        (np.uint8, 0x08, "B"),
        (np.int8, 0x09, "b"),
        (np.int16, 0x0B, "h"),
        (np.int32, 0x0C, "i"),
        (np.float32, 0x0D, "f"),
        (np.float64, 0x0E, "d"),
    ],
)
def test_write_idx_matches_struct_reference_and_round_trips(tmp_path, dtype, code, fmt):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    write_idx(tmp_path / "a.idx", array)
    assert (tmp_path / "a.idx").read_bytes() == idx_bytes(array, code, fmt)
    back = read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype).newbyteorder("=") and np.array_equal(back, array)


def test_reads_official_style_gzipped_images_and_labels(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    (tmp_path / "imgs.gz").write_bytes(gzip.compress(idx_bytes(images, 0x08, "B")))
    (tmp_path / "lbls.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08, "B")))
    assert (tmp_path / "imgs.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "imgs.gz", IDX_IMAGES_MAGIC), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "lbls.gz", IDX_LABELS_MAGIC), labels)
    write_idx(tmp_path / "w.gz", images)
    assert gzip.decompress((tmp_path / "w.gz").read_bytes()) == idx_bytes(images, 0x08, "B")


def test_wrong_magic_names_file_and_expected_value(tmp_path):
    write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"labels\.gz has IDX magic number 0x00000801 but "):
        read_idx(tmp_path / "labels.gz", expected_magic=IDX_IMAGES_MAGIC)
    with pytest.raises(ValueError, match="0x00000803 was expected"):
        read_idx(tmp_path / "labels.gz", expected_magic=IDX_IMAGES_MAGIC)
    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match=r"junk is not an IDX file"):
        read_idx(tmp_path / "junk")


def test_truncated_idx_and_gzip_name_the_file(tmp_path):
    raw = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08, "B")
    (tmp_path / "short").write_bytes(raw[:-10])
    with pytest.raises(ValueError, match=r"short is truncated: shape \(4, 28, 28\) needs 3136"):
        read_idx(tmp_path / "short")
    (tmp_path / "header").write_bytes(raw[:9])
    with pytest.raises(ValueError, match=r"header is truncated: its header announces 3"):
        read_idx(tmp_path / "header")
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw)[:-20])
    with pytest.raises(ValueError, match=r"cut\.gz is a damaged or truncated gzip file"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "long").write_bytes(raw + b"\x00")
    with pytest.raises(ValueError, match="longer than its header says"):
        read_idx(tmp_path / "long")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ CIFAR-10


def test_cifar_batch_in_python2_format_decodes_channels_rows_columns():
    batch = cifar_batch(4, seed=2)
    blob = py2_pickle(batch)
    assert b"numpy.core.multiarray\n_reconstruct" in blob and b"_codecs" not in blob
    images, labels = read_cifar_batch(blob, "data_batch_1")
    data = batch[b"data"]
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8
    for n, c, i, j in [(0, 0, 0, 0), (1, 1, 5, 7), (3, 2, 31, 31), (2, 2, 0, 31)]:
        assert images[n, c, i, j] == data[n, c * 1024 + i * 32 + j]
    np.testing.assert_array_equal(labels, batch[b"labels"])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_batch_written_by_python3_pickle(protocol):
    batch = cifar_batch(3, seed=3)
    images, labels = read_cifar_batch(pickle.dumps(batch, protocol=protocol))
    np.testing.assert_array_equal(images.reshape(3, -1), batch[b"data"])
    np.testing.assert_array_equal(labels, batch[b"labels"])


def test_cifar_meta_names():
    meta = {b"num_cases_per_batch": 10000, b"label_names": [b"airplane", b"automobile"]}
    assert read_cifar_meta(py2_pickle(meta)) == ["airplane", "automobile"]


def test_cifar_file_missing_keys_names_file_and_expectation():
    batch = cifar_batch(2, seed=4)
    del batch[b"labels"]
    with pytest.raises(ValueError, match=r"data_batch_3 is not a CIFAR-10 data batch: .*'labels'"):
        read_cifar_batch(py2_pickle(batch), "data_batch_3")
    with pytest.raises(ValueError, match=r"batches\.meta is not CIFAR-10 metadata: .*label_names"):
        read_cifar_meta(py2_pickle({b"names": []}), "batches.meta")
    bad_shape = cifar_batch(2, seed=4)
    bad_shape[b"data"] = bad_shape[b"data"][:, :100]
    with pytest.raises(ValueError, match="3072 columns"):
        read_cifar_batch(py2_pickle(bad_shape), "b")
    with pytest.raises(ValueError, match="expected a pickled dict, got list"):
        read_cifar_batch(pickle.dumps([1, 2]), "b")
    with pytest.raises(ValueError, match="not a valid CIFAR-10 file"):
        read_cifar_batch(py2_pickle(cifar_batch(2, seed=5))[:-30], "truncated")


class _Exploit:
    """Unpickling this runs ``exec`` with code that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps({b"data": _Exploit(control)}, protocol=2))
    assert control.exists(), "the payload must be live for this test to mean anything"

    marker = tmp_path / "marker"
    payload = pickle.dumps({b"data": _Exploit(marker), b"labels": [0]}, protocol=2)
    with pytest.raises(ValueError, match=r"refusing to load global '(__builtin__|builtins)\.exec'"):
        load_cifar_pickle(payload, "data_batch_1")
    assert not marker.exists()

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(payload)
    with pytest.raises(ValueError, match=r"data_batch_1 is not a valid CIFAR-10 file"):
        read_cifar10(folder)
    assert not marker.exists()


class _ReduceTo:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def test_allowed_globals_cannot_be_abused():
    import codecs

    reconstruct = np._core.multiarray._reconstruct
    # The reconstructor only builds plain ndarrays (other classes are not even resolved) ...
    sneaky = pickle.dumps(_ReduceTo(reconstruct, (np.dtype, (0,), b"b")), protocol=2)
    with pytest.raises(ValueError, match="is not allowed"):
        load_cifar_pickle(sneaky)
    subclass = pickle.dumps(_ReduceTo(reconstruct, (np.matrix, (0,), b"b")), protocol=2)
    with pytest.raises(ValueError, match="refusing to load global 'numpy.matrix'"):
        load_cifar_pickle(subclass)
    # ... the string encoder only does latin-1 ...
    rot13 = pickle.dumps(_ReduceTo(codecs.encode, ("payload", "rot13")), protocol=2)
    with pytest.raises(ValueError, match="latin-1"):
        load_cifar_pickle(rot13)
    # ... and arrays of Python objects are refused.
    objects = pickle.dumps({b"data": np.array([1, "x"], dtype=object)}, protocol=2)
    with pytest.raises(ValueError):
        load_cifar_pickle(objects)


def test_read_cifar10_from_folder_and_tarball(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {f"data_batch_{i}": cifar_batch(3, seed=i, label_offset=i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(2, seed=9)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    files = {name: py2_pickle(batch) for name, batch in batches.items()}
    files["batches.meta"] = py2_pickle({b"label_names": names, b"num_vis": 3072})
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")

    expected_train = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    expected_labels = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    for location in (folder, archive):
        X_train, y_train, X_test, y_test, class_names = read_cifar10(location)
        np.testing.assert_array_equal(X_train.reshape(15, -1), expected_train)
        np.testing.assert_array_equal(y_train, expected_labels)
        np.testing.assert_array_equal(X_test.reshape(2, -1), batches["test_batch"][b"data"])
        np.testing.assert_array_equal(y_test, batches["test_batch"][b"labels"])
        assert class_names[0] == "airplane" and class_names[-1] == "truck"

    (folder / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        read_cifar10(folder)


# ------------------------------------------------------------------ downloads


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_verifies_md5_and_leaves_nothing_on_mismatch(tmp_path):
    content = b"official bytes" * 1000
    good_md5 = hashlib.md5(content).hexdigest()

    def opener(url, timeout):
        assert url == "https://example.org/f.gz"
        return _FakeResponse(content)

    path = download_file("https://example.org/f.gz", tmp_path / "f.gz", good_md5, opener=opener)
    assert path.read_bytes() == content and md5sum(path) == good_md5

    with pytest.raises(OSError, match="checksum mismatch"):
        download_file("https://example.org/f.gz", tmp_path / "g.gz", "0" * 32, opener=opener)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_download_network_failure_is_an_oserror(tmp_path):
    import urllib.error

    def offline(url, timeout):
        raise urllib.error.URLError("no network")

    with pytest.raises(OSError, match="could not download https://example.org/x: no network"):
        download_file("https://example.org/x", tmp_path / "x", opener=offline)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="url must start with"):
        download_file("file:///etc/passwd", tmp_path / "x")
