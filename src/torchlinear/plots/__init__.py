"""Matplotlib figures (built without pyplot; returned, saved only when asked)."""

from torchlinear.plots.regression import loss_curves, scatter_fits

__all__ = ["loss_curves", "scatter_fits"]
