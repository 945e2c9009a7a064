"""Sphinx configuration for the torchlinear API reference (built from the docstrings).

Build: ``python -m sphinx -W --keep-going -b html docs/api build/api``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# document this tree's sources, not whatever copy of the package is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

project = "torchlinear"
author = "torchlinear contributors"
copyright = "torchlinear contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]

# numpydoc docstrings, read by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

autosummary_generate = False  # the module pages are written by hand below
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "alabaster"
exclude_patterns = ["_build"]


def _skip_request_setters(app, what, name, obj, skip, options):
    # The estimator pages list inherited members (torchlinear's base classes and mixins
    # define predict, summary, get_params, ...); the set_{method}_request methods of
    # scikit-learn's metadata routing are generated per class and documented once, in
    # scikit-learn's own guide to metadata routing.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_request_setters)
