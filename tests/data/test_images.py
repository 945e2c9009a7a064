"""IDX reader and downloads against files built byte by byte in the official format.

The CIFAR-10 reader is tested in ``test_cifar.py``.
"""

import gzip
import hashlib
import io
import struct

import numpy as np
import pytest

from torchlinear.data.images import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    download_file,
    md5sum,
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
