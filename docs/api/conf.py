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


def _skip_metadata_routing(app, what, name, obj, skip, options):
    # scikit-learn adds set_*_request methods to every estimator class; they are its API,
    # documented there, and their docstrings point into its own glossary
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_routing)
