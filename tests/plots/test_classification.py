"""Classification figures: the drawn data equals what was passed in, and figures save."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix

from torchlinear.engine import History
from torchlinear.plots.classification import (
    confusion_counts,
    confusion_matrix_figure,
    image_grid,
    training_curves,
    weight_templates,
)


def test_confusion_counts_match_sklearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    np.testing.assert_array_equal(
        confusion_counts(y_true, y_pred), confusion_matrix(y_true, y_pred)
    )
    # Classes absent from both still get a row and a column when n_classes says so.
    np.testing.assert_array_equal(
        confusion_counts([0, 1], [1, 1], n_classes=4),
        confusion_matrix([0, 1], [1, 1], labels=range(4)),
    )
    with pytest.raises(ValueError, match="class indices in 0..3"):
        confusion_counts([0, 5], [0, 1], n_classes=4)


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_figure_shows_sklearn_matrix(tmp_path, normalize):
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    names = ["cat", "dog", "emu", "fox"]
    fig = confusion_matrix_figure(y_true, y_pred, class_names=names, normalize=normalize)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    expected = confusion_matrix(y_true, y_pred, normalize="true" if normalize else None)
    np.testing.assert_allclose(shown, expected)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == names
    accuracy = np.mean(y_true == y_pred)
    assert f"{accuracy:.3f}" in fig.axes[0].get_title()
    fig.savefig(tmp_path / "cm.png")
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_grid_puts_mistakes_first_and_titles_them():
    images = torch.rand(6, 1, 8, 8)
    y_true = [0, 1, 2, 3, 4, 5]
    y_pred = [0, 9, 2, 3, 1, 5]  # rows 1 and 4 are wrong
    names = [f"c{j}" for j in range(10)]
    fig = image_grid(images, y_true, y_pred, class_names=names, n_images=5, ncols=3)
    assert fig.shown_indices == [1, 4, 0, 2, 3]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["c1 → c9", "c4 → c1", "c0", "c2", "c3"]
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), images[1, 0].numpy())
    assert "2 of 6" in fig._suptitle.get_text()


def test_image_grid_accepts_flat_and_colour_images():
    flat = np.random.default_rng(2).random((3, 64))
    fig = image_grid(flat, [0, 1, 2])
    np.testing.assert_allclose(fig.axes[2].images[0].get_array(), flat[2].reshape(8, 8))
    colour = np.random.default_rng(3).random((2, 3 * 4 * 5))
    fig = image_grid(colour, [0, 1], [1, 1], image_shape=(3, 4, 5), misclassified_first=False)
    expected = colour[1].reshape(3, 4, 5).transpose(1, 2, 0)
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), expected)
    with pytest.raises(ValueError, match="not square"):
        image_grid(np.zeros((2, 10)), [0, 1])
    with pytest.raises(ValueError, match="y_true has 3 labels but there are 2 images"):
        image_grid(np.zeros((2, 4)), [0, 1, 2])


@pytest.mark.parametrize("layout", ["k_by_d", "d_by_k", "estimator", "linear"])
def test_weight_templates_draw_each_class_row(layout):
    W = np.random.default_rng(4).normal(size=(10, 64))
    coef = {
        "k_by_d": W,
        "d_by_k": torch.tensor(W.T),
        "estimator": type("Fitted", (), {"coef_": W})(),
        "linear": torch.nn.Linear(64, 10),
    }[layout]
    if layout == "linear":
        with torch.no_grad():
            coef.weight.copy_(torch.tensor(W))
    fig = weight_templates(coef, (1, 8, 8), class_names=[str(j) for j in range(10)])
    for j in (0, 7):
        np.testing.assert_allclose(fig.axes[j].images[0].get_array(), W[j].reshape(8, 8), atol=1e-6)
        limit = np.abs(W[j]).max()
        assert fig.axes[j].images[0].get_clim() == pytest.approx((-limit, limit))
    assert fig.axes[3].get_title() == "3"


def test_weight_templates_colour_and_bad_shape():
    W = np.random.default_rng(5).normal(size=(2, 3 * 4 * 4))
    fig = weight_templates(W, (3, 4, 4))
    shown = np.asarray(fig.axes[1].images[0].get_array())
    template = W[1].reshape(3, 4, 4).transpose(1, 2, 0)
    expected = (template - template.min()) / (template.max() - template.min())
    np.testing.assert_allclose(shown, expected)
    with pytest.raises(ValueError, match="coef has 48 columns but image_shape holds 64"):
        weight_templates(W, (1, 8, 8))


def test_training_curves_plot_each_series():
    scratch = {
        "train_loss": [1.0, 0.6, 0.4],
        "val_loss": [1.1, 0.7, 0.5],
        "train_acc": [0.6, 0.8, 0.9],
        "val_acc": [0.55, 0.75, 0.85],
    }
    engine = History(
        epoch=[1, 2],
        train_loss=[0.9, 0.5],
        val_loss=[1.0, 0.6],
        metrics={"train_accuracy": [0.7, 0.85], "val_accuracy": [0.65, 0.8]},
    )
    fig = training_curves({"scratch": scratch, "engine": engine}, title="softmax")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert set(lines) == {
        "scratch, train",
        "scratch, validation",
        "engine, train",
        "engine, validation",
    }
    np.testing.assert_allclose(lines["scratch, validation"].get_ydata(), scratch["val_loss"])
    np.testing.assert_allclose(lines["engine, train"].get_xdata(), [1, 2])
    acc = {line.get_label(): line.get_ydata() for line in acc_ax.get_lines()}
    np.testing.assert_allclose(acc["engine, validation"], [0.65, 0.8])
    assert lines["scratch, validation"].get_linestyle() == "--"


def test_training_curves_single_history_without_validation():
    fig = training_curves({"train_loss": [0.5, 0.3], "train_acc": [0.8, 0.9]})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [0.8, 0.9])


def test_figures_name_the_model_and_keep_titles_and_numbers_readable():
    import matplotlib.colors as mcolors

    fig = confusion_matrix_figure([0, 1, 1, 0], [0, 1, 0, 0], class_names=["no", "yes"],
                                  title="SoftmaxRegression, validation rows")  # fmt: skip
    ax = fig.axes[0]
    assert ax.get_title().splitlines() == [
        "SoftmaxRegression, validation rows",
        "accuracy 0.750, n = 4",
    ]
    assert {t.get_fontsize() for t in ax.texts} == {16}  # two classes: big cell numbers
    fig.canvas.draw()
    title = ax.title.get_window_extent()
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # the title fits the figure
    h = {"train_loss": [0.9, 0.5], "val_loss": [1.0, 0.6]}
    train, val = training_curves(h).axes[0].get_lines()
    assert mcolors.to_hex(train.get_color()) != mcolors.to_hex(val.get_color())
    templates = weight_templates(np.ones((2, 4)), (2, 2), title="SoftmaxRegression (lbfgs)")
    assert templates.get_suptitle().startswith("SoftmaxRegression (lbfgs): ")
    grid = image_grid(np.zeros((2, 1, 2, 2)), [0, 1], [0, 0], title="MLPClassifier")
    assert grid.get_suptitle().startswith("MLPClassifier: true → predicted")
