"""CIFAR-10 reader (torchlinear.data.cifar) against batches pickled as the official files are.

Batches are written by Python 2 style and Python 3 pickles; hostile pickles must be refused
without running anything.
"""

import io
import pickle
import struct
import tarfile

import numpy as np
import pytest

from torchlinear.data.cifar import (
    load_cifar_pickle,
    read_cifar10,
    read_cifar_batch,
    read_cifar_meta,
)

# ------------------------------------------------------------------ reference writers


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
