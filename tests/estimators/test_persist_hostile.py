"""Tampered and hostile model folders, and fuzzing of the model loader, in a capped process.

Each case edits a saved model the way a careless or hostile hand would and checks that
``load_estimator`` raises one ``ValueError`` line and that ``torchlinear predict`` and
``torchlinear summary`` exit with code 2 and one stderr line, writing nothing and leaving
the folder byte for byte as it was. The attacker of the threat model (docs/security.md),
who recomputes both digests, is played by :func:`_resign`: such a file may change the
predictions but must still load within bounds or be refused. Everything runs in a child
process whose memory is capped (``tests/data/_capped.py``), with a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchlinear.estimators.persist import load_estimator, save_estimator
from torchlinear.io import document_digest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
FUZZ_EXAMPLES = 60


def _capped():
    spec = importlib.util.spec_from_file_location("capped", HERE.parent / "data" / "_capped.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ models and tools

_X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "b": [0.0, 1.0, 0.0, 2.0, 1.0, 3.0]})
_Y = 1.0 + 2.0 * _X["a"] - 3.0 * _X["b"]
_LABELS = np.array(["cat", "dog", "cat", "eel", "dog", "eel"])


def _model(kind: str) -> Path:
    """A fresh folder holding a saved model of ``kind`` and a CSV to predict on."""
    import warnings

    from torchlinear import LinearRegression, MLPClassifier, SoftmaxRegression

    folder = Path(tempfile.mkdtemp(prefix="model-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "linear":
            est, target = LinearRegression().fit(_X, _Y), "y"
        elif kind == "softmax":
            est, target = SoftmaxRegression(max_iter=20).fit(_X, _LABELS), "label"
        else:
            est = MLPClassifier(hidden=4, max_iter=2, random_state=0).fit(_X, _LABELS)
            target = "label"
    save_estimator(est, folder / "m", metadata={"target": target})
    _X.to_csv(folder / "data.csv", index=False)
    return folder


def _sidecar(folder: Path) -> Path:
    return folder / "m" / "model.json"


def _edit(folder: Path, change) -> None:
    """Apply ``change`` to the parsed sidecar and write it back (a careless hand)."""
    document = json.loads(_sidecar(folder).read_text())
    change(document)
    _sidecar(folder).write_text(json.dumps(document, indent=2))


def _resign(model: Path) -> None:
    """Recompute both digests after an edit, as a deliberate attacker would."""
    from safetensors.torch import load_file
    from safetensors.torch import save as safetensors_bytes

    sidecar = model / "model.json"
    document = json.loads(sidecar.read_text())
    old = model / document["weights"]["file"]
    tensors = load_file(old)
    metadata = {"format": "torchlinear", "format_version": str(document["format_version"])}
    blob = safetensors_bytes(tensors, metadata={**metadata, "sidecar_sha256": ""})
    blob = safetensors_bytes(
        tensors, metadata={**metadata, "sidecar_sha256": document_digest(document)}
    )
    digest = hashlib.sha256(blob).hexdigest()
    old.unlink()
    (model / f"model-{digest[:12]}.safetensors").write_bytes(blob)
    document["weights"].update(file=f"model-{digest[:12]}.safetensors", sha256=digest)
    document["weights"]["bytes"] = len(blob)
    sidecar.write_text(json.dumps(document))


def _snapshot(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(info.st_mode):
            out[str(path)] = "link:" + os.readlink(path)
        else:
            out[str(path)] = f"mode:{info.st_mode:o}"
    return out


def _cli(argv: list[str]) -> tuple[int, str]:
    from torchlinear import cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, err.getvalue()


def _refused_everywhere(folder: Path, expect: str) -> str:
    """Library: one ValueError line; CLI predict and summary: exit 2, one line, no output."""
    model = folder / "m"
    before = _snapshot(folder)
    with contextlib.suppress(ValueError):
        load_estimator(model)
        raise AssertionError("the tampered model was loaded")
    try:
        load_estimator(model)
    except ValueError as exc:
        message = str(exc)
    assert expect in message, message
    out = folder / "predictions.csv"
    for argv in (
        ["predict", str(model), str(folder / "data.csv"), "-o", str(out)],
        ["summary", str(model)],
    ):
        code, err = _cli(argv)
        assert code == 2 and err.count("\n") == 1 and expect in err, (argv[0], code, err)
    assert not out.exists()
    assert _snapshot(folder) == before, "the model folder changed"
    return message


# ------------------------------------------------------------------ hostile cases


def case_feature_names_swapped():
    folder = _model("linear")
    _edit(folder, lambda d: d.update(feature_names=d["feature_names"][::-1]))
    return _refused_everywhere(folder, "edited after it was saved")


def case_classes_reversed():
    folder = _model("softmax")

    def reverse(d):
        d["classes"] = d["classes"][::-1]
        attr = d["estimator"]["attributes"]["classes_"]
        attr["labels"] = attr["labels"][::-1]

    _edit(folder, reverse)
    return _refused_everywhere(folder, "edited after it was saved")


def case_hidden_huge():
    folder = _model("mlp")
    _edit(folder, lambda d: d["estimator"]["params"].update(hidden=150_000_000))
    message = _refused_everywhere(folder, "edited after it was saved")
    _resign(folder / "m")  # the attacker's version: the architecture comes from the shapes
    return message + " | re-signed: " + _refused_everywhere(folder, "hidden units")


def case_classes_dtype_huge():
    folder = _model("softmax")
    _edit(folder, lambda d: d["estimator"]["attributes"]["classes_"].update(dtype="<U100000000"))
    message = _refused_everywhere(folder, "edited after it was saved")
    _resign(folder / "m")
    return message + " | re-signed: " + _refused_everywhere(folder, "far wider")


def _weights(folder: Path) -> Path:
    return next((folder / "m").glob("*.safetensors"))


def case_weights_symlink_to_dev_zero():
    folder = _model("linear")
    weights = _weights(folder)
    weights.unlink()
    weights.symlink_to("/dev/zero")
    return _refused_everywhere(folder, "symbolic link")


def case_weights_fifo():
    folder = _model("linear")
    weights = _weights(folder)
    weights.unlink()
    os.mkfifo(weights)
    return _refused_everywhere(folder, "FIFO")


def case_weights_symlink_to_a_copy():
    folder = _model("linear")
    weights = _weights(folder)
    copy = folder / "elsewhere.safetensors"
    weights.rename(copy)
    weights.symlink_to(copy)
    return _refused_everywhere(folder, "symbolic link")


def case_deeply_nested_json():
    folder = _model("linear")
    _sidecar(folder).write_text("[" * 200_000 + "]" * 200_000)
    return _refused_everywhere(folder, "levels deep")


def case_huge_json():
    folder = _model("linear")
    document = json.loads(_sidecar(folder).read_text())
    document["padding"] = "x" * (40 * 2**20)
    _sidecar(folder).write_text(json.dumps(document))
    return _refused_everywhere(folder, "bytes, more than")


def case_dense_json():
    folder = _model("linear")
    _sidecar(folder).write_text("[" + "[]," * (8 * 2**20) + "[]]")  # 24 MB of empty lists
    return _refused_everywhere(folder, "JSON values")


def case_duplicate_key():
    folder = _model("softmax")
    text = _sidecar(folder).read_text()
    _sidecar(folder).write_text(text.replace('"classes": [', '"classes": [], "classes": [', 1))
    return _refused_everywhere(folder, "appears twice")


def case_weights_of_another_model():
    folder, other = _model("linear"), _model("mlp")
    weights = _weights(folder)
    shutil.copyfile(_weights(other), weights)  # same name, other content
    message = _refused_everywhere(folder, "does not match the SHA-256")
    # a naive fix-up: record the new file's name, size and hash, not the sidecar's digest
    blob = weights.read_bytes()

    def fix(d):
        d["weights"].update(sha256=hashlib.sha256(blob).hexdigest(), bytes=len(blob))

    _edit(folder, fix)
    return message + " | " + _refused_everywhere(folder, "SHA-256 of its contents")


def case_model_v1_fixture():
    folder = Path(tempfile.mkdtemp(prefix="old-"))
    shutil.copytree(FIXTURES / "model_v1", folder / "m")
    _X.to_csv(folder / "data.csv", index=False)
    return _refused_everywhere(folder, "format version 1")


def case_resigned_swap_is_the_attackers_power():
    # the threat model's boundary: re-signed, the swap loads and changes predictions
    folder = _model("linear")
    before = load_estimator(folder / "m").predict(_X)

    def swap(d):
        d["feature_names"] = d["feature_names"][::-1]
        d["estimator"]["attributes"]["feature_names_in_"]["labels"] = d["feature_names"]

    _edit(folder, swap)
    _resign(folder / "m")
    after = load_estimator(folder / "m").predict(_X[["b", "a"]])
    assert not np.allclose(before, after)
    return "loaded, predictions changed"


def case_resigned_invalid_parameter():
    folder = _model("linear")
    _edit(folder, lambda d: d["estimator"]["params"].update(alpha=-1.0))
    _resign(folder / "m")  # fit() would refuse alpha=-1: so does the loader
    return _refused_everywhere(folder, "alpha must be a finite number >= 0, got -1.0")


def case_resigned_unknown_parameter():
    folder = _model("mlp")
    _edit(folder, lambda d: d["estimator"]["params"].update(fit_intercept=True))
    _resign(folder / "m")
    return _refused_everywhere(folder, "MLPClassifier has no parameter(s) ['fit_intercept']")


def case_resigned_classes_that_the_weights_do_not_predict():
    folder = _model("softmax")

    def fewer(d):
        d["classes"] = d["classes"][:2]
        attr = d["estimator"]["attributes"]["classes_"]
        attr.update(labels=attr["labels"][:2], shape=[2])

    _edit(folder, fewer)
    _resign(folder / "m")  # three rows of weights, two classes: refused at load, not predict
    return _refused_everywhere(folder, "predicts none of its 2 classes")


def _rename_features(names: list[str]):
    def rename(d):
        d["feature_names"] = names
        d["estimator"]["attributes"]["feature_names_in_"]["labels"] = names

    return rename


def case_resigned_feature_name_twice():
    # predict read it as a request to select column 'a' twice, blaming --features
    folder = _model("linear")
    _edit(folder, _rename_features(["a", "a"]))
    _resign(folder / "m")
    return _refused_everywhere(folder, "the feature name(s) 'a' appear more than once")


def case_resigned_target_among_the_features():
    # evaluate said "the target 'y' is also listed in --features"; summary described it
    folder = _model("linear")
    _edit(folder, _rename_features(["a", "y"]))
    _resign(folder / "m")
    return _refused_everywhere(folder, "the target 'y' is also one of the feature names")


HOSTILE = [name for name in dir() if name.startswith("case_")]


# ------------------------------------------------------------------ fuzzing


def _settings():
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=10_000,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def fuzz_model_bytes():
    """Random byte edits of model.json or the weights: the same model, or a ValueError."""
    from hypothesis import given
    from hypothesis import strategies as st

    folders = [_model("linear"), _model("softmax")]
    originals = []
    for folder in folders:
        model = folder / "m"
        files = {p.name: p.read_bytes() for p in model.iterdir()}
        originals.append((model, files, load_estimator(model).predict(_X)))
    outcomes = {"same": 0, "refused": 0}
    edit = st.tuples(st.integers(0, 4), st.integers(0, 2**16), st.integers(0, 255))

    @_settings()
    @given(st.integers(0, 1), st.booleans(), st.lists(edit, min_size=1, max_size=4))
    def run(which, sidecar, edits):
        model, files, predictions = originals[which]
        name = "model.json" if sidecar else next(n for n in files if n != "model.json")
        for other, blob in files.items():
            (model / other).write_bytes(blob)
        mutated = _capped().mutate(files[name], edits)
        (model / name).write_bytes(mutated)
        try:
            loaded = load_estimator(model)
        except ValueError:
            if sidecar:  # only an edit that changes the document may be refused
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    assert json.loads(mutated) != json.loads(files[name]), "refused a same file"
            else:
                assert mutated != files[name], "refused unchanged weights"
            outcomes["refused"] += 1
            return
        assert np.array_equal(loaded.predict(_X), predictions), "a changed model loaded"
        outcomes["same"] += 1

    run()
    return outcomes


def _json_values():
    from hypothesis import strategies as st

    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=8)
        | st.sampled_from(["<U1000000000", "float64", "|V99999999", "O", "<i8", "cpu"])
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=12,
    )


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


def fuzz_signed_model_documents():
    """The attacker's edits: any value of the state replaced, both digests recomputed. The
    file loads (and predicts or raises ValueError) or is refused with a ValueError."""
    from hypothesis import given
    from hypothesis import strategies as st

    bases = [_model(kind) for kind in ("linear", "softmax", "mlp")]
    saved = [{p.name: p.read_bytes() for p in (b / "m").iterdir()} for b in bases]
    outcomes = {"loaded": 0, "refused": 0}

    @_settings()
    @given(st.integers(0, 2), st.integers(0, 10**6), _json_values())
    def run(which, pick, value):
        model = bases[which] / "m"
        for path in model.iterdir():
            path.unlink()
        for name, blob in saved[which].items():
            (model / name).write_bytes(blob)
        document = json.loads((model / "model.json").read_text())
        paths = [p for p in _paths(document["estimator"]) if p]
        *parent, last = paths[pick % len(paths)]
        node = document["estimator"]
        for key in parent:
            node = node[key]
        node[last] = value
        (model / "model.json").write_text(json.dumps(document))
        _resign(model)
        try:
            est = load_estimator(model)
            est.predict(_X)
        except ValueError:
            outcomes["refused"] += 1
            return
        outcomes["loaded"] += 1

    run()
    return outcomes


FUZZERS = ["fuzz_model_bytes", "fuzz_signed_model_documents"]


@pytest.fixture(scope="module")
def outcomes():
    capped = _capped()
    return capped.run_capped(__file__, HOSTILE + FUZZERS, timeout=600), capped


@pytest.mark.parametrize("name", HOSTILE)
def test_tampered_model_is_refused_in_one_line_within_bounds(outcomes, name):
    results, capped = outcomes
    capped.check_refusals({name: results[name]})


@pytest.mark.parametrize("name", FUZZERS)
def test_fuzzed_model_files_load_the_same_model_or_give_a_value_error(outcomes, name):
    results, capped = outcomes
    outcome = results[name]
    assert outcome["returned"], outcome.get("traceback")
    assert outcome["peak_rss"] < capped.PEAK_RSS_LIMIT
    counts = outcome["value"]
    assert sum(counts.values()) >= FUZZ_EXAMPLES and counts["refused"] > 0
