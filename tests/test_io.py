import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import torchlinear
import torchlinear.io
from torchlinear import io as tio
from torchlinear.io import (
    FORMAT_VERSION,
    DeferredTensors,
    load_model,
    save_model,
)
from torchlinear.json_codec import flatten_state, unflatten_state


def _tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "w": torch.randn(3, 4, generator=g),
        "b": torch.randn(3, dtype=torch.float64, generator=g),
        "scalar": torch.tensor(2.5),
        "classes": torch.arange(3),
        "flags": torch.tensor([1, 0], dtype=torch.uint8),
        "empty": torch.zeros(0, 2),
    }


def _files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_round_trip_and_sidecar_contents(tmp_path):
    tensors = _tensors()
    meta = {
        "kind": "linear",
        "feature_names": np.array(["a", "b"], dtype=object),
        "n_iter": np.int64(7),
        "score": np.float32(0.5),
        "config": {"lr": 0.1, "betas": (0.9, 0.99)},
        "source": Path("data.csv"),
    }
    sidecar = save_model(tmp_path / "out", tensors, meta)
    assert sidecar == tmp_path / "out" / "model.json"
    loaded, doc = load_model(tmp_path / "out")
    assert loaded.keys() == tensors.keys()
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v)
    assert doc["kind"] == "linear" and doc["feature_names"] == ["a", "b"]
    assert doc["n_iter"] == 7 and doc["score"] == 0.5 and doc["source"] == "data.csv"
    assert doc["config"] == {"lr": 0.1, "betas": [0.9, 0.99]}
    assert doc["format"] == "torchlinear" and doc["format_version"] == FORMAT_VERSION
    assert doc["library_version"] == torchlinear.__version__
    # the checksum is the SHA-256 of the weights file as it is on disk
    weights = sidecar.with_name(doc["weights"]["file"])
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == doc["weights"]["sha256"]
    assert doc["weights"]["tensors"]["w"] == {"dtype": "float32", "shape": [3, 4]}
    assert _files(tmp_path / "out") == sorted(["model.json", weights.name])
    # the sidecar is plain JSON a person (or another tool) can read
    assert json.loads(sidecar.read_text())["kind"] == "linear"
    # loading through the .json path works too
    assert torch.equal(load_model(sidecar)[0]["w"], tensors["w"])


def test_weights_are_standard_safetensors(tmp_path):
    from safetensors.numpy import load_file

    sidecar = save_model(tmp_path, {"w": torch.arange(6.0).reshape(2, 3)})
    name = json.loads(sidecar.read_text())["weights"]["file"]
    arrays = load_file(str(tmp_path / name))
    np.testing.assert_array_equal(arrays["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3))


def test_custom_sidecar_name_and_resave_cleans_old_weights(tmp_path):
    path = tmp_path / "ckpt.json"
    save_model(path, _tensors(0))
    first = _files(tmp_path)
    save_model(path, _tensors(1))
    second = _files(tmp_path)
    assert len(first) == len(second) == 2 and first != second
    assert all(n.startswith("ckpt") for n in second)
    assert torch.equal(load_model(path)[0]["w"], _tensors(1)["w"])


@pytest.mark.parametrize("failing_call", [1, 2])
def test_crash_during_save_keeps_previous_model(tmp_path, monkeypatch, failing_call):
    save_model(tmp_path, _tensors(0), {"version": "old"})
    real_replace = os.replace
    calls = {"n": 0}

    def crashing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == failing_call:  # 1: moving the weights in; 2: the sidecar commit
            raise OSError("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(tio.os, "replace", crashing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        save_model(tmp_path, _tensors(1), {"version": "new"})
    monkeypatch.setattr(tio.os, "replace", real_replace)
    tensors, doc = load_model(tmp_path)
    assert doc["version"] == "old" and torch.equal(tensors["w"], _tensors(0)["w"])
    assert not [n for n in _files(tmp_path) if n.endswith(".tmp")]  # no half-written files
    save_model(tmp_path, _tensors(2), {"version": "newer"})  # a later save cleans up
    assert len(_files(tmp_path)) == 2 and load_model(tmp_path)[1]["version"] == "newer"


def test_crash_while_writing_bytes_keeps_previous_model(tmp_path, monkeypatch):
    save_model(tmp_path, _tensors(0), {"version": "old"})

    def half_write(*args, **kwargs):
        raise MemoryError("simulated failure while serialising")

    monkeypatch.setattr(torchlinear.io, "safetensors_bytes", half_write)
    with pytest.raises(MemoryError):
        save_model(tmp_path, _tensors(1), {"version": "new"})
    monkeypatch.undo()
    assert load_model(tmp_path)[1]["version"] == "old"


def _saved(tmp_path):
    sidecar = save_model(tmp_path, _tensors(), {"kind": "linear"})
    doc = json.loads(sidecar.read_text())
    return sidecar, sidecar.with_name(doc["weights"]["file"]), doc


def test_truncated_weights_are_refused(tmp_path):
    sidecar, weights, _ = _saved(tmp_path)
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match the SHA-256.*truncated or modified"):
        load_model(tmp_path)


def test_tampered_weights_are_refused(tmp_path):
    sidecar, weights, _ = _saved(tmp_path)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # flip one byte of the last tensor, size unchanged
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(format_version=FORMAT_VERSION + 1), "newer than this torchlinear"),
        (lambda d: d.update(format_version="one"), "invalid format_version"),
        (lambda d: d.update(format="other"), "is not a torchlinear model file"),
        (lambda d: d["weights"].pop("sha256"), r"missing 'weights.sha256'"),
        (lambda d: d.pop("weights"), r"missing 'weights.file'"),
        (lambda d: d["weights"].update(file="../../etc/passwd"), "invalid weights file"),
        (lambda d: d["weights"].update(file="gone.safetensors"), "is missing; copy it"),
        (lambda d: d["weights"]["tensors"].update(extra={}), "SHA-256 of its contents"),
        (lambda d: d.update(kind="other"), "edited after it was saved"),
    ],
)
def test_bad_sidecars_give_one_line_errors(tmp_path, edit, match):
    sidecar, _, doc = _saved(tmp_path)
    edit(doc)
    sidecar.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=match) as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "\n" not in message and ("model.json" in message or ".safetensors" in message)


def test_truncated_or_binary_sidecar(tmp_path):
    sidecar, _, _ = _saved(tmp_path)
    text = sidecar.read_text()
    sidecar.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="is not valid JSON.*re-save the model"):
        load_model(tmp_path)
    sidecar.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not text"):
        load_model(tmp_path)


def test_wrong_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="holds no model.json"):
        load_model(tmp_path)
    _, weights, _ = _saved(tmp_path / "m")
    with pytest.raises(ValueError, match="not a model sidecar.*its .json file"):
        load_model(weights)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        save_model(blocker, _tensors())


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save_model(tmp_path, _tensors(), {"weights": 1})
    with pytest.raises(ValueError, match="must be a torch.Tensor"):
        save_model(tmp_path, {"w": [1.0, 2.0]})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        save_model(tmp_path, _tensors(), {"obj": object()})
    assert not (tmp_path / "model.json").exists()


def test_loading_never_unpickles(tmp_path, monkeypatch):
    _saved(tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    tensors, _ = load_model(tmp_path)
    assert torch.equal(tensors["w"], _tensors()["w"])


def _optimizer_run(make, steps, state=None):
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    opt = make([p])
    if state is not None:
        p.data.copy_(state[0])
        opt.load_state_dict(state[1])

    def closure():
        opt.zero_grad()
        loss = ((p - torch.tensor([0.5, 0.1, -1.0])) ** 4).sum() + (p**2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return p, opt


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9),
        lambda ps: torch.optim.Adam(ps, lr=0.05),
        lambda ps: torch.optim.LBFGS(ps, lr=0.5, max_iter=3, history_size=4),
    ],
)
def test_optimizer_state_round_trips_through_a_file(tmp_path, make):
    # 3 + 4 steps with a save/load in between equals 7 uninterrupted steps, bitwise
    full, _ = _optimizer_run(make, 7)
    part, opt = _optimizer_run(make, 3)
    doc, tensors = flatten_state(opt.state_dict(), "optimizer")
    save_model(tmp_path, {**tensors, "p": part.detach()}, {"optimizer": doc})
    loaded, meta = load_model(tmp_path)
    state = unflatten_state(meta["optimizer"], loaded)
    resumed, _ = _optimizer_run(make, 4, state=(loaded["p"], state))
    assert torch.equal(resumed, full)


def test_weights_header_records_the_digest_of_the_canonical_sidecar(tmp_path):
    # an independent reading of format 2: safetensors' own reader, hashlib, json
    from safetensors import safe_open

    sidecar, weights, doc = _saved(tmp_path)
    with safe_open(str(weights), framework="pt") as handle:
        header = handle.metadata()
    core = {**doc, "weights": {"tensors": doc["weights"]["tensors"]}}
    canonical = json.dumps(core, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert header["sidecar_sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert header["format_version"] == str(FORMAT_VERSION) == "2"


def test_reformatted_sidecar_loads_but_any_changed_value_is_refused(tmp_path):
    sidecar, _, doc = _saved(tmp_path)
    reordered = dict(reversed(list(doc.items())))
    sidecar.write_text(json.dumps(reordered, indent=7))
    tensors, again = load_model(tmp_path)
    assert again == doc and torch.equal(tensors["w"], _tensors()["w"])
    for change in ({"kind": "Linear"}, {"library_version": "9.9"}, {"extra": None}):
        sidecar.write_text(json.dumps({**doc, **change}))
        with pytest.raises(ValueError, match="edited after it was saved"):
            load_model(tmp_path)


def test_open_regular_file_refuses_fifos_devices_and_links(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="FIFO"):
        with tio.open_regular_file(tmp_path / "fifo"):
            pass
    (tmp_path / "real").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with tio.open_regular_file(tmp_path / "link") as (handle, size):
        assert handle.read() == b"abc" and size == 3
    with pytest.raises(ValueError, match="symbolic link"):
        with tio.open_regular_file(tmp_path / "link", follow_symlinks=False):
            pass


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_refused(tmp_path, bad):
    """Saved consistently (hashes and all), but no fit ever saves NaN or inf weights."""
    save_model(tmp_path, {"w": torch.tensor([1.0, bad]), "n": torch.tensor([1, 2])})
    with pytest.raises(ValueError, match="'w' .* holds NaN or infinite values") as info:
        load_model(tmp_path)
    assert "\n" not in str(info.value)


def _full_disk(fd):
    raise OSError(28, "No space left on device")  # as fsync reports it: no file name


def test_a_full_disk_is_reported_naming_the_file_and_leaves_it_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    path.write_text("previous")
    monkeypatch.setattr(os, "fsync", _full_disk)
    with pytest.raises(OSError) as info, tio.atomic_write(path) as handle:
        handle.write("new")
    assert (info.value.errno, info.value.strerror) == (28, "No space left on device")
    assert info.value.filename == str(path)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file
    assert path.read_text() == "previous"


def test_naming_write_errors_keeps_an_error_that_names_its_file(tmp_path):
    with pytest.raises(OSError) as info, tio.naming_write_errors(tmp_path / "out.csv"):
        raise FileNotFoundError(2, "No such file or directory", "elsewhere.csv")
    assert info.value.filename == "elsewhere.csv"


def test_selected_tensors_are_loaded_alone_and_the_whole_file_still_checked(tmp_path):
    big = torch.arange(64, dtype=torch.float64).reshape(8, 8)
    save_model(tmp_path, {"w": torch.tensor([1.0, 2.0]), "big": big}, {"kind": "demo"})
    tensors, meta = load_model(tmp_path, select=lambda name: name == "w")
    assert list(tensors) == ["w"] and tensors["w"].tolist() == [1.0, 2.0]
    later = DeferredTensors(tmp_path, meta, ["big"])
    assert later.shapes == {"big": (8, 8)}
    assert torch.equal(later.read(lambda t: t["big"]), big)
    # a byte of the tensor left unread changed: refused all the same
    weights = next(tmp_path.glob("*.safetensors"))
    blob = bytearray(weights.read_bytes())
    blob[-3] ^= 1
    weights.write_bytes(bytes(blob))
    for load in (lambda: load_model(tmp_path, select=lambda n: n == "w"), lambda: later.read(len)):
        with pytest.raises(ValueError, match="does not match the SHA-256 recorded") as info:
            load()
        assert "\n" not in str(info.value)


def test_tensors_left_unread_are_refused_once_the_model_is_replaced(tmp_path):
    save_model(tmp_path, {"w": torch.ones(2), "big": torch.zeros(3, 3)})
    _, meta = load_model(tmp_path, select=lambda name: name == "w")
    later = DeferredTensors(tmp_path, meta, ["big"])
    save_model(tmp_path, {"w": torch.ones(2), "big": torch.ones(3, 3)})
    with pytest.raises(ValueError, match="was replaced after the model was loaded from it; load"):
        later.read(len)
