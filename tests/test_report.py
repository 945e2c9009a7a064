import io
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from torchlinear import LinearRegression, SoftmaxRegression
from torchlinear.engine import History
from torchlinear.report import (
    Report,
    coefficient_rows,
    coefficient_text,
    fit_report,
    predicted_vs_actual_figure,
    residuals_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_rows(markdown):
    """Every Markdown table row of ``markdown`` as its list of stripped cells."""
    return [
        [c.strip() for c in line.strip()[1:-1].split(" | ")]
        for line in markdown.splitlines()
        if line.startswith("| ")
    ]


def test_predicted_vs_actual_plots_the_points_and_the_diagonal():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.5, 3.5, 3.5])
    fig = predicted_vs_actual_figure(y, p)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.c_[y, p])
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == list(line.get_ydata()) == [1.0, 4.0]
    r2 = 1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert f"R² = {r2:.4f}" in ax.get_title()


def test_residuals_figure_shows_actual_minus_predicted():
    y = np.array([1.0, 2.0, 3.0, 5.0])
    p = np.array([1.5, 1.5, 3.5, 3.5])
    fig = residuals_figure(y, p)
    scatter, hist = fig.axes
    np.testing.assert_array_equal(scatter.collections[0].get_offsets(), np.c_[p, y - p])
    assert sum(patch.get_height() for patch in hist.patches) == 4
    assert f"sd {np.std(y - p):.4g}" in hist.get_title()


def test_figures_refuse_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="y_pred has 2 values but y_true has 3"):
        residuals_figure([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        predicted_vs_actual_figure([], [])


def test_large_samples_are_thinned_for_drawing():
    rng = np.random.default_rng(0)
    y = rng.normal(size=20_000)
    fig = predicted_vs_actual_figure(y, y + 0.1)
    assert len(fig.axes[0].collections[0].get_offsets()) == 5000


def test_coefficient_rows_keep_the_largest_and_show_exact_zeros():
    class Fitted:
        coef_ = np.array([0.0, 5.0, -0.5, 3.0, 1e-7])
        intercept_ = 2.5

    headers, rows, hidden = coefficient_rows(Fitted(), list("abcde"), max_rows=3)
    assert headers == ["term", "coefficient"] and hidden == 2
    # the three largest in absolute value, in feature order, after the intercept
    assert rows == [["(intercept)", "2.5"], ["b", "5"], ["c", "-0.5"], ["d", "3"]]
    _, rows, hidden = coefficient_rows(Fitted(), list("abcde"))
    assert hidden == 0 and rows[1] == ["a", "0"] and rows[5] == ["e", "1e-07"]
    with pytest.raises(ValueError, match="2 feature names for 5 coefficients"):
        coefficient_rows(Fitted(), ["a", "b"])


def test_softmax_coefficients_have_a_column_per_class():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2))
    y = np.array(["cat", "dog", "eel"])[np.argmax(X @ [[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]], 1)]
    model = SoftmaxRegression(device="cpu").fit(X, y)
    headers, rows, _ = coefficient_rows(model, ["u", "v"])
    assert headers == ["term", "cat", "dog", "eel"]
    assert [float(v) for v in rows[1][1:]] == pytest.approx(model.coef_[:, 0], rel=1e-5)
    text = coefficient_text(model, ["u", "v"])
    assert text.splitlines()[0].split() == ["term", "cat", "dog", "eel"]


def test_regression_report_has_metrics_figures_and_the_ols_summary(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 2))
    y = X @ [1.0, -1.0] + 0.3 + 0.1 * rng.normal(size=60)
    model = LinearRegression().fit(X, y)
    metrics = {"train": {"n": 48, "r2": 0.99, "mse": 0.01}, "validation": {"n": 12, "r2": 0.98}}
    report = fit_report(
        estimator=model,
        task="regression",
        metrics=metrics,
        settings={"solver": "cholesky", "seed": 0},
        data_info={"source": "t.csv", "rows": 60, "train_rows": 48, "validation_rows": 12},
        sample=(y, model.predict(X)),
        feature_names=["a", "b"],
        target="y",
        warnings=["something to know"],
    )
    md = report.markdown
    assert ["R²", "0.99", "0.98"] in table_rows(md) and ["MSE", "0.01", "–"] in table_rows(md)
    assert "![Residuals](residuals.png)" in md and "## Summary" in md
    assert str(model.summary()) in md
    assert "- something to know" in md
    paths = report.write(tmp_path)
    assert sorted(p.name for p in paths) == [
        "predicted_vs_actual.png", "report.md", "residuals.png"
    ]  # fmt: skip
    assert (tmp_path / "residuals.png").read_bytes().startswith(PNG_MAGIC)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_classification_report_confusion_matrix_and_curves():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=120) > 0, "yes", "no")
    model = SoftmaxRegression(device="cpu").fit(X, y)
    log_proba = model.predict_log_proba(X)
    history = History(
        epoch=[1, 2],
        train_loss=[0.7, 0.5],
        val_loss=[0.8, 0.6],
        metrics={"train_accuracy": [0.6, 0.8], "val_accuracy": [0.55, 0.75]},
        lr=[0.1, 0.1],
        epoch_time=[0.0, 0.0],
        stop_reason="completed",
    )
    report = fit_report(
        estimator=model,
        task="classification",
        metrics={"train": {"n": 120, "accuracy": 0.9}, "validation": None},
        settings={},
        data_info={"source": "x"},
        history=history,
        sample=(y, log_proba),
        feature_names=["a", "b"],
    )
    shown = report.figures["confusion_matrix.png"].axes[0].images[0].get_array()
    expected = confusion_matrix(y, model.predict(X), labels=model.classes_)
    np.testing.assert_array_equal(np.asarray(shown), expected)
    curves = report.figures["loss_curves.png"]
    assert [ln.get_label() for ln in curves.axes[0].get_lines()] == ["train", "validation"]
    rows = table_rows(report.markdown)
    assert "## Training history" in report.markdown and ["2", "0.5", "0.6"] in [r[:3] for r in rows]
    assert ["metric", "training"] in rows  # no validation column


def test_render_returns_png_bytes_and_markdown():
    report = Report("# hi\n", {"a.png": predicted_vs_actual_figure([1.0, 2.0], [1.0, 2.5])})
    files = report.render()
    assert list(files) == ["a.png", "report.md"]
    assert files["a.png"].startswith(PNG_MAGIC) and files["report.md"] == b"# hi\n"


def test_regression_figures_name_the_target_with_readable_markers():
    from torchlinear.report import predicted_vs_actual_figure, residuals_figure

    y = np.linspace(0.0, 1.0, 50)
    fig = predicted_vs_actual_figure(y, y + 0.1, target="price", title="LinearRegression")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("actual price", "predicted price")
    assert ax.get_title().startswith("LinearRegression\nn = 50, R² = ")
    points = ax.collections[0]
    assert points.get_sizes()[0] >= 20 and points.get_alpha() >= 0.8
    left = residuals_figure(y, y + 0.1, target="price").axes[0]
    assert left.get_xlabel() == "predicted price"


def test_matplotlib_is_imported_by_the_first_figure_not_by_the_workflow():
    """predict, evaluate and summary import the workflow but draw nothing."""
    code = (
        "import sys, torchlinear.workflow, torchlinear.report as r\n"
        "assert 'matplotlib' not in sys.modules, 'imported early'\n"
        "r.residuals_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.2])\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_fit_without_figures_writes_the_rest_and_never_imports_matplotlib(tmp_path):
    """``figures=False``: the same model, metrics and report text, no PNG files, and no
    matplotlib (its import and the drawing are most of a small fit's time); a
    cross-validated fit still writes its path tables."""
    code = (
        "import sys, json, pathlib\n"
        "from torchlinear.workflow import fit\n"
        f"root = pathlib.Path({str(tmp_path)!r})\n"
        "bare = fit('diabetes', out=root / 'bare', figures=False, val_split=0.2)\n"
        "cv = fit('diabetes', out=root / 'cv', figures=False, alpha='cv', l1_ratio=0.5)\n"
        "assert 'matplotlib' not in sys.modules, 'imported'\n"
        "drawn = fit('diabetes', out=root / 'drawn', val_split=0.2)\n"
        "print(json.dumps([sorted(p.name for p in r.files if p.suffix != '.safetensors') "
        "for r in (bare, cv, drawn)]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    bare, cv, drawn = json.loads(done.stdout.splitlines()[-1])
    assert bare == ["metrics.json", "model.json", "report.md"]
    assert cv == ["coef_path.csv", "cv_path.csv", "metrics.json", "model.json", "report.md"]
    assert {"predicted_vs_actual.png", "residuals.png"} <= set(drawn)
    text = (tmp_path / "bare" / "report.md").read_text()
    assert "## Figures\n\nNot drawn: this fit was asked for no figures." in text
    assert "![" not in text and "![" not in (tmp_path / "cv" / "report.md").read_text()
    same = [json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("bare", "drawn")]
    assert same[0]["train"] == same[1]["train"] and same[0]["validation"] == same[1]["validation"]


def test_labels_and_names_are_drawn_literally_never_as_formulas():
    """A ``$`` in a class label, a target or a feature name would start a matplotlib
    formula (``$\\frac{$`` fails to draw); control characters have no glyph."""
    from torchlinear.plots import coefficient_path

    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2))
    labels = np.where(X[:, 0] > 0, "$\\frac{$", "tab\there")
    model = SoftmaxRegression(device="cpu").fit(X, labels)
    report = fit_report(
        estimator=model,
        task="classification",
        metrics={"train": {"n": 60, "accuracy": 0.9}, "validation": None},
        settings={},
        data_info={"source": "x"},
        sample=(labels, model.predict_log_proba(X)),
        feature_names=["a", "b"],
    )
    files = report.render()  # draws every figure
    assert files["confusion_matrix.png"].startswith(PNG_MAGIC)
    ticks = report.figures["confusion_matrix.png"].axes[0].get_xticklabels()
    assert [t.get_text() for t in ticks] == ["\\$\\frac{\\$", "tab\\there"]
    y = np.linspace(0.0, 1.0, 20)
    drawn = [
        predicted_vs_actual_figure(y, y, target="cost $x"),
        coefficient_path(
            np.geomspace(1, 1e-3, 5), rng.normal(size=(5, 2)), feature_names=["$x", "b\x07"]
        ),
    ]
    for fig in drawn:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        assert buffer.getvalue().startswith(PNG_MAGIC)
    assert drawn[0].axes[0].get_xlabel() == "actual cost \\$x"


def test_the_intercept_row_is_named_apart_from_a_feature_of_the_same_name():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    model = LinearRegression().fit(X, X @ [2.0, -1.0] + 0.5)
    _, rows, _ = coefficient_rows(model, ["(intercept)", "b"])
    assert rows == [["((intercept))", "0.5"], ["(intercept)", "2"], ["b", "-1"]]


def test_the_summary_of_a_wide_fit_shows_the_largest_t_and_says_how_many_are_left_out():
    """A fit of thousands of columns gets a report of a screen's length, not one line each."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 120))
    beta = np.zeros(120)
    beta[[7, 50, 99]] = [5.0, -4.0, 3.0]
    y = X @ beta + 0.5 * rng.normal(size=400)
    model = LinearRegression().fit(X, y)
    md = fit_report(
        estimator=model,
        task="regression",
        metrics={"train": {"n": 400}},
        settings={},
        data_info={},
        feature_names=[f"x{i}" for i in range(120)],
        target="y",
    ).markdown
    summary = md.split("## Summary")[1].split("```")[1]
    full = model.summary()
    terms = set(full.terms)
    rows = [
        fields[0]
        for line in summary.splitlines()
        if (fields := line.split()) and fields[0] in terms
    ]
    t = np.abs(full.t[1:])
    expected = ["const", *[full.terms[1 + i] for i in sorted(np.argsort(-t)[:49])]]
    assert rows == expected and {"x7", "x50", "x99"} <= set(rows)
    assert "Note: 50 of the 121 terms are shown (the intercept and the largest |t|)." in summary
    table = summary.strip().splitlines()[1:]  # after the fence's "text"
    assert len(str(full).splitlines()) == len(table) + 121 - 50 - 1
