"""Matplotlib figures (built without pyplot; returned, saved only when asked)."""

from torchlinear.plots.classification import (
    confusion_counts,
    confusion_matrix_figure,
    image_grid,
    training_curves,
    weight_templates,
)
from torchlinear.plots.landscape import descent_paths, loss_contours, loss_surface
from torchlinear.plots.paths import coefficient_path, cv_curve
from torchlinear.plots.regression import loss_curves, scatter_fits

__all__ = [
    "loss_curves",
    "scatter_fits",
    "confusion_counts",
    "confusion_matrix_figure",
    "image_grid",
    "training_curves",
    "weight_templates",
    "descent_paths",
    "loss_contours",
    "loss_surface",
    "coefficient_path",
    "cv_curve",
]
