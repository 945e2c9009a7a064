"""A model folder that is malformed but signed (edited, then both digests recomputed, as
the threat model's attacker does): every command refuses it in one line naming the file
and the field, never with a traceback or a silently different answer."""

import contextlib
import io
import json
import math

import numpy as np
import pytest

from torchlinear import cli
from torchlinear._schema import SchemaError
from torchlinear.io import load_model, save_model
from torchlinear.workflow import fit
from torchlinear.workflow.use import load_fitted

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Three fits of one small CSV: least squares with robust errors (the richest state),
    a formula, and a classifier."""
    root = tmp_path_factory.mktemp("fits")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    city = np.array(["Rome", "Oslo", "Lima"])[np.arange(40) % 3]
    y = 1 + X @ [2.0, -1.0] + (city == "Rome") + rng.normal(0, 0.1, 40)
    label = np.where(X[:, 0] > 0, "up", "down")
    data = root / "d.csv"
    rows = [f"{a},{b},{c},{v},{w}" for (a, b), c, v, w in zip(X, city, y, label, strict=True)]
    data.write_text("\n".join(["a,b,city,y,kind", *rows]) + "\n")
    fit(data, "y", features="a,b", out=root / "linear", cov_type="HC1")
    fit(data, formula="y ~ a + C(city)", out=root / "formula")
    fit(data, "kind", features="a,b", out=root / "softmax")
    return root, data


def _resigned(source, folder, path, value):
    """``source``'s model with the field at ``path`` set to ``value`` (deleted for
    ``...``), saved with both digests recomputed."""
    tensors, document = load_model(source)
    for key in ("format", "format_version", "library_version", "weights"):
        document.pop(key)
    *parents, last = path
    node = document
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    save_model(folder, tensors, document)
    return folder


TENSOR_CASES = [
    ("linear", "state.extra.solution._factor", lambda t: t * 0, "the stored 'chol' factor is sin"),
    ("linear", "state.extra.meat", lambda t: t[:, :, :2], "the stored meat has shape [1, 1, 2,"),
    ("linear", "state.extra.solution.mean_x", lambda t: t[:1], "the stored mean_x has shape [1],"),
    ("softmax", "state.attr.intercept_", lambda t: t[None], "coef_ of shape [1, 2] and intercep"),
]


@pytest.mark.parametrize(("kind", "name", "change", "expect"), TENSOR_CASES)
def test_signed_weights_that_contradict_the_model_are_refused_in_one_line(
    fitted, tmp_path, kind, name, change, expect
):
    root, data = fitted
    tensors, document = load_model(root / kind)
    for key in ("format", "format_version", "library_version", "weights"):
        document.pop(key)
    tensors[name] = change(tensors[name]).contiguous()
    model = str(tmp_path / "m")
    save_model(model, tensors, document)
    commands = [["summary", model], ["evaluate", model, str(data)]]
    if kind == "linear":
        commands.append(
            ["predict", model, str(data), "-o", str(tmp_path / "p.csv"), "--interval", "0.9"]
        )
    # values of the factor are read only by what uses it (shapes are checked on loading)
    values_only = name.endswith("_factor")
    for argv in commands:
        code, stdout, err = _run(argv)
        if values_only and argv[0] == "evaluate":
            assert code == 0 and not err, err  # evaluate never reads the factor
            continue
        assert code == 2 and not stdout and err.count("\n") == 1, err
        assert f"model file {model!r} is inconsistent ({expect}" in err, err
    assert not (tmp_path / "p.csv").exists()


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


SOLUTION = ("estimator", "extra", "solution")
CASES = [
    # the fields each command reads, of another type or out of range
    ("linear", (*SOLUTION, "solver"), None, "'estimator.extra.solution.solver' must be one of"),
    ("linear", (*SOLUTION, "cond"), None, "'estimator.extra.solution.cond' must be a number >="),
    ("linear", (*SOLUTION, "rank"), None, "'estimator.extra.solution.rank' must be an integer"),
    ("linear", (*SOLUTION, "n_samples"), 0, "'estimator.extra.solution.n_samples' must be an"),
    ("linear", (*SOLUTION, "weight_sum"), 0, "'estimator.extra.solution.weight_sum' must be a"),
    ("linear", (*SOLUTION, "fit_intercept"), None, "'estimator.extra.solution.fit_intercept'"),
    ("linear", (*SOLUTION, "_factor_kind"), None, "'estimator.extra.solution._factor_kind' must"),
    ("linear", (*SOLUTION, "alpha"), math.inf, "'estimator.extra.solution.alpha' must be a"),
    ("linear", (*SOLUTION, "alpha"), 1.0, "inconsistent (the stored solution (fit_intercept=Tr"),
    ("linear", (*SOLUTION, "collinear"), [1e308], "'estimator.extra.solution.collinear[0]'"),
    ("linear", ("estimator", "attributes", "cov_type_", "value"), "HC9", "'estimator.attrib"),
    ("linear", ("estimator", "attributes", "rank_"), {"value": None}, "'estimator.attributes"),
    ("linear", ("estimator", "attributes", "coef_"), {"value": 1.0}, "'estimator.attributes"),
    ("linear", ("estimator", "attributes", "spare_"), {"value": 1}, "'estimator.attributes.spa"),
    ("linear", ("estimator", "extra", "single"), None, "'estimator.extra.single' must be true"),
    ("linear", ("estimator", "params"), ..., "'estimator.params' must be an object, got nothing"),
    ("linear", ("estimator", "class"), "Nope", "'estimator.class' must be one of 'LinearRegre"),
    ("linear", ("feature_names",), [1, 2], "'feature_names[0]' must be a string, got 1"),
    ("linear", ("n_features",), "2", "'n_features' must be an integer >= 1, got '2'"),
    ("linear", ("target",), [], "'target' must be a string or null, got a list of 0 value(s)"),
    ("linear", ("settings", "sample_weight"), 5, "'settings.sample_weight' must be a string or"),
    ("linear", ("metrics", "train"), 5, "'metrics.train' must be an object or null, got 5"),
    ("linear", ("settings",), [1, 2], "'settings' must be an object or null, got a list of 2"),
    ("formula", ("design", "target"), [], "'design.target' must be a string or null, got a li"),
    ("formula", ("design", "levels", "city"), "Rome", "'design.levels.city' must be a list of"),
    ("formula", ("design",), 5, "'design' must be an object or null, got 5"),
    ("softmax", ("classes",), 5, "'classes' must be a list of labels (a string, a number or a"),
    ("softmax", ("estimator", "attributes", "classes_", "labels"), [[1]], "'estimator.attrib"),
    # fields of the right types that contradict the rest of the model
    ("linear", (*SOLUTION, "_factor_kind"), "eig", "inconsistent (the stored factor_s has shape"),
    ("linear", (*SOLUTION, "rank"), 9, "inconsistent (the stored solution has rank 9 or colli"),
    ("linear", (*SOLUTION, "collinear"), [7], "inconsistent (the stored solution has rank 2 or"),
    ("linear", ("model",), "mlp", "inconsistent (model 'mlp' but the state is of a linear mo"),
    ("softmax", ("task",), "regression", "inconsistent (task 'regression' but the state is of"),
]


@pytest.mark.parametrize(("kind", "path", "value", "expect"), CASES)
def test_a_malformed_signed_model_is_refused_in_one_line_by_every_command(
    fitted, tmp_path, kind, path, value, expect
):
    root, data = fitted
    model = _resigned(root / kind, tmp_path / "m", path, value)
    out = tmp_path / "p.csv"
    for argv in (
        ["summary", str(model)],
        ["summary", str(model), "--json"],
        ["predict", str(model), str(data), "-o", str(out)],
        ["evaluate", str(model), str(data)],
    ):
        code, stdout, err = _run(argv)
        assert code == 2 and not stdout, (argv, code, stdout, err)
        assert err.count("\n") == 1 and f"model file {str(model)!r}" in err, err
        assert expect in err, (argv, err)
    assert not out.exists()
    with pytest.raises(ValueError, match=f"^model file {str(model)!r}") as info:
        load_fitted(model)
    if "inconsistent" not in expect:  # the field named is the one edited, or inside it
        assert isinstance(info.value, SchemaError)
        assert info.value.field.startswith(".".join(path)), info.value.field


def test_a_re_signed_copy_of_a_valid_model_is_accepted_and_answers_the_same(fitted, tmp_path):
    root, data = fitted
    for kind in ("linear", "formula", "softmax"):
        tensors, document = load_model(root / kind)
        copy = _resigned(root / kind, tmp_path / kind, ("target",), document["target"])
        for argv in (["summary", "{}"], ["evaluate", "{}", str(data), "--json"]):
            first = _run([a.format(root / kind) for a in argv])
            again = _run([a.format(copy) for a in argv])
            assert first[0] == again[0] == 0
            if argv[0] == "evaluate":
                assert json.loads(first[1]) == json.loads(again[1])


def _paths(value, prefix=()):
    """Every field of a document, containers included, as paths of keys and indices."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


#: Sections that describe the fit and never change what the model predicts.
DESCRIPTIVE = {"metrics", "data", "training", "history", "scaler"}


def test_any_field_of_a_signed_model_replaced_is_answered_or_refused_in_one_line(fitted):
    """Hypothesis plays the attacker: one field of the sidecar replaced by any JSON value
    (or deleted), both digests recomputed. Each command answers (exit 0) or refuses in one
    line (exit 2), never with a traceback; an edit of a descriptive section changes no
    prediction."""
    import tempfile
    from pathlib import Path

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    root, data = fitted
    kinds = ("linear", "formula", "softmax")
    documents = {k: load_model(root / k)[1] for k in kinds}
    reserved = ("format", "format_version", "library_version", "weights")  # save_model's
    paths = {k: [p for p in _paths(d) if p[0] not in reserved] for k, d in documents.items()}
    scratch = Path(tempfile.mkdtemp())
    baseline = {}
    for kind in kinds:
        assert (
            _run(["predict", str(root / kind), str(data), "-o", str(scratch / f"{kind}.csv")])[0]
            == 0
        )
        baseline[kind] = (scratch / f"{kind}.csv").read_text()
    leaves = (
        st.none()
        | st.booleans()
        | st.integers(-(2**65), 2**65)
        | st.floats()
        | st.text(max_size=6)
        | st.sampled_from(["chol", "eig", "svd", "HC1", "Rome", "a", "y", "LinearRegression"])
    )
    values = st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=6,
    )
    counts = {"answered": 0, "refused": 0}

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(kinds), st.data(), values | st.just(...))
    def run(kind, data_, value):
        path = data_.draw(st.sampled_from(paths[kind]))
        model = Path(tempfile.mkdtemp(dir=scratch)) / "m"
        _resigned(root / kind, model, path, value)
        out = model.parent / "p.csv"
        for argv in (
            ["summary", str(model)],
            ["predict", str(model), str(data), "-o", str(out)],
            ["evaluate", str(model), str(data), "--json"],
        ):
            code, stdout, err = _run(argv)
            assert code in (0, 2), (path, value, argv, code, err)
            if code == 2:
                assert err.count("\n") == 1 and not stdout, (path, value, err)
                counts["refused"] += 1
            else:
                counts["answered"] += 1
        if path[0] in DESCRIPTIVE and out.exists():
            assert out.read_text() == baseline[kind], (path, value)

    run()
    assert counts["refused"] > 0 and counts["answered"] > 0, counts
