"""Hostile IDX and CIFAR-10 files, and fuzzing of both readers, in a memory-capped process.

Every case builds its file here, byte by byte, and must end in one ``ValueError`` line
(or, for the fuzzers, in the original data or a ``ValueError``) within the cap of
``_capped.py`` (the child's address space may grow by 512 MiB beyond its imports; its peak
RSS must stay under 800 MB) and its timeout. The fuzzers run ``FUZZ_EXAMPLES`` random
mutations of valid small files each (see docs/security.md).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from torchlinear.data.images import (
    read_cifar10,
    read_cifar_batch,
    read_idx,
)

HERE = Path(__file__).resolve().parent
FUZZ_EXAMPLES = 60


def _capped():
    import importlib.util

    spec = importlib.util.spec_from_file_location("capped", HERE / "_capped.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="hostile-"))


def _refused(call) -> str:
    try:
        call()
    except ValueError as exc:
        return str(exc)
    raise AssertionError("the hostile file was accepted")


def _gzip_file(path: Path, head: bytes, zeros: int = 0, tail: bytes = b"", level: int = 9):
    """A gzip file of ``head``, ``zeros`` zero bytes and ``tail``, compressed as a stream."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    with open(path, "wb") as out:
        out.write(comp.compress(head))
        for _ in range(zeros >> 20):
            out.write(comp.compress(chunk))
        out.write(comp.compress(bytes(zeros & ((1 << 20) - 1))))
        out.write(comp.compress(tail))
        out.write(comp.flush())
    return path


def _idx_header(type_code: int, *shape: int) -> bytes:
    return struct.pack(f">HBB{len(shape)}I", 0, type_code, len(shape), *shape)


# ------------------------------------------------------------------ IDX cases


def case_idx_gzip_huge_declared_shape():
    # 4e9 images of 28 x 28 declared; 64 MB of zeros (65 KB compressed) follow
    path = _gzip_file(_tmp() / "train.gz", _idx_header(8, 4_000_000_000, 28, 28), 64 << 20)
    message = _refused(lambda: read_idx(path))
    assert "beyond the" in message and "limit" in message
    return message


def case_idx_gzip_more_than_deflate_can_hold():
    # 300 MB declared (under the cap given) in a 1 KB gzip file: impossible, refused unread
    path = _gzip_file(_tmp() / "t.gz", _idx_header(8, 382_000, 28, 28), 1000)
    message = _refused(lambda: read_idx(path, max_bytes=1 << 30))
    assert "more than a" in message
    return message


def case_idx_gzip_extra_data():
    # 100 images declared, followed by 64 MB more zeros: refused after 78 KB + 1 byte
    path = _gzip_file(_tmp() / "x.gz", _idx_header(8, 100, 28, 28), 64 << 20)
    message = _refused(lambda: read_idx(path))
    assert "longer than its header says" in message
    return message


def case_idx_gzip_missing_data():
    # 300 MB declared; 400 KB of (incompressible) data present
    noise = np.random.default_rng(0).integers(0, 256, 400_000, dtype=np.uint8).tobytes()
    path = _gzip_file(_tmp() / "m.gz", _idx_header(8, 382_000, 28, 28) + noise, level=1)
    # the cap is raised past the declared size (the budget under this test's address-space
    # limit is smaller), so that what is refused is the missing data
    message = _refused(lambda: read_idx(path, max_bytes=1 << 30))
    assert "truncated" in message
    return message


def case_idx_raw_lying_header():
    path = _tmp() / "raw"
    path.write_bytes(_idx_header(0x0E, 10_000_000, 8) + bytes(1000))  # 640 MB of float64
    message = _refused(lambda: read_idx(path, max_bytes=1 << 30))
    assert "truncated" in message
    return message


def case_idx_fifo():
    path = _tmp() / "fifo"
    os.mkfifo(path)
    message = _refused(lambda: read_idx(path))
    assert "FIFO" in message
    return message


def case_idx_symlink_to_dev_zero():
    path = _tmp() / "zero.gz"
    path.symlink_to("/dev/zero")
    message = _refused(lambda: read_idx(path))
    assert "character device" in message
    return message


# ------------------------------------------------------------------ CIFAR cases


class _Reduce:
    def __init__(self, *reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


def _core():
    return getattr(np, "_core", None) or np.core


def case_cifar_reconstruct_to_huge_shape():
    # the 281-byte batch: the array reconstructor asked for 10**12 elements
    bomb = _Reduce(_core().multiarray._reconstruct, (np.ndarray, (10**12,), b"b"))
    blob = pickle.dumps({b"data": bomb, b"labels": [0]}, protocol=2)
    assert len(blob) < 400
    return _refused(lambda: read_cifar_batch(blob, "data_batch_1"))


def case_cifar_state_with_huge_shape():
    # a legitimate reconstruct, then a state claiming a full batch with no data
    state = (1, (10_000, 3072), np.dtype("u1"), False, b"")
    bomb = _Reduce(_core().multiarray._reconstruct, (np.ndarray, (0,), b"b"), state)
    blob = pickle.dumps({b"data": bomb, b"labels": [0]}, protocol=4)
    message = _refused(lambda: read_cifar_batch(blob, "data_batch_1"))
    assert "does not fill shape" in message
    return message


def case_cifar_frombuffer_and_ndarray_and_dtype():
    messages = []
    for reduced in [
        (_core().numeric._frombuffer, (b"", np.dtype("u1"), (10**12,), "C")),
        (np.ndarray, ((10**10,), "u1")),
        (np.dtype, ("V2000000000", False, True)),
    ]:
        blob = pickle.dumps({b"data": _Reduce(*reduced), b"labels": [0]}, protocol=4)
        messages.append(_refused(lambda blob=blob: read_cifar_batch(blob, "b")))
    return "; ".join(messages)


def _nested_reference_pickle(width: int = 10, levels: int = 9) -> bytes:
    """``labels`` = L8 with L0 = [0] * width and L(k+1) = [Lk] * width, by memo reference:
    a few hundred bytes that np.asarray would expand to width**levels elements."""
    out = [b"\x80\x02}(", pickle.SHORT_BINBYTES + bytes([6]) + b"labels"]
    out.append(b"](" + b"K\x00" * width + b"eq\x00")
    for level in range(1, levels):
        out.append(b"](" + (b"h" + bytes([level - 1])) * width + b"eq" + bytes([level]))
    out.append(b"u.")
    return b"".join(out)


def case_cifar_nested_list_references():
    blob = _nested_reference_pickle()
    assert len(blob) < 8192
    message = _refused(lambda: read_cifar_batch(blob, "data_batch_1"))
    assert "shared reference" in message
    return message


def case_cifar_nested_lists_without_sharing():
    blob = pickle.dumps({b"labels": [[i] for i in range(100)], b"data": b"x"}, protocol=2)
    message = _refused(lambda: read_cifar_batch(blob, "data_batch_1"))
    assert "nested" in message
    return message


def case_cifar_too_many_operations():
    blob = pickle.dumps({b"labels": list(range(300_000))}, protocol=2)
    message = _refused(lambda: read_cifar_batch(blob, "data_batch_1"))
    assert "pickle operations" in message
    return message


def case_cifar_batch_too_large():
    batch = {b"data": np.zeros((10_001, 3072), np.uint8), b"labels": [0] * 10_001}
    message = _refused(lambda: read_cifar_batch(pickle.dumps(batch, protocol=4), "b"))
    assert "at most 10,000" in message or "larger than a batch" in message
    return message


def _cifar_folder(meta_names: int = 10) -> Path:
    folder = _tmp() / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [3], b"batch_label": b"b"}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [f"class{j}".encode() for j in range(meta_names)]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return folder


def case_cifar_meta_with_wrong_number_of_names():
    assert read_cifar10(_cifar_folder(10))[4][3] == "class3"
    message = _refused(lambda: read_cifar10(_cifar_folder(3)))
    assert "lists 3 class names but CIFAR-10 has 10" in message
    return message


def case_cifar_batch_is_a_fifo():
    folder = _cifar_folder()
    (folder / "data_batch_2").unlink()
    os.mkfifo(folder / "data_batch_2")
    message = _refused(lambda: read_cifar10(folder))
    assert "FIFO" in message
    return message


def case_cifar_tarball_with_many_members():
    archive = _tmp() / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for i in range(100):
            info = tarfile.TarInfo(f"cifar-10-batches-py/f{i}")
            tar.addfile(info, io.BytesIO(b""))
    message = _refused(lambda: read_cifar10(archive))
    assert "more than 64 members" in message
    return message


HOSTILE = [name for name in dir() if name.startswith("case_")]


# ------------------------------------------------------------------ fuzzing


def _edits():
    from hypothesis import strategies as st

    edit = st.tuples(st.integers(0, 4), st.integers(0, 2**16), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4)


_REFERENCE_TYPES = {8: "u1", 9: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _reference_idx(blob: bytes, max_bytes: int):
    """What an IDX file holds, parsed independently (struct, gzip.decompress); None if invalid."""
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error):
            return None
    if len(blob) < 4 or blob[:2] != b"\0\0" or blob[2] not in _REFERENCE_TYPES or not blob[3]:
        return None
    ndim = blob[3]
    if len(blob) < 4 + 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", blob[4 : 4 + 4 * ndim])
    dtype = np.dtype(_REFERENCE_TYPES[blob[2]])
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > max_bytes or len(blob) != 4 + 4 * ndim + size:
        return None
    return np.frombuffer(blob, dtype, offset=4 + 4 * ndim).reshape(shape)


def fuzz_idx():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    rng = np.random.default_rng(0)
    originals = [
        rng.integers(0, 256, (3, 4, 5), dtype=np.uint8),
        rng.integers(-300, 300, 7).astype(np.int16),
    ]
    files = []
    for array in originals:
        code = 8 if array.dtype == np.uint8 else 0x0B
        raw = (
            _idx_header(code, *array.shape) + array.astype(array.dtype.newbyteorder(">")).tobytes()
        )
        files += [(raw, array), (gzip.compress(raw, mtime=0), array)]
    folder = _tmp()
    outcomes = {"same": 0, "changed": 0, "refused": 0}

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=5000,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(0, len(files) - 1), _edits())
    def run(which, edits):
        blob, array = files[which]
        path = folder / "f.idx"
        mutated = _capped().mutate(blob, edits)
        path.write_bytes(mutated)
        expected = _reference_idx(mutated, 1 << 20)
        try:
            back = read_idx(path, max_bytes=1 << 20)
        except ValueError:
            assert expected is None, "a valid file was refused"
            outcomes["refused"] += 1
            return
        assert expected is not None, "an invalid file was accepted"
        assert back.shape == expected.shape and np.array_equal(back, expected)
        outcomes["same" if np.array_equal(back, array) else "changed"] += 1

    run()
    return outcomes


def fuzz_cifar():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    rng = np.random.default_rng(1)
    batch = {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [3, 9],
        b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
        b"filenames": [b"a.png", b"b.png"],
    }
    blobs = [pickle.dumps(batch, protocol=p) for p in (2, 4, 5)]
    outcomes = {"same": 0, "changed": 0, "refused": 0}

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=5000,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(0, len(blobs) - 1), _edits())
    def run(which, edits):
        blob = _capped().mutate(blobs[which], edits)
        try:
            images, labels = read_cifar_batch(blob, "data_batch_1")
        except ValueError:
            outcomes["refused"] += 1
            return
        # a mutation inside the pixel bytes or a label changes values, never the structure
        assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
        assert labels.shape == (2,) and labels.min() >= 0 and labels.max() <= 9
        same = np.array_equal(images.reshape(2, -1), batch[b"data"])
        outcomes["same" if same and labels.tolist() == [3, 9] else "changed"] += 1

    run()
    return outcomes


FUZZERS = ["fuzz_idx", "fuzz_cifar"]


@pytest.fixture(scope="module")
def outcomes():
    capped = _capped()
    return capped.run_capped(__file__, HOSTILE + FUZZERS), capped


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_file_is_refused_in_one_line_within_bounds(outcomes, name):
    results, capped = outcomes
    capped.check_refusals({name: results[name]})


@pytest.mark.parametrize("name", FUZZERS)
def test_fuzzed_files_give_the_data_or_a_value_error(outcomes, name):
    results, capped = outcomes
    outcome = results[name]
    assert outcome["returned"], outcome.get("traceback")
    assert outcome["peak_rss"] < capped.PEAK_RSS_LIMIT
    counts = outcome["value"]
    assert counts["refused"] > 0 and sum(counts.values()) >= FUZZ_EXAMPLES
